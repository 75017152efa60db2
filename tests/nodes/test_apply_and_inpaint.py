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
    return pack.nodes.comfy.sampling.load_checkpoint(sd15_checkpoint.name)


def test_fitting_loras_apply_and_foreign_ones_are_refused_before_sampling(pack, loaded, lora_files, format_loras):
    from polaris_core.errors import ModelFileError, PlanError, UnsafePathError

    seam = pack.nodes.comfy
    model, clip, _ = loaded
    path = next(iter(lora_files.values()))
    matched, not_loaded = seam.lora.lora_fit(str(path), model, clip)
    assert matched == 40 and not_loaded == []
    patched_model, patched_clip = seam.lora.apply_loras(model, clip, [(path.name, 0.7)])
    assert len(patched_model.patches) == 32 and len(patched_clip.patcher.patches) == 8
    sdxl = format_loras["sdxl"].name
    matched, not_loaded = seam.lora.lora_fit(str(format_loras["sdxl"]), model, clip)
    assert matched == 1 and len(not_loaded) == 9  # its first text-encoder layer exists in SD1.5, the rest does not
    with pytest.raises(PlanError, match=r"Apply Plan \(Polaris\): LoRA polaris-sdxl.safetensors does not fit.*te2"):
        seam.lora.apply_loras(model, clip, [(path.name, 0.7), (sdxl, 0.5)])
    assert len(model.patches) == 0 and len(clip.patcher.patches) == 0  # nothing was half-applied
    with pytest.raises(ModelFileError, match="pickle"):
        seam.lora.apply_loras(model, clip, [("pickled.pt", 1.0)])
    with pytest.raises(ModelFileError, match=r"Apply Plan \(Polaris\): .*corrupt.safetensors is not a readable"):
        seam.lora.apply_loras(model, clip, [("corrupt.safetensors", 1.0)])
    with pytest.raises(ModelFileError, match="'gone.safetensors', which is not in models/loras.*Build Zoo Index"):
        seam.lora.apply_loras(model, clip, [("gone.safetensors", 1.0)])
    with pytest.raises(UnsafePathError):
        seam.lora.apply_loras(model, clip, [("../checkpoints/" + path.name, 1.0)])


@pytest.mark.parametrize("fmt", FITTING_FORMATS)
def test_every_lora_format_comfyui_reads_is_applied(pack, loaded, format_loras, fmt, caplog):
    """diffusers, PEFT and LyCORIS (LoCon, LoHa, LoKr, OFT) LoRAs fit, and ComfyUI's patch math changes the weights."""
    import comfy.lora

    seam = pack.nodes.comfy
    model, clip, _ = loaded
    matched, not_loaded = seam.lora.lora_fit(str(format_loras[fmt]), model, clip)
    assert matched == 3 and not_loaded == []
    with caplog.at_level(logging.WARNING):
        patched_model, patched_clip = seam.lora.apply_loras(model, clip, [(format_loras[fmt].name, 1.0)])
        patches = {**patched_model.patches, **patched_clip.patcher.patches}
        assert len(patches) == 3
        weights = {**patched_model.model.state_dict(), **patched_clip.cond_stage_model.state_dict()}
        for key, key_patches in patches.items():
            original = weights[key].float()
            changed = comfy.lora.calculate_weight(key_patches, original.clone(), key)
            assert changed.shape == original.shape and float((changed - original).abs().max()) > 1e-5, key
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no "not loaded", no shape ERROR


