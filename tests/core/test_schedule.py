"""LoRA schedules in the plan JSON: presets, custom keyframes and block weights, validated, round-tripped."""
from __future__ import annotations

import json
import math

import pytest

from polaris_core.errors import PlanError
from polaris_core.plan import Plan
from polaris_core.schedule import PRESETS, LoraSchedule, slot_schedule


def _plan(schedule=None, slot="style_lora") -> dict:
    lora = {"slot": slot, "entry": {"id": "local:a", "kind": "lora", "name": "A", "file_name": "a.safetensors"},
            "weight": 0.8}
    if schedule is not None:
        lora["schedule"] = schedule
    return {"version": 1, "checkpoint": {"slot": "checkpoint", "entry": {"id": "local:c", "kind": "checkpoint",
                                                                         "name": "C", "file_name": "c.safetensors"}},
            "loras": [lora], "prompt": "p", "negative_prompt": "n"}


def test_a_plan_without_schedules_stays_uniform_and_unchanged_in_json():
    plan = Plan.from_dict(_plan())
    assert plan.loras[0].schedule is None
    assert "schedule" not in plan.to_dict()["loras"][0]


def test_presets_custom_keyframes_and_blocks_round_trip_through_the_plan_json():
    custom = {"keyframes": [[0, 0.5], [0.3, 1.0], [0.8, 0.2]], "blocks": {"middle": 0.5, "output": 0}}
    plan = Plan.from_json(json.dumps(_plan(custom)))
    schedule = plan.loras[0].schedule
    assert schedule.keyframes == ((0.0, 0.5), (0.3, 1.0), (0.8, 0.2)) and schedule.blocks == (1.0, 0.5, 0.0)
    assert schedule.preset == "custom" and schedule.constant_multiplier is None and not schedule.is_uniform
    assert [schedule.multiplier_at(p) for p in (0.0, 0.29, 0.3, 0.79, 0.8, 1.0)] == [0.5, 0.5, 1.0, 1.0, 0.2, 0.2]
    again = Plan.from_json(plan.to_json()).loras[0].schedule
    assert again == schedule
    late = Plan.from_dict(_plan("style-late")).loras[0].schedule
    assert late.keyframes == PRESETS["style-late"] and late.preset == "style-late"
    assert late.describe() == "style-late: 0% ×0.25, 40% ×1; blocks in 1 / mid 1 / out 1"
    assert Plan.from_dict(_plan({"blocks": {"input": 0.5}})).loras[0].schedule.constant_multiplier == 1.0
    assert LoraSchedule.from_value("uniform").is_uniform
    assert slot_schedule("object_lora").preset == "subject-early" and slot_schedule("checkpoint").is_uniform


@pytest.mark.parametrize("bad, says", [
    ({"keyframes": [[0.2, 1.0]]}, "must start at 0.0"),
    ({"keyframes": [[0, 1.0], [0.5, 0.5], [0.4, 1.0]]}, "strictly increasing"),
    ({"keyframes": [[0, 1.0], [0.5, 0.5], [0.5, 1.0]]}, "strictly increasing"),
    ({"keyframes": [[0, math.nan]]}, "must be finite"),
    ({"keyframes": [[0, math.inf]]}, "must be finite"),
    ({"keyframes": [[0, 1.0], [1.5, 1.0]]}, "outside [0.0, 1.0]"),
    ({"keyframes": [[0, 3.0]]}, "outside [0.0, 2.0]"),
    ({"keyframes": [[0, -0.5]]}, "outside"),
    ({"keyframes": [[0, "1"]]}, "not a number"),
    ({"keyframes": [[0, True]]}, "not a number"),
    ({"keyframes": [[0]]}, "not [start_percent, multiplier]"),
    ({"keyframes": []}, "list of 1 to 32 pairs"),
    ({"keyframes": [[i / 40, 1.0] for i in range(40)]}, "list of 1 to 32 pairs"),
    ({"blocks": {"input": math.nan}}, "must be finite"),
    ({"blocks": {"IN01": 0.5}}, "'blocks' must map input, middle, output"),
    ({"preset": "style-late", "keyframes": [[0, 1.0]]}, "differ from the preset"),
    ({"steps": 3}, "unknown field"),
    ("sometimes", "unknown preset"),
    (3, "not a schedule"),
])
def test_malformed_schedules_are_refused_with_the_shape(bad, says):
    with pytest.raises(PlanError) as exc:
        Plan.from_dict(_plan(bad))
    # a NaN anywhere in a plan is named by the plan's own finite-number check, with the plan's shape
    shape = "A plan is a JSON object" if says == "must be finite" else "A LoRA schedule is a preset name"
    assert says in str(exc.value) and shape in str(exc.value)


@pytest.mark.parametrize("bad", [{"keyframes": [[0, math.nan]]}, {"keyframes": [[0, math.inf]]},
                                 {"blocks": {"input": math.nan}}])
def test_a_schedule_alone_refuses_non_finite_numbers(bad):
    with pytest.raises(PlanError, match="outside"):
        LoraSchedule.from_value(bad)


def test_a_checkpoint_cannot_carry_a_schedule():
    data = _plan()
    data["checkpoint"]["schedule"] = "style-late"
    with pytest.raises(PlanError, match="a checkpoint has no schedule"):
        Plan.from_dict(data)


def test_the_sidebar_plan_view_shows_each_loras_schedule():
    from polaris_core.zoo_service import plan_summary

    uniform = plan_summary(Plan.from_dict(_plan()))
    assert uniform["loras"][0]["schedule"] == "uniform: every step, every block"
    assert "schedule" not in uniform["checkpoint"]
    late = plan_summary(Plan.from_dict(_plan({"preset": "style-late", "blocks": {"output": 0.5}})))
    assert late["loras"][0]["schedule"] == "style-late: 0% ×0.25, 40% ×1; blocks in 1 / mid 1 / out 0.5"
