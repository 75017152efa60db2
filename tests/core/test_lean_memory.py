"""Memory of a large zoo: term counts held as uint8 (uint16 when a count needs it), BM25F weighting made per query from one count copy per
field. Scores must stay those of float32 weighted copies (computed here densely, as a reference)."""
from __future__ import annotations

import json

import numpy as np
from scipy import sparse

from polaris_core.embed.lexical import BM25FParams, FieldedBM25, TermCounts, as_counts


def _corpus(seed: int = 0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(60)]
    zipf = 1.0 / np.arange(1, len(words) + 1)
    zipf /= zipf.sum()

    def text(lo, hi):
        return [words[i] for i in rng.choice(len(words), int(rng.integers(lo, hi)), p=zipf)]

    n_entries = 40
    titles = [text(1, 6) for _ in range(n_entries)]
    descriptions = [text(0, 30) if rng.random() < 0.7 else [] for _ in range(n_entries)]
    chunk_entry = np.sort(rng.integers(0, n_entries, 120))
    chunks = [text(0, 20) for _ in chunk_entry]
    terms = TermCounts()
    counts = [terms.counts(lists) for lists in (titles, descriptions, chunks)]
    n_terms = len(terms.vocabulary)
    title, description, chunk_counts = (sparse.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_terms))
                                        for m in counts)
    groups = np.arange(n_entries) // 2  # two versions per model
    weights = np.where(rng.random(len(chunk_entry)) < 0.3, 0.8, 1.0).astype(np.float32)
    return terms, title, description, chunk_counts, chunk_entry, groups, weights


def _reference(title, description, chunks, chunk_entry, idf, weights, params, term_ids, multiplicity):
    """BM25F from dense float32 weighted matrices (what the sparse weighted copies held)."""
    def norm(m):
        lengths = np.asarray(m.sum(axis=1)).ravel().astype(np.float32)
        average = float(lengths[lengths > 0].mean())
        return 1.0 - params.b + params.b * lengths / average

    def scaled(m, factors):
        return m.toarray().astype(np.float32) * factors.astype(np.float32)[:, None]

    k1 = params.k1
    fields = scaled(title, params.title_weight / norm(title)) + \
        scaled(description, params.description_weight / norm(description))
    chunk_tf = scaled(chunks, params.prompt_weight / norm(chunks))
    q = idf[term_ids] * (1.0 + np.log(multiplicity))
    f = fields[:, term_ids]
    entry_scores = (f / (k1 + f)) @ q
    c = chunk_tf[:, term_ids]
    base = f[chunk_entry]
    gain = ((c + base) / (k1 + c + base) - base / (k1 + base)) @ q * weights
    best = entry_scores.copy()
    np.maximum.at(best, chunk_entry, entry_scores[chunk_entry] + gain)
    t = scaled(title, 1.0 / norm(title))[:, term_ids]
    return best, (t / (k1 + t)) @ q


