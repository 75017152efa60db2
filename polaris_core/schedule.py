"""Per-LoRA schedules: how a LoRA's strength changes over the sampling steps and across the UNet's block groups.

A schedule multiplies the LoRA's plan weight:
- over time, by keyframes `(start_percent, multiplier)`: from `start_percent` of the sampling schedule on, the LoRA
  runs at `weight × multiplier` (ComfyUI's hook keyframes; percent 0 is the first step, 1 the end);
- over the UNet, by block group (`input`, `middle`, `output`, the A1111 LoRA Block Weight names for the down,
  middle and up blocks). The text encoder and layers outside these groups keep the plain weight.

Uniform (one keyframe at 0 with multiplier 1, every block 1) is today's behaviour and the default. The presets
follow the observation that early denoising steps fix layout and subject and later ones texture and style
(ProSpect, Zhang et al. 2023; Multi-LoRA Composition, Zhong et al. 2024); they were not tuned or measured here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from polaris_core.errors import PlanError

BLOCK_GROUPS = ("input", "middle", "output")
MULTIPLIER_RANGE = (0.0, 2.0)
MAX_KEYFRAMES = 32
UNIFORM = "uniform"
CUSTOM = "custom"
PRESETS: dict[str, tuple[tuple[float, float], ...]] = {
    UNIFORM: ((0.0, 1.0),),
    "style-late": ((0.0, 0.25), (0.4, 1.0)),      # a style LoRA stays light while the layout forms
    "subject-early": ((0.0, 1.0), (0.6, 0.5)),    # a subject LoRA shapes the layout, then eases off
}
SLOT_PRESETS = {"style_lora": "style-late", "object_lora": "subject-early"}  # "style late, subject early"
SCHEDULE_SHAPE = ('A LoRA schedule is a preset name ("uniform", "style-late", "subject-early") or an object '
                  '{"keyframes": [[start_percent, multiplier], ...], "blocks": {"input": m, "middle": m, '
                  '"output": m}}: percents in [0, 1], strictly increasing from 0.0; multipliers of the LoRA '
                  f'weight in [{MULTIPLIER_RANGE[0]}, {MULTIPLIER_RANGE[1]}]; at most {MAX_KEYFRAMES} keyframes.')


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PlanError(f"LoRA schedule: {what} is {value!r}, not a number. {SCHEDULE_SHAPE}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise PlanError(f"LoRA schedule: {what} is {value!r}, outside [{low}, {high}]. {SCHEDULE_SHAPE}")
    return number


@dataclass(frozen=True)
class LoraSchedule:
    keyframes: tuple[tuple[float, float], ...] = PRESETS[UNIFORM]
    blocks: tuple[float, float, float] = (1.0, 1.0, 1.0)  # input, middle, output
    preset: str = UNIFORM                                 # the preset the keyframes came from, or "custom"

    @property
    def constant_multiplier(self) -> Optional[float]:
        """The multiplier when it does not change over the steps (no hooks needed), else None."""
        values = {m for _, m in self.keyframes}
        return values.pop() if len(values) == 1 else None

    @property
    def is_uniform(self) -> bool:
        return self.constant_multiplier == 1.0 and self.blocks == (1.0, 1.0, 1.0)

    def multiplier_at(self, percent: float) -> float:
        """The time multiplier from `percent` of the sampling schedule on (the last keyframe started by then)."""
        current = self.keyframes[0][1]
        for start, multiplier in self.keyframes:
            if start <= percent:
                current = multiplier
        return current

    def block_multiplier(self, group: str) -> float:
        return self.blocks[BLOCK_GROUPS.index(group)]

    def to_dict(self) -> dict:
        return {"preset": self.preset, "keyframes": [[s, m] for s, m in self.keyframes],
                "blocks": dict(zip(BLOCK_GROUPS, self.blocks))}

    def describe(self) -> str:
        """One line for node text and the sidebar, e.g. "style-late: 0% ×0.25, 40% ×1; blocks in 1 / mid 1 / out 1"."""
        steps = ", ".join(f"{s:.0%} ×{m:g}" for s, m in self.keyframes)
        short = {"input": "in", "middle": "mid", "output": "out"}
        blocks = " / ".join(f"{short[g]} {m:g}" for g, m in zip(BLOCK_GROUPS, self.blocks))
        return f"{self.preset}: {steps}; blocks {blocks}"

    @classmethod
    def from_value(cls, value: Any) -> Optional["LoraSchedule"]:
        """A schedule from a plan's JSON: None (uniform), a preset name, or an object; PlanError when malformed."""
        if value is None:
            return None
        if isinstance(value, str):
            value = {"preset": value}
        if not isinstance(value, dict):
            raise PlanError(f"LoRA schedule: {type(value).__name__} is not a schedule. {SCHEDULE_SHAPE}")
        unknown = set(value) - {"preset", "keyframes", "blocks"}
        if unknown:
            raise PlanError(f"LoRA schedule: unknown field(s) {sorted(unknown)}. {SCHEDULE_SHAPE}")
        preset = value.get("preset")
        raw_keyframes = value.get("keyframes")
        if raw_keyframes is None:
            name = UNIFORM if preset in (None, CUSTOM) else preset
            if name not in PRESETS:
                raise PlanError(f"LoRA schedule: unknown preset {name!r}. {SCHEDULE_SHAPE}")
            keyframes, preset = PRESETS[name], name
        else:
            keyframes = parse_keyframes(raw_keyframes)
            if preset in PRESETS and PRESETS[preset] != keyframes:
                raise PlanError(f"LoRA schedule: the keyframes differ from the preset {preset!r}; drop 'preset' "
                                f"or the keyframes. {SCHEDULE_SHAPE}")
            if preset not in (None, CUSTOM) and preset not in PRESETS:
                raise PlanError(f"LoRA schedule: unknown preset {preset!r}. {SCHEDULE_SHAPE}")
            preset = preset or next((n for n, k in PRESETS.items() if k == keyframes), CUSTOM)
        raw_blocks = value.get("blocks") or {}
        if not isinstance(raw_blocks, dict) or set(raw_blocks) - set(BLOCK_GROUPS):
            raise PlanError(f"LoRA schedule: 'blocks' must map {', '.join(BLOCK_GROUPS)} to multipliers. "
                            f"{SCHEDULE_SHAPE}")
        blocks = tuple(_number(raw_blocks.get(g, 1.0), f"the {g} block multiplier", *MULTIPLIER_RANGE)
                       for g in BLOCK_GROUPS)
        return cls(keyframes=keyframes, blocks=blocks, preset=str(preset))


