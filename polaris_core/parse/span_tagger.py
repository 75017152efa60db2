"""The span tagger: which words of an instruction name the edited object (and the new object of a replacement).

Token classification on the frozen all-MiniLM-L6-v2 encoder the type head already uses: every word piece's last
hidden state, with its two neighbours' states and two hints from the rules (the piece lies in the rules' subject;
in the rules' result), goes through a linear softmax layer to one of five tags (O, B-SUBJ, I-SUBJ, B-NEW, I-NEW). A span is decoded as the best-scoring run B I* that starts and ends on word
boundaries; its confidence is the lowest tag probability along it (and of the tags just outside it).

The weights are trained by `scripts/train_span_tagger.py` (see `span_training.py`) on the project's generated
instruction set and ship as an .npz of plain arrays, read with `np.load(allow_pickle=False)`: nothing to execute.
Besides the weights the file holds how the parser combines the tagger with the rules, chosen by template-grouped
cross-validation: `min_confidence` (below it the rules' subject stands), `exact_rules` (rules whose subject was
right on at least 99% of at least 20 training rows: the tagger is not needed for them) and `span_checks` (the rules'
subject stands when the tagger's span is implausible: see `offline.span_is_plausible`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from polaris_core.errors import ConfigError

TAGGER_FILE = Path(__file__).parent / "data" / "span_tagger.npz"
TAGS = ("O", "B-SUBJ", "I-SUBJ", "B-NEW", "I-NEW")
O, B_SUBJ, I_SUBJ, B_NEW, I_NEW = range(5)
HIDDEN = 384
CONTEXT = 1                                  # neighbours on each side whose states join a token's features
HINTS = 2                                    # the rules' subject, the rules' result
FEATURES = HIDDEN * (1 + 2 * CONTEXT) + 2 + HINTS   # + word-start flag + special-token flag + rule hints
MAX_SPAN_PIECES = 24
FORMAT = "polaris-span-tagger-1"


@dataclass
class TokenStates:
    """One text as the encoder saw it: hidden states, character offsets and word ids of its word pieces."""

    text: str
    hidden: np.ndarray                         # (pieces, 384) float32, [CLS] and [SEP] included
    offsets: list[tuple[int, int]]
    word_ids: list[int | None]                 # None for [CLS]/[SEP]

    def embedding(self) -> np.ndarray:
        """The sentence embedding `TextEncoder.encode` gives: mean of the states, unit length."""
        pooled = self.hidden.mean(0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)


def token_states(encoder, texts: Sequence[str]) -> list[TokenStates]:
    """The encoder's token states for every text (the same call at training and at parse time)."""
    return [TokenStates(text, hidden, offsets, word_ids)
            for text, (hidden, offsets, word_ids) in zip(texts, encoder.token_states(list(texts)))]


def _find(text: str, phrase: str) -> tuple[int, int] | None:
    phrase = " ".join(phrase.split())
    if not phrase:
        return None
    at = text.lower().find(phrase.lower())
    return (at, at + len(phrase)) if at >= 0 else None


def rule_hints(text: str, subject: str, result: str) -> list[tuple[int, int] | None]:
    """Where the rules' subject and result sit in `text` (character spans, None when not found as written)."""
    return [_find(text, subject) if subject not in ("image", "object", "") else None, _find(text, result)]


def token_features(states: TokenStates, hints: Sequence[tuple[int, int] | None] = (None, None)) -> np.ndarray:
    """(pieces, FEATURES): each piece's state, its left and right neighbours' (zeros past the ends), a flag for
    the first piece of a word, a flag for [CLS]/[SEP], and per rule hint a flag for pieces inside it."""
    hidden = states.hidden.astype(np.float32)
    n = hidden.shape[0]
    pad = np.zeros((CONTEXT, hidden.shape[1]), dtype=np.float32)
    padded = np.concatenate([pad, hidden, pad])
    parts = [padded[CONTEXT + shift: CONTEXT + shift + n] for shift in range(-CONTEXT, CONTEXT + 1)]
    starts = np.array([_word_start(states.word_ids, i) for i in range(n)], dtype=np.float32)[:, None]
    special = np.array([w is None for w in states.word_ids], dtype=np.float32)[:, None]
    flags = np.zeros((n, HINTS), dtype=np.float32)
    for h, span in enumerate(list(hints)[:HINTS]):
        if span is not None:
            for k, (start, end) in enumerate(states.offsets):
                flags[k, h] = float(end > start and start >= span[0] and end <= span[1])
    return np.concatenate(parts + [starts, special, flags], axis=1)


def _word_start(word_ids: list[int | None], i: int) -> bool:
    return word_ids[i] is not None and (i == 0 or word_ids[i - 1] != word_ids[i])


def _word_end(word_ids: list[int | None], i: int) -> bool:
    return word_ids[i] is not None and (i + 1 >= len(word_ids) or word_ids[i + 1] != word_ids[i])


@dataclass
class Span:
    text: str                 # the instruction's characters, as written
    start: int                # character offsets in the instruction
    end: int
    confidence: float


@dataclass
class SpanReading:
    """What the tagger read in one instruction."""

    subject: Span | None = None
    new_object: Span | None = None
    text: str = ""            # the instruction the spans index into


