"""Top-10 (entry id, score) of the dev retrieval queries over an index, as JSON: run it with two versions of
the code and diff the files to check that a change leaves search results alone.

    python scripts/search_snapshot.py --index .cache/bench-retrieval/index --out before.json [--queries 200]
    (change the code) ... --out after.json ; cmp before.json after.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from polaris_core.bench.zoo import _dev_queries
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import search

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="an index folder (e.g. the real catalog's)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--queries", type=int, default=200, help="dev queries, half LoRA, half checkpoint")
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"))
    args = parser.parse_args()
    index = ZooIndex.load(args.index, verify=True)
    results = [[[c.entry.id, round(c.score, 6)] for c in search(index, query, kind=kind, k=10)]
               for query, kind in _dev_queries(Path(args.data), args.queries)]
    Path(args.out).write_text(json.dumps(results), encoding="utf-8")
    print(f"{len(results)} queries → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
