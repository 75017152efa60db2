"""Train the prompt-expansion model (metadata terms -> prompt terms) and save it as gzip'ed JSON.

    python scripts/train_expansion.py [--catalog ../shared/data/zoo/civitai-2023-sfw.jsonl.gz] [--out FILE]

Fits `polaris_core.retrieve.expansion` on every checkpoint and LoRA of the catalog that has example prompts
and writes polaris_core/retrieve/data/prompt_expansion.json.gz (what index builds load). Deterministic: the
same catalog gives the same bytes. Its effect is measured with grouped cross-validation by
`polaris bench retrieval --expansion cv` (README, "Models with no example prompts").
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polaris_core.retrieve.expansion import DEFAULT_MODEL_FILE, train_from_catalog  # noqa: E402

DEFAULT_CATALOG = Path(os.environ.get("POLARIS_SHARED_DATA", ROOT.parent / "shared" / "data")) / "zoo" / \
    "civitai-2023-sfw.jsonl.gz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, action="append", help=f"catalog file(s) (default {DEFAULT_CATALOG})")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_FILE, help="model file to write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = train_from_catalog(args.catalog or [DEFAULT_CATALOG])
    path = model.save(args.out)
    print(f"{path}: {len(model.features)} features, {len(model.terms)} terms, {path.stat().st_size} bytes, "
          f"model {model.model_id}, fitted on {model.meta.get('training_models')} models "
          f"in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
