"""Every FLOAT input of every Polaris node refuses NaN and infinities (issue 21, item 6).

ComfyUI's prompt validation checks `val < min` and `val > max`, both false for NaN, and never range-checks a
linked value; so each node's `execute` checks its FLOAT inputs first, through `nodes.comfy.execution.refuse_non_finite`.
"""
from __future__ import annotations

import math
import re

import pytest

EXPECTED = {  # the FLOAT inputs today; a new one is picked up from the schemas by the test below
    ("PolarisApplyPlan", "lora_strength_scale"), ("PolarisInpaintMasked", "cfg"), ("PolarisInpaintMasked", "denoise"),
    ("PolarisMaskRegion", "grow_px"), ("PolarisMaskRegion", "feather_px"), ("PolarisMaskRegion", "min_predicted_iou"),
    ("PolarisMaskRegion", "min_stability"), ("PolarisMaskRegion", "max_overlap"),
    ("PolarisTreeRerank", "judge_weight"),
}


def _float_inputs(pack):
    from comfy_api.v0_0_2 import io

    found = []
    for cls in pack.nodes.NODE_CLASSES:
        schema = cls.GET_SCHEMA()
        found += [(cls, schema, spec) for spec in schema.inputs if isinstance(spec, io.Float.Input)]
    return found


def test_every_float_input_of_every_node_refuses_nan_and_infinity(pack):
    from polaris_core.errors import ConfigError

    found = _float_inputs(pack)
    assert {(schema.node_id, spec.id) for _, schema, spec in found} >= EXPECTED
    for cls, schema, spec in found:
        # Everything else at its default (or None): the check comes before any other input is touched.
        args = {other.id: getattr(other, "default", None) for other in schema.inputs}
        for bad in (math.nan, math.inf, -math.inf, "nan"):
            args[spec.id] = bad
            pattern = rf"{re.escape(schema.display_name)}: {spec.id} is (nan|inf|-inf); give it a finite number"
            with pytest.raises(ConfigError, match=pattern):
                cls.execute(**args)


def test_comfyuis_own_validation_lets_nan_through(pack, monkeypatch):
    """Why the nodes check: ComfyUI's min/max validation of a FLOAT widget accepts NaN."""
    import asyncio

    import execution
    import nodes as comfy_nodes

    cls = pack.nodes.apply.PolarisApplyPlan
    monkeypatch.setitem(comfy_nodes.NODE_CLASS_MAPPINGS, "PolarisApplyPlan", cls)
    prompt = {"1": {"class_type": "PolarisApplyPlan", "inputs": {"lora_strength_scale": math.nan}}}
    _, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    assert not [e for e in errors if e["extra_info"].get("input_name") == "lora_strength_scale"]
    prompt["1"]["inputs"]["lora_strength_scale"] = 5.0  # an ordinary out-of-range value is caught
    _, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    assert [e["type"] for e in errors if e["extra_info"].get("input_name") == "lora_strength_scale"] == \
        ["value_bigger_than_max"]


def test_tree_rerank_refuses_a_non_finite_judge_weight_before_it_runs(pack):
    """Tree Rerank names judge_weight in validate_inputs (ComfyUI then skips its own range check there), so its
    validation must refuse NaN, infinities and out-of-range values itself."""
    check = pack.nodes.rerank.PolarisTreeRerank.validate_inputs
    for bad in (math.nan, math.inf, -math.inf, 5.0, -0.5):
        assert isinstance(check(judge_weight=bad), str)
    assert check(judge_weight=-1.0) is True and check(judge_weight=0.3) is True
