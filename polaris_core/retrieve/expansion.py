"""Learned document expansion for models with no (or few) example prompts.

A model with no example prompts is found only through its title, tags and card text, which rarely
use the words people prompt with ("X-Ray Heads" vs "skeleton, glowing bones, dark background").
Models that do have prompts show how such metadata maps to prompt words. This module learns that
map as term associations and writes the predicted prompt terms of a sparse entry into an extra
`expanded` chunk (`polaris_core.embed.chunks`), which both BM25 and the sentence encoder read.

The model: every entry has metadata *features* (namespaced, so the same word means different things
in different places): `w:` words of the name, version name and trigger words, `t:` whole tags,
`d:` words of the card text, `a:` the author, `b:` the base family, `k:` kind and role. Every
training model has a prompt-term profile f_m(t): the share of its example prompts holding term t
(words, and word pairs inside one comma-separated segment). For each feature s, seen on n_s training
models,

    P(t | s) = (sum of f_m(t) over models with s + alpha * P(t)) / (n_s + alpha)

(shrunk towards the background P(t), the mean profile). An entry's prediction mixes its features'
P(t | s) weighted by idf(s) * namespace weight, and keeps the K terms with the largest
P(t | e) * log(P(t | e) / P(t)): likely and more likely than elsewhere.

The model is fitted from a catalog by `fit` (deterministic: no randomness, ties broken by term),
ships as gzip'ed JSON (`DEFAULT_MODEL_FILE`, no pickle), and is applied at index build to entries
with at most `max_prompts` example prompts. Cross-validation (`fit_folds`, `FoldExpander`) fits
one model per fold of models and expands each entry with the model that never saw its model's
prompts: that is how `polaris bench retrieval --expansion cv` measures it.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
from scipy import sparse

from polaris_core.embed.lexical import normalize_prompt, tokenize
from polaris_core.errors import ConfigError
from polaris_core.zoo.entry import ZooEntry

log = logging.getLogger("polaris")

FORMAT = "polaris-prompt-expansion"
FORMAT_VERSION = 1
DEFAULT_MODEL_FILE = Path(__file__).parent / "data" / "prompt_expansion.json.gz"
MAX_MODEL_FILE_BYTES = 32 * 1024 * 1024  # the shipped one is a few MB; anything far larger is not ours
NAMESPACES = ("w", "t", "d", "a", "b", "k")

_SEGMENTS = re.compile(r"[,\n;|]+")
_MAX_SEGMENT_WORDS = 8
_MAX_DESCRIPTION_CHARS = 1500
_MAX_DESCRIPTION_WORDS = 120


@dataclass
class ExpansionParams:
    """Settings of a fit and of its predictions (stored in the model file)."""

    alpha: float = 2.0                  # shrinkage of P(t|s) towards the background, in pseudo-models
    min_support: int = 3                # a feature must occur on this many training models ...
    min_author_support: int = 1         # ... an author on this many (one sibling already tells a style)
    max_feature_share: float = 0.3      # features on more than this share of models carry nothing (stop words)
    min_term_models: int = 3            # a prompt term must occur on this many training models
    terms_per_feature: int = 40         # stored associations per feature (the largest lifts)
    namespace_weights: dict = field(default_factory=lambda: {"w": 1.0, "t": 1.0, "d": 0.5, "a": 2.0,
                                                             "b": 0.3, "k": 0.3})
    terms: int = 24                     # predicted terms written into an expansion
    max_prompts: int = 0                # expand entries with at most this many example prompts

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- features and targets

def metadata_features(entry: ZooEntry) -> list[str]:
    """The entry's metadata features, sorted and unique. Never reads its example or related prompts."""
    found: set[str] = set()
    for text in [entry.name, entry.version_name, *entry.trigger_words]:
        found.update(f"w:{w}" for w in tokenize(text) if len(w) > 1)
    found.update(f"t:{t.strip().lower()}" for t in entry.tags if t.strip())
    words = tokenize((entry.description or "")[:_MAX_DESCRIPTION_CHARS])
    found.update(f"d:{w}" for w in list(dict.fromkeys(w for w in words if len(w) > 1))[:_MAX_DESCRIPTION_WORDS])
    author = (entry.author or "").strip().lower()
    if author:
        found.add(f"a:{author}")
    found.add(f"b:{entry.base_family or 'unknown'}")
    found.add(f"k:{entry.kind}/{entry.role}")
    return sorted(found)


