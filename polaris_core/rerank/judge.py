"""How much say the LLM judge gets: the ranking key, the weight learned on dev, and where it is kept.

Ranking key (`ranking_keys`): key = judge_weight · JUDGE_WINDOW · LLM score − retrieval place. The LLM
score is in [0, 1], so the LLM alone can lift a candidate past at most ⌊JUDGE_WINDOW⌋ = 2 better-retrieved
candidates: a candidate outside retrieval's top 3 never becomes the first pick on the LLM's word, whatever
its description says. judge_weight 0 is retrieval's order (and the reranker skips the forward pass).

The weight is learned per model (`fit_judge_weight`): for dev queries, pick the weight on a grid that
maximises MRR on the other folds' queries, score the held-out fold with it (cross-validation over queries),
and report R@1 / MRR with and without the judge with bootstrap intervals. The chosen weight is fitted on
all queries. Weights are kept in a small JSON file (never pickle) keyed by the model's fingerprint.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from polaris_core.errors import ConfigError

log = logging.getLogger("polaris")

JUDGE_WINDOW = 2.5
WEIGHT_GRID = tuple(i / 10 for i in range(11))
SKIP_BELOW = 0.05  # a measured weight under this is "about zero": the forward pass is not worth its seconds
WEIGHTS_VERSION = 1
WEIGHTS_FILE = "judge-weights.json"
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / WEIGHTS_FILE
SAMPLE_BYTES = 1 << 20


def retrieval_places(retrieval_scores: Sequence[float]) -> list[int]:
    """Each candidate's place in retrieval's order (0 = best; ties keep input order)."""
    order = sorted(range(len(retrieval_scores)), key=lambda i: (-float(retrieval_scores[i]), i))
    places = [0] * len(order)
    for place, i in enumerate(order):
        places[i] = place
    return places


def ranking_keys(llm_scores: Sequence[float], places: Sequence[int], judge_weight: float) -> list[float]:
    """judge_weight · JUDGE_WINDOW · LLM score − retrieval place (higher is better)."""
    w = min(max(float(judge_weight), 0.0), 1.0)
    return [w * JUDGE_WINDOW * float(s) - float(p) for s, p in zip(llm_scores, places)]


# ---- model identity ------------------------------------------------------------------------------------
def model_fingerprint(path: str | os.PathLike) -> str:
    """A content fingerprint of an LLM file or folder: sha256 over each weight/config file's name, size and its
    first, middle and last MiB (whole-file hashes of multi-GB models would cost seconds on every load)."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in
                       (".safetensors", ".gguf", ".json", ".model", ".txt"))
    else:
        raise FileNotFoundError(f"No LLM at {p}; give a transformers folder or a .gguf file.")
    digest = hashlib.sha256()
    for f in files:
        size = f.stat().st_size
        digest.update(f"{f.name}\0{size}\0".encode())
        with open(f, "rb") as fh:
            for start in sorted({0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)}):
                fh.seek(start)
                digest.update(fh.read(SAMPLE_BYTES))
    return "sha256-sampled:" + digest.hexdigest()


# ---- the stored weights --------------------------------------------------------------------------------
@dataclass
class JudgeRecord:
    """What was measured for one model: the weight and the evidence behind it."""

    model: str                      # file or folder name, for people
    fingerprint: str
    judge_weight: float
    measured: dict = field(default_factory=dict)  # split, queries, R@1/MRR with and without the judge, CIs

    def describe(self) -> str:
        m = self.measured
        if not m:
            return f"judge weight {self.judge_weight:.2f}"
        return (f"judge weight {self.judge_weight:.2f} measured on {m.get('queries', '?')} {m.get('split', '')} dev "
                f"queries: MRR {m.get('mrr_without', float('nan')):.3f} without the judge, "
                f"{m.get('mrr_with', float('nan')):.3f} with it (cross-validated)")


