"""BM25 lexical channel with prompt-aware tokenisation.

Stable-Diffusion prompts are comma lists with emphasis markup: `(masterpiece:1.2)`, `[word]`,
`((word))`, `<lora:name:0.8>`, `snake_case_tags`. The tokeniser drops weights and markup, splits
on punctuation and underscores, lower-cases, and splits CJK runs into characters and bigrams.
Names and trigger words ("ondr", "mumeikim") are rare tokens, so BM25's IDF favours them:
exactly where dense sentence embeddings are weakest.

Scoring is BM25F (fielded BM25) per chunk: every example-prompt chunk is scored together with its
entry's title field (name, version, trigger words, tags; weighted up) and description field
(weighted down), and an entry scores as its best chunk. One saturating function over the summed
fields lets a trigger word in the title and a near-duplicate example prompt reinforce each other,
where separately normalised channels drown the title in common prompt words.
Derived weights are rebuilt from stored term counts when entries change; that is cheap next to
embedding.

Terms are words plus adjacent word pairs (`lexical_terms`): prompts copied from a model page share
long phrases, and a shared pair ("red kimono", "hospital clothes") is far rarer, so far more
telling, than its two words apart (measured on the dev splits: +3 to +4.5 points R@10).
`FieldedBM25.rare_title_scores` is a second, narrower view: only the query's rare terms, matched
against the title field alone. One rare trigger word in a long query otherwise loses to a chunk
sharing twenty common tags.
"""
from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Iterable, Optional, Sequence

import numpy as np
from scipy import sparse