def best_span(log_p: np.ndarray, states: TokenStates, begin: int, inside: int) -> Span | None:
    """The highest-scoring run B I* (against tagging it O) on word boundaries, or None when no run beats all-O."""
    word_ids = states.word_ids
    gain_b = log_p[:, begin] - log_p[:, O]
    gain_i = log_p[:, inside] - log_p[:, O]
    best, best_gain = None, 0.0
    n = len(word_ids)
    for i in range(n):
        if not _word_start(word_ids, i):
            continue
        gain = gain_b[i]
        for j in range(i, min(n, i + MAX_SPAN_PIECES)):
            if word_ids[j] is None:
                break
            if j > i:
                gain += gain_i[j]
            if _word_end(word_ids, j) and gain > best_gain:
                best, best_gain = (i, j), gain
    if best is None:
        return None
    i, j = best
    p = np.exp(log_p)
    inside_p = [p[i, begin]] + [p[k, inside] for k in range(i + 1, j + 1)]
    after = 1.0 - p[j + 1, inside] if j + 1 < n else 1.0
    start, end = states.offsets[i][0], states.offsets[j][1]
    return Span(states.text[start:end], start, end, float(min(inside_p + [after])))


@dataclass
class SpanPolicy:
    """How the parser weighs the tagger against the rules (chosen by template-grouped cross-validation)."""

    min_confidence: float = 0.0                                    # below it the rules' subject stands
    exact_rules: dict[str, float] = field(default_factory=dict)   # rules whose subject stands without the tagger
    span_checks: bool = False       # the rules' subject stands over an implausible span (offline.span_is_plausible)
    # a replacement's new object from the tagger where it disagrees with the rules and is at least this sure
    # (None: the rules' new object always stands)
    new_object_confidence: float | None = None

    def rules_exact(self, rule: str) -> bool:
        return rule in self.exact_rules


@dataclass
class SpanTagger:
    weights: np.ndarray                  # (5, FEATURES), over standardised features
    bias: np.ndarray                     # (5,)
    mean: np.ndarray                     # (FEATURES,)
    scale: np.ndarray                    # (FEATURES,)
    min_confidence: float = 0.0
    exact_rules: dict[str, float] = field(default_factory=dict)   # rule name -> its subject precision
    span_checks: bool = False
    meta: dict = field(default_factory=dict)
    new_object_confidence: float | None = None

    @property
    def policy(self) -> SpanPolicy:
        return SpanPolicy(self.min_confidence, self.exact_rules, self.span_checks, self.new_object_confidence)

    def log_probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.weights.T + self.bias
        logits = logits - logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def read(self, states: TokenStates, hints: Sequence[tuple[int, int] | None] = (None, None)) -> SpanReading:
        log_p = self.log_probabilities(token_features(states, hints))
        return SpanReading(best_span(log_p, states, B_SUBJ, I_SUBJ), best_span(log_p, states, B_NEW, I_NEW),
                           states.text)

    def save(self, path: Path) -> None:
        """An .npz of plain arrays (the policy and notes as a JSON string), written atomically."""
        import io

        from polaris_core.atomic import write_atomic

        buffer = io.BytesIO()
        info = {"format": FORMAT, "min_confidence": self.min_confidence, "exact_rules": self.exact_rules,
                "span_checks": self.span_checks, "new_object_confidence": self.new_object_confidence,
                "meta": self.meta}
        np.savez_compressed(buffer, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
                            mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                            info=np.array(json.dumps(info, ensure_ascii=False)))
        write_atomic(Path(path), lambda temp: temp.write_bytes(buffer.getvalue()))


def _optional_probability(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"new_object_confidence {value} is not a probability")
    return value


def load_tagger(path: Path | None = None) -> SpanTagger:
    """The shipped tagger (or the one at `path`), read without unpickling anything."""
    path = Path(path) if path else TAGGER_FILE
    retrain = "retrain it with `python scripts/train_span_tagger.py`"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("weights", "bias", "mean", "scale", "info")}
    except OSError as exc:
        raise ConfigError(f"Cannot read the span tagger {path} ({exc}); {retrain}.") from exc
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{path} is not a span-tagger file ({exc}); {retrain}.") from exc
    try:
        info = json.loads(str(arrays["info"]))
        if info.get("format") != FORMAT:
            raise ValueError(f"format {info.get('format')!r}, expected {FORMAT!r}")
        tagger = SpanTagger(arrays["weights"].astype(np.float32), arrays["bias"].astype(np.float32),
                            arrays["mean"].astype(np.float32), arrays["scale"].astype(np.float32),
                            min_confidence=float(info.get("min_confidence", 0.0)),
                            exact_rules={str(k): float(v) for k, v in dict(info.get("exact_rules", {})).items()},
                            span_checks=bool(info.get("span_checks", False)), meta=dict(info.get("meta", {})),
                            new_object_confidence=_optional_probability(info.get("new_object_confidence")))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not a valid span-tagger file ({exc}); {retrain}.") from exc
    shapes_ok = tagger.weights.shape == (len(TAGS), FEATURES) and tagger.bias.shape == (len(TAGS),) \
        and tagger.mean.shape == (FEATURES,) and tagger.scale.shape == (FEATURES,)
    finite = all(np.all(np.isfinite(a)) for a in (tagger.weights, tagger.bias, tagger.mean, tagger.scale))
    if not shapes_ok or not finite or not np.all(tagger.scale > 0):
        raise ConfigError(f"{path} has weights of shape {tagger.weights.shape} (or non-finite values); expected "
                          f"({len(TAGS)}, {FEATURES}). {retrain[0].upper() + retrain[1:]}.")
    return tagger
