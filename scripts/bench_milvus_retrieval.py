"""Same candidates through Milvus? R@10 / MRR@10 of an index and of its Milvus export, side by side.

Runs the dev retrieval splits through both indexes with each query embedded once (the two indexes share
the encoder), for the dense channel alone and for the fused channels, and prints the recall of each, the
share of queries whose top 10 models are identical, and the search time per query (encoding excluded).
`polaris bench retrieval --index EXPORTED` gives the same quality figures, embedding every query anew.

    polaris index export .cache/bench-retrieval/index --to /tmp/catalog.db --out /tmp/catalog-milvus
    .venv/bin/python scripts/bench_milvus_retrieval.py --index .cache/bench-retrieval/index \
        --milvus-index /tmp/catalog-milvus --data ../shared/data
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polaris_core.bench.retrieval import SPLITS, load_split, score  # noqa: E402
from polaris_core.bench.zoo import _QueryMemo  # noqa: E402
from polaris_core.index import ZooIndex  # noqa: E402
from polaris_core.retrieve import SearchOptions, search  # noqa: E402

CHANNEL_SETS = (("dense",), ("lexical", "dense", "names", "author"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="the default-store index")
    parser.add_argument("--milvus-index", required=True, help="its export (`polaris index export`)")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries of each split")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    local, milvus = ZooIndex.load(args.index, verify=False), ZooIndex.load(args.milvus_index, verify=False)
    print(f"{args.index}: {len(local)} entries, {len(local.store)} vectors in {type(local.store).__name__}; "
          f"{args.milvus_index}: {len(milvus.store)} vectors in {type(milvus.store).__name__} "
          f"({getattr(milvus.store, 'uri', '')})")
    memo = _QueryMemo(local.text_encoder)
    local.set_text_encoder(memo)
    milvus.set_text_encoder(memo)
    print(f"{'split':<16} {'channels':<28} {'R@10 local':>10} {'R@10 milvus':>11} {'MRR local':>9} {'MRR milvus':>10} "
          f"{'same top10':>10} {'ms local':>8} {'ms milvus':>9}")
    for split in SPLITS:
        queries, targets, kind = load_split(Path(args.data), split, args.limit)
        memo.encode(queries)
        for channels in CHANNEL_SETS:
            options = SearchOptions(channels=channels)
            ranked, seconds = {}, {}
            for name, index in (("local", local), ("milvus", milvus)):
                search(index, queries[0], kind=kind, k=10, options=options)  # warm the per-kind caches
                started = time.perf_counter()
                ranked[name] = [[c.entry.civitai_model_id for c in search(index, q, kind=kind, k=10, options=options)]
                                for q in queries]
                seconds[name] = 1000 * (time.perf_counter() - started) / max(len(queries), 1)
            a, b = score(ranked["local"], targets), score(ranked["milvus"], targets)
            same = np.mean([x == y for x, y in zip(ranked["local"], ranked["milvus"])])
            print(f"{split:<16} {'+'.join(channels):<28} {a.r10:>10.3f} {b.r10:>11.3f} {a.mrr10:>9.3f} "
                  f"{b.mrr10:>10.3f} {same:>10.3f} {seconds['local']:>8.1f} {seconds['milvus']:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
