"""`polaris bench retrieval`: retrieval quality on the dev splits and speed figures (printed, never asserted).

The learned ranker's table compares the fused order with the ranker's out-of-fold order
(cross-validation grouped by target model, polaris_core/retrieve/train.py); `--train-ranker` then
fits it on everything and writes the shipped model file.

Quality: Recall@1/5/10 and MRR@10 on `target_model_id` for each channel alone, fused, and the
downloads-popularity floor; also on two fixed halves of the split (by target model id), so a
weight chosen on one half can be checked on the other. Speed: embedding throughput, query
latency split into encode and search, incremental add of 1,000 entries.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import statistics
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("polaris")

SPLITS = {
    "lora": ("lora-retrieval-dev.jsonl", "query", "lora"),
    "lora_no_trigger": ("lora-retrieval-dev.jsonl", "query_no_trigger", "lora"),
    "checkpoint": ("checkpoint-retrieval-dev.jsonl", "query", "checkpoint"),
}
DEFAULT_CHANNEL_SETS = ("popularity", "lexical", "dense", "names", "lexical,dense", "lexical,dense,names",
                        "lexical,dense,names,author")
CATALOG_NAME = Path("zoo") / "civitai-2023-sfw.jsonl.gz"


def register(bench_subparsers) -> None:
    parser = bench_subparsers.add_parser("retrieval", help="retrieval quality on the dev splits, and speed")
    parser.add_argument("--split", action="append", choices=sorted(SPLITS), help="split(s) to run (default all)")
    parser.add_argument("--channels", action="append",
                        help="a comma-separated channel set to evaluate; repeatable "
                             f"(default: {' | '.join(DEFAULT_CHANNEL_SETS)})")
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"),
                        help="shared data folder (zoo/ and bench/)")
    parser.add_argument("--index", help="index folder (default: build one from the catalog under --work)")
    parser.add_argument("--work", default=".cache/bench-retrieval", help="where the default index is kept")
    parser.add_argument("--cache", help="embedding cache folder (default $POLARIS_CACHE_DIR or ~/.cache/polaris)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries of each split")
    parser.add_argument("--speed", action="store_true", help="also measure throughput and latency")
    parser.add_argument("--no-quality", action="store_true", help="skip the quality tables")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: the shared 2-core machine)")
    parser.add_argument("--expansion", choices=("cv",),
                        help="cv: measure prompt expansion of entries with no example prompts, before vs after, "
                             "with one expansion model per fold of models fitted without that fold "
                             "(polaris_core.retrieve.expansion)")
    parser.add_argument("--folds", type=int, default=5, help="folds of models for --expansion cv")
    parser.add_argument("--expand-out-of-fold", action="store_true",
                        help="first re-expand the index's entries with no example prompts, each by the expansion "
                             "model fitted without its model's fold (in memory; the ranker's figures and training "
                             "then see expansion as a new zoo would, without a target's own prompts)")
    parser.add_argument("--expand-max-prompts", type=int,
                        help="--expansion cv: expand entries with at most this many example prompts "
                             "(default: the shipped model's setting)")
    parser.add_argument("--no-ranker", action="store_true",
                        help="skip the learned ranker's cross-validated table (fused vs ranker, per band)")
    parser.add_argument("--train-ranker", action="store_true",
                        help="train the learned ranker on the dev splits and catalog prompts and write "
                             "polaris_core/retrieve/data/ranker.lgb.txt (after its cross-validated table)")
    parser.add_argument("--ranker-work", help="where ranker features are cached (default: --work/ranker)")
    parser.set_defaults(run=run)


@dataclass
class Metrics:
    n: int
    r1: float
    r5: float
    r10: float
    mrr10: float

    def row(self) -> str:
        return f"{self.r1:.3f}  {self.r5:.3f}  {self.r10:.3f}  {self.mrr10:.3f}"


def score(ranked: list[list[int]], targets: list[int]) -> Metrics:
    r1 = r5 = r10 = mrr = 0.0
    for models, target in zip(ranked, targets):
        top = models[:10]
        if target in top:
            rank = top.index(target)
            r1 += rank < 1
            r5 += rank < 5
            r10 += 1
            mrr += 1.0 / (rank + 1)
    n = max(len(targets), 1)
    return Metrics(len(targets), r1 / n, r5 / n, r10 / n, mrr / n)


def half_of(model_id: int) -> int:
    """A fixed split of the targets into halves A (0) and B (1) by model id."""
    return zlib.crc32(str(model_id).encode()) % 2


BANDS = ("0", "1-3", "4-10", ">10")


def prompt_band(count: int) -> str:
    """The example-prompt band of a target model: 0, 1–3, 4–10 or more than 10 prompts."""
    return "0" if count <= 0 else "1-3" if count <= 3 else "4-10" if count <= 10 else ">10"


def model_prompt_counts(entries) -> dict[int, int]:
    """Own example prompts per Civitai model (summed over its versions): a target's band."""
    counts: dict[int, int] = {}
    for entry in entries:
        if entry.civitai_model_id is not None:
            counts[entry.civitai_model_id] = counts.get(entry.civitai_model_id, 0) + len(entry.example_prompts)
    return counts


