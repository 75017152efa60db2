"""LoRA schedules, read back from ComfyUI during real sampling runs of the SD1.5 fixture (random weights).

For one probe layer per block group (input, middle, output) the test reads, at every sampling step, both the
strength ComfyUI's model patcher combines for the active hooks and the strength actually present in the patched
UNet weight ((W - W0)·ΔW / ΔW·ΔW, with ΔW computed here from the LoRA file), and compares them with the schedule.
Image quality is not judged (the weights are random).
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch

WEIGHT = 0.8
BLOCKS = {"input": 1.0, "middle": 0.5, "output": 1.5}
STEPS = 8


@pytest.fixture(scope="module")
def schedule_models(comfy, pack, sd15_checkpoint, fixture_cache):
    """The SD1.5 fixture and a kohya LoRA whose 64 attention layers span the input, middle and output blocks."""
    import folder_paths

    from comfy_host import build_lora

    ckpt_dir, lora_dir = comfy / "models" / "checkpoints", comfy / "models" / "loras"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    lora_dir.mkdir(parents=True, exist_ok=True)
    if not (ckpt_dir / sd15_checkpoint.name).exists():
        (ckpt_dir / sd15_checkpoint.name).symlink_to(sd15_checkpoint)
    cached = fixture_cache / "loras-v2" / "polaris-blocks.safetensors"
    if not cached.is_file():
        build_lora(sd15_checkpoint, cached, "polaris-blocks", unet_blocks=16, seed=11)
    shutil.copy(cached, lora_dir / cached.name)
    folder_paths.add_model_folder_path("checkpoints", str(ckpt_dir), is_default=True)
    folder_paths.add_model_folder_path("loras", str(lora_dir), is_default=True)
    return sd15_checkpoint, lora_dir / cached.name


def _plan(checkpoint, lora, schedule=None, slot="style_lora") -> str:
    choice = {"slot": slot, "weight": WEIGHT,
              "entry": {"id": "local:blocks", "kind": "lora", "name": "blocks", "file_name": lora.name}}
    if schedule is not None:
        choice["schedule"] = schedule
    return json.dumps({"version": 1, "loras": [choice], "prompt": "a corgi", "negative_prompt": "blurry",
                       "checkpoint": {"slot": "checkpoint", "entry": {"id": "local:ck", "kind": "checkpoint",
                                                                      "name": "ck", "file_name": checkpoint.name}}})


def _probes(model, lora_path) -> dict[str, tuple[str, torch.Tensor]]:
    """One patched layer per block group: (model key, ΔW at strength 1) from the LoRA file's own tensors."""
    import comfy.lora
    from safetensors.torch import load_file

    tensors = load_file(str(lora_path))
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    probes = {}
    for name in sorted(k[:-len(".lora_up.weight")] for k in tensors if k.endswith(".lora_up.weight")):
        key = key_map.get(name)
        group = next((g for g, p in (("input", "input_blocks."), ("middle", "middle_block."),
                                     ("output", "output_blocks.")) if key and key.startswith("diffusion_model." + p)),
                     None)
        if group and group not in probes:
            up, down = tensors[f"{name}.lora_up.weight"].double(), tensors[f"{name}.lora_down.weight"].double()
            scale = float(tensors[f"{name}.alpha"]) / down.shape[0]
            probes[group] = (key, (up @ down) * scale)
    assert set(probes) == set(BLOCKS), probes.keys()
    return probes


def _sample_and_read(model, clip, probes, steps: int = STEPS) -> list[dict]:
    """Sample `steps` steps (euler/normal) and read, at each model call, the patcher's combined hook strength and the
    strength present in each probe weight."""
    import comfy.utils
    import nodes as comfy_nodes

    originals = {g: comfy.utils.get_attr(model.model, key).detach().double().clone() for g, (key, _) in probes.items()}
    readings: list[dict] = []

    def read(apply_model, args):
        base = apply_model.__self__
        patcher = base.current_patcher
        combined = patcher.get_combined_hook_patches(patcher.current_hooks) if patcher.current_hooks else {}
        reading = {"sigma": float(args["timestep"][0]), "patcher": {}, "weights": {}}
        for group, (key, delta) in probes.items():
            reading["patcher"][group] = sum(p[0] for p in combined.get(key, []))
            moved = comfy.utils.get_attr(base, key).detach().double() - originals[group]
            reading["weights"][group] = float((moved * delta).sum() / (delta * delta).sum())
        readings.append(reading)
        return apply_model(args["input"], args["timestep"], **args["c"])

    sampler_model = model.clone()
    sampler_model.set_model_unet_function_wrapper(read)
    positive = clip.encode_from_tokens_scheduled(clip.tokenize("a corgi"))  # what CLIPTextEncode does
    negative = clip.encode_from_tokens_scheduled(clip.tokenize("blurry"))
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    comfy_nodes.common_ksampler(sampler_model, 0, steps, 2.0, "euler", "normal", positive, negative, latent)
    assert len(readings) == steps  # cond and uncond carry the same hooks, so they run as one batch per step
    return readings


