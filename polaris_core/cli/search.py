"""`polaris search`: query a zoo index, one prompt (a table) or a JSONL file of queries (ranked JSONL)."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from polaris_core.atomic import write_text_atomic

log = logging.getLogger("polaris")


def register(subparsers) -> None:
    parser = subparsers.add_parser("search", help="search a zoo index by prompt or image")
    parser.add_argument("prompt", nargs="?", help="a prompt to search for (prints a table)")
    parser.add_argument("--index", required=True, metavar="INDEX_DIR", help="index folder from `polaris index build`")
    parser.add_argument("--kind", default="lora", choices=("lora", "checkpoint", "embedding"))
    parser.add_argument("--queries", metavar="FILE.jsonl", help="one JSON object per line; see --field")
    parser.add_argument("--field", default="query", help="the query text's key in each --queries line")
    parser.add_argument("--out", metavar="RANKED.jsonl", help="where to write results for --queries "
                        "(default: stdout)")
    parser.add_argument("--k", type=_positive_int, default=10, help="results per query (default 10)")
    parser.add_argument("--base-family", help="only this base family (e.g. sd15, sdxl)")
    parser.add_argument("--role", help="only this role (style, object, character, other)")
    parser.add_argument("--channels", help="comma-separated channels to use "
                                           "(default all: lexical,dense,names,image,popularity,author)")
    parser.add_argument("--image", metavar="PATH", help="query image (needs an index built with --clip)")
    parser.add_argument("--clip", metavar="SAFETENSORS", help="the CLIP weights the index was built with")
    parser.add_argument("--clip-arch", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.set_defaults(run=run)


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def check_out_path(path: Path) -> None:
    """ConfigError now, before any work, when results could not be written to `path` later."""
    from polaris_core.errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"--out {path} is a folder; give a file name such as {path / 'ranked.jsonl'}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"--out {path}: the folder {parent} does not exist; create it or choose another path.")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"--out {path} is not writable; choose another path.")


def options_from(args):
    from polaris_core.errors import ConfigError
    from polaris_core.retrieve import CHANNELS, SearchOptions

    options = SearchOptions()
    if args.channels:
        wanted = tuple(c.strip() for c in args.channels.split(",") if c.strip())
        unknown = set(wanted) - set(CHANNELS)
        if unknown:
            raise ConfigError(f"Unknown channel(s) {sorted(unknown)}; choose from {', '.join(CHANNELS)}.")
        options.channels = wanted
    return options


def result_record(candidate) -> dict:
    entry = candidate.entry
    return {
        "id": entry.id,
        "civitai_model_id": entry.civitai_model_id,
        "civitai_version_id": entry.civitai_version_id,
        "name": entry.name,
        "score": round(candidate.score, 6),
    }


def run(args) -> int:
    from polaris_core.errors import ConfigError
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import search

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not args.queries and not args.prompt and not args.image:
        raise ConfigError('Give a prompt (`polaris search --index DIR "a prompt"`), --image PATH, or '
                          "--queries FILE.jsonl.")
    if args.out:
        if not args.queries:
            raise ConfigError("--out writes the results of --queries; a single prompt prints a table.")
        check_out_path(Path(args.out))
    image_encoder = None
    if args.clip:
        from polaris_core.clip_model import load_clip
        from polaris_core.embed.image import ClipEncoder

        image_encoder = ClipEncoder(load_clip(args.clip, arch=args.clip_arch))
    index = ZooIndex.load(args.index, image_encoder=image_encoder, verify=False)
    options = options_from(args)
    kwargs = dict(kind=args.kind, k=args.k, base_family=args.base_family, role=args.role, options=options)
    if args.queries:
        return _run_batch(index, args, kwargs)
    image = None
    if args.image:
        from polaris_core.mask.image import load_image

        image = load_image(args.image)
    results = search(index, args.prompt, image, **kwargs)
    _print_table(results, args.kind)
    return 0


def _run_batch(index, args, kwargs) -> int:
    from polaris_core.errors import ConfigError
    from polaris_core.retrieve import search

    path = Path(args.queries)
    if not path.is_file():
        raise ConfigError(f"Query file {path} does not exist; give a JSONL file with a {args.field!r} field.")
    lines_out: list[str] = []
    skipped = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            text = ""
            try:
                record = json.loads(line)
                value = record.get(args.field) if isinstance(record, dict) else None
                text = value if isinstance(value, str) else ""
            except ValueError:
                log.warning("%s:%d is not JSON; writing an empty result for it", path.name, line_no)
            if not text.strip():
                skipped += 1
            results = search(index, text, None, **kwargs) if text.strip() else []
            lines_out.append(json.dumps({"results": [result_record(c) for c in results]}, ensure_ascii=False))
    if skipped:
        log.warning("%d query lines had no usable %r text; their results are empty", skipped, args.field)
    payload = "\n".join(lines_out) + ("\n" if lines_out else "")
    if args.out:
        try:
            write_text_atomic(Path(args.out), payload)
        except OSError as exc:
            raise ConfigError(f"Cannot write {args.out} ({exc}); check the --out path.") from exc
        log.info("wrote %d result lines to %s", len(lines_out), args.out)
    else:
        sys.stdout.write(payload)
    return 0


def _print_table(results, kind: str) -> None:
    if not results:
        print(f"no {kind} matches")
        return
    rows = [("#", "score", "name", "version", "author", "family", "role", "channels", "id")]
    for rank, c in enumerate(results, 1):
        channels = " ".join(f"{k}={v:.2f}" for k, v in c.channel_scores.items())
        rows.append((str(rank), f"{c.score:.2f}", _clip(c.entry.name, 40), _clip(c.entry.version_name, 16),
                     _clip(c.entry.author, 16) or "-", c.entry.base_family, c.entry.role, channels, c.entry.id))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