def prompt_terms(prompt: str) -> set[str]:
    """Terms of one prompt: words, and adjacent word pairs within one comma-separated segment."""
    terms: set[str] = set()
    for segment in _SEGMENTS.split(normalize_prompt(prompt)):
        words = [w for w in tokenize(segment)[:_MAX_SEGMENT_WORDS] if len(w) > 1 or not w.isascii()]
        terms.update(words)
        terms.update(f"{a} {b}" for a, b in zip(words, words[1:]))
    return terms


def prompt_profile(prompts: Sequence[str]) -> dict[str, float]:
    """Share of the prompts holding each term."""
    counts: dict[str, int] = {}
    for prompt in prompts:
        for term in prompt_terms(prompt):
            counts[term] = counts.get(term, 0) + 1
    n = max(len(prompts), 1)
    return {t: c / n for t, c in counts.items()}


def model_key(entry: ZooEntry) -> str:
    """Versions of one model are one training example (and one cross-validation group)."""
    return f"civitai:{entry.civitai_model_id}" if entry.civitai_model_id is not None else f"entry:{entry.id}"


def fold_of(key: str, folds: int) -> int:
    """The cross-validation fold of a model (fixed, by a hash of its key)."""
    return zlib.crc32(key.encode("utf-8")) % folds


# ---------------------------------------------------------------- the model

