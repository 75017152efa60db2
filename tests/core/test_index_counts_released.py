"""The term counts held once (the per-kind BM25F models' copies, after a first search): removing entries then
changes the models in place of the released counts, and the first search builds the models a field at a time.
Every model must equal, array for array, the one built from the counts of the remaining rows."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import sparse

from polaris_core.embed.lexical import FieldedBM25, as_counts
from tests.core.test_lean_memory import _corpus

NAMES = ("title", "description", "chunk_counts")


def _same_matrix(a: sparse.spmatrix, b: sparse.spmatrix) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and all(
        np.array_equal(getattr(a, part), getattr(b, part)) for part in ("indptr", "indices", "data"))


def _assert_same_model(a: FieldedBM25, b: FieldedBM25) -> None:
    for name in ("held_terms", "chunk_entry", "idf", "group_frequency", "title_alone_factors"):
        got, expected = getattr(a, name), getattr(b, name)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), name
    assert (a.n_entries, a.n_terms, a.rare_idf, a.n_groups) == (b.n_entries, b.n_terms, b.rare_idf, b.n_groups)
    assert (a.chunk_weight is None) == (b.chunk_weight is None)
    if a.chunk_weight is not None:
        assert np.array_equal(a.chunk_weight, b.chunk_weight)
    for field in ("title", "description", "chunks"):
        x, y = getattr(a, field), getattr(b, field)
        assert _same_matrix(x.counts, y.counts), field
        assert x.factors.dtype == y.factors.dtype and np.array_equal(x.factors, y.factors), field
    for x, y in zip(a.lengths, b.lengths):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def test_a_model_less_some_rows_is_the_model_of_the_rows_kept():
    """`FieldedBM25.without` recounts only the groups that lose rows, yet gives the arrays of a model built
    from the kept rows: whole groups gone, groups keeping some versions, chunks gone with their entry."""
    terms, title, description, chunks, chunk_entry, groups, weights = _corpus(7)
    model = FieldedBM25(title, description, chunks, chunk_entry, groups, chunk_weight=weights)
    rng = np.random.default_rng(3)
    patterns = [np.isin(np.arange(40), [0, 1]),          # one whole group (two versions)
                np.isin(np.arange(40), [2, 7, 9, 30]),   # single versions: their groups stay
                rng.random(40) < 0.5, np.zeros(40, bool), np.ones(40, bool)]
    for gone in patterns:
        gone_chunks = gone[chunk_entry]
        kept, kept_chunks = np.flatnonzero(~gone), np.flatnonzero(~gone_chunks)
        new_entry = np.cumsum(~gone) - 1
        _, numbers = np.unique(groups[kept], return_inverse=True)
        expected = FieldedBM25(title[kept], description[kept], chunks[kept_chunks], new_entry[chunk_entry[kept_chunks]],
                               numbers, chunk_weight=weights[kept_chunks])
        smaller = model.without(gone, gone_chunks, groups)
        _assert_same_model(smaller, expected)
        ids = np.arange(len(terms.vocabulary))
        ones = np.ones(len(ids), np.float32)
        assert np.array_equal(smaller.search(ids, ones).scores, expected.search(ids, ones).scores)
        if len(kept) > 4:  # and again from the smaller model
            again = np.zeros(len(kept), bool)
            again[[0, 3]] = True
            twice = smaller.without(again, again[smaller.chunk_entry], numbers)
            keep2 = kept[~again]
            keep2_chunks = np.flatnonzero(np.isin(chunk_entry, keep2))
            _, numbers2 = np.unique(groups[keep2], return_inverse=True)
            renumber = np.full(40, -1)
            renumber[keep2] = np.arange(len(keep2))
            _assert_same_model(twice, FieldedBM25(title[keep2], description[keep2], chunks[keep2_chunks],
                                                  renumber[chunk_entry[keep2_chunks]], numbers2,
                                                  chunk_weight=weights[keep2_chunks]))


def _model_of(title, description, chunks, chunk_entry, groups, weights, rows) -> FieldedBM25:
    """The model built from the counts of entry `rows` (ascending) and their chunks."""
    chunk_rows = np.flatnonzero(np.isin(chunk_entry, rows))
    renumber = np.full(title.shape[0], -1)
    renumber[rows] = np.arange(len(rows))
    _, numbers = np.unique(groups[rows], return_inverse=True)
    return FieldedBM25(title[rows], description[rows], chunks[chunk_rows], renumber[chunk_entry[chunk_rows]], numbers,
                       chunk_weight=weights[chunk_rows])


def test_a_model_with_rows_added_is_the_model_of_all_the_rows():
    """`FieldedBM25.with_rows` counts the document frequency again only for the groups that gain rows, yet gives
    the arrays of a model built from all the rows: new groups, new versions joining a group, terms no old row
    holds (the vocabulary grown past the old model's), counts too large for uint8, no old rows at all."""
    terms, title, description, chunks, chunk_entry, groups, weights = _corpus(5)
    # A count of 300 in the last entry's title: its field needs uint16 once that row is added.
    title = as_counts(title + sparse.csr_matrix(([300], ([39], [2])), shape=title.shape, dtype=np.uint16))
    n_terms = title.shape[1]
    rng = np.random.default_rng(4)
    splits = [np.arange(40) < 30,                                  # the last five groups new
              np.arange(40) >= 30,                                 # new terms before and between the old ones
              np.arange(40) % 2 == 0,                              # every second version joins its group
              rng.random(40) < 0.6, np.zeros(40, bool), np.ones(40, bool)]
    for old in splits:
        first, then = np.flatnonzero(old), np.flatnonzero(~old)
        # The old model over a vocabulary without the terms only the new rows hold (as before they were counted).
        seen = np.zeros(n_terms, bool)
        for m, rows in ((title, first), (description, first), (chunks, np.flatnonzero(np.isin(chunk_entry, first)))):
            seen[m[rows].indices] = True
        n_old = int(np.flatnonzero(seen).max()) + 1 if seen.any() else 0
        narrow = [sparse.csr_matrix(m[:, :n_old]) for m in (title, description, chunks)]
        model = _model_of(*narrow, chunk_entry, groups, weights, first)
        assert model.n_terms == n_old
        new_chunks = np.flatnonzero(np.isin(chunk_entry, then))
        renumber = np.full(40, -1)
        renumber[then] = np.arange(len(then))
        order = np.concatenate([first, then])
        _, numbers = np.unique(groups[order], return_inverse=True)
        bigger = model.with_rows(title[then], description[then], chunks[new_chunks], renumber[chunk_entry[new_chunks]],
                                 numbers, weights[new_chunks], n_terms=n_terms)
        # Old rows first, then the new ones: the rows of the model built from all of them in that order.
        expected = _model_of(title[order], description[order], chunks[np.concatenate(
            [np.flatnonzero(np.isin(chunk_entry, first)), new_chunks])],
            np.argsort(order)[chunk_entry[np.concatenate([np.flatnonzero(np.isin(chunk_entry, first)), new_chunks])]],
            groups[order], weights[np.concatenate([np.flatnonzero(np.isin(chunk_entry, first)), new_chunks])],
            np.arange(40))
        _assert_same_model(bigger, expected)
        ids = np.arange(n_terms)
        ones = np.ones(len(ids), np.float32)
        assert np.array_equal(bigger.search(ids, ones).scores, expected.search(ids, ones).scores)
        assert np.array_equal(bigger.rare_title_scores(ids, ones), expected.rare_title_scores(ids, ones))
        # And rows taken out again: the model of the old rows (over the grown vocabulary).
        back = bigger.without(~np.isin(order, first), ~np.isin(order, first)[bigger.chunk_entry], numbers)
        _assert_same_model(back, _model_of(title, description, chunks, chunk_entry, groups, weights, first))
        if not old[39]:  # the wide count arrives with the new rows
            assert model.title.counts.dtype == np.uint8 and bigger.title.counts.dtype == np.uint16


def test_rows_appended_to_csc_counts_equal_all_the_rows_converted():
    """`rows_appended` (block copies between insertion points, or one mask) gives the arrays of converting
    the old and new rows at once and keeping the held columns: new columns between, before and after the old
    ones, an added count too large for uint8, no old rows, no new rows."""
    from polaris_core.embed.lexical import _ScaledColumns, rows_appended
    from polaris_core.index import _rows_as_columns

    _, title, _, chunks, _, _, _ = _corpus(11)
    wide = as_counts(chunks + sparse.csr_matrix(([300], ([100], [0])), shape=chunks.shape, dtype=np.uint16))
    for matrix in (title, chunks, wide):
        n = matrix.shape[0]
        for split in (0, 1, n // 3, n - 1, n):
            old, new = matrix[:split], matrix[split:]
            for n_terms in (matrix.shape[1], matrix.shape[1] + 5):
                full = sparse.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(n, n_terms))
                held = np.flatnonzero(np.diff(full.tocsc().indptr) > 0).astype(np.int32)
                old_held = np.flatnonzero(np.diff(old.tocsc().indptr) > 0).astype(np.int32)
                expected = _ScaledColumns(_rows_as_columns(full, np.arange(n)), np.ones(0), held).counts
                before = _ScaledColumns(_rows_as_columns(old, np.arange(split)), np.ones(0), old_held).counts
                for cost in (0, 10 ** 9):
                    got = rows_appended(before, old_held, new, held, n_terms, segment_cost=cost)
                    assert _same_matrix(got, expected), (split, n_terms, cost)
                    assert got.has_sorted_indices


def test_removing_rows_of_csc_counts_narrows_their_dtype_as_slicing_does():
    from polaris_core.embed.lexical import rows_removed

    big = sparse.csr_matrix(np.array([[300, 1, 0], [0, 2, 0], [5, 0, 7], [0, 0, 0]], dtype=np.uint16))
    for gone in ([True, False, False, False], [False, True, True, False], [False] * 4, [True] * 4):
        gone = np.array(gone)
        got = rows_removed(big.tocsc(), gone)
        expected = as_counts(big[np.flatnonzero(~gone)]).tocsc()
        expected.sort_indices()
        assert _same_matrix(got, expected), gone
    assert rows_removed(big.tocsc(), np.array([True, False, False, False])).dtype == np.uint8


def test_kind_columns_made_by_row_blocks_equal_a_slice_converted():
    from polaris_core.index import _rows_as_columns

    _, title, description, chunks, _, _, _ = _corpus(9)
    wide = sparse.vstack([title, sparse.csr_matrix(([400], ([0], [3])), shape=(1, title.shape[1]))], format="csr")
    for matrix in (title, description, chunks, as_counts(wide)):
        for rows in (np.arange(matrix.shape[0]), np.arange(0, matrix.shape[0], 3), np.array([], np.int64),
                     np.array([matrix.shape[0] - 1])):
            expected = as_counts(matrix[rows]).tocsc()
            expected.sort_indices()
            for block in (1, 5, 64, 1 << 21):
                got = _rows_as_columns(matrix, rows, block=block)
                assert got.has_sorted_indices
                assert got.shape == expected.shape and got.dtype == expected.dtype
                assert all(np.array_equal(getattr(got, p), getattr(expected, p)) for p in ("indptr", "indices", "data"))


def _files(folder) -> dict:
    files = json.loads((folder / "vectorstore.json").read_text())["extra"]["zoo_index"]["files"]
    return {k: v["sha256"] for k, v in files.items()}


def test_removing_entries_after_the_first_search_keeps_the_counts_released(fixture_cache, tmp_path):
    """After a first search released the entry-major counts, a removal changes the per-kind models and keeps
    the counts released: every model, search, term presence and saved file equals those of the same index
    whose counts were held when it removed the same entries (so its models were built after the removal)."""
    from polaris_core.demo import demo_catalog_path
    from polaris_core.embed.lexical import tokenize
    from polaris_core.index import ZooIndex
    from polaris_core.zoo.civitai import load_catalog
    from tests.core.retrieval_fixtures import embedding_cache

    entries = load_catalog([demo_catalog_path()])
    cache = embedding_cache(fixture_cache)
    ZooIndex.build(entries, tmp_path / "built", cache=cache, expansion=None)
    released = ZooIndex.load(tmp_path / "built")
    released.lexical("lora")
    assert all(getattr(released.arrays, n) is None for n in NAMES)
    by_kind = {}
    for e in entries:
        by_kind.setdefault(e.kind, []).append(e.id)
    # Several rounds: a few of each kind, then a whole group's worth, then one more entry.
    rounds = [[ids[i] for ids in by_kind.values() for i in (0, 3) if i < len(ids)],
              by_kind["lora"][5:9], [by_kind["checkpoint"][-1]]]
    queries = ["anime girl with red hair", "photorealistic portrait, 35mm", "pixel art", "watercolor landscape"]
    words = sorted({w for e in entries[:30] for p in e.example_prompts[:2] for w in tokenize(p)})[:40]
    for n, ids in enumerate(rounds):
        held = ZooIndex.load(tmp_path / "built" if n == 0 else tmp_path / f"held-{n - 1}")
        assert held.arrays.title is not None
        assert released.remove(ids) == held.remove(ids) == len(ids)
        assert all(getattr(released.arrays, n) is None for n in NAMES)  # still one copy: the models'
        _assert_same_index(released, held, queries, words)
        released.save(tmp_path / f"released-{n}")
        held.save(tmp_path / f"held-{n}")
        assert _files(tmp_path / f"released-{n}") == _files(tmp_path / f"held-{n}")
    # An update afterwards makes the counts again from the models: the same matrices as the held index's.
    back = [e for e in entries if e.id in set(rounds[0])]
    released.update(back, cache=cache)
    held.update(back, cache=cache)
    for name in NAMES:
        assert _same_matrix(released.count_matrix(name), held.count_matrix(name)), name


class _HashEncoder:
    """The index's own encoder identity with a fixed unit vector per text (from its hash): updates then embed new
    texts without loading MiniLM, the same vectors for both indexes, and nothing goes into the shared cache."""

    def __init__(self, index) -> None:
        self.encoder_id, self.dim, self.max_tokens = index.text_encoder_id, index.text_dim, index.max_tokens

    def encode(self, texts, on_step=None, check_cancel=None, **_) -> np.ndarray:
        import hashlib

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            out[i] = np.random.default_rng(seed).normal(size=self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _assert_same_index(released, held, queries, words) -> None:
    """Models, lexical and full searches and term presence of the two indexes are the same."""
    from polaris_core.retrieve import search

    for kind in ("checkpoint", "lora", "embedding"):
        got, expected = released.lexical(kind), held.lexical(kind)
        _assert_same_model(got[0], expected[0])
        assert np.array_equal(got[1], expected[1]) and np.array_equal(got[2], expected[2])
        for q in queries:
            a, b = released.lexical_search(kind, q, rare_title=True), held.lexical_search(kind, q, rare_title=True)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1].scores, b[1].scores)
            assert np.array_equal(a[1].best_chunk, b[1].best_chunk)
            assert np.array_equal(a[1].rare_title, b[1].rare_title)
    for kind in ("lora", "embedding"):
        for q in queries:
            a, b = search(released, q, kind=kind, k=10), search(held, q, kind=kind, k=10)
            assert a and [(c.entry.id, c.score) for c in a] == [(c.entry.id, c.score) for c in b]
    rows = np.arange(len(released))
    presence = released.term_presence(rows, words)
    assert any(v.any() for v in presence.values())
    assert all(np.array_equal(presence[k], held.term_presence(rows, words)[k]) for k in presence)