# `<lora:name:0.8>`, `<lyco:…>`, `<hypernet:…>`: the name inside is kept as words.
_NETWORK_TAG = re.compile(r"<\s*(?:lora|lyco|locon|lycoris|hypernet)\s*:([^<>:]*)(?::[^<>]*)?>", re.IGNORECASE)
# `:1.2`, `: 0.8` emphasis weights and bare numbers after a colon.
_WEIGHT = re.compile(r":\s*-?\d*\.?\d+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Letters and digits; underscores and apostrophes split words.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

MAX_TOKENS_PER_TEXT = 512
# Term counts are small integers (a text has at most 2 × MAX_TOKENS_PER_TEXT terms), held in memory as
# uint8 when every count of a matrix fits (1 byte per non-zero instead of float32's 4; the catalog's and
# the 100K zoo's largest count is 135), else uint16 (`count_dtype`). Saved indexes keep float32 on disk.
COUNT_DTYPE = np.uint16  # the widest
COUNT_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
_MAX_COUNT = int(np.iinfo(COUNT_DTYPE).max)


def count_dtype(largest: int) -> type:
    """The narrowest count dtype that holds counts up to `largest`."""
    return np.uint8 if largest <= int(np.iinfo(np.uint8).max) else COUNT_DTYPE


def normalize_prompt(text: str) -> str:
    """Prompt text without emphasis weights or network-tag markup (for both channels)."""
    if not text:
        return ""
    text = _NETWORK_TAG.sub(r" \1 ", text)
    text = _WEIGHT.sub(" ", text)
    return text


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of a prompt, card text or query; CJK split into chars and bigrams."""
    if not text:
        return []
    text = unicodedata.normalize("NFKC", normalize_prompt(text))
    tokens: list[str] = []
    for word in _WORD.findall(text):
        if _CJK.search(word):
            tokens.extend(_cjk_tokens(word))
            continue
        lowered = word.lower()
        tokens.append(lowered)
        parts = _CAMEL.split(word)
        if len(parts) > 1:  # "DanMumfordStyle" also matches "dan mumford style"
            tokens.extend(p.lower() for p in parts if p)
        if len(tokens) >= MAX_TOKENS_PER_TEXT:
            break
    return tokens[:MAX_TOKENS_PER_TEXT]


def lexical_terms(text: str) -> list[str]:
    """The terms BM25 indexes and queries: `tokenize` words, then each adjacent pair as "a b"
    (words never contain spaces, so pairs cannot collide with words)."""
    words = tokenize(text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


def _cjk_tokens(word: str) -> list[str]:
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.extend(run)
            out.extend(a + b for a, b in zip(run, run[1:]))
            run.clear()

    latin = ""
    for ch in word:
        if _CJK.match(ch):
            if latin:
                out.append(latin.lower())
                latin = ""
            run.append(ch)
        else:
            flush()
            latin += ch
    flush()
    if latin:
        out.append(latin.lower())
    return out


class TermCounts:
    """Documents as sparse term counts over a growing vocabulary (the persistent part of BM25)."""

    def __init__(self, vocabulary: Optional[list[str]] = None) -> None:
        self.vocabulary: list[str] = list(vocabulary or [])
        self.term_ids: dict[str, int] = {t: i for i, t in enumerate(self.vocabulary)}

    def counts(self, token_lists: Iterable[Sequence[str]], grow: bool = True) -> sparse.csr_matrix:
        """CSR (docs × vocabulary) of term counts, rows with sorted term ids; unknown terms are added
        (in order of first appearance) when `grow`.

        `token_lists` may be a generator: each list becomes term ids as it arrives and is dropped, so
        a large batch never holds every document's term strings at once (at 100K entries those
        lists took over 6 GB). Counting is one sort over (row, term id) keys, not a dict per row."""
        lookup = self.term_ids.get
        pieces: list[np.ndarray] = []
        lengths: list[int] = []
        for tokens in token_lists:
            ids = list(map(lookup, tokens))
            if None in ids:
                ids = self._grown(tokens) if grow else [i for i in ids if i is not None]
            pieces.append(np.array(ids, dtype=np.int64))
            lengths.append(len(ids))
        n_rows, n_terms = len(lengths), len(self.vocabulary)
        if not n_rows or not sum(lengths):
            return sparse.csr_matrix((n_rows, n_terms), dtype=np.uint8)
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        keys, counts = np.unique(rows * n_terms + np.concatenate(pieces), return_counts=True)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // n_terms, minlength=n_rows))])
        counts = np.minimum(counts, _MAX_COUNT)
        return sparse.csr_matrix((counts.astype(count_dtype(int(counts.max()))),
                                  (keys % n_terms).astype(np.int32), indptr), shape=(n_rows, n_terms))

    def _grown(self, tokens: Sequence[str]) -> list[int]:
        """Term ids of `tokens`, adding the unknown ones to the vocabulary in order."""
        ids = []
        for token in tokens:
            tid = self.term_ids.get(token)
            if tid is None:
                tid = self.term_ids[token] = len(self.vocabulary)
                self.vocabulary.append(token)
            ids.append(tid)
        return ids


@dataclass
class BM25FParams:
    k1: float = 1.2
    b: float = 0.75
    title_weight: float = 2.0
    description_weight: float = 0.6  # chosen on dev half A with word pairs (0.3–1.0 within ±0.5 pt)
    prompt_weight: float = 1.0
    # A related prompt (an image posted on another page that used this model) counts for a bit
    # less than the model's own examples: chosen on dev half A (0.8; 0.8–1.0 within ±0.4 pt).
    related_weight: float = 0.8
    # An `expanded` chunk (prompt terms predicted from metadata, `polaris_core.retrieve.expansion`) is a guess.
    expansion_weight: float = 1.0
    # "Rare" query terms for `rare_title_scores`: idf at least this fraction of the idf of a term
    # found in one model only (so the cut scales with the zoo: document frequency ≲ 4 of 8,000).
    rare_idf_fraction: float = 0.8

    def to_dict(self) -> dict:
        return asdict(self)


def as_counts(matrix: sparse.spmatrix) -> sparse.spmatrix:
    """The same matrix with the narrowest count dtype (`count_dtype`) when its values are whole counts that
    fit (a copy only then); anything else (weighted or oversized values) is left as it is."""
    data = matrix.data
    largest = int(data.max()) if len(data) else 0
    if matrix.dtype in COUNT_DTYPES:
        return matrix if matrix.dtype == count_dtype(largest) else matrix.astype(count_dtype(largest))
    if data.dtype.kind == "f" and len(data) and not (
            float(data.min()) >= 0 and float(data.max()) <= _MAX_COUNT and np.array_equal(data, np.floor(data))):
        return matrix
    return matrix.astype(count_dtype(largest))


def _row_lengths(counts: sparse.csc_matrix, block: int = 1 << 22) -> np.ndarray:
    """float32 row sums of CSC counts, as when the counts themselves were float32: whole numbers summed in
    float64 are exact, so any order gives the same bits. A block of non-zeros at a time (a float64 copy of
    a field's counts would be 8 bytes per non-zero)."""
    sums = np.zeros(counts.shape[0], dtype=np.float64)
    for start in range(0, counts.nnz, block):
        end = min(start + block, counts.nnz)
        sums += np.bincount(counts.indices[start:end], weights=counts.data[start:end], minlength=counts.shape[0])
    return sums.astype(np.float32)


def _length_norm(lengths: np.ndarray, b: float) -> np.ndarray:
    present = lengths[lengths > 0]
    average = float(present.mean()) if len(present) else 1.0
    return 1.0 - b + b * lengths / average


def rows_removed(counts: sparse.csc_matrix, gone: np.ndarray, block: int = 1 << 22,
                 kept: Optional[np.ndarray] = None, dropped: Optional[np.ndarray] = None) -> sparse.csc_matrix:
    """CSC counts without the rows where `gone` (bool per row) is set, the others renumbered in order and the
    narrowest count dtype kept (`as_counts`): the same arrays as slicing the kept rows of the row-major
    counts and converting them. One pass over the non-zeros, a block at a time for the new row numbers.
    `kept` (bool per non-zero) and `dropped` (positions of the others), when the caller has them already."""
    keep = ~np.asarray(gone, dtype=bool)
    new_row = (np.cumsum(keep) - 1).astype(counts.indices.dtype)
    if kept is None:
        kept = keep[counts.indices]
    if dropped is None:
        dropped = np.flatnonzero(~kept)
    per_column = np.bincount(np.searchsorted(counts.indptr, dropped, side="right") - 1,
                             minlength=counts.shape[1])
    indptr = counts.indptr - np.concatenate([[0], np.cumsum(per_column)]).astype(counts.indptr.dtype)
    del dropped, per_column
    data = counts.data[kept]
    indices = np.empty(len(data), dtype=counts.indices.dtype)
    at = 0
    for start in range(0, counts.nnz, block):
        rows = counts.indices[start:start + block][kept[start:start + block]]
        indices[at:at + len(rows)] = new_row[rows]
        at += len(rows)
    del kept
    out = sparse.csc_matrix((data, indices, indptr), shape=(int(keep.sum()), counts.shape[1]), copy=False)
    out.has_sorted_indices = True  # kept rows keep their order within each column
    return as_counts(out)


def rows_appended(counts: sparse.csc_matrix, columns: np.ndarray, added: sparse.spmatrix,
                  new_columns: np.ndarray, n_terms: int, segment_cost: int = 1000,
                  old_at: Optional[np.ndarray] = None) -> sparse.csc_matrix:
    """CSC counts (rows × len(`columns`) + 1: column j holds term `columns[j]`, the last one is empty) followed by
    the rows of `added` (row-major over the vocabulary), over the sorted columns `new_columns` (a superset of
    `columns`) plus an empty last one: the same arrays as converting all the rows' counts at once
    (`_rows_as_columns` over `n_terms` terms, then only the held columns). The old non-zeros are copied once,
    in order; each added one goes at the end of its column (its row comes last). `segment_cost`: non-zeros
    one block copy costs as much as (a Python step), to choose between block copies and one mask. `old_at`:
    the position of each of `columns` in `new_columns`, when the caller has it."""
    added = added.tocoo()
    order = np.lexsort((added.row, added.col))  # by column, then row
    added_rows = added.row[order].astype(np.int64) + counts.shape[0]
    added_terms, added_values = added.col[order], added.data[order]
    n_rows = counts.shape[0] + added.shape[0]
    del added, order
    if old_at is None:
        old_at = np.searchsorted(new_columns, columns)  # the new column of each old one
    per_column = np.zeros(len(new_columns) + 1, dtype=np.int64)
    per_column[old_at] = np.diff(counts.indptr[:-1])
    added_at = np.searchsorted(new_columns, added_terms)
    per_column += np.bincount(added_at, minlength=len(per_column))
    nnz = counts.nnz + len(added_values)
    index_dtype = np.int32 if max(nnz, n_rows, n_terms) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(len(per_column) + 1, dtype=np.int64)
    np.cumsum(per_column, out=indptr[1:])
    # Where each added non-zero goes: after the old non-zeros of every old column up to its own (those before
    # `counts.indptr[j]`) and after the added ones before it.
    before = counts.indptr[np.searchsorted(old_at, added_at, side="right")].astype(np.int64)
    added_pos = before + np.arange(len(added_values))
    largest = int(added_values.max()) if len(added_values) else 0
    data_dtype = np.result_type(counts.dtype, count_dtype(largest))
    data = np.empty(nnz, dtype=data_dtype)
    indices = np.empty(nnz, dtype=index_dtype)
    # The old non-zeros between two insertion points move as one block, by the number added before them.
    points, first = np.unique(before, return_index=True)
    if len(points) * segment_cost < counts.nnz:
        starts = np.concatenate([[0], points]).tolist()
        ends = np.concatenate([points, [counts.nnz]]).tolist()
        shifts = np.concatenate([[0], first[1:], [len(added_values)]]).tolist()
        for start, end, shift in zip(starts, ends, shifts):
            if end > start:
                data[start + shift:end + shift] = counts.data[start:end]
                indices[start + shift:end + shift] = counts.indices[start:end]
    else:  # many points for few non-zeros: one mask
        old = np.ones(nnz, dtype=bool)
        old[added_pos] = False
        data[old] = counts.data
        indices[old] = counts.indices
        del old
    data[added_pos] = added_values
    indices[added_pos] = added_rows
    out = sparse.csc_matrix((data, indices, indptr.astype(index_dtype)), shape=(n_rows, len(new_columns) + 1),
                            copy=False)
    out.has_sorted_indices = True
    return out


class _ScaledColumns:
    """A (rows × terms) matrix of BM25F-weighted term frequencies, held as its raw counts (CSC, COUNT_DTYPES)
    and one float32 factor per row: the weighted values are made only for the columns a query reads.
    Holding float32 weighted copies took 4 bytes more per non-zero, for every field of every kind."""

    def __init__(self, counts: sparse.spmatrix, factors: np.ndarray, held: Optional[np.ndarray] = None) -> None:
        """`held`: sorted column ids that may hold counts (the others are empty); only these keep a column,
        plus an empty last one. The counts are not copied for it: only the column pointers are gathered."""
        self.counts = as_counts(counts).tocsc()
        self.counts.sort_indices()
        if held is not None:
            m = self.counts
            if int((m.indptr[held + 1] - m.indptr[held]).sum()) != m.nnz:
                raise ValueError("a column outside `held` holds counts")
            indptr = np.concatenate([m.indptr[held], [m.nnz, m.nnz]]).astype(m.indptr.dtype)
            self.counts = sparse.csc_matrix((m.data, m.indices, indptr), shape=(m.shape[0], len(held) + 1),
                                            copy=False)
        self.factors = np.asarray(factors, dtype=np.float64).astype(np.float32)
        self.shape = self.counts.shape

    def columns(self, term_ids: np.ndarray, factors: Optional[np.ndarray] = None) -> sparse.csc_matrix:
        """(rows × len(term_ids)) weighted values: count × row factor in float32, as a float32 copy scaled
        row by row would hold them. `factors` (float32, one per row) weighs the same counts another way."""
        part = self.counts[:, term_ids]
        values = part.data.astype(np.float32) * (self.factors if factors is None else factors)[part.indices]
        return sparse.csc_matrix((values, part.indices, part.indptr), shape=part.shape)

    def nbytes(self) -> int:
        m = self.counts
        return m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + self.factors.nbytes


def _group_frequency(fields: list, row_groups: list, n_groups: int, block: int = 1 << 20) -> np.ndarray:
    """For each column of the CSC matrices `fields` (the same columns): how many groups have a non-zero in it
    in any of them (`row_groups[i]`: the group of each row of `fields[i]`). A block of columns at a time:
    presence copies of whole fields (bool, float32, per group) took a third of the index at its first search."""
    n_columns = fields[0].shape[1]
    frequency = np.zeros(n_columns, dtype=np.int64)
    if not n_groups:
        return frequency
    before = sum(m.indptr.astype(np.int64) for m in fields)  # non-zeros of all fields before each column
    start = 0
    while start < n_columns:
        end = int(np.searchsorted(before, before[start] + block, side="right")) - 1
        end = min(max(end, start + 1), n_columns)
        group_ids, columns = [], []
        for m, groups in zip(fields, row_groups):
            lengths = np.diff(m.indptr[start:end + 1])
            columns.append(np.repeat(np.arange(end - start, dtype=np.int64), lengths))
            group_ids.append(groups[m.indices[m.indptr[start]:m.indptr[end]]])
        columns_all = np.concatenate(columns)
        present = sparse.csr_matrix((np.ones(len(columns_all), dtype=bool), (np.concatenate(group_ids), columns_all)),
                                    shape=(n_groups, end - start))  # duplicates summed: one entry per (group, column)
        frequency[start:end] = np.bincount(present.indices, minlength=end - start)
        start = end
    return frequency


@dataclass
class LexicalHits:
    """Per-entry lexical scores of one query: best score and which chunk gave it (-1: fields only)."""

    scores: np.ndarray       # float32 (entries,)
    best_chunk: np.ndarray   # int64 (entries,), row into the chunk matrix or -1
    rare_title: Optional[np.ndarray] = None  # float32 (entries,): `rare_title_scores`, when asked for


def _max_into(scores: np.ndarray, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A copy of `scores` raised to the largest of `values` at each position of `at` (`np.maximum.at`; as
    one `reduceat` per run of equal positions when `at` is sorted, as chunks of one entry are)."""
    out = scores.copy()
    if not len(at):
        return out
    if bool(np.all(at[1:] >= at[:-1])):
        starts = np.flatnonzero(np.concatenate([[True], at[1:] != at[:-1]]))
        positions = at[starts]
        out[positions] = np.maximum(out[positions], np.maximum.reduceat(values, starts))
    else:
        np.maximum.at(out, at, values)
    return out


class FieldedBM25:
    """BM25F over entries made of a title field, a description field and prompt chunks.

    `title` and `description` are (entries × vocabulary) term counts, `chunks` (chunks ×
    vocabulary) with `chunk_entry[c]` the entry row of chunk c; row-major or column-major (CSC counts
    of the narrowest dtype are used as they are, not copied). IDF counts a term once per
    `entry_group` (one model with ten versions is one document, not ten). `chunk_weight`
    (default 1) scales what each chunk adds over its entry's fields (weaker related prompts).
    """

    def __init__(
        self,
        title: sparse.spmatrix,
        description: sparse.spmatrix,
        chunks: sparse.spmatrix,
        chunk_entry: np.ndarray,
        entry_group: np.ndarray,
        params: BM25FParams | None = None,
        chunk_weight: Optional[np.ndarray] = None,
    ) -> None:
        self.params = params or BM25FParams()
        n_entries, n_terms = title.shape
        self.n_entries = n_entries
        fields = [as_counts(matrix).tocsc() for matrix in (title, description, chunks)]
        # Columns (and idf) only for the terms these rows hold, plus one empty column for every other term:
        # column pointers over the whole vocabulary cost 4 bytes per term for each field of each kind.
        held = np.zeros(n_terms, dtype=bool)
        for matrix in fields:
            held |= np.diff(matrix.indptr) > 0
        self.held_terms = np.flatnonzero(held).astype(np.int32)
        del held
        self.chunk_entry = np.asarray(chunk_entry, dtype=np.int64)
        self.chunk_weight = None if chunk_weight is None else np.asarray(chunk_weight, dtype=np.float32)
        title, description, chunks = (_ScaledColumns(matrix, np.ones(0, np.float32), self.held_terms)
                                      for matrix in fields)
        del fields
        groups = np.asarray(entry_group, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if len(groups) else 0
        # Document frequency over groups: a term counts once per model, whichever field has it (the empty last
        # column: terms these rows do not hold, df 0). Kept, so that removing rows only recounts their groups.
        frequency = _group_frequency([title.counts, description.counts, chunks.counts],
                                     [groups, groups, groups[self.chunk_entry]], n_groups)
        self._finish(title, description, chunks, frequency, n_groups, n_terms)

    def _finish(self, title: "_ScaledColumns", description: "_ScaledColumns", chunks: "_ScaledColumns",
                frequency: np.ndarray, n_groups: int, n_terms: int, lengths: Optional[list] = None) -> None:
        """Row factors, idf and the rest from the per-field counts, their row lengths (summed from the counts
        if not given) and the document frequency per column."""
        p = self.params
        # Kept (4 bytes a row): removing rows changes only the average length, not the kept rows' own.
        self.lengths = lengths or [_row_lengths(field.counts) for field in (title, description, chunks)]
        title_norm = _length_norm(self.lengths[0], p.b)
        # One count copy per field; the title's factors for the fields sum and for titles alone.
        title.factors = (p.title_weight / title_norm).astype(np.float64).astype(np.float32)
        self.title_alone_factors = (1.0 / title_norm).astype(np.float32)
        description.factors = (p.description_weight / _length_norm(self.lengths[1], p.b)
                               ).astype(np.float64).astype(np.float32)
        chunks.factors = (p.prompt_weight / _length_norm(self.lengths[2], p.b)).astype(np.float64).astype(np.float32)
        self.title, self.description, self.chunks = title, description, chunks
        self.group_frequency = frequency.astype(np.int32)
        self.n_groups = n_groups
        df = frequency.astype(np.float32)
        self.idf = np.log1p((n_groups - df + 0.5) / (df + 0.5)).astype(np.float32)  # per column
        self.rare_idf = p.rare_idf_fraction * float(np.log1p((n_groups - 0.5) / 1.5)) if n_groups else np.inf
        self.n_terms = n_terms

    def without(self, gone_entries: np.ndarray, gone_chunks: np.ndarray, entry_group: np.ndarray) -> "FieldedBM25":
        """This model less the entries and chunks marked `gone` (bool per entry row and per chunk row; a gone
        entry's chunks must be gone too), the rest renumbered in order: the same arrays as a model built
        from the kept rows' counts. `entry_group`: the group of each of this model's entry rows (as given
        when it was built). Only the groups that lose rows are recounted for the document frequency."""
        gone_entries = np.asarray(gone_entries, dtype=bool)
        gone_chunks = np.asarray(gone_chunks, dtype=bool)
        groups = np.asarray(entry_group, dtype=np.int64)
        chunk_groups = groups[self.chunk_entry]
        n_columns = self.title.counts.shape[1]
        # A term's frequency drops by one for each group whose gone rows held it and whose kept rows do not.
        touched = np.zeros(int(groups.max()) + 1 if len(groups) else 0, dtype=bool)
        touched[groups[gone_entries]] = True
        touched[chunk_groups[gone_chunks]] = True
        lost_keys, kept_keys, fields = [], [], []
        for scaled, row_gone, row_groups in ((self.title, gone_entries, groups),
                                             (self.description, gone_entries, groups),
                                             (self.chunks, gone_chunks, chunk_groups)):
            m = scaled.counts
            # Per non-zero, one pass: 0 a row of an untouched group, 1 a kept row of a touched group, 2 a gone row.
            state = touched[row_groups].astype(np.uint8) + row_gone.astype(np.uint8)
            state = state[m.indices]
            at = np.flatnonzero(state)
            gone_here = state[at] == 2
            keys = row_groups[m.indices[at]] * n_columns + (np.searchsorted(m.indptr, at, side="right") - 1)
            lost_keys.append(keys[gone_here])
            kept_keys.append(keys[~gone_here])
            del keys
            fields.append(rows_removed(m, row_gone, kept=state != 2, dropped=at[gone_here]))
            del state, at, gone_here
        lost = np.setdiff1d(np.concatenate(lost_keys), np.concatenate(kept_keys))
        frequency = self.group_frequency - np.bincount(lost % n_columns, minlength=n_columns).astype(np.int32)
        kept_groups = groups[~gone_entries]
        n_groups = len(np.unique(kept_groups))
        out = object.__new__(FieldedBM25)
        out.params = self.params
        out.n_entries = int((~gone_entries).sum())
        new_entry = np.cumsum(~gone_entries) - 1
        out.chunk_entry = new_entry[self.chunk_entry[~gone_chunks]]
        out.chunk_weight = None if self.chunk_weight is None else self.chunk_weight[~gone_chunks]
        # Terms no kept row holds lose their column (as in a model built from the kept rows).
        still = np.zeros(n_columns - 1, dtype=bool)
        for m in fields:
            still |= np.diff(m.indptr[:-1]) > 0
        out.held_terms = self.held_terms[still]
        frequency = np.concatenate([frequency[:-1][still], frequency[-1:]])
        columns = np.flatnonzero(still)
        scaled = [_ScaledColumns(m, np.ones(0, np.float32), columns) for m in fields]
        lengths = [self.lengths[0][~gone_entries], self.lengths[1][~gone_entries], self.lengths[2][~gone_chunks]]
        out._finish(*scaled, frequency, n_groups, self.n_terms, lengths)
        return out

    def with_rows(self, title: sparse.spmatrix, description: sparse.spmatrix, chunks: sparse.spmatrix,
                  chunk_entry: np.ndarray, entry_group: np.ndarray, chunk_weight: Optional[np.ndarray] = None,
                  n_terms: Optional[int] = None) -> "FieldedBM25":
        """This model with new entry rows after its own: their `title` and `description` counts, their `chunks`
        (`chunk_entry`: the new entry row, from 0, of each) and chunk weights, all row-major over a vocabulary
        of `n_terms` terms (this model's or a grown one). `entry_group`: the group of each entry row, this
        model's then the new ones (numbered consistently; a new version of a model joins its group). The same
        arrays as a model built from all the rows' counts; the document frequency is counted again only for
        the groups that gain rows, and only the average length changes for the old rows' factors."""
        n_terms = self.n_terms if n_terms is None else int(n_terms)
        if n_terms < self.n_terms:
            raise ValueError("the vocabulary cannot shrink")
        added = [as_counts(sparse.csr_matrix(m)) for m in (title, description, chunks)]
        if any(m.shape[1] > n_terms for m in added):
            raise ValueError("the new rows hold terms beyond the vocabulary")
        added = [sparse.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_terms)) for m in added]
        n_new = added[0].shape[0]
        chunk_entry = np.asarray(chunk_entry, dtype=np.int64)
        groups = np.asarray(entry_group, dtype=np.int64)
        if added[1].shape[0] != n_new or added[2].shape[0] != len(chunk_entry) or \
                len(groups) != self.n_entries + n_new:
            raise ValueError("the new rows' fields, chunks and groups do not match")
        old_groups, new_groups = groups[:self.n_entries], groups[self.n_entries:]
        chunk_groups = new_groups[chunk_entry]
        old_columns = self.held_terms
        new_terms = np.unique(np.concatenate([m.indices for m in added]))
        # The held terms and the new ones, merged (both sorted; np.union1d sorted all of them again: 1 s at 100K).
        at = np.searchsorted(old_columns, new_terms)
        unseen = at == len(old_columns)
        unseen[~unseen] = old_columns[at[~unseen]] != new_terms[~unseen]
        held = np.insert(old_columns, at[unseen], new_terms[unseen].astype(old_columns.dtype))
        # The new column of each old one (shifted by the new terms inserted before it), and the old columns that
        # gain counts (only their non-zeros can already hold a joined group's new term).
        old_at = np.arange(len(old_columns)) + np.cumsum(np.bincount(at[unseen], minlength=len(old_columns) + 1))[:-1]
        receives = np.zeros(len(old_columns) + 1, dtype=bool)
        receives[at[~unseen]] = True
        # Document frequency: a term gains one for each group whose new rows hold it and whose old rows do not.
        n_all = int(groups.max()) + 1 if len(groups) else 0
        joined = np.zeros(n_all, dtype=bool)  # groups gaining rows that had rows before (new versions)
        joined[new_groups] = True
        had = np.zeros(n_all, dtype=bool)
        had[old_groups] = True
        joined &= had
        added_rows = [np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) for m in added]
        added_keys = np.unique(np.concatenate([
            row_groups[rows] * n_terms + m.indices
            for m, rows, row_groups in zip(added, added_rows, (new_groups, new_groups, chunk_groups))]))
        if joined.any():
            old_keys = []
            for scaled, row_groups in ((self.title, old_groups), (self.description, old_groups),
                                       (self.chunks, old_groups[self.chunk_entry])):
                m = scaled.counts
                at = np.flatnonzero(joined[row_groups][m.indices])
                columns = np.searchsorted(m.indptr, at, side="right") - 1
                keep = receives[columns]
                old_keys.append(row_groups[m.indices[at[keep]]] * n_terms + old_columns[columns[keep]])
                del at, columns, keep
            added_keys = added_keys[~np.isin(added_keys, np.concatenate(old_keys))]
        frequency = np.zeros(len(held) + 1, dtype=np.int64)
        frequency[old_at] = self.group_frequency[:-1]
        frequency[:-1] += np.bincount(np.searchsorted(held, added_keys % n_terms), minlength=len(held))
        n_groups = self.n_groups + int((~had[np.unique(new_groups)]).sum())
        out = object.__new__(FieldedBM25)
        out.params = self.params
        out.n_entries = self.n_entries + n_new
        out.chunk_entry = np.concatenate([self.chunk_entry, chunk_entry + self.n_entries])
        if self.chunk_weight is None and chunk_weight is None:
            out.chunk_weight = None
        else:
            weights = [np.ones(n, np.float32) if w is None else np.asarray(w, dtype=np.float32)
                       for w, n in ((self.chunk_weight, self.chunks.shape[0]), (chunk_weight, len(chunk_entry)))]
            out.chunk_weight = np.concatenate(weights)
        out.held_terms = held
        scaled = []
        for own, more in zip((self.title, self.description, self.chunks), added):
            scaled.append(_ScaledColumns(rows_appended(own.counts, old_columns, more, held, n_terms, old_at=old_at),
                                         np.ones(0, np.float32)))
        # Row lengths: whole counts summed in float64 are exact, as `_row_lengths` sums them.
        lengths = [np.concatenate([own, np.bincount(rows, weights=m.data.astype(np.float64),
                                                    minlength=m.shape[0]).astype(np.float32)])
                   for own, m, rows in zip(self.lengths, added, added_rows)]
        out._finish(*scaled, frequency, n_groups, n_terms, lengths)
        return out

    def widened(self, n_terms: int) -> "FieldedBM25":
        """This model over a vocabulary grown to `n_terms` terms (none of them in its rows): what a model
        built from the same rows' counts after the vocabulary grew holds. The arrays are shared."""
        if n_terms < self.n_terms:
            raise ValueError("the vocabulary cannot shrink")
        out = copy.copy(self)
        out.n_terms = int(n_terms)
        return out

    def columns_of(self, term_ids: np.ndarray) -> np.ndarray:
        """The column of each term id (vocabulary ids below `n_terms`); the empty last column for a term
        none of these rows holds."""
        held = self.held_terms
        if not len(held):
            return np.zeros(len(term_ids), dtype=np.int64)
        # In the held ids' own dtype: mixed dtypes made searchsorted copy all of `held` (~5 MB) on every call.
        at = np.searchsorted(held, np.asarray(term_ids).astype(held.dtype))
        return np.where(held[np.minimum(at, len(held) - 1)] == term_ids, at, len(held))

    def term_idf(self, term_ids: np.ndarray) -> np.ndarray:
        """idf of vocabulary term ids (below `n_terms`)."""
        return self.idf[self.columns_of(np.asarray(term_ids))]

    def fields(self, term_ids: np.ndarray) -> sparse.csc_matrix:
        """(entries × len(term_ids)) weighted title + description frequencies of these terms."""
        columns = self.columns_of(term_ids)
        return self.title.columns(columns) + self.description.columns(columns)

    def nbytes(self) -> int:
        """Bytes of the count copies and factors this model holds (for memory reports)."""
        return self.title.nbytes() + self.title_alone_factors.nbytes + self.description.nbytes() + \
            self.chunks.nbytes() + self.idf.nbytes + self.group_frequency.nbytes + self.chunk_entry.nbytes + \
            self.held_terms.nbytes + sum(lengths.nbytes for lengths in self.lengths)

    def query_weights(self, term_ids: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
        # Repeated query words count sub-linearly: "1girl, 1girl" is not twice the evidence.
        return self.term_idf(term_ids) * (1.0 + np.log(multiplicity))

    def search(self, term_ids: np.ndarray, multiplicity: np.ndarray,
               exclude_chunks: Optional[np.ndarray] = None) -> LexicalHits:
        """Best-chunk BM25F score of every entry; the cost follows the non-zeros the query terms touch.
        `exclude_chunks` (chunk rows of this model) are left out, as if absent: a catalog prompt
        used as a training query must not find its own chunk."""
        scores = np.zeros(self.n_entries, dtype=np.float32)
        best = np.full(self.n_entries, -1, dtype=np.int64)
        keep = term_ids < self.n_terms
        term_ids, multiplicity = term_ids[keep], multiplicity[keep]
        if not len(term_ids) or not self.n_entries:
            return LexicalHits(scores, best)
        weights = self.query_weights(term_ids, multiplicity).astype(np.float32)
        k1 = self.params.k1
        columns = self.columns_of(term_ids)
        # Sparse throughout: a million-entry zoo never becomes a dense (entries × terms) block.
        field_tf = self.fields(term_ids)                               # CSC: entries × query terms
        field_tf.sum_duplicates()
        saturated = sparse.csc_matrix((field_tf.data / (k1 + field_tf.data), field_tf.indices, field_tf.indptr),
                                      shape=field_tf.shape)
        scores[:] = saturated @ weights                                # each entry's fields alone
        # A chunk adds, for each query term it contains, the gain of its words over the fields alone:
        # only the non-zeros of (chunks × query terms) are touched, column by column.
        chunk_part = self.chunks.columns(columns)                      # CSC: chunks × query terms
        rows = chunk_part.indices.astype(np.int64, copy=False)
        bounds = chunk_part.indptr.astype(np.int64)
        data = chunk_part.data
        if exclude_chunks is not None and len(exclude_chunks) and len(rows):
            keep_nz = ~np.isin(rows, exclude_chunks)
            rows, data = rows[keep_nz], data[keep_nz]
            bounds = np.concatenate([[0], np.cumsum(keep_nz)])[bounds]
        if len(rows):
            cols = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
            entries = self.chunk_entry[rows]
            base = self._field_values_at(field_tf, entries, bounds)
            tf = data + base
            gain = weights[cols] * (tf / (k1 + tf) - base / (k1 + base))
            if self.chunk_weight is not None:
                gain = gain * self.chunk_weight[rows]
            n_chunks = self.chunks.shape[0]
            touched = np.zeros(n_chunks, dtype=bool)
            touched[rows] = True
            chunk_rows = np.flatnonzero(touched)
            chunk_gain = np.bincount(rows, weights=gain, minlength=n_chunks)[chunk_rows]
            chunk_entries = self.chunk_entry[chunk_rows]
            chunk_scores = (scores[chunk_entries] + chunk_gain).astype(np.float32)
            best_score = _max_into(scores, chunk_entries, chunk_scores)
            winner = chunk_scores >= best_score[chunk_entries]
            improved = best_score > scores
            best[chunk_entries[winner]] = chunk_rows[winner]
            best[~improved] = -1
            scores = best_score
        return LexicalHits(scores, best)

    def _field_values_at(self, field_tf: sparse.csc_matrix, entries: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """`field_tf[entries[i], column of i]` for chunk non-zeros held column by column (`bounds`: where each
        column's run starts): one scratch row per column. Sampling the CSR copy pair by pair (scipy's fancy
        indexing) took a fifth of a search at 300K entries."""
        values = np.zeros(len(entries), dtype=field_tf.dtype)
        scratch = np.zeros(self.n_entries, dtype=field_tf.dtype)
        pointers = field_tf.indptr
        for column in range(len(bounds) - 1):
            lo, hi = bounds[column], bounds[column + 1]
            first, last = pointers[column], pointers[column + 1]
            if lo == hi or first == last:
                continue
            held = field_tf.indices[first:last]
            scratch[held] = field_tf.data[first:last]
            values[lo:hi] = scratch[entries[lo:hi]]
            scratch[held] = 0
        return values

    def rare_title_scores(self, term_ids: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
        """BM25 of the query's rare terms (`BM25FParams.rare_idf_fraction`) against titles alone:
        a trigger word or name that only a few models carry. Zero for every entry when the query
        has no rare term, so the channel then stays silent."""
        scores = np.zeros(self.n_entries, dtype=np.float32)
        keep = term_ids < self.n_terms
        term_ids, multiplicity = term_ids[keep], multiplicity[keep]
        rare = self.term_idf(term_ids) >= self.rare_idf
        if not rare.any() or not self.n_entries:
            return scores
        term_ids, multiplicity = term_ids[rare], multiplicity[rare]
        tf = self.title.columns(self.columns_of(term_ids), self.title_alone_factors).tocsr()
        tf.data = tf.data / (self.params.k1 + tf.data)
        scores[:] = tf @ self.query_weights(term_ids, multiplicity).astype(np.float32)
        return scores


def query_terms(terms: TermCounts, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Known term ids of a tokenised query and their multiplicities."""
    ids: dict[int, int] = {}
    for token in tokens:
        tid = terms.term_ids.get(token)
        if tid is not None:
            ids[tid] = ids.get(tid, 0) + 1
    keys = np.fromiter(ids.keys(), dtype=np.int64, count=len(ids))
    counts = np.fromiter(ids.values(), dtype=np.float32, count=len(ids))
    return keys, counts