def _finite_weight(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            not 0.0 <= value <= 1.0:
        raise ValueError(f"judge_weight {value!r} is not a number between 0 and 1")
    return float(value)


def read_weights(path: str | os.PathLike) -> dict[str, JudgeRecord]:
    """fingerprint → record from a weights JSON file ({} when the file is absent)."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("version") != WEIGHTS_VERSION or not isinstance(data.get("models"), dict):
            raise ValueError(f"expected version {WEIGHTS_VERSION} with a 'models' object")
        return {str(k): JudgeRecord(model=str(v.get("model", "")), fingerprint=str(k),
                                    judge_weight=_finite_weight(v.get("judge_weight")),
                                    measured=dict(v.get("measured") or {}))
                for k, v in data["models"].items()}
    except (OSError, ValueError, AttributeError, TypeError, RecursionError) as exc:
        raise ConfigError(f"The judge weights file {p} is damaged ({exc}); delete it and run "
                          "`polaris bench rerank --quality --save` again.") from exc


def save_weight(path: str | os.PathLike, record: JudgeRecord) -> Path:
    """Add or replace one model's record in the weights JSON file (written atomically)."""
    from polaris_core.atomic import write_text_atomic

    p = Path(path)
    records = read_weights(p)
    records[record.fingerprint] = record
    data = {"version": WEIGHTS_VERSION,
            "models": {k: {"model": r.model, "judge_weight": r.judge_weight, "measured": r.measured}
                       for k, r in sorted(records.items())}}
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(p, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return p


_HOST_FILES: list[Callable[[], Sequence[Path]]] = []


def register_weight_files(files: Callable[[], Sequence[Path]]) -> None:
    """A host (ComfyUI: models/polaris/judge-weights.json) says where users keep measured weights, so every
    reranker it makes (the node's, the sidebar's) reads them."""
    if files not in _HOST_FILES:
        _HOST_FILES.append(files)


def find_weight(fingerprint: str, paths: Sequence[str | os.PathLike] = ()) -> Optional[JudgeRecord]:
    """The record for this model: the given files first (in order), then the host's, then the one shipped with
    Polaris."""
    host = [f for files in _HOST_FILES for f in files()]
    for path in [*paths, *host, SHIPPED_WEIGHTS]:
        record = read_weights(path).get(fingerprint)
        if record is not None:
            return record
    return None


# ---- learning the weight -------------------------------------------------------------------------------
@dataclass
class Pool:
    """One dev query: retrieval's candidates in retrieval order, their LLM scores, and the target's place."""

    llm_scores: list[float]
    retrieval_scores: list[float]
    target: Optional[int]  # index of the target among the candidates, None when retrieval missed it


def reciprocal_rank(pool: Pool, judge_weight: float) -> float:
    if pool.target is None:
        return 0.0
    keys = ranking_keys(pool.llm_scores, retrieval_places(pool.retrieval_scores), judge_weight)
    order = sorted(range(len(keys)), key=lambda i: (-keys[i], -pool.retrieval_scores[i], i))
    return 1.0 / (order.index(pool.target) + 1)


def best_weight(pools: Sequence[Pool], grid: Sequence[float] = WEIGHT_GRID) -> float:
    """The grid weight with the highest mean reciprocal rank; ties go to the smaller weight (cheaper, safer)."""
    best, best_mrr = 0.0, -1.0
    for w in sorted(grid):
        mrr = sum(reciprocal_rank(p, w) for p in pools) / max(len(pools), 1)
        if mrr > best_mrr + 1e-12:
            best, best_mrr = w, mrr
    return best


def _bootstrap(values: Sequence[float], samples: int, rng: random.Random) -> tuple[float, float]:
    if not values:
        return (float("nan"), float("nan"))
    means = sorted(sum(rng.choice(values) for _ in values) / len(values) for _ in range(samples))
    return (round(means[int(0.025 * samples)], 4), round(means[min(samples - 1, int(0.975 * samples))], 4))


def fit_judge_weight(pools: Sequence[Pool], folds: int = 5, grid: Sequence[float] = WEIGHT_GRID,
                     bootstrap: int = 1000, seed: int = 0) -> dict:
    """Cross-validate the judge weight over queries; returns the fitted weight and the evidence.

    Each query is held out once: its weight is chosen on the other folds, so `mrr_with` / `r1_with` are
    honest estimates of the judge as it would be used. `judge_weight` is then fitted on every query, and
    kept only when the cross-validated MRR gain is positive (otherwise 0: the judge is skipped).
    """
    if not pools:
        raise ConfigError("No dev queries were scored; nothing to learn a judge weight from.")
    folds = max(2, min(int(folds), len(pools)))
    order = list(range(len(pools)))
    random.Random(seed).shuffle(order)
    held_out_weight = [0.0] * len(pools)
    chosen = []
    for f in range(folds):
        test = set(order[f::folds])
        w = best_weight([p for i, p in enumerate(pools) if i not in test], grid)
        chosen.append(w)
        for i in test:
            held_out_weight[i] = w
    rr_with = [reciprocal_rank(p, held_out_weight[i]) for i, p in enumerate(pools)]
    rr_without = [reciprocal_rank(p, 0.0) for p in pools]
    hit_with = [1.0 if r == 1.0 else 0.0 for r in rr_with]
    hit_without = [1.0 if r == 1.0 else 0.0 for r in rr_without]
    diff = [a - b for a, b in zip(rr_with, rr_without)]
    rng = random.Random(seed)
    mean = lambda v: round(sum(v) / len(v), 4)  # noqa: E731
    gain = sum(diff) / len(diff)
    return {
        # A weight is adopted only when it helps on held-out queries; else the judge is not worth its seconds.
        "judge_weight": best_weight(pools, grid) if gain > 1e-9 else 0.0,
        "fold_weights": chosen,
        "queries": len(pools),
        "target_in_pool": mean([0.0 if p.target is None else 1.0 for p in pools]),
        "r1_without": mean(hit_without), "r1_without_ci": _bootstrap(hit_without, bootstrap, rng),
        "r1_with": mean(hit_with), "r1_with_ci": _bootstrap(hit_with, bootstrap, rng),
        "mrr_without": mean(rr_without), "mrr_without_ci": _bootstrap(rr_without, bootstrap, rng),
        "mrr_with": mean(rr_with), "mrr_with_ci": _bootstrap(rr_with, bootstrap, rng),
        "mrr_gain": mean(diff), "mrr_gain_ci": _bootstrap(diff, bootstrap, rng),
    }
