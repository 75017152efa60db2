"""The type head: a small classifier over MiniLM's token states and the rules' reading.

Features of one instruction (`TypeHead.pooling` says which):
- "mean": the all-MiniLM-L6-v2 sentence embedding (mean of the token states, unit length: 384 values);
- "mean+max": that, and the element-wise maximum of the word pieces' states (384 more): a single telling word
  ("swap", "sepia") is not averaged away;
- the type the rules read, one-hot, scaled by the rules' own confidence (6 values);
- with `rule_frames`: per type, the highest confidence of any rules frame of that type (6 values), so the
  head sees the readings the rules ranked second.
A logistic regression over them ("polaris-type-head-1"), or one hidden ReLU layer before it
("polaris-type-head-2": `hidden_weights`, `hidden_bias`). The weights are trained by
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


POOLINGS = {"mean": EMBED_DIM, "mean+max": 2 * EMBED_DIM}


def pool_states(hidden: np.ndarray, pooling: str = "mean") -> np.ndarray:
    """A text's pooled vector from its token states (pieces, 384), [CLS] and [SEP] included: the unit-length
    mean of all states (what `TextEncoder.encode` gives), then for "mean+max" the maximum over the word pieces."""
    hidden = np.asarray(hidden, dtype=np.float32)
    mean = hidden.mean(0)
    parts = [mean / max(float(np.linalg.norm(mean)), 1e-12)]
    if pooling == "mean+max":
        parts.append((hidden[1:-1] if hidden.shape[0] > 2 else hidden).max(0))
    elif pooling != "mean":
        raise ConfigError(f"unknown type-head pooling {pooling!r}; retrain with scripts/train_parse_head.py")
    return np.concatenate(parts).astype(np.float32)


def frame_confidences(frames) -> np.ndarray:
    """(6,) per type, the highest confidence of a rules frame of that type (0 where none was read)."""
    best = np.zeros(N_TYPES, dtype=np.float32)
    for frame in frames:
        best[int(frame.itype)] = max(best[int(frame.itype)], float(frame.confidence))
    return best


def feature_matrix(embeddings: np.ndarray, rule_types: np.ndarray, rule_confidences: np.ndarray,
                   frames: np.ndarray | None = None) -> np.ndarray:
    """(n, pooled + 6 [+ 6]) features: pooled states, the rules' type one-hot times their confidence, and (when
    given) every type's best frame confidence (`frame_confidences`)."""
    n = embeddings.shape[0]
    rules = np.zeros((n, RULE_FEATURES), dtype=np.float32)
    rules[np.arange(n), rule_types.astype(np.int64)] = rule_confidences.astype(np.float32)
    parts = [embeddings.astype(np.float32), rules] + ([np.asarray(frames, dtype=np.float32)] if frames is not None else [])
    return np.concatenate(parts, axis=1)


def _plain(values: np.ndarray, digits: int) -> list:
    """Rounded nested lists; rounded in float64 so 0.01234 is not written as 0.012340000271797180."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


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
    pooling: str = "mean"
    rule_frames: bool = False             # the features end with `frame_confidences`
    hidden_weights: np.ndarray | None = None   # (hidden, features): one ReLU layer before `weights` (hidden, ...)
    hidden_bias: np.ndarray | None = None

    @property
    def width(self) -> int:
        """How many features the head reads."""
        return POOLINGS[self.pooling] + RULE_FEATURES * (2 if self.rule_frames else 1)

    def features(self, pooled: np.ndarray, rule_types: np.ndarray, rule_confidences: np.ndarray,
                 frames: np.ndarray | None) -> np.ndarray:
        """The head's feature matrix (its `rule_frames` decide whether `frames` are read)."""
        return feature_matrix(pooled, rule_types, rule_confidences, frames if self.rule_frames else None)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Uncalibrated logits, (n, 6)."""
        x = (features - self.mean) / self.scale
        if self.hidden_weights is not None:
            x = np.maximum(x @ self.hidden_weights.T + self.hidden_bias, 0.0)
        return x @ self.weights.T + self.bias

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Calibrated type probabilities, (n, 6)."""
        return softmax(self.logits(features) / self.temperature)

    def rule_precision(self, rule: str) -> float | None:
        """The measured precision of a certain rule, or None when the head must decide."""
        return self.certain_rules.get(rule)

    def to_json(self) -> str:
        hidden = {} if self.hidden_weights is None else {
            "hidden_weights": _plain(self.hidden_weights, 5), "hidden_bias": _plain(self.hidden_bias, 5)}
        return json.dumps({
            "format": "polaris-type-head-2" if hidden else "polaris-type-head-1",
            "pooling": self.pooling, "rule_frames": self.rule_frames, **hidden,
            "weights": _plain(self.weights, 6), "bias": _plain(self.bias, 6),
            "mean": _plain(self.mean, 6), "scale": _plain(self.scale, 6),
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
            hidden_weights = hidden_bias = None
            if "hidden_weights" in data:
                hidden_weights = np.asarray(data["hidden_weights"], dtype=np.float32)
                hidden_bias = np.asarray(data["hidden_bias"], dtype=np.float32)
            pooling = str(data.get("pooling", "mean"))
            if pooling not in POOLINGS:
                raise ValueError(f"unknown pooling {pooling!r}")
            head = cls(weights=weights, bias=bias, mean=mean, scale=scale, temperature=float(data.get("temperature", 1.0)),
                       certain_rules={str(k): float(v) for k, v in dict(data.get("certain_rules", {})).items()},
                       rule_scores={str(k): float(v) for k, v in dict(data.get("rule_scores", {})).items()},
                       ambiguous_below=float(data.get("ambiguous_below", AMBIGUOUS_BELOW)),
                       meta=dict(data.get("meta", {})), pooling=pooling,
                       rule_frames=bool(data.get("rule_frames", False)),
                       hidden_weights=hidden_weights, hidden_bias=hidden_bias)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{source} is not a valid type-head JSON ({exc}); retrain it with "
                              "`python scripts/train_parse_head.py`.") from exc
        width = head.width
        inner = width if hidden_weights is None else hidden_weights.shape[0]
        arrays = [weights, bias, mean, scale] + ([hidden_weights, hidden_bias] if hidden_weights is not None else [])
        if weights.shape != (N_TYPES, inner) or bias.shape != (N_TYPES,) or mean.shape != (width,) \
                or scale.shape != (width,) or not np.all(scale > 0) or not head.temperature > 0 \
                or (hidden_weights is not None and (hidden_weights.ndim != 2 or hidden_weights.shape[1] != width
                                                    or hidden_bias.shape != (inner,))) \
                or not all(np.all(np.isfinite(a)) for a in arrays) or not np.isfinite(head.temperature):
            raise ConfigError(f"{source} has weights of shape {weights.shape}; expected "
                              f"({N_TYPES}, {inner}) over {width} features, all finite. "
                              "Retrain with scripts/train_parse_head.py.")
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
