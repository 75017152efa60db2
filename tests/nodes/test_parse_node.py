"""The parse node wraps the offline parser and exposes the intent's strings for core nodes."""
from __future__ import annotations

import pytest


def test_parse_node_outputs_intent_and_strings(pack):
    node = pack.nodes.parse.PolarisParseInstruction
    out = node.execute("Let's substitute the motorcycle with a lively dog", "rules")
    intent, prompt, subject, kind = out.result
    assert kind == 0 and intent.instruction_type == 0
    assert subject == intent.subject == "motorcycle"
    assert "dog" in prompt
    shown = out.ui.as_dict()["text"][0]
    assert shown.startswith("type: 0 ") and "subject: motorcycle" in shown and "confidence: " in shown, shown
    assert "{" not in shown  # readable fields, not a JSON blob


def test_parse_node_reports_bad_input_clearly(pack):
    from polaris_core.errors import PolarisError

    node = pack.nodes.parse.PolarisParseInstruction
    with pytest.raises(PolarisError):
        node.execute("   ", "rules")
    with pytest.raises(PolarisError, match="base_url|URL|url"):
        node.execute("make it watercolor", "openai", base_url="")
