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
    parser.add_argument("--explain", action="store_true",
                        help="one instruction: print the intent as readable lines (type, subject, ambiguity) "
                             "before the JSON")
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
        if args.explain or intent.ambiguous:
            from polaris_core.intent import describe_intent

            # on stderr, so stdout stays one JSON document
            sys.stderr.write(describe_intent(intent) + "\n")
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
    """(line number, instruction or None, the input object, problem) for every non-blank line.

    A line that is not valid UTF-8, not JSON (a truncated object included) or has no string field gives
    instruction None and the problem: it becomes an error record, never text parsed with its braces.
    """
    from polaris_core.errors import ConfigError

    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"Cannot read {path} ({exc}); check the --in path.") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, None, {}, (f"line {number} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                                         f"column {exc.start + 1}); save the file as UTF-8")
                continue
            if number == 1:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, {}, (f"line {number} is not JSON ({exc.msg} at column {exc.colno}); write one "
                                         "JSON object per line, e.g. {\"instruction\": \"remove the cat\"}")
                continue
            if isinstance(row, str):
                yield number, row, {}, ""
            elif not isinstance(row, dict):
                yield number, None, {}, f"line {number} is not a JSON object"
            elif not isinstance(row.get(field), str):
                yield number, None, row, f"line {number} has no string field {field!r}"
            else:
                yield number, row[field], row, ""


BATCH_LINES = 256  # lines read, parsed and embedded together


def _run_batch(parser: Any, in_path: Path, field: str, out_path: Path | None, image: Any) -> int:
    started = time.perf_counter()
    records: list[str] = []
    counts = {"lines": 0, "failed": 0}
    chunk: list[tuple[int, str | None, dict, str]] = []
    for row in _read_rows(in_path, field):
        chunk.append(row)
        if len(chunk) >= BATCH_LINES:
            records.extend(_parse_chunk(parser, chunk, image, counts))
            chunk = []
    records.extend(_parse_chunk(parser, chunk, image, counts))
    text = "\n".join(records) + ("\n" if records else "")
    if out_path is None:
        sys.stdout.write(text)
    else:
        _write_atomic(out_path, text)
    elapsed = time.perf_counter() - started
    log.info("parsed %d lines (%d failed) in %.2f s (%.2f ms each)%s", len(records), counts["failed"], elapsed,
             1000 * elapsed / max(1, len(records)), f" -> {out_path}" if out_path else "")
    return 0


def _parse_chunk(parser: Any, chunk: list[tuple[int, str | None, dict, str]], image: Any,
                 counts: dict[str, int]) -> list[str]:
    """JSON lines for one chunk: intents, or error records naming the line, in input order."""
    from polaris_core.errors import PolarisError

    texts = [instruction for _, instruction, _, _ in chunk if instruction is not None]
    if hasattr(parser, "parse_many"):
        parsed = iter(parser.parse_many(texts, image))
    else:
        parsed = iter(_parse_each(parser, texts, image))
    records = []
    for number, instruction, row, problem in chunk:
        outcome: Any = problem if instruction is None else next(parsed)
        if isinstance(outcome, (str, PolarisError)):
            counts["failed"] += 1
            log.warning("line %d: %s", number, outcome)
            record: dict[str, Any] = {"line": number, "instruction": instruction or "", "error": str(outcome)}
        else:
            record = {"line": number, **outcome.to_dict()}
        if "id" in row:
            record = {"id": row["id"], **record}
        records.append(json.dumps(record, ensure_ascii=False))
    return records


def _parse_each(parser: Any, texts: list[str], image: Any) -> list[Any]:
    from polaris_core.errors import PolarisError

    out: list[Any] = []
    for text in texts:
        try:
            out.append(parser.parse(text, image))
        except PolarisError as exc:
            out.append(exc)
    return out


def _write_atomic(path: Path, text: str) -> None:
    from polaris_core.errors import ConfigError

    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise ConfigError(f"Cannot write {path} ({exc}); check the --out path.") from exc
