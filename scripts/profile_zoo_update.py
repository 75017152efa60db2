"""Where adding and removing 1,000 entries spends its time on a saved zoo (cProfile; nothing is saved).

Loads the index, runs dev searches so every kind's lexical models exist (as after a sidebar's first
searches), then profiles `update` with the 1,000 synthetic entries `polaris bench zoo` adds and `remove`
of the same entries, printing the top of each profile by cumulative time.

    python scripts/profile_zoo_update.py --index /tmp/scale-work/1m/zoo-1000000
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

import numpy as np

from polaris_core.bench import zoo as bench_zoo
from polaris_core.embed.chunks import dense_prompt_text, entry_chunks
from polaris_core.embed.text import load_text_encoder
from polaris_core.index import ZooIndex
from polaris_core.retrieve import search
from polaris_core.zoo.civitai import load_catalog


def profiled(label: str, work, lines: int) -> None:
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    work()
    profile.disable()
    print(f"== {label}: {time.perf_counter() - started:.2f} s", flush=True)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(lines)
    print(out.getvalue(), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a zoo folder saved by `polaris bench zoo --work`")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--queries", type=int, default=60, help="dev searches before the add")
    parser.add_argument("--lines", type=int, default=28, help="profile lines printed per step")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    pools = bench_zoo._Pools(load_catalog([args.data / bench_zoo.CATALOG_NAME]))
    head = bench_zoo.synthetic_entries(pools, 500, rng)
    real = load_text_encoder()
    texts = list(dict.fromkeys(c.dense_text for e in head for c in entry_chunks(e) if c.dense))
    encoder = bench_zoo._SyntheticEncoder(real, texts, real.encode(texts), 0)
    extra = bench_zoo.synthetic_entries(pools, 1000, rng, first_id=10 ** 9)
    started = time.perf_counter()
    index = ZooIndex.load(args.index, verify=False)
    print(f"load (unchecked): {time.perf_counter() - started:.1f} s", flush=True)
    queries = bench_zoo._dev_queries(args.data, args.queries)
    memo = bench_zoo._QueryMemo(real)
    memo.encode([dense_prompt_text(q) or q for q, _ in queries])
    index.set_text_encoder(memo)
    profiled(f"{len(queries)} searches", lambda: [search(index, q, kind=kind, k=10) for q, kind in queries], args.lines)
    index.set_text_encoder(encoder)
    profiled("add 1,000", lambda: index.update(extra), args.lines)
    profiled("remove 1,000", lambda: index.remove([e.id for e in extra]), args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