def test_inpaint_keeps_every_pixel_outside_the_mask(pack, loaded):
    seam = pack.nodes.comfy
    model, clip, vae = loaded
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(1, 68, 76, 3, generator=gen)  # not a multiple of 8 on purpose
    mask = torch.zeros(1, 68, 76)
    mask[:, 20:50, 30:60] = 1.0
    out = seam.sampling.inpaint(model, clip, vae, image, mask, "a corgi", "blurry", seed=3, steps=1, cfg=2.0,
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
        with pytest.raises(ModelFileError, match="absent-model.safetensors', which is not in models/checkpoints"):
            apply.execute(value)
    for value in ({"checkpoint": "absent-model.safetensors"}, "{not json", 7):
        with pytest.raises(PlanError, match="A plan is a JSON object"):
            apply.execute(value)


# ---- LoRAs whose names fit but whose tensors do not (issue 21, item 7)
def _kohya(key: str) -> str:
    from comfy_host import FORMAT_TARGETS, _kohya_name

    return _kohya_name(FORMAT_TARGETS[key][0])


def _damaged_loras() -> dict:
    """name -> (tensors, what the refusal must name). LoCon / LoHa / LoKr fixtures of the SD1.5 layers with one
    tensor spoiled; every key still matches a layer, so ComfyUI's loader places all of them."""
    from comfy_host import format_lora_tensors

    q, conv = _kohya("unet_q"), _kohya("unet_conv")
    out = {}
    for name, value in (("nan", float("nan")), ("inf", float("inf")), ("huge", 3e4)):
        tensors = format_lora_tensors("locon")
        spoiled = tensors[f"{conv}.lora_up.weight"].clone()
        spoiled.view(-1)[5] = value
        tensors[f"{conv}.lora_up.weight"] = spoiled
        out[name] = (tensors, f"{conv}.lora_up.weight")
    tensors = format_lora_tensors("locon")  # rank 3 up against rank 2 down: the product cannot be formed
    tensors[f"{q}.lora_up.weight"] = torch.randn(320, 3).half() * 0.05
    out["rank"] = (tensors, q)
    tensors = format_lora_tensors("locon")  # a 640-wide layer's LoRA on the 320-wide one
    tensors[f"{q}.lora_up.weight"] = torch.randn(640, 2).half() * 0.05
    tensors[f"{q}.lora_down.weight"] = torch.randn(2, 640).half() * 0.05
    out["shape"] = (tensors, q)
    tensors = format_lora_tensors("loha")
    tensors[f"{q}.hada_w1_a"], tensors[f"{q}.hada_w2_a"] = torch.randn(160, 2).half(), torch.randn(160, 2).half()
    out["loha-shape"] = (tensors, q)
    tensors = format_lora_tensors("lokr")
    tensors[f"{q}.lokr_w1"] = torch.randn(2, 2).half() * 0.05  # kron(w1, w2) is half the layer's size
    out["lokr-shape"] = (tensors, q)
    return out


@pytest.fixture(scope="module")
def damaged_loras(model_dirs) -> dict:
    import comfy.utils

    _, lora_dir = model_dirs
    out = {}
    for name, (tensors, bad) in _damaged_loras().items():
        path = lora_dir / f"damaged-{name}.safetensors"
        comfy.utils.save_torch_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
        out[name] = (path.name, bad)
    return out


@pytest.mark.parametrize("kind", ["nan", "inf", "huge", "rank", "shape", "loha-shape", "lokr-shape"])
def test_a_lora_whose_tensors_do_not_fit_is_refused_whole_naming_the_tensor(pack, loaded, lora_files,
                                                                             damaged_loras, kind, caplog):
    from polaris_core.errors import PlanError

    seam = pack.nodes.comfy
    model, clip, _ = loaded
    name, bad = damaged_loras[kind]
    lora_dir = seam.folders.folder_paths.get_folder_paths("loras")[0]
    placed, not_loaded = seam.lora.lora_fit(f"{lora_dir}/{name}", model, clip)
    assert placed == 3 and not_loaded == []  # every key name fits: the name check alone let these through
    reason = {"nan": "NaN or infinite values", "inf": "NaN or infinite values", "huge": "holds 3e\\+04, past the 10000",
              }.get(kind, "cannot be applied to diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight")
    good = next(iter(lora_files.values())).name
    with caplog.at_level(logging.WARNING):
        with pytest.raises(PlanError, match=rf"LoRA {name} .*tensor {bad}.*{reason}.*Nothing was applied"):
            seam.lora.apply_loras(model, clip, [(good, 0.7), (name, 0.5)])
    assert len(model.patches) == 0 and len(clip.patcher.patches) == 0  # not even the good one: whole or nothing
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # the dry run's ComfyUI errors stay quiet


def test_comfyui_would_skip_the_mismatched_layer_and_only_log_it(pack, loaded, damaged_loras, caplog):
    """Why the check runs ComfyUI's weight calculation: patched as LoraLoader does, the mismatched layer is left
    unchanged with an ERROR in the log, while the LoRA counts as loaded."""
    import comfy.lora
    import comfy.sd
    import comfy.utils

    model, clip, _ = loaded
    name, _ = damaged_loras["rank"]
    lora = comfy.utils.load_torch_file(f"{pack.nodes.comfy.folders.folder_paths.get_folder_paths('loras')[0]}/{name}")
    patched, _ = comfy.sd.load_lora_for_models(model, clip, lora, 1.0, 1.0)
    key = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
    original = patched.model.state_dict()[key].float()
    with caplog.at_level(logging.ERROR):
        after = comfy.lora.calculate_weight(patched.patches[key], original.clone(), key)
    assert torch.equal(after, original)
    assert any(r.getMessage().startswith("ERROR lora " + key) for r in caplog.records)


# ---- .pt2 and every other pickle ComfyUI lists (issue 21, item 9)
def test_no_extension_comfyui_loads_with_torch_load_is_ever_opened(pack, model_dirs, loaded, monkeypatch):
    import folder_paths

    from polaris_core.errors import ModelFileError
    from polaris_core.weights import PICKLE_SUFFIXES, SAFETENSORS_WEIGHT_SUFFIXES

    comfy_pickles = set(folder_paths.supported_pt_extensions) - set(SAFETENSORS_WEIGHT_SUFFIXES)
    assert ".pt2" in comfy_pickles and comfy_pickles <= set(PICKLE_SUFFIXES)
    opened = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: opened.append(a) or {})
    ckpt_dir, lora_dir = model_dirs
    model, clip, _ = loaded
    seam = pack.nodes.comfy
    for suffix in [*sorted(comfy_pickles), ".PT2", ".weird", ".safetensors.bak"]:
        for folder in (ckpt_dir, lora_dir):
            (folder / f"model{suffix}").write_bytes(b"\x80\x04 not really a pickle")
        what = "pickle" if suffix.lower() in PICKLE_SUFFIXES else "not a .safetensors file"
        with pytest.raises(ModelFileError, match=f"model{suffix}.* {what}"):
            seam.lora.apply_loras(model, clip, [(f"model{suffix}", 0.5)])
        with pytest.raises(ModelFileError, match=f"model{suffix}.* {what}"):
            seam.sampling.load_checkpoint(f"model{suffix}")
    assert opened == []
