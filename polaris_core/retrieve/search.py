"""One search: channels → pool → fusion → (learned) ranking → Candidates, one per model."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from polaris_core.candidates import Candidate
from polaris_core.index import ZooIndex
from polaris_core.retrieve.channels import entry_channel_scores
from polaris_core.retrieve.fusion import PoolResult, add_affinity, author_step, fuse, make_pool
from polaris_core.retrieve.options import CHANNELS, STYLE_ROLES, SearchOptions
from polaris_core.retrieve.ranker import rank_scores


def slot_of(kind: str, role: str) -> str:
    if kind == "checkpoint":
        return "checkpoint"
    return "style_lora" if role in STYLE_ROLES else "object_lora"


def _filters(options: SearchOptions, base_family, role) -> tuple[Optional[list[str]], Optional[list[str]]]:
    families = [base_family] if isinstance(base_family, str) else (list(base_family) if base_family else None)
    if families is not None and options.unknown_family_ok and "unknown" not in families:
        families.append("unknown")
    roles = [role] if isinstance(role, str) else (list(role) if role else None)
    return families, roles


def search_pool(
    index: ZooIndex,
    query_text: Optional[str] = None,
    query_image: Any = None,
    kind: str = "lora",
    base_family: Optional[str | Sequence[str]] = None,
    role: Optional[str | Sequence[str]] = None,
    *,
    options: Optional[SearchOptions] = None,
    affinity_to: Optional[np.ndarray] = None,
    vector: Optional[np.ndarray] = None,
    exclude_chunks: Optional[np.ndarray] = None,
) -> Optional[PoolResult]:
    """The fused candidate pool of one query (None when nothing can be searched). `vector` is
    the query's dense vector when already encoded; `exclude_chunks` (chunk rows) are left out of
    every channel (a catalog prompt used as a training query must not find itself)."""
    options = options or SearchOptions()
    families, roles = _filters(options, base_family, role)
    index.require_kind(kind)
    selection = index.select(kind, families, roles)
    if not len(selection.rows) or (not (query_text or "").strip() and query_image is None):
        return None
    entry_scores, query_vector = entry_channel_scores(index, selection, kind, query_text, query_image, options,
                                                      families, roles, vector, exclude_chunks)
    if not entry_scores:
        return None
    memo: dict = {}  # each channel's pass over every entry, shared with the author step's second pool
    pool = make_pool(selection, entry_scores, options, memo=memo)
    add_affinity(index, pool, affinity_to, options.weights.affinity)
    fused = fuse(pool, options.weights)
    if "author" in options.channels and options.weights.author and len(fused) \
            and (selection.group_author >= 0).any():
        pool, fused = author_step(index, selection, entry_scores, query_vector, pool, fused, options, affinity_to,
                                  exclude_chunks, memo)
    return PoolResult(index, kind, (query_text or "").strip(), selection, pool, fused, query_vector, families,
                      roles, options, exclude_chunks)


def search(
    index: ZooIndex,
    query_text: Optional[str] = None,
    query_image: Any = None,
    kind: str = "lora",
    k: int = 10,
    base_family: Optional[str | Sequence[str]] = None,
    role: Optional[str | Sequence[str]] = None,
    *,
    options: Optional[SearchOptions] = None,
    affinity_to: Optional[np.ndarray] = None,
) -> list[Candidate]:
    """Top-k models of `kind` for a text and/or image query, one Candidate per model.

    `base_family` / `role` filter (a name or a list). `affinity_to` is a unit vector (e.g. the
    chosen checkpoint's centroid) that candidates are pulled towards with weight
    `options.weights.affinity`. The learned ranker orders the pool when its model file loads
    (`options.ranker`), else the hand-set fusion does. Raises EmptyZooError when the index has
    no entries of `kind`.
    """

    options = options or SearchOptions()
    found = search_pool(index, query_text, query_image, kind, base_family, role, options=options,
                        affinity_to=affinity_to)
    if found is None:
        return []
    pool = found.pool
    # The ranker learned on the full channel set; a benchmark's channel subset keeps the fused order.
    use_ranker = options.ranker != "off" and set(options.channels) >= set(CHANNELS)
    scores = rank_scores(found) if use_ranker else None
    final = found.fused if scores is None else scores
    order = np.argsort(-final, kind="stable")[: max(int(k), 0)]
    out = []
    for i in order.tolist():
        entry = index.entries[int(pool.best_entry[i])]
        channel_scores = {name: float(values[i]) for name, values in pool.scores.items() if np.isfinite(values[i])}
        out.append(Candidate(entry=entry, slot=slot_of(kind, entry.role), score=float(final[i]),
                             channel_scores=channel_scores))
    return out