def test_schedule_over_steps_and_blocks_is_what_comfyui_applies_at_each_step(pack, schedule_models):
    import comfy.model_management

    checkpoint, lora = schedule_models
    keyframes = [[0.0, 0.25], [0.45, 1.0], [0.8, 0.5]]
    out = pack.nodes.apply.PolarisApplyPlan.execute(_plan(checkpoint, lora, {"keyframes": keyframes,
                                                                             "blocks": BLOCKS}))
    model, clip = out.result[:2]
    assert "schedule polaris-blocks.safetensors: custom: 0% ×0.25, 45% ×1, 80% ×0.5; blocks in 1 / mid 0.5 / out 1.5" in \
        out.ui.as_dict()["text"][0]
    assert not model.patches  # the UNet part waits in hooks; nothing is patched statically
    hooks = clip.apply_hooks_to_conds
    assert hooks is not None and len(hooks.hooks) == 3  # one weight hook per block group the LoRA touches
    text_strengths = {p[0] for patches in clip.patcher.patches.values() for p in patches}
    assert text_strengths == {WEIGHT}  # the text encoder: plain weight (the prompt is encoded once)

    readings = _sample_and_read(model, clip, _probes(model, lora))
    sampling = model.model.model_sampling
    starts = [float(sampling.percent_to_sigma(p)) for p, _ in keyframes]
    for step, reading in enumerate(readings):
        # ComfyUI's keyframe rule: the last keyframe whose start sigma the sampler has reached
        multiplier = [m for (_, m), start in zip(keyframes, starts) if start >= reading["sigma"]][-1]
        for group, block in BLOCKS.items():
            expected = WEIGHT * block * multiplier
            assert reading["patcher"][group] == pytest.approx(expected, rel=1e-6), (step, group, reading)
            assert reading["weights"][group] == pytest.approx(expected, rel=2e-3, abs=2e-4), (step, group, reading)
    # euler/normal over 8 steps sits at 0, 14, 29, 43, 57, 71, 86 and 100 % of the timesteps
    assert [round(r["patcher"]["input"] / WEIGHT, 6) for r in readings] == [0.25] * 4 + [1.0] * 2 + [0.5] * 2
    comfy.model_management.unload_all_models()


def test_block_weights_without_a_time_schedule_are_plain_patches_per_block_group(pack, schedule_models):
    import comfy.model_management

    checkpoint, lora = schedule_models
    out = pack.nodes.apply.PolarisApplyPlan.execute(_plan(checkpoint, lora, {"blocks": BLOCKS}))
    model, clip = out.result[:2]
    assert clip.apply_hooks_to_conds is None  # constant over the steps: no hooks
    probes = _probes(model, lora)
    for group, (key, _) in probes.items():
        assert [p[0] for p in model.patches[key]] == [pytest.approx(WEIGHT * BLOCKS[group])], group
    readings = _sample_and_read(model, clip, probes, steps=2)
    for reading in readings:
        for group, block in BLOCKS.items():
            assert reading["weights"][group] == pytest.approx(WEIGHT * block, rel=2e-3, abs=2e-4), reading
    comfy.model_management.unload_all_models()


def test_uniform_stays_loraloaders_plain_patch_and_the_widget_can_override_the_plan(pack, schedule_models):
    import gc

    checkpoint, lora = schedule_models
    apply = pack.nodes.apply.PolarisApplyPlan

    def applied(plan: str, **widgets):
        """(UNet patch strengths, CLIP hooks, node text); the loaded checkpoint is dropped before the next one."""
        out = apply.execute(plan, **widgets)
        model, clip = out.result[:2]
        found = ({p[0] for patches in model.patches.values() for p in patches}, clip.apply_hooks_to_conds,
                 out.ui.as_dict()["text"][0])
        del out, model, clip
        gc.collect()
        return found

    strengths, hooks, text = applied(_plan(checkpoint, lora))
    assert strengths == {WEIGHT} and hooks is None and "schedule" not in text
    strengths, hooks, _ = applied(_plan(checkpoint, lora, "style-late"), lora_schedule="uniform")
    assert strengths == {WEIGHT} and hooks is None
    strengths, hooks, text = applied(_plan(checkpoint, lora, slot="object_lora"),
                                     lora_schedule="style late, subject early")
    assert hooks is not None and not strengths  # the UNet part waits in hooks
    assert {tuple((k.start_percent, k.strength) for k in h.hook_keyframe.keyframes) for h in hooks.hooks} == {
        ((0.0, 1.0), (0.6, 0.5))}  # the object LoRA's "subject-early" preset
    assert "schedule polaris-blocks.safetensors: subject-early" in text
