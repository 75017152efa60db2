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
from polaris_core.retrieve.fusion import PoolResult, standardise

log = logging.getLogger("polaris")

MODEL_PATH = Path(__file__).with_name("data") / "ranker.lgb.txt"
RANKED_CHANNELS = ("lexical", "names", "dense", "author", "popularity", "affinity", "image")
ROLE_CODES = {"style": 0, "object": 1, "character": 2, "other": 3}
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


class _EntryFacts:
    """Per-entry token sets and counts of one index, computed on first use (the index's entries never
    change in place: an update makes new entry lists). Reading an entry decodes it, so each is read once."""

    def __init__(self, entries: list) -> None:
        self.entries = entries
        self.cache: dict[int, tuple] = {}

    def get(self, row: int) -> tuple:
        facts = self.cache.get(row)
        if facts is None:
            entry = self.entries[row]
            triggers = [frozenset(tokenize(t)) for t in entry.trigger_words if t.strip()]
            tags = frozenset(w for t in entry.tags for w in tokenize(t))
            title = frozenset(tokenize(entry.name))
            # Network names per prompt chunk, by the chunk's position in the entry's chunk list (so a
            # training query can leave its own prompt out). entry_chunks costs ~0.3 ms an entry and few
            # entries' prompts name a network (75 of 18,349 in the catalog), so only those build chunks.
            combined = []
            if any("<" in p for p in entry.example_prompts + entry.related_prompts):
                for position, chunk in enumerate(entry_chunks(entry)):
                    words = frozenset(w for name in _NETWORK_NAME.findall(chunk.lexical_text) for w in tokenize(name))
                    if words and chunk.kind in ("prompt", "related"):
                        combined.append((position, words))
            counts = (len(entry.example_prompts), len(entry.related_prompts), len(entry.tags),
                      len(entry.description or ""), entry.role, entry.base_family, max(entry.downloads or 0, 0))
            facts = self.cache[row] = ([t for t in triggers if t], tags, title, combined, counts)
        return facts


_FACTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _facts(index) -> _EntryFacts:
    facts = _FACTS.get(index)
    if facts is None or facts.entries is not index.entries:
        facts = _FACTS[index] = _EntryFacts(index.entries)
    return facts


def _rank(values: np.ndarray) -> np.ndarray:
    """log1p of the 0-based descending rank: how many pool rows score higher (ties share a rank,
    missing values rank last)."""
    filled = np.where(np.isfinite(values), values, -np.inf).astype(np.float64)
    ascending = np.sort(filled)
    higher = len(filled) - np.searchsorted(ascending, filled, side="right")
    return np.log1p(higher).astype(np.float32)


def _z(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if not finite.any():
        return np.full(len(values), np.nan, dtype=np.float32)
    filled = np.where(finite, values, values[finite].min())
    return standardise(filled).astype(np.float32)


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
        values = values.astype(np.float32)
        columns[f"{channel}_raw"] = np.where(np.isfinite(values), values, np.nan).astype(np.float32)[rows]
        columns[f"{channel}_z"] = _z(values)[rows]
        columns[f"{channel}_rank"] = _rank(values)[rows]
    lexical = pool.scores.get("lexical")
    top_lexical = float(np.max(lexical)) if lexical is not None and n_pool and np.max(lexical) > 0 else 0.0
    columns["lexical_share"] = (lexical[rows] / top_lexical).astype(np.float32) if top_lexical else nan
    entry_rows = pool.best_entry[rows]
    best, mean = nan.copy(), nan.copy()
    if found.vector is not None and n:
        exact = index.dense_scores(found.vector, entry_rows, 0.0, found.exclude_chunks)
        where = {int(r): i for i, r in enumerate(exact.rows.tolist())}
        for i, row in enumerate(entry_rows.tolist()):
            j = where.get(int(row))
            if j is not None:
                best[i], mean[i] = exact.scores[j], exact.means[j]
    columns["dense_exact_best"], columns["dense_exact_mean"] = best, mean
    columns["dense_gap"] = (best - np.nanmax(best)).astype(np.float32) if np.isfinite(best).any() else nan
    query_words = set(tokenize(found.text))
    words = sorted(query_words)
    # Read from the index's term counts, without the excluded chunks (a catalog prompt used as a
    # training query must not count its own words for its model).
    own_prompts = index.term_presence(entry_rows, words, found.exclude_chunks)["prompt"]
    style = own_prompts.mean(axis=1).astype(np.float32) if words else np.zeros(n, np.float32)
    facts = _facts(index)
    excluded = index.chunk_positions(found.exclude_chunks) if found.exclude_chunks is not None \
        and len(found.exclude_chunks) else {}
    combined, trig, trig_full, tag, title = (np.zeros(n, np.float32) for _ in range(5))
    n_prompts, n_related, n_triggers, n_tags, desc, role, family, downloads = (
        np.zeros(n, np.float32) for _ in range(8))
    wanted_families = set(found.families or ())
    for i, row in enumerate(entry_rows.tolist()):
        triggers, tags, title_words, combined_words, counts = facts.get(row)
        prompts_count, related_count, tags_count, description_chars, entry_role, entry_family, entry_downloads = counts
        if query_words and combined_words:
            left_out = excluded.get(row, ())
            names = frozenset().union(*(words for position, words in combined_words if position not in left_out))
            combined[i] = len(query_words & names) / len(query_words)
        if triggers:
            hit = [len(t & query_words) / len(t) for t in triggers]
            trig[i] = max(hit)
            trig_full[i] = sum(h == 1.0 for h in hit)
        tag[i] = len(tags & query_words) / len(tags) if tags else np.nan
        title[i] = len(title_words & query_words) / len(title_words) if title_words else np.nan
        n_prompts[i] = math.log1p(prompts_count)
        n_related[i] = math.log1p(related_count)
        n_triggers[i] = len(triggers)
        n_tags[i] = tags_count
        desc[i] = math.log1p(description_chars)
        role[i] = ROLE_CODES.get(entry_role, 3)
        family[i] = (entry_family in wanted_families) if wanted_families else np.nan
        downloads[i] = math.log1p(entry_downloads)
    columns.update(style_coverage=style, combined_overlap=combined, trigger_overlap=trig, trigger_full=trig_full,
                   tag_overlap=tag, title_overlap=title, query_words=np.full(n, math.log1p(len(query_words)), np.float32),
                   n_prompts=n_prompts, n_related=n_related, n_triggers=n_triggers, n_tags=n_tags,
                   description_length=desc, role=role, family_match=family, log_downloads=downloads)
    authors = found.selection.group_author[pool.members]
    known = authors >= 0
    _, inverse, counts = np.unique(authors, return_inverse=True, return_counts=True)
    columns["author_pool_count"] = np.where(known, np.log1p(counts[inverse] - 1), 0.0).astype(np.float32)[rows]
    top_author = authors[int(np.argmax(fused_all))] if n_pool else -1
    columns["is_top_author"] = (known & (authors == top_author)).astype(np.float32)[rows]
    author = pool.scores.get("author")
    columns["author_lift"] = (author[rows] - fused).astype(np.float32) if author is not None else nan
    return np.column_stack([columns[name] for name in FEATURES]).astype(np.float32) if n else \
        np.zeros((0, len(FEATURES)), np.float32)


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
