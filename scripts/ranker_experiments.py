"""Ranker experiments that were measured and not kept (README, "Measured next and not kept").

Each experiment builds the ranker's feature table for a variant, cross-validates it exactly as
`polaris bench retrieval --train-ranker` does (5 folds grouped by target model, out-of-fold query
maps) and prints R@1 / R@10 / MRR@10 per dev split next to the shipped configuration. Nothing is
written outside --work and nothing is shipped.

    python scripts/ranker_experiments.py --index .cache/bench-retrieval/index-expcv \
        --data ../shared/data --work /tmp/ranker-experiments [--experiment NAME ...]

Experiments: shipped, catalog-all, pool-200, lightgbm, objectives, idf-names, misses, fusion-blend, siblings
(default: all; misses reads fold 0's out-of-fold misses of the shipped features; fusion-blend mixes the out-of-fold
ranker scores with the hand-set fusion, both standardised per query; siblings cross-validates the shipped
features with and without the columns that compare a candidate with its same-author siblings, shipped in session
16, over three seeds, with paired bootstrap intervals). Feature tables are
cached under --work per variant (the first run of each takes 10-25 min on 2 cores).
"""
from __future__ import annotations

import argparse
import functools
import importlib
import logging
import random
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from polaris_core.embed.lexical import tokenize
from polaris_core.index import ZooIndex
from polaris_core.retrieve import ranker, train
from polaris_core.retrieve.options import SearchOptions

search_module = importlib.import_module("polaris_core.retrieve.search")
log = logging.getLogger("polaris")
EXPERIMENTS = ("shipped", "catalog-all", "pool-200", "lightgbm", "objectives", "idf-names", "misses", "fusion-blend",
               "siblings")
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.5)
IDF_NAMES = ("trigger_idf", "title_idf_share", "title_idf_matched", "names_idf_cover")


def every_model_catalog_queries(index) -> list[train.Query]:
    """The shipped catalog queries, then one prompt of every other LoRA and checkpoint model with
    prompts, drawn from the same random stream (so the shipped queries come first, unchanged)."""
    rng = random.Random(train.SEED)
    by_model: dict[tuple[str, int], list] = {}
    for entry in index.entries:
        if entry.civitai_model_id is not None and entry.kind in ("lora", "checkpoint") and entry.example_prompts:
            by_model.setdefault((entry.kind, entry.civitai_model_id), []).append(entry)
    wanted = {"lora": train.CATALOG_LORAS, "checkpoint": train.CATALOG_CHECKPOINTS}
    shuffled: dict[str, list[int]] = {}
    out: list[train.Query] = []
    for kind in ("lora", "checkpoint"):
        models = sorted(m for k, m in by_model if k == kind)
        rng.shuffle(models)
        shuffled[kind] = models
        for model in models[:wanted[kind]]:
            out += train.catalog_model_queries(kind, model, by_model[(kind, model)], rng)
    for kind in ("lora", "checkpoint"):
        for model in shuffled[kind][wanted[kind]:]:
            out += train.catalog_model_queries(kind, model, by_model[(kind, model)], rng)
    return out


