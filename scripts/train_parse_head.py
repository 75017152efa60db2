"""Train the parser's type head (pooled MiniLM token states + rules reading -> one hidden layer) and save it as JSON.

    python scripts/train_parse_head.py [--dev ../shared/data/bench/instructions-dev.jsonl] [--no-dev]
                                       [--regenerate-set] [--out FOLDER]

Reads polaris_core/parse/data/instructions.jsonl (rewritten from polaris_core/parse/training_set.py with
--regenerate-set), writes type_head_no_dev.json (project set only: the bench's dev figure) and
type_head.json (project set + dev split: what the parser loads). Deterministic; numpy only for the head.
Run it before scripts/train_span_tagger.py, whose cross-validation trains heads of the same shape.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polaris_core.parse import head_training, training_set  # noqa: E402

DEFAULT_DEV = ROOT.parent / "shared" / "data" / "bench" / "instructions-dev.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="dev split added to the shipped head")
    parser.add_argument("--no-dev", action="store_true", help="train the shipped head on the project set only")
    parser.add_argument("--regenerate-set", action="store_true", help="rewrite instructions.jsonl first")
    parser.add_argument("--out", type=Path, help="folder for the two JSON files (default: polaris_core/parse/data)")
    args = parser.parse_args(argv)
    if args.regenerate_set:
        print(f"{training_set.write_rows()} rows -> {training_set.DATA_FILE}")
    dev = None if args.no_dev or not args.dev.is_file() else args.dev
    if dev is None and not args.no_dev:
        print(f"dev split {args.dev} not found: the shipped head is trained on the project set only")
    figures = head_training.train_heads(dev, args.out)
    for key, value in figures.items():
        print(f"{key:>20}: {value:.3f}" if isinstance(value, float) else f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
