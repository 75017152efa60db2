"""`polaris bench <what>`: benchmark scripts that print figures (never timed tests)."""
from __future__ import annotations

import importlib

BENCH_MODULES = ("parse", "retrieval", "index", "rerank", "mask", "zoo")


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark and print its figures")
    bench_sub = parser.add_subparsers(dest="bench", metavar="BENCHMARK")
    for name in BENCH_MODULES:
        try:
            module = importlib.import_module(f"polaris_core.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"polaris_core.bench.{name}":
                continue
            raise
        module.register(bench_sub)
