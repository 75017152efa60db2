"""Training and honest validation of the type head (numpy only, deterministic).

- `prepare_features(texts)`: MiniLM token states pooled (mean + max) + the rules' reading of every text.
- `fit_head(features, labels, groups, config=...)`: the head of `HeadConfig` (`DEFAULT_CONFIG`: one hidden ReLU
  layer, `fit_mlp`; or multinomial logistic regression, `fit_logreg`; full-batch Adam, L2, seeded), the certain
  rules, and a temperature fit on out-of-fold predictions so the probabilities are calibrated.
- `cross_validate(...)`: grouped K-fold of the whole parser (type and subject). The honest grouping is
  `template_groups`: a template together with its near-twins (token similarity >= 0.8) and with any template
  that renders the same de-framed text, so no phrasing is in two folds. The certain rules are chosen inside
  each fold too, so nothing about a held-out row leaks in.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from polaris_core.parse.head import (
    AMBIGUOUS_BELOW,
    CERTAIN_PRECISION,
    CERTAIN_SUPPORT,
    N_TYPES,
    POOLINGS,
    TypeHead,
    feature_matrix,
    frame_confidences,
    pool_states,
    softmax,
)

log = logging.getLogger("polaris")

L2 = 1e-3
ITERATIONS = 150
LEARNING_RATE = 0.1
FOLDS = 5
FOLD_SEED = 17


@dataclass(frozen=True)
class HeadConfig:
    """The head's shape and training: pooling of the token states, whether the rules' per-type frame
    confidences are features, hidden ReLU units (0: logistic regression), L2, full-batch Adam steps, seed."""

    pooling: str = "mean"
    rule_frames: bool = False
    hidden: int = 0
    l2: float = L2
    iterations: int = ITERATIONS
    learning_rate: float = LEARNING_RATE
    seed: int = 5

    def as_meta(self) -> dict:
        return {"pooling": self.pooling, "rule_frames": self.rule_frames, "hidden": self.hidden, "l2": self.l2,
                "iterations": self.iterations, "learning_rate": self.learning_rate, "seed": self.seed}


LOGREG = HeadConfig()
# what train_parse_head.py trains: chosen by the template-group CV over logistic regression (mean; mean+max; with and
# without the rule-frame features) and one hidden layer (64 units over mean or mean+max; L2 1e-3 or 1e-2)
DEFAULT_CONFIG = HeadConfig(pooling="mean+max", hidden=64, l2=1e-3, iterations=300, learning_rate=0.01)


@dataclass
class RuleReadings:
    types: np.ndarray          # (n,) the rules' type
    confidences: np.ndarray    # (n,) the rules' confidence
    names: list[str]           # the rule that read each text
    readings: list = field(default_factory=list)   # (prepared instruction, Reading) per text, for `decide`
    subjects: list[str] = field(default_factory=list)   # the subject the rules alone give (their first frame)
    frames: np.ndarray | None = None   # (n, 6) every type's best frame confidence (`head.frame_confidences`)


@dataclass
class Features:
    embeddings: np.ndarray   # pooled token states, "mean+max" (the mean part first) or "mean" alone
    rules: RuleReadings

    @property
    def matrix(self) -> np.ndarray:
        return self.matrix_for(LOGREG)

    def pooled(self, pooling: str) -> np.ndarray:
        """The pooled vectors a head with `pooling` reads (the mean is the first 384 values of mean+max)."""
        width = POOLINGS[pooling]
        if self.embeddings.shape[1] < width:
            raise ValueError(f"these features were pooled without {pooling!r}")
        return self.embeddings[:, :width]

    def matrix_for(self, config: HeadConfig) -> np.ndarray:
        frames = None
        if config.rule_frames:
            frames = self.rules.frames if self.rules.frames is not None else np.zeros((len(self.rules.types), N_TYPES))
        return feature_matrix(self.pooled(config.pooling), self.rules.types, self.rules.confidences, frames)

    def subset(self, index: np.ndarray) -> "Features":
        return Features(self.embeddings[index], RuleReadings(
            self.rules.types[index], self.rules.confidences[index], [self.rules.names[i] for i in index],
            [self.rules.readings[i] for i in index] if self.rules.readings else [],
            [self.rules.subjects[i] for i in index] if self.rules.subjects else [],
            self.rules.frames[index] if self.rules.frames is not None else None))


def read_rules(texts: Sequence[str]) -> RuleReadings:
    """The rules' type, confidence and rule name for every text."""
    from polaris_core.errors import PolarisError
    from polaris_core.parse.base import prepare_instruction
    from polaris_core.parse.compose import compose_intent, read_instruction

    types, confidences, names, readings, subjects, frames = [], [], [], [], [], []
    for text in texts:
        prepared = prepare_instruction(text)
        reading = read_instruction(prepared, all_frames=True)
        frames.append(frame_confidences(reading.frames))
        types.append(int(reading.frame.itype))
        confidences.append(min(reading.frame.confidence, reading.confidence_cap))
        names.append(reading.frame.rule)
        readings.append((prepared, reading))
        try:
            subjects.append(compose_intent(reading, reading.frame, prepared).subject)
        except PolarisError:
            subjects.append("")
    return RuleReadings(np.array(types), np.array(confidences, dtype=np.float32), names, readings, subjects,
                        np.array(frames, dtype=np.float32).reshape(-1, N_TYPES))


