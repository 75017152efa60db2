"""Save a copy of the benchmark's catalog index with its prompt-less entries re-expanded out of fold, as
`polaris bench retrieval --expand-out-of-fold` does in memory: the `index-expcv` the ranker's README figures,
`ranker_experiments.py` and `ranker_speed.py` read (~2 min on 2 cores once the catalog index exists).

    polaris bench retrieval --no-quality --no-ranker --data ../shared/data      # builds .cache/bench-retrieval/index
    python scripts/save_expanded_index.py --index .cache/bench-retrieval/index --out .cache/bench-retrieval/index-expcv
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("polaris")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="the catalog index polaris bench retrieval built")
    parser.add_argument("--out", required=True, help="new folder for the expanded copy (must not exist)")
    parser.add_argument("--folds", type=int, default=5, help="folds of models (as polaris bench retrieval --folds)")
    parser.add_argument("--cache", help="embedding cache folder (default $POLARIS_CACHE_DIR or ~/.cache/polaris)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out = Path(args.out)
    if out.exists():
        log.error("%s exists; give a new folder with --out (the source index is never changed)", out)
        return 2
    import torch

    from polaris_core.bench.retrieval import expand_out_of_fold
    from polaris_core.index import ZooIndex

    torch.set_num_threads(1)
    index = ZooIndex.load(args.index, verify=False)
    expand_out_of_fold(index, argparse.Namespace(folds=args.folds, expand_max_prompts=None, cache=args.cache))
    index.save(out)
    log.info("saved %d entries to %s", len(index.entries), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
