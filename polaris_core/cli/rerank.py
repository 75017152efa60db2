"""`polaris rerank`: retrieve candidates for an instruction, rerank them with the LLM tree, print the plan.

    polaris rerank --index DIR --instruction "make the cat a watercolor painting" [--candidates N]
    polaris rerank --candidates-json FILE --instruction "…"   # candidates saved earlier (Candidates JSON)

Prints each slot's candidates best first (rerank score, retrieval score, base family, name), then the
plan. `--json` prints one JSON object {"candidates": …, "plan": …} instead; `--out FILE` also writes
the plan JSON (atomically) for the apply stage.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from polaris_core.atomic import write_text_atomic

log = logging.getLogger("polaris")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rerank", help="rerank retrieved checkpoints and LoRAs with the LLM tree and print the plan",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--index", help="index folder built by `polaris index build`")
    source.add_argument("--candidates-json", help="a saved Candidates JSON file instead of retrieval")
    parser.add_argument("--instruction", required=True, help="the editing instruction")
    parser.add_argument("--candidates", type=int, default=12, metavar="N", help="LoRA candidates per slot (default 12)")
    parser.add_argument("--checkpoints", type=int, default=5, metavar="K", help="checkpoint candidates (default 5)")
    parser.add_argument("--keep", type=int, default=3, help="finalists per slot after pruning rounds (default 3)")
    parser.add_argument("--model", default=None, help="LLM folder or .gguf (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--parser", default="rules", help="instruction parser backend (default: rules)")
    parser.add_argument("--score-mode", default="yes_no", choices=("yes_no", "likert5"))
    parser.add_argument("--description-tokens", type=int, nargs="+", default=[48, 128], metavar="T",
                        help="description token budget per pruning round (default: 48 128)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--judge-weight", type=float, default=None,
                        help="the LLM's say, 0-1 (default: the weight `polaris bench rerank --quality --save` "
                             "measured for this model; about zero skips the LLM)")
    parser.add_argument("--out", default=None, help="also write the plan JSON to this file")
    parser.set_defaults(run=run)


def load_candidates_json(path: str | os.PathLike):
    """Candidates from a JSON file in `Candidates.to_dict()` form (e.g. saved by `polaris search`)."""
    from polaris_core.candidates import Candidate, Candidates
    from polaris_core.errors import ConfigError
    from polaris_core.plan import intent_from_dict
    from polaris_core.zoo.entry import ZooEntry

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        slots = {}
        for key, slot in (("checkpoints", "checkpoint"), ("style_loras", "style_lora"), ("object_loras", "object_lora")):
            slots[key] = [Candidate(entry=ZooEntry.from_dict(dict(c["entry"])), slot=str(c.get("slot", slot)),
                                    score=float(c.get("score", 0.0)),
                                    channel_scores={str(k): float(v) for k, v in dict(c.get("channel_scores") or {}).items()})
                          for c in data.get(key) or []]
        intent = intent_from_dict(data["intent"]) if data.get("intent") else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"Cannot read candidates from {path} ({exc}); give a Candidates JSON file.") from exc
    return Candidates(intent=intent, **slots)


def format_ranked(candidates) -> list[str]:
    """One line per candidate in the order the plan uses: "rN" is the pruning round it reached (finalists
    first); "final" values compare only within a round."""
    from polaris_core.candidates import SLOTS

    lines = []
    for slot in SLOTS:
        items = candidates.slot(slot)
        if not items:
            continue
        lines.append(f"{slot} ({len(items)}):")
        for rank, c in enumerate(items, 1):
            score = "   -  " if c.rerank_score is None else f"{c.rerank_score:.3f}"
            final = "   -  " if c.final_score is None else f"{c.final_score:.3f}"
            reached = f"r{c.rerank_round}" if c.rerank_round else "- "
            lines.append(f"  {rank:>2}. {reached} final {final}  llm {score}  retrieval {c.score:+.3f}  "
                         f"[{c.entry.base_family}] {c.entry.name[:70]}")
    return lines


def format_plan(plan) -> list[str]:
    lines = ["plan:"]
    if plan.checkpoint:
        lines.append(f"  checkpoint: {plan.checkpoint.name}  — {plan.checkpoint.why}")
    else:
        lines.append("  checkpoint: (the workflow's own)")
    for c in plan.loras:
        lines.append(f"  {c.slot}: {c.name} @ {c.weight}  — {c.why}")
    lines.append(f"  base family: {plan.base_family}")
    lines.append(f"  trigger words: {', '.join(plan.trigger_words) or '(none)'}")
    lines.append(f"  prompt: {plan.prompt}")
    lines.append(f"  negative: {plan.negative_prompt}")
    lines += [f"  note: {n}" for n in plan.notes]
    return lines


def run(args) -> int:
    from polaris_core.errors import ConfigError
    from polaris_core.llm import load_llm
    from polaris_core.parse import parse
    from polaris_core.plan import compose_plan
    from polaris_core.rerank import TreeReranker

    if args.candidates < 1 or args.checkpoints < 1 or args.keep < 1:
        raise ConfigError("--candidates, --checkpoints and --keep must be at least 1.")
    intent = parse(args.instruction, backend=args.parser)
    if args.index:
        from polaris_core.index import ZooIndex
        from polaris_core.retrieve import retrieve

        index = ZooIndex.load(args.index)
        candidates = retrieve(index, intent, k_checkpoints=args.checkpoints, k_loras=args.candidates)
    else:
        candidates = load_candidates_json(args.candidates_json)
        candidates.intent = intent
        candidates.checkpoints = candidates.checkpoints[: args.checkpoints]
        candidates.style_loras = candidates.style_loras[: args.candidates]
        candidates.object_loras = candidates.object_loras[: args.candidates]
    reranker = TreeReranker(load_llm(args.model), score_mode=args.score_mode,
                            description_tokens=args.description_tokens,
                            max_branch_tokens=max(256, max(args.description_tokens) + 128),
                            judge_weight=args.judge_weight)
    ranked = reranker.rerank_all(candidates, keep=args.keep)
    plan = compose_plan(intent, ranked)
    if args.out:
        write_text_atomic(Path(args.out), plan.to_json())
    if args.json:
        print(json.dumps({"candidates": ranked.to_dict(), "plan": plan.to_dict()}, ensure_ascii=False))
        return 0
    print(f"intent: type {int(intent.instruction_type)}, subject {intent.subject!r}, prompt {intent.generation_prompt!r}")
    print(f"reranker: {reranker.mode}, {reranker.last_stats.rounds} round(s) on the last slot")
    print(reranker.judge_summary())
    for line in format_ranked(ranked) + format_plan(plan):
        print(line)
    return 0