class IdfNames:
    """Four idf-weighted name features per (query, pool row), from the kind's BM25F idf."""

    def __init__(self, index) -> None:
        self.index, self.idf, self.facts = index, {}, {}

    def _idf(self, kind: str, tokens) -> list[float]:
        model = self.index.lexical(kind)[0]
        out = []
        for token in tokens:
            value = self.idf.get((kind, token))
            if value is None:
                term = self.index.terms.term_ids.get(token)
                # A word no entry holds is as rare as a word one entry holds.
                value = float(model.term_idf(np.array([term]))[0]) if term is not None else \
                    model.rare_idf / model.params.rare_idf_fraction
                self.idf[(kind, token)] = value
            out.append(value)
        return out

    def _fact(self, row: int, kind: str):
        fact = self.facts.get(row)
        if fact is None:
            entry = self.index.entries[row]
            triggers = [sorted(set(tokenize(t))) for t in entry.trigger_words if t.strip()]
            triggers = [(t, sum(self._idf(kind, t))) for t in triggers if t]
            title = sorted(set(tokenize(entry.name)))
            tags = {w for t in entry.tags for w in tokenize(t)}
            names = set(title) | tags | {w for t, _ in triggers for w in t}
            fact = self.facts[row] = (triggers, dict(zip(title, self._idf(kind, title))), names)
        return fact

    def columns(self, found, rows: np.ndarray) -> np.ndarray:
        words = sorted(set(tokenize(found.text)))
        query_idf = dict(zip(words, self._idf(found.kind, words)))
        mass = sum(query_idf.values()) or 1.0
        out = []
        for row in found.pool.best_entry[rows].tolist():
            triggers, title, names = self._fact(int(row), found.kind)
            matched = [s for t, s in triggers if all(w in query_idf for w in t)]
            title_mass = sum(title.values())
            title_matched = sum(v for w, v in title.items() if w in query_idf)
            out.append((max(matched) if matched else 0.0, title_matched / title_mass if title_mass else np.nan,
                        title_matched, sum(v for w, v in query_idf.items() if w in names) / mass))
        return np.array(out, dtype=np.float32).reshape(-1, len(IDF_NAMES))


def variant_table(index, data: Path, work: Path, maps, name: str) -> train.FeatureTable:
    """The feature table of a variant (cached under work)."""
    path = work / f"features-{name}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as cached:
            return train.FeatureTable(*(cached[k] for k in ("X", "y", "query", "fused", "split", "target", "band")))
    queries = train.dev_queries(data)
    extra = None
    saved = (train.search_pool, ranker.RERANK_DEPTH, ranker.features)
    try:
        if name == "catalog-all":
            queries += every_model_catalog_queries(index)
        else:
            queries += train.catalog_queries(index)
        if name == "pool-200":
            ranker.RERANK_DEPTH = 200
            train.search_pool = functools.partial(search_module.search_pool,
                                                  options=SearchOptions(pool_per_channel=200))
        if name == "idf-names":
            extra = IdfNames(index)
            base = ranker.features
            ranker.features = lambda found, rows=None: np.hstack([base(found, rows), extra.columns(found, rows)])
        started = time.perf_counter()
        table = train.build_features(index, queries, lambda i, n: i % 640 == 0 and log.info(
            "%s: %d/%d queries (%.0fs)", name, i, n, time.perf_counter() - started), query_maps=maps)
    finally:
        train.search_pool, ranker.RERANK_DEPTH, ranker.features = saved
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, X=table.X, y=table.y, query=table.query, fused=table.fused, split=table.split,
             target=table.target, band=table.band)
    return table


def cross_validate(table: train.FeatureTable, feature_names, depth: int = 0, weight_dev: float = 1.0,
                   seeds=(train.SEED,), **params) -> str:
    if depth:
        _, starts, sizes = train._query_slices(table.query)
        keep = (np.arange(len(table.query)) - np.repeat(starts, sizes)) < depth
        table = train.FeatureTable(table.X[keep], table.y[keep], table.query[keep], table.fused[keep],
                                   table.split, table.target, table.band)
    return split_figures(table, out_of_fold(table, feature_names, weight_dev, seeds, **params))


def split_figures(table: train.FeatureTable, scores: np.ndarray) -> str:
    """R@1/R@10/MRR@10 per dev split (LoRA | no trigger | checkpoint) of the order `scores` gives."""
    ranks = train.ranks_of(table, scores)
    return " | ".join("%.3f/%.3f/%.3f" % train.metrics(ranks[table.split == s]) for s in range(3))


