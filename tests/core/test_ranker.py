"""The learned ranker: same features at training and search time, the shipped model file (text,
never a pickle) reorders a real pool, fusion is the fallback, and a catalog prompt used as a
training query cannot find its own chunk."""
from __future__ import annotations

import numpy as np
import pytest

from polaris_core.index import ZooIndex
from polaris_core.retrieve import SearchOptions, search, search_pool
from polaris_core.retrieve import query_map as query_map_module
from polaris_core.retrieve import ranker as ranker_module
from polaris_core.retrieve import train
from polaris_core.retrieve.channels import raw_query_vector
from polaris_core.retrieve.query_map import QueryMap
from polaris_core.retrieve.ranker import FEATURES, MODEL_PATH, Ranker, features
from tests.core.retrieval_fixtures import catalog_subset, embedding_cache


@pytest.fixture(scope="module")
def index(shared_data, fixture_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranker-index")
    return ZooIndex.build(catalog_subset(shared_data, fixture_cache), folder, cache=embedding_cache(fixture_cache))


class _Recording(Ranker):
    """The shipped model, recording the feature matrices search hands it."""

    def __init__(self, booster) -> None:
        super().__init__(booster)
        self.seen: list[np.ndarray] = []

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        self.seen.append(matrix.copy())
        return super().scores(matrix)


@pytest.fixture
def recording(monkeypatch):
    shipped = Ranker.load(MODEL_PATH)
    assert shipped is not None, "the shipped ranker model must load"
    recorder = _Recording(shipped.booster)
    monkeypatch.setattr(ranker_module, "shipped_ranker", lambda: recorder)
    return recorder


def _queries(index) -> list[train.Query]:
    loras = [e for e in index.entries if e.kind == "lora" and e.example_prompts][:4]
    checkpoints = [e for e in index.entries if e.kind == "checkpoint" and e.example_prompts][:2]
    return [train.Query(e.example_prompts[-1], e.kind, e.civitai_model_id, 0) for e in loras + checkpoints]


def test_training_and_search_compute_the_same_features(index, recording):
    queries = _queries(index)
    table = train.build_features(index, queries)
    for number, query in enumerate(queries):
        recording.seen.clear()
        search(index, query.text, kind=query.kind, k=10)
        assert len(recording.seen) == 1
        at_search = recording.seen[0]
        at_training = table.X[table.query == number]
        assert at_search.shape == at_training.shape == (at_search.shape[0], len(FEATURES))
        np.testing.assert_allclose(at_search, at_training, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_shipped_model_is_text_not_pickle_and_small():
    raw = MODEL_PATH.read_bytes()
    assert not raw.startswith(b"\x80"), "the ranker model must never be a pickle"
    assert raw.startswith(b"tree\n") and b"feature_names=" in raw
    assert len(raw) < 5_000_000
    assert Ranker.load(MODEL_PATH) is not None


def test_ranker_reorders_the_fused_pool(index, recording):
    changed = 0
    for query in _queries(index):
        learned = search(index, query.text, kind=query.kind, k=10)
        fused = search(index, query.text, kind=query.kind, k=10, options=SearchOptions(ranker="off"))
        assert {c.entry.id for c in learned} <= {c.entry.id for c in
                                                search(index, query.text, kind=query.kind, k=1000,
                                                       options=SearchOptions(ranker="off"))}
        found = search_pool(index, query.text, kind=query.kind)
        expected = recording.scores(features(found))
        assert [c.score for c in learned] == pytest.approx(sorted(expected.tolist(), reverse=True)[: len(learned)],
                                                           rel=1e-4, abs=1e-4)
        changed += [c.entry.id for c in learned] != [c.entry.id for c in fused]
    assert changed > 0


def test_fused_order_is_the_fallback(index, tmp_path, monkeypatch, caplog):
    caplog.set_level("INFO", logger="polaris")
    query = _queries(index)[0]
    fused = search(index, query.text, kind=query.kind, k=10, options=SearchOptions(ranker="off"))
    assert Ranker.load(tmp_path / "missing.txt") is None
    wrong = tmp_path / "other-features.txt"
    wrong.write_text(MODEL_PATH.read_text(encoding="utf-8").replace("feature_names=is_checkpoint",
                                                                    "feature_names=something_else", 1))
    assert Ranker.load(wrong) is None and "other features" in caplog.text
    monkeypatch.setattr(ranker_module, "shipped_ranker", lambda: Ranker.load(tmp_path / "missing.txt"))
    without = search(index, query.text, kind=query.kind, k=10)
    assert [(c.entry.id, c.score) for c in without] == [(c.entry.id, c.score) for c in fused]


def test_a_catalog_prompt_does_not_find_its_own_chunk(index):
    entry = next(e for e in index.entries if e.kind == "lora" and len(e.example_prompts) == 1)
    row = index.entry_row(entry.id)
    prompt = entry.example_prompts[0]
    masks = train._chunks_by_text(index, ("lora",))
    own = masks[train._key(prompt)]
    assert len(own) and set(own.tolist()) <= set(index.chunk_rows_for(np.array([row])).tolist())
    vector = index.text_encoder.encode([prompt])[0]
    plain = index.dense_scores(vector, np.array([row]))
    masked = index.dense_scores(vector, np.array([row]), exclude_chunks=own)
    assert len(masked.rows) == 0 or masked.chunks[0] not in own
    _, hits = index.lexical_search("lora", prompt)
    _, hidden = index.lexical_search("lora", prompt, exclude_chunks=own)
    kind_rows = index.kind_rows("lora")
    at = int(np.flatnonzero(kind_rows == row)[0])
    assert hits.best_chunk[at] in own and hidden.best_chunk[at] not in own
    assert hidden.scores[at] < hits.scores[at]
    assert plain.rows.tolist() == [row]


def test_term_presence_reads_the_words_each_entry_holds(index):
    """The ranker's coverage feature reads the index's term counts; it must say exactly which query
    words sit in an entry's own prompts and its related prompts, and leave excluded chunks out."""
    from polaris_core.embed.chunks import entry_chunks
    from polaris_core.embed.lexical import tokenize

    rows = np.arange(0, len(index.entries), max(1, len(index.entries) // 60))
    words = sorted({w for r in rows[:20].tolist() for p in index.entries[r].example_prompts[:2] for w in tokenize(p)}
                   | {w for r in rows[:20].tolist() for w in tokenize(index.entries[r].name)})
    words.append("notawordanywhere")
    held = index.term_presence(rows, words)
    assert held["prompt"].any()
    for i, row in enumerate(rows.tolist()):
        entry = index.entries[row]
        chunks = entry_chunks(entry)
        prompt = {w for c in chunks if c.kind == "prompt" for w in tokenize(c.lexical_text)}
        related = {w for c in chunks if c.kind == "related" for w in tokenize(c.lexical_text)}
        for j, word in enumerate(words):
            assert held["prompt"][i, j] == (word in prompt), (entry.name, word)
            assert held["related"][i, j] == (word in related), (entry.name, word)
    # A catalog prompt used as a training query: with its own chunk excluded, its words unique to
    # that prompt no longer count for its model.
    entry = next(e for e in index.entries if e.kind == "lora" and len(e.example_prompts) == 1)
    row = index.entry_row(entry.id)
    own = train._chunks_by_text(index, ("lora",))[train._key(entry.example_prompts[0])]
    prompt_words = sorted(set(tokenize(entry.example_prompts[0])))
    assert index.term_presence(np.array([row]), prompt_words)["prompt"].all()
    assert not index.term_presence(np.array([row]), prompt_words, own)["prompt"].any()



def test_combined_overlap_leaves_a_training_querys_own_prompt_out(fixture_cache, tmp_path):
    """`combined_overlap` reads the <lora:…> names in a candidate's prompts; a catalog prompt used as
    a training query (network tags stripped, as `catalog_queries` does) must not count the names in
    itself for its own model."""
    from polaris_core.zoo.entry import ZooEntry

    prompt = "origami crane over a quiet lake, paper art <lora:origami_master:0.8>"
    entries = [
        ZooEntry(id="paper", kind="checkpoint", name="Paper Cut Mix", civitai_model_id=1,
                 example_prompts=[prompt, "a paper castle on a hill, soft light"]),
        ZooEntry(id="oil", kind="checkpoint", name="Oil Canvas", civitai_model_id=2,
                 example_prompts=["an oil painting of a harbour at dusk"]),
        ZooEntry(id="neon", kind="checkpoint", name="Neon City", civitai_model_id=3,
                 example_prompts=["neon street at night, rain, paper lanterns"]),
    ]
    index = ZooIndex.build(entries, tmp_path / "index", cache=embedding_cache(fixture_cache))
    row = index.entry_row("paper")
    own = train._chunks_by_text(index, ("checkpoint",))[train._key(prompt)]
    assert index.chunk_positions(own) == {row: {1}}  # after the title (no description)
    assert entry_chunks_of(index, row)[1].lexical_text == prompt
    query = train._SPACES.sub(" ", train._NETWORK_TAG.sub(" ", prompt)).strip(" ,")
    column = FEATURES.index("combined_overlap")
    values = []
    for exclude in (None, own):
        found = search_pool(index, query, kind="checkpoint", exclude_chunks=exclude)
        at = np.flatnonzero(found.pool.best_entry == row)
        assert len(at), "the prompt's own model must be in its pool"
        values.append(float(features(found, at)[0, column]))
    assert values[0] > 0 and values[1] == 0.0


def entry_chunks_of(index, row):
    from polaris_core.embed.chunks import entry_chunks

    return entry_chunks(index.entries[row])


def _network_words(prompt: str) -> set[str]:
    from polaris_core.embed.lexical import tokenize

    return {w for name in ranker_module._NETWORK_NAME.findall(prompt) for w in tokenize(name)}


def test_search_uses_the_shipped_map_and_off_keeps_the_raw_vector(index, monkeypatch):
    weights = np.random.default_rng(3).normal(size=(index.text_dim, index.text_dim)).astype(np.float32)
    mapping = QueryMap(weights, index.text_encoder_id)
    monkeypatch.setattr(query_map_module, "shipped_query_map", lambda: mapping)
    text = "a watercolor painting of a fox in a snowy forest"
    raw = raw_query_vector(index, text)
    mapped = search_pool(index, text, kind="lora")
    unmapped = search_pool(index, text, kind="lora", options=SearchOptions(query_map="off"))
    np.testing.assert_allclose(mapped.vector, mapping.apply(raw), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(unmapped.vector, raw, rtol=1e-6)
    other = QueryMap(weights, "another-encoder")
    monkeypatch.setattr(query_map_module, "shipped_query_map", lambda: other)
    np.testing.assert_allclose(search_pool(index, text, kind="lora").vector, raw, rtol=1e-6)


def _entry_columns_one_by_one(found, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The per-candidate columns computed the plain way, one decoded entry at a time (what the
    array-based `_EntryFacts` must reproduce exactly)."""
    import math

    from polaris_core.embed.lexical import tokenize

    query = set(tokenize(found.text))
    wanted = set(found.families or ())
    out: dict[str, list[float]] = {}
    for row in found.pool.best_entry[rows].tolist():
        entry = found.index.entries[row]
        triggers = [s for s in (frozenset(tokenize(t)) for t in entry.trigger_words if t.strip()) if s]
        tags = frozenset(w for t in entry.tags for w in tokenize(t))
        title = frozenset(tokenize(entry.name))
        hits = [len(t & query) / len(t) for t in triggers]
        values = {
            "trigger_overlap": max(hits, default=0.0), "trigger_full": sum(h == 1.0 for h in hits),
            "tag_overlap": len(tags & query) / len(tags) if tags else math.nan,
            "title_overlap": len(title & query) / len(title) if title else math.nan,
            "n_prompts": math.log1p(len(entry.example_prompts)), "n_related": math.log1p(len(entry.related_prompts)),
            "n_triggers": len(triggers), "n_tags": len(entry.tags),
            "description_length": math.log1p(len(entry.description or "")),
            "role": ranker_module.ROLE_CODES.get(entry.role, 3),
            "family_match": (entry.base_family in wanted) if wanted else math.nan,
            "log_downloads": math.log1p(max(entry.downloads or 0, 0)),
        }
        for name, value in values.items():
            out.setdefault(name, []).append(value)
    return {name: np.array(values, dtype=np.float32) for name, values in out.items()}


def test_entry_facts_match_a_one_by_one_computation_whatever_was_seen_first(index, monkeypatch):
    """The per-entry facts are arrays over numbered words, filled as candidates first appear: the
    columns must equal the plain per-candidate computation bit for bit, and not depend on which
    entries (and so which word numbers) an earlier query brought in."""
    loras = [e for e in index.entries if e.kind == "lora" and e.example_prompts][:3]
    checkpoints = [e for e in index.entries if e.kind == "checkpoint" and e.example_prompts][:2]
    asked = [(e, None) for e in loras + checkpoints] + [(e, e.base_family) for e in loras[:2]]
    pools = [search_pool(index, e.example_prompts[0], kind=e.kind, base_family=family) for e, family in asked]
    assert all(p is not None and len(p.fused) for p in pools) and any(p.families for p in pools)
    first = [features(p) for p in pools]
    monkeypatch.setattr(ranker_module, "_FACTS", type(ranker_module._FACTS)())  # forget every fact
    again = [features(p) for p in reversed(pools)][::-1]
    for found, a, b in zip(pools, first, again):
        assert a.dtype == np.float32 and np.array_equal(a, b, equal_nan=True)
        rows = ranker_module.reranked_rows(found)
        for name, expected in _entry_columns_one_by_one(found, rows).items():
            assert np.array_equal(a[:, FEATURES.index(name)], expected, equal_nan=True), name


def test_entry_facts_follow_entries_appended_to_the_index(fixture_cache, tmp_path):
    """An update appends entries to the same entry list: their facts are computed like the others'."""
    from polaris_core.zoo.entry import ZooEntry

    entries = [ZooEntry(id=f"ink{i}", kind="lora", name=f"Ink Wash {i}", civitai_model_id=10 + i, role="style",
                        trigger_words=["inkwash"], tags=["ink", "style"],
                        example_prompts=[f"ink wash painting of a mountain temple, mist, variant {i}"])
               for i in range(3)]
    index = ZooIndex.build(entries, tmp_path / "index", cache=embedding_cache(fixture_cache))
    text = "inkwash, ink wash painting of a heron by a river"
    features(search_pool(index, text, kind="lora"))
    added = ZooEntry(id="heron", kind="lora", name="River Heron", civitai_model_id=99, role="object",
                     trigger_words=["inkwash heron", ""], tags=["bird", "Heron"], downloads=1234,
                     description="herons", example_prompts=["a heron by a river, ink wash painting"])
    index.update([added])
    found = search_pool(index, text, kind="lora")
    rows = ranker_module.reranked_rows(found)
    assert index.entry_row("heron") in found.pool.best_entry[rows].tolist()
    matrix = features(found, rows)
    for name, expected in _entry_columns_one_by_one(found, rows).items():
        assert np.array_equal(matrix[:, FEATURES.index(name)], expected, equal_nan=True), name


def test_sibling_columns_compare_each_candidate_with_its_authors_other_models():
    # Rows 0, 2 and 3 share author 7; row 1 has author 9 alone; row 4 has no known author.
    authors = np.array([7, 9, 7, 7, -1])
    values = np.array([[0.5, 3.0], [0.9, 1.0], [0.8, np.nan], [0.8, 2.0], [0.1, 5.0]], dtype=np.float32)
    out = ranker_module._sibling_columns(authors, values)
    f32 = np.float32
    # Against the best of the other rows by the same author, per column; NaN where a value is missing.
    np.testing.assert_array_equal(out[[0, 2, 3], 0], [f32(0.5) - f32(0.8), 0.0, 0.0])
    np.testing.assert_array_equal(out[[0, 3], 1], [1.0, -1.0])
    assert np.isnan(out[2, 1])
    # Rank by the first column among the author's rows, ties by row order; log1p of the sibling count.
    np.testing.assert_array_equal(out[[0, 2, 3], 2], [2, 0, 1])
    np.testing.assert_allclose(out[[0, 2, 3], 3], np.log1p(2))
    # No sibling: the comparisons and the rank are unknown, the count is zero.
    for row in (1, 4):
        assert np.isnan(out[row, :3]).all() and out[row, 3] == 0.0


def test_sibling_features_are_the_last_columns_of_the_shipped_feature_list():
    tail = FEATURES[-len(ranker_module.SIBLING_BASE) - 2:]
    assert tail == tuple(f"{name}_vs_siblings" for name in ranker_module.SIBLING_BASE) + (
        "sibling_fused_rank", "sibling_count")
    assert set(ranker_module.SIBLING_BASE) <= set(FEATURES)
