"""Stage 3 of retrieval: a learned ranker that reorders the fused candidate pool.

Features describe one (query, candidate) pair and never identify a model (no ids, no names as
categories), so the ranker carries over to a zoo it has never seen:

- each channel's score, its standardised value in the pool and its rank (lexical, names, dense,
  author, popularity, affinity, image) and the hand-set fused score;
- the exact dense cosine of the candidate's best and mean chunk (the query against its prompt
  centroid), the share of the query's words its example prompts use (a checkpoint's prompt style)
  and the share found in the names of the LoRAs its example prompts combine it with (a training
  query's own prompt left out);
- query–trigger-word, query–tag and query–title overlap;
- how many example and related prompts, trigger words and tags it has, its description length,
  its role, whether its base family was asked for, its downloads;
- author context: how many pool members share its author, whether that author made the top fused
  model, and what the author step added.

The model is a LightGBM LambdaRank text file shipped in `polaris_core/retrieve/data/` and trained
by `polaris bench retrieval --train-ranker` (polaris_core/retrieve/train.py). When the file is missing, does not
list exactly these features, or LightGBM is not installed, search keeps the fused order.
"""
from __future__ import annotations

import json
import logging
import math
import re
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from polaris_core.embed.chunks import entry_chunks
from polaris_core.embed.lexical import tokenize
from polaris_core.index import span_positions
from polaris_core.retrieve.fusion import PoolResult, standardise
from polaris_core.zoo.entry import ZooEntry

log = logging.getLogger("polaris")

MODEL_PATH = Path(__file__).with_name("data") / "ranker.lgb.txt"
RANKED_CHANNELS = ("lexical", "names", "dense", "author", "popularity", "affinity", "image")
ROLE_CODES = {"style": 0, "object": 1, "character": 2, "other": 3}
# Per-entry numbers read from the entry alone, in `_EntryFacts.numbers` column order.
_NUMBERS = ("n_prompts", "n_related", "n_triggers", "n_tags", "description_length", "role", "log_downloads")
RERANK_DEPTH = 100      # fused candidates the ranker reorders (the target is past 100 for <2% of dev queries)
# `<lora:NAME:w>` tags in a model's example prompts: the LoRAs its users combine it with.
_NETWORK_NAME = re.compile(r"<\s*(?:lora|lyco|locon|lycoris|hypernet)\s*:([^<>:]*)", re.IGNORECASE)

FEATURES = (
    ("is_checkpoint", "fused", "fused_z", "fused_rank", "fused_gap", "pool_size")
    + tuple(f"{c}_{part}" for c in RANKED_CHANNELS for part in ("raw", "z", "rank"))
    + ("lexical_share", "dense_exact_best", "dense_exact_mean", "dense_gap", "style_coverage",
       "combined_overlap",
       "trigger_overlap", "trigger_full", "tag_overlap", "title_overlap", "query_words",
       "n_prompts", "n_related", "n_triggers", "n_tags", "description_length", "role", "family_match",
       "log_downloads", "author_pool_count", "is_top_author", "author_lift")
)
# Compared against the candidate's same-author siblings among the re-ranked rows: authors reuse their prompt
# templates, so which of an author's models fits best is a question no single row's features can answer.
SIBLING_BASE = ("fused", "lexical_raw", "names_raw", "dense_exact_best", "dense_exact_mean", "style_coverage",
                "combined_overlap", "trigger_overlap", "tag_overlap", "title_overlap", "log_downloads")
SIBLING_FEATURES = tuple(f"{name}_vs_siblings" for name in SIBLING_BASE) + ("sibling_fused_rank", "sibling_count")
FEATURES += SIBLING_FEATURES


