"""ZooIndex: build, save, load, incremental update/remove, manifest checks, atomic saves."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from polaris_core.embed.chunks import CHUNK_KINDS, MAX_DENSE_PROMPTS_PER_ENTRY, PROMPT_KINDS
from polaris_core.errors import EmptyZooError, IndexFolderError
from polaris_core.index import INDEX_FORMAT_VERSION, ZooIndex
from polaris_core.retrieve import search
from polaris_core.vectorstore import MANIFEST as STORE_MANIFEST
from tests.core.retrieval_fixtures import catalog_subset, embedding_cache


@pytest.fixture(scope="module")
def subset(shared_data, fixture_cache):
    return catalog_subset(shared_data, fixture_cache)


@pytest.fixture(scope="module")
def built(subset, fixture_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("index")
    index = ZooIndex.build(subset, folder, cache=embedding_cache(fixture_cache))
    return index, folder


@pytest.fixture(scope="module")
def demo_built(fixture_cache, tmp_path_factory):
    """The shipped demo zoo's index: for the tests that need only the text encoder, not the shared data."""
    from polaris_core.demo import demo_catalog_path
    from polaris_core.zoo.civitai import load_catalog

    folder = tmp_path_factory.mktemp("demo-index")
    index = ZooIndex.build(load_catalog([demo_catalog_path()]), folder, cache=embedding_cache(fixture_cache))
    return index, folder


def _ids(results):
    return [c.entry.id for c in results]


def test_build_counts_and_manifest(built, subset):
    index, folder = built
    assert len(index) == len(subset)
    counts = index.counts()
    assert counts["lora"] == sum(e.kind == "lora" for e in subset) > 0
    assert counts["checkpoint"] == sum(e.kind == "checkpoint" for e in subset) > 0
    manifest = json.loads((folder / STORE_MANIFEST).read_text())["extra"]["zoo_index"]
    assert manifest["format_version"] == INDEX_FORMAT_VERSION
    assert manifest["text_encoder"]["dim"] == 384 and manifest["text_encoder"]["id"] == index.text_encoder_id
    assert manifest["counts"]["entries"] == len(subset)
    assert manifest["counts"]["chunks"] == len(index.arrays.chunk_label)
    # Only the first prompts (or a prompt-less title) are embedded; descriptions, later prompts: BM25 only.
    assert manifest["counts"]["dense_chunks"] == len(index.store) == int(index.arrays.chunk_dense.sum())
    assert 0 < len(index.store) < len(index.arrays.chunk_label)
    kinds = np.array(CHUNK_KINDS)[index.arrays.chunk_kind]
    assert not index.arrays.chunk_dense[kinds == "description"].any()
    assert set(PROMPT_KINDS) == {"prompt", "related", "expanded"}
    per_entry = np.bincount(index.arrays.chunk_entry[index.arrays.chunk_dense & np.isin(kinds, ("prompt", "related"))],
                            minlength=len(index.entries))
    assert per_entry.max() == MAX_DENSE_PROMPTS_PER_ENTRY
    # A title is embedded exactly when its entry has no embedded prompt (own or related; predicted terms in an
    # `expanded` chunk are a guess and do not replace it), so every entry has a vector.
    titles = kinds == "title"
    assert np.array_equal(index.arrays.chunk_dense[titles], per_entry[index.arrays.chunk_entry[titles]] == 0)
    assert 0 < int(index.arrays.chunk_dense[titles].sum()) < len(index.entries)
    assert all(len(info["sha256"]) == 64 for info in manifest["files"].values())
    # Partitions follow kind/family/role.
    assert all(key.split("/")[0] in ("lora", "checkpoint") for key in index.store.partitions())


def test_own_example_prompt_retrieves_its_model_first(built):
    index, _ = built
    probes = [e for e in index.entries if e.kind == "lora" and e.example_prompts][:8]
    assert len(probes) >= 5
    hits = 0
    for entry in probes:
        top = search(index, entry.example_prompts[0], kind="lora", k=3)
        hits += top[0].entry.civitai_model_id == entry.civitai_model_id
    assert hits >= len(probes) - 1


def test_load_round_trip_gives_the_same_results(built):
    index, folder = built
    loaded = ZooIndex.load(folder)
    assert [e.to_dict() for e in loaded.entries] == [e.to_dict() for e in index.entries]
    assert loaded.text_encoder_id == index.text_encoder_id
    query = next(e for e in index.entries if e.kind == "lora" and e.example_prompts).example_prompts[0]
    assert _ids(search(loaded, query, kind="lora", k=5)) == _ids(search(index, query, kind="lora", k=5))
    assert np.array_equal(loaded.arrays.chunk_label, index.arrays.chunk_label)