def test_adding_entries_after_the_first_search_keeps_the_counts_released(fixture_cache, tmp_path):
    """After a first search released the entry-major counts, an update appends its rows to the per-kind models
    and keeps the counts released: new models, new versions joining a model's group, the first entries of a
    kind, entries replaced by id with words no entry had, then a removal and more additions. Every model,
    search, term presence and saved file equals those of the same index whose counts were held when it
    made the same changes (so its models were built after them)."""
    import dataclasses

    from polaris_core.demo import demo_catalog_path
    from polaris_core.embed.lexical import tokenize
    from polaris_core.index import ZooIndex
    from polaris_core.zoo.civitai import load_catalog
    from tests.core.retrieval_fixtures import embedding_cache

    entries = load_catalog([demo_catalog_path()])
    # Held back: every second version of a model (they join its group), a few models, every embedding.
    seen: set = set()
    later = []
    for e in entries:
        if e.kind == "embedding" or (e.civitai_model_id in seen) or e.id in {entries[6].id, entries[30].id}:
            later.append(e)
        seen.add(e.civitai_model_id)
    first = [e for e in entries if e not in later]
    assert any(e.civitai_model_id in {f.civitai_model_id for f in first} for e in later)
    ZooIndex.build(first, tmp_path / "built", cache=embedding_cache(fixture_cache), expansion=None)
    released = ZooIndex.load(tmp_path / "built")
    released.set_text_encoder(_HashEncoder(released))
    released.lexical("lora")
    assert all(getattr(released.arrays, n) is None for n in NAMES)
    assert released.lexical("embedding")[0].n_entries == 0
    new_words = "zorbleflux quintessa, glimmerwyrm"
    replaced = [dataclasses.replace(e, description=e.description + f" {new_words} trixabelle")
                for e in (first[0], first[20])]
    novel = dataclasses.replace(later[-1], id="civitai:1", civitai_model_id=1, name="Zorbleflux Quintessa",
                                trigger_words=["glimmerwyrm"], example_prompts=[f"1girl, {new_words}, red kimono"])
    rounds = [("update", later[:-1]), ("update", replaced + [novel]), ("remove", [first[3].id, later[0].id]),
              ("update", [later[-1], dataclasses.replace(first[5], tags=["zorbleflux"])])]
    queries = ["anime girl with red hair", "photorealistic portrait, 35mm", "pixel art", f"watercolor {new_words}"]
    words = sorted({w for e in entries[:30] for p in e.example_prompts[:2] for w in tokenize(p)})[:40] + \
        tokenize(new_words)
    for n, (action, change) in enumerate(rounds):
        held = ZooIndex.load(tmp_path / "built" if n == 0 else tmp_path / f"held-{n - 1}")
        held.set_text_encoder(_HashEncoder(held))
        assert held.arrays.title is not None
        if action == "update":
            a, b = released.update(change), held.update(change)
            assert (a.entries_added, a.entries_updated) == (b.entries_added, b.entries_updated)
            assert a.entries_added + a.entries_updated == len(change)
        else:
            assert released.remove(change) == held.remove(change) == len(change)
        assert all(getattr(released.arrays, n) is None for n in NAMES)  # still one copy: the models'
        assert len(released.terms.vocabulary) == len(held.terms.vocabulary)
        _assert_same_index(released, held, queries, words)
        released.save(tmp_path / f"released-{n}")
        held.save(tmp_path / f"held-{n}")
        assert _files(tmp_path / f"released-{n}") == _files(tmp_path / f"held-{n}")
    assert released.lexical("embedding")[0].n_entries == sum(e.kind == "embedding" for e in entries) + 1  # + novel
    # Made again from the models, the counts are the held index's matrices.
    for name in NAMES:
        assert _same_matrix(released.count_matrix(name), held.count_matrix(name)), name


