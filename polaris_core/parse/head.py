"""The type head: multinomial logistic regression over a MiniLM sentence embedding and the rules' reading.

Features of one instruction: the all-MiniLM-L6-v2 embedding of its text (384 unit-norm values) and the
type the rules read, one-hot, scaled by the rules' own confidence (6 values). The weights are trained by
`scripts/train_parse_head.py` (see `head_training.py`) and ship as JSON: no pickles, nothing to execute.

The JSON also holds
- `temperature`: divides the logits so the softmax is calibrated (fit on out-of-fold predictions);
- `certain_rules`: rules whose reading was right on at least `CERTAIN_PRECISION` of the training rows they
  fired on; when one of them reads an instruction the head is not run (the fast path), and the rule's
  measured precision is the confidence;
- `rule_scores`: the measured precision of every rule with enough support; where the head disagrees with the
  rules' reading but is less sure than the rule has been right, the rules' type stands (marked ambiguous);
- `ambiguous_below`: a calibrated probability under which the intent is marked ambiguous.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polaris_core.errors import ConfigError

log = logging.getLogger("polaris")

HEAD_FILE = Path(__file__).parent / "data" / "type_head.json"
HEAD_FILE_NO_DEV = Path(__file__).parent / "data" / "type_head_no_dev.json"
N_TYPES = 6
EMBED_DIM = 384
RULE_FEATURES = N_TYPES
CERTAIN_PRECISION = 0.99
CERTAIN_SUPPORT = 20
AMBIGUOUS_BELOW = 0.55
TYPE_NAMES = ("replace", "add", "local style", "global style", "style reference", "remove")


def feature_matrix(embeddings: np.ndarray, rule_types: np.ndarray, rule_confidences: np.ndarray) -> np.ndarray:
    """(n, 384 + 6) features: embeddings, then the rules' type one-hot times their confidence."""
    n = embeddings.shape[0]
    rules = np.zeros((n, RULE_FEATURES), dtype=np.float32)
    rules[np.arange(n), rule_types.astype(np.int64)] = rule_confidences.astype(np.float32)
    return np.concatenate([embeddings.astype(np.float32), rules], axis=1)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class TypeHead:
    weights: np.ndarray                  # (6, features), over standardised features
    bias: np.ndarray                     # (6,)
    mean: np.ndarray                     # (features,) standardisation: (f - mean) / scale
    scale: np.ndarray                    # (features,)
    temperature: float = 1.0
    certain_rules: dict[str, float] = field(default_factory=dict)   # rule name -> measured precision
    rule_scores: dict[str, float] = field(default_factory=dict)     # every rule with support: name -> precision
    ambiguous_below: float = AMBIGUOUS_BELOW
    meta: dict = field(default_factory=dict)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated logits, (n, 6)."""
        return ((features - self.mean) / self.scale) @ self.weights.T + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Calibrated type probabilities, (n, 6)."""
        return softmax(self.logits(features) / self.temperature)

    def rule_precision(self, rule: str) -> float | None:
        """The measured precision of a certain rule, or None when the head must decide."""
        return self.certain_rules.get(rule)

    def to_json(self) -> str:
        return json.dumps({
            "format": "polaris-type-head-1",
            "weights": np.round(self.weights, 6).tolist(), "bias": np.round(self.bias, 6).tolist(),
            "mean": np.round(self.mean, 6).tolist(), "scale": np.round(self.scale, 6).tolist(),
            "temperature": round(float(self.temperature), 6), "certain_rules": self.certain_rules,
            "rule_scores": self.rule_scores,
            "ambiguous_below": self.ambiguous_below, "meta": self.meta,
        }, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, source: str = "type head") -> "TypeHead":
        try:
            data = json.loads(text)
            weights = np.asarray(data["weights"], dtype=np.float32)
            bias = np.asarray(data["bias"], dtype=np.float32)
            mean = np.asarray(data["mean"], dtype=np.float32)
            scale = np.asarray(data["scale"], dtype=np.float32)
            head = cls(weights=weights, bias=bias, mean=mean, scale=scale, temperature=float(data.get("temperature", 1.0)),
                       certain_rules={str(k): float(v) for k, v in dict(data.get("certain_rules", {})).items()},
                       rule_scores={str(k): float(v) for k, v in dict(data.get("rule_scores", {})).items()},
                       ambiguous_below=float(data.get("ambiguous_below", AMBIGUOUS_BELOW)),
                       meta=dict(data.get("meta", {})))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{source} is not a valid type-head JSON ({exc}); retrain it with "
                              "`python scripts/train_parse_head.py`.") from exc
        width = EMBED_DIM + RULE_FEATURES
        if weights.shape != (N_TYPES, width) or bias.shape != (N_TYPES,) or mean.shape != (width,) \
                or scale.shape != (width,) or not np.all(scale > 0) or head.temperature <= 0:
            raise ConfigError(f"{source} has weights of shape {weights.shape}; expected "
                              f"({N_TYPES}, {EMBED_DIM + RULE_FEATURES}). Retrain with scripts/train_parse_head.py.")
        return head

    def save(self, path: Path) -> None:
        from polaris_core.atomic import write_text_atomic

        write_text_atomic(path, self.to_json() + "\n")


def load_head(path: Path | None = None) -> TypeHead:
    """The shipped head (or the one at `path`)."""
    path = Path(path) if path else HEAD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the type head {path} ({exc}); retrain it with "
                          "`python scripts/train_parse_head.py`.") from exc
    return TypeHead.from_json(text, str(path))