def test_update_remove_and_reload(built, subset, fixture_cache, tmp_path):
    _, folder = built
    index = ZooIndex.load(folder)
    cache = embedding_cache(fixture_cache)
    loras = [e for e in subset if e.kind == "lora"]
    # A changed entry: a new, unique trigger word makes it findable by that word.
    changed = dataclasses.replace(loras[3], trigger_words=["zorblaxquent"], example_prompts=[])
    added = dataclasses.replace(loras[5], id="test:new-entry", civitai_model_id=999999999,
                                name="Brand New Glimmerwing Style", trigger_words=["glimmerwing"])
    before_chunks = len(index.store)
    stats = index.update([changed, added, loras[7]], cache=cache)
    assert (stats.entries_added, stats.entries_updated, stats.entries_unchanged) == (1, 1, 1)
    assert len(index) == len(subset) + 1
    assert search(index, "zorblaxquent", kind="lora", k=1)[0].entry.id == changed.id
    assert search(index, "glimmerwing", kind="lora", k=1)[0].entry.id == "test:new-entry"
    assert len(index.store) == int(index.arrays.chunk_dense.sum()) != before_chunks

    assert index.remove(["test:new-entry", "no-such-id"]) == 1
    assert index.get("test:new-entry") is None
    top = search(index, "glimmerwing", kind="lora", k=3)
    assert "test:new-entry" not in _ids(top)

    copy = tmp_path / "copy"
    index.save(copy)
    reloaded = ZooIndex.load(copy)
    assert len(reloaded) == len(subset)
    assert search(reloaded, "zorblaxquent", kind="lora", k=1)[0].entry.id == changed.id
    labels = reloaded.arrays.chunk_label
    assert np.all(np.diff(labels) > 0) and len(reloaded.store) == int(reloaded.arrays.chunk_dense.sum())
    assert np.array_equal(reloaded.arrays.chunk_dense, index.arrays.chunk_dense)


def test_a_killed_save_leaves_the_previous_index(demo_built, tmp_path, monkeypatch):
    index, _ = demo_built
    folder = tmp_path / "atomic"
    index.save(folder)
    before = (folder / STORE_MANIFEST).read_text()
    other = ZooIndex.load(folder)
    other.remove([other.entries[0].id])

    def killed(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(other.store, "save", killed)
    with pytest.raises(OSError):
        other.save(folder)
    assert (folder / STORE_MANIFEST).read_text() == before
    assert len(ZooIndex.load(folder)) == len(index)


def _edit_manifest(folder, change) -> None:
    path = folder / STORE_MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest["extra"]["zoo_index"])
    path.write_text(json.dumps(manifest))


def test_encoder_and_version_mismatch_are_clear(demo_built, tmp_path):
    index, _ = demo_built
    folder = tmp_path / "mismatch"
    index.save(folder)
    _edit_manifest(folder, lambda m: m["text_encoder"].update(id="text:other-model:0000:mean:max128"))
    loaded = ZooIndex.load(folder)
    with pytest.raises(IndexFolderError, match="rebuild the index"):
        search(loaded, "a castle", kind="lora")
    with pytest.raises(IndexFolderError, match="text encoder"):
        ZooIndex.load(folder, text_encoder=index.text_encoder)

    _edit_manifest(folder, lambda m: m.update(format_version=99))
    with pytest.raises(IndexFolderError, match="format version 99"):
        ZooIndex.load(folder)


