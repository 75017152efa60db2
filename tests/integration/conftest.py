"""A real ComfyUI server (main.py --cpu) shared by the integration tests, with random-weight models installed."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from comfy_host import ComfyServer, ComfyUIMissing, require_comfyui

IMAGE_SIZE = (72, 64)  # width, height: small, and not square on purpose


def _write_image(path, seed: int, size=IMAGE_SIZE) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    pixels[16:48, 20:52] = (200, 150, 90)  # a blocky "object"
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory, sd15_checkpoint, lora_files, clip_weights, sam_weights):
    """A throwaway ComfyUI base directory with models, inputs and the pack in custom_nodes/."""
    base = tmp_path_factory.mktemp("comfy-base")
    models = base / "models"
    for sub in ("checkpoints", "loras", "sams", "polaris/clip"):
        (models / sub).mkdir(parents=True, exist_ok=True)
    os.symlink(sd15_checkpoint, models / "checkpoints" / sd15_checkpoint.name)
    for path in lora_files.values():
        shutil.copy(path, models / "loras" / path.name)
    _write_image(models / "loras" / "polaris-watercolor.preview.png", seed=5, size=(64, 64))
    os.symlink(sam_weights, models / "sams" / "sam_vit_b.safetensors")
    os.symlink(clip_weights, models / "polaris" / "clip" / "ViT-B-32.safetensors")
    (base / "input").mkdir(exist_ok=True)
    _write_image(base / "input" / "example.png", seed=1)
    _write_image(base / "input" / "reference.png", seed=2)
    return base


@pytest.fixture(scope="session")
def comfy_server(comfy_base):
    try:
        require_comfyui()
    except ComfyUIMissing as exc:
        pytest.fail(str(exc))
    server = ComfyServer(comfy_base).start()
    yield server
    server.stop()
