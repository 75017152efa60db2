"""Training the span tagger (numpy only, deterministic) and choosing how the parser combines it with the rules.

- `gold_tags(states, subject, new_object)`: BIO tags of one generated instruction: the labelled subject (and, for a
  replacement, the new object) located as whole words in the text.
- `fit_tagger(sums, x, tags)`: ridge regression of the tags on `token_features` (solved exactly from summed
  statistics, so cross-validation folds cost one pass), then a small softmax layer that calibrates its scores;
  both fold into one linear layer. Deterministic.
- `tagger_folds(...)`: the tagger's out-of-fold reading of every row, each fold trained without the held-out
  templates and their near-twins (the same groups as the type head's CV).
- the rules whose subject was right on nearly every training row they read stand for themselves
  (`head_training.exact_subject_rules`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from polaris_core.parse.head_training import adam_step, exact_subject_rules
from polaris_core.parse.span_tagger import (
    B_NEW,
    B_SUBJ,
    I_NEW,
    I_SUBJ,
    O,
    TAGS,
    SpanReading,
    SpanTagger,
    TokenStates,
    token_features,
)

L2 = 1e-3
ITERATIONS = 300
LEARNING_RATE = 0.05
NOT_SPANS = frozenset({"image", "background", ""})   # subjects the instruction need not name as written


_DETERMINED = re.compile(r"(?:\b(?:a|an|the|this|that|these|those|my|our|your|his|her|their|its|some|no)|'s)\s+$",
                        re.IGNORECASE)


def locate(text: str, phrase: str, avoid: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """Character offsets of `phrase` as whole words (case-insensitive) outside `avoid`: the first occurrence
    right after a determiner ("swap the black cat for a cat": the new "cat" is the one after "a"), else the first."""
    if not phrase or phrase in NOT_SPANS:
        return None
    found = [(m.start(), m.end()) for m in
             re.finditer(r"(?<![\w'])" + re.escape(phrase) + r"(?![\w])", text, flags=re.IGNORECASE)
             if avoid is None or m.end() <= avoid[0] or m.start() >= avoid[1]]
    determined = [span for span in found if _DETERMINED.search(text[:span[0]])]
    return (determined or found or [None])[0]


def gold_tags(states: TokenStates, subject: str, new_object: str = "") -> np.ndarray:
    """Tag per word piece: B/I-SUBJ over the subject, B/I-NEW over a replacement's new object, O elsewhere."""
    tags = np.full(len(states.word_ids), O, dtype=np.int64)
    new_span = locate(states.text, new_object)
    subject_span = locate(states.text, subject, avoid=new_span)
    for span, begin, inside in ((subject_span, B_SUBJ, I_SUBJ), (new_span, B_NEW, I_NEW)):
        if span is None:
            continue
        first = True
        for k, (start, end) in enumerate(states.offsets):
            if states.word_ids[k] is not None and start >= span[0] and end <= span[1] and end > start:
                tags[k] = begin if first else inside
                first = False
    return tags


@dataclass
class TokenSums:
    """Sufficient statistics of (features, tags) for ridge regression: sums add, so a fold's training set is
    the total minus the fold (one pass over the tokens serves every fold)."""

    n: float
    sx: np.ndarray        # (d,)
    gram: np.ndarray      # (d, d)  X^T X
    xy: np.ndarray        # (d, k)  X^T Y (Y one-hot)
    sy: np.ndarray        # (k,)

    @classmethod
    def of(cls, x: np.ndarray, tags: np.ndarray, chunk: int = 8192) -> "TokenSums":
        """The sums of (x, tags), accumulated in float64 a chunk of rows at a time (bounded memory)."""
        d, k = x.shape[1], len(TAGS)
        sums = cls(0.0, np.zeros(d), np.zeros((d, d)), np.zeros((d, k)), np.zeros(k))
        for start in range(0, len(x), chunk):
            x64 = x[start:start + chunk].astype(np.float64)
            y = np.eye(k)[tags[start:start + chunk]]
            sums = sums + cls(float(len(x64)), x64.sum(0), x64.T @ x64, x64.T @ y, y.sum(0))
        return sums

    def __add__(self, other: "TokenSums") -> "TokenSums":
        return TokenSums(self.n + other.n, self.sx + other.sx, self.gram + other.gram, self.xy + other.xy,
                         self.sy + other.sy)

    def __sub__(self, other: "TokenSums") -> "TokenSums":
        return TokenSums(self.n - other.n, self.sx - other.sx, self.gram - other.gram, self.xy - other.xy,
                         self.sy - other.sy)


