"""Tree rerank node: the LLM scores every candidate in one pass per round, prunes, and composes the plan."""
from __future__ import annotations

import logging
import math
from pathlib import Path

from comfy_api.v0_0_2 import io

from . import types
from .comfy import execution, folders, previews

log = logging.getLogger("polaris")

MEASURED = -1.0  # judge_weight widget value meaning "the weight measured for the connected LLM"


def judge_weight_files() -> list[Path]:
    """models/polaris/judge-weights.json in every folder ComfyUI lists for models/polaris."""
    import folder_paths

    try:
        return [Path(p) / "judge-weights.json" for p in folder_paths.get_folder_paths(folders.POLARIS_KEY)]
    except (KeyError, AttributeError):  # the folder key is not registered yet
        return []


class PolarisTreeRerank(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisTreeRerank",
            display_name="Tree Rerank (Polaris)",
            category="Polaris/rerank",
            description="Scores all retrieved candidates with the LLM in one forward pass per round (each candidate "
                        "is a branch that sees the shared prompt but not the others), prunes the weakest, and "
                        "composes the plan: checkpoint, LoRAs with weights, trigger words and the final prompt. "
                        "The LLM can lift a candidate at most two places past retrieval's order; a judge whose "
                        "measured weight is about zero is skipped (the node says so).",
            inputs=[
                types.LanguageModel.Input("llm", optional=True,
                                          tooltip="The language model that judges the candidates. Without one "
                                                  "the plan follows the retrieval order."),
                types.Candidates.Input("candidates", tooltip="Output of Retrieve LoRA (Polaris)."),
                io.Int.Input("keep", default=3, min=1, max=32, optional=True,
                             tooltip="Finalists per slot after the pruning rounds."),
                io.Combo.Input("score", options=["yes_no", "likert5"], default="yes_no", optional=True,
                               tooltip="yes_no: P(Yes) that the model fits; likert5: expected rating 1-5."),
                io.Float.Input("judge_weight", default=MEASURED, min=-1.0, max=1.0, step=0.05, optional=True,
                               tooltip="The LLM's say next to retrieval. -1: the weight measured for this LLM on the "
                                       "dev split (`polaris bench rerank --quality --save`; about zero skips the "
                                       "LLM). 0: retrieval's order, no LLM pass. 1: the LLM may lift a candidate "
                                       "up to two places."),
            ],
            outputs=[types.Plan.Output(display_name="plan"), types.Candidates.Output(display_name="ranked")],
        )

    @classmethod
    def validate_inputs(cls, judge_weight=MEASURED) -> bool | str:
        # Only judge_weight is named: ComfyUI skips its own range checks for the inputs named here.
        if not isinstance(judge_weight, (int, float)) or not math.isfinite(judge_weight) or \
                not (judge_weight == MEASURED or 0.0 <= judge_weight <= 1.0):
            return "Tree Rerank (Polaris): judge_weight must be -1 (measured) or a number from 0 to 1."
        return True

    @classmethod
    def execute(cls, candidates, llm=None, keep=3, score="yes_no", judge_weight=MEASURED) -> io.NodeOutput:
        from polaris_core.plan import compose_plan
        from polaris_core.report import candidates_table, plan_summary
        from polaris_core.rerank import TreeReranker

        execution.refuse_non_finite("Tree Rerank (Polaris)", judge_weight=judge_weight)
        if llm is None:  # no LLM connected, or the bundled one is not installed: retrieval order
            ranked = candidates
            plan = compose_plan(candidates.intent, ranked)
            plan.notes.append("no LLM: the plan follows the retrieval order (connect Load LLM (Polaris) to rerank)")
            judge = "no LLM connected: retrieval's order stands (connect Load LLM (Polaris) to let an LLM judge)"
        else:
            on_step, check_cancel = execution.callbacks()
            weight = None if judge_weight == MEASURED else float(judge_weight)
            reranker = TreeReranker(llm, score_mode=score, judge_weight=weight)
            ranked = reranker.rerank_all(candidates, keep=keep, on_step=on_step, check_cancel=check_cancel)
            plan = compose_plan(candidates.intent, ranked)
            judge = reranker.judge_summary()
        text = "PLAN\n" + plan_summary(plan) + "\n\nJUDGE\n" + judge + "\n\nRANKED\n" + candidates_table(ranked)
        return io.NodeOutput(plan, ranked, ui=previews.candidate_preview(ranked, text))


def _register_weight_files() -> None:
    from polaris_core.rerank.judge import register_weight_files

    register_weight_files(judge_weight_files)  # the sidebar's reranker reads the same measured weights


_register_weight_files()

NODES = [PolarisTreeRerank]