def pooled_states(states, pooling: str = "mean+max") -> np.ndarray:
    """(n, width) pooled vectors of `span_tagger.TokenStates`, as the parser pools them at parse time."""
    return np.stack([pool_states(s.hidden, pooling) for s in states])


def prepare_features(texts: Sequence[str], encoder=None) -> Features:
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.parse.span_tagger import token_states

    encoder = encoder or load_text_encoder()
    return Features(pooled_states(token_states(encoder, list(texts))), read_rules(texts))


def fit_logreg(x: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = ITERATIONS,
               learning_rate: float = LEARNING_RATE) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features, full-batch Adam from zeros (deterministic).

    Returns (weights, bias, mean, scale): the logits of raw features f are ((f - mean) / scale) @ weights.T + bias.
    Every type weighs the same in the loss however many rows it has.
    """
    n, d = x.shape
    mean = x.mean(0).astype(np.float32)
    scale = (x.std(0) + 1e-3).astype(np.float32)
    xs = ((x - mean) / scale).astype(np.float32)
    weights = np.zeros((N_TYPES, d), dtype=np.float32)
    bias = np.zeros(N_TYPES, dtype=np.float32)
    onehot = np.eye(N_TYPES, dtype=np.float32)[y]
    counts = np.bincount(y, minlength=N_TYPES).astype(np.float32)
    row_weight = ((n / (N_TYPES * np.maximum(counts, 1)))[y][:, None] / n).astype(np.float32)
    moments = [np.zeros_like(weights), np.zeros_like(weights), np.zeros_like(bias), np.zeros_like(bias)]
    for step in range(1, iterations + 1):
        error = (softmax(xs @ weights.T + bias) - onehot) * row_weight
        adam_step((weights, bias), (error.T @ xs + l2 * weights, error.sum(0)), moments, step, learning_rate)
    return weights, bias, mean, scale


def fit_mlp(x: np.ndarray, y: np.ndarray, hidden: int, l2: float = L2, iterations: int = ITERATIONS,
            learning_rate: float = LEARNING_RATE, seed: int = 5) -> tuple[np.ndarray, ...]:
    """One hidden ReLU layer, then the softmax, on standardised features; full-batch Adam from a seeded He
    initialisation (deterministic), the loss balanced over types as in `fit_logreg`.

    Returns (weights, bias, mean, scale, hidden_weights, hidden_bias).
    """
    n, d = x.shape
    mean = x.mean(0).astype(np.float32)
    scale = (x.std(0) + 1e-3).astype(np.float32)
    xs = ((x - mean) / scale).astype(np.float32)
    rng = np.random.default_rng(seed)
    w1 = (rng.normal(size=(hidden, d)) * np.sqrt(2.0 / d)).astype(np.float32)
    b1 = np.zeros(hidden, dtype=np.float32)
    w2 = (rng.normal(size=(N_TYPES, hidden)) * np.sqrt(1.0 / hidden)).astype(np.float32)
    b2 = np.zeros(N_TYPES, dtype=np.float32)
    onehot = np.eye(N_TYPES, dtype=np.float32)[y]
    counts = np.bincount(y, minlength=N_TYPES).astype(np.float32)
    row_weight = ((n / (N_TYPES * np.maximum(counts, 1)))[y][:, None] / n).astype(np.float32)
    params = (w1, b1, w2, b2)
    moments = [np.zeros_like(p) for p in params for _ in (0, 1)]
    for step in range(1, iterations + 1):
        pre = xs @ w1.T + b1
        act = np.maximum(pre, 0.0)
        error = (softmax(act @ w2.T + b2) - onehot) * row_weight
        back = (error @ w2) * (pre > 0)
        grads = (back.T @ xs + l2 * w1, back.sum(0), error.T @ act + l2 * w2, error.sum(0))
        adam_step(params, grads, moments, step, learning_rate)
    return w2, b2, mean, scale, w1, b1


def fit_config(x: np.ndarray, y: np.ndarray, config: HeadConfig) -> dict:
    """The head's arrays for `config`, as TypeHead keyword arguments."""
    if config.hidden:
        w2, b2, mean, scale, w1, b1 = fit_mlp(x, y, config.hidden, config.l2, config.iterations,
                                              config.learning_rate, config.seed)
        return {"weights": w2, "bias": b2, "mean": mean, "scale": scale, "hidden_weights": w1, "hidden_bias": b1,
                "pooling": config.pooling, "rule_frames": config.rule_frames}
    weights, bias, mean, scale = fit_logreg(x, y, config.l2, config.iterations, config.learning_rate)
    return {"weights": weights, "bias": bias, "mean": mean, "scale": scale, "pooling": config.pooling,
            "rule_frames": config.rule_frames}


