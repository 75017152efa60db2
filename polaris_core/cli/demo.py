"""`polaris demo`: parse → retrieve → rerank → plan over the shipped demo zoo, fully offline.

    polaris demo                          # three example edits
    polaris demo --all                    # every example edit
    polaris demo --instruction "make the cat look like a stained-glass window"
    polaris demo --json                   # one JSON object per instruction
"""
from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on the shipped demo zoo", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--instruction", action="append", default=[], help="an instruction (repeatable)")
    parser.add_argument("--all", action="store_true", help="run every shipped example instruction")
    parser.add_argument("--index-dir", default=None, help="where the demo index is kept (default: the Polaris cache)")
    parser.add_argument("--model", default=None, help="LLM folder or .gguf (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--candidates", type=int, default=8, help="LoRA candidates per slot to rerank (default 8)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per instruction")
    parser.set_defaults(run=run)


def run(args) -> int:
    from polaris_core.cli.rerank import format_plan, format_ranked
    from polaris_core.demo import DEMO_INSTRUCTIONS
    from polaris_core.llm import load_llm
    from polaris_core.pipeline import demo_index, run_pipeline
    from polaris_core.rerank import TreeReranker

    if args.instruction:
        instructions = list(args.instruction)
    else:
        shipped = [d.text for d in DEMO_INSTRUCTIONS]
        instructions = shipped if args.all else [shipped[0], shipped[4], shipped[6]]
    build = demo_index(args.index_dir)
    reranker = TreeReranker(load_llm(args.model))
    if not args.json:
        print(f"demo zoo index: {build.summary().splitlines()[0]}")
        print(f"reranker: {reranker.mode} scoring with {args.model or 'SmolLM2-135M-Instruct'}")
    for text in instructions:
        result = run_pipeline(text, build.index, reranker, k_loras=args.candidates)
        if args.json:
            print(json.dumps({"instruction": text, "intent": result.intent.to_dict(),
                              "candidates": result.ranked.to_dict(), "plan": result.plan.to_dict(),
                              "timings": result.timings}, ensure_ascii=False))
            continue
        intent = result.intent
        print()
        print("=" * 100)
        print(f"instruction: {text}")
        print(f"intent: type {int(intent.instruction_type)} ({intent.instruction_type.name.lower()}), "
              f"subject {intent.subject!r}, prompt {intent.generation_prompt!r}")
        for line in format_ranked(result.ranked) + format_plan(result.plan):
            print(line)
        print("time: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.timings.items()))
    return 0
