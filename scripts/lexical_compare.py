"""Compare `FieldedBM25.search` of this checkout with another version's, on one index: every entry's score
(bit for bit) and best chunk, with and without left-out chunks, and the time of each, alternating.

    git show COMMIT:polaris_core/embed/lexical.py > /tmp/lexical_old.py
    python scripts/lexical_compare.py --index .cache/bench-retrieval/index --old /tmp/lexical_old.py [--queries 3000]

Prints how many searches are identical and the mean milliseconds of each version (the load average beside
them: on a shared machine only the ratio means much). No figure is asserted anywhere.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import numpy as np

    from polaris_core.bench.zoo import _dev_queries
    from polaris_core.embed.lexical import lexical_terms, query_terms
    from polaris_core.index import ZooIndex

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="an index folder")
    parser.add_argument("--old", required=True, help="another version's polaris_core/embed/lexical.py")
    parser.add_argument("--queries", type=int, default=3000, help="dev queries, half LoRA, half checkpoint")
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"))
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("polaris_lexical_old", args.old)
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # dataclasses look their module up while the file runs
    spec.loader.exec_module(old)
    index = ZooIndex.load(args.index, verify=False)
    queries = _dev_queries(Path(args.data), args.queries)
    for text, kind in queries[:3]:  # build each kind's model before timing
        index.lexical_search(kind, text)
    identical = total = 0
    seconds = {"old": 0.0, "new": 0.0}
    for i, (text, kind) in enumerate(queries):
        model = index.lexical(kind)[0]
        terms = query_terms(index.terms, lexical_terms(text))
        for left_out in (None, np.arange(i % 7, model.chunks.shape[0], 389)):
            hits = {}
            for version in (("old", "new") if (i + total) % 2 else ("new", "old")):
                search = old.FieldedBM25.search if version == "old" else type(model).search
                started = time.perf_counter()
                hits[version] = search(model, *terms, exclude_chunks=left_out)
                seconds[version] += time.perf_counter() - started
            a, b = hits["old"], hits["new"]
            identical += bool(np.array_equal(a.scores.view(np.int32), b.scores.view(np.int32))
                              and np.array_equal(a.best_chunk, b.best_chunk))
            total += 1
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    print(f"{args.index}: {len(index):,} entries, {total} searches ({len(queries)} queries, each also with "
          f"chunks left out): identical {identical}/{total}; mean ms old {1000 * seconds['old'] / total:.2f}, "
          f"new {1000 * seconds['new'] / total:.2f} (load average {load})")
    return 0 if identical == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
