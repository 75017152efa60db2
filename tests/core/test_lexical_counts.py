"""Term counts are built by one sort over (row, term id) keys from streamed token lists; they must equal,
term for term, the per-row dict counting they replaced, and score the real catalog exactly as before."""
from __future__ import annotations

import numpy as np
from scipy import sparse

from polaris_core.embed.chunks import PROMPT_KINDS, entry_chunks
from polaris_core.embed.lexical import FieldedBM25, TermCounts, lexical_terms, query_terms
from tests.core.retrieval_fixtures import catalog_subset


def _dict_counts(terms: TermCounts, token_lists) -> sparse.csr_matrix:
    """The previous representation: a dict of counts per row, ids in order of first appearance."""
    indptr, indices, data = [0], [], []
    for tokens in token_lists:
        row: dict[int, int] = {}
        for token in tokens:
            tid = terms.term_ids.get(token)
            if tid is None:
                tid = terms.term_ids[token] = len(terms.vocabulary)
                terms.vocabulary.append(token)
            row[tid] = row.get(tid, 0) + 1
        indices.extend(row)
        data.extend(row.values())
        indptr.append(len(indices))
    return sparse.csr_matrix((np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr)),
                             shape=(len(indptr) - 1, len(terms.vocabulary)))


def _fields(entries):
    chunk_lists = [entry_chunks(e) for e in entries]
    chunks = [c for cs in chunk_lists for c in cs]
    return ([lexical_terms(cs[0].lexical_text) for cs in chunk_lists],
            [lexical_terms(" ".join(c.lexical_text for c in cs if c.kind == "description")) for cs in chunk_lists],
            [lexical_terms(c.lexical_text) if c.kind in PROMPT_KINDS else [] for c in chunks],
            np.repeat(np.arange(len(entries)), [len(cs) for cs in chunk_lists]))


def _model(counts, chunk_entry, n_terms):
    title, description, chunks = (_widened(m, n_terms) for m in counts)
    return FieldedBM25(title, description, chunks, chunk_entry, np.arange(title.shape[0]))


def test_sorted_counts_equal_dict_counts_and_score_the_catalog_alike(shared_data, fixture_cache):
    entries = catalog_subset(shared_data, fixture_cache)
    title, description, chunk_tokens, chunk_entry = _fields(entries)
    old, new = TermCounts(), TermCounts()
    old_counts = [_dict_counts(old, lists) for lists in (title, description, chunk_tokens)]
    new_counts = [new.counts(iter(lists)) for lists in (title, description, chunk_tokens)]  # streamed
    assert new.vocabulary == old.vocabulary and new.term_ids == old.term_ids
    for a, b in zip(old_counts, new_counts):
        assert b.has_sorted_indices and b.indices.dtype == np.int32
        n_terms = len(new.vocabulary)
        assert a.shape == b.shape and (_widened(a, n_terms) != _widened(b, n_terms)).nnz == 0
    old_model = _model(old_counts, chunk_entry, len(old.vocabulary))
    new_model = _model(new_counts, chunk_entry, len(new.vocabulary))
    queries = [p for e in entries[::7] for p in e.example_prompts[:1]] + ["anime girl, red kimono", "ondr"]
    for query in queries:
        terms = query_terms(new, lexical_terms(query))
        a, b = old_model.search(*terms), new_model.search(*terms)
        assert np.array_equal(a.scores, b.scores) and np.array_equal(a.best_chunk, b.best_chunk)
        assert np.array_equal(old_model.rare_title_scores(*terms), new_model.rare_title_scores(*terms))


# Top-5 BM25F scores on the real-catalog subset, recorded with the dict counting before it was replaced.
PINNED = {"anime girl, red kimono": ([52, 50, 47, 57, 102], [7.96231, 5.92468, 5.79777, 4.46662, 3.5326]),
          "1girl, masterpiece, detailed eyes": ([12, 13, 117, 55, 54], [2.8793, 2.8793, 2.81923, 2.68682, 2.66344])}


def test_catalog_scores_stay_as_recorded(shared_data, fixture_cache):
    entries = catalog_subset(shared_data, fixture_cache)
    title, description, chunk_tokens, chunk_entry = _fields(entries)
    terms = TermCounts()
    counts = [terms.counts(lists) for lists in (title, description, chunk_tokens)]
    model = _model(counts, chunk_entry, len(terms.vocabulary))
    for query, (rows, scores) in PINNED.items():
        hits = model.search(*query_terms(terms, lexical_terms(query)))
        top = np.argsort(-hits.scores, kind="stable")[:5]
        assert top.tolist() == rows and np.allclose(hits.scores[top], scores, atol=1e-5)


def test_counts_without_growth_skip_unknown_terms_and_keep_empty_rows():
    terms = TermCounts(["red", "kimono"])
    counts = terms.counts([["red", "red", "new"], [], ["kimono", "red"]], grow=False)
    assert terms.vocabulary == ["red", "kimono"]
    assert counts.toarray().tolist() == [[2, 0], [0, 0], [1, 1]]
    assert terms.counts([[], []]).shape == (2, 2) and terms.counts([]).shape == (0, 2)


def _widened(matrix: sparse.csr_matrix, n_terms: int) -> sparse.csr_matrix:
    out = matrix.copy()
    out.resize((matrix.shape[0], n_terms))
    return out