def ridge(sums: TokenSums, l2: float = L2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights (k, d), bias (k,), mean, scale): ridge regression of the one-hot tags on standardised features,
    solved exactly from the sums."""
    n = sums.n
    mean = sums.sx / n
    variance = np.maximum(np.diag(sums.gram) / n - mean ** 2, 0.0)
    scale = np.sqrt(variance) + 1e-3
    centred_gram = (sums.gram - n * np.outer(mean, mean)) / np.outer(scale, scale)
    centred_xy = (sums.xy - np.outer(sums.sx, sums.sy) / n) / scale[:, None]
    d = len(mean)
    weights = np.linalg.solve(centred_gram + l2 * n * np.eye(d), centred_xy).T
    return weights.astype(np.float32), (sums.sy / n).astype(np.float32), mean.astype(np.float32), \
        scale.astype(np.float32)


def fit_calibration(scores: np.ndarray, tags: np.ndarray, iterations: int = ITERATIONS,
                    learning_rate: float = LEARNING_RATE) -> tuple[np.ndarray, np.ndarray]:
    """A (k, k) softmax layer on the ridge scores (full-batch Adam from the identity: deterministic), so the tag
    probabilities the decoder and the confidence threshold use are probabilities."""
    k = len(TAGS)
    a = np.eye(k, dtype=np.float64) * 4.0
    c = np.zeros(k, dtype=np.float64)
    onehot = np.eye(k)[tags]
    moments = [np.zeros_like(a), np.zeros_like(a), np.zeros_like(c), np.zeros_like(c)]
    for step in range(1, iterations + 1):
        logits = scores @ a.T + c
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - onehot) / len(tags)
        adam_step((a, c), (error.T @ scores, error.sum(0)), moments, step, learning_rate)
    return a, c


def fit_tagger(sums: TokenSums, x: np.ndarray, tags: np.ndarray, l2: float = L2) -> SpanTagger:
    """The tagger from the training tokens' sums (ridge) and their features and tags (calibration)."""
    weights, bias, mean, scale = ridge(sums, l2)
    scores = ((x - mean) / scale) @ weights.T + bias
    a, c = fit_calibration(scores.astype(np.float64), tags)
    # one linear layer: logits = a (W x' + b) + c
    return SpanTagger((a @ weights).astype(np.float32), (a @ bias + c).astype(np.float32), mean, scale)


