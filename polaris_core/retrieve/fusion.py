"""Stage 2 of retrieval: the candidate pool and the hand-set fusion of its channel scores.

Fusion is a weighted sum of per-query standardised scores over the candidate pool (the union
of each channel's top models), so no channel's raw scale dominates. The `names` channel is sparse
(a few models match a rare word), so its standardised score is capped: a rare match moves a model
up a lot, but cannot by itself outweigh everything else.
`author` is not a channel of its own but a last step: authors keep a prompting style and subject
area across their models, so a model is raised by the best fused score among its author's models,
and the top model's author's other models join the pool (a LoRA with no example prompts of its own
is then still found through its siblings). The learned ranker (ranker.py) reorders this pool; the
fused order is its fallback.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from polaris_core.index import Selection, ZooIndex
from polaris_core.retrieve.options import FusionWeights, SearchOptions


@dataclass
class Pool:
    """Channel scores of the candidate models of one query (row = candidate)."""

    members: np.ndarray                              # positions in Selection.groups
    groups: np.ndarray                               # group numbers
    best_entry: np.ndarray                           # entry row representing each group
    scores: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class PoolResult:
    """Everything the ranker reads about one query's candidate pool (also its training input)."""

    index: ZooIndex
    kind: str
    text: str
    selection: Selection
    pool: Pool
    fused: np.ndarray                      # hand-set fusion score per pool row
    vector: Optional[np.ndarray]           # dense query vector
    families: Optional[list[str]]
    roles: Optional[list[str]]
    options: SearchOptions
    exclude_chunks: Optional[np.ndarray] = None


SPARSE_CHANNELS = ("lexical", "names")  # only models with a positive score join the pool