def test_term_counts_are_uint8_and_bm25f_scores_match_float32_weighted_copies():
    terms, title, description, chunks, chunk_entry, groups, weights = _corpus()
    assert title.dtype == description.dtype == chunks.dtype == np.uint8
    params = BM25FParams(rare_idf_fraction=0.0)  # every query term counts as rare: the title view sees them all
    model = FieldedBM25(title, description, chunks, chunk_entry, groups, params, chunk_weight=weights)
    # One uint8 count copy per field (title, description, chunks) plus factors: no float32 weighted copies.
    for field, counts in ((model.title, title), (model.description, description), (model.chunks, chunks)):
        assert field.counts.dtype == np.uint8 and field.counts.data.nbytes == counts.nnz
    held = model.title.nbytes() + model.description.nbytes() + model.chunks.nbytes()
    assert held < 5 * (title.nnz + description.nnz + chunks.nnz) + 4 * 3 * (len(terms.vocabulary) + 1 + len(chunk_entry))
    rng = np.random.default_rng(1)
    for _ in range(25):
        term_ids = np.unique(rng.integers(0, len(terms.vocabulary), int(rng.integers(1, 8))))
        multiplicity = rng.integers(1, 3, len(term_ids)).astype(np.float32)
        hits = model.search(term_ids, multiplicity)
        expected, rare = _reference(title, description, chunks, chunk_entry, model.term_idf(np.arange(title.shape[1])), weights, params,
                                    term_ids, multiplicity)
        np.testing.assert_allclose(hits.scores, expected, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(model.rare_title_scores(term_ids, multiplicity), rare, rtol=2e-6, atol=1e-6)
        # The best chunk, where one beats the fields alone, scores what its entry scores.
        won = hits.best_chunk >= 0
        assert np.all(chunk_entry[hits.best_chunk[won]] == np.flatnonzero(won))


def test_float32_counts_are_taken_as_uint16_and_weighted_values_are_kept():
    terms, title, description, chunks, chunk_entry, groups, _ = _corpus(2)
    as_float = [m.astype(np.float32) for m in (title, description, chunks)]
    a = FieldedBM25(title, description, chunks, chunk_entry, groups)
    b = FieldedBM25(*as_float, chunk_entry, groups)
    assert b.chunks.counts.dtype == np.uint8
    term_ids = np.arange(0, len(terms.vocabulary), 3)
    multiplicity = np.ones(len(term_ids), np.float32)
    assert np.array_equal(a.search(term_ids, multiplicity).scores, b.search(term_ids, multiplicity).scores)
    halves = description.astype(np.float32) * 0.5  # not whole counts: used as given, never rounded
    c = FieldedBM25(title, halves, chunks, chunk_entry, groups)
    assert c.description.counts.dtype == np.float32
    assert not np.array_equal(c.search(term_ids, multiplicity).scores, a.search(term_ids, multiplicity).scores)


def _description_terms(index) -> list[str]:
    vocabulary = index.terms.vocabulary
    return [vocabulary[t] for t in np.unique(index.arrays.description.indices)]


def test_an_index_keeps_its_description_pair_setting(fixture_cache, tmp_path):
    import json

    from polaris_core.demo import demo_catalog_path
    from polaris_core.index import DESCRIPTION_PAIRS, ZooIndex
    from polaris_core.vectorstore import MANIFEST
    from polaris_core.zoo.civitai import load_catalog
    from tests.core.retrieval_fixtures import embedding_cache

    entries = load_catalog([demo_catalog_path()])
    assert all(e.description for e in entries[-2:])
    folder = tmp_path / "index"
    index = ZooIndex.build(entries[:-2], folder, cache=embedding_cache(fixture_cache))
    assert index.description_pairs == DESCRIPTION_PAIRS
    assert any(" " in t for t in _description_terms(index)) == DESCRIPTION_PAIRS
    assert index.arrays.title.dtype == np.uint8 and ZooIndex.load(folder).arrays.title.dtype == np.uint8
    path = folder / MANIFEST

    def set_pairs(value) -> None:
        manifest = json.loads(path.read_text())
        lexical = manifest["extra"]["zoo_index"]
        assert lexical.pop("lexical") == {"description_pairs": DESCRIPTION_PAIRS}
        if value is not None:
            lexical["lexical"] = {"description_pairs": value}
        path.write_text(json.dumps(manifest))

    for value, pairs in ((False, False), (None, True)):  # None: saved before the setting existed (pairs)
        set_pairs(value)
        loaded = ZooIndex.load(folder)
        assert loaded.description_pairs == pairs
        loaded.update(entries[-2:], cache=embedding_cache(fixture_cache))
        rows = [loaded.entry_row(e.id) for e in entries[-2:]]
        added = {loaded.terms.vocabulary[t] for t in loaded.arrays.description[rows].indices}
        assert added and any(" " in t for t in added) == pairs
        loaded.remove([e.id for e in entries[-2:]])
        loaded.description_pairs = DESCRIPTION_PAIRS
        loaded.save()


def test_counts_past_255_keep_uint16_and_two_fields_never_wrap():
    """A matrix holding a count uint8 cannot keep stays uint16 (exact); stacking a uint8 and a uint16 matrix
    gives uint16; and a term counted 200 times in a title and 56 in the description is still present in
    that entry for its document frequency (a uint8 sum wraps 256 to 0)."""
    terms = TermCounts()
    wide = terms.counts([["a"] * 300, ["b"]])
    assert wide.dtype == np.uint16 and wide.max() == 300 and as_counts(wide.astype(np.float32)).dtype == np.uint16
    title = terms.counts([["a"] * 200 + ["b"], ["b"], ["c"]])
    description = terms.counts([["a"] * 56, [], ["a"] * 3])
    chunks = terms.counts([["b", "c"], ["b"]])
    assert title.dtype == description.dtype == chunks.dtype == np.uint8
    n_terms = len(terms.vocabulary)
    title, description, chunks, wide = (sparse.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_terms))
                                        for m in (title, description, chunks, wide))
    assert sparse.vstack([title, wide], format="csr").dtype == np.uint16
    model = FieldedBM25(title, description, chunks, np.array([1, 2]), np.arange(3))
    # "a" is in entries 0 and 2: df 2 of 3 groups (a wrapped sum would leave entry 0 out: df 1).
    assert np.isclose(model.term_idf([0])[0], np.log1p(1.5 / 2.5), rtol=1e-6)
    held = FieldedBM25(*(m.astype(np.uint16) for m in (title, description, chunks)), np.array([1, 2]), np.arange(3))
    ids, mult = np.arange(n_terms), np.ones(n_terms, np.float32)
    assert np.array_equal(model.search(ids, mult).scores, held.search(ids, mult).scores)