def band_scores(ranked: list[list[int]], targets: list[int], counts: dict[int, int]) -> dict[str, Metrics]:
    """Metrics per example-prompt band of the targets (bands with no query are left out)."""
    out = {}
    bands = [prompt_band(counts.get(t, 0)) for t in targets]
    for band in BANDS:
        picked = [i for i, b in enumerate(bands) if b == band]
        if picked:
            out[band] = score([ranked[i] for i in picked], [targets[i] for i in picked])
    return out


def load_split(data: Path, split: str, limit: int = 0) -> tuple[list[str], list[int], str]:
    file_name, field, kind = SPLITS[split]
    path = data / "bench" / file_name
    queries, targets = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            queries.append(row.get(field) or row["query"])
            targets.append(int(row["target_model_id"]))
            if limit and len(queries) >= limit:
                break
    return queries, targets, kind


def _cache(args):
    from polaris_core.embed.cache import EmbeddingCache, default_cache_dir

    return EmbeddingCache((Path(args.cache) if args.cache else default_cache_dir()) / "embeddings.sqlite")


def open_index(args):
    """The index to benchmark: --index, or one built from the catalog once and kept under --work."""
    from polaris_core.errors import IndexFolderError
    from polaris_core.index import ZooIndex
    from polaris_core.zoo.civitai import load_catalog

    if args.index:
        return ZooIndex.load(args.index, verify=False), 0.0
    folder = Path(args.work) / "index"
    try:
        return ZooIndex.load(folder, verify=False), 0.0
    except IndexFolderError:
        pass
    started = time.perf_counter()
    entries = load_catalog([Path(args.data) / CATALOG_NAME], kinds=("checkpoint", "lora"))
    index = ZooIndex.build(entries, folder, cache=_cache(args))
    return index, time.perf_counter() - started


def popularity_ranking(index, kind: str) -> list[int]:
    best: dict[int, int] = {}
    for entry in index.entries:
        if entry.kind == kind and entry.civitai_model_id is not None:
            best[entry.civitai_model_id] = max(best.get(entry.civitai_model_id, 0), entry.downloads)
    return sorted(best, key=lambda m: -best[m])[:10]


def evaluate(index, queries: list[str], kind: str, channels: tuple[str, ...]) -> list[list[int]]:
    from polaris_core.retrieve import SearchOptions, search

    if channels == ("popularity",):
        ranking = popularity_ranking(index, kind)
        return [ranking for _ in queries]
    options = SearchOptions(channels=channels, ranker="off")  # the channel and fusion baselines
    return [[c.entry.civitai_model_id for c in search(index, q, kind=kind, k=10, options=options)] for q in queries]


