"""Load a Segment Anything model (vit_b / vit_l / vit_h) from a .safetensors file.

Meta's official SAM checkpoints (``sam_vit_b_01ec64.pth`` and friends, also what ComfyUI's
``models/sams`` usually holds) are pickles, which Polaris never opens. Convert one once,
at your own risk, with torch's restricted loader (it only accepts plain tensors)::

    python -c "import torch, safetensors.torch as st; st.save_file(torch.load('sam_vit_b_01ec64.pth', map_location='cpu', weights_only=True), 'sam_vit_b_01ec64.safetensors')"

The architecture is read from the tensor shapes (the image encoder's width and depth).
"""
from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from polaris_core.devices import DeviceManager, module_device
from polaris_core.errors import ConfigError, ModelFileError
from polaris_core.weights import PICKLE_SUFFIXES, check_weights_file, read_safetensors_shapes

log = logging.getLogger("polaris")

SAM_PATH_ENV = "POLARIS_SAM_PATH"
# image-encoder width -> (registry name, depth)
SAM_ARCHS = {768: ("vit_b", 12), 1024: ("vit_l", 24), 1280: ("vit_h", 32)}
SAM_ARCHS_NAMES = tuple(name for name, _ in SAM_ARCHS.values())
SAM_CONVERT_HINT = (
    "python -c \"import torch, safetensors.torch as st; st.save_file(torch.load('IN.pth', "
    "map_location='cpu', weights_only=True), 'OUT.safetensors')\""
)
EMBEDDING_CACHE_SIZE = 4


@dataclass
class LoadedSam:
    model: Any                 # segment_anything Sam in eval mode
    arch: str                  # vit_b | vit_l | vit_h
    path: str = ""             # "" for in-memory (random-weight) models
    # image key -> (features, input_size, original_size): SAM's image embedding, reused per image.
    embedding_cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    encoder_runs: int = 0      # how many times the image encoder actually ran (for checks and benchmarks)
    manager: DeviceManager | None = None  # set by a host that moves the model for its work

    @property
    def device(self) -> str:
        """Where the weights are now (a managed model moves between its offload and compute device)."""
        return module_device(self.model)


def default_sam_path() -> Path | None:
    """$POLARIS_SAM_PATH if set, else None (Polaris ships no SAM weights)."""
    env = os.environ.get(SAM_PATH_ENV)
    return Path(env) if env else None


def detect_sam_arch(shapes: dict[str, tuple[int, ...]]) -> str:
    """vit_b / vit_l / vit_h from a state dict's tensor shapes; ModelFileError if not a SAM checkpoint."""
    patch = shapes.get("image_encoder.patch_embed.proj.weight")
    if patch is None:
        if any(name.startswith("vision_encoder.") for name in shapes):
            raise ModelFileError(
                "This is a Hugging Face transformers SamModel file; Polaris needs Meta's original "
                "segment-anything checkpoint layout (sam_vit_b_01ec64 and friends) converted to .safetensors."
            )
        raise ModelFileError(
            "This file holds no SAM image encoder ('image_encoder.patch_embed.proj.weight' is missing); "
            "give a segment-anything vit_b / vit_l / vit_h checkpoint converted to .safetensors."
        )
    width = patch[0]
    if width not in SAM_ARCHS:
        raise ModelFileError(f"Unknown SAM image-encoder width {width}; expected 768 (vit_b), 1024 (vit_l) or 1280 (vit_h).")
    arch, depth = SAM_ARCHS[width]
    blocks = {name.split(".")[2] for name in shapes if name.startswith("image_encoder.blocks.")}
    if len(blocks) != depth:
        raise ModelFileError(f"SAM {arch} needs {depth} encoder blocks but the file has {len(blocks)}; it is not a standard SAM checkpoint.")
    return arch


def sam_from_model(model: Any, arch: str, *, path: str = "", device: str = "cpu") -> LoadedSam:
    """Wrap a segment_anything Sam (e.g. a random-weight one) for the masker."""
    model.to(device).eval()
    return LoadedSam(model=model, arch=arch, path=path)


def load_sam(path: str | os.PathLike | None = None, arch: str = "auto", device: str = "cpu", *,
             cache: bool = True) -> LoadedSam:
    """Load SAM from a .safetensors file (default: $POLARIS_SAM_PATH); `arch` is detected from shapes by default.

    With `cache=True` loaded models (and their per-image embedding caches) are cached by path,
    modification time, architecture and device; a host that keeps its own loaded objects (ComfyUI's
    node cache) passes False.
    """
    chosen = path if path is not None else default_sam_path()
    if chosen is None:
        raise ConfigError(
            f"No SAM weights given; pass a segment-anything .safetensors file or set {SAM_PATH_ENV}. "
            f"Official .pth checkpoints convert with: {SAM_CONVERT_HINT}"
        )
    if str(chosen).lower().endswith(PICKLE_SUFFIXES):
        raise ModelFileError(
            f"{Path(chosen).name} is a pickle (official SAM checkpoints are); Polaris never unpickles files "
            f"because they can run code. Convert it once, at your own risk, with: {SAM_CONVERT_HINT}"
        )
    p = check_weights_file(chosen, "SAM", SAM_PATH_ENV)
    stat = p.stat()
    loader = _load_sam_cached if cache else _load_sam
    return loader(str(p.resolve()), stat.st_mtime_ns, stat.st_size, arch, str(device))


def _load_sam(path: str, mtime_ns: int, size: int, arch: str, device: str) -> LoadedSam:
    from safetensors.torch import load_file
    from segment_anything import sam_model_registry

    detected = detect_sam_arch(read_safetensors_shapes(path))
    if arch not in ("auto", detected):
        if arch not in SAM_ARCHS_NAMES:
            raise ConfigError(f"Unknown SAM architecture {arch!r}; use auto, vit_b, vit_l or vit_h.")
        raise ModelFileError(f"{Path(path).name} is a SAM {detected} checkpoint, not {arch}; use arch 'auto' or '{detected}'.")
    model = sam_model_registry[detected](checkpoint=None)
    try:
        model.load_state_dict(load_file(path, device="cpu"), strict=True)
    except RuntimeError as exc:
        raise ModelFileError(
            f"{Path(path).name} does not fit SAM {detected}: {str(exc).splitlines()[0][:300]}"
        ) from exc
    model = model.float()
    log.info("loaded SAM %s from %s on %s", detected, Path(path).name, device)
    return sam_from_model(model, detected, path=path, device=device)


_load_sam_cached = lru_cache(maxsize=2)(_load_sam)