def _flip_byte(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_files_are_detected(demo_built, tmp_path):
    index, _ = demo_built
    folder = tmp_path / "damaged"
    index.save(folder)
    _flip_byte(next((folder / "zoo").glob("entries-*.jsonl")), 10)
    with pytest.raises(IndexFolderError, match="checksum"):
        ZooIndex.load(folder)
    with pytest.raises(IndexFolderError, match="no vectorstore.json"):
        ZooIndex.load(tmp_path / "nothing-here")


def test_empty_zoo_errors_at_query_time(built, tmp_path):
    index, _ = built
    empty = ZooIndex.build([], tmp_path / "empty", text_encoder=index.text_encoder)
    loaded = ZooIndex.load(tmp_path / "empty")
    assert len(loaded) == 0
    with pytest.raises(EmptyZooError, match="no lora entries"):
        search(loaded, "a castle", kind="lora")
    with pytest.raises(EmptyZooError):
        search(empty, "a castle", kind="checkpoint")


def test_chunk_rows_for_matches_a_full_scan_after_changes(built, tmp_path):
    index, folder = built
    other = ZooIndex.load(folder)
    other.remove([other.entries[i].id for i in (0, 5, 6)])
    other.update([dataclasses.replace(index.entries[5], description="changed card text")])
    rng = np.random.default_rng(0)
    for rows in (np.array([], np.int64), np.array([len(other) - 1]), rng.choice(len(other), 40), np.arange(len(other))):
        expected = np.flatnonzero(np.isin(other.arrays.chunk_entry, rows))
        np.testing.assert_array_equal(other.chunk_rows_for(rows), expected)
    vector = other.store.get_vectors(other.arrays.chunk_label[:1])[0]
    rows = rng.choice(len(other), 25, replace=False)
    hits = other.dense_scores_for(vector, rows)
    for row, score in zip(hits.rows.tolist(), hits.scores.tolist()):
        assert score == pytest.approx(float(np.max(other.chunk_vectors(row) @ vector)), abs=1e-5)
    assert sorted(hits.rows.tolist()) == sorted(set(rows.tolist()) & set(other.arrays.chunk_entry.tolist()))


def test_title_bonus_lifts_only_title_chunks(built):
    index, _ = built
    title_code = CHUNK_KINDS.index("title")
    dense_titles = index.arrays.chunk_dense & (index.arrays.chunk_kind == title_code)
    with_title = np.unique(index.arrays.chunk_entry[dense_titles])[:30]
    without_title = np.setdiff1d(np.arange(len(index)), with_title)[:30]
    assert len(with_title) and len(without_title)
    rows = np.concatenate([with_title, without_title])
    vector = index.store.get_vectors(index.arrays.chunk_label[index.arrays.chunk_dense][1:2])[0]
    plain = index.dense_scores_for(vector, rows)
    lifted = index.dense_scores_for(vector, rows, title_bonus=0.1)
    np.testing.assert_array_equal(plain.rows, lifted.rows)
    for row, before, after, chunk in zip(plain.rows, plain.scores, lifted.scores, lifted.chunks):
        chunk_rows = index.dense_chunk_rows_for(np.array([row]))
        cosines = index.store.get_vectors(index.arrays.chunk_label[chunk_rows]) @ vector
        is_title = index.arrays.chunk_kind[chunk_rows] == title_code
        if not is_title.any():  # entries with embedded prompts have no title vector: nothing to lift
            assert after == pytest.approx(before, abs=1e-6)
            continue
        title_cosine = cosines[is_title].max()
        assert after == pytest.approx(max(before, title_cosine + 0.1), abs=1e-5)
        assert (index.arrays.chunk_kind[chunk] == title_code) == (title_cosine + 0.1 >= before - 1e-6)


def _entry_columns(entries) -> dict:
    return {name: list(getattr(entries, name)) for name in entries.COLUMNS}


def test_entries_load_from_their_packed_files_as_from_the_json_lines(built, tmp_path):
    index, _ = built
    folder = tmp_path / "packed"
    index.save(folder)
    files = json.loads((folder / STORE_MANIFEST).read_text())["extra"]["zoo_index"]["files"]
    assert {"entries", "entries_deflated", "entries_offsets", "entries_columns"} <= set(files)
    packed = ZooIndex.load(folder)
    # An index saved before the packed files existed names only the JSON lines: it loads them.
    _edit_manifest(folder, lambda m: [m["files"].pop(name) for name in ("entries_deflated", "entries_offsets",
                                                                        "entries_columns")])
    from_lines = ZooIndex.load(folder)
    assert [e.to_dict() for e in packed.entries] == [e.to_dict() for e in from_lines.entries] \
        == [e.to_dict() for e in index.entries]
    assert _entry_columns(packed.entries) == _entry_columns(from_lines.entries) == _entry_columns(index.entries)
    assert [packed.entries.text(r) for r in range(len(packed))] == [index.entries.text(r) for r in range(len(index))]
    query = "a knight in shining armor, castle at dusk"
    assert [(r.entry.id, r.score) for r in search(packed, query, kind="lora", k=10)] == \
        [(r.entry.id, r.score) for r in search(from_lines, query, kind="lora", k=10)]
    # Saved again, the older folder gets its packed files back; the files it no longer names are removed.
    from_lines.save(folder)
    assert len(ZooIndex.load(folder)) == len(index)
    named = {info["name"] for info in json.loads((folder / STORE_MANIFEST).read_text())["extra"]["zoo_index"]
             ["files"].values()}
    assert {p.name for p in (folder / "zoo").iterdir() if p.suffix in (".bin", ".npy", ".json", ".jsonl")} == named


def test_packed_entry_files_that_disagree_are_refused(demo_built, tmp_path):
    index, _ = demo_built
    folder = tmp_path / "packed-damaged"
    index.save(folder)
    _flip_byte(next((folder / "zoo").glob("entries_deflated-*.bin")), 3)
    with pytest.raises(IndexFolderError, match="checksum"):
        ZooIndex.load(folder)

    index.save(folder)  # whole again; now offsets that do not cut the texts, with checksums that match
    zoo = folder / "zoo"
    offsets_name = json.loads((folder / STORE_MANIFEST).read_text())["extra"]["zoo_index"]["files"]["entries_offsets"]
    offsets = np.load(zoo / offsets_name["name"], allow_pickle=False)
    bad = offsets.copy()
    bad[-1] += 7
    from polaris_core import atomic
    def write(path) -> None:
        with open(path, "wb") as fh:
            np.save(fh, bad, allow_pickle=False)

    info = atomic.write_content_addressed(zoo, "entries_offsets", ".npy", write)
    _edit_manifest(folder, lambda m: m["files"].update(entries_offsets=info))
    with pytest.raises(IndexFolderError, match="entries or vocabulary file is damaged.*rebuild"):
        ZooIndex.load(folder)
