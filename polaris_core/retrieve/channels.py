"""Stage 1 of retrieval: per-entry scores of each channel for one query.

- `lexical`: BM25F over example-prompt chunks (own and related) with the entry's title and
  description fields, on words and adjacent word pairs;
- `names`: the query's rare words (trigger words, names) matched against titles alone, so one
  decisive trigger word is not outvoted by a chunk sharing many common tags;
- `dense`: MiniLM cosine of the query (through the learned query map, `query_map.py`) with the
  model's best embedded chunk (its first example prompts, or its title when it has none);
- `image`: CLIP cosine of the query image (or, cross-modal, the query text) with the mean
  preview embedding, when the index has preview vectors and a CLIP encoder is attached;
- `popularity`: log downloads, a small tie breaker.

The index is read only through its query API (`lexical_search`, `dense_channel`, `dense_scores`,
`image_scores`).
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import numpy as np

from polaris_core.embed.chunks import dense_prompt_text
from polaris_core.errors import ImageError
from polaris_core.index import Selection, ZooIndex
from polaris_core.retrieve.options import SearchOptions
from polaris_core.retrieve.query_map import map_for

log = logging.getLogger("polaris")


def raw_query_vector(index: ZooIndex, text: str) -> np.ndarray:
    """The encoder's vector of a query (what the learned query map reads)."""
    return index.text_encoder.encode([dense_prompt_text(text) or text])[0]


def query_vector(index: ZooIndex, text: str, options: Optional[SearchOptions] = None) -> np.ndarray:
    """The dense channel's query vector: the encoder's, through the learned query map when one
    matches the index's encoder (`SearchOptions.query_map`)."""
    raw = raw_query_vector(index, text)
    mapping = None if options is not None and options.query_map == "off" else \
        map_for(index.text_encoder_id, index.text_dim)
    return raw if mapping is None else mapping.apply(raw)


def image_query_vector(index: ZooIndex, image: Any) -> Optional[np.ndarray]:
    if not index.has_image_channel:
        return None
    try:
        return index.image_encoder.encode_images([image])[0]
    except ImageError as exc:
        log.warning("query image not usable (%s); searching by text only", exc)
        return None


def clip_text_vector(index: ZooIndex, text: str) -> Optional[np.ndarray]:
    return index.image_encoder.encode_texts([text])[0] if index.has_image_channel else None


def top_rows(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` largest `values`, ties by position (`np.argsort(-values, kind="stable")[:k]`),
    without sorting them all: a full sort of every entry's score took ~7 ms a search at 300K entries."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= len(values):
        return np.argsort(-values, kind="stable")
    kth = np.partition(values, len(values) - k)[len(values) - k]
    above = np.flatnonzero(values > kth)
    chosen = np.concatenate([above, np.flatnonzero(values == kth)[: k - len(above)]])
    return chosen[np.argsort(-values[chosen], kind="stable")]


def entry_channel_scores(index: ZooIndex, selection: Selection, kind: str, query_text: Optional[str],
                         query_image: Any, options: SearchOptions,
                         families: Optional[Sequence[str]], roles: Optional[Sequence[str]],
                         vector: Optional[np.ndarray] = None, exclude_chunks: Optional[np.ndarray] = None,
                         ) -> tuple[dict[str, np.ndarray], Optional[np.ndarray]]:
    """Per-entry scores of each channel for the selected rows (-inf where a channel has nothing),
    and the dense query vector (None without the dense channel). `vector` is the query's dense
    vector when already encoded; `exclude_chunks` (chunk rows) are left out of every channel."""
    channels = set(options.channels)
    rows = selection.rows
    scores: dict[str, np.ndarray] = {}
    position = np.full(len(index.entries), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    text = (query_text or "").strip()
    if text and channels & {"lexical", "names"}:
        kind_rows, hits = index.lexical_search(kind, text, rare_title="names" in channels,
                                               exclude_chunks=exclude_chunks)
        where = position[kind_rows]
        ok = where >= 0
        for name, found in (("lexical", hits.scores), ("names", hits.rare_title)):
            if name in channels:
                values = np.zeros(len(rows), dtype=np.float32)
                values[where[ok]] = found[ok]
                scores[name] = values
    if text and "dense" in channels:
        vector = query_vector(index, text, options) if vector is None else vector
        hits = index.dense_channel(vector, kind, families, roles, options.dense_chunks, options.dense_title_bonus,
                                   exclude_chunks)
        values = np.full(len(rows), -np.inf, dtype=np.float32)
        where = position[hits.rows]
        ok = where >= 0
        values[where[ok]] = hits.scores[ok]
        # Entries the approximate search did not reach but another channel ranks high get exact scores.
        if "lexical" in scores:
            top = top_rows(scores["lexical"], options.pool_per_channel)
            missing = top[~np.isfinite(values[top])]
            if len(missing):
                exact = index.dense_scores(vector, rows[missing], options.dense_title_bonus, exclude_chunks)
                values[position[exact.rows]] = exact.scores
        scores["dense"] = values
    else:
        vector = None
    if "image" in channels and index.has_image_channel:
        image_vector = image_query_vector(index, query_image) if query_image is not None else (
            clip_text_vector(index, text) if text else None)
        if image_vector is not None:
            scores["image"] = index.image_scores(image_vector, rows)
    if "popularity" in channels and scores:
        scores["popularity"] = np.log1p(selection.downloads)
    return scores, vector