def test_a_failed_first_search_leaves_every_count_held(fixture_cache, tmp_path, monkeypatch):
    """The first search releases each entry-major field once its per-kind copies exist; when building the
    models fails after that (here: the model constructor raises), the released fields are made again from
    those copies, so nothing is lost and the next search succeeds."""
    from polaris_core import index as index_module
    from polaris_core.demo import demo_catalog_path
    from polaris_core.index import ZooIndex
    from polaris_core.zoo.civitai import load_catalog
    from tests.core.retrieval_fixtures import embedding_cache

    entries = load_catalog([demo_catalog_path()])
    index = ZooIndex.build(entries, tmp_path / "built", cache=embedding_cache(fixture_cache), expansion=None)
    before = {n: getattr(index.arrays, n).copy() for n in NAMES}

    def fail(*args, **kwargs):
        raise MemoryError("no room for the model")

    monkeypatch.setattr(index_module, "FieldedBM25", fail)
    with pytest.raises(MemoryError):
        index.lexical("lora")
    for name in NAMES:
        assert _same_matrix(getattr(index.arrays, name), before[name]), name
    monkeypatch.undo()
    index.lexical("lora")
    assert all(getattr(index.arrays, n) is None for n in NAMES)
    # A model asked for beside those built already (a kind no entry has): the counts are held again while it
    # is built, and a failure then makes them again from the models built before as well.
    monkeypatch.setattr(index_module, "FieldedBM25", fail)
    with pytest.raises(MemoryError):
        index.lexical("unknown-kind")
    for name in NAMES:
        assert _same_matrix(getattr(index.arrays, name), before[name]), name