def quality(index, args) -> dict:
    """Print the tables; returns {(split, channels): (ranked, targets)} for comparisons."""
    splits = args.split or list(SPLITS)
    channel_sets = [tuple(c.strip() for c in s.split(",")) for s in (args.channels or DEFAULT_CHANNEL_SETS)]
    data = Path(args.data)
    counts = model_prompt_counts(index.entries)
    results = {}
    for split in splits:
        queries, targets, kind = load_split(data, split, args.limit)
        halves = [half_of(t) for t in targets]
        print(f"\n## {split}: {len(queries)} queries, kind {kind}")
        print(f"{'channels':<28} {'R@1':>5}  {'R@5':>5}  {'R@10':>5}  {'MRR10':>5}   "
              "| half A R@10/MRR | half B R@10/MRR")
        for channels in channel_sets:
            started = time.perf_counter()
            ranked = evaluate(index, queries, kind, channels)
            seconds = time.perf_counter() - started
            total = score(ranked, targets)
            parts = []
            for h in (0, 1):
                picked = [i for i, x in enumerate(halves) if x == h]
                m = score([ranked[i] for i in picked], [targets[i] for i in picked])
                parts.append(f"{m.r10:.3f}/{m.mrr10:.3f}")
            label = "+".join(channels)
            print(f"{label:<28} {total.row()}   | {parts[0]:>15} | {parts[1]:>15}   "
                  f"({1000 * seconds / max(len(queries), 1):.1f} ms/query)")
            bands = band_scores(ranked, targets, counts)
            print(" " * 4 + "by example prompts of the target (n R@1/R@10/MRR10): " + "  ".join(
                f"{band}: {m.n} {m.r1:.3f}/{m.r10:.3f}/{m.mrr10:.3f}" for band, m in bands.items()))
            results[(split, channels)] = (ranked, targets)
    return results


def out_of_fold_expander(index, args):
    """(FoldExpander, the index's sparse entries, seconds): one expansion model per fold of models,
    each fitted without that fold (polaris_core.retrieve.expansion)."""
    from polaris_core.retrieve.expansion import FoldExpander, default_expander, fit_folds, training_set

    started = time.perf_counter()
    params = default_expander().params
    if args.expand_max_prompts is not None:
        params = dataclasses.replace(params, max_prompts=args.expand_max_prompts)
    expander = FoldExpander(fit_folds(training_set(index.entries), args.folds, params))
    sparse_entries = [e for e in index.entries if expander.is_sparse(e)]
    return expander, sparse_entries, time.perf_counter() - started


def expand_out_of_fold(index, args) -> None:
    """Re-add the sparse entries expanded out of fold (the index in memory only; never saved)."""
    expander, sparse_entries, seconds = out_of_fold_expander(index, args)
    index.remove([e.id for e in sparse_entries])
    index.expander = expander
    index.expansion_model = ""
    started = time.perf_counter()
    stats = index.update(sparse_entries, cache=_cache(args))
    print(f"expanded {len(sparse_entries)} entries with no example prompts out of fold ({args.folds} folds fitted in "
          f"{seconds:.0f}s; re-added in {time.perf_counter() - started:.0f}s, {stats.texts_embedded} texts embedded)")


