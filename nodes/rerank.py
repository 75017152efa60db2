"""Tree rerank node: the LLM scores every candidate in one pass, prunes, and composes the plan."""
from __future__ import annotations

from comfy_api.latest import io, ui

from . import glue, types
from .retrieve import candidates_table


class PolarisTreeRerank(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisTreeRerank",
            display_name="Tree Rerank (Polaris)",
            category="Polaris/rerank",
            description="Scores all retrieved candidates with the LLM in one forward pass per round (each candidate "
                        "is a branch that sees the shared prompt but not the others), prunes the weakest, and "
                        "composes the plan: checkpoint, LoRAs with weights, trigger words and the final prompt.",
            inputs=[
                types.LanguageModel.Input("llm", tooltip="The language model that judges the candidates."),
                types.Candidates.Input("candidates", tooltip="Output of Retrieve LoRA (Polaris)."),
                io.Int.Input("keep", default=3, min=1, max=32, optional=True,
                             tooltip="Finalists per slot after the pruning rounds."),
                io.Combo.Input("score", options=["yes_no", "likert5"], default="yes_no", optional=True,
                               tooltip="yes_no: P(Yes) that the model fits; likert5: expected rating 1-5."),
            ],
            outputs=[types.Plan.Output(display_name="plan"), types.Candidates.Output(display_name="ranked")],
        )

    @classmethod
    def execute(cls, llm, candidates, keep=3, score="yes_no") -> io.NodeOutput:
        from polaris_core.plan import compose_plan
        from polaris_core.rerank import TreeReranker

        on_step, check_cancel = glue.callbacks()
        ranked = TreeReranker(llm, score_mode=score).rerank_all(candidates, keep=keep, on_step=on_step,
                                                                check_cancel=check_cancel)
        plan = compose_plan(candidates.intent, ranked)
        text = candidates_table(ranked) + "\n\n" + plan.to_json()
        return io.NodeOutput(plan, ranked, ui=glue.candidate_preview(ranked, text))


NODES = [PolarisTreeRerank]