class _Ragged:
    """Growable ragged lists of ints (one list per item), filled item by item: `starts`/`lengths` per item
    index into one flat buffer, so the lists of many items are gathered with a few array operations."""

    def __init__(self, n_items: int) -> None:
        self.starts = np.zeros(n_items, dtype=np.int64)
        self.lengths = np.zeros(n_items, dtype=np.int64)
        self.flat = np.zeros(1024, dtype=np.int64)
        self.size = 0

    def grow_items(self, n_items: int, exact: bool = False) -> None:
        if n_items > len(self.starts):
            extra = (n_items if exact else max(n_items, 2 * len(self.starts))) - len(self.starts)
            self.starts = np.concatenate([self.starts, np.zeros(extra, np.int64)])
            self.lengths = np.concatenate([self.lengths, np.zeros(extra, np.int64)])

    def set(self, items: list[int], lists: list[list[int]]) -> None:
        values = [v for values in lists for v in values]
        if self.size + len(values) > len(self.flat):
            self.flat = np.concatenate([self.flat, np.zeros(max(len(self.flat), len(values)), np.int64)])
        self.flat[self.size:self.size + len(values)] = values
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        self.starts[items] = self.size + np.cumsum(lengths) - lengths
        self.lengths[items] = lengths
        self.size += len(values)

    def gather(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the concatenated lists of `items`, the position in `items` each value came from)."""
        lengths = self.lengths[items]
        return self.flat[span_positions(self.starts[items], lengths)], np.repeat(np.arange(len(items)), lengths)


class _EntryFacts:
    """Per-entry facts of one index as arrays, each row filled on its first use. An index's rows never change
    in place (a removal or a changed entry makes a new entry list); entries added are appended, and the arrays
    grow to them. Reading an entry decodes it, so each is read once.
    Word sets are held as word numbers (`words`), so a query's overlaps with a whole pool are a few array
    operations instead of a Python loop over candidates."""

    def __init__(self, entries) -> None:
        self.entries = entries
        n = len(entries)
        self.known = np.zeros(n, dtype=bool)
        self.numbers = np.zeros((n, len(_NUMBERS)), dtype=np.float32)
        self.family = np.zeros(n, dtype=np.int64)      # number of the entry's base family in `families`
        self.families: dict = {}
        self.words: dict[str, int] = {}
        self.titles, self.tags, self.triggers = _Ragged(n), _Ragged(n), _Ragged(n)
        self.trigger_words = _Ragged(0)                  # trigger number → its word numbers
        self.n_trigger_sets = 0
        self.combined: dict[int, list] = {}              # entry row → [(chunk position, network-name words)]
        self._tokens: dict[str, list[str]] = {}         # tags, trigger words and names repeat: tokenize each once

    def _numbered(self, words) -> list[int]:
        return [self.words.setdefault(w, len(self.words)) for w in words]

    def _tokenize(self, text: str) -> list[str]:
        words = self._tokens.get(text)
        if words is None:
            words = self._tokens[text] = tokenize(text)
        return words

    def _grow(self, n: int) -> None:
        extra = n - len(self.known)
        self.known = np.concatenate([self.known, np.zeros(extra, dtype=bool)])
        self.numbers = np.concatenate([self.numbers, np.zeros((extra, len(_NUMBERS)), dtype=np.float32)])
        self.family = np.concatenate([self.family, np.zeros(extra, dtype=np.int64)])
        for ragged in (self.titles, self.tags, self.triggers):
            ragged.grow_items(n, exact=True)

    def fill(self, rows: np.ndarray) -> None:
        """Compute the facts of the rows not seen before."""
        if len(self.entries) > len(self.known):
            self._grow(len(self.entries))
        new = np.unique(rows[~self.known[rows]]).tolist()
        if not new:
            return
        titles, tags, trigger_sets, trigger_counts = [], [], [], []
        for row in new:
            # The stored JSON's fields (ZooEntry's, with its defaults): building the ZooEntry too cost 10%.
            entry = json.loads(self.entries.text(row))
            prompts, related = entry.get("example_prompts", []), entry.get("related_prompts", [])
            triggers = [frozenset(self._tokenize(t)) for t in entry.get("trigger_words", []) if t.strip()]
            triggers = [t for t in triggers if t]
            entry_tags = entry.get("tags", [])
            tag_words: set[str] = set()
            for tag in entry_tags:
                tag_words.update(self._tokenize(tag))
            # Network names per prompt chunk, by the chunk's position in the entry's chunk list (so a
            # training query can leave its own prompt out). entry_chunks costs ~0.3 ms an entry and few
            # entries' prompts name a network (75 of 18,349 in the catalog), so only those build chunks.
            combined = []
            if any("<" in p for p in prompts + related):
                for position, chunk in enumerate(entry_chunks(ZooEntry.from_dict(entry))):
                    words = frozenset(w for name in _NETWORK_NAME.findall(chunk.lexical_text) for w in tokenize(name))
                    if words and chunk.kind in ("prompt", "related"):
                        combined.append((position, words))
            if combined:
                self.combined[row] = combined
            titles.append(self._numbered(frozenset(self._tokenize(entry["name"]))))
            tags.append(self._numbered(tag_words))
            trigger_sets.extend(self._numbered(t) for t in triggers)
            trigger_counts.append(len(triggers))
            self.numbers[row] = (math.log1p(len(prompts)), math.log1p(len(related)), len(triggers), len(entry_tags),
                                 math.log1p(len(entry.get("description") or "")), ROLE_CODES.get(entry.get("role", "other"), 3),
                                 math.log1p(max(entry.get("downloads") or 0, 0)))
            self.family[row] = self.families.setdefault(entry.get("base_family", "unknown"), len(self.families))
        self.titles.set(new, titles)
        self.tags.set(new, tags)
        first = self.n_trigger_sets
        self.n_trigger_sets += len(trigger_sets)
        self.trigger_words.grow_items(self.n_trigger_sets)
        self.trigger_words.set(list(range(first, self.n_trigger_sets)), trigger_sets)
        counts = np.array(trigger_counts, dtype=np.int64)
        self.triggers.set(new, [list(range(a, a + c)) for a, c in zip((first + np.cumsum(counts) - counts).tolist(),
                                                                        trigger_counts)])
        self.known[new] = True

    def overlaps(self, rows: np.ndarray, query_words: set[str]) -> dict[str, np.ndarray]:
        """Query-word overlaps of the (filled) rows: with their trigger words (best share and how many
        trigger words are fully in the query), tags and title words (NaN where an entry has none)."""
        n = len(rows)
        hit = np.zeros(len(self.words) + 1, dtype=bool)
        hit[[self.words[w] for w in query_words if w in self.words]] = True

        def share(ragged: _Ragged) -> np.ndarray:
            values, owner = ragged.gather(rows)
            lengths = ragged.lengths[rows]
            counts = np.bincount(owner, weights=hit[values], minlength=n)
            return np.divide(counts, lengths, out=np.full(n, np.nan), where=lengths > 0).astype(np.float32)

        sets, owner = self.triggers.gather(rows)
        words, word_owner = self.trigger_words.gather(sets)
        lengths = self.trigger_words.lengths[sets]
        counts = np.bincount(word_owner, weights=hit[words], minlength=len(sets))
        best = np.zeros(n, dtype=np.float64)
        np.maximum.at(best, owner, counts / np.maximum(lengths, 1))
        full = np.bincount(owner, weights=counts == lengths, minlength=n)
        return {"trigger_overlap": best.astype(np.float32), "trigger_full": full.astype(np.float32),
                "tag_overlap": share(self.tags), "title_overlap": share(self.titles)}


_FACTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _facts(index) -> _EntryFacts:
    facts = _FACTS.get(index)
    if facts is None or facts.entries is not index.entries:
        facts = _FACTS[index] = _EntryFacts(index.entries)
    return facts


def _rank(values: np.ndarray) -> np.ndarray:
    """log1p of the 0-based descending rank: how many pool rows score higher (ties share a rank,
    missing values rank last)."""
    finite = np.isfinite(values)
    filled = values.astype(np.float64) if finite.all() else np.where(finite, values, -np.inf).astype(np.float64)
    ascending = np.sort(filled)
    higher = len(filled) - np.searchsorted(ascending, filled, side="right")
    return np.log1p(higher).astype(np.float32)


def _sibling_columns(authors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row of (rows × SIBLING_BASE) `values`: each value minus the largest among the other rows by the same
    author (NaN where there is none or either is unknown), then the row's 0-based rank by the first column
    ("fused") among its author's rows, ties by row order (NaN without siblings), then log1p(its siblings)."""
    n, k = values.shape
    out = np.full((n, k + 2), np.nan, dtype=np.float32)
    out[:, -1] = 0.0
    # Each row with no known author is a group of its own.
    keys = np.where(authors >= 0, authors, -2 - np.arange(n))
    _, group, counts = np.unique(keys, return_inverse=True, return_counts=True)
    shared = counts[group] >= 2
    if not shared.any():
        return out
    rows = np.flatnonzero(shared)
    rows = rows[np.argsort(group[rows], kind="stable")]  # grouped, each group in row order
    group, values = group[rows], values[rows].astype(np.float64)
    filled = np.where(np.isnan(values), -np.inf, values)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    at = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(rows)]))
    best = np.maximum.reduceat(filled, starts, axis=0)
    holds = filled == best[at]
    # The best of the others: the runner-up for a row that alone holds the best, else the best itself.
    unique = (np.add.reduceat(holds, starts, axis=0) == 1)[at] & holds
    runner_up = np.maximum.reduceat(np.where(unique, -np.inf, filled), starts, axis=0)
    with np.errstate(invalid="ignore"):
        diff = values - np.where(unique, runner_up[at], best[at])
    out[rows, :k] = np.where(np.isfinite(diff), diff, np.nan)
    position = np.arange(len(rows))
    order = np.lexsort((position, -filled[:, 0], group))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows)) - starts[at[order]]
    out[rows, k] = rank
    out[rows, k + 1] = np.log1p(counts[group] - 1)
    return out


