"""The `polaris` command line: demo, index, search, parse, mask, rerank, bench.

Each sub-command lives in its own module here with a ``register(subparsers)``
function; heavy imports happen inside the command, so `polaris --help` is instant.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from polaris_core.errors import PolarisError

log = logging.getLogger("polaris")

# Sub-command modules, in the order `polaris --help` lists them.
COMMAND_MODULES = ("demo", "index", "search", "parse", "mask", "rerank", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polaris",
        description="Polaris: pick checkpoints and LoRAs for an instruction, offline.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"polaris_core.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"polaris_core.cli.{name}":
                continue  # that stage is not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except PolarisError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