def out_of_fold(table: train.FeatureTable, feature_names, weight_dev: float = 1.0, seeds=(train.SEED,),
                **params) -> np.ndarray:
    """Each row's LightGBM score from the model fitted without its target's fold (the ranker's folds)."""
    import lightgbm

    fold = train.fold_of(table.target)[table.query]
    oof = np.zeros(len(table.y))
    for f in range(train.FOLDS):
        rows = train._useful(table, fold != f)
        _, starts, sizes = train._query_slices(table.query[rows])
        weight = np.where(table.split[table.query[rows]] < 3, weight_dev, 1.0).astype(np.float32)
        test = fold == f
        for seed in seeds:
            data = lightgbm.Dataset(table.X[rows], label=table.y[rows], group=sizes[np.argsort(starts)],
                                    weight=weight, feature_name=list(feature_names), params={"verbosity": -1})
            model = lightgbm.train(dict(train.LGB_PARAMS, seed=seed, **params), data, num_boost_round=train.ROUNDS)
            oof[test] += model.predict(table.X[test], num_threads=2) / len(seeds)
    return oof


def fusion_blend(table: train.FeatureTable) -> list[str]:
    """Out-of-fold ranker scores plus w × the hand-set fused score, each standardised within its query:
    whether the fallback's order still adds anything to the ranker's."""
    oof = out_of_fold(table, train.FEATURES)
    _, starts, sizes = train._query_slices(table.query)

    def per_query_z(values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values))
        for start, size in zip(starts.tolist(), sizes.tolist()):
            part = values[start:start + size].astype(np.float64)
            spread = part.std()
            out[start:start + size] = (part - part.mean()) / (spread if spread > 1e-9 else 1.0)
        return out

    ranker_z, fused_z = per_query_z(oof), per_query_z(table.fused)

    return [f"fusion-blend, ranker alone: {split_figures(table, oof)}"] + [
        f"fusion-blend, ranker + {w} x fused: {split_figures(table, ranker_z + w * fused_z)}" for w in BLEND_WEIGHTS]


def siblings(table: train.FeatureTable, seeds=(1, 2, 3), draws: int = 1000) -> list[str]:
    """The shipped features with and without the sibling columns, each out of fold averaged over `seeds`,
    and per split the paired difference of R@1 and MRR@10 with a 95% interval from a bootstrap over target
    models (queries of one model are drawn together)."""
    names = train.FEATURES
    kept = len(names) - len(ranker.SIBLING_FEATURES)  # the sibling columns are the last ones
    without = train.FeatureTable(table.X[:, :kept], table.y, table.query, table.fused, table.split, table.target,
                                 table.band)
    ranks = {label: train.ranks_of(t, out_of_fold(t, feats, seeds=seeds)) for label, t, feats in (
        ("without", without, names[:kept]), ("with", table, names))}
    lines = [f"siblings, {label} the sibling columns ({len(seeds)} seeds averaged): " + " | ".join(
        "%.3f/%.3f/%.3f" % train.metrics(r[table.split == s]) for s in range(3)) for label, r in ranks.items()]
    rng = np.random.default_rng(train.SEED)
    for split in range(3):
        mask = table.split == split
        before, after = ranks["without"][mask], ranks["with"][mask]
        gains = {"R@1": (after == 0).astype(float) - (before == 0),
                 "MRR@10": np.where(after < 10, 1 / (after + 1), 0) - np.where(before < 10, 1 / (before + 1), 0)}
        targets = table.target[mask]
        models = np.unique(targets)
        members = [np.flatnonzero(targets == m) for m in models]
        draws_of = [np.concatenate([members[i] for i in rng.integers(0, len(models), len(models))])
                    for _ in range(draws)]
        parts = []
        for label, gain in gains.items():
            low, high = np.percentile([gain[d].mean() for d in draws_of], [2.5, 97.5])
            parts.append(f"{label} {gain.mean():+.4f} [{low:+.4f}, {high:+.4f}]")
        lines.append(f"siblings, {train.SPLIT_NAMES[split]}: with - without, " + ", ".join(parts)
                     + f" ({int((gains['R@1'] > 0).sum())} queries gained first place, "
                     f"{int((gains['R@1'] < 0).sum())} lost it)")
    return lines


