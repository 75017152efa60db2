"""load_clip: random-weight ViT-B-32 from .safetensors, arch detection, and the refusals."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from polaris_core.clip_model import encode_texts, guess_clip_arch, load_clip
from polaris_core.errors import ConfigError, ModelFileError
from polaris_core.weights import read_safetensors_shapes


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof that nobody unpickled it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _booby_trapped_pickle(path, marker):
    path.write_bytes(pickle.dumps(_TouchOnUnpickle(str(marker))))
    return path


def test_loads_random_vit_b_32_fixture(clip_weights):
    clip = load_clip(clip_weights)
    assert clip.arch == "ViT-B-32" and clip.image_size == 224 and clip.device == "cpu"
    assert load_clip(clip_weights) is clip  # cached
    assert next(clip.model.parameters()).dtype == torch.float32  # fp16 file, fp32 model
    pixels = clip.preprocess(__import__("PIL.Image", fromlist=["Image"]).fromarray(np.zeros((30, 50, 3), np.uint8)))
    assert tuple(pixels.shape) == (3, 224, 224)
    texts = encode_texts(clip, ["a cat", "a dog", "a cat"])
    assert texts.shape == (3, 512) and texts.dtype == torch.float32
    assert torch.allclose(texts.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.equal(texts[0], texts[2])
    assert clip.mean_rgb_uint8 == (123, 117, 104)


def test_arch_is_read_from_shapes(clip_weights):
    shapes = read_safetensors_shapes(clip_weights)
    guesses = guess_clip_arch(shapes)
    assert guesses[0] == "ViT-B-32" and "ViT-B-32-quickgelu" in guesses
    assert load_clip(clip_weights, arch="auto").arch == "ViT-B-32"


def test_wrong_arch_names_the_right_one(clip_weights):
    with pytest.raises(ModelFileError, match="ViT-B-32"):
        load_clip(clip_weights, arch="ViT-B-16")
    with pytest.raises(ConfigError, match="Unknown CLIP architecture"):
        load_clip(clip_weights, arch="hf-hub:laion/not-offline")


def test_pickles_are_refused_unopened(tmp_path):
    marker = tmp_path / "unpickled"
    for name in ("open_clip_pytorch_model.bin", "model.pt", "clip.pth"):
        trap = _booby_trapped_pickle(tmp_path / name, marker)
        with pytest.raises(ModelFileError, match="safetensors"):
            load_clip(trap)
    assert not marker.exists()


def test_missing_foreign_and_corrupt_files(tmp_path, monkeypatch):
    monkeypatch.delenv("POLARIS_CLIP_PATH", raising=False)
    with pytest.raises(ConfigError, match="POLARIS_CLIP_PATH"):
        load_clip()
    with pytest.raises(ModelFileError, match="not found"):
        load_clip(tmp_path / "absent.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ModelFileError, match="not a readable"):
        load_clip(corrupt)
    hf_layout = tmp_path / "clip_vision.safetensors"
    save_file({"vision_model.embeddings.patch_embedding.weight": torch.zeros(2, 3, 4, 4)}, str(hf_layout))
    with pytest.raises(ModelFileError, match="transformers"):
        load_clip(hf_layout)
    other = tmp_path / "other.safetensors"
    save_file({"unet.weight": torch.zeros(2)}, str(other))
    with pytest.raises(ModelFileError, match="image tower"):
        load_clip(other)
    text_file = tmp_path / "weights.txt"
    text_file.write_text("hello")
    with pytest.raises(ModelFileError, match=".safetensors"):
        load_clip(text_file)