def expansion_cv(index, args) -> None:
    """Fused search before vs after prompt expansion, grouped by model: each sparse entry is expanded by
    the fold model fitted without its model's prompts. Both sides re-add the same sparse entries, so
    only the expansion differs."""
    expander, sparse_entries, seconds = out_of_fold_expander(index, args)
    print(f"\n# expansion cv: {args.folds} folds of models fitted in {seconds:.0f}s; "
          f"{len(sparse_entries)} entries with <= {expander.params.max_prompts} example prompts")
    cache = _cache(args)
    sides = {}
    for side, chosen in (("before", None), ("after", expander)):
        index.remove([e.id for e in sparse_entries])
        index.expander = chosen
        index.expansion_model = ""
        started = time.perf_counter()
        stats = index.update(sparse_entries, cache=cache)
        print(f"\n# {side} expansion (re-added {len(sparse_entries)} entries, {stats.texts_embedded} texts embedded, "
              f"{time.perf_counter() - started:.0f}s)")
        sides[side] = quality(index, args)
    counts = model_prompt_counts(index.entries)
    print("\n# before -> after, by example prompts of the target (R@1 / R@10 / MRR@10)")
    for key, (ranked, targets) in sides["before"].items():
        after = band_scores(sides["after"][key][0], targets, counts)
        before = band_scores(ranked, targets, counts)
        print(f"{key[0]:<16} {'+'.join(key[1])}")
        for band in BANDS:
            if band in before:
                b, a = before[band], after[band]
                print(f"    {band:>5} n={b.n:<5} {b.r1:.3f} -> {a.r1:.3f}   {b.r10:.3f} -> {a.r10:.3f}   "
                      f"{b.mrr10:.3f} -> {a.mrr10:.3f}")
        b, a = score(ranked, targets), score(sides["after"][key][0], targets)
        print(f"    {'all':>5} n={b.n:<5} {b.r1:.3f} -> {a.r1:.3f}   {b.r10:.3f} -> {a.r10:.3f}   "
              f"{b.mrr10:.3f} -> {a.mrr10:.3f}")


def dense_map_report(index, data: Path, work: Path, maps: dict, limit: int = 0) -> None:
    """The dense channel alone on the dev splits, raw query vectors vs each query through the map
    fitted without its target's fold (R@1 / R@10 / MRR@10)."""
    import numpy as np

    from polaris_core.retrieve import SearchOptions, search_pool
    from polaris_core.retrieve import train

    options = SearchOptions(channels=("dense",), ranker="off")
    queries = train.dev_queries(data, limit)
    folds = train.fold_of(np.array([q.target for q in queries]))
    ranks: dict[str, list[list[int]]] = {"raw": [], "mapped": []}
    for q, fold, raw in zip(queries, folds.tolist(), train.dev_query_vectors(index, queries, work)):
        for side, vector in (("raw", raw), ("mapped", maps[fold].apply(raw))):
            found = search_pool(index, q.text, kind=q.kind, options=options, vector=vector)
            order = np.argsort(-found.fused, kind="stable")[:10] if found is not None else []
            ranks[side].append([index.entries[int(found.pool.best_entry[i])].civitai_model_id for i in order])
    print("dense channel alone, dev, out of fold (raw query vector -> through the fold's map), R@1 / R@10 / MRR@10:")
    for split in range(3):
        picked = [i for i, q in enumerate(queries) if q.split == split]
        targets = [queries[i].target for i in picked]
        a = score([ranks["raw"][i] for i in picked], targets)
        b = score([ranks["mapped"][i] for i in picked], targets)
        print(f"  {train.SPLIT_NAMES[split]:<16} n={len(picked):<5} {a.r1:.3f} / {a.r10:.3f} / {a.mrr10:.3f} -> "
              f"{b.r1:.3f} / {b.r10:.3f} / {b.mrr10:.3f}")