class PromptExpander:
    """Fitted term associations: predicts prompt terms from an entry's metadata."""

    def __init__(self, params: ExpansionParams, terms: list[str], background: np.ndarray,
                 features: dict[str, tuple[float, np.ndarray, np.ndarray]], meta: Optional[dict] = None) -> None:
        self.params = params
        self.terms = terms                  # term strings
        self.background = background        # float64 (terms,): P(t)
        self.features = features            # feature -> (weight, term ids, P(t|s))
        self.meta = meta or {}
        self._id: Optional[str] = None

    # ------------------------------------------------------------ prediction
    def is_sparse(self, entry: ZooEntry) -> bool:
        return len(entry.example_prompts) <= self.params.max_prompts

    def predict(self, entry: ZooEntry, k: Optional[int] = None) -> list[tuple[str, float]]:
        """(term, score) of the top `k` predicted prompt terms, best first; [] when no feature is known."""
        k = self.params.terms if k is None else k
        known = [self.features[s] for s in metadata_features(entry) if s in self.features]
        total = sum(weight for weight, _, _ in known)
        if not known or total <= 0 or k <= 0:
            return []
        # Each term's shift: the features' shares summed in the order a loop over them adds them (np.add.at
        # adds in order), so the sums are bit for bit those of that loop. A per-term Python loop here was
        # two thirds of an index build's time (~1,000 candidate terms per sparse entry).
        ids = np.concatenate([term_ids for _, term_ids, _ in known])
        gains = np.concatenate([(weight / total) * (probs - self.background[term_ids])
                                for weight, term_ids, probs in known])
        tids, at = np.unique(ids, return_inverse=True)
        shift = np.zeros(len(tids))
        np.add.at(shift, at, gains)
        positive = shift > 0
        tids, shift = tids[positive], shift[positive]
        if not len(tids):
            return []
        bg = self.background[tids]
        p = bg + shift
        rough = p * np.log(p / bg)  # np.log may differ from math.log in the last bit: used only to pick
        if len(rough) > k:
            cut = float(np.partition(rough, len(rough) - k)[len(rough) - k])
            near = np.flatnonzero(rough >= cut - 1e-9 * abs(cut))  # far wider than any last-bit difference
        else:
            near = np.arange(len(rough))
        scored = [(pi * math.log(pi / bi), self.terms[tid]) for pi, bi, tid in
                  zip(p[near].tolist(), bg[near].tolist(), tids[near].tolist())]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [(term, round(score, 6)) for score, term in scored[:k]]

    def expansion(self, entry: ZooEntry) -> str:
        """The expansion text of a sparse entry ("" for others): predicted terms, comma-separated."""
        if not self.is_sparse(entry):
            return ""
        return ", ".join(term for term, _ in self.predict(entry))

    @property
    def model_id(self) -> str:
        """A content hash: identical fits give identical ids."""
        if self._id is None:
            self._id = hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()[:16]
        return self._id

    # ------------------------------------------------------------ persistence
    def to_json(self) -> str:
        names = sorted(self.features)
        offsets, ids, probs, weights = [0], [], [], []
        for name in names:
            weight, term_ids, p = self.features[name]
            weights.append(round(float(weight), 5))
            ids.extend(int(t) for t in term_ids)
            probs.extend(round(float(x), 6) for x in p)
            offsets.append(len(ids))
        return json.dumps({
            "format": FORMAT, "format_version": FORMAT_VERSION, "params": self.params.to_dict(), "meta": self.meta,
            "terms": self.terms, "background": [round(float(x), 8) for x in self.background],
            "features": names, "weights": weights, "offsets": offsets, "term_ids": ids, "probs": probs,
        }, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as fh:
            fh.write(self.to_json().encode("utf-8"))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL_FILE) -> "PromptExpander":
        """Read a model file (gzip'ed JSON; nothing is unpickled). ConfigError when it is not a valid one."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_MODEL_FILE_BYTES:
                raise ConfigError(f"{path} is too large to be a prompt-expansion model.")
            with gzip.open(path, "rb") as fh:
                raw = fh.read(MAX_MODEL_FILE_BYTES * 8)
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError, EOFError) as exc:
            raise ConfigError(f"Cannot read the prompt-expansion model {path} ({exc}); reinstall Polaris or "
                              "retrain it with `python scripts/train_expansion.py`.") from exc
        model = cls.from_dict(data, str(path))
        # The file holds `to_json()` as `save` wrote it, so its bytes give the same id without writing the JSON
        # again (1.5 s, paid by the first build or update of every process).
        model._id = hashlib.sha256(raw).hexdigest()[:16]
        return model

    @classmethod
    def from_dict(cls, data: dict, where: str = "model") -> "PromptExpander":
        def bad(what: str) -> ConfigError:
            return ConfigError(f"The prompt-expansion model {where} is damaged ({what}); reinstall Polaris or "
                               "retrain it with `python scripts/train_expansion.py`.")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise bad("not a prompt-expansion model")
        if data.get("format_version") != FORMAT_VERSION:
            raise bad(f"format version {data.get('format_version')!r}, expected {FORMAT_VERSION}")
        try:
            known = set(ExpansionParams.__dataclass_fields__)
            params = ExpansionParams(**{k: v for k, v in dict(data["params"]).items() if k in known})
            terms = [str(t) for t in data["terms"]]
            background = np.asarray(data["background"], dtype=np.float64)
            names = [str(n) for n in data["features"]]
            weights = np.asarray(data["weights"], dtype=np.float64)
            offsets = np.asarray(data["offsets"], dtype=np.int64)
            ids = np.asarray(data["term_ids"], dtype=np.int64)
            probs = np.asarray(data["probs"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(repr(exc)) from exc
        ok = (background.shape == (len(terms),) and weights.shape == (len(names),)
              and offsets.shape == (len(names) + 1,) and ids.shape == probs.shape and ids.ndim == 1
              and (not len(offsets) or (offsets[0] == 0 and offsets[-1] == len(ids)))
              and bool(np.all(np.diff(offsets) >= 0)))
        ok = ok and all(np.isfinite(a).all() for a in (background, weights, probs))
        ok = ok and bool((background > 0).all()) and bool((probs >= 0).all()) and bool((weights >= 0).all())
        ok = ok and (not len(ids) or (int(ids.min()) >= 0 and int(ids.max()) < len(terms)))
        if not ok:
            raise bad("inconsistent or non-finite arrays")
        features = {name: (float(weights[i]), ids[offsets[i]:offsets[i + 1]], probs[offsets[i]:offsets[i + 1]])
                    for i, name in enumerate(names)}
        return cls(params, terms, background, features, dict(data.get("meta") or {}))


# Whether index builds expand sparse entries unless told otherwise: set from the grouped
# cross-validation on the dev splits (README, "Models with no example prompts").
EXPANSION_BY_DEFAULT = True
DEFAULT = "default"   # index build: the shipped model if EXPANSION_BY_DEFAULT, else none
SHIPPED = "shipped"   # the shipped model

_default: Optional[PromptExpander] = None


def default_expander() -> PromptExpander:
    """The shipped model (loaded once)."""
    global _default
    if _default is None:
        _default = PromptExpander.load(DEFAULT_MODEL_FILE)
    return _default


def resolve_expander(value):
    """DEFAULT / SHIPPED / None / an expander object → an expander object or None."""
    if value == DEFAULT:
        value = SHIPPED if EXPANSION_BY_DEFAULT else None
    if value == SHIPPED:
        return default_expander()
    return value


# ---------------------------------------------------------------- fitting

@dataclass
class TrainingSet:
    """Per training model: its features and prompt profile (models with at least one example prompt)."""

    keys: list[str]
    features: list[list[str]]
    profiles: list[dict[str, float]]


def training_set(entries: Iterable[ZooEntry]) -> TrainingSet:
    """Group entries by model; a model's features are the union over versions, its profile is over
    all its versions' own example prompts (related prompts come from other pages: not used)."""
    features: dict[str, set[str]] = {}
    prompts: dict[str, list[str]] = {}
    for entry in entries:
        key = model_key(entry)
        features.setdefault(key, set()).update(metadata_features(entry))
        prompts.setdefault(key, []).extend(entry.example_prompts)
    keys = sorted(k for k, p in prompts.items() if p)
    return TrainingSet(keys, [sorted(features[k]) for k in keys], [prompt_profile(prompts[k]) for k in keys])


