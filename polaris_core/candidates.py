"""Retrieval output handed to the reranker: candidates per slot, each a ZooEntry with scores."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from polaris_core.intent import Intent
from polaris_core.zoo.entry import ZooEntry

SLOTS = ("checkpoint", "style_lora", "object_lora")


@dataclass
class Candidate:
    entry: ZooEntry
    slot: str                                   # one of SLOTS
    score: float                                # fused retrieval score (higher is better)
    channel_scores: dict[str, float] = field(default_factory=dict)  # e.g. {"text": .., "bm25": .., "image": ..}
    rerank_score: Optional[float] = None        # set by the reranker (calibrated, e.g. P("Yes"))
    final_score: Optional[float] = None         # set by the reranker: its ranking key (LLM blended with retrieval)
    # Set by the reranker: the pruning round the candidate reached (finalists reach the last). Keys of
    # different rounds are not comparable (other description budgets, other rescaling), so `rank_key`
    # orders by round first.
    rerank_round: int = 0

    def to_dict(self) -> dict:
        return {
            "entry": self.entry.to_dict(),
            "slot": self.slot,
            "score": self.score,
            "channel_scores": dict(self.channel_scores),
            "rerank_score": self.rerank_score,
            "final_score": self.final_score,
            "rerank_round": self.rerank_round,
        }


def rank_key(candidate: Candidate) -> tuple[int, float, float]:
    """The one order of candidates (sort descending, stable): the reranker's round reached, then its key
    in that round (final score, else its LLM score), then the retrieval score. The reranker returns
    this order; the plan, its fallbacks and every table use it."""
    if candidate.final_score is not None:
        key = candidate.final_score
    else:
        key = candidate.rerank_score if candidate.rerank_score is not None else -1.0
    return candidate.rerank_round, float(key), float(candidate.score)


@dataclass
class Candidates:
    intent: Optional[Intent]
    checkpoints: list[Candidate] = field(default_factory=list)
    style_loras: list[Candidate] = field(default_factory=list)
    object_loras: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what retrieval could not do as asked (shown to the user)

    def slot(self, name: str) -> list[Candidate]:
        return {"checkpoint": self.checkpoints, "style_lora": self.style_loras, "object_lora": self.object_loras}[name]

    def to_dict(self) -> dict:
        return {
            "intent": self.intent.to_dict() if self.intent else None,
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "style_loras": [c.to_dict() for c in self.style_loras],
            "object_loras": [c.to_dict() for c in self.object_loras],
            "notes": list(self.notes),
        }