def parse_keyframes(raw: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, (list, tuple)) or not raw or len(raw) > MAX_KEYFRAMES:
        raise PlanError(f"LoRA schedule: 'keyframes' must be a list of 1 to {MAX_KEYFRAMES} pairs. {SCHEDULE_SHAPE}")
    keyframes = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise PlanError(f"LoRA schedule: keyframe {i} is {pair!r}, not [start_percent, multiplier]. "
                            f"{SCHEDULE_SHAPE}")
        keyframes.append((_number(pair[0], f"keyframe {i}'s start percent", 0.0, 1.0),
                          _number(pair[1], f"keyframe {i}'s multiplier", *MULTIPLIER_RANGE)))
    if keyframes[0][0] != 0.0:
        raise PlanError(f"LoRA schedule: the first keyframe must start at 0.0 (it starts at {keyframes[0][0]}). "
                        f"{SCHEDULE_SHAPE}")
    if any(b[0] <= a[0] for a, b in zip(keyframes, keyframes[1:])):
        raise PlanError(f"LoRA schedule: keyframe percents must be strictly increasing ({[k[0] for k in keyframes]})."
                        f" {SCHEDULE_SHAPE}")
    return tuple(keyframes)


def slot_schedule(slot: str) -> LoraSchedule:
    """The "style late, subject early" choice for a LoRA of this plan slot (uniform for other slots)."""
    return LoraSchedule.from_value(SLOT_PRESETS.get(slot, UNIFORM))