def fit(data: TrainingSet, params: Optional[ExpansionParams] = None, exclude: Optional[set[str]] = None,
        meta: Optional[dict] = None) -> PromptExpander:
    """Fit the associations on `data`'s models, leaving out the model keys in `exclude`."""
    params = params or ExpansionParams()
    rows = [i for i, k in enumerate(data.keys) if not exclude or k not in exclude]
    n = len(rows)
    if n == 0:
        raise ConfigError("No model with example prompts to learn the prompt expansion from; give a catalog "
                          "whose models have example images with prompts.")
    # Prompt terms on enough models, in sorted order (determinism).
    term_models: dict[str, int] = {}
    for i in rows:
        for t in data.profiles[i]:
            term_models[t] = term_models.get(t, 0) + 1
    terms = sorted(t for t, c in term_models.items() if c >= params.min_term_models)
    term_id = {t: j for j, t in enumerate(terms)}
    feature_models: dict[str, int] = {}
    for i in rows:
        for s in data.features[i]:
            feature_models[s] = feature_models.get(s, 0) + 1
    max_models = max(params.max_feature_share * n, params.min_support)

    def keep(s: str, c: int) -> bool:
        minimum = params.min_author_support if s.startswith("a:") else params.min_support
        return minimum <= c <= max_models and params.namespace_weights.get(s.split(":", 1)[0], 0.0) > 0

    names = sorted(s for s, c in feature_models.items() if keep(s, c))
    feature_id = {s: j for j, s in enumerate(names)}
    # Models × terms (profiles) and models × features (presence), sparse.
    t_rows, t_cols, t_vals, f_rows, f_cols = [], [], [], [], []
    for r, i in enumerate(rows):
        for t, share in data.profiles[i].items():
            j = term_id.get(t)
            if j is not None:
                t_rows.append(r)
                t_cols.append(j)
                t_vals.append(share)
        for s in data.features[i]:
            j = feature_id.get(s)
            if j is not None:
                f_rows.append(r)
                f_cols.append(j)
    profiles = sparse.csr_matrix((np.asarray(t_vals, np.float64), (t_rows, t_cols)), shape=(n, len(terms)))
    presence = sparse.csr_matrix((np.ones(len(f_rows)), (f_rows, f_cols)), shape=(n, len(names))).tocsc()
    background = np.asarray(profiles.sum(axis=0)).ravel() / n
    background = np.maximum(background, 0.5 / n)  # every kept term occurs; the floor only guards the log
    support = np.asarray(presence.sum(axis=0)).ravel()
    features: dict[str, tuple[float, np.ndarray, np.ndarray]] = {}
    block = 512
    presence_t = presence.T.tocsr()
    for start in range(0, len(names), block):
        stop = min(start + block, len(names))
        sums = (presence_t[start:stop] @ profiles).tocsr()  # features × terms: summed shares
        for local in range(stop - start):
            j = start + local
            row = sums.getrow(local)
            ids, total = row.indices, row.data
            n_s = float(support[j])
            probs = (total + params.alpha * background[ids]) / (n_s + params.alpha)
            lift = probs * np.log(probs / background[ids])
            good = lift > 0
            ids, probs, lift = ids[good], probs[good], lift[good]
            order = np.lexsort((ids, -lift))[:params.terms_per_feature]  # term ids are in term order
            order = order[np.argsort(ids[order], kind="stable")]
            if not len(order):
                continue
            namespace = names[j].split(":", 1)[0]
            weight = params.namespace_weights.get(namespace, 0.0) * math.log(n / n_s) * n_s / (n_s + params.alpha)
            if weight <= 0:
                continue
            features[names[j]] = (weight, ids[order].astype(np.int64), probs[order])
    # Keep only the terms some feature points to (the background of the rest is never read).
    used = sorted({int(t) for _, ids, _ in features.values() for t in ids})
    remap = np.full(len(terms), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    features = {s: (w, remap[ids], p) for s, (w, ids, p) in features.items()}
    info = {"training_models": n, **(meta or {})}
    return PromptExpander(params, [terms[t] for t in used], background[used], features, info)


def fit_folds(data: TrainingSet, folds: int, params: Optional[ExpansionParams] = None) -> list[PromptExpander]:
    """One model per fold, each fitted without the models of its fold (`fold_of`)."""
    out = []
    for k in range(folds):
        held_out = {key for key in data.keys if fold_of(key, folds) == k}
        out.append(fit(data, params, exclude=held_out, meta={"fold": k, "folds": folds}))
    return out


class FoldExpander:
    """Cross-validated expansion: an entry is expanded by the fold model that never saw its model."""

    def __init__(self, models: Sequence[PromptExpander]) -> None:
        self.models = list(models)
        self.params = self.models[0].params

    def model_for(self, entry: ZooEntry) -> PromptExpander:
        return self.models[fold_of(model_key(entry), len(self.models))]

    def is_sparse(self, entry: ZooEntry) -> bool:
        return self.model_for(entry).is_sparse(entry)

    def expansion(self, entry: ZooEntry) -> str:
        return self.model_for(entry).expansion(entry)

    @property
    def model_id(self) -> str:
        return "cv-" + hashlib.sha256("".join(m.model_id for m in self.models).encode()).hexdigest()[:12]


def train_from_catalog(paths: Sequence[str | Path], params: Optional[ExpansionParams] = None) -> PromptExpander:
    """The shipped model: fitted on every model with example prompts in the catalogs."""
    from polaris_core.zoo.civitai import load_catalog

    entries = load_catalog(paths, kinds=("checkpoint", "lora"), related_prompts=False)
    data = training_set(entries)
    return fit(data, params, meta={"catalogs": [Path(p).name for p in paths]})
