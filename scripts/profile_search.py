"""Where a fused search's time goes on one index: cProfile over dev queries after a warm-up.

    python scripts/profile_search.py --index /tmp/scale-work/300k/zoo-300000 [--queries 200] [--top 45]

Loads the index (unchecked), encodes the queries beforehand (encoding is not profiled), runs each kind's
first search to build its caches, times the first half of the queries plainly (p50 printed) and profiles
the second half: cumulative and own time per function. No figure is asserted anywhere.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="an index folder")
    parser.add_argument("--queries", type=int, default=200, help="dev queries, half LoRA, half checkpoint")
    parser.add_argument("--top", type=int, default=45, help="functions listed per table")
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"))
    args = parser.parse_args()
    import torch

    from polaris_core.bench.zoo import _dev_queries, _QueryMemo
    from polaris_core.embed.chunks import dense_prompt_text
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import search

    torch.set_num_threads(1)
    started = time.perf_counter()
    index = ZooIndex.load(Path(args.index), verify=False)
    print(f"{len(index):,} entries loaded in {time.perf_counter() - started:.1f} s")
    queries = _dev_queries(Path(args.data), args.queries)
    memo = _QueryMemo(load_text_encoder())
    memo.encode([dense_prompt_text(q) or q for q, _ in queries])
    index.set_text_encoder(memo)
    for kind, text in {kind: text for text, kind in reversed(queries)}.items():
        search(index, text, kind=kind, k=10)
    half = len(queries) // 2
    seconds = []
    for text, kind in queries[:half]:
        started = time.perf_counter()
        search(index, text, kind=kind, k=10)
        seconds.append(time.perf_counter() - started)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    print(f"search p50 {1000 * statistics.median(seconds):.1f} ms over {half} queries (load average {load})")
    profile = cProfile.Profile()
    profile.enable()
    for text, kind in queries[half:]:
        search(index, text, kind=kind, k=10)
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top // 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
