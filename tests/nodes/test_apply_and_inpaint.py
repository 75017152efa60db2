"""Applying LoRAs (checked from key names before sampling) and masked inpaint on the random SD1.5 fixture."""
from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import save_file


@pytest.fixture(scope="module")
def model_dirs(comfy, pack, sd15_checkpoint, lora_files):
    import folder_paths

    ckpt_dir, lora_dir = comfy / "models" / "checkpoints", comfy / "models" / "loras"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    lora_dir.mkdir(parents=True, exist_ok=True)
    if not (ckpt_dir / sd15_checkpoint.name).exists():
        (ckpt_dir / sd15_checkpoint.name).symlink_to(sd15_checkpoint)
    for path in lora_files.values():
        shutil.copy(path, lora_dir / path.name)
    # An SDXL-shaped LoRA: its second text encoder and depth-2 transformer blocks do not exist in SD1.5.
    xl = {}
    for key in ("lora_te2_text_model_encoder_layers_0_self_attn_q_proj",
                "lora_unet_input_blocks_4_1_transformer_blocks_1_attn1_to_q"):
        xl[f"{key}.lora_down.weight"] = torch.zeros(4, 1280, dtype=torch.float16)
        xl[f"{key}.lora_up.weight"] = torch.zeros(1280, 4, dtype=torch.float16)
        xl[f"{key}.alpha"] = torch.tensor(4.0, dtype=torch.float16)
    save_file(xl, str(lora_dir / "sdxl-style.safetensors"))
    (lora_dir / "pickled.pt").write_bytes(b"\x80\x04not really a pickle")
    folder_paths.add_model_folder_path("checkpoints", str(ckpt_dir), is_default=True)
    folder_paths.add_model_folder_path("loras", str(lora_dir), is_default=True)
    return ckpt_dir, lora_dir


@pytest.fixture(scope="module")
def loaded(pack, model_dirs, sd15_checkpoint):
    return pack.nodes.glue.load_checkpoint(sd15_checkpoint.name)


def test_fitting_loras_apply_and_foreign_ones_are_refused_before_sampling(pack, loaded, lora_files):
    from polaris_core.errors import ModelFileError, PlanError, UnsafePathError

    glue = pack.nodes.glue
    model, clip, _ = loaded
    name = next(iter(lora_files.values())).name
    matched, unmatched = glue.lora_fit(glue.safe_weights_path("loras", name), model, clip)
    assert matched == 40 and unmatched == []
    patched_model, patched_clip = glue.apply_loras(model, clip, [(name, 0.7)])
    assert len(patched_model.patches) == 32 and len(patched_clip.patcher.patches) == 8
    with pytest.raises(PlanError, match="does not fit"):
        glue.apply_loras(model, clip, [(name, 0.7), ("sdxl-style.safetensors", 0.5)])
    assert len(model.patches) == 0  # nothing was half-applied to the loaded model
    with pytest.raises(ModelFileError, match="pickle"):
        glue.apply_loras(model, clip, [("pickled.pt", 1.0)])
    with pytest.raises(ModelFileError, match="not in models/loras"):
        glue.apply_loras(model, clip, [("gone.safetensors", 1.0)])
    with pytest.raises(UnsafePathError):
        glue.apply_loras(model, clip, [("../checkpoints/" + name, 1.0)])


def test_inpaint_keeps_every_pixel_outside_the_mask(pack, loaded):
    glue = pack.nodes.glue
    model, clip, vae = loaded
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(1, 68, 76, 3, generator=gen)  # not a multiple of 8 on purpose
    mask = torch.zeros(1, 68, 76)
    mask[:, 20:50, 30:60] = 1.0
    out = glue.inpaint(model, clip, vae, image, mask, "a corgi", "blurry", seed=3, steps=1, cfg=2.0,
                       sampler_name="euler", scheduler="normal", denoise=1.0, grow_mask_by=6)
    assert out.shape == image.shape and torch.isfinite(out).all()
    outside = mask[..., None].expand_as(image) == 0
    assert torch.equal(out[outside], image[outside])
    assert not torch.allclose(out[~outside], image[~outside])


def test_apply_plan_takes_a_plan_literal_from_an_api_graph(pack):
    """A dict or JSON string where a plan goes is read as a plan (here it names a checkpoint that is not
    installed, so loading it is the next step to fail), or refused with what a plan looks like."""
    import json

    from polaris_core.errors import ModelFileError, PlanError

    apply = pack.nodes.apply.PolarisApplyPlan
    literal = {"version": 1, "checkpoint": {"slot": "checkpoint", "entry": {
        "id": "x", "kind": "checkpoint", "name": "Absent", "file_name": "absent-model.safetensors"}}, "loras": []}
    for value in (literal, json.dumps(literal)):
        with pytest.raises(ModelFileError, match="absent-model.safetensors is not in models/checkpoints"):
            apply.execute(value)
    for value in ({"checkpoint": "absent-model.safetensors"}, "{not json", 7):
        with pytest.raises(PlanError, match="A plan is a JSON object"):
            apply.execute(value)
