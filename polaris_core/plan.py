"""Compose the final plan (Stylus's composer role): checkpoint, LoRAs with weights, trigger words, prompts.

The apply stage and the CLI both read a `Plan`; it round-trips through JSON.

Which LoRA slots an intent wants:
- replace / add: the object LoRA (required when candidates exist); a style LoRA too when the intent
  asks for a style change (`style_transformation`);
- local style / global style / style reference: the style LoRA (required when candidates exist);
- remove: none (the checkpoint inpaints the background).
Weights: the entry's `recommended_weight` (from its metadata) when it has one, otherwise a default split:
one LoRA 0.8; two LoRAs 0.7 for the one the intent centres on and 0.5 for the other. When the sum
passes `max_total_weight` every weight is scaled down to fit (stacked LoRAs at full weight overcook).
Base families must agree: a LoRA whose family differs from the checkpoint's is skipped for the next
compatible one; "unknown" families are allowed with a note. PlanError only when a required slot has
candidates and none of them fits any checkpoint candidate.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from polaris_core.candidates import Candidate, Candidates, rank_key
from polaris_core.errors import PlanError
from polaris_core.intent import Intent, InstructionType
from polaris_core.schedule import LoraSchedule
from polaris_core.zoo.entry import ZooEntry

log = logging.getLogger("polaris")

PLAN_VERSION = 1
UNKNOWN_FAMILY = "unknown"
DEFAULT_NEGATIVE_PROMPT = "lowres, blurry, bad anatomy, deformed, watermark, text, signature, jpeg artifacts"
SINGLE_LORA_WEIGHT = 0.8
PRIMARY_LORA_WEIGHT = 0.7
SECONDARY_LORA_WEIGHT = 0.5
MAX_TOTAL_WEIGHT = 1.6
WEIGHT_RANGE = (0.05, 2.0)
MAX_TRIGGERS_PER_LORA = 3
MAX_TRIGGER_CHARS = 64

SLOT_TITLES = {"checkpoint": "checkpoint", "style_lora": "style LoRA", "object_lora": "object LoRA"}
PLAN_SHAPE = ('A plan is a JSON object as Tree Rerank (Polaris) or `polaris rerank --json` writes it: '
              '{"version": 1, "checkpoint": {"slot": "checkpoint", "entry": {"id": "...", "kind": "checkpoint", '
              '"name": "...", "file_name": "model.safetensors"}}, "loras": [{"slot": "style_lora" or "object_lora", '
              '"entry": {"id": "...", "kind": "lora", "name": "...", "file_name": "x.safetensors"}, "weight": 0.8}], '
              '"prompt": "...", "negative_prompt": "..."}.')


@dataclass
class PlanChoice:
    """One chosen model and why."""

    slot: str                        # "checkpoint", "style_lora" or "object_lora"
    entry: ZooEntry
    weight: Optional[float] = None   # LoRA strength (None for the checkpoint)
    weight_source: str = ""          # "metadata", "default" or "metadata, scaled" / "default, scaled"
    rerank_score: Optional[float] = None
    retrieval_score: Optional[float] = None
    rank: int = 0                    # position in its slot's ranked list (0 = best)
    why: str = ""
    schedule: Optional[LoraSchedule] = None  # LoRA strength over steps and blocks (None: uniform)

    @property
    def name(self) -> str:
        """What ComfyUI loaders take: the local file name, else the catalog name."""
        return self.entry.file_name or self.entry.name

    def to_dict(self) -> dict:
        return {"slot": self.slot, "name": self.name, "entry": self.entry.to_dict(), "weight": self.weight,
                "weight_source": self.weight_source, "rerank_score": self.rerank_score,
                "retrieval_score": self.retrieval_score, "rank": self.rank, "why": self.why,
                **({"schedule": self.schedule.to_dict()} if self.schedule else {})}

    @classmethod
    def from_dict(cls, d: dict, where: str = "a choice") -> "PlanChoice":
        """A choice from its JSON form, checked field by field: a known slot, an entry of the slot's kind with
        text id and name, a finite weight in range for LoRAs. The entry's text is sanitised like any metadata
        (plans may come from a graph)."""
        from polaris_core.zoo.civitai import sanitize_entry

        try:
            if not isinstance(d, dict):
                raise _Malformed(f"{where} must be an object with 'slot' and 'entry'")
            slot = d.get("slot")
            if not isinstance(slot, str) or slot not in SLOT_TITLES:
                raise _Malformed(f"{where} has slot {_short(slot)}; use one of {', '.join(SLOT_TITLES)}")
            entry = sanitize_entry(_entry_from_literal(d.get("entry"), slot, where))
            weight = _number(d.get("weight"), f"{where}'s weight")
            if slot != "checkpoint" and (weight is None or abs(weight) > WEIGHT_RANGE[1]):
                raise _Malformed(f"{where} is a LoRA and needs a weight between -{WEIGHT_RANGE[1]} and "
                                 f"{WEIGHT_RANGE[1]}, not {_short(d.get('weight'))}")
            return cls(slot=slot, entry=entry, weight=weight,
                       weight_source=_text(d.get("weight_source"), f"{where}'s weight_source"),
                       rerank_score=_number(d.get("rerank_score"), f"{where}'s rerank_score"),
                       retrieval_score=_number(d.get("retrieval_score"), f"{where}'s retrieval_score"),
                       rank=_whole(d.get("rank", 0), f"{where}'s rank"),
                       why=_text(d.get("why"), f"{where}'s why"),
                       schedule=_lora_schedule(slot, d.get("schedule"), where))
        except _Malformed as exc:
            raise PlanError(f"A plan choice is malformed ({exc}). {PLAN_SHAPE}") from exc


@dataclass
class Plan:
    """Everything the apply stage needs: models, LoRA weights, prompts, and the reasons."""

    intent: Optional[Intent]
    checkpoint: Optional[PlanChoice]
    loras: list[PlanChoice] = field(default_factory=list)
    trigger_words: list[str] = field(default_factory=list)
    prompt: str = ""
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    base_family: str = UNKNOWN_FAMILY
    notes: list[str] = field(default_factory=list)
    version: int = PLAN_VERSION

    @property
    def checkpoint_name(self) -> str:
        return self.checkpoint.name if self.checkpoint else ""

    def lora_weights(self) -> list[tuple[str, float]]:
        """(name, weight) per LoRA, in application order."""
        return [(c.name, float(c.weight or 0.0)) for c in self.loras]

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "intent": self.intent.to_dict() if self.intent else None,
            "checkpoint": self.checkpoint.to_dict() if self.checkpoint else None,
            "loras": [c.to_dict() for c in self.loras],
            "trigger_words": list(self.trigger_words),
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "base_family": self.base_family,
            "notes": list(self.notes),
        }

    def to_json(self, indent: Optional[int] = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_value(cls, value) -> "Plan":
        """A Plan from what a graph may hand Apply Plan: a Plan, its dict form or its JSON text (an API
        graph's literal). Anything else, or a malformed plan, is a PlanError saying what a plan looks like."""
        if isinstance(value, Plan):
            return value
        if isinstance(value, (str, bytes, bytearray)):
            return cls.from_json(value)
        if isinstance(value, dict):
            return cls.from_dict(value)
        raise PlanError(f"Apply Plan got {type(value).__name__}, not a plan. {PLAN_SHAPE}")

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        """A plan from its JSON form (an API graph's literal), every field checked for its type and every
        number for finiteness; anything else is a PlanError saying what a plan looks like."""
        if not isinstance(d, dict):
            raise PlanError(f"A plan must be a JSON object. {PLAN_SHAPE}")
        refuse_non_finite(d)
        version = d.get("version", PLAN_VERSION)
        if isinstance(version, bool) or version != PLAN_VERSION:
            raise PlanError(f"Plan version {_short(version)} is not supported (expected {PLAN_VERSION}); "
                            "regenerate it.")
        if not isinstance(d.get("loras", []), list) or not isinstance(d.get("checkpoint") or {}, dict):
            raise PlanError(f"The plan's 'loras' must be a list and its 'checkpoint' an object. {PLAN_SHAPE}")
        try:
            plan = cls(
                intent=intent_from_dict(d["intent"]) if d.get("intent") else None,
                checkpoint=PlanChoice.from_dict(d["checkpoint"], "the checkpoint") if d.get("checkpoint") else None,
                loras=[PlanChoice.from_dict(c, f"LoRA #{i + 1}") for i, c in enumerate(d.get("loras", []))],
                trigger_words=_text_list(d.get("trigger_words"), "trigger_words"),
                prompt=_text(d.get("prompt"), "prompt"),
                negative_prompt=_text(d.get("negative_prompt", DEFAULT_NEGATIVE_PROMPT), "negative_prompt"),
                base_family=_text(d.get("base_family", UNKNOWN_FAMILY), "base_family") or UNKNOWN_FAMILY,
                notes=_text_list(d.get("notes"), "notes"),
            )
        except _Malformed as exc:
            raise PlanError(f"The plan is malformed ({exc}). {PLAN_SHAPE}") from exc
        check_lora_stack(plan.loras)
        return plan

    @classmethod
    def from_json(cls, text: str | bytes) -> "Plan":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PlanError(f"The plan is not valid JSON ({str(exc)[:200]}). {PLAN_SHAPE}") from exc
        return cls.from_dict(data)

    def validate(self, strength_scale: float = 1.0) -> None:
        """Raise PlanError when the chosen models' known base families differ, or the LoRAs repeat, are too
        many or too strong together (their weights times `strength_scale`, Apply Plan's multiplier)."""
        check_lora_stack(self.loras, strength_scale)
        check_compatible([c.entry for c in ([self.checkpoint] if self.checkpoint else []) + self.loras])


def _lora_schedule(slot: str, value, where: str) -> Optional[LoraSchedule]:
    if value is not None and slot == "checkpoint":
        raise _Malformed(f"{where} carries a schedule, but a checkpoint has no schedule (only LoRAs do)")
    return LoraSchedule.from_value(value)  # PlanError with the schedule's shape when malformed


class _Malformed(ValueError):
    """A field of a plan literal that is missing or of the wrong type (said in the plan's terms)."""


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def refuse_non_finite(value, where: str = "") -> None:
    """PlanError naming the first NaN or infinity anywhere in a plan literal (JSON reads NaN, Infinity and
    1e999 as floats; ComfyUI's own range checks let NaN through)."""
    stack = [(value, where)]
    while stack:  # no recursion: a literal nested thousands deep is just walked
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise PlanError(f"The plan's {path or 'value'} is {item!r}; every number in a plan must be finite. "
                            f"{PLAN_SHAPE}")
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{str(k)[:40]}" if path else str(k)[:40]) for k, v in reversed(list(item.items())))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(item))))


def _number(value, what: str) -> Optional[float]:
    """None, or a finite float from a JSON number (or numeric text)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _Malformed(f"{what} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise _Malformed(f"{what} must be a number, not {_short(value)}") from None
    if not math.isfinite(number):
        raise _Malformed(f"{what} must be a finite number, not {_short(value)}")
    return number


MAX_PLAN_INT = 2 ** 53  # JSON integers past this are not exact in most readers


def _whole(value, what: str, optional: bool = False) -> Optional[int]:
    """A whole number 0..2**53 (an integral float such as 3.0 too)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and not value.is_integer()) or not 0 <= value <= MAX_PLAN_INT:
        raise _Malformed(f"{what} must be a whole number from 0 to {MAX_PLAN_INT}, not {_short(value)}")
    return int(value)