EXACT_PRECISION = 0.99  # a rule whose subject was right on this share of ...
EXACT_SUPPORT = 20      # ... at least this many training rows stands for itself (the span tagger defers to it)


def exact_subject_rules(rules: Sequence[str], found: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """Rules whose subject matched the label on >= EXACT_PRECISION of >= EXACT_SUPPORT rows: name -> precision."""
    stats: dict[str, list[int]] = {}
    for rule, subject, label in zip(rules, found, gold):
        hit = stats.setdefault(rule, [0, 0])
        hit[0] += int(subject == label)
        hit[1] += 1
    return {rule: round(right / total, 4) for rule, (right, total) in sorted(stats.items())
            if total >= EXACT_SUPPORT and right / total >= EXACT_PRECISION
            and not rule.startswith(("cue", "default", "bare", "no-words", "foreign", "head:"))}


def adam_step(params, grads, moments: list, step: int, learning_rate: float,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One full-batch Adam update of `params` in place (`moments`: first and second moment per param)."""
    correction1, correction2 = 1 - beta1 ** step, 1 - beta2 ** step
    for k, (param, grad) in enumerate(zip(params, grads)):
        first, second = moments[2 * k], moments[2 * k + 1]
        first *= beta1
        first += (1 - beta1) * grad
        second *= beta2
        second += (1 - beta2) * grad * grad
        param -= learning_rate * (first / correction1) / (np.sqrt(second / correction2) + eps)


def _rule_hits(names: Sequence[str], rule_types: np.ndarray, labels: np.ndarray) -> dict[str, list[int]]:
    """Rule name -> [rows it read right, rows it read]."""
    stats: dict[str, list[int]] = {}
    for name, predicted, label in zip(names, rule_types, labels):
        hit = stats.setdefault(name, [0, 0])
        hit[0] += int(predicted == label)
        hit[1] += 1
    return stats


def rule_scores(names: Sequence[str], rule_types: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Every rule (not a cue-word guess) read on at least CERTAIN_SUPPORT rows: name -> its precision."""
    stats = _rule_hits(names, rule_types, labels)
    return {name: round(right / total, 4) for name, (right, total) in sorted(stats.items())
            if total >= CERTAIN_SUPPORT and not name.startswith(("cue", "default", "bare", "no-words", "foreign"))}


def certain_rules(names: Sequence[str], rule_types: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Rules right on at least CERTAIN_PRECISION of at least CERTAIN_SUPPORT rows: name -> precision."""
    stats = _rule_hits(names, rule_types, labels)
    return {name: round(right / total, 4) for name, (right, total) in sorted(stats.items())
            if total >= CERTAIN_SUPPORT and right / total >= CERTAIN_PRECISION
            and not name.startswith(("cue", "default", "bare", "no-words", "foreign"))}


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of out-of-fold logits (grid search)."""
    best, best_nll = 1.0, float("inf")
    for temperature in np.exp(np.linspace(np.log(0.2), np.log(5.0), 81)):
        p = softmax(logits / temperature)
        nll = -float(np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12)))
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return best


NEAR_TWIN_SIMILARITY = 0.8


def _template_tokens(template: str) -> set[str]:
    return set(re.findall(r"\{\w+\}|[a-z0-9']+", template.lower().lstrip("!")))


def deframed(text: str) -> str:
    """An instruction without politeness, framing and the generator's trailing clauses: what a phrasing says."""
    from polaris_core.parse.normalise import _strip_framing, normalise
    from polaris_core.parse.training_set import EXTRA_CLAUSES

    t = normalise(text).strip(" .!?")
    for clause in sorted({c.strip().lower() for group in EXTRA_CLAUSES.values() for c in group}, key=len, reverse=True):
        clause = clause.strip(" ,.")
        if t.endswith(clause):
            t = t[: -len(clause)].strip(" ,.")
            break
    return _strip_framing(t).strip(" ,.!?")


def template_groups(templates: Sequence[str], texts: Sequence[str],
                    template_text: dict[str, str] | None = None) -> list[str]:
    """A group per row: its template joined with every near-twin template (token Jaccard similarity of the
    template texts >= 0.8) and with every template that renders the same de-framed text, so no phrasing
    and no de-framed instruction appears in two folds."""
    from polaris_core.parse.training_set import TEMPLATES

    template_text = template_text if template_text is not None else TEMPLATES
    keys = sorted(set(templates))
    parent = {k: k for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    tokens = {k: _template_tokens(template_text.get(k, k)) for k in keys}
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            both = tokens[a] | tokens[b]
            if both and len(tokens[a] & tokens[b]) / len(both) >= NEAR_TWIN_SIMILARITY:
                union(a, b)
    first_template: dict[str, str] = {}
    for text, key in zip(texts, templates):
        plain = deframed(text)
        if plain in first_template:
            union(first_template[plain], key)
        else:
            first_template[plain] = key
    return [find(k) for k in templates]


def group_folds(groups: Sequence[str], folds: int = FOLDS, seed: int = FOLD_SEED) -> np.ndarray:
    """Fold number per row; every group in one fold (groups shuffled with a fixed seed)."""
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[i]: k % folds for k, i in enumerate(order)}
    return np.array([fold_of[g] for g in groups])


@dataclass
class CrossValidation:
    grouped_by: str
    folds: int
    predicted: np.ndarray              # the hybrid's type per row (certain rule, else the head)
    logits: np.ndarray                 # the head's out-of-fold logits
    labels: np.ndarray
    fast_path: np.ndarray              # rows a certain rule decided
    seconds: float = 0.0
    subjects: list[str] = field(default_factory=list)        # the parser's subject per row (same fold's head)
    gold_subjects: list[str] = field(default_factory=list)
    # subjects per way of combining the tagger with the rules ("rules only", "tagger", "combined (...)")
    variant_subjects: dict[str, list[str]] = field(default_factory=dict)
    spans: list = field(default_factory=list)          # the tagger's out-of-fold reading per row, when given
    new_objects: list[str] = field(default_factory=list)   # a replacement's labelled new object per row
    # the generation prompt per way of reading a replacement's new object ("new object: rules", "new object τ")
    variant_prompts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def subject_exact_match(self) -> float | None:
        return self.exact_match(self.subjects)

    def exact_match(self, subjects: Sequence[str], index: np.ndarray | None = None) -> float | None:
        rows = range(len(subjects)) if index is None else index
        pairs = [(subjects[i], self.gold_subjects[i]) for i in rows if self.gold_subjects[i]]
        return float(np.mean([s == g for s, g in pairs])) if pairs else None

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predicted == self.labels))

    def confusion(self) -> list[list[int]]:
        matrix = [[0] * N_TYPES for _ in range(N_TYPES)]
        for t, p in zip(self.labels, self.predicted):
            matrix[int(t)][int(p)] += 1
        return matrix

    def recall(self) -> dict[int, float]:
        return {t: float(np.mean(self.predicted[self.labels == t] == t)) for t in range(N_TYPES)
                if np.any(self.labels == t)}