def ranker_quality(index, args) -> None:
    """Fused vs learned ranker on the dev splits, out-of-fold (grouped by target model), per
    example-prompt band and per fold; with --train-ranker, then fit on everything and ship it."""
    from polaris_core.retrieve import train

    work = Path(args.ranker_work) if args.ranker_work else Path(args.work) / "ranker"
    started = time.perf_counter()
    maps, full_map = train.query_maps(index, Path(args.data), work, limit=args.limit)
    print(f"\n## learned query map of the dense channel: {len(maps)} fold maps and one on everything in "
          f"{time.perf_counter() - started:.0f}s")
    dense_map_report(index, Path(args.data), work, maps, args.limit)
    started = time.perf_counter()
    table = train.feature_table(index, Path(args.data), work, limit=args.limit, query_maps=maps)
    n_queries = len(table.split)
    print(f"\n## learned ranker: {n_queries} queries ({int((table.split < 3).sum())} dev, "
          f"{int((table.split >= 3).sum())} catalog prompts), {len(table.y)} (query, candidate) rows, "
          f"{len(train.FEATURES)} features; features in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    fused, learned, folds = train.cross_validate(table)
    for line in train.report(table, fused, learned, folds):
        print(line)
    _, linear, _ = train.cross_validate(table, learner="linear")
    print("\nlearner choice (out-of-fold, dev, grouped by model): MRR@10 LightGBM LambdaRank vs pairwise linear")
    for split in range(3):
        picked = table.split == split
        print(f"  {train.SPLIT_NAMES[split]:<16} {train.metrics(learned[picked])[2]:.3f} vs "
              f"{train.metrics(linear[picked])[2]:.3f}")
    print(f"(cross-validation {time.perf_counter() - started:.0f}s)")
    if args.train_ranker:
        from polaris_core.retrieve.query_map import MAP_PATH, shipped_query_map

        started = time.perf_counter()
        map_path = full_map.save(MAP_PATH)
        shipped_query_map.cache_clear()
        print(f"wrote the query map fitted on every pair: {map_path} ({map_path.stat().st_size / 1e6:.2f} MB)")
        path = train.train_and_save(table)
        print(f"trained the ranker on all {n_queries} queries in {time.perf_counter() - started:.0f}s: "
              f"{path} ({path.stat().st_size / 1e6:.2f} MB)")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def speed(index, args) -> None:
    import torch

    from polaris_core.embed.chunks import dense_prompt_text, entry_chunks
    from polaris_core.retrieve import search

    encoder = index.text_encoder
    data = Path(args.data)
    print(f"\n## speed (torch threads {torch.get_num_threads()}, encoder dtype {encoder.dtype}, token cap "
          f"{encoder.max_tokens}, {len(index)} entries, {len(index.store)} chunk vectors, "
          f"load average {os.getloadavg()[0]:.1f})")
    # Embedding throughput, uncached, on the chunks of entries spread over the catalog (as a build embeds them);
    # 1,200 entries (~3,000 texts): with 240 the figure moved by 20% between runs.
    sample = index.entries[:: max(1, len(index.entries) // 1200)][:1200]
    texts = [c.dense_text for e in sample for c in entry_chunks(e) if c.dense]
    encoder.encode(texts[:32])
    started = time.perf_counter()
    encoder.encode(texts)
    seconds = time.perf_counter() - started
    print(f"embedding: {len(sample)} entries = {len(texts)} chunk texts in {seconds:.1f}s: "
          f"{len(texts) / seconds:.0f} chunk texts/s, {len(sample) / seconds:.0f} entries/s "
          f"({sum(map(len, texts)) / max(len(texts), 1):.0f} characters per text)")
    # Query latency: encode and search separately.
    queries, _, kind = load_split(data, "lora", 200)
    encode_ms, search_ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        encoder.encode([dense_prompt_text(q)])
        encode_ms.append(1000 * (time.perf_counter() - t0))
    from polaris_core.retrieve import SearchOptions, search_pool
    from polaris_core.retrieve.ranker import features, shipped_ranker

    fused_only = SearchOptions(ranker="off")
    for q in queries:
        t0 = time.perf_counter()
        search(index, q, kind=kind, k=10, options=fused_only)
        search_ms.append(1000 * (time.perf_counter() - t0))
    search_only = [max(s - e, 0.0) for s, e in zip(search_ms, encode_ms)]
    print(f"query encode: p50 {_percentile(encode_ms, .5):.1f} ms  p99 {_percentile(encode_ms, .99):.1f} ms")
    print(f"search (lexical+dense+fusion, excl. encode): p50 {_percentile(search_only, .5):.1f} ms  "
          f"p99 {_percentile(search_only, .99):.1f} ms   (total p50 {statistics.median(search_ms):.1f} ms)")
    ranker = shipped_ranker()
    if ranker is None:
        print("ranker: no usable model file; search keeps the fused order")
    else:
        from polaris_core.retrieve.query_map import map_for

        vectors = encoder.encode([dense_prompt_text(q) for q in queries])
        mapping = map_for(index.text_encoder_id, index.text_dim)  # as search maps the encoder's vector
        ranked_ms, rank_ms, ranked_cpu, rank_cpu, pool_sizes = [], [], [], [], []
        for q, vector in zip(queries, vectors):
            t0, c0 = time.perf_counter(), time.thread_time()
            found = search_pool(index, q, kind=kind, vector=vector if mapping is None else mapping.apply(vector))
            t1, c1 = time.perf_counter(), time.thread_time()
            ranker.scores(features(found))
            t2, c2 = time.perf_counter(), time.thread_time()
            ranked_ms.append(1000 * (t2 - t0))
            rank_ms.append(1000 * (t2 - t1))
            ranked_cpu.append(1000 * (c2 - c0))
            rank_cpu.append(1000 * (c2 - c1))
            pool_sizes.append(len(found.fused))
        # CPU time of this thread too: on a shared machine the wall clock also counts waiting for a core.
        print(f"search + learned ranker (excl. encode): p50 {_percentile(ranked_ms, .5):.1f} ms  "
              f"p99 {_percentile(ranked_ms, .99):.1f} ms   (CPU p50 {_percentile(ranked_cpu, .5):.1f} ms  "
              f"p99 {_percentile(ranked_cpu, .99):.1f} ms)")
        print(f"ranker alone (features + model) for a median pool of {int(statistics.median(pool_sizes))} "
              f"candidates: p50 {_percentile(rank_ms, .5):.1f} ms  p99 {_percentile(rank_ms, .99):.1f} ms   "
              f"(CPU p50 {_percentile(rank_cpu, .5):.1f} ms  p99 {_percentile(rank_cpu, .99):.1f} ms)")
    # Incremental add of 1,000 entries to an index holding the rest (embeddings warm in the cache).
    from polaris_core.index import ZooIndex

    loras = [e for e in index.entries if e.kind == "lora"]
    chosen = loras[-1000:]
    rest = ZooIndex.load(index.folder, verify=False) if index.folder else None
    if rest is not None:
        rest.remove([e.id for e in chosen])
        cache = _cache(args)
        started = time.perf_counter()
        stats = rest.update(chosen, cache=cache)
        warm_seconds = time.perf_counter() - started
        rest.remove([e.id for e in chosen])
        started = time.perf_counter()
        rest.update(chosen, cache=None)  # cold: every text embedded again
        cold_seconds = time.perf_counter() - started
        print(f"incremental add: {len(chosen)} entries ({stats.chunks_added} chunks, {stats.dense_chunks_added} "
              f"embedded) in {warm_seconds:.2f}s with warm embeddings, {cold_seconds:.1f}s cold (no cache)")


def run(args) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    index, built_seconds = open_index(args)
    if built_seconds:
        print(f"built the benchmark index in {built_seconds:.0f}s")
    print(f"index: {len(index)} entries {index.counts()}, {len(index.store)} chunk vectors, "
          f"prompt expansion {index.expansion_model or 'none'}")
    if args.expand_out_of_fold:
        expand_out_of_fold(index, args)
    if args.expansion == "cv":
        expansion_cv(index, args)
    elif not args.no_quality:
        quality(index, args)
    if args.train_ranker or not (args.no_ranker or args.no_quality):
        ranker_quality(index, args)
    if args.speed:
        speed(index, args)
    return 0