def _text(value, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"{what} must be text, not {type(value).__name__}")
    return value


def _text_list(value, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(f"{what} must be a list of texts")
    return list(value)


_ENTRY_TEXT = ("role", "base_family", "base_model", "version_name", "sha256", "autov2", "autov3", "description",
               "file_name", "file_path", "author", "source", "file_format")
_ENTRY_TEXT_LISTS = ("trigger_words", "tags", "example_prompts", "related_prompts", "preview_paths", "preview_urls")


def _entry_from_literal(raw, slot: str, where: str) -> ZooEntry:
    """A ZooEntry from a plan literal's 'entry', each field checked; unknown fields are ignored."""
    kind = "checkpoint" if slot == "checkpoint" else "lora"
    if not isinstance(raw, dict):
        raise _Malformed(f"{where} needs an 'entry' object")
    for name in ("id", "name"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise _Malformed(f"{where}'s entry needs a text {name!r} (and 'file_name' for a local file)")
    if raw.get("kind") != kind:
        raise _Malformed(f"{where}'s entry needs \"kind\": \"{kind}\" for its slot {slot}, not "
                         f"{_short(raw.get('kind'))}")
    fields = {"id": raw["id"], "kind": kind, "name": raw["name"]}
    for name in _ENTRY_TEXT:
        if name in raw:
            fields[name] = _text(raw[name], f"{where}'s entry field {name!r}")
    for name in _ENTRY_TEXT_LISTS:
        if name in raw:
            fields[name] = _text_list(raw[name], f"{where}'s entry field {name!r}")
    for name in ("civitai_model_id", "civitai_version_id"):
        if name in raw:
            fields[name] = _whole(raw[name], f"{where}'s entry field {name!r}", optional=True)
    if "downloads" in raw:
        fields["downloads"] = _whole(raw["downloads"], f"{where}'s entry field 'downloads'")
    if "recommended_weight" in raw:
        fields["recommended_weight"] = _number(raw["recommended_weight"],
                                               f"{where}'s entry field 'recommended_weight'")
    fields["base_family"] = fields.get("base_family") or UNKNOWN_FAMILY
    return ZooEntry(**fields)


# What one plan may stack. The composer picks at most two LoRAs at a total of MAX_TOTAL_WEIGHT; these caps
# bound hand-written plans: 8 LoRAs is more than any stack that still behaves, and 6 is three LoRAs at the
# ±2 per-LoRA limit (past that, stacked deltas swamp the checkpoint: black or noise images).
MAX_PLAN_LORAS = 8
MAX_PLAN_TOTAL_STRENGTH = 6.0


def check_lora_stack(loras: Sequence[PlanChoice], strength_scale: float = 1.0) -> None:
    """PlanError when a LoRA is listed twice (by file name or entry id), more than MAX_PLAN_LORAS are listed,
    or their absolute weights (times `strength_scale`) add up to more than MAX_PLAN_TOTAL_STRENGTH."""
    if len(loras) > MAX_PLAN_LORAS:
        raise PlanError(f"The plan lists {len(loras)} LoRAs; at most {MAX_PLAN_LORAS} can be stacked. Keep the "
                        "ones that matter most.")
    names: set[str] = set()
    ids: dict[str, str] = {}
    for choice in loras:
        if choice.name in names:
            raise PlanError(f"The plan lists the LoRA {choice.name!r} more than once; list each LoRA once, with "
                            "the weight you want.")
        if choice.entry.id in ids:
            raise PlanError(f"The plan lists one LoRA twice: {ids[choice.entry.id]!r} and {choice.name!r} have the "
                            f"same id {choice.entry.id!r}; list each LoRA once.")
        names.add(choice.name)
        ids[choice.entry.id] = choice.name
    total = sum(abs(float(c.weight or 0.0)) for c in loras) * abs(strength_scale)
    if total > MAX_PLAN_TOTAL_STRENGTH + 1e-9:
        scaled = f" (times lora_strength_scale {strength_scale:g})" if strength_scale != 1.0 else ""
        raise PlanError(f"The plan's LoRA weights add up to {total:.2f}{scaled}; at most "
                        f"{MAX_PLAN_TOTAL_STRENGTH:g} in absolute value can be stacked. Lower the weights.")


_INTENT_TEXT = ("instruction", "subject", "generation_prompt", "style_checkpoint_query", "style_lora_query",
                "object_lora_query", "backend", "second_edit", "language")
_INTENT_REQUIRED = ("instruction", "instruction_type", "subject", "generation_prompt")


def intent_from_dict(d: dict) -> Intent:
    """An Intent from its `to_dict()` form (exact round trip; PlanError naming the field when malformed)."""
    try:
        if not isinstance(d, dict):
            raise _Malformed("it must be an object")
        refuse_non_finite(d, "intent")
        known = {k: v for k, v in d.items() if k in Intent.__dataclass_fields__}
        missing = [k for k in _INTENT_REQUIRED if k not in known]
        if missing:
            raise _Malformed(f"it lacks {', '.join(missing)}")
        for name in _INTENT_TEXT:
            if name in known:
                known[name] = _text(known[name], name)
        for name in ("style_transformation", "contour_compatibility"):
            if name in known and (isinstance(known[name], bool) or known[name] not in (0, 1)):
                raise _Malformed(f"{name} must be 0 or 1")
        if "confidence" in known:
            known["confidence"] = _number(known["confidence"], "confidence")
        if "ambiguous" in known and not isinstance(known["ambiguous"], bool):
            raise _Malformed("ambiguous must be true or false")
        if "notes" in known:
            known["notes"] = _text_list(known["notes"], "notes")
        if "readings" in known and (not isinstance(known["readings"], list)
                                    or not all(isinstance(r, dict) for r in known["readings"])):
            raise _Malformed("readings must be a list of objects")
        kind = known["instruction_type"]
        if isinstance(kind, bool) or not isinstance(kind, (int, str)):
            raise _Malformed("instruction_type must be an integer 0-5")
        known["instruction_type"] = InstructionType(int(kind))
        return Intent(**known)
    except (_Malformed, TypeError, ValueError) as exc:
        raise PlanError(f"The plan's intent is malformed ({exc}); regenerate the plan, or leave the intent out "
                        "(Apply Plan does not need it).") from exc


# ---- compatibility --------------------------------------------------------------------------------------
def families_compatible(a: str, b: str) -> bool:
    """Same family, or at least one unknown (cannot be checked, so not refused)."""
    a, b = (a or UNKNOWN_FAMILY), (b or UNKNOWN_FAMILY)
    return a == b or UNKNOWN_FAMILY in (a, b)


def check_compatible(entries: Iterable[ZooEntry]) -> str:
    """The shared known family of `entries` ("unknown" if none is known); PlanError when two differ."""
    known: dict[str, str] = {}
    for entry in entries:
        family = entry.base_family or UNKNOWN_FAMILY
        if family != UNKNOWN_FAMILY:
            known.setdefault(family, entry.name)
    if len(known) > 1:
        listing = ", ".join(f"{name!r} ({family})" for family, name in known.items())
        raise PlanError(f"These models are for different base models and cannot be combined: {listing}. "
                        "Pick LoRAs made for the checkpoint's base model.")
    return next(iter(known), UNKNOWN_FAMILY)


# ---- composition ----------------------------------------------------------------------------------------
def wanted_lora_slots(intent: Intent) -> tuple[list[str], list[str]]:
    """(required, optional) LoRA slots for this intent, the primary slot first."""
    kind = InstructionType(int(intent.instruction_type))
    if kind in (InstructionType.REPLACE, InstructionType.ADD):
        return ["object_lora"], (["style_lora"] if intent.style_transformation else [])
    if kind in (InstructionType.LOCAL_STYLE, InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE):
        return ["style_lora"], []
    return [], []  # remove: the checkpoint alone paints the background back


def ranked(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Best first, in the reranker's order (`candidates.rank_key`: round reached, its key, retrieval score);
    candidates never reranked go by retrieval score."""
    return sorted(candidates, key=rank_key, reverse=True)


def clean_trigger(word: str) -> str:
    """Untrusted trigger word → short, single-line prompt text without LoRA/embedding syntax."""
    text = unicodedata.normalize("NFKC", str(word or ""))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"<[^>]*>", " ", text)              # <lora:...>, <hypernet:...>, markup
    text = re.sub(r"[\s,]+", " ", text).strip(" .;:")
    return text[:MAX_TRIGGER_CHARS].strip()


def _trigger_words(choices: Sequence[PlanChoice]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for choice in choices:
        taken = 0
        for word in map(clean_trigger, choice.entry.trigger_words):
            if taken == MAX_TRIGGERS_PER_LORA:
                break
            if word and word.lower() not in seen:
                seen.add(word.lower())
                out.append(word)
                taken += 1
    return out


def _assign_weights(loras: list[PlanChoice], max_total_weight: float) -> None:
    defaults = [SINGLE_LORA_WEIGHT] if len(loras) == 1 else \
        [PRIMARY_LORA_WEIGHT] + [SECONDARY_LORA_WEIGHT] * (len(loras) - 1)
    for choice, default in zip(loras, defaults):
        recommended = choice.entry.recommended_weight
        if recommended is not None and WEIGHT_RANGE[0] <= float(recommended) <= WEIGHT_RANGE[1]:
            choice.weight, choice.weight_source = round(float(recommended), 3), "metadata"
        else:
            choice.weight, choice.weight_source = default, "default"
    total = sum(c.weight or 0.0 for c in loras)
    if total > max_total_weight:
        for choice in loras:
            choice.weight = round((choice.weight or 0.0) * max_total_weight / total, 3)
            choice.weight_source += ", scaled"


def _score_text(c: Candidate) -> str:
    parts = []
    if c.rerank_score is not None:
        parts.append(f"rerank {c.rerank_score:.2f}")
    parts.append(f"retrieval {float(c.score):.2f}")
    return ", ".join(parts)


def _why(slot: str, c: Candidate, rank: int, skipped: int, family: str, intent: Intent) -> str:
    target = intent.subject if slot == "object_lora" else (intent.generation_prompt or intent.instruction)
    text = f"best-ranked {SLOT_TITLES[slot]} ({_score_text(c)})" if rank == 0 else \
        f"{SLOT_TITLES[slot]} ranked #{rank + 1} ({_score_text(c)})"
    if slot != "checkpoint":
        text += f" for {target[:80]!r}"
    if skipped:
        text += f"; skipped {skipped} better-ranked candidate(s) made for another base model than {family}"
    return text


NOT_INSTALLED = "not installed (a catalog entry with no local file)"
MODEL_FOLDERS = {"checkpoint": "models/checkpoints", "style_lora": "models/loras", "object_lora": "models/loras"}


def unusable_reason(entry: ZooEntry) -> str:
    """Why Apply Plan would refuse this model ("" when it can be applied): a pickle file is never
    loaded, a local file that is gone cannot be, and a catalog entry has no file to load. Such
    candidates are shown but never chosen."""
    if entry.file_format == "pickle":
        return "a pickle file (never loaded)"
    if not entry.file_name:
        return NOT_INSTALLED
    if entry.source == "local" and entry.file_path and not os.path.isfile(entry.file_path):
        return "its file is gone"
    return ""


def civitai_page(entry: ZooEntry) -> str:
    """The model's Civitai page ("" when the entry names no Civitai model, or is one of the demo zoo's
    invented models, whose previews are `demo://` files)."""
    from polaris_core.demo import DEMO_URL_PREFIX

    if not isinstance(entry.civitai_model_id, int) or entry.civitai_model_id <= 0 or \
            any(str(url).startswith(DEMO_URL_PREFIX) for url in entry.preview_urls):
        return ""
    url = f"https://civitai.com/models/{entry.civitai_model_id}"
    if isinstance(entry.civitai_version_id, int) and entry.civitai_version_id > 0:
        url += f"?modelVersionId={entry.civitai_version_id}"
    return url


def not_installed_note(slot: str, candidate: Candidate, rank: int) -> str:
    """What a user reads about a better-ranked model that is only in the catalog: where to get it."""
    page = civitai_page(candidate.entry)
    where = f"download it from {page}" if page else "download it"
    return (f"{SLOT_TITLES[slot]} {candidate.entry.name[:80]!r} (ranked #{rank + 1}) is not installed: {where} "
            f"into {MODEL_FOLDERS[slot]} and index that folder to use it")


def _best_compatible(cands: list[Candidate], family: str) -> tuple[Optional[int], int]:
    """Index of the best candidate compatible with `family`, and how many incompatible ones it skipped."""
    skipped = 0
    for i, c in enumerate(cands):
        if families_compatible(c.entry.base_family, family):
            return i, skipped
        skipped += 1
    return None, skipped



def _first_checkpoint_with_picks(options, pools, required, optional):
    """(rank, checkpoint, family, picks) for the best-ranked checkpoint option every required slot fits, or None.

    picks maps a slot to (index in its pool, candidates skipped for another family).
    """
    for ck_rank, checkpoint in options:
        family = checkpoint.entry.base_family if checkpoint else UNKNOWN_FAMILY
        picks: dict[str, tuple[int, int]] = {}
        for slot in required + optional:
            if not pools[slot]:
                continue
            index, skipped = _best_compatible(pools[slot], family)
            if index is None:
                continue
            picks[slot] = (index, skipped)
            if family == UNKNOWN_FAMILY:
                family = pools[slot][index].entry.base_family or UNKNOWN_FAMILY
        if all(slot in picks for slot in required if pools[slot]):
            return ck_rank, checkpoint, family, picks
    return None

def compose_plan(intent: Intent, candidates: Candidates, *, negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
                 max_total_weight: float = MAX_TOTAL_WEIGHT, require_checkpoint: bool = False) -> Plan:
    """Choose the checkpoint, the style LoRA and the object LoRA for `intent` from ranked candidates.

    Checkpoints are tried best first; for each, every wanted slot takes its best candidate of a compatible
    base family. The first checkpoint that fills every required slot wins; if none does, PlanError.
    With no checkpoint candidates the plan keeps the workflow's own checkpoint (a note says so), unless
    `require_checkpoint`.
    """
    if intent is None:
        raise PlanError("No intent to compose a plan for; parse the instruction first.")
    required, optional = wanted_lora_slots(intent)
    notes: list[str] = [str(n) for n in getattr(candidates, "notes", [])]  # retrieval's notes stay with the plan
    pools: dict[str, list[Candidate]] = {}
    rank_of: dict[int, int] = {}  # id(candidate) -> its place in the full ranked list, unusable ones included
    not_installed: dict[str, list[Candidate]] = {}
    for slot in ("checkpoint", "style_lora", "object_lora"):
        order = ranked(candidates.slot(slot))
        rank_of.update((id(c), i) for i, c in enumerate(order))
        pools[slot] = [c for c in order if not unusable_reason(c.entry)]
        not_installed[slot] = [c for c in order if unusable_reason(c.entry) == NOT_INSTALLED]
        if len(pools[slot]) < len(order):
            reasons = sorted({unusable_reason(c.entry) for c in order} - {""})
            notes.append(f"{len(order) - len(pools[slot])} {SLOT_TITLES[slot]} candidate(s) cannot be applied "
                         f"({'; '.join(reasons)}) and were passed over")
    checkpoints = pools["checkpoint"]
    if not checkpoints:
        if require_checkpoint:
            raise PlanError("Retrieval found no checkpoint; index some checkpoints or pick one in the workflow.")
        notes.append("no checkpoint candidate: the workflow's own checkpoint is used")
    for slot in required + optional:
        if not pools[slot]:
            notes.append(f"no {SLOT_TITLES[slot]} candidate was retrieved" if not candidates.slot(slot) else
                         f"no {SLOT_TITLES[slot]} candidate can be applied; none used")

    # (rank, checkpoint) options; None stands for "the workflow's checkpoint", family taken from the LoRAs.
    options: list[tuple[int, Optional[Candidate]]] = [(rank_of[id(c)], c) for c in checkpoints] or [(0, None)]
    chosen = _first_checkpoint_with_picks(options, pools, required, optional)
    if chosen is None:
        wanted = ", ".join(SLOT_TITLES[s] for s in required if pools[s])
        families = sorted({c.entry.base_family for s in required for c in pools[s]})
        raise PlanError(f"No {wanted} candidate is made for the base model of any checkpoint candidate "
                        f"(LoRA families: {families}, checkpoint families: "
                        f"{sorted({c.entry.base_family for c in checkpoints})}). Retrieve more candidates or "
                        "index LoRAs for your checkpoint's base model.")
    ck_rank, checkpoint, family, picks = chosen

    for slot in optional:
        if pools[slot] and slot not in picks:
            notes.append(f"no {SLOT_TITLES[slot]} fits the {family} base model; none used")
    ck_choice = None
    if checkpoint is not None:
        ck_choice = PlanChoice(slot="checkpoint", entry=checkpoint.entry, rerank_score=checkpoint.rerank_score,
                               retrieval_score=float(checkpoint.score), rank=ck_rank)
        ck_choice.why = _why("checkpoint", checkpoint, ck_rank, 0, family, intent)
        if ck_rank:
            ck_choice.why += "; better-ranked checkpoints had no compatible LoRA for this edit"
    loras = []
    for slot in required + optional:
        if slot in picks:
            index, skipped = picks[slot]
            c = pools[slot][index]
            loras.append(PlanChoice(slot=slot, entry=c.entry, rerank_score=c.rerank_score,
                                    retrieval_score=float(c.score), rank=rank_of[id(c)],
                                    why=_why(slot, c, rank_of[id(c)], skipped, family, intent)))
    _assign_weights(loras, max_total_weight)
    for choice in loras:
        choice.why += f"; weight {choice.weight} ({choice.weight_source})"
    chosen = ([ck_choice] if ck_choice else []) + loras
    if any((c.entry.base_family or UNKNOWN_FAMILY) == UNKNOWN_FAMILY for c in chosen) and len(chosen) > 1:
        notes.append("some chosen models have an unknown base model; check that they work together")
    family = check_compatible(c.entry for c in chosen)

    chosen_rank = {c.slot: c.rank for c in chosen}
    for slot in ["checkpoint"] + required + optional:
        better = [c for c in not_installed[slot] if rank_of[id(c)] < chosen_rank.get(slot, len(rank_of) + 1)]
        if better:  # the best-ranked one only: the table shows the rest
            notes.append(not_installed_note(slot, better[0], rank_of[id(better[0])]))

    triggers = _trigger_words(loras)
    kind = InstructionType(int(intent.instruction_type))
    body = (intent.generation_prompt or intent.instruction or "").strip()
    prompt = ", ".join([*triggers, body] if body else triggers)
    negative = negative_prompt
    if kind == InstructionType.REMOVE and intent.subject:
        negative = f"{clean_trigger(intent.subject)}, {negative_prompt}" if negative_prompt else clean_trigger(intent.subject)
    plan = Plan(intent=intent, checkpoint=ck_choice, loras=loras, trigger_words=triggers, prompt=prompt,
                negative_prompt=negative, base_family=family, notes=notes)
    log.debug("plan: checkpoint %s, loras %s", plan.checkpoint_name, plan.lora_weights())
    return plan