def misses(index, data: Path, table: train.FeatureTable, maps, fold: int = 0) -> list[str]:
    """Per dev split, fold `fold`'s queries whose target the out-of-fold ranker does not put first:
    how many have it outside the re-ranked candidates, and how many have a model by the target's
    own author first."""
    from polaris_core.retrieve.channels import raw_query_vector

    query_fold = train.fold_of(table.target)
    row_fold = query_fold[table.query]
    model = train.fit_lightgbm(*(a[train._useful(table, row_fold != fold)] for a in (table.X, table.y, table.query)))
    scores = np.zeros(len(table.y))
    scores[row_fold == fold] = model.predict(table.X[row_fold == fold])
    ranks = train.ranks_of(table, scores)
    author_of = {e.civitai_model_id: (e.author or "").strip().lower() for e in index.entries}
    lines = []
    dev = train.dev_queries(data)
    for split in range(3):
        missed = [n for n, q in enumerate(dev) if q.split == split and query_fold[n] == fold and ranks[n] > 0]
        outside = sum(ranks[n] >= 10 ** 6 for n in missed)
        same_author = 0
        for n in missed:
            q = dev[n]
            if ranks[n] >= 10 ** 6 or not author_of.get(q.target):
                continue
            found = train.search_pool(index, q.text, kind=q.kind, vector=maps[fold].apply(raw_query_vector(index, q.text)))
            rows = ranker.reranked_rows(found)
            first = index.entries[int(found.pool.best_entry[rows][int(np.argmax(scores[table.query == n]))])]
            same_author += author_of.get(first.civitai_model_id) == author_of[q.target]
        lines.append(f"misses, fold {fold}, {train.SPLIT_NAMES[split]}: {len(missed)} not first, {outside} outside the "
                     f"re-ranked candidates, {same_author} in them with a model by the target's author first")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="the catalog index (expanded out of fold)")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--work", required=True, help="folder for fold maps and feature tables")
    parser.add_argument("--experiment", action="append", choices=EXPERIMENTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(1)
    index, data, work = ZooIndex.load(args.index), Path(args.data), Path(args.work)
    maps, _ = train.query_maps(index, data, work)
    log.info("fold maps %s", [f"{zlib.crc32(maps[f].weights.tobytes()):08x}" for f in sorted(maps)])
    print("split columns: LoRA | LoRA without trigger words | checkpoint, R@1/R@10/MRR@10 out of fold")
    names = train.FEATURES
    for name in args.experiment or EXPERIMENTS:
        if name == "siblings":
            for line in siblings(variant_table(index, data, work, maps, "shipped")):
                print(line, flush=True)
            continue
        if name == "misses":
            for line in misses(index, data, variant_table(index, data, work, maps, "shipped"), maps):
                print(line, flush=True)
            continue
        if name == "fusion-blend":
            for line in fusion_blend(variant_table(index, data, work, maps, "shipped")):
                print(line, flush=True)
            continue
        if name == "lightgbm":
            table = variant_table(index, data, work, maps, "shipped")
            for label, settings in (("dev queries weighted 2x", {"weight_dev": 2.0}),
                                    ("dev queries weighted 4x", {"weight_dev": 4.0}),
                                    ("truncation level 10", {"lambdarank_truncation_level": 10}),
                                    ("three seeds averaged", {"seeds": (0, 1, 2)})):
                print(f"lightgbm, {label}: {cross_validate(table, names, **settings)}", flush=True)
            continue
        if name == "objectives":
            table = variant_table(index, data, work, maps, "shipped")
            for label, settings in (("objective rank_xendcg", {"objective": "rank_xendcg"}),
                                    ("objective binary (pointwise)", {"objective": "binary"}),
                                    ("lambdarank without normalisation", {"lambdarank_norm": False}),
                                    ("min_data_in_leaf 100", {"min_data_in_leaf": 100}),
                                    ("feature_fraction 0.7", {"feature_fraction": 0.7, "feature_fraction_seed": 1})):
                print(f"lightgbm, {label}: {cross_validate(table, names, **settings)}", flush=True)
            continue
        table = variant_table(index, data, work, maps, name)
        feature_names = names + IDF_NAMES if name == "idf-names" else names
        print(f"{name}: {len(table.split)} queries: {cross_validate(table, feature_names)}", flush=True)
        if name == "pool-200":
            print(f"pool-200 re-ranked to 100: {cross_validate(table, feature_names, depth=100)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
