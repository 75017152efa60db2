"""Retrieval: from a query (text, image or an Intent) to candidates grouped per model.

The stages, one module each:

- `channels`: per-entry scores of each channel (lexical BM25F, names, dense, image, popularity);
- `fusion`: the candidate pool (each channel's top models, versions collapsed) and the hand-set
  weighted sum of standardised channel scores, with the author step;
- `ranker`: a learned LambdaRank model over features of each (query, candidate) that reorders
  the pool; the fused order is its fallback when the model file is missing or incompatible;
- `search`: one query through these stages;
- `two_level`: checkpoint first, then LoRAs of its family (the Polaris paper).

The index is read through its query API (`ZooIndex.lexical_search`, `dense_channel`,
`dense_scores`, `image_scores`, `centroid`, `select`).
"""
from polaris_core.retrieve.options import CHANNELS, OBJECT_ROLES, STYLE_ROLES, FusionWeights, SearchOptions
from polaris_core.retrieve.search import search, search_pool
from polaris_core.retrieve.two_level import retrieve, retrieve_checkpoints, retrieve_loras

__all__ = ["CHANNELS", "OBJECT_ROLES", "STYLE_ROLES", "FusionWeights", "SearchOptions", "retrieve",
           "retrieve_checkpoints", "retrieve_loras", "search", "search_pool"]
