"""Retrieval nodes: the checkpoint first, then LoRAs in that checkpoint's compatible neighbourhood."""
from __future__ import annotations

from comfy_api.v0_0_2 import io

from . import types
from .comfy import previews, tensors


class PolarisRetrieveCheckpoint(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisRetrieveCheckpoint",
            display_name="Retrieve Checkpoint (Polaris)",
            category="Polaris/retrieve",
            description="Finds the checkpoints that best fit the intent, querying with the generation prompt or, "
                        "for style edits without a style change, the input image.",
            inputs=[
                types.ZooIndex.Input("index", tooltip="The zoo index to search."),
                types.Intent.Input("intent", tooltip="The parsed instruction."),
                io.Image.Input("image", optional=True, tooltip="Used when the intent asks for an image query."),
                io.Int.Input("top_k", default=5, min=1, max=100, optional=True,
                             tooltip="How many checkpoints to keep for reranking."),
            ],
            outputs=[types.Candidates.Output(display_name="candidates"),
                     io.String.Output(display_name="checkpoint_name")],
        )

    @classmethod
    def execute(cls, index, intent, image=None, top_k=5) -> io.NodeOutput:
        from polaris_core.report import candidates_table
        from polaris_core.retrieve import retrieve_checkpoints

        picture = tensors.image_to_numpy(image) if image is not None else None
        candidates = retrieve_checkpoints(index, intent, picture, k=top_k)
        best = candidates.checkpoints[0].entry if candidates.checkpoints else None
        name = (best.file_name or best.name) if best else ""
        return io.NodeOutput(candidates, name, ui=previews.candidate_preview(candidates, candidates_table(candidates)))


class PolarisRetrieveLoRA(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisRetrieveLoRA",
            display_name="Retrieve LoRA (Polaris)",
            category="Polaris/retrieve",
            description="Finds style and object LoRAs for the intent among those compatible with the best "
                        "retrieved checkpoint (same base family, pulled towards that checkpoint's own embedding).",
            inputs=[
                types.ZooIndex.Input("index", tooltip="The zoo index to search."),
                types.Candidates.Input("candidates", tooltip="Output of Retrieve Checkpoint (Polaris)."),
                io.Image.Input("image", optional=True, tooltip="Used when the intent asks for an image query."),
                io.Int.Input("top_k", default=10, min=1, max=200, optional=True,
                             tooltip="How many LoRAs to keep per slot (style, object) for reranking."),
            ],
            outputs=[types.Candidates.Output(display_name="candidates")],
        )

    @classmethod
    def execute(cls, index, candidates, image=None, top_k=10) -> io.NodeOutput:
        from polaris_core.report import candidates_table
        from polaris_core.retrieve import retrieve_loras

        picture = tensors.image_to_numpy(image) if image is not None else None
        result = retrieve_loras(index, candidates, picture, k=top_k)
        return io.NodeOutput(result, ui=previews.candidate_preview(result, candidates_table(result)))


NODES = [PolarisRetrieveCheckpoint, PolarisRetrieveLoRA]
