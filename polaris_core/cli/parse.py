"""`polaris parse`: one instruction -> intent JSON on stdout, or a JSONL file -> one intent per line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from polaris_core.atomic import write_text_atomic

log = logging.getLogger("polaris")

# Written for a line that cannot be parsed, so the output stays aligned with the input.
FALLBACK_TYPE = 2
FALLBACK_SUBJECT = "object"


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """--backend/--model/--base-url/... (shared with `polaris bench parse`)."""
    parser.add_argument("--backend", choices=("rules", "transformers", "openai"), default="rules",
                        help="parser backend (default: rules, offline and model-free)")
    parser.add_argument("--model", metavar="PATH", help="transformers: a causal LM folder or .gguf (default SmolLM2)")
    parser.add_argument("--vision-model", metavar="PATH",
                        help="transformers: a vision-language model folder, used when --image is given")
    parser.add_argument("--base-url", metavar="URL", help="openai: server base URL, e.g. http://127.0.0.1:11434")
    parser.add_argument("--api-model", metavar="NAME", help="openai: model name (default: the server's first)")
    parser.add_argument("--timeout", type=float, default=60.0, help="openai: seconds to wait (default 60)")


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.backend == "transformers":
        options = {"model_path": args.model, "vision_model_path": args.vision_model}
        return {k: v for k, v in options.items() if v}
    if args.backend == "openai":
        return {"base_url": args.base_url, "model": args.api_model, "timeout": args.timeout}
    return {}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "parse", help="parse an editing instruction into a Polaris intent (JSON)",
        description="Parse an instruction into an intent. Give one instruction, or --in/--out for a JSONL batch "
                    "(one intent per input line, in input order).",
    )
    parser.add_argument("instruction", nargs="?", help="the instruction, e.g. \"replace the dog with a cat\"")
    parser.add_argument("--image", metavar="PATH", help="optional image (style reference for types 3/4)")
    parser.add_argument("--in", dest="in_path", metavar="FILE.jsonl", help="batch input, one JSON object per line")
    parser.add_argument("--field", default="instruction", help="input field holding the instruction")
    parser.add_argument("--out", dest="out_path", metavar="FILE.jsonl", help="batch output (default: stdout)")
    add_backend_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from polaris_core.errors import ConfigError
    from polaris_core.parse import get_parser

    if (args.instruction is not None) == (args.in_path is not None):
        raise ConfigError("Give either one instruction or --in FILE.jsonl (not both, not neither).")
    parser = get_parser(args.backend, **backend_options(args))
    image = _load_image(args.image) if args.image else None
    if args.instruction is not None:
        intent = parser.parse(args.instruction, image)
        sys.stdout.write(json.dumps(intent.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return 0
    return _run_batch(parser, Path(args.in_path), args.field, Path(args.out_path) if args.out_path else None, image)


def _load_image(path: str) -> Any:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from polaris_core.errors import ImageError

    try:
        with Image.open(path) as picture:
            return np.asarray(picture.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise ImageError(f"Cannot read the image {path} ({exc}); give a PNG or JPEG file.") from exc


def _read_rows(path: Path, field: str) -> Iterator[tuple[int, str | None, dict, str]]:
    """(line number, instruction or None, the input object, problem) for every non-blank line."""
    from polaris_core.errors import ConfigError

    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path} ({exc}); check the --in path.") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                yield number, line.strip(), {}, "line is not JSON; used the raw text"
                continue
            if isinstance(row, str):
                yield number, row, {}, ""
            elif not isinstance(row, dict):
                yield number, None, {}, "line is not a JSON object"
            elif not isinstance(row.get(field), str):
                yield number, None, row, f"no string field {field!r}"
            else:
                yield number, row[field], row, ""


def _run_batch(parser: Any, in_path: Path, field: str, out_path: Path | None, image: Any) -> int:
    from polaris_core.errors import PolarisError

    started = time.perf_counter()
    records: list[str] = []
    failed = 0
    for number, instruction, row, problem in _read_rows(in_path, field):
        record: dict[str, Any]
        try:
            if instruction is None:
                raise ValueError(problem)
            record = parser.parse(instruction, image).to_dict()
            if problem:
                record["notes"].append(problem)
        except (PolarisError, ValueError) as exc:
            failed += 1
            log.warning("line %d: %s", number, exc)
            record = {"instruction": instruction or "", "instruction_type": FALLBACK_TYPE,
                      "subject": FALLBACK_SUBJECT, "confidence": 0.0, "error": str(exc)}
        if "id" in row:
            record = {"id": row["id"], **record}
        records.append(json.dumps(record, ensure_ascii=False))
    text = "\n".join(records) + ("\n" if records else "")
    if out_path is None:
        sys.stdout.write(text)
    else:
        _write_atomic(out_path, text)
    elapsed = time.perf_counter() - started
    log.info("parsed %d lines (%d failed) in %.2f s (%.2f ms each)%s", len(records), failed, elapsed,
             1000 * elapsed / max(1, len(records)), f" -> {out_path}" if out_path else "")
    return 0


def _write_atomic(path: Path, text: str) -> None:
    from polaris_core.errors import ConfigError

    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise ConfigError(f"Cannot write {path} ({exc}); check the --out path.") from exc