def test_bm25f_holds_columns_only_for_its_own_terms_and_scores_the_others_as_absent():
    """A kind's BM25F over a zoo-wide vocabulary: column pointers and idf only for the terms its rows hold
    (4 bytes a term for each field otherwise); a query term it does not hold scores as a zero column."""
    terms, title, description, chunks, chunk_entry, groups, weights = _corpus(3)
    n_terms = 50_000  # the other kinds' terms
    title, description, chunks = (sparse.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_terms))
                                  for m in (title, description, chunks))
    params = BM25FParams(rare_idf_fraction=0.0)
    model = FieldedBM25(title, description, chunks, chunk_entry, groups, params, chunk_weight=weights)
    assert len(model.held_terms) == len(terms.vocabulary) and model.title.shape[1] == len(terms.vocabulary) + 1
    assert model.nbytes() < 5 * (title.nnz + description.nnz + chunks.nnz) + 50 * len(terms.vocabulary) + \
        16 * (title.shape[0] + len(chunk_entry))
    idf = model.term_idf(np.arange(n_terms))
    assert np.all(idf[len(terms.vocabulary):] == np.float32(np.log1p((groups.max() + 1.5) / 0.5)))  # df 0
    rng = np.random.default_rng(4)
    for _ in range(15):
        term_ids = np.unique(np.concatenate([rng.integers(0, len(terms.vocabulary), 3), rng.integers(0, n_terms, 3)]))
        multiplicity = np.ones(len(term_ids), np.float32)
        expected, rare = _reference(title, description, chunks, chunk_entry, idf, weights, params, term_ids,
                                    multiplicity)
        np.testing.assert_allclose(model.search(term_ids, multiplicity).scores, expected, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(model.rare_title_scores(term_ids, multiplicity), rare, rtol=2e-6, atol=1e-6)
    unheld = np.array([n_terms - 1])
    assert not model.search(unheld, np.ones(1, np.float32)).scores.any()
    assert model.fields(unheld).nnz == 0


def test_term_counts_are_held_once_after_the_first_search(fixture_cache, tmp_path):
    """Once every kind's BM25F model is built, the entry-major term counts are released (the models' per-kind
    copies hold the same counts): saving writes the same bytes, the ranker's term presence reads the same
    terms, and an update or removal afterwards gives the matrices an index that never released them has."""
    from polaris_core.demo import demo_catalog_path
    from polaris_core.embed.lexical import tokenize
    from polaris_core.index import ZooIndex
    from polaris_core.zoo.civitai import load_catalog
    from tests.core.retrieval_fixtures import embedding_cache

    entries = load_catalog([demo_catalog_path()])
    cache = embedding_cache(fixture_cache)
    index = ZooIndex.build(entries[:-3], tmp_path / "held", cache=cache, expansion=None)
    names = ("title", "description", "chunk_counts")
    held = {name: getattr(index.arrays, name).copy() for name in names}
    rows = np.arange(len(index))
    words = sorted({w for e in entries[:20] for p in e.example_prompts[:2] for w in tokenize(p)})[:40]
    assert len(words) > 10
    excluded = index.chunk_rows_for(rows[:5])[::3]
    presence = index.term_presence(rows, words, excluded)
    assert any(v.any() for v in presence.values())

    index.lexical("lora")
    assert all(getattr(index.arrays, name) is None for name in names)  # one copy: the models'
    for name in names:
        again = index.count_matrix(name)
        assert again.shape == held[name].shape and again.nnz == held[name].nnz
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(again, part), getattr(held[name], part)), (name, part)
    after = index.term_presence(rows, words, excluded)
    assert all(np.array_equal(after[k], presence[k]) for k in presence)
    index.save(tmp_path / "released")
    files = [json.loads((tmp_path / f / "vectorstore.json").read_text())["extra"]["zoo_index"]["files"]
             for f in ("held", "released")]
    assert {k: v["sha256"] for k, v in files[0].items()} == {k: v["sha256"] for k, v in files[1].items()}

    plain = ZooIndex.load(tmp_path / "held")
    for changed in (index, plain):
        changed.update(entries[-3:], cache=cache)
        changed.remove([entries[0].id, entries[5].id])
    index.lexical("checkpoint")
    for name in names:
        a, b = index.count_matrix(name), plain.count_matrix(name)
        assert a.shape == b.shape and all(np.array_equal(getattr(a, p), getattr(b, p))
                                          for p in ("indptr", "indices", "data"))


