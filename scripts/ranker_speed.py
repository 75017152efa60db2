"""The loop `polaris bench retrieval --speed` times for search + ranker (search_pool, features, model on the first
200 LoRA dev queries, vectors encoded beforehand), run for several passes and timed in wall and in CPU time of this
thread: the first pass sees most candidates for the first time (as the command does), later passes are warm. On a
shared machine run it alternately for two versions of the code (PYTHONPATH=one checkout, then the other).

    PYTHONPATH=. python scripts/ranker_speed.py --index .cache/bench-retrieval/index-expcv --passes 2
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    import torch

    from polaris_core.bench.retrieval import load_split
    from polaris_core.embed.chunks import dense_prompt_text
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import search_pool
    from polaris_core.retrieve.ranker import features, shipped_ranker

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True)
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for encoding the queries")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    index = ZooIndex.load(args.index, verify=False)
    queries, _, kind = load_split(Path(args.data), "lora", args.queries)
    vectors = index.text_encoder.encode([dense_prompt_text(q) for q in queries])
    ranker = shipped_ranker()
    if ranker is None:
        print("no usable ranker model")
        return 1
    print(f"code {Path(sys.modules['polaris_core'].__file__).parent}, load average {os.getloadavg()[0]:.2f}")
    for number in range(args.passes):
        wall, cpu, rank_wall, rank_cpu = [], [], [], []
        for q, vector in zip(queries, np.asarray(vectors)):
            t0, c0 = time.perf_counter(), time.thread_time()
            found = search_pool(index, q, kind=kind, vector=vector)
            t1, c1 = time.perf_counter(), time.thread_time()
            ranker.scores(features(found))
            t2, c2 = time.perf_counter(), time.thread_time()
            wall.append(1000 * (t2 - t0))
            cpu.append(1000 * (c2 - c0))
            rank_wall.append(1000 * (t2 - t1))
            rank_cpu.append(1000 * (c2 - c1))
        print(f"pass {number}: search + ranker wall p50 {_percentile(wall, .5):.2f} p99 {_percentile(wall, .99):.2f}"
              f" CPU p50 {_percentile(cpu, .5):.2f} p99 {_percentile(cpu, .99):.2f} | ranker wall p50 "
              f"{_percentile(rank_wall, .5):.2f} p99 {_percentile(rank_wall, .99):.2f} CPU p50 "
              f"{_percentile(rank_cpu, .5):.2f} p99 {_percentile(rank_cpu, .99):.2f} ms  (load average "
              f"{os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
