"""Helper models (LLM, CLIP, SAM) under ComfyUI's memory manager: ModelPatcher wrappers on the offload device,
loaded to the GPU only for their own work."""
from __future__ import annotations

from typing import Any, Sequence

import torch

import comfy.model_management
import comfy.model_patcher
import comfy.utils

# ---------------------------------------------------------------- helper models under ComfyUI's memory manager
class PolarisHelperModel(torch.nn.Module):
    """What ModelPatcher wraps: it writes bookkeeping attributes (`device`, ...) on its module, and SAM and
    transformers models have a read-only `device` property of their own."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner


class ComfyDeviceManager:
    """polaris_core's DeviceManager backed by comfy.model_management, the way comfy/clip_vision.py does it.

    The model waits on its offload device; `load` goes through `load_models_gpu`, so ComfyUI frees memory
    for it, counts it among its loaded models, and unloads it again when sampling needs the room.
    """

    def __init__(self, module: torch.nn.Module, load_device: torch.device, offload_device: torch.device) -> None:
        self.patcher = comfy.model_patcher.ModelPatcher(PolarisHelperModel(module), load_device=load_device,
                                                        offload_device=offload_device)

    def load(self, together: Sequence["ComfyDeviceManager"]) -> None:
        # A full load: these are plain torch modules, which ComfyUI's low-VRAM mode cannot split across devices.
        comfy.model_management.load_models_gpu([m.patcher for m in together], force_full_load=True)


HELPER_DEVICES = {  # helper kind -> (compute device, offload device) getters, as ComfyUI places its own models
    "llm": (comfy.model_management.get_torch_device, comfy.model_management.text_encoder_offload_device),
    "clip": (comfy.model_management.get_torch_device, comfy.model_management.text_encoder_offload_device),
    "sam": (comfy.model_management.get_torch_device, comfy.model_management.unet_offload_device),
}


def offload_device(kind: str) -> str:
    """Where a helper model is loaded and waits between its uses (the CPU unless ComfyUI keeps all on the GPU)."""
    return str(HELPER_DEVICES[kind][1]())


def managed(loaded: Any, kind: str) -> Any:
    """Hand a loaded LLM, CLIP or SAM to ComfyUI's memory manager; core code then loads it for its own work."""
    compute, offload = (get() for get in HELPER_DEVICES[kind])
    loaded.manager = ComfyDeviceManager(loaded.model, compute, offload)
    return loaded
