"""Training and honest evaluation of the learned ranker (ranker.py).

Training queries:
- the dev splits (`bench/*-dev.jsonl`): LoRA prompts as written and without trigger words, and
  checkpoint prompts;
- self-supervised pairs from the catalog itself: one example prompt of a model → that model (a
  LoRA prompt that holds a trigger word also gives a copy without it). The prompt's own chunks,
  in every entry that holds the same prompt, are left out of every channel for that query, so it
  cannot find itself.

Each query runs through `search_pool` (the same path as search) and `ranker.features`, so the
features are the ones search computes. Evaluation is K-fold cross-validation grouped by target
model: a model's queries (dev and catalog) never sit in both a training and a test fold. Only dev
queries are scored; a query whose target is not in the pool counts as a miss for both orders.
"""
from __future__ import annotations

import json
import logging
import math
import random
import re
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from polaris_core.embed.chunks import dense_prompt_text, entry_chunks
from polaris_core.retrieve.channels import query_vector, raw_query_vector
from polaris_core.retrieve.query_map import QueryMap, fit_query_map
from polaris_core.retrieve.ranker import FEATURES, MODEL_PATH
from polaris_core.retrieve.search import search_pool

log = logging.getLogger("polaris")

# Split codes of the feature table; the first three are the dev splits that are scored.
SPLIT_NAMES = ("lora", "lora_no_trigger", "checkpoint", "catalog_lora", "catalog_lora_no_trigger",
               "catalog_checkpoint")
DEV_FILES = (("lora-retrieval-dev.jsonl", "query", "lora", 0), ("lora-retrieval-dev.jsonl", "query_no_trigger",
             "lora", 1), ("checkpoint-retrieval-dev.jsonl", "query", "checkpoint", 2))
BANDS = (("0", 0, 0), ("1-3", 1, 3), ("4-10", 4, 10), (">10", 11, 10 ** 9))
CATALOG_LORAS = 2400        # self-supervised LoRA queries (one prompt per model)
CATALOG_CHECKPOINTS = 1200  # self-supervised checkpoint queries
FOLDS = 5
SEED = 0
FEATURE_VERSION = 5         # bump when features or training queries change (invalidates caches)
LGB_PARAMS = {
    "objective": "lambdarank", "metric": "ndcg", "eval_at": [1, 10], "learning_rate": 0.1,
    "num_leaves": 15, "min_data_in_leaf": 40, "feature_fraction": 0.8, "bagging_fraction": 0.8,
    "bagging_freq": 1, "lambda_l2": 1.0, "lambdarank_truncation_level": 20, "num_threads": 2,
    "seed": SEED, "deterministic": True, "force_row_wise": True, "verbosity": -1,
}
ROUNDS = 100
_NETWORK_TAG = re.compile(r"<\s*(?:lora|lyco|locon|lycoris|hypernet)\s*:[^<>]*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass
class Query:
    text: str
    kind: str
    target: int          # civitai model id
    split: int           # index into SPLIT_NAMES
    exclude_text: str = ""  # a catalog prompt: its chunks are left out


@dataclass
class FeatureTable:
    """One row per (query, pool candidate); queries are contiguous blocks."""

    X: np.ndarray        # float32 (rows, FEATURES)
    y: np.ndarray        # int8: 1 for the target model
    query: np.ndarray    # int32 query number per row
    fused: np.ndarray    # float32 fused score per row
    split: np.ndarray    # int8 per query
    target: np.ndarray   # int64 per query
    band: np.ndarray     # int32 per query: the target's example-prompt count

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, X=self.X, y=self.y, query=self.query, fused=self.fused, split=self.split,
                            target=self.target, band=self.band, features=np.array(FEATURES))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Optional["FeatureTable"]:
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            if tuple(data["features"].tolist()) != FEATURES:
                return None
            return cls(*(data[name] for name in ("X", "y", "query", "fused", "split", "target", "band")))


def _key(text: str) -> str:
    return _SPACES.sub(" ", dense_prompt_text(text).lower()).strip()


