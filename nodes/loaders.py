"""Loader nodes: the LLM, open_clip CLIP, Segment Anything, and the zoo index."""
from __future__ import annotations

from comfy_api.latest import io

from . import glue, types

BUNDLED = "(bundled SmolLM2-135M)"


class PolarisLoadLLM(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadLLM",
            display_name="Load LLM (Polaris)",
            category="Polaris/loaders",
            description="Loads a local causal language model for parsing and tree reranking. "
                        "Put transformers folders or .gguf files in models/polaris/llm.",
            inputs=[
                io.Combo.Input("model", options=[BUNDLED, *glue.model_list(glue.POLARIS_LLM_KEY)],
                               tooltip="A model from models/polaris/llm, or the SmolLM2 package if installed."),
                io.Combo.Input("dtype", options=["float32", "bfloat16", "float16"], default="float32",
                               tooltip="float32 is exact on CPU; half precision saves memory on a GPU."),
            ],
            outputs=[types.LanguageModel.Output(display_name="llm")],
        )

    @classmethod
    def execute(cls, model: str, dtype: str) -> io.NodeOutput:
        from polaris_core.llm import load_llm

        path = None if model == BUNDLED else glue.model_path(glue.POLARIS_LLM_KEY, model)
        return io.NodeOutput(load_llm(path, dtype=dtype, device=str(glue.torch_device())))


class PolarisLoadCLIP(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadCLIP",
            display_name="Load CLIP (Polaris)",
            category="Polaris/loaders",
            description="Loads open_clip weights (.safetensors in models/polaris/clip) for mask scoring and the "
                        "image channel of retrieval.",
            inputs=[
                io.Combo.Input("clip_name", options=glue.model_list(glue.POLARIS_CLIP_KEY),
                               tooltip="An open_clip checkpoint saved as .safetensors."),
                io.String.Input("architecture", default="ViT-B-32",
                                tooltip="The open_clip model name the weights belong to, e.g. ViT-B-32 or ViT-L-14."),
            ],
            outputs=[types.ClipModel.Output(display_name="clip")],
        )

    @classmethod
    def execute(cls, clip_name: str, architecture: str) -> io.NodeOutput:
        from polaris_core.clip_model import load_clip

        path = glue.safe_weights_path(glue.POLARIS_CLIP_KEY, clip_name)
        return io.NodeOutput(load_clip(path, arch=architecture, device=str(glue.torch_device())))


class PolarisLoadSAM(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadSAM",
            display_name="Load SAM (Polaris)",
            category="Polaris/loaders",
            description="Loads a Segment Anything model (vit_b, vit_l or vit_h, detected from the weights) from "
                        "models/sams. Weights must be .safetensors; .pth pickles are refused.",
            inputs=[
                io.Combo.Input("sam_name", options=glue.model_list(glue.SAM_KEY),
                               tooltip="A SAM checkpoint converted to .safetensors."),
            ],
            outputs=[types.SamModel.Output(display_name="sam")],
        )

    @classmethod
    def execute(cls, sam_name: str) -> io.NodeOutput:
        from polaris_core.sam_model import load_sam

        path = glue.safe_weights_path(glue.SAM_KEY, sam_name)
        return io.NodeOutput(load_sam(path, device=str(glue.torch_device())))


NODES = [PolarisLoadLLM, PolarisLoadCLIP, PolarisLoadSAM]
