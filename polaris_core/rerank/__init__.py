"""Tree reranking: an LLM scores every candidate as a branch of one tree over a shared prefix.

Public API: `TreeReranker` (score / rerank / rerank_all), `RerankStats`, `PromptBuilder`, `DEFAULT_RUBRIC`.
"""
from __future__ import annotations

from polaris_core.rerank.engine import DEFAULT_PACK_TOKENS, PassStats, plan_packs
from polaris_core.rerank.prompt import DEFAULT_RUBRIC, PromptBuilder, ScoreTokens
from polaris_core.rerank.reranker import RerankStats, TreeReranker

__all__ = [
    "DEFAULT_PACK_TOKENS",
    "DEFAULT_RUBRIC",
    "PassStats",
    "PromptBuilder",
    "RerankStats",
    "ScoreTokens",
    "TreeReranker",
    "plan_packs",
]
