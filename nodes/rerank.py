"""Tree rerank node: the LLM scores every candidate in one pass, prunes, and composes the plan."""
from __future__ import annotations

from comfy_api.v0_0_2 import io

from polaris_core.candidates import DEFAULT_RETRIEVAL_WEIGHT

from . import glue, types


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
                types.LanguageModel.Input("llm", optional=True,
                                          tooltip="The language model that judges the candidates. Without one "
                                                  "the plan follows the retrieval order."),
                types.Candidates.Input("candidates", tooltip="Output of Retrieve LoRA (Polaris)."),
                io.Int.Input("keep", default=3, min=1, max=32, optional=True,
                             tooltip="Finalists per slot after the pruning rounds."),
                io.Combo.Input("score", options=["yes_no", "likert5"], default="yes_no", optional=True,
                               tooltip="yes_no: P(Yes) that the model fits; likert5: expected rating 1-5."),
                io.Float.Input("retrieval_weight", default=DEFAULT_RETRIEVAL_WEIGHT, min=0.0, max=1.0, step=0.05,
                               optional=True,
                               tooltip="How much the retrieval score counts next to the LLM's judgement: 0 trusts "
                                       "the LLM alone, 1 keeps the retrieval order. Small LLMs judge noisily."),
            ],
            outputs=[types.Plan.Output(display_name="plan"), types.Candidates.Output(display_name="ranked")],
        )

    @classmethod
    def execute(cls, candidates, llm=None, keep=3, score="yes_no",
                retrieval_weight=DEFAULT_RETRIEVAL_WEIGHT) -> io.NodeOutput:
        from polaris_core.plan import compose_plan
        from polaris_core.report import candidates_table, plan_summary
        from polaris_core.rerank import TreeReranker

        glue.refuse_non_finite("Tree Rerank (Polaris)", retrieval_weight=retrieval_weight)
        if llm is None:  # no LLM connected, or the bundled one is not installed: retrieval order
            ranked = candidates
            plan = compose_plan(candidates.intent, ranked)
            plan.notes.append("no LLM: the plan follows the retrieval order (connect Load LLM (Polaris) to rerank)")
        else:
            on_step, check_cancel = glue.callbacks()
            reranker = TreeReranker(llm, score_mode=score, retrieval_weight=retrieval_weight)
            ranked = reranker.rerank_all(candidates, keep=keep, on_step=on_step, check_cancel=check_cancel)
            plan = compose_plan(candidates.intent, ranked)
        text = "PLAN\n" + plan_summary(plan) + "\n\nRANKED\n" + candidates_table(ranked)
        return io.NodeOutput(plan, ranked, ui=glue.candidate_preview(ranked, text))


NODES = [PolarisTreeRerank]