def _z(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if finite.all():
        return standardise(values).astype(np.float32, copy=False)
    if not finite.any():
        return np.full(len(values), np.nan, dtype=np.float32)
    filled = np.where(finite, values, values[finite].min())
    return standardise(filled).astype(np.float32, copy=False)


def reranked_rows(found: PoolResult) -> np.ndarray:
    """Pool rows the ranker reorders: the top RERANK_DEPTH by fused score, best first. The rest
    keep the fused order below them (the ranker is trained on these rows only)."""
    return np.argsort(-found.fused, kind="stable")[:RERANK_DEPTH]


def features(found: PoolResult, rows: Optional[np.ndarray] = None) -> np.ndarray:
    """The (rows × FEATURES) matrix of one query's pool rows (default `reranked_rows`); NaN where
    a value is unknown. Training (train.py) and search both call this, on the same PoolResult."""
    rows = reranked_rows(found) if rows is None else np.asarray(rows, dtype=np.int64)
    index, pool = found.index, found.pool
    n_pool = len(pool.groups)
    n = len(rows)
    columns: dict[str, np.ndarray] = {}
    nan = np.full(n, np.nan, dtype=np.float32)
    fused_all = found.fused.astype(np.float32)
    fused = fused_all[rows]
    columns["is_checkpoint"] = np.full(n, float(found.kind == "checkpoint"), dtype=np.float32)
    columns["fused"] = fused
    columns["fused_z"] = _z(fused_all)[rows]
    columns["fused_rank"] = _rank(fused_all)[rows]
    columns["fused_gap"] = fused - fused_all.max() if n else fused
    columns["pool_size"] = np.full(n, math.log1p(n_pool), dtype=np.float32)
    for channel in RANKED_CHANNELS:
        values = pool.scores.get(channel)
        if values is None:
            columns[f"{channel}_raw"] = columns[f"{channel}_z"] = columns[f"{channel}_rank"] = nan
            continue
        values = values.astype(np.float32, copy=False)
        picked = values[rows]
        columns[f"{channel}_raw"] = np.where(np.isfinite(picked), picked, np.float32(np.nan))
        columns[f"{channel}_z"] = _z(values)[rows]
        columns[f"{channel}_rank"] = _rank(values)[rows]
    lexical = pool.scores.get("lexical")
    top_lexical = float(np.max(lexical)) if lexical is not None and n_pool and np.max(lexical) > 0 else 0.0
    columns["lexical_share"] = (lexical[rows] / top_lexical).astype(np.float32) if top_lexical else nan
    entry_rows = pool.best_entry[rows]
    best, mean = nan.copy(), nan.copy()
    if found.vector is not None and n:
        exact = index.dense_scores(found.vector, entry_rows, 0.0, found.exclude_chunks)
        if len(exact.rows):
            at = np.minimum(np.searchsorted(exact.rows, entry_rows), len(exact.rows) - 1)
            scored = exact.rows[at] == entry_rows
            best[scored], mean[scored] = exact.scores[at[scored]], exact.means[at[scored]]
    columns["dense_exact_best"], columns["dense_exact_mean"] = best, mean
    columns["dense_gap"] = (best - np.nanmax(best)).astype(np.float32) if np.isfinite(best).any() else nan
    query_words = set(tokenize(found.text))
    words = sorted(query_words)
    # Read from the index's term counts, without the excluded chunks (a catalog prompt used as a
    # training query must not count its own words for its model).
    own_prompts = index.term_presence(entry_rows, words, found.exclude_chunks)["prompt"]
    columns["style_coverage"] = own_prompts.mean(axis=1).astype(np.float32) if words else np.zeros(n, np.float32)
    facts = _facts(index)
    facts.fill(entry_rows)
    combined = np.zeros(n, np.float32)
    if query_words and facts.combined:
        excluded = index.chunk_positions(found.exclude_chunks) if found.exclude_chunks is not None \
            and len(found.exclude_chunks) else {}
        for i, row in enumerate(entry_rows.tolist()):
            combined_words = facts.combined.get(row)
            if combined_words:
                left_out = excluded.get(row, ())
                names = frozenset().union(*(w for position, w in combined_words if position not in left_out))
                combined[i] = len(query_words & names) / len(query_words)
    columns["combined_overlap"] = combined
    columns.update(facts.overlaps(entry_rows, query_words))
    columns["query_words"] = np.full(n, math.log1p(len(query_words)), np.float32)
    numbers = facts.numbers[entry_rows]
    for j, name in enumerate(_NUMBERS):
        columns[name] = numbers[:, j]
    wanted_families = [facts.families[f] for f in set(found.families or ()) if f in facts.families]
    columns["family_match"] = np.isin(facts.family[entry_rows], wanted_families).astype(np.float32) \
        if found.families else nan
    authors = found.selection.group_author[pool.members]
    known = authors >= 0
    _, inverse, counts = np.unique(authors, return_inverse=True, return_counts=True)
    columns["author_pool_count"] = np.where(known, np.log1p(counts[inverse] - 1), 0.0).astype(np.float32)[rows]
    top_author = authors[int(np.argmax(fused_all))] if n_pool else -1
    columns["is_top_author"] = (known & (authors == top_author)).astype(np.float32)[rows]
    author = pool.scores.get("author")
    columns["author_lift"] = (author[rows] - fused).astype(np.float32) if author is not None else nan
    siblings = _sibling_columns(authors[rows], np.stack([columns[name] for name in SIBLING_BASE], axis=1))
    for j, name in enumerate(SIBLING_FEATURES):
        columns[name] = siblings[:, j]
    out = np.empty((n, len(FEATURES)), dtype=np.float32)
    for j, name in enumerate(FEATURES):
        out[:, j] = columns[name]
    return out


class Ranker:
    """A loaded LightGBM ranking model over FEATURES."""

    def __init__(self, booster) -> None:
        self.booster = booster

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> Optional["Ranker"]:
        """The ranker in `path`, or None (with a logged reason) when it cannot be used."""
        if not path.is_file():
            log.info("no ranker model at %s; retrieval keeps the fused order", path)
            return None
        try:
            import lightgbm
        except ImportError:
            log.warning("lightgbm is not installed; retrieval keeps the fused order (pip install lightgbm)")
            return None
        try:
            booster = lightgbm.Booster(model_str=path.read_text(encoding="utf-8"))
        except (lightgbm.basic.LightGBMError, UnicodeDecodeError, ValueError) as exc:
            log.warning("the ranker model %s is unreadable (%s); retrieval keeps the fused order", path, exc)
            return None
        if tuple(booster.feature_name()) != FEATURES:
            log.warning("the ranker model %s was trained on other features; retrieval keeps the fused order "
                        "(retrain it: polaris bench retrieval --train-ranker --expand-out-of-fold)", path)
            return None
        return cls(booster)

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        if not len(matrix):
            return np.zeros(0, np.float32)
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=np.float32)


@lru_cache(maxsize=1)
def shipped_ranker() -> Optional[Ranker]:
    return Ranker.load(MODEL_PATH)


def rank_scores(found: PoolResult, ranker: Optional[Ranker] = None) -> Optional[np.ndarray]:
    """Scores of every pool row that put the learned order first: the ranker's scores for
    `reranked_rows`, and below them the other rows in fused order (their fused scores shifted
    under the lowest ranker score). None when no ranker is usable (keep the fused order)."""
    ranker = ranker or shipped_ranker()
    if ranker is None or not len(found.fused):
        return None
    rows = reranked_rows(found)
    learned = ranker.scores(features(found, rows))
    if not np.all(np.isfinite(learned)):
        log.warning("the ranker gave non-finite scores; this query keeps the fused order")
        return None
    fused = found.fused.astype(np.float32)
    rest = np.ones(len(fused), dtype=bool)
    rest[rows] = False
    out = np.empty(len(fused), dtype=np.float32)
    out[rows] = learned
    if rest.any():
        out[rest] = fused[rest] - fused[rest].max() + learned.min() - 1.0
    return out