def head_config(head: TypeHead) -> HeadConfig:
    """The features a trained head reads (its training settings do not matter for reading)."""
    return HeadConfig(pooling=head.pooling, rule_frames=head.rule_frames,
                      hidden=0 if head.hidden_weights is None else int(head.hidden_weights.shape[0]))


def hybrid_predictions(head: TypeHead, features: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(types, probabilities, fast-path mask): a certain rule decides alone, the head decides the rest."""
    probabilities = head.probabilities(features.matrix_for(head_config(head)))
    fast = np.array([head.rule_precision(name) is not None for name in features.rules.names])
    types = np.where(fast, features.rules.types, probabilities.argmax(1))
    return types, probabilities, fast


TAGGER_THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9)
NEW_OBJECT_THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)
REPLACE = 0  # InstructionType.REPLACE


def _decide_or_none(reading, prepared, head, pooled, spans, policy):
    """The intent one span policy reads from a row, or None where the parser refuses the row."""
    from polaris_core.errors import PolarisError
    from polaris_core.parse.offline import decide  # offline imports this module

    try:
        return decide(reading, prepared, head, pooled, spans, policy)
    except PolarisError:
        return None


def cross_validate(features: Features, labels: np.ndarray, groups: Sequence[str], grouped_by: str,
                   folds: int = FOLDS, subjects: Sequence[str] | None = None, spans: Sequence | None = None,
                   thresholds: Sequence[float] = TAGGER_THRESHOLDS, config: HeadConfig | None = None) -> CrossValidation:
    """Grouped K-fold of the whole parser: each held-out row goes through `offline.decide` (certain rules, the
    fold's head, the slots of the chosen type), so type and subject are what the parser would return.

    With `spans` (the span tagger's out-of-fold reading of every row, `span_training.tagger_folds` on the same
    folds) each row is also decided with the tagger's subject: "tagger" (whenever it finds a span),
    and "combined τ" (the rules' subject where the fold's training rows show their rule exact, else the tagger's
    when its confidence is at least τ; "checked": and its span passes `offline.span_is_plausible`). The main `subjects` stay the rules' own ("rules only")."""
    from polaris_core.errors import PolarisError
    from polaris_core.parse.offline import decide
    from polaris_core.parse.span_tagger import SpanPolicy

    started = time.perf_counter()
    config = config or DEFAULT_CONFIG
    fold_of = group_folds(groups, folds)
    x = features.matrix_for(config)
    pooled = features.pooled(config.pooling)
    predicted = np.zeros(len(labels), dtype=np.int64)
    logits = np.zeros((len(labels), N_TYPES), dtype=np.float32)
    fast = np.zeros(len(labels), dtype=bool)
    found = [""] * len(labels)
    variants: dict[str, list[str]] = {}
    prompts: dict[str, list[str]] = {}
    if spans is not None:
        prompts = {"new object: rules": [""] * len(labels)}
        prompts.update({f"new object {t:.2f}": [""] * len(labels) for t in NEW_OBJECT_THRESHOLDS})
        variants = {"tagger": [""] * len(labels)}
        variants.update({f"combined {t:.1f}{end}": [""] * len(labels) for t in thresholds for end in ("", " checked")})
    for k in range(folds):
        train, test = np.where(fold_of != k)[0], np.where(fold_of == k)[0]
        if not len(test):
            continue
        train_names = [features.rules.names[i] for i in train]
        rules = certain_rules(train_names, features.rules.types[train], labels[train])
        scores = rule_scores(train_names, features.rules.types[train], labels[train])
        head = TypeHead(**fit_config(x[train], labels[train], config), certain_rules=rules, rule_scores=scores)
        logits[test] = head.logits(x[test])
        policies = {}
        if spans is not None:
            exact = exact_subject_rules(train_names, [features.rules.subjects[i] for i in train],
                                        [subjects[i] for i in train])
            policies = {"tagger": SpanPolicy(0.0, {})}
            policies.update({f"combined {t:.1f}{end}": SpanPolicy(t, exact, bool(end))
                             for t in thresholds for end in ("", " checked")})
            # the new object's threshold, with the subject read as shipped before it (0.0, checks on)
            new_object_policies = {"new object: rules": SpanPolicy(0.0, exact, True)}
            new_object_policies.update({f"new object {t:.2f}": SpanPolicy(0.0, exact, True, t)
                                        for t in NEW_OBJECT_THRESHOLDS})
        if not features.rules.readings:
            types, _, fast_rows = hybrid_predictions(head, features.subset(test))
            predicted[test], fast[test] = types, fast_rows
            continue
        for i in test:
            prepared, reading = features.rules.readings[i]
            try:
                intent = decide(reading, prepared, head, pooled[i])
            except PolarisError:
                predicted[i] = -1
                continue
            predicted[i], found[i] = int(intent.instruction_type), intent.subject
            fast[i] = not any(note.startswith("type head:") for note in intent.notes)
            for name, policy in policies.items():
                if (variant := _decide_or_none(reading, prepared, head, pooled[i], spans[i], policy)) is not None:
                    variants[name][i] = variant.subject
            if spans is not None and labels[i] == REPLACE:
                for name, policy in new_object_policies.items():
                    if (variant := _decide_or_none(reading, prepared, head, pooled[i], spans[i], policy)) is not None:
                        prompts[name][i] = variant.generation_prompt
    return CrossValidation(grouped_by, folds, predicted, logits, labels, fast, time.perf_counter() - started,
                           subjects=found if features.rules.readings else [],
                           gold_subjects=list(subjects) if subjects is not None else [],
                           variant_subjects=variants, variant_prompts=prompts)


def fit_head(features: Features, labels: np.ndarray, groups: Sequence[str], meta: dict | None = None,
             config: HeadConfig | None = None) -> TypeHead:
    """The head trained on all rows, its temperature fit on out-of-fold logits grouped by `groups`
    (templates and their near-twins)."""
    config = config or DEFAULT_CONFIG
    cv = cross_validate(features, labels, groups, "template group", config=config)
    temperature = fit_temperature(cv.logits, labels)
    rules = certain_rules(features.rules.names, features.rules.types, labels)
    scores = rule_scores(features.rules.names, features.rules.types, labels)
    info = {"rows": int(len(labels)), **config.as_meta(), "template_group_cv_accuracy": round(cv.accuracy, 4)}
    info.update(meta or {})
    return TypeHead(**fit_config(features.matrix_for(config), labels, config), temperature=temperature,
                    certain_rules=rules, rule_scores=scores, ambiguous_below=AMBIGUOUS_BELOW, meta=info)


@dataclass
class TrainingData:
    texts: list[str]
    labels: np.ndarray
    families: list[str]
    templates: list[str]
    subjects: list[str] = field(default_factory=list)


def project_rows() -> TrainingData:
    from polaris_core.parse.training_set import load_rows

    rows = load_rows()
    return TrainingData([r["instruction"] for r in rows], np.array([int(r["instruction_type"]) for r in rows]),
                        [r["family"] for r in rows], [r["template"] for r in rows], [r["subject"] for r in rows])


def dev_rows(path) -> TrainingData:
    """The dev split as extra training rows (for the shipped head only): each row is its own family."""
    import json

    from polaris_core.intent import coerce_instruction_type

    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(row["instruction"])
            labels.append(int(coerce_instruction_type(row["instruction_type"])))
    ids = [f"dev-{i}" for i in range(len(texts))]
    return TrainingData(texts, np.array(labels), ids, ["dev"] * len(texts))


def join(first: TrainingData, second: TrainingData) -> TrainingData:
    return TrainingData(first.texts + second.texts, np.concatenate([first.labels, second.labels]),
                        first.families + second.families, first.templates + second.templates,
                        first.subjects + second.subjects)


def train_heads(dev_path=None, out_dir=None, encoder=None) -> dict:
    """Train and save both heads; returns the figures.

    - `type_head_no_dev.json`: the project set only. Its family-grouped CV fits the temperature, and the
      bench scores the dev split with it (a split it never saw).
    - `type_head.json` (shipped, used by the parser): the project set plus the dev split when `dev_path`
      is given, with the same temperature.
    """
    from pathlib import Path

    from polaris_core.parse.head import HEAD_FILE, HEAD_FILE_NO_DEV

    started = time.perf_counter()
    project = project_rows()
    texts = list(project.texts)
    dev = dev_rows(Path(dev_path)) if dev_path else None
    if dev is not None:
        texts += dev.texts
    from polaris_core.embed.text import load_text_encoder

    encoder = encoder or load_text_encoder()
    all_features = prepare_features(texts, encoder)
    encoded = time.perf_counter()
    n = len(project.texts)
    project_features = all_features.subset(np.arange(n))
    groups = template_groups(project.templates, project.texts)
    no_dev = fit_head(project_features, project.labels, groups,
                      meta={"trained_on": "project set", "encoder": encoder.encoder_id})
    heads = {"no_dev": no_dev}
    if dev is not None:
        both = join(project, dev)
        arrays = fit_config(all_features.matrix_for(DEFAULT_CONFIG), both.labels, DEFAULT_CONFIG)
        rules = certain_rules(all_features.rules.names, all_features.rules.types, both.labels)
        heads["final"] = TypeHead(**arrays, temperature=no_dev.temperature, certain_rules=rules,
                                  rule_scores=rule_scores(all_features.rules.names, all_features.rules.types,
                                                          both.labels),
                                  meta={**no_dev.meta, "rows": int(len(both.labels)),
                                        "trained_on": "project set + dev split"})
    else:
        heads["final"] = no_dev
    folder = Path(out_dir) if out_dir else HEAD_FILE.parent
    heads["no_dev"].save(folder / HEAD_FILE_NO_DEV.name)
    heads["final"].save(folder / HEAD_FILE.name)
    return {"rows": n, "dev_rows": len(dev.texts) if dev else 0, "encode_seconds": encoded - started,
            "total_seconds": time.perf_counter() - started, "temperature": no_dev.temperature,
            "template_group_cv_accuracy": no_dev.meta["template_group_cv_accuracy"],
            "certain_rules": len(heads["final"].certain_rules),
            "folder": str(folder)}
