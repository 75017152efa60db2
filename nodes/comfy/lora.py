"""LoRA fit and application: ComfyUI's own key maps, loader and weight calculation decide whether a LoRA fits,
whole or not at all; then LoraLoader's patch, or hooks for a schedule (hooks.py)."""
from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path
from typing import Sequence

import torch

import comfy.model_management
import comfy.model_patcher
import comfy.utils

from polaris_core.errors import ModelFileError, PlanError
from polaris_core.weights import refuse_unless_safetensors

from . import hooks
from .folders import node_errors, planned_model_path

log = logging.getLogger("polaris")


APPLY_NODE = "Apply Plan (Polaris)"


_NOT_LOADED = "lora key not loaded: "


# What comfy.lora.calculate_weight logs, instead of raising, when a patch cannot be computed for a layer:
# the layer is then left as it was, which LoraLoader reports nowhere but the log.
_WEIGHT_FAILURES = ("ERROR ", "WARNING SHAPE MISMATCH", "Calculate Weight Failed", "patch type not recognized")


class _ComfyLogCollector(logging.Filter):
    """Collects (and keeps off the console) root-logger messages of ComfyUI's LoRA code that start with one of
    `prefixes`; everything else passes."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.prefixes):
            self.messages.append(message)
            return False
        return True


@contextlib.contextmanager
def _collect_comfy_log(prefixes: tuple[str, ...]):
    collector = _ComfyLogCollector(prefixes)
    root = logging.getLogger()
    root.addFilter(collector)
    try:
        yield collector.messages
    finally:
        root.removeFilter(collector)


@contextlib.contextmanager
def _collect_not_loaded_keys():
    with _collect_comfy_log((_NOT_LOADED,)) as messages:
        keys: list[str] = []
        yield keys
    keys.extend(m[len(_NOT_LOADED):] for m in messages)


def lora_patches(lora: dict, model, clip) -> tuple[dict, list[str]]:
    """(patches ComfyUI would apply, keys of the file it could not place), judged by ComfyUI's own LoRA code.

    The key maps and the adapters (LoRA, LoHa, LoKr, OFT, BOFT, GLoRA, diffs) are exactly what
    LoraLoader uses, so a LoRA fits here if and only if ComfyUI loads all of it into this model.
    """
    import comfy.lora
    import comfy.lora_convert

    key_map: dict = {}
    if model is not None:
        key_map = comfy.lora.model_lora_keys_unet(model.model, key_map)
    if clip is not None:
        key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    with _collect_not_loaded_keys() as not_loaded:
        patches = comfy.lora.load_lora(comfy.lora_convert.convert_lora(lora), key_map, log_missing=True)
    return patches, sorted(not_loaded)


# Largest magnitude a LoRA tensor may hold. Trained LoRA factors stay well under 10 and alpha is at most the
# rank (a few hundred); ComfyUI adds the product of two factors into fp16 weights (largest value 65504), so a
# factor past 1e4 overflows to inf, or swamps the layer, as soon as the other factor is past ~6: a black image.
MAX_LORA_VALUE = 1e4


_AMINMAX_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_lora_values(name: str, lora: dict) -> None:
    """PlanError naming the first tensor (in key order) that holds NaN, an infinity or a value past
    MAX_LORA_VALUE: ComfyUI would add it into the model as it is."""
    for key in sorted(lora):
        tensor = lora[key]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        values = tensor.detach()
        if values.dtype not in _AMINMAX_DTYPES:  # fp8 and the like: no aminmax kernel
            values = values.float()
        low, high = (float(v) for v in torch.aminmax(values))  # one pass; NaN and infinities propagate
        if not (math.isfinite(low) and math.isfinite(high)):
            raise PlanError(f"{APPLY_NODE}: LoRA {name} is damaged: its tensor {key} holds NaN or infinite values, "
                            "which would turn the image black. Nothing was applied; replace the file in models/loras.")
        peak = max(-low, high)
        if peak > MAX_LORA_VALUE:
            raise PlanError(f"{APPLY_NODE}: LoRA {name} is damaged: its tensor {key} holds {peak:.3g}, past the "
                            f"{MAX_LORA_VALUE:g} no trained LoRA comes near (it would overflow the model's weights). "
                            "Nothing was applied; replace the file in models/loras.")


def _patch_failures(patch, key: str, shape: torch.Size, offset, function, device: str) -> list[str]:
    """What comfy.lora.calculate_weight logs when it applies `patch` to a weight of `shape` on `device`."""
    import comfy.lora

    if device == "meta":  # shapes only, no arithmetic: a meta tensor runs the same code at no cost
        target = torch.empty(shape, dtype=torch.float32, device="meta")
    else:
        target = torch.zeros(shape, dtype=torch.float32)
    with _collect_comfy_log(_WEIGHT_FAILURES) as failures:
        try:
            comfy.lora.calculate_weight([(1.0, patch, 1.0, offset, function)], target, key)
        except Exception as exc:  # calculate_weight catches its adapters' errors; this is anything else
            failures.append(f"{type(exc).__name__}: {exc}")
    return failures


def _file_keys(lora_keys: Sequence[str], prefixes: Sequence[str]) -> list[str]:
    """The file's tensors behind one patch: those named by a key-map prefix of its layer. (An adapter's own
    `loaded_keys` is the set load_lora shares among all of them, so it cannot say.)"""
    return sorted(k for k in lora_keys if any(k.startswith(p + ".") for p in prefixes))


def check_lora_shapes(name: str, lora: dict, patches: dict, model, clip) -> None:
    """PlanError naming the first layer whose patch ComfyUI's weight calculation cannot apply (up/down shapes
    or ranks that do not match each other or the model's weight): ComfyUI would log it and skip the layer
    while the LoRA counts as loaded. Each patch runs through comfy.lora.calculate_weight itself, on a meta
    tensor of the weight's shape (no arithmetic), and again on real zeros when the meta run fails (an
    operation without a meta kernel), so only a layer ComfyUI itself cannot patch is refused."""
    import comfy.lora

    weights: dict = {}
    key_map: dict = {}
    if model is not None:
        weights.update(model.model.state_dict())
        key_map = comfy.lora.model_lora_keys_unet(model.model, key_map)
    if clip is not None:
        weights.update(clip.cond_stage_model.state_dict())
        key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    prefixes_of: dict = {}
    for prefix, target in key_map.items():
        prefixes_of.setdefault(target, []).append(prefix)
    for patch_key in sorted(patches, key=str):
        key, offset, function = (patch_key, None, None) if isinstance(patch_key, str) else \
            (patch_key[0], patch_key[1], patch_key[2] if len(patch_key) > 2 else None)
        patch = patches[patch_key]
        if key not in weights:
            tensors = ", ".join(_file_keys(list(lora), prefixes_of.get(patch_key, []))[:3]) or key
            raise PlanError(f"{APPLY_NODE}: LoRA {name} does not fit this checkpoint: its tensor {tensors} targets "
                            f"{key}, which this model does not have. Nothing was applied; pick a LoRA made for the "
                            "checkpoint's base model.")
        shape = weights[key].shape
        if _patch_failures(patch, key, shape, offset, function, "meta"):
            failures = _patch_failures(patch, key, shape, offset, function, "cpu")
            if failures:
                tensors = ", ".join(_file_keys(list(lora), prefixes_of.get(patch_key, []))[:3]) or key
                raise PlanError(
                    f"{APPLY_NODE}: LoRA {name} does not fit this checkpoint: its tensor {tensors} cannot be applied "
                    f"to {key} (shape {list(shape)}): ComfyUI says {failures[0][:300]!r}. Its ranks or shapes do "
                    "not match this model, so ComfyUI would skip that layer. Nothing was applied; pick a LoRA made "
                    "for the checkpoint's base model, or replace the damaged file."
                )


def read_lora(path: str) -> dict:
    with node_errors(APPLY_NODE, "the plan's LoRA", Path(path).name):
        refuse_unless_safetensors(path)  # load_torch_file would torch.load any other name
    try:
        return comfy.utils.load_torch_file(path, safe_load=True)
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{APPLY_NODE}: {Path(path).name} is not a readable .safetensors LoRA ({exc}); "
                             "replace the file in models/loras.") from exc


def lora_fit(lora_path: str, model, clip) -> tuple[int, list[str]]:
    """(layers ComfyUI patches, keys of the file it could not place) of a LoRA against a loaded model."""
    patches, not_loaded = lora_patches(read_lora(lora_path), model, clip)
    return len(patches), not_loaded


def apply_loras(model, clip, loras: list[tuple[str, float]], schedules: Sequence | None = None):
    """Check every LoRA against the model first (ComfyUI's own loader places every tensor, its weight
    calculation accepts every layer's shapes, every value is finite and sane), then patch them all in.

    `schedules` (polaris_core.schedule.LoraSchedule or None per LoRA) spread a LoRA's strength over the steps and
    block groups (hooks.py); None or uniform is LoraLoader's plain patch."""
    import comfy.sd

    checked = []
    for name, weight in loras:
        path = planned_model_path("loras", name, node=APPLY_NODE)
        with node_errors(APPLY_NODE, "the plan's LoRA", name):
            refuse_unless_safetensors(path)
        lora = read_lora(path)
        check_lora_values(name, lora)
        try:
            patches, not_loaded = lora_patches(lora, model, clip)
        except Exception as exc:  # e.g. an alpha that is not one number: ComfyUI's loader raises on its own
            raise PlanError(f"{APPLY_NODE}: LoRA {name} cannot be read by ComfyUI's LoRA loader ({type(exc).__name__}: "
                            f"{str(exc)[:200]}); replace the file in models/loras.") from exc
        if not patches or not_loaded:
            raise PlanError(
                f"{APPLY_NODE}: LoRA {name} does not fit this checkpoint: ComfyUI places {len(patches)} of its "
                f"layers and cannot place {len(not_loaded)} of its tensors (e.g. {', '.join(not_loaded[:3])}). "
                "It was probably trained for another base model; pick a LoRA of the checkpoint's family."
            )
        check_lora_shapes(name, lora, patches, model, clip)
        checked.append((lora, weight))
    scheduled = []
    for (lora, weight), schedule in zip(checked, schedules or [None] * len(checked)):
        if schedule is None or schedule.is_uniform:
            model, clip = comfy.sd.load_lora_for_models(model, clip, lora, weight, weight)
            continue
        model, clip, lora_hooks = hooks.apply_scheduled_lora(model, clip, lora, weight, schedule)
        scheduled += [lora_hooks] if lora_hooks is not None else []
    if scheduled:
        clip = hooks.attach_hooks_to_conds(clip, scheduled)
    return model, clip
