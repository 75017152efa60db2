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
    from polaris_core.retrieve import search
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
        for kind in ("checkpoint", "lora", "embedding"):
            got, expected = released.lexical(kind), held.lexical(kind)
            _assert_same_model(got[0], expected[0])
            assert np.array_equal(got[1], expected[1]) and np.array_equal(got[2], expected[2])
            for q in queries:
                a, b = released.lexical_search(kind, q, rare_title=True), held.lexical_search(kind, q, rare_title=True)
                assert np.array_equal(a[0], b[0]) and np.array_equal(a[1].scores, b[1].scores)
                assert np.array_equal(a[1].best_chunk, b[1].best_chunk)
                assert np.array_equal(a[1].rare_title, b[1].rare_title)
        for q in queries:
            a, b = search(released, q, kind="lora", k=10), search(held, q, kind="lora", k=10)
            assert a and [(c.entry.id, c.score) for c in a] == [(c.entry.id, c.score) for c in b]
        rows = np.arange(len(released))
        presence = released.term_presence(rows, words)
        assert any(v.any() for v in presence.values())
        assert all(np.array_equal(presence[k], held.term_presence(rows, words)[k]) for k in presence)
        released.save(tmp_path / f"released-{n}")
        held.save(tmp_path / f"held-{n}")
        assert _files(tmp_path / f"released-{n}") == _files(tmp_path / f"held-{n}")
    # An update afterwards makes the counts again from the models: the same matrices as the held index's.
    back = [e for e in entries if e.id in set(rounds[0])]
    released.update(back, cache=cache)
    held.update(back, cache=cache)
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
