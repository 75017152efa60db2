"""The intent contract: JSON schema, strict validator/repairer, modality rule."""
from __future__ import annotations

import json
import math

import pytest

from polaris_core.errors import IntentError
from polaris_core.intent import (
    INTENT_JSON_SCHEMA,
    MODEL_FIELDS,
    Intent,
    InstructionType,
    coerce_instruction_type,
    intent_from_json,
    intent_json_schema,
    normalize_subject,
    query_modalities,
    validate_intent,
)

GOOD = {
    "instruction_type": 0,
    "style_transformation": 0,
    "subject": "dog",
    "generation_prompt": "a fluffy cat",
    "contour_compatibility": 1,
}


def test_valid_dict_passes_unchanged():
    intent = validate_intent(dict(GOOD), "replace the dog with a cat")
    assert isinstance(intent, Intent)
    assert intent.instruction_type is InstructionType.REPLACE
    assert (intent.subject, intent.generation_prompt) == ("dog", "a fluffy cat")
    assert intent.instruction == "replace the dog with a cat"
    assert intent.notes == []


@pytest.mark.parametrize("raw, expected", [
    (5, 5), ("5", 5), (" 2 ", 2), (3.0, 3), ("remove", 5), ("Local Style", 2), ("local-style", 2),
    ("global_style", 3), ("style reference", 4), ("ADD", 1), ("replace", 0), (InstructionType.ADD, 1),
])
def test_type_repairs(raw, expected):
    assert int(validate_intent({**GOOD, "instruction_type": raw}, "x").instruction_type) == expected


@pytest.mark.parametrize("raw", [9, -1, "9", "explode", True, None, 2.5, [1], {"t": 1}])
def test_bad_type_rejected_naming_the_field(raw):
    with pytest.raises(IntentError, match="instruction_type"):
        validate_intent({**GOOD, "instruction_type": raw}, "x")


def test_missing_type_rejected():
    data = dict(GOOD)
    del data["instruction_type"]
    with pytest.raises(IntentError, match="instruction_type"):
        validate_intent(data, "x")


@pytest.mark.parametrize("raw, expected", [("yes", 1), ("no", 0), (True, 1), ("1", 1), (0.0, 0)])
def test_flag_repairs(raw, expected):
    intent = validate_intent({**GOOD, "style_transformation": raw, "contour_compatibility": raw}, "x")
    assert intent.style_transformation == expected and intent.contour_compatibility == expected


@pytest.mark.parametrize("field", ["style_transformation", "contour_compatibility"])
@pytest.mark.parametrize("raw", [2, "maybe", None, [0]])
def test_bad_flag_rejected(field, raw):
    with pytest.raises(IntentError, match=field):
        validate_intent({**GOOD, field: raw}, "x")


def test_subject_is_normalised():
    intent = validate_intent({**GOOD, "subject": "  The man's   Red\tShirt. "}, "x")
    assert intent.subject == "man's red shirt"  # the owner says which shirt
    assert normalize_subject("the dog's owner's hat") == "dog's owner's hat"
    assert normalize_subject("a couple") == "couple"


@pytest.mark.parametrize("raw", ["", "   ", "the", None])
def test_empty_subject_rejected(raw):
    with pytest.raises(IntentError, match="subject"):
        validate_intent({**GOOD, "subject": raw}, "x")


def test_non_string_subject_rejected():
    with pytest.raises(IntentError, match="subject"):
        validate_intent({**GOOD, "subject": 42}, "x")


def test_long_strings_truncated_with_note():
    intent = validate_intent({**GOOD, "generation_prompt": "word " * 400, "subject": "big " * 100 + "dog"}, "x")
    assert len(intent.generation_prompt) <= 600 and len(intent.subject) <= 120
    assert any("truncated" in n for n in intent.notes)


@pytest.mark.parametrize("old", [["cat"], "the cat", [], [1, 2], 7])
def test_retired_foreground_elements_are_read_and_dropped(old):
    """Intents saved by older versions carry foreground_elements; no stage used it, so it is dropped quietly."""
    intent = validate_intent({**GOOD, "foreground_elements": old}, "x")
    assert not hasattr(intent, "foreground_elements") and "foreground_elements" not in intent.to_dict()
    assert intent.notes == []
    assert "foreground_elements" not in INTENT_JSON_SCHEMA["properties"] and "foreground_elements" not in MODEL_FIELDS


def test_empty_prompt_falls_back_to_subject():
    intent = validate_intent({**GOOD, "generation_prompt": "  "}, "x")
    assert intent.generation_prompt == "dog"
    assert any("generation_prompt" in n for n in intent.notes)