def standardise(values: np.ndarray, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """`values` standardised with the mean and spread of `values[reference]` (default: all of them)."""
    basis = values if reference is None else values[reference]
    spread = float(basis.std()) if len(basis) else 0.0
    if not np.isfinite(spread) or spread < 1e-9:
        return np.zeros_like(values)
    return (values - float(basis.mean())) / spread


def _channel_tops(selection: Selection, name: str, values: np.ndarray, options: SearchOptions):
    """One channel's per-group best score, its standardised per-row part of the representative's order
    (None for popularity) and its top groups (None for popularity)."""
    best = selection.group_max(values.astype(np.float32, copy=False))
    if name == "popularity":
        return best, None, None
    finite = np.isfinite(values)
    part = np.where(finite, standardise(np.where(finite, values, 0.0)), 0.0)
    usable = np.flatnonzero(np.isfinite(best) & ((best > 0) if name in SPARSE_CHANNELS else True))
    if len(usable) > options.pool_per_channel:
        usable = usable[np.argpartition(-best[usable], options.pool_per_channel - 1)[: options.pool_per_channel]]
    return best, part, usable


def make_pool(selection: Selection, entry_scores: dict[str, np.ndarray], options: SearchOptions,
              extra_members: Optional[np.ndarray] = None, memo: Optional[dict] = None) -> Pool:
    """Collapse entry scores to groups (max over versions) and keep each channel's top groups
    (plus `extra_members`, positions in `selection.groups`). `memo` (a dict kept between two calls of
    one query) holds each channel's work, redone only for a channel whose score array is another object:
    the author step changes the dense scores alone, and each pass reads every entry."""
    position = selection.group_of_row
    n_groups = len(selection.groups)
    memo = {} if memo is None else memo
    chosen: list[np.ndarray] = []
    per_group: dict[str, np.ndarray] = {}
    combined = np.zeros(len(selection.rows), dtype=np.float32)
    for name, values in entry_scores.items():
        done = memo.get(name)
        if done is None or done[0] is not values:
            done = memo[name] = (values, *_channel_tops(selection, name, values, options))
        _, best, part, usable = done
        per_group[name] = best
        if part is None:
            continue
        combined += part
        chosen.append(usable)
    if extra_members is not None:
        chosen.append(np.asarray(extra_members, dtype=np.int64))
    members = np.unique(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)
    if not len(members):
        members = np.arange(min(n_groups, options.pool_per_channel))
    # The entry shown for a group: the best-scoring local file if any, else the best version.
    in_pool = np.zeros(n_groups, dtype=bool)
    in_pool[members] = True
    pooled = np.flatnonzero(in_pool[position])
    order = pooled[np.lexsort((combined[pooled], selection.is_local[pooled], position[pooled]))]
    last = order[np.append(position[order][1:] != position[order][:-1], True)]
    representative = np.empty(n_groups, dtype=np.int64)
    representative[position[last]] = selection.rows[last]
    pool = Pool(members, selection.groups[members], representative[members])
    for name, values in per_group.items():
        pool.scores[name] = values[members]
    return pool


def fuse(pool: Pool, weights: FusionWeights, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """Weighted sum of standardised channel scores. `reference` (bool per pool row) marks the rows
    whose statistics standardise every row: models added to a pool afterwards must not shift it."""
    reference = np.ones(len(pool.groups), dtype=bool) if reference is None else reference
    fused = np.zeros(len(pool.groups), dtype=np.float32)
    for name, values in pool.scores.items():
        weight = getattr(weights, name, 0.0)
        if weight == 0.0 or name == "author":
            continue
        finite = np.isfinite(values)
        low = values[finite & reference].min() if (finite & reference).any() else (
            values[finite].min() if finite.any() else 0.0)
        filled = np.where(finite, values, low)
        standard = standardise(filled, reference)
        if name == "names":
            standard = np.minimum(standard, weights.names_cap)
        fused += weight * standard
    return fused


def add_affinity(index: ZooIndex, pool: Pool, affinity_to: Optional[np.ndarray], weight: float) -> None:
    if affinity_to is None or not weight:
        return
    exact = index.dense_scores(affinity_to, pool.best_entry)
    affinity = np.full(len(pool.groups), -np.inf, dtype=np.float32)
    lookup = {int(r): float(s) for r, s in zip(exact.rows, exact.scores)}
    for i, row in enumerate(pool.best_entry.tolist()):
        if row in lookup:
            affinity[i] = lookup[row]
    pool.scores["affinity"] = affinity


def author_step(index: ZooIndex, selection: Selection, entry_scores: dict[str, np.ndarray],
                query_vector: Optional[np.ndarray], pool: Pool, fused: np.ndarray, options: SearchOptions,
                affinity_to: Optional[np.ndarray], exclude_chunks: Optional[np.ndarray] = None,
                memo: Optional[dict] = None) -> tuple[Pool, np.ndarray]:
    """Add the top model's author's other models to the pool, then raise every model by the best
    fused score among its author's models (a model with no known author is its own author).
    Measured on the dev splits (half A chose the weight): R@10 +0.8 / +2.0 / +1.4 pt on LoRA / LoRA
    without trigger words / checkpoint."""
    reference = np.ones(len(pool.groups), dtype=bool)
    top_author = int(selection.group_author[pool.members[int(np.argmax(fused))]])
    if top_author >= 0:
        siblings = np.setdiff1d(np.flatnonzero(selection.group_author == top_author), pool.members)
        if len(siblings):
            if query_vector is not None and "dense" in entry_scores:
                # The approximate search reached only some of their chunks: score them exactly.
                dense = entry_scores["dense"]
                unscored = np.flatnonzero(np.isin(selection.group_of_row, siblings) & ~np.isfinite(dense))
                if len(unscored):
                    exact = index.dense_scores(query_vector, selection.rows[unscored], options.dense_title_bonus,
                                               exclude_chunks)
                    where = np.searchsorted(selection.rows, exact.rows)
                    dense = dense.copy()
                    dense[where] = exact.scores
                    entry_scores = {**entry_scores, "dense": dense}
            before = pool.members
            # Earlier members stay even if a sibling's exact score displaces one from a channel's top.
            pool = make_pool(selection, entry_scores, options, extra_members=np.concatenate([before, siblings]),
                             memo=memo)
            add_affinity(index, pool, affinity_to, options.weights.affinity)
            reference = np.isin(pool.members, before)
            fused = fuse(pool, options.weights, reference)
    authors = selection.group_author[pool.members]
    own = np.where(authors >= 0, authors, -1 - np.arange(len(authors)))
    keys, key_of = np.unique(own, return_inverse=True)
    best = np.full(len(keys), -np.inf, dtype=np.float32)
    np.maximum.at(best, key_of[reference], fused[reference])
    author_best = np.where(np.isfinite(best[key_of]), best[key_of], fused)
    pool.scores["author"] = author_best
    return pool, fused + options.weights.author * standardise(author_best)
