"""The structured intent every later stage reads (the Polaris paper's schema plus `remove`).

Every parser backend's output, and any intent a user hands in, goes through
`validate_intent`, which repairs what is safely repairable (types written as
words, "yes"/"no" flags, leading determiners in the subject, a string
where a list belongs) and rejects the rest with an `IntentError` naming the field.

Query modality rule (which channel each retrieval step searches with):
- style_transformation = 1: every step queries with text (the style is described
  in words) — except type 4, where the style steps query with the reference image;
- style_transformation = 0: the style checkpoint and style LoRA steps query with the
  input image (keep its look), the object LoRA step with text.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

from polaris_core.errors import IntentError


class InstructionType(IntEnum):
    REPLACE = 0          # the object becomes a different kind of object
    ADD = 1              # add a new object
    LOCAL_STYLE = 2      # colour, material, texture, background of one object/region
    GLOBAL_STYLE = 3     # style of the whole image
    STYLE_REFERENCE = 4  # style transfer from a reference image
    REMOVE = 5           # remove an object (Polaris extension)


class Modality(str):
    TEXT = "text"
    IMAGE = "image"


@dataclass
class Intent:
    instruction: str
    instruction_type: InstructionType
    subject: str
    generation_prompt: str
    style_transformation: int = 0
    contour_compatibility: int = 1       # 1: the new object fits the old outline (the mask is the exact segment)
    # Query modality per retrieval step: "text" or "image".
    style_checkpoint_query: str = "text"
    style_lora_query: str = "text"
    object_lora_query: str = "text"
    confidence: float = 1.0              # the classifier's calibrated probability of the type
    backend: str = "rules"
    notes: list[str] = field(default_factory=list)
    ambiguous: bool = False              # confidence under the head's threshold: see `readings`
    readings: list[dict] = field(default_factory=list)  # the top two readings when ambiguous
    second_edit: str = ""                # a second edit the instruction also named (not carried out)
    language: str = "english"            # english | foreign | symbols

    def to_dict(self) -> dict:
        d = asdict(self)
        d["instruction_type"] = int(self.instruction_type)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


# Fields a backend must produce; the rest are derived or bookkeeping.
MODEL_FIELDS = (
    "instruction_type",
    "style_transformation",
    "subject",
    "generation_prompt",
    "contour_compatibility",
)
# Fields older Polaris versions wrote; read without complaint and dropped (no stage used them).
RETIRED_FIELDS = ("foreground_elements",)
LANGUAGES = ("english", "foreign", "symbols")
MAX_SUBJECT_CHARS = 120
MAX_PROMPT_CHARS = 600
WHOLE_IMAGE_SUBJECT = "image"

# JSON schema of what an LLM backend must emit (OpenAI `json_schema` strict mode compatible).
INTENT_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "instruction_type": {
            "type": "integer",
            "enum": [int(t) for t in InstructionType],
            "description": "0 replace an object with a different kind of object, 1 add a new object, "
            "2 change colour/material/texture/background of one object or region, 3 global style "
            "of the whole image, 4 style transfer from a reference image, 5 remove an object",
        },
        "style_transformation": {"type": "integer", "enum": [0, 1]},
        "subject": {
            "type": "string",
            "maxLength": MAX_SUBJECT_CHARS,
            "description": "the target object as the instruction names it (an owner stays: \"girl's scarf\"), lower-case, "
            "without articles; "
            "'image' for types 3 and 4",
        },
        "generation_prompt": {
            "type": "string",
            "maxLength": MAX_PROMPT_CHARS,
            "description": "a clean prompt describing only the final appearance",
        },
        "contour_compatibility": {"type": "integer", "enum": [0, 1]},
    },
    "required": list(MODEL_FIELDS),
    "additionalProperties": False,
}


def intent_json_schema() -> dict[str, Any]:
    """A fresh copy of the schema (callers may embed or mutate it)."""
    return json.loads(json.dumps(INTENT_JSON_SCHEMA))


def query_modalities(instruction_type: InstructionType | int, style_transformation: int) -> tuple[str, str, str]:
    """(style checkpoint, style LoRA, object LoRA) query modality for an intent."""
    if int(instruction_type) == InstructionType.STYLE_REFERENCE:
        return Modality.IMAGE, Modality.IMAGE, Modality.TEXT
    if style_transformation:
        return Modality.TEXT, Modality.TEXT, Modality.TEXT
    return Modality.IMAGE, Modality.IMAGE, Modality.TEXT


# ----------------------------------------------------------------------------- repair helpers

_TYPE_WORDS = {
    "replace": 0, "replacement": 0, "category change": 0, "category_change": 0, "swap": 0,
    "substitute": 0, "object replacement": 0,
    "add": 1, "addition": 1, "add object": 1, "insert": 1,
    "local style": 2, "local_style": 2, "local": 2, "appearance": 2, "local appearance": 2,
    "color": 2, "colour": 2, "material": 2, "texture": 2, "background": 2, "attribute": 2,
    "global style": 3, "global_style": 3, "global": 3, "style": 3,
    "style reference": 4, "style_reference": 4, "reference": 4, "style transfer": 4,
    "reference style": 4,
    "remove": 5, "removal": 5, "delete": 5, "erase": 5,
}
_FLAG_WORDS = {"0": 0, "1": 1, "false": 0, "true": 1, "no": 0, "yes": 1}
_LEADING_DETERMINER = re.compile(
    r"^(?:(?:the|a|an|this|that|these|those|my|your|his|her|its|our|their|some|any|all|every|each|both)\s+)+"
)
_SPACES = re.compile(r"\s+")
_SAFE_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def normalize_subject(text: str) -> str:
    """Lower-case, single-spaced, no leading determiners ("The man's  shirt" -> "man's shirt": the owner says
    which shirt, so it stays)."""
    s = _SPACES.sub(" ", _SAFE_TEXT.sub(" ", text)).strip().strip(" .,;:!?\"'`").lower()
    s = s.replace("\u2019", "'")
    s = _LEADING_DETERMINER.sub("", s).strip()
    return "" if _LEADING_DETERMINER.fullmatch(s + " ") else s


def coerce_instruction_type(value: Any) -> InstructionType:
    """An `InstructionType` from an int, a digit string or a name ("remove", "local style"); IntentError otherwise."""
    return _coerce_type(value)


def _coerce_type(value: Any) -> InstructionType:
    if isinstance(value, bool):
        raise IntentError("instruction_type must be an integer 0-5, not a boolean.")
    if isinstance(value, InstructionType):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        key = _SPACES.sub(" ", value.strip().lower().replace("-", " "))
        if key.isdigit():
            value = int(key)
        elif key in _TYPE_WORDS:
            value = _TYPE_WORDS[key]
        elif key.replace(" ", "_") in _TYPE_WORDS:
            value = _TYPE_WORDS[key.replace(" ", "_")]
        else:
            raise IntentError(
                f"instruction_type {value!r} is not a known type; use 0 replace, 1 add, 2 local style, "
                "3 global style, 4 style reference or 5 remove."
            )
    if isinstance(value, int) and 0 <= value <= 5:
        return InstructionType(value)
    raise IntentError(
        f"instruction_type {value!r} is out of range; use an integer 0-5 (0 replace, 1 add, "
        "2 local style, 3 global style, 4 style reference, 5 remove)."
    )


def _coerce_flag(name: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.strip().lower()]
    raise IntentError(f"{name} must be 0 or 1, got {value!r}.")


def _coerce_text(name: str, value: Any, limit: int, notes: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise IntentError(f"{name} must be a string, got {type(value).__name__}.")
    text = _SPACES.sub(" ", _SAFE_TEXT.sub(" ", value)).strip()
    if len(text) > limit:
        notes.append(f"{name} truncated to {limit} characters")
        text = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return text


def validate_intent(obj: dict | Intent, instruction: str) -> Intent:
    """Check and repair a backend's output; raise `IntentError` naming the bad field.

    `obj` is an `Intent` or a dict holding at least `instruction_type` and `subject`
    (plus the other schema fields where known). Derived fields (query modalities) are
    always recomputed from the type and style flag, so no backend can contradict the rule.
    """
    if isinstance(obj, Intent):
        data = obj.to_dict()
    elif isinstance(obj, dict):
        data = dict(obj)
    else:
        raise IntentError(f"An intent must be a JSON object (dict), got {type(obj).__name__}.")
    if not isinstance(instruction, str):
        raise IntentError("The instruction an intent belongs to must be a string.")
    notes = [str(n) for n in data.get("notes") or [] if isinstance(n, (str, int, float))]

    known = {f for f in Intent.__dataclass_fields__}
    unknown = sorted(k for k in data if k not in known and k not in RETIRED_FIELDS)
    if unknown:
        notes.append("ignored unknown fields: " + ", ".join(map(str, unknown))[:200])

    if "instruction_type" not in data:
        raise IntentError("instruction_type is missing; give an integer 0-5.")
    itype = _coerce_type(data["instruction_type"])
    whole_image = itype in (InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE)

    style = _coerce_flag("style_transformation", data.get("style_transformation", 1 if whole_image else 0))
    if whole_image and not style:
        style = 1
        notes.append("style_transformation set to 1 for a whole-image style edit")
    contour = _coerce_flag("contour_compatibility", data.get("contour_compatibility", 1))

    subject = normalize_subject(_coerce_text("subject", data.get("subject"), MAX_SUBJECT_CHARS, notes))
    if whole_image:
        subject = WHOLE_IMAGE_SUBJECT
    if not subject:
        raise IntentError(
            "subject is empty; name the object the edit applies to (for an added object, the object added)."
        )

    prompt = _coerce_text("generation_prompt", data.get("generation_prompt"), MAX_PROMPT_CHARS, notes)
    if not prompt:
        prompt = subject
        notes.append("generation_prompt was empty; used the subject")

    confidence = data.get("confidence", 1.0)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or math.isnan(confidence):
        raise IntentError(f"confidence must be a number between 0 and 1, got {confidence!r}.")
    confidence = min(1.0, max(0.0, float(confidence)))

    backend = data.get("backend", "rules")
    if not isinstance(backend, str) or not backend:
        raise IntentError(f"backend must be a non-empty string, got {backend!r}.")

    ambiguous = data.get("ambiguous", False)
    if not isinstance(ambiguous, bool):
        raise IntentError(f"ambiguous must be true or false, got {ambiguous!r}.")
    readings = _coerce_readings(data.get("readings") or [])
    second = _coerce_text("second_edit", data.get("second_edit"), MAX_PROMPT_CHARS, notes)
    language = data.get("language", "english")
    if language not in LANGUAGES:
        raise IntentError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}.")

    modalities = query_modalities(itype, style)
    given = tuple(data.get(k) for k in ("style_checkpoint_query", "style_lora_query", "object_lora_query"))
    if any(g is not None for g in given) and given != modalities:
        notes.append("query modalities recomputed from the modality rule")

    return Intent(
        instruction=instruction,
        instruction_type=itype,
        subject=subject,
        generation_prompt=prompt,
        style_transformation=style,
        contour_compatibility=contour,
        style_checkpoint_query=modalities[0],
        style_lora_query=modalities[1],
        object_lora_query=modalities[2],
        confidence=confidence,
        backend=backend,
        notes=notes,
        ambiguous=ambiguous,
        readings=readings,
        second_edit=second,
        language=language,
    )


def _coerce_readings(raw: Any) -> list[dict]:
    """Alternative readings: [{"instruction_type": int, "subject": str, "probability": float}, ...]."""
    if not isinstance(raw, (list, tuple)):
        raise IntentError(f"readings must be a list of objects, got {type(raw).__name__}.")
    readings = []
    for item in list(raw)[:3]:
        if not isinstance(item, dict):
            raise IntentError(f"readings must hold objects, got {item!r}.")
        probability = item.get("probability", 0.0)
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or math.isnan(probability):
            raise IntentError(f"a reading's probability must be a number, got {probability!r}.")
        subject = item.get("subject", "")
        readings.append({"instruction_type": int(_coerce_type(item.get("instruction_type"))),
                         "subject": normalize_subject(subject) if isinstance(subject, str) else "",
                         "probability": min(1.0, max(0.0, float(probability)))})
    return readings


TYPE_LABELS = {
    InstructionType.REPLACE: "replace an object",
    InstructionType.ADD: "add an object",
    InstructionType.LOCAL_STYLE: "change the look of an object or region",
    InstructionType.GLOBAL_STYLE: "restyle the whole image",
    InstructionType.STYLE_REFERENCE: "restyle from a reference image",
    InstructionType.REMOVE: "remove an object",
}


def describe_intent(intent: Intent) -> str:
    """The intent as short readable lines (what the Parse node and the CLI show a user)."""
    itype = InstructionType(int(intent.instruction_type))
    lines = [f"type: {int(itype)} {TYPE_LABELS[itype]}"]
    if itype not in (InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE):
        lines.append(f"subject: {intent.subject}")
    lines.append(("background to fill: " if itype == InstructionType.REMOVE else "prompt: ") + intent.generation_prompt)
    if itype == InstructionType.REPLACE:
        lines.append("mask: " + ("the object's own outline" if intent.contour_compatibility
                                 else "a box around the object (the new one has another shape)"))
    lines.append(f"confidence: {intent.confidence:.2f}")
    no_edit = next((n for n in intent.notes if n.startswith("no edit found")), "")
    if no_edit:
        lines.append(no_edit)
    if intent.ambiguous:
        readings = [f"{TYPE_LABELS[InstructionType(r['instruction_type'])]}"
                    + (f" ({r['subject']})" if r.get("subject") and r["subject"] != WHOLE_IMAGE_SUBJECT else "")
                    + f" {r['probability']:.0%}" for r in intent.readings[:2]]
        lines.append("ambiguous: the instruction could mean " + " or ".join(readings) + "; rephrase to be sure"
                     if readings else "ambiguous: rephrase the instruction to be sure")
    if intent.second_edit:
        lines.append(f"second edit not carried out: {intent.second_edit!r}; run it as its own instruction")
    if intent.language == "foreign":
        lines.append("language: not English; the reading is a best-effort guess, write the instruction in English")
    elif intent.language == "symbols":
        lines.append("language: no words, only symbols; the reading is a guess")
    return "\n".join(lines)


_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")


def json_object_from_text(text: str) -> dict:
    """The JSON object in a model's reply (code fences and chatter around one object tolerated)."""
    if not isinstance(text, str) or not text.strip():
        raise IntentError("The model returned no text; expected one JSON object with the intent fields.")
    body = _FENCE.sub("", text.strip())
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        data = _first_json_object(body)
    if not isinstance(data, dict):
        raise IntentError(f"The model's reply is not a JSON object: {text[:200]!r}")
    return data


def intent_from_json(text: str, instruction: str, **extra: Any) -> Intent:
    """Parse a model's JSON reply, then validate. `extra` fields (backend, confidence, notes) override the reply's."""
    data = json_object_from_text(text)
    data.update(extra)
    return validate_intent(data, instruction)


def _first_json_object(text: str) -> Any:
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise IntentError(f"The model's reply is not JSON: {text[:200]!r}; expected one JSON object.")