@pytest.mark.parametrize("itype", [3, 4])
def test_whole_image_types_force_subject_and_style(itype):
    intent = validate_intent({**GOOD, "instruction_type": itype, "style_transformation": 0, "subject": "photo"}, "x")
    assert intent.subject == "image"
    assert intent.style_transformation == 1
    assert any("style_transformation" in n for n in intent.notes)


@pytest.mark.parametrize("raw", [float("nan"), "high", None, True])
def test_bad_confidence_rejected(raw):
    with pytest.raises(IntentError, match="confidence"):
        validate_intent({**GOOD, "confidence": raw}, "x")


def test_confidence_clamped():
    assert validate_intent({**GOOD, "confidence": 7}, "x").confidence == 1.0
    assert validate_intent({**GOOD, "confidence": -3}, "x").confidence == 0.0


def test_unknown_fields_dropped_with_note():
    intent = validate_intent({**GOOD, "hacked": True, "instruction_type_2": 9}, "x")
    assert "hacked" not in intent.to_dict()
    assert any("unknown fields" in n for n in intent.notes)


@pytest.mark.parametrize("obj", [None, "json", [GOOD], 3])
def test_non_dict_rejected(obj):
    with pytest.raises(IntentError):
        validate_intent(obj, "x")


def test_intent_round_trip_is_stable():
    intent = validate_intent(dict(GOOD), "replace the dog")
    again = validate_intent(intent, "replace the dog")
    assert again.to_dict() == intent.to_dict()
    assert json.loads(intent.to_json())["instruction_type"] == 0


# ----------------------------------------------------------------------------- modality rule
@pytest.mark.parametrize("itype, style, expected", [
    (0, 0, ("image", "image", "text")),
    (1, 0, ("image", "image", "text")),
    (2, 0, ("image", "image", "text")),
    (5, 0, ("image", "image", "text")),
    (2, 1, ("text", "text", "text")),
    (3, 1, ("text", "text", "text")),
    (4, 1, ("image", "image", "text")),
])
def test_modality_rule(itype, style, expected):
    assert query_modalities(itype, style) == expected
    intent = validate_intent({**GOOD, "instruction_type": itype, "style_transformation": style}, "x")
    assert (intent.style_checkpoint_query, intent.style_lora_query, intent.object_lora_query) == expected


def test_contradicting_modalities_are_recomputed():
    intent = validate_intent({**GOOD, "style_checkpoint_query": "text", "style_lora_query": "text"}, "x")
    assert intent.style_checkpoint_query == "image"
    assert any("modality" in n for n in intent.notes)


# ----------------------------------------------------------------------------- JSON replies and schema
def test_intent_from_json_tolerates_fences_and_chatter():
    reply = "Sure! Here it is:\n```json\n" + json.dumps({**GOOD, "instruction_type": "remove"}) + "\n```"
    assert intent_from_json(reply, "x").instruction_type == InstructionType.REMOVE
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"
    assert intent_from_json(fenced, "x", backend="openai").backend == "openai"


@pytest.mark.parametrize("reply", ["", "not json at all", "[1, 2, 3]", '{"instruction_type": 0', "```\n```"])
def test_intent_from_json_rejects_non_json(reply):
    with pytest.raises(IntentError):
        intent_from_json(reply, "x")


def test_unknown_type_in_json_rejected():
    with pytest.raises(IntentError, match="instruction_type"):
        intent_from_json(json.dumps({**GOOD, "instruction_type": 11}), "x")


def test_schema_matches_the_validator():
    schema = intent_json_schema()
    assert schema == INTENT_JSON_SCHEMA and schema is not INTENT_JSON_SCHEMA
    schema["properties"]["subject"]["maxLength"] = 1
    assert INTENT_JSON_SCHEMA["properties"]["subject"]["maxLength"] != 1  # a deep copy
    assert set(INTENT_JSON_SCHEMA["required"]) == set(MODEL_FIELDS) == set(INTENT_JSON_SCHEMA["properties"])
    assert INTENT_JSON_SCHEMA["additionalProperties"] is False
    assert INTENT_JSON_SCHEMA["properties"]["instruction_type"]["enum"] == [0, 1, 2, 3, 4, 5]
    # every enum value the schema allows is accepted by the validator
    for value in INTENT_JSON_SCHEMA["properties"]["instruction_type"]["enum"]:
        assert coerce_instruction_type(value) == value
    assert not math.isnan(validate_intent(dict(GOOD), "x").confidence)
