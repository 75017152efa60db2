"""`polaris bench index`: scale and speed of the vector store and the zoo ingestion.

Prints figures, asserts nothing. Sections (each can be skipped):

- catalog: Civitai catalog ingestion throughput (`iter_catalog` over the real file);
- crossover: exact (numpy) vs HNSW single-query latency per partition size → the default
  `exact_threshold`;
- scale: for each `--n`, build time, memory, single-query p50/p99 and recall@k against exact
  search for several `ef` values, incremental add of `--add` entries, save and load;
- real (`--real N` or `--real-cache FILE`): recall on real MiniLM embeddings, either N catalog
  example prompts embedded now and queried with dev-split prompts, or the vectors of an
  embedding cache with some held out as queries;
- scan: a synthetic folder of many tiny safetensors files (+ sidecars): first scan (hashing
  everything) and an unchanged rescan (scan cache).

Vectors are clustered synthetic ones at the real dimension (random vectors make HNSW look
either perfect or hopeless): cluster centres with Zipf-like sizes, each cluster spread along
16 directions of its own (a low intrinsic dimension, like sentence embeddings) plus isotropic
noise. Queries are fresh draws from the same mixture, so they are never stored vectors.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

DEFAULT_CATALOG = Path(__file__).resolve().parents[3] / "shared" / "data" / "zoo" / "civitai-2023-sfw.jsonl.gz"


def register(bench_subparsers) -> None:
    parser = bench_subparsers.add_parser(
        "index", help="vector-store scale/speed, exact-vs-HNSW crossover, catalog ingest, folder rescan",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, nargs="+", default=[82_000], help="store sizes (e.g. 82000 1000000)")
    parser.add_argument("--dim", type=int, default=384, help="vector dimension (MiniLM: 384)")
    parser.add_argument("--queries", type=int, default=500, help="single queries timed per setting")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--ef", type=int, nargs="+", default=[16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512])
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--add", type=int, default=1000, help="entries added incrementally after the build")
    parser.add_argument("--crossover-sizes", type=int, nargs="+",
                        default=[250, 500, 1000, 2000, 4000, 8000, 16000, 32000])
    parser.add_argument("--scan-files", type=int, default=20_000, help="tiny safetensors files for the rescan test")
    parser.add_argument("--catalog", default=str(DEFAULT_CATALOG))
    parser.add_argument("--real", type=int, default=0,
                        help="also measure HNSW recall on this many real MiniLM embeddings of catalog "
                             "example prompts, queried with the dev-split prompts (slow: embeds them)")
    parser.add_argument("--real-cache", default=None,
                        help="or take real embeddings from an embedding-cache .sqlite (as `polaris index "
                             "build` writes), holding out --queries of them as queries")
    parser.add_argument("--skip", nargs="*", default=[], choices=["catalog", "crossover", "scale", "scan"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", default=None,
                        help="folder to save each built store in and reuse on the next run (skips the build)")
    parser.set_defaults(run=run)


# ---------------------------------------------------------------- synthetic data

def clustered_vectors(n: int, dim: int, *, n_queries: int = 0, n_clusters: int | None = None, seed: int = 0,
                      intrinsic_dim: int = 16, spread: float = 0.6, noise: float = 0.25, chunk: int = 4096):
    """`(vectors, queries)` as float32 unit vectors drawn from one clustered mixture (see module doc)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    clusters = n_clusters or max(8, n // 40)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32) / np.sqrt(dim)
    popularity = 1.0 / np.arange(1, clusters + 1) ** 0.7
    popularity /= popularity.sum()
    basis = rng.standard_normal((256, dim)).astype(np.float32) / np.sqrt(dim)
    directions = rng.integers(0, len(basis), size=(clusters, intrinsic_dim))

    def draw(count: int):
        out = np.empty((count, dim), dtype=np.float32)
        for start in range(0, count, chunk):
            m = min(chunk, count - start)
            which = rng.choice(clusters, size=m, p=popularity)
            z = rng.standard_normal((m, intrinsic_dim)).astype(np.float32) * (spread / np.sqrt(intrinsic_dim))
            local = np.einsum("mr,mrd->md", z, basis[directions[which]])
            iso = rng.standard_normal((m, dim)).astype(np.float32) * (noise / np.sqrt(dim))
            block = centres[which] + local + iso
            out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    return draw(n), draw(n_queries)


def exact_top_k(queries, vectors, k: int, chunk: int = 64):
    """Ground truth by brute force, in query chunks to bound memory: `(indices (nq, k), kth_similarity (nq,))`."""
    import numpy as np

    out = np.empty((len(queries), k), dtype=np.int64)
    kth = np.empty(len(queries), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        sims = queries[start:start + chunk] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1)
        out[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        kth[start:start + chunk] = np.take_along_axis(top_sims, order, axis=1)[:, -1]
    return out, kth


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        return None


def measure(store, queries, k: int, truth, ef: int | None = None) -> dict:
    """Single-query latency (p50/p99 ms) and recall@k against exact search. `recall` counts the
    exact ids found; `tie_recall` also accepts any result as similar as the exact k-th one (real
    catalogs hold duplicate prompts, whose ids exact search picks arbitrarily)."""
    import numpy as np

    indices, kth = truth
    times, hits, tie_hits = [], 0, 0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        scores, labels = store.search(q, k, ef=ef)
        times.append(time.perf_counter() - t)
        hits += len(set(labels.tolist()) & set(indices[i].tolist()))
        tie_hits += int(np.sum(scores >= kth[i] - 1e-4))
    ms = np.asarray(times) * 1000
    total = len(queries) * indices.shape[1]
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "recall": hits / total, "tie_recall": min(tie_hits, total) / total}


def _ef_table(store, queries, k: int, truth, efs) -> None:
    print(f"| ef | p50 ms | p99 ms | recall@{k} | recall@{k} with ties |")
    print("|---:|---:|---:|---:|---:|")
    chosen = None
    for ef in efs:
        m = measure(store, queries, k, truth, ef=ef)
        print(f"| {ef} | {m['p50']:.3f} | {m['p99']:.3f} | {m['recall']:.4f} | {m['tie_recall']:.4f} |")
        if chosen is None and m["recall"] >= 0.98:
            chosen = (ef, m)
    if chosen:
        print(f"smallest ef with recall ≥ 0.98: ef={chosen[0]} → p50 {chosen[1]['p50']:.3f} ms, "
              f"p99 {chosen[1]['p99']:.3f} ms")


def _default_ef_line(store, queries, k: int, truth, n: int) -> None:
    m = measure(store, queries, k, truth)
    print(f"default ef (automatic for {n:,} vectors: {store.hnsw.ef_for(n)}): p50 {m['p50']:.3f} ms, "
          f"p99 {m['p99']:.3f} ms, recall {m['recall']:.4f}")


# ---------------------------------------------------------------- sections

def bench_catalog(path: str) -> None:
    from polaris_core.zoo.civitai import IngestStats, iter_catalog

    if not Path(path).is_file():
        print(f"\n## catalog ingest: skipped ({path} not found)")
        return
    stats = IngestStats()
    start = time.perf_counter()
    count = sum(1 for _ in iter_catalog(path, stats=stats))
    seconds = time.perf_counter() - start
    print("\n## catalog ingest")
    print(f"{Path(path).name}: {count:,} entries from {stats.models:,} models in {seconds:.2f} s "
          f"({count / seconds:,.0f} entries/s); skipped {stats.total_skipped}")


def bench_crossover(args) -> None:
    from polaris_core.vectorstore import HnswParams, VectorStore

    print("\n## exact vs HNSW, single query, one partition (k=%d, dim=%d)" % (args.k, args.dim))
    print("| vectors | exact p50 ms | HNSW p50 ms | HNSW ef | HNSW recall |")
    print("|---:|---:|---:|---:|---:|")
    crossover = None
    biggest = max(args.crossover_sizes)
    vectors, queries = clustered_vectors(biggest, args.dim, n_queries=200, seed=args.seed + 1)
    for size in args.crossover_sizes:
        sub = vectors[:size]
        exact = VectorStore.create(args.dim, exact_threshold=size + 1)
        exact.add("p", range(size), sub)
        hnsw = VectorStore.create(args.dim, exact_threshold=0,
                                  hnsw=HnswParams(M=args.M, ef_construction=args.ef_construction))
        hnsw.add("p", range(size), sub)
        truth = exact_top_k(queries, sub, args.k)
        exact_ms = measure(exact, queries, args.k, truth)["p50"]
        for ef in args.ef:
            m = measure(hnsw, queries, args.k, truth, ef=ef)
            if m["recall"] >= 0.98:
                break
        print(f"| {size:,} | {exact_ms:.3f} | {m['p50']:.3f} | {ef} | {m['recall']:.3f} |")
        if crossover is None and m["p50"] < exact_ms:
            crossover = size
    print(f"crossover: HNSW is faster from about {crossover:,} vectors" if crossover
          else "crossover: exact search was faster at every size tried")


def bench_scale(args, n: int) -> None:
    import numpy as np

    from polaris_core import vectorstore
    from polaris_core.vectorstore import HnswParams, VectorStore

    print(f"\n## scale: {n:,} vectors, dim {args.dim}, one HNSW partition (M={args.M}, "
          f"ef_construction={args.ef_construction})")
    t = time.perf_counter()
    vectors, queries = clustered_vectors(n + args.add, args.dim, n_queries=args.queries, seed=args.seed)
    base, extra = vectors[:n], vectors[n:]
    print(f"data generated in {time.perf_counter() - t:.1f} s")
    rss0 = _rss_mb()
    settings = {"bench_n": n, "bench_seed": args.seed, "M": args.M, "ef_construction": args.ef_construction}
    keep = Path(args.keep) / f"n{n}-d{args.dim}-M{args.M}-efc{args.ef_construction}" if args.keep else None
    store = None
    if keep is not None and (keep / vectorstore.MANIFEST).is_file():
        store = VectorStore.load(keep, dim=args.dim)
        if store.extra != settings:
            store = None
        else:
            print(f"loaded the store built earlier from {keep} (build time not measured)")
    if store is None:
        store = VectorStore.create(args.dim, hnsw=HnswParams(M=args.M, ef_construction=args.ef_construction),
                                   extra=settings)
        labels = np.arange(n, dtype=np.int64)
        t = time.perf_counter()
        step = 50_000
        for start in range(0, n, step):
            store.add("lora/sd15", labels[start:start + step], base[start:start + step])
        build = time.perf_counter() - t
        rss1 = _rss_mb()
        print(f"build: {build:.1f} s ({n / build:,.0f} vectors/s)" +
              (f"; memory +{rss1 - rss0:,.0f} MB (RSS), vectors alone {base.nbytes / 2**20:,.0f} MB"
               if rss0 is not None and rss1 is not None else ""))
        if keep is not None:
            store.save(keep)
    t = time.perf_counter()
    truth = exact_top_k(queries, base, args.k)
    brute_ms = (time.perf_counter() - t) / len(queries) * 1000
    print(f"exact brute force (batched numpy, for reference): {brute_ms:.2f} ms/query")
    _ef_table(store, queries, args.k, truth, args.ef)
    _default_ef_line(store, queries, args.k, truth, n)

    t = time.perf_counter()
    store.add("lora/sd15", np.arange(n, n + args.add), extra)
    print(f"incremental add of {args.add:,}: {time.perf_counter() - t:.3f} s")
    t = time.perf_counter()
    store.delete(np.arange(0, args.add))
    print(f"delete of {args.add:,}: {time.perf_counter() - t:.3f} s")
    with tempfile.TemporaryDirectory(prefix="polaris-bench-index-") as folder:
        t = time.perf_counter()
        store.save(folder)
        saved = time.perf_counter() - t
        size_mb = sum(p.stat().st_size for p in Path(folder, vectorstore.DATA_DIR).iterdir()) / 2**20
        t = time.perf_counter()
        loaded = VectorStore.load(folder)
        print(f"save: {saved:.1f} s ({size_mb:,.0f} MB); load with checksums: {time.perf_counter() - t:.1f} s "
              f"({len(loaded):,} vectors)")
        del loaded


def _cached_embeddings(path: str):
    """All vectors of the largest encoder group in an embedding-cache SQLite file (read-only)."""
    import sqlite3

    import numpy as np

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        encoder, dim, _ = conn.execute("SELECT encoder, dim, COUNT(*) AS n FROM vectors GROUP BY encoder, dim "
                                       "ORDER BY n DESC LIMIT 1").fetchone()
        blobs = [row[0] for row in conn.execute("SELECT vec FROM vectors WHERE encoder = ? AND dim = ?",
                                                (encoder, dim))]
    finally:
        conn.close()
    width = len(blobs[0]) // dim
    dtype = {2: np.float16, 4: np.float32}[width]
    vectors = np.frombuffer(b"".join(blobs), dtype=dtype).reshape(-1, dim).astype(np.float32)
    return encoder, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_real(args) -> None:
    """Recall of an HNSW partition on real sentence embeddings (MiniLM) of catalog text."""
    import json

    import numpy as np

    from polaris_core.vectorstore import HnswParams, VectorStore

    if args.real_cache:
        encoder_id, vectors = _cached_embeddings(args.real_cache)
        rng = np.random.default_rng(args.seed)
        held_out = rng.permutation(len(vectors))
        queries, vectors = vectors[held_out[: args.queries]], vectors[held_out[args.queries:]]
        what = f"{len(vectors):,} cached catalog chunk embeddings, {len(queries):,} held-out ones as queries"
    else:
        from polaris_core.embed.text import load_text_encoder
        from polaris_core.zoo.civitai import iter_catalog

        catalog = Path(args.catalog)
        queries_file = catalog.parents[1] / "bench" / "lora-retrieval-dev.jsonl"
        if not catalog.is_file() or not queries_file.is_file():
            print(f"\n## real embeddings: skipped ({catalog} or {queries_file} not found)")
            return
        texts: list[str] = []
        for entry in iter_catalog(catalog):
            texts.extend(entry.example_prompts)
            if len(texts) >= args.real:
                break
        with open(queries_file, encoding="utf-8") as fh:
            queries_text = [json.loads(line)["query"] for line in fh][: args.queries]
        encoder = load_text_encoder()
        encoder_id = encoder.encoder_id
        vectors, queries = encoder.encode(texts[: args.real]), encoder.encode(queries_text)
        what = f"{len(vectors):,} catalog example prompts, {len(queries):,} dev-split queries"
    print(f"\n## real embeddings ({encoder_id}): {what}")
    store = VectorStore.create(vectors.shape[1], exact_threshold=0,
                               hnsw=HnswParams(M=args.M, ef_construction=args.ef_construction))
    t = time.perf_counter()
    store.add("real", np.arange(len(vectors)), vectors)
    print(f"build: {time.perf_counter() - t:.1f} s")
    truth = exact_top_k(queries, vectors, args.k)
    _ef_table(store, queries, args.k, truth, args.ef)
    _default_ef_line(store, queries, args.k, truth, len(vectors))


def bench_scan(files: int) -> None:
    import json

    import numpy as np
    from safetensors.numpy import save

    from polaris_core.zoo.local import scan_folder

    print(f"\n## local folder scan: {files:,} tiny safetensors files")
    with tempfile.TemporaryDirectory(prefix="polaris-bench-scan-") as tmp:
        root = Path(tmp) / "loras"
        t = time.perf_counter()
        for i in range(files):
            folder = root / f"group{i // 500:03d}"
            if i % 500 == 0:
                folder.mkdir(parents=True)
            key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
            blob = save({key: np.full((1, 8), i, dtype=np.float32)},
                        metadata={"ss_output_name": f"lora{i}", "ss_base_model_version": "sd_v1",
                                  "ss_tag_frequency": json.dumps({"10_x": {"tag%d" % (i % 97): 3, "1girl": 2}})})
            (folder / f"lora{i}.safetensors").write_bytes(blob)
            if i % 10 == 0:
                (folder / f"lora{i}.txt").write_text(f"trigger{i}")
        print(f"written in {time.perf_counter() - t:.1f} s")
        cache = Path(tmp) / "cache"
        first = scan_folder(root, "lora", cache_dir=cache)
        second = scan_folder(root, "lora", cache_dir=cache)
        print(f"first scan (headers + hashing): {first.report.seconds:.2f} s, {first.report.hashed:,} hashed")
        print(f"unchanged rescan (cache): {second.report.seconds:.2f} s, {second.report.from_cache:,} from cache "
              f"({files / second.report.seconds:,.0f} files/s)")


def run(args) -> int:
    import hnswlib
    import numpy as np

    print(f"# polaris bench index  (numpy {np.__version__}, hnswlib {getattr(hnswlib, '__version__', '0.8')}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    if "catalog" not in args.skip:
        bench_catalog(args.catalog)
    if "crossover" not in args.skip:
        bench_crossover(args)
    if "scale" not in args.skip:
        for n in args.n:
            bench_scale(args, n)
    if args.real or args.real_cache:
        bench_real(args)
    if "scan" not in args.skip:
        bench_scan(args.scan_files)
    return 0
