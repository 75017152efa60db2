"""Every FLOAT input of every Polaris node refuses NaN and infinities (issue 21, item 6).

ComfyUI's prompt validation checks `val < min` and `val > max`, both false for NaN, and never range-checks a
linked value; so each node's `execute` checks its FLOAT inputs first, through `glue.refuse_non_finite`.
"""
from __future__ import annotations

import math
import re

import pytest

EXPECTED = {  # the FLOAT inputs today; a new one is picked up from the schemas by the test below
    ("PolarisApplyPlan", "lora_strength_scale"), ("PolarisInpaintMasked", "cfg"), ("PolarisInpaintMasked", "denoise"),
    ("PolarisMaskRegion", "grow_px"), ("PolarisMaskRegion", "feather_px"), ("PolarisMaskRegion", "min_predicted_iou"),
    ("PolarisMaskRegion", "min_stability"), ("PolarisMaskRegion", "max_overlap"),
    ("PolarisTreeRerank", "retrieval_weight"),
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

    cls = pack.nodes.rerank.PolarisTreeRerank
    monkeypatch.setitem(comfy_nodes.NODE_CLASS_MAPPINGS, "PolarisTreeRerank", cls)
    prompt = {"1": {"class_type": "PolarisTreeRerank", "inputs": {"retrieval_weight": math.nan}}}
    _, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    assert not [e for e in errors if e["extra_info"].get("input_name") == "retrieval_weight"]
    prompt["1"]["inputs"]["retrieval_weight"] = 5.0  # an ordinary out-of-range value is caught
    _, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    assert [e["type"] for e in errors if e["extra_info"].get("input_name") == "retrieval_weight"] == \
        ["value_bigger_than_max"]
