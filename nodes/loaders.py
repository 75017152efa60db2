"""Loader nodes: the LLM (more loaders join as their core stages land)."""
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


NODES = [PolarisLoadLLM]
