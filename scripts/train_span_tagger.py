"""Train the parser's span tagger (frozen MiniLM token states + rule hints -> subject / new-object tags) and save it.

    python scripts/train_span_tagger.py [--out FOLDER]

Reads polaris_core/parse/data/instructions.jsonl (the project's generated set; regenerate it with
`python scripts/train_parse_head.py --regenerate-set`), cross-validates the whole parser with templates and their
near-twins held out, chooses how the tagger and the rules combine (the confidence threshold and the rules whose
subject is exact), fits the tagger on every row and writes polaris_core/parse/data/span_tagger.npz (plain arrays,
no pickle). Deterministic; numpy only for the tagger. A few minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polaris_core.parse import span_training  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="folder for span_tagger.npz (default: polaris_core/parse/data)")
    args = parser.parse_args(argv)
    figures = span_training.train_tagger(args.out)
    for key, value in figures.items():
        print(f"{key:>22}: {value:.4f}" if isinstance(value, float) else f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