def stack(states: Sequence[TokenStates], tags: Sequence[np.ndarray], index: Sequence[int],
          hints: Sequence | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Token features and tags of the rows in `index`, one matrix."""
    return (np.concatenate([token_features(states[i], hints[i] if hints else (None, None)) for i in index]),
            np.concatenate([tags[i] for i in index]))


def read_rows(tagger: SpanTagger, states: Sequence[TokenStates], index: Sequence[int],
              hints: Sequence | None = None) -> dict[int, SpanReading]:
    return {i: tagger.read(states[i], hints[i] if hints else (None, None)) for i in index}


def tagger_folds(states: Sequence[TokenStates], tags: Sequence[np.ndarray], fold_of: np.ndarray,
                 hints: Sequence | None = None) -> list[SpanReading]:
    """Every row read by a tagger that never saw its fold (its templates and their near-twins)."""
    folds = sorted(set(fold_of.tolist()))
    members = {k: np.where(fold_of == k)[0] for k in folds}
    fold_sums = {k: TokenSums.of(*stack(states, tags, members[k], hints)) for k in folds}
    total = fold_sums[folds[0]]
    for k in folds[1:]:
        total = total + fold_sums[k]
    readings: list[SpanReading] = [SpanReading()] * len(states)
    for k in folds:
        train = np.where(fold_of != k)[0]
        x, y = stack(states, tags, train, hints)
        tagger = fit_tagger(total - fold_sums[k], x, y)
        del x, y
        for i, reading in read_rows(tagger, states, members[k], hints).items():
            readings[i] = reading
    return readings


def parser_cross_validation(encoder=None):
    """The whole parser's template-grouped CV on the project set, with the tagger's out-of-fold spans.

    Returns (CrossValidation, project rows, token states, gold tags, fold per row). One encoder pass per text
    gives both the head's sentence embedding and the tagger's token states, as at parse time.
    """
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.parse.head_training import (
        Features,
        cross_validate,
        group_folds,
        pooled_states,
        project_rows,
        read_rules,
        template_groups,
    )
    from polaris_core.parse.span_tagger import token_states
    from polaris_core.parse.training_set import load_rows

    rows = load_rows()
    data = project_rows()
    encoder = encoder or load_text_encoder()
    states = token_states(encoder, data.texts)
    tags = [gold_tags(s, r["subject"], r.get("new_object", "")) for s, r in zip(states, rows)]
    from polaris_core.parse.offline import reading_hints

    groups = template_groups(data.templates, data.texts)
    fold_of = group_folds(groups)
    rules = read_rules(data.texts)
    hints = [reading_hints(reading, prepared.text) for prepared, reading in rules.readings]
    spans = tagger_folds(states, tags, fold_of, hints)
    features = Features(pooled_states(states), rules)
    cv = cross_validate(features, data.labels, groups, "template group", subjects=data.subjects, spans=spans)
    cv.new_objects = [r.get("new_object", "") for r in rows]
    cv.spans = list(spans)
    return cv, rows, states, tags, features, hints


def best_policy(cv) -> tuple[float, bool, float]:
    """(τ, span_checks, subject EM) of the best "combined" variant; ties go to the higher τ, then to the checked
    check (the rules stand more often)."""
    scored = [(cv.exact_match(subjects) or 0.0, float(name.split()[1]), name.endswith("checked"))
              for name, subjects in cv.variant_subjects.items() if name.startswith("combined")]
    em, threshold, span_checks = max(scored)
    return threshold, span_checks, em


def new_object_match(cv) -> tuple[float, int]:
    """The tagger's out-of-fold new-object exact match on the replacements (and how many there are)."""
    pairs = [((s.new_object.text.lower() if s.new_object else ""), gold) for s, gold in zip(cv.spans, cv.new_objects)
             if gold]
    return (float(np.mean([a == b for a, b in pairs])) if pairs else 0.0), len(pairs)


def prompt_match(cv) -> dict[str, tuple[float, int]]:
    """Per way of reading a replacement's new object: its generation prompt's exact match with the labelled new
    object over the replacements, and how many rows that is."""
    rows = [i for i, gold in enumerate(cv.new_objects) if gold]
    return {name: (float(np.mean([prompts[i] == cv.new_objects[i] for i in rows])) if rows else 0.0, len(rows))
            for name, prompts in cv.variant_prompts.items()}


# The tagger's new object costs an encoder pass on every replacement, even where the rules' subject is exact: it
# must beat the rules' prompt exact match by this much to be shipped (one row in a thousand is no reason to pay it).
NEW_OBJECT_MIN_GAIN = 0.005


def best_new_object(cv) -> tuple[float | None, float]:
    """(threshold or None for the rules' new object, prompt exact match) of the best new-object reading; the rules
    stand unless a threshold beats them by `NEW_OBJECT_MIN_GAIN`; a tie goes to the higher threshold."""
    matches = prompt_match(cv)
    scored = [(em, float(name.split()[-1]), name) for name, (em, _) in matches.items() if not name.endswith("rules")]
    rules_em = matches["new object: rules"][0] if "new object: rules" in matches else None
    if not scored:
        return None, rules_em or 0.0
    em, threshold, _ = max(scored)
    if rules_em is not None and em < rules_em + NEW_OBJECT_MIN_GAIN:
        return None, rules_em
    return threshold, em


def train_tagger(out=None, encoder=None) -> dict:
    """Cross-validate, choose the policy, fit the shipped tagger on every row and save it; returns the figures."""
    import time

    from polaris_core.parse.span_tagger import TAGGER_FILE

    started = time.perf_counter()
    cv, rows, states, tags, features, hints = parser_cross_validation(encoder)
    threshold, span_checks, em = best_policy(cv)
    exact = exact_subject_rules(features.rules.names, features.rules.subjects, [r["subject"] for r in rows])
    x, y = stack(states, tags, range(len(states)), hints)
    tagger = fit_tagger(TokenSums.of(x, y), x, y)
    tagger.min_confidence = threshold
    tagger.span_checks = span_checks
    tagger.exact_rules = exact
    new_threshold, prompt_em = best_new_object(cv)
    tagger.new_object_confidence = new_threshold
    new_em, new_rows = new_object_match(cv)
    figures = {
        "rows": len(rows), "tokens": int(len(y)), "type_accuracy": round(cv.accuracy, 4),
        "subject_em_rules_only": round(cv.subject_exact_match or 0.0, 4),
        "subject_em_tagger": round(cv.exact_match(cv.variant_subjects["tagger"]) or 0.0, 4),
        "subject_em_combined": round(em, 4), "min_confidence": threshold, "span_checks": span_checks,
        "exact_rules": len(exact),
        "new_object_em_tagger": round(new_em, 4), "new_object_rows": new_rows,
        "new_object_confidence": new_threshold,
        "replacement_prompt_em_rules": round(prompt_match(cv).get("new object: rules", (0.0, 0))[0], 4),
        "replacement_prompt_em_chosen": round(prompt_em, 4),
    }
    tagger.meta = {"trained_on": "project set", "grouped_by": "template + near-twins", "iterations": ITERATIONS,
                   "l2": L2, **figures}
    path = Path(out) / TAGGER_FILE.name if out else TAGGER_FILE
    tagger.save(path)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["file"] = str(path)
    return figures