def test_document_frequency_by_column_blocks_counts_each_group_once():
    """BM25F's document frequency is counted from the CSC copies a block of columns at a time: for every block
    size (one column per block, a few, all at once) it equals a dense count of the groups holding each term in
    any field."""
    from polaris_core.embed.lexical import _group_frequency

    terms, title, description, chunks, chunk_entry, groups, _ = _corpus(5)
    dense = [title.toarray() > 0, description.toarray() > 0, np.zeros(title.shape, bool)]
    np.logical_or.at(dense[2], chunk_entry, chunks.toarray() > 0)
    in_entry = dense[0] | dense[1] | dense[2]
    expected = np.array([len(set(groups[in_entry[:, t]].tolist())) for t in range(title.shape[1])])
    fields = [m.tocsc() for m in (title, description, chunks)]
    for block in (1, 7, 50, 1 << 22):
        got = _group_frequency(fields, [groups, groups, groups[chunk_entry]], int(groups.max()) + 1, block=block)
        assert np.array_equal(got, expected), block
    model = FieldedBM25(title, description, chunks, chunk_entry, groups)
    n_groups = int(groups.max()) + 1
    idf = np.log1p((n_groups - expected.astype(np.float32) + 0.5) / (expected.astype(np.float32) + 0.5))
    assert np.array_equal(model.term_idf(np.arange(title.shape[1])), idf.astype(np.float32))
