"""`polaris bench zoo --entries N`: a synthetic N-entry zoo from the real catalog's material, end to end.

Each synthetic entry copies the kind, family, role and field lengths of a random real catalog entry
(so kinds, families and length distributions follow the catalog) and fills the fields with material
drawn from other real entries of that kind: a title spliced from two real titles, that many real tags,
trigger words and descriptions, and example prompts recombined from two real prompts' comma-separated
parts. The real MiniLM encoder embeds the chunks of the first `--real-entries` entries; every other
chunk gets the vector of a randomly chosen real chunk plus Gaussian noise (said in the output), and the
MiniLM cost of embedding them is reported from the measured throughput instead.

Reported: build time from cached embeddings (the synthetic vectors' own generation time is subtracted),
save, checked load (every checksum), resident memory with the index loaded, fused search p50/p99 over
the dev retrieval queries (encoding excluded, and included), adding and removing 1,000 entries, and the
dense channel's recall@10 against exact search.
"""
from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CATALOG_NAME = Path("zoo") / "civitai-2023-sfw.jsonl.gz"
BUILD_SLICE = 50_000  # entries per update: bounds the batch's chunk texts and vectors held at once
NOISE_PER_DIM = 0.03  # at dim 384: a noisy copy keeps cosine ≈ 0.86 to its real source vector


