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


def _length_norm(counts: sparse.spmatrix, b: float) -> np.ndarray:
    # float32 row sums, as when the counts themselves were float32 (the same average, bit for bit)
    lengths = np.asarray(counts.sum(axis=1, dtype=np.float64)).ravel().astype(np.float32)
    present = lengths[lengths > 0]
    average = float(present.mean()) if len(present) else 1.0
    return 1.0 - b + b * lengths / average


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


def _group_frequency(fields: list, row_groups: list, n_groups: int, block: int = 1 << 22) -> np.ndarray:
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


class FieldedBM25:
    """BM25F over entries made of a title field, a description field and prompt chunks.

    `title` and `description` are (entries × vocabulary) term counts, `chunks` (chunks ×
    vocabulary) with `chunk_entry[c]` the entry row of chunk c. IDF counts a term once per
    `entry_group` (one model with ten versions is one document, not ten). `chunk_weight`
    (default 1) scales what each chunk adds over its entry's fields (weaker related prompts).
    """

    def __init__(
        self,
        title: sparse.csr_matrix,
        description: sparse.csr_matrix,
        chunks: sparse.csr_matrix,
        chunk_entry: np.ndarray,
        entry_group: np.ndarray,
        params: BM25FParams | None = None,
        chunk_weight: Optional[np.ndarray] = None,
    ) -> None:
        self.params = p = params or BM25FParams()
        n_entries, n_terms = title.shape
        self.n_entries = n_entries
        # Columns (and idf) only for the terms these rows hold, plus one empty column for every other term:
        # column pointers over the whole vocabulary cost 4 bytes per term for each field of each kind.
        held = np.zeros(n_terms, dtype=bool)
        for matrix in (title, description, chunks):
            held[matrix.indices] = True
        self.held_terms = np.flatnonzero(held).astype(np.int32)
        del held
        self.chunk_entry = np.asarray(chunk_entry, dtype=np.int64)
        self.chunk_weight = None if chunk_weight is None else np.asarray(chunk_weight, dtype=np.float32)
        title_norm = _length_norm(title, p.b)
        # One count copy per field; the title's factors for the fields sum and for titles alone.
        self.title = _ScaledColumns(title, p.title_weight / title_norm, self.held_terms)
        self.title_alone_factors = (1.0 / title_norm).astype(np.float32)
        self.description = _ScaledColumns(description, p.description_weight / _length_norm(description, p.b),
                                          self.held_terms)
        self.chunks = _ScaledColumns(chunks, p.prompt_weight / _length_norm(chunks, p.b), self.held_terms)
        # Document frequency over groups: a term counts once per model, whichever field has it (the empty last
        # column: terms these rows do not hold, df 0).
        groups = np.asarray(entry_group, dtype=np.int64)
        n_groups = int(groups.max()) + 1 if len(groups) else 0
        df = _group_frequency([self.title.counts, self.description.counts, self.chunks.counts],
                              [groups, groups, groups[self.chunk_entry]], n_groups).astype(np.float32)
        self.idf = np.log1p((n_groups - df + 0.5) / (df + 0.5)).astype(np.float32)  # per column
        self.rare_idf = p.rare_idf_fraction * float(np.log1p((n_groups - 0.5) / 1.5)) if n_groups else np.inf
        self.n_terms = n_terms

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
            self.chunks.nbytes() + self.idf.nbytes + self.chunk_entry.nbytes + self.held_terms.nbytes

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
        # Sparse throughout: a million-entry zoo never becomes a dense (entries × terms) block.
        field_tf = self.fields(term_ids).tocsr()                       # entries × query terms
        saturated = field_tf.copy()
        saturated.data = saturated.data / (k1 + saturated.data)
        scores[:] = saturated @ weights                                # each entry's fields alone
        # A chunk adds, for each query term it contains, the gain of its words over the fields alone:
        # only the non-zeros of (chunks × query terms) are touched.
        chunk_part = self.chunks.columns(self.columns_of(term_ids)).tocoo()
        if exclude_chunks is not None and len(exclude_chunks) and chunk_part.nnz:
            keep_nz = ~np.isin(chunk_part.row, exclude_chunks)
            chunk_part = sparse.coo_matrix((chunk_part.data[keep_nz], (chunk_part.row[keep_nz],
                                            chunk_part.col[keep_nz])), shape=chunk_part.shape)
        if chunk_part.nnz:
            rows, cols = chunk_part.row, chunk_part.col
            entries = self.chunk_entry[rows]
            base = np.asarray(field_tf[entries, cols]).ravel()
            tf = chunk_part.data + base
            gain = weights[cols] * (tf / (k1 + tf) - base / (k1 + base))
            if self.chunk_weight is not None:
                gain = gain * self.chunk_weight[rows]
            n_chunks = self.chunks.shape[0]
            chunk_rows = np.flatnonzero(np.bincount(rows, minlength=n_chunks))
            chunk_gain = np.bincount(rows, weights=gain, minlength=n_chunks)[chunk_rows]
            chunk_entries = self.chunk_entry[chunk_rows]
            chunk_scores = (scores[chunk_entries] + chunk_gain).astype(np.float32)
            best_score = scores.copy()
            np.maximum.at(best_score, chunk_entries, chunk_scores)
            winner = chunk_scores >= best_score[chunk_entries]
            improved = best_score > scores
            best[chunk_entries[winner]] = chunk_rows[winner]
            best[~improved] = -1
            scores = best_score
        return LexicalHits(scores, best)

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
