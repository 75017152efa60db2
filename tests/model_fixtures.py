"""Random-weight model files of the real architectures, built once and cached outside git.

No CLIP or SAM weights exist on the test machines, so tests load these through the same
loaders users go through (`load_clip`, `load_sam`). Files are float16 to halve the disk and
read time; the loaders cast to float32. Writes go to a temp file first, then os.replace,
so a crash or a concurrent build never leaves a half-written fixture.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

CLIP_FIXTURE_ARCH = "ViT-B-32"
SAM_FIXTURE_ARCH = "vit_b"
FIXTURE_SEED = 0


def _save_state_dict_atomically(state_dict, target: Path) -> Path:
    from safetensors.torch import save_file

    tensors = {name: tensor.detach().to("cpu").half().contiguous().clone() for name, tensor in state_dict.items()}
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _build_random_model_file(target: Path, make_model) -> Path:
    """Write `make_model()`'s weights (seeded) to `target` unless it already exists."""
    import torch

    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(FIXTURE_SEED)
        model = make_model()
    return _save_state_dict_atomically(model.state_dict(), target)


def build_clip_fixture(cache_dir: str | os.PathLike) -> Path:
    """open_clip ViT-B-32 with random weights (pretrained=None) as .safetensors; built once."""
    import open_clip

    target = Path(cache_dir) / f"clip-{CLIP_FIXTURE_ARCH}-random-seed{FIXTURE_SEED}.safetensors"
    return _build_random_model_file(target, lambda: open_clip.create_model(CLIP_FIXTURE_ARCH, pretrained=None))


def build_sam_fixture(cache_dir: str | os.PathLike) -> Path:
    """segment_anything vit_b with random weights (checkpoint=None) as .safetensors; built once."""
    from segment_anything import sam_model_registry

    target = Path(cache_dir) / f"sam-{SAM_FIXTURE_ARCH}-random-seed{FIXTURE_SEED}.safetensors"
    return _build_random_model_file(target, lambda: sam_model_registry[SAM_FIXTURE_ARCH](checkpoint=None))
