"""Applying LoRAs (judged by ComfyUI's own LoRA loader before sampling) and masked inpaint on the SD1.5 fixture."""
from __future__ import annotations

import logging
import shutil

import pytest
import torch

FITTING_FORMATS = ("diffusers", "peft", "locon", "loha", "lokr", "oft")


@pytest.fixture(scope="module")
def model_dirs(comfy, pack, sd15_checkpoint, lora_files, format_loras):
    import folder_paths

    ckpt_dir, lora_dir = comfy / "models" / "checkpoints", comfy / "models" / "loras"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    lora_dir.mkdir(parents=True, exist_ok=True)
    if not (ckpt_dir / sd15_checkpoint.name).exists():
        (ckpt_dir / sd15_checkpoint.name).symlink_to(sd15_checkpoint)
    for path in [*lora_files.values(), *format_loras.values()]:
        shutil.copy(path, lora_dir / path.name)
    (lora_dir / "pickled.pt").write_bytes(b"\x80\x04not really a pickle")
    (lora_dir / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header")
    folder_paths.add_model_folder_path("checkpoints", str(ckpt_dir), is_default=True)
    folder_paths.add_model_folder_path("loras", str(lora_dir), is_default=True)
    return ckpt_dir, lora_dir


@pytest.fixture(scope="module")
def loaded(pack, model_dirs, sd15_checkpoint):
    return pack.nodes.glue.load_checkpoint(sd15_checkpoint.name)


def test_fitting_loras_apply_and_foreign_ones_are_refused_before_sampling(pack, loaded, lora_files, format_loras):
    from polaris_core.errors import ModelFileError, PlanError, UnsafePathError

    glue = pack.nodes.glue
    model, clip, _ = loaded
    path = next(iter(lora_files.values()))
    matched, not_loaded = glue.lora_fit(str(path), model, clip)
    assert matched == 40 and not_loaded == []
    patched_model, patched_clip = glue.apply_loras(model, clip, [(path.name, 0.7)])
    assert len(patched_model.patches) == 32 and len(patched_clip.patcher.patches) == 8
    sdxl = format_loras["sdxl"].name
    matched, not_loaded = glue.lora_fit(str(format_loras["sdxl"]), model, clip)
    assert matched == 1 and len(not_loaded) == 9  # its first text-encoder layer exists in SD1.5, the rest does not
    with pytest.raises(PlanError, match=r"Apply Plan \(Polaris\): LoRA polaris-sdxl.safetensors does not fit.*te2"):
        glue.apply_loras(model, clip, [(path.name, 0.7), (sdxl, 0.5)])
    assert len(model.patches) == 0 and len(clip.patcher.patches) == 0  # nothing was half-applied
    with pytest.raises(ModelFileError, match="pickle"):
        glue.apply_loras(model, clip, [("pickled.pt", 1.0)])
    with pytest.raises(ModelFileError, match=r"Apply Plan \(Polaris\): .*corrupt.safetensors is not a readable"):
        glue.apply_loras(model, clip, [("corrupt.safetensors", 1.0)])
    with pytest.raises(ModelFileError, match="'gone.safetensors', which is not in models/loras.*Build Zoo Index"):
        glue.apply_loras(model, clip, [("gone.safetensors", 1.0)])
    with pytest.raises(UnsafePathError):
        glue.apply_loras(model, clip, [("../checkpoints/" + path.name, 1.0)])


@pytest.mark.parametrize("fmt", FITTING_FORMATS)
def test_every_lora_format_comfyui_reads_is_applied(pack, loaded, format_loras, fmt, caplog):
    """diffusers, PEFT and LyCORIS (LoCon, LoHa, LoKr, OFT) LoRAs fit, and ComfyUI's patch math changes the weights."""
    import comfy.lora

    glue = pack.nodes.glue
    model, clip, _ = loaded
    matched, not_loaded = glue.lora_fit(str(format_loras[fmt]), model, clip)
    assert matched == 3 and not_loaded == []
    with caplog.at_level(logging.WARNING):
        patched_model, patched_clip = glue.apply_loras(model, clip, [(format_loras[fmt].name, 1.0)])
        patches = {**patched_model.patches, **patched_clip.patcher.patches}
        assert len(patches) == 3
        weights = {**patched_model.model.state_dict(), **patched_clip.cond_stage_model.state_dict()}
        for key, key_patches in patches.items():
            original = weights[key].float()
            changed = comfy.lora.calculate_weight(key_patches, original.clone(), key)
            assert changed.shape == original.shape and float((changed - original).abs().max()) > 1e-5, key
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no "not loaded", no shape ERROR


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
