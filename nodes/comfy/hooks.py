"""LoRA schedules (polaris_core.schedule) realised with ComfyUI's own hooks and LoRA key maps.

- Block groups: ComfyUI's key maps (comfy.lora.model_lora_keys_unet) turn the LoRA's keys into model keys; the
  model keys name their UNet block (`diffusion_model.input_blocks.*`, `middle_block.*`, `output_blocks.*`), and
  each group's patches get the LoRA weight times the group's multiplier.
- Steps: a LoRA whose multiplier changes over the steps becomes weight hooks (comfy.hooks.WeightHook, one per
  block group) sharing its keyframes (comfy.hooks.HookKeyframe). ComfyUI attaches hooks to conditioning, so the
  returned CLIP carries them (`apply_hooks_to_conds`, as Set CLIP Hooks does): every prompt encoded with it takes
  them into sampling, where ComfyUI patches the UNet per step. The text-encoder part of the LoRA is applied once,
  at the plain weight (the text is encoded once, not per step).
- Uniform over the steps: plain patches (ModelPatcher.add_patches), exactly like LoraLoader.
"""
from __future__ import annotations

import comfy.hooks
import comfy.lora
import comfy.lora_convert

from polaris_core.schedule import BLOCK_GROUPS, LoraSchedule

UNET_PREFIX = "diffusion_model."
BLOCK_PREFIXES = {"input": "diffusion_model.input_blocks.", "middle": "diffusion_model.middle_block.",
                  "output": "diffusion_model.output_blocks."}


def model_key(patch_key) -> str:
    """load_lora's patch keys are model keys, or (key, offset[, function]) for fused weights."""
    return patch_key if isinstance(patch_key, str) else patch_key[0]


def block_group(key: str) -> str | None:
    """`input`, `middle` or `output` for a UNet key of those blocks; None elsewhere (time embedding, text encoder)."""
    return next((group for group, prefix in BLOCK_PREFIXES.items() if key.startswith(prefix)), None)


def split_patches(patches: dict) -> tuple[dict[str | None, dict], dict]:
    """(UNet patches by block group (None: outside the three groups), text-encoder patches)."""
    unet: dict[str | None, dict] = {}
    text: dict = {}
    for key, patch in patches.items():
        name = model_key(key)
        if name.startswith(UNET_PREFIX):
            unet.setdefault(block_group(name), {})[key] = patch
        else:
            text[key] = patch
    return unet, text


def keyframe_group(schedule: LoraSchedule) -> comfy.hooks.HookKeyframeGroup:
    group = comfy.hooks.HookKeyframeGroup()
    for start, multiplier in schedule.keyframes:
        # guarantee_steps=0: the multiplier follows the percent alone, even when two keyframes share a step.
        group.add(comfy.hooks.HookKeyframe(strength=multiplier, start_percent=start, guarantee_steps=0))
    return group


def apply_scheduled_lora(model, clip, lora: dict, weight: float, schedule: LoraSchedule):
    """(model, clip, hooks or None) with `lora` applied at `weight` under `schedule`; the inputs are not changed."""
    key_map: dict = {}
    if model is not None:
        key_map = comfy.lora.model_lora_keys_unet(model.model, key_map)
    if clip is not None:
        key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    patches = comfy.lora.load_lora(comfy.lora_convert.convert_lora(lora), key_map)
    unet, text = split_patches(patches)
    if clip is not None and text:
        clip = clip.clone()
        clip.add_patches(text, weight)
    if model is None or not unet:
        return model, clip, None
    constant = schedule.constant_multiplier
    if constant is not None:  # no change over the steps: plain patches, one strength per block group
        model = model.clone()
        for group, group_patches in unet.items():
            model.add_patches(group_patches, weight * constant * (schedule.block_multiplier(group) if group else 1.0))
        return model, clip, None
    hooks = comfy.hooks.HookGroup()
    for group, group_patches in unet.items():
        hook = comfy.hooks.WeightHook(strength_model=weight * (schedule.block_multiplier(group) if group else 1.0),
                                      strength_clip=0.0)
        hook.weights = group_patches  # already mapped to model keys by ComfyUI's key map
        hook.need_weight_init = False
        hook.hook_keyframe = keyframe_group(schedule)
        hooks.add(hook)
    return model, clip, hooks


def attach_hooks_to_conds(clip, hooks: list):
    """A CLIP whose encoded prompts carry `hooks` into sampling (what Set CLIP Hooks' apply_to_conds does)."""
    combined = comfy.hooks.HookGroup.combine_all_hooks([clip.apply_hooks_to_conds, *hooks])
    if combined is None:
        return clip
    clip = clip.clone()
    clip.apply_hooks_to_conds = combined
    return clip


__all__ = ["BLOCK_GROUPS", "apply_scheduled_lora", "attach_hooks_to_conds", "block_group", "split_patches"]