def register(bench_subparsers) -> None:
    parser = bench_subparsers.add_parser("zoo", help="build, load and search a synthetic N-entry zoo")
    parser.add_argument("--entries", type=int, default=100_000, help="zoo size (default 100000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"),
                        help="the shared data folder (zoo/ catalog, bench/ queries)")
    parser.add_argument("--real-entries", type=int, default=500,
                        help="entries whose chunks the real MiniLM embeds (the rest reuse them with noise)")
    parser.add_argument("--queries", type=int, default=200, help="dev queries for the search timings")
    parser.add_argument("--index", help="time searches, load, memory and updates on this index saved by an earlier "
                        "run (its zoo-N folder; it is changed by the add/remove timing) instead of building one")
    parser.add_argument("--work", help="folder for the index (default: a temporary folder, removed after)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for query encoding (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


class _Pools:
    """Real catalog material per kind."""

    def __init__(self, catalog: list) -> None:
        self.templates = catalog
        self.by_kind: dict[str, dict[str, list]] = {}
        for entry in catalog:
            pool = self.by_kind.setdefault(entry.kind, {k: [] for k in (
                "names", "tags", "triggers", "descriptions", "prompts", "related", "authors")})
            pool["names"].append(entry.name)
            pool["tags"].extend(entry.tags)
            pool["triggers"].extend(entry.trigger_words)
            if entry.description:
                pool["descriptions"].append(entry.description)
            pool["prompts"].extend(entry.example_prompts)
            pool["related"].extend(entry.related_prompts)
            if entry.author:
                pool["authors"].append(entry.author)


def _pick(rng: np.random.Generator, items: list, n: int) -> list:
    return [items[i] for i in rng.integers(0, len(items), n).tolist()] if items and n > 0 else []


def _splice(rng: np.random.Generator, a: str, b: str, sep: str) -> str:
    left, right = a.split(sep), b.split(sep)
    return sep.join(left[: max(1, len(left) // 2)] + right[len(right) // 2:]).strip()


def synthetic_entries(pools: _Pools, n: int, rng: np.random.Generator, first_id: int = 0) -> list:
    from polaris_core.zoo.entry import ZooEntry

    out = []
    for number in range(first_id, first_id + n):
        t = pools.templates[int(rng.integers(len(pools.templates)))]
        p = pools.by_kind[t.kind]

        def prompts(pool: list, count: int) -> list[str]:
            pairs = _pick(rng, pool, 2 * count)
            return [_splice(rng, pairs[2 * i], pairs[2 * i + 1], ",") for i in range(count)] if pairs else []

        names = _pick(rng, p["names"], 2)
        out.append(ZooEntry(
            id=f"synthetic:{number}", kind=t.kind, name=_splice(rng, names[0], names[1], " "), role=t.role,
            base_family=t.base_family, base_model=t.base_model, civitai_model_id=900_000_000 + number,
            civitai_version_id=900_000_000 + number, trigger_words=_pick(rng, p["triggers"], len(t.trigger_words)),
            tags=_pick(rng, p["tags"], len(t.tags)),
            description=(_pick(rng, p["descriptions"], 1) or [""])[0] if t.description else "",
            example_prompts=prompts(p["prompts"], len(t.example_prompts)),
            related_prompts=prompts(p["related"] or p["prompts"], len(t.related_prompts)),
            downloads=int(t.downloads), author=(_pick(rng, p["authors"], 1) or [""])[0] if t.author else ""))
    return out


class _SyntheticEncoder:
    """MiniLM's identity and real vectors for the texts it embedded; a noisy copy of a real vector
    (chosen by a hash of the text, so the same text always gets the same vector) for the rest."""

    def __init__(self, real, texts: list[str], vectors: np.ndarray, seed: int) -> None:
        self.real, self.encoder_id, self.dim, self.max_tokens = real, real.encoder_id, real.dim, real.max_tokens
        self.known = dict(zip(texts, vectors))
        self.base = vectors
        self.seed = seed
        self.seconds = 0.0
        self.synthetic = 0

    def encode(self, texts, on_step=None, check_cancel=None, **_) -> np.ndarray:
        started = time.perf_counter()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        fresh = []
        for i, text in enumerate(texts):
            vector = self.known.get(text)
            if vector is None:
                fresh.append(i)
            else:
                out[i] = vector
        if fresh:
            digests = [int.from_bytes(hashlib.blake2b(texts[i].encode(), digest_size=8).digest(), "little")
                       for i in fresh]
            picks = np.array([d % len(self.base) for d in digests])
            noise = np.stack([np.random.default_rng([self.seed, d]).normal(0, NOISE_PER_DIM, self.dim)
                              for d in digests]).astype(np.float32)  # per text: the same text, the same vector
            noisy = self.base[picks] + noise
            out[fresh] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
            self.synthetic += len(fresh)
        if on_step is not None:
            on_step(len(texts), len(texts))
        self.seconds += time.perf_counter() - started
        return out


class _QueryMemo:
    """The real encoder with each query embedded once (for timings that exclude encoding)."""

    def __init__(self, real) -> None:
        self.real, self.encoder_id, self.dim, self.max_tokens = real, real.encoder_id, real.dim, real.max_tokens
        self.seen: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts it had to encode

    def encode(self, texts, **options) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.encoded += len(missing)
            self.seen.update(zip(missing, self.real.encode(missing, **options)))
        return np.stack([self.seen[t] for t in texts])


def entry_slices(pools: _Pools, head: list, n: int, rng: np.random.Generator, size: int):
    """The first `n` synthetic entries in lists of `size`, made as they are asked for: the same entries in
    the same order as one `synthetic_entries(pools, n, rng)` call whose first `len(head)` are `head` (made
    by it with this `rng`). Holding all of them as objects took ~6 KB an entry (~6 GB at a million)."""
    made, pending = len(head), head
    while pending or made < n:
        more = synthetic_entries(pools, min(size - len(pending), n - made), rng, first_id=made)
        made += len(more)
        yield pending + more
        pending = []


def _build_and_save(slices, n: int, encoder: _SyntheticEncoder, folder: Path) -> tuple[float, float]:
    """(build seconds without making the synthetic entries and vectors, save seconds)."""
    from polaris_core.index import ZooIndex

    started = time.perf_counter()
    making, built = 0.0, 0
    # In slices: one update holds its entries' chunk texts and vectors until they are appended.
    index = ZooIndex.build([], text_encoder=encoder)
    slices = iter(slices)
    while True:
        asked = time.perf_counter()
        batch = next(slices, None)
        making += time.perf_counter() - asked
        if batch is None:
            break
        index.update(batch)
        built += len(batch)
        del batch
        print(f"built {built:,} / {n:,} entries ({time.perf_counter() - started:.0f} s, peak RSS "
              f"{_peak_rss_gb():.2f} GB, RSS {_rss_gb():.2f} GB)", file=sys.stderr)
    build_s = time.perf_counter() - started - encoder.seconds - making
    started = time.perf_counter()
    index.save(folder)
    return build_s, time.perf_counter() - started


def _release_memory() -> None:
    """Return freed heap pages to the system (glibc keeps them otherwise): the load-only process that follows
    a build must not share the machine with the build's leftovers (a 300K run was OOM-killed so)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e9


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def own_peak_rss_gb() -> float:
    """This process's own peak RSS (KiB / 10⁶, as `_peak_rss_gb`). On Linux `ru_maxrss` keeps the parent's peak
    at the fork through the exec, so a load-only process started after a build reported the build's peak (1M:
    14.62 GB); `VmHWM` is the peak of this process's own memory since its exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e6  # kB
    except (OSError, ValueError):  # not Linux: ru_maxrss is the best there is
        pass
    return _peak_rss_gb()


def _ms_percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    pick = lambda q: 1000 * ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]  # noqa: E731
    return pick(0.5), pick(0.99)


def _dev_queries(data: Path, limit: int) -> list[tuple[str, str]]:
    from polaris_core.bench.retrieval import load_split

    out = []
    for split in ("lora", "checkpoint"):
        queries, _, kind = load_split(data, split, max(1, limit // 2))
        out += [(q, kind) for q in queries]
    return out


def run(args) -> int:
    import torch

    from polaris_core.embed.chunks import dense_prompt_text, entry_chunks
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.errors import ConfigError
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import search
    from polaris_core.zoo.civitai import load_catalog

    if args.entries < 1000:
        raise ConfigError("--entries must be at least 1000 (the add/remove timings use 1,000 entries).")
    torch.set_num_threads(max(1, args.threads))
    data = Path(args.data)
    rng = np.random.default_rng(args.seed)
    say = (lambda *a: None) if args.json else print
    catalog = load_catalog([data / CATALOG_NAME])
    pools = _Pools(catalog)
    # With --index, only the entries whose chunks MiniLM embeds are made again (the same seed gives the same).
    head = synthetic_entries(pools, args.real_entries if args.index else min(args.real_entries, args.entries), rng)
    say(f"synthetic zoo: {args.entries:,} entries from {len(catalog):,} real ones")

    real = load_text_encoder()
    real_texts = list(dict.fromkeys(c.dense_text for e in head[: args.real_entries]
                                    for c in entry_chunks(e) if c.dense))
    started = time.perf_counter()
    real_vectors = real.encode(real_texts)
    throughput = len(real_texts) / max(time.perf_counter() - started, 1e-9)
    encoder = _SyntheticEncoder(real, real_texts, real_vectors, args.seed)

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="polaris-bench-zoo-"))
    folder = Path(args.index) if args.index else work / f"zoo-{args.entries}"
    build_s = save_s = None
    try:
        if not args.index:
            build_s, save_s = _build_and_save(entry_slices(pools, head, args.entries, rng, BUILD_SLICE),
                                              args.entries, encoder, folder)
        del head
        _release_memory()  # the built index is gone: only what the rest needs stays beside the load-only process
        print(f"before the load-only process: this process holds {_rss_gb():.2f} GB", file=sys.stderr)
        # After the N entries (the same extra entries as when they were made all at once before them).
        extra = synthetic_entries(pools, 1000, rng, first_id=args.entries if not args.index else 10 ** 9)
        load_s, rss_before, rss, loaded = _load_in_fresh_process(folder)
        index = ZooIndex.load(folder, verify=False)
        dense_chunks, n_entries = len(index.store), len(index)

        queries = _dev_queries(data, args.queries)
        memo = _QueryMemo(real)
        # The texts search encodes (`retrieve.channels.query_vector`): with raw queries as keys, most
        # "encoding excluded" searches missed the memo and encoded anyway.
        memo.encode([dense_prompt_text(q) or q for q, _ in queries])
        index.set_text_encoder(memo)
        first_of_kind = {kind: q for q, kind in reversed(queries)}
        for kind, q in first_of_kind.items():  # a kind's first search builds its caches; time the steady state
            search(index, q, kind=kind, k=10)
        excluded = []
        encoded_before = memo.encoded
        for q, kind in queries:
            started = time.perf_counter()
            search(index, q, kind=kind, k=10)
            excluded.append(time.perf_counter() - started)
        if memo.encoded != encoded_before:
            raise RuntimeError("a search timed without encoding encoded its query; the benchmark is wrong")
        index.set_text_encoder(real)
        included = []
        for q, kind in queries[: max(20, len(queries) // 4)]:
            started = time.perf_counter()
            search(index, q + " ", kind=kind, k=10)  # a text the memo never saw: encoded now
            included.append(time.perf_counter() - started)

        recall = _dense_recall(index, memo, queries)

        index.set_text_encoder(encoder)
        before = encoder.seconds
        started = time.perf_counter()
        index.update(extra)
        add_s = time.perf_counter() - started - (encoder.seconds - before)
        started = time.perf_counter()
        index.save()
        add_save_s = time.perf_counter() - started
        started = time.perf_counter()
        index.remove([e.id for e in extra])
        remove_s = time.perf_counter() - started
        index.save()  # the folder holds the N-entry zoo again (for --index runs)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    p50, p99 = _ms_percentiles(excluded)
    enc_p50, enc_p99 = _ms_percentiles(included)
    result = {
        "entries": n_entries, "dense_chunks": dense_chunks, "real_embedded_texts": len(real_texts),
        "synthetic_vectors": "noisy copies of real MiniLM vectors (sigma %.2f per dim)" % NOISE_PER_DIM,
        "minilm_texts_per_s": round(throughput, 1),
        "minilm_embed_all_estimate_s": round(dense_chunks / throughput, 1),
        "build_s": build_s and round(build_s, 2), "save_s": save_s and round(save_s, 2),
        "load_s": round(load_s, 2),
        "rss_gb": round(rss, 3), "index_rss_gb": round(rss - rss_before, 3),  # a process that only loads it
        **loaded,
        "search_p50_ms": round(p50, 2), "search_p99_ms": round(p99, 2),
        "search_encoded_p50_ms": round(enc_p50, 2), "search_encoded_p99_ms": round(enc_p99, 2),
        "queries": len(queries), "add_1000_s": round(add_s, 3), "add_1000_save_s": round(add_save_s, 2),
        "remove_1000_s": round(remove_s, 3), "dense_recall_at_10": round(recall, 4),
        "threads": args.threads, "cpus": os.cpu_count(), "bench_peak_rss_gb": round(_peak_rss_gb(), 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


_LOAD_CHILD = """
import gc, json, random, sys, time
import numpy as np
import psutil
from polaris_core.index import ZooIndex
rss = lambda: psutil.Process().memory_info().rss / 1e9
before = rss()
started = time.perf_counter()
index = ZooIndex.load(sys.argv[1], verify=True)
seconds = time.perf_counter() - started
loaded = rss()
# What a search builds on first use (per-kind BM25F, selections) stays resident too.
for kind in ("checkpoint", "lora", "embedding"):
    if len(index.kind_rows(kind)):
        index.lexical(kind)
        index.select(kind)
searching = rss()
parts = [index.store._parts[k] for k in index.store.partitions()]
sample = random.Random(0).sample(index.entries, min(2000, len(index.entries)))

def deep(obj):
    size = sys.getsizeof(obj)
    if isinstance(obj, (list, tuple, set)):
        size += sum(deep(x) for x in obj)
    elif isinstance(obj, dict):
        size += sum(deep(k) + deep(v) for k, v in obj.items())
    elif hasattr(obj, "__dict__"):
        size += deep(vars(obj))
    return size

def entries_bytes():
    entries = index.entries
    if not hasattr(entries, "group_keys"):  # a plain list of entry objects
        return sum(map(deep, sample)) / max(len(sample), 1) * len(entries)
    strings = sum(sys.getsizeof(t) for t in entries._texts) + sum(map(sys.getsizeof, entries.ids)) + \
        sum(map(sys.getsizeof, entries.group_keys))
    return strings + 9 * 8 * len(entries)  # and nine list slots per entry (the rest are shared or small)

def csr_bytes(m):
    return m.data.nbytes + m.indices.nbytes + m.indptr.nbytes

record = index.store.dim * 4 + 8 + 4 * (2 * index.store.hnsw.M + 1)  # an hnswlib level-0 element

# The entry-major counts are released once every kind's BM25F model holds them (None then).
lexical = sum(csr_bytes(m) for m in (getattr(index.arrays, n) for n in ("title", "description", "chunk_counts"))
              if m is not None)
derived = sum(v[0].nbytes() for k, v in index._derived.items() if isinstance(k, tuple) and k[0] == "lexical")
breakdown = {
    "rss_searching_gb": searching,
    "mem_entries_gb": entries_bytes() / 1e9,
    "mem_vectors_numpy_gb": sum(p.vectors.nbytes for p in parts) / 1e9,
    # hnswlib allocates level-0 records for its whole capacity but touches only the used ones; each unused
    # slot costs a mutex and a level (~44 bytes resident), each used one ~140 bytes beside its record (lock,
    # level, link pointer, label map). Measured: one 62,850-element graph (1,676-byte records) loaded at
    # capacity 65,000 took 114.3 MB, at 92,403 115.5 MB, at 200,000 120.3 MB.
    "mem_vectors_hnsw_gb": sum(p.graph.get_current_count() * (record + 140) + (p.graph.get_max_elements() -
                                                                                p.graph.get_current_count()) * 44
                               for p in parts if p.graph is not None) / 1e9,
    "mem_vectors_hnsw_capacity_gb": sum(p.graph.get_max_elements() * record for p in parts if p.graph is not None) / 1e9,
    "mem_vector_labels_gb": sum(a.nbytes for p in parts for a in (p.labels, p.sorted_labels, p.sorted_rows,
                                                                  p.deleted_in_graph)) / 1e9,
    "mem_term_counts_gb": lexical / 1e9,
    "mem_bm25f_gb": derived / 1e9,
    "mem_chunk_arrays_gb": sum(getattr(index.arrays, n).nbytes for n in
                               ("chunk_entry", "chunk_kind", "chunk_label", "chunk_dense")) / 1e9,
    "mem_vocabulary_gb": (sum(map(sys.getsizeof, index.terms.vocabulary)) + sys.getsizeof(index.terms.vocabulary)
                          + sys.getsizeof(index.terms.term_ids)) / 1e9,  # the strings, their list and id dict
    "vocabulary_terms": len(index.terms.vocabulary),
}
# What the estimates above leave out: the interpreter and libraries, small structures, allocator slack.
breakdown["mem_unaccounted_gb"] = searching - sum(v for k, v in breakdown.items() if k.startswith("mem_")
                                                  and k != "mem_vectors_hnsw_capacity_gb")
from polaris_core.bench.zoo import own_peak_rss_gb
# The most it held: the first search builds the per-kind models while the entry-major counts are still held.
breakdown["peak_rss_gb"] = own_peak_rss_gb()
# Freed heap pages glibc keeps (load-time copies): what the process would give back if asked.
try:
    import ctypes
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    breakdown["rss_trimmed_gb"] = rss()
except (OSError, AttributeError):
    pass
print(json.dumps([seconds, before, loaded, {k: round(v, 3) if isinstance(v, float) else v
                                             for k, v in breakdown.items()}]))
"""


def _load_in_fresh_process(folder: Path) -> tuple[float, float, float, dict]:
    """(checked load seconds, RSS before, RSS after, what else it measured) of a process that only loads
    the index and builds what a first search builds: memory freed by the build in this process would
    otherwise hide what the loaded index costs. The `mem_*` figures are estimates per structure
    (arrays by their bytes, entries by a deep size of a 2,000-entry sample, the HNSW graph by its layout)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", _LOAD_CHILD, str(folder)], capture_output=True, text=True,
                          env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"loading the index in a fresh process failed:\n{done.stderr[-2000:]}")
    seconds, before, after, measured = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, before, after, measured


def _dense_recall(index, memo: _QueryMemo, queries: list[tuple[str, str]]) -> float:
    """Chunk-level recall@10 of the vector store's search against exact search over the same partitions."""
    from polaris_core.embed.chunks import dense_prompt_text

    hits, total = 0, 0
    cached: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for q, kind in queries:
        parts = index.partitions_for(kind)
        if kind not in cached:
            labels = np.concatenate([index.store.labels(p) for p in parts])
            cached[kind] = (labels, index.store.get_vectors(labels))
        labels, vectors = cached[kind]
        vector = memo.encode([dense_prompt_text(q) or q])[0]
        _, found = index.store.search(vector, 10, parts)
        exact = labels[np.argsort(-(vectors @ vector), kind="stable")[:10]]
        hits += len(set(found.tolist()) & set(exact.tolist()))
        total += len(exact)
    return hits / max(total, 1)