def dev_queries(data: Path, limit: int = 0) -> list[Query]:
    out = []
    for file_name, field, kind, split in DEV_FILES:
        with open(data / "bench" / file_name, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if limit and n >= limit:
                    break
                row = json.loads(line)
                text = row.get(field) or row["query"]
                out.append(Query(text, kind, int(row["target_model_id"]), split))
    return out


def catalog_queries(index, n_loras: int = CATALOG_LORAS, n_checkpoints: int = CATALOG_CHECKPOINTS) -> list[Query]:
    """One example prompt per sampled model (deterministic), as written and, for a LoRA whose
    trigger word it holds, without the trigger word."""
    rng = random.Random(SEED)
    by_model: dict[tuple[str, int], list] = {}
    for entry in index.entries:
        if entry.civitai_model_id is not None and entry.kind in ("lora", "checkpoint") and entry.example_prompts:
            by_model.setdefault((entry.kind, entry.civitai_model_id), []).append(entry)
    out: list[Query] = []
    for kind, wanted in (("lora", n_loras), ("checkpoint", n_checkpoints)):
        models = sorted(m for k, m in by_model if k == kind)
        rng.shuffle(models)
        for model in models[:wanted]:
            out += catalog_model_queries(kind, model, by_model[(kind, model)], rng)
    return out


def catalog_model_queries(kind: str, model: int, entries: list, rng: random.Random) -> list[Query]:
    """The queries of one sampled model: one of its example prompts (drawn with `rng`) as written and,
    for a LoRA whose trigger word it holds, without the trigger word."""
    entry = entries[rng.randrange(len(entries))]
    prompt = entry.example_prompts[rng.randrange(len(entry.example_prompts))]
    text = _SPACES.sub(" ", _NETWORK_TAG.sub(" ", prompt)).strip(" ,")
    if not text:
        return []
    out = [Query(text, kind, model, 3 if kind == "lora" else 5, exclude_text=prompt)]
    if kind == "lora":
        stripped = text
        for trigger in entry.trigger_words:
            if trigger.strip():
                stripped = re.sub(re.escape(trigger.strip()), " ", stripped, flags=re.IGNORECASE)
        stripped = _SPACES.sub(" ", stripped).strip(" ,")
        if stripped and stripped != text:
            out.append(Query(stripped, kind, model, 4, exclude_text=prompt))
    return out


def _chunks_by_text(index, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Chunk rows of every prompt chunk, by normalised text (to leave a catalog prompt out)."""
    found: dict[str, list[int]] = {}
    for row, entry in enumerate(index.entries):
        if entry.kind not in kinds:
            continue
        chunks = entry_chunks(entry)
        rows = index.chunk_rows_for(np.array([row]))
        if len(rows) != len(chunks):
            continue  # chunks made another way (e.g. expanded); cannot align them
        for chunk, chunk_row in zip(chunks, rows.tolist()):
            if chunk.kind in ("prompt", "related"):
                found.setdefault(_key(chunk.lexical_text), []).append(chunk_row)
    return {k: np.array(v, dtype=np.int64) for k, v in found.items()}


def model_prompt_counts(index) -> dict[tuple[str, int], int]:
    """Example prompts per (kind, model) over its versions (the band a query's target falls in)."""
    counts: dict[tuple[str, int], int] = {}
    for entry in index.entries:
        if entry.civitai_model_id is not None:
            key = (entry.kind, entry.civitai_model_id)
            counts[key] = counts.get(key, 0) + len(entry.example_prompts)
    return counts


def build_features(index, queries: list[Query], on_progress: Optional[Callable[[int, int], None]] = None,
                   batch: int = 64, query_maps: Optional[dict[int, QueryMap]] = None) -> FeatureTable:
    """Features of every query's pool. With `query_maps` ({fold: map fitted without that fold}), a
    query's dense vector goes through its target's fold map (out of fold, like the ranker);
    without, through the shipped map, as search does."""
    from polaris_core.retrieve.ranker import features, reranked_rows

    masks = _chunks_by_text(index, ("lora", "checkpoint")) if any(q.exclude_text for q in queries) else {}
    counts = model_prompt_counts(index)
    X, y, qn, fused = [], [], [], []
    splits, targets, bands = [], [], []
    for start in range(0, len(queries), batch):
        part = queries[start:start + batch]
        # One query at a time, as search encodes it: a batch pads and moves the vectors' last bits.
        if query_maps is None:
            vectors = [query_vector(index, q.text) for q in part]
        else:
            folds = fold_of(np.array([q.target for q in part]))
            vectors = [query_maps[int(f)].apply(raw_query_vector(index, q.text)) for q, f in zip(part, folds)]
        for offset, (q, vector) in enumerate(zip(part, vectors)):
            number = start + offset
            exclude = masks.get(_key(q.exclude_text)) if q.exclude_text else None
            found = search_pool(index, q.text, kind=q.kind, vector=vector, exclude_chunks=exclude)
            splits.append(q.split)
            targets.append(q.target)
            bands.append(counts.get((q.kind, q.target), 0) - (1 if q.exclude_text else 0))
            if found is None or not len(found.fused):
                continue
            rows = reranked_rows(found)
            models = np.array([index.entries[int(r)].civitai_model_id or -1 for r in found.pool.best_entry[rows]])
            X.append(features(found, rows))
            y.append((models == q.target).astype(np.int8))
            qn.append(np.full(len(models), number, dtype=np.int32))
            fused.append(found.fused[rows].astype(np.float32))
        if on_progress:
            on_progress(min(start + batch, len(queries)), len(queries))
    return FeatureTable(np.concatenate(X), np.concatenate(y), np.concatenate(qn), np.concatenate(fused),
                        np.array(splits, np.int8), np.array(targets, np.int64), np.array(bands, np.int32))


def feature_table(index, data: Path, work: Path, limit: int = 0, with_catalog: bool = True,
                  query_maps: Optional[dict[int, QueryMap]] = None) -> FeatureTable:
    """Dev (and catalog) features, cached under `work` keyed by the index, the feature set and the
    fold query maps."""
    maps = [zlib.crc32(query_maps[f].weights.tobytes()) for f in sorted(query_maps)] if query_maps else None
    signature = zlib.crc32(json.dumps([FEATURE_VERSION, FEATURES, len(index.entries), str(index.folder),
                                       index.expansion_model, limit,
                                       with_catalog, CATALOG_LORAS, CATALOG_CHECKPOINTS, maps]).encode())
    path = work / f"ranker-features-{signature:08x}.npz"
    table = FeatureTable.load(path)
    if table is not None:
        log.info("ranker features from %s", path)
        return table
    queries = dev_queries(data, limit)
    if with_catalog:
        queries += catalog_queries(index)
    started = time.perf_counter()

    def progress(i: int, n: int) -> None:
        if i == n or i % 640 == 0:
            log.info("ranker features: %d/%d queries (%.0fs)", i, n, time.perf_counter() - started)

    table = build_features(index, queries, progress, query_maps=query_maps)
    table.save(path)
    return table


def dev_query_vectors(index, dev: list[Query], work: Path) -> np.ndarray:
    """The encoder's raw vectors of the dev queries, one query at a time as search encodes them,
    cached under `work` (the query map's training and its benchmark read the same ones)."""
    signature = zlib.crc32(json.dumps([index.text_encoder_id, [q.text for q in dev]]).encode())
    path = work / f"query-vectors-{signature:08x}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            return cached["vectors"]
    started = time.perf_counter()
    vectors = np.stack([raw_query_vector(index, q.text) for q in dev]).astype(np.float32)
    work.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, vectors=vectors)
    tmp.replace(path)
    log.info("encoded %d dev queries in %.0fs", len(dev), time.perf_counter() - started)
    return vectors


def _map_pairs(index, data: Path, work: Path, limit: int = 0):
    """Training pairs of the query map: (raw query vectors, target model, own chunk index or -1,
    chunk vectors, chunk models). Catalog pairs are embedded example prompts whose model has
    another embedded chunk; dev queries are encoded one at a time, as search does (cached)."""
    chunks = index.embedded_chunks()
    entry_model = np.array([e.civitai_model_id if e.civitai_model_id is not None else -1 - row
                            for row, e in enumerate(index.entries)], dtype=np.int64)
    chunk_models = entry_model[chunks.entry_rows]
    _, inverse, counts = np.unique(chunk_models, return_inverse=True, return_counts=True)
    catalog = np.flatnonzero((chunks.kinds == "prompt") & (counts[inverse] >= 2))
    dev = dev_queries(data, limit)
    dev_vectors = dev_query_vectors(index, dev, work)
    vectors = np.concatenate([chunks.vectors[catalog], dev_vectors])
    models = np.concatenate([chunk_models[catalog], np.array([q.target for q in dev], dtype=np.int64)])
    own = np.concatenate([catalog, np.full(len(dev), -1, dtype=np.int64)])
    return vectors, models, own, chunks.vectors, chunk_models


def query_maps(index, data: Path, work: Path, limit: int = 0, folds: int = FOLDS
               ) -> tuple[dict[int, QueryMap], QueryMap]:
    """({fold: map fitted without that fold's target models}, the map fitted on everything)."""
    vectors, models, own, chunk_vectors, chunk_models = _map_pairs(index, data, work, limit)
    fold = fold_of(models, folds)
    out: dict[int, QueryMap] = {}
    for f in list(range(folds)) + [-1]:
        started = time.perf_counter()
        keep = fold != f
        fitted = fit_query_map(vectors[keep], models[keep], own[keep], chunk_vectors, chunk_models,
                               index.text_encoder_id)
        log.info("query map %s: %d pairs in %.0fs", f"fold {f}" if f >= 0 else "on everything", int(keep.sum()),
                 time.perf_counter() - started)
        out[f] = fitted
    full = out.pop(-1)
    return out, full


def fold_of(target: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """A fixed fold per target model (grouped by model: its queries share a fold)."""
    return np.array([zlib.crc32(f"{int(t)}".encode()) % folds for t in target.tolist()], dtype=np.int32)


def _query_slices(query: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    numbers, starts, sizes = np.unique(query, return_index=True, return_counts=True)
    return numbers, starts, sizes


def fit_lightgbm(X: np.ndarray, y: np.ndarray, query: np.ndarray, rounds: int = ROUNDS):
    import lightgbm

    _, starts, sizes = _query_slices(query)
    order = np.argsort(starts)
    dataset = lightgbm.Dataset(X, label=y, group=sizes[order], feature_name=list(FEATURES),
                               params={"verbosity": -1}, free_raw_data=True)
    return lightgbm.train(LGB_PARAMS, dataset, num_boost_round=rounds)


def _useful(table: FeatureTable, rows_mask: np.ndarray) -> np.ndarray:
    """Rows of queries with exactly one positive in the pool (others teach the ranker nothing)."""
    positives = np.bincount(table.query[rows_mask], weights=table.y[rows_mask], minlength=len(table.split))
    return rows_mask & (positives[table.query] >= 1)


def ranks_of(table: FeatureTable, scores: np.ndarray) -> np.ndarray:
    """0-based rank of the target per query under `scores` (10**6 when not in the pool)."""
    out = np.full(len(table.split), 10 ** 6, dtype=np.int64)
    numbers, starts, sizes = _query_slices(table.query)
    for number, start, size in zip(numbers.tolist(), starts.tolist(), sizes.tolist()):
        s = scores[start:start + size]
        hit = np.flatnonzero(table.y[start:start + size])
        if len(hit):
            order = np.argsort(-s, kind="stable")
            out[number] = int(np.flatnonzero(order == hit[0])[0])
    return out


class PairwiseLinear:
    """The alternative learner: a linear score fitted by logistic loss on (target, other) pairs of
    one query, over standardised features (missing values at the mean)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray) -> None:
        self.mean, self.scale, self.weights = mean, scale, weights

    @staticmethod
    def _prepare(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return np.nan_to_num((X - mean) / scale, nan=0.0, posinf=0.0, neginf=0.0)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, query: np.ndarray, negatives: int = 50, steps: int = 300,
            l2: float = 1e-3) -> "PairwiseLinear":
        finite = np.where(np.isfinite(X), X, np.nan)
        with warnings.catch_warnings():  # a channel absent from every row (image, on a text-only zoo)
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nan_to_num(np.nanmean(finite, axis=0))
            scale = np.nanstd(finite, axis=0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
        Z = cls._prepare(X, mean, scale).astype(np.float32)
        rng = np.random.default_rng(SEED)
        diffs = []
        positive_rows = np.flatnonzero(y == 1)
        _, starts, sizes = _query_slices(query)
        start_of = dict(zip(np.unique(query).tolist(), zip(starts.tolist(), sizes.tolist())))
        for row in positive_rows.tolist():
            start, size = start_of[int(query[row])]
            others = np.setdiff1d(np.arange(start, start + size), [row])
            if len(others) > negatives:
                others = rng.choice(others, negatives, replace=False)
            diffs.append(Z[row] - Z[others])
        D = np.concatenate(diffs) if diffs else np.zeros((0, X.shape[1]), np.float32)
        w = np.zeros(X.shape[1], dtype=np.float64)
        rate = 0.5
        for _ in range(steps):  # full-batch gradient descent on mean log(1 + exp(-D w)) + l2 |w|^2
            margin = D @ w
            grad = -(D.T @ (1.0 / (1.0 + np.exp(np.clip(margin, -30, 30))))) / max(len(D), 1) + 2 * l2 * w
            w -= rate * grad
        return cls(mean, scale, w)

    def predict(self, X: np.ndarray, num_threads: int = 0) -> np.ndarray:
        return self._prepare(X, self.mean, self.scale) @ self.weights


def cross_validate(table: FeatureTable, folds: int = FOLDS, learner: str = "lightgbm",
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fused ranks, out-of-fold ranker ranks, fold per query) for every query; `learner` is
    "lightgbm" (LambdaRank) or "linear" (pairwise logistic)."""
    query_fold = fold_of(table.target, folds)
    row_fold = query_fold[table.query]
    oof = np.zeros(len(table.y), dtype=np.float64)
    for fold in range(folds):
        train = _useful(table, row_fold != fold)
        if learner == "linear":
            model = PairwiseLinear.fit(table.X[train], table.y[train], table.query[train])
        else:
            model = fit_lightgbm(table.X[train], table.y[train], table.query[train])
        test = row_fold == fold
        oof[test] = model.predict(table.X[test], num_threads=2)
    return ranks_of(table, table.fused), ranks_of(table, oof), query_fold


def metrics(ranks: np.ndarray) -> tuple[float, float, float]:
    if not len(ranks):
        return (math.nan,) * 3
    r1 = float(np.mean(ranks < 1))
    r10 = float(np.mean(ranks < 10))
    mrr = float(np.mean(np.where(ranks < 10, 1.0 / (ranks + 1), 0.0)))
    return r1, r10, mrr


def report(table: FeatureTable, fused: np.ndarray, learned: np.ndarray, query_fold: np.ndarray,
           folds: int = FOLDS) -> list[str]:
    """The tables `polaris bench retrieval` prints: per split, per band and per fold."""
    lines = ["fused = hand-set fusion; ranker = learned ranker, out-of-fold "
             f"(dev, {folds}-fold cross-validation grouped by target model)"]
    header = f"{'split':<16} {'band':<6} {'n':>5} | {'fused R@1':>9} {'R@10':>5} {'MRR10':>5} | " \
             f"{'ranker R@1':>10} {'R@10':>5} {'MRR10':>5}"
    lines += ["", header, "-" * len(header)]
    for split in range(3):
        in_split = table.split == split
        for band_name, low, high in (("all", -1, 10 ** 9),) + BANDS:
            picked = in_split & (table.band >= low) & (table.band <= high)
            a, b = metrics(fused[picked]), metrics(learned[picked])
            lines.append(f"{SPLIT_NAMES[split]:<16} {band_name:<6} {int(picked.sum()):>5} | {a[0]:>9.3f} {a[1]:>5.3f} "
                         f"{a[2]:>5.3f} | {b[0]:>10.3f} {b[1]:>5.3f} {b[2]:>5.3f}")
    lines += ["", "per fold (all bands):", f"{'split':<16} {'fold':<6} {'n':>5} | fused R@1 R@10 MRR10 | "
              "ranker R@1 R@10 MRR10"]
    for split in range(3):
        for fold in range(folds):
            picked = (table.split == split) & (query_fold == fold)
            a, b = metrics(fused[picked]), metrics(learned[picked])
            lines.append(f"{SPLIT_NAMES[split]:<16} {fold:<6} {int(picked.sum()):>5} | {a[0]:.3f} {a[1]:.3f} "
                         f"{a[2]:.3f} | {b[0]:.3f} {b[1]:.3f} {b[2]:.3f}")
    return lines


def train_and_save(table: FeatureTable, path: Path = MODEL_PATH) -> Path:
    """Fit on every useful query and write the LightGBM text model (never a pickle) atomically."""
    everything = _useful(table, np.ones(len(table.y), dtype=bool))
    model = fit_lightgbm(table.X[everything], table.y[everything], table.query[everything])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(model.model_to_string(), encoding="utf-8")
    tmp.replace(path)
    return path
