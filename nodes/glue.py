"""The one module that touches ComfyUI's runtime: folders, progress bars, interrupts, previews, ModelPatcher.

Nodes stay thin: they call these helpers and polaris_core, nothing else from ComfyUI's internals.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import comfy.model_management
import comfy.utils
import folder_paths

from polaris_core.errors import UnsafePathError

log = logging.getLogger("polaris")

# Model folder keys Polaris adds. ComfyUI's own `checkpoints` and `loras` keys are reused as they are.
SAM_KEY = "sams"
POLARIS_KEY = "polaris"             # models/polaris: index folders live here
POLARIS_CLIP_KEY = "polaris_clip"   # models/polaris/clip: open_clip .safetensors
POLARIS_LLM_KEY = "polaris_llm"     # models/polaris/llm: transformers folders or .gguf files
WEIGHT_EXTENSIONS = {".safetensors", ".sft", ".gguf"}


def register_model_folders() -> None:
    """Merge Polaris's folders into folder_paths (never overwrite what users or other packs set)."""
    models = Path(folder_paths.models_dir)
    for key, path, exts in (
        (SAM_KEY, models / "sams", {".safetensors", ".sft"}),
        (POLARIS_KEY, models / "polaris", set()),
        (POLARIS_CLIP_KEY, models / "polaris" / "clip", {".safetensors", ".sft"}),
        (POLARIS_LLM_KEY, models / "polaris" / "llm", set()),
    ):
        folder_paths.add_model_folder_path(key, str(path))
        paths, known = folder_paths.folder_names_and_paths[key]
        known.update(exts)


def index_root() -> Path:
    """Where index folders are written: the first `polaris` model folder."""
    return Path(folder_paths.get_folder_paths(POLARIS_KEY)[0]) / "indexes"


def model_path(key: str, name: str) -> str:
    """Full path of a model chosen by name, refusing names that escape the model folders."""
    if not name or ".." in Path(name).parts or os.path.isabs(name):
        raise UnsafePathError(f"{name!r} is not a model name inside models/{key}; pick one from the list.")
    return folder_paths.get_full_path_or_raise(key, name)


def model_list(key: str) -> list[str]:
    try:
        return folder_paths.get_filename_list(key)
    except KeyError:
        return []


def callbacks(node_id: str | None = None) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """(on_step, check_cancel) for core calls: a ComfyUI progress bar and the UI's interrupt."""
    bar: list[comfy.utils.ProgressBar] = []

    def on_step(i: int, n: int) -> None:
        if not bar:
            bar.append(comfy.utils.ProgressBar(max(n, 1), node_id=node_id))
        bar[0].update_absolute(i, max(n, 1))

    return on_step, comfy.model_management.throw_exception_if_processing_interrupted


def image_to_numpy(image: torch.Tensor, index: int = 0) -> np.ndarray:
    """ComfyUI IMAGE (B,H,W,C float 0..1) → H×W×3 uint8 for the core."""
    frame = image[min(index, image.shape[0] - 1)].detach().cpu().float().clamp(0, 1).numpy()
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    return (frame[..., :3] * 255.0 + 0.5).astype(np.uint8)


def numpy_to_image(array: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 (or float 0..1) → ComfyUI IMAGE (1,H,W,3)."""
    data = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(data))[None]


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """H×W float 0..1 → ComfyUI MASK (1,H,W)."""
    return torch.from_numpy(np.ascontiguousarray(mask.astype(np.float32)))[None]


def torch_device() -> torch.device:
    return comfy.model_management.get_torch_device()
