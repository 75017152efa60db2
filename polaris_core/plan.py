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

    @property
    def name(self) -> str:
        """What ComfyUI loaders take: the local file name, else the catalog name."""
        return self.entry.file_name or self.entry.name

    def to_dict(self) -> dict:
        return {"slot": self.slot, "name": self.name, "entry": self.entry.to_dict(), "weight": self.weight,
                "weight_source": self.weight_source, "rerank_score": self.rerank_score,
                "retrieval_score": self.retrieval_score, "rank": self.rank, "why": self.why}

    @classmethod
    def from_dict(cls, d: dict) -> "PlanChoice":
        """A choice from its JSON form, checked: a known slot, an entry with text id and name, a weight
        in range for LoRAs. The entry's text is sanitised like any metadata (plans may come from a graph)."""
        from polaris_core.zoo.civitai import sanitize_entry

        try:
            if not isinstance(d, dict) or not isinstance(d.get("entry"), dict):
                raise TypeError("a choice must be an object with an 'entry' object")
            slot = str(d["slot"])
            if slot not in SLOT_TITLES:
                raise ValueError(f"unknown slot {slot!r}")
            raw = d["entry"]
            if not all(isinstance(raw.get(k), str) and raw.get(k) for k in ("id", "name")) or \
                    not isinstance(raw.get("file_name", ""), str):
                raise ValueError("its entry needs text 'id' and 'name' (and 'file_name' for a local file)")
            entry = sanitize_entry(ZooEntry.from_dict(raw))
            weight = _opt_float(d.get("weight"))
            if slot != "checkpoint" and (weight is None or not math.isfinite(weight)
                                         or abs(weight) > WEIGHT_RANGE[1]):
                raise ValueError(f"a LoRA needs a weight between -{WEIGHT_RANGE[1]} and {WEIGHT_RANGE[1]}")
            return cls(slot=slot, entry=entry, weight=weight, weight_source=str(d.get("weight_source", "")),
                       rerank_score=_opt_float(d.get("rerank_score")),
                       retrieval_score=_opt_float(d.get("retrieval_score")), rank=int(d.get("rank", 0)),
                       why=str(d.get("why", "")))
        except (KeyError, TypeError, ValueError) as exc:
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
        if not isinstance(d, dict):
            raise PlanError(f"A plan must be a JSON object. {PLAN_SHAPE}")
        version = d.get("version", PLAN_VERSION)
        if version != PLAN_VERSION:
            raise PlanError(f"Plan version {version} is not supported (expected {PLAN_VERSION}); regenerate it.")
        if not isinstance(d.get("loras", []), list) or not isinstance(d.get("checkpoint") or {}, dict):
            raise PlanError(f"The plan's 'loras' must be a list and its 'checkpoint' an object. {PLAN_SHAPE}")
        try:
            return cls(
                intent=intent_from_dict(d["intent"]) if d.get("intent") else None,
                checkpoint=PlanChoice.from_dict(d["checkpoint"]) if d.get("checkpoint") else None,
                loras=[PlanChoice.from_dict(c) for c in d.get("loras", [])],
                trigger_words=[str(t) for t in d.get("trigger_words", [])],
                prompt=str(d.get("prompt", "")),
                negative_prompt=str(d.get("negative_prompt", DEFAULT_NEGATIVE_PROMPT)),
                base_family=str(d.get("base_family", UNKNOWN_FAMILY)),
                notes=[str(n) for n in d.get("notes", [])],
            )
        except (TypeError, AttributeError, ValueError) as exc:
            raise PlanError(f"The plan is malformed ({exc}). {PLAN_SHAPE}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> "Plan":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise PlanError(f"The plan is not valid JSON ({str(exc)[:200]}). {PLAN_SHAPE}") from exc
        return cls.from_dict(data)

    def validate(self) -> None:
        """Raise PlanError when the chosen models' known base families differ."""
        check_compatible([c.entry for c in ([self.checkpoint] if self.checkpoint else []) + self.loras])


def _opt_float(value) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def intent_from_dict(d: dict) -> Intent:
    """An Intent from its `to_dict()` form (exact round trip; PlanError when malformed)."""
    known = {k: v for k, v in dict(d).items() if k in Intent.__dataclass_fields__}
    try:
        known["instruction_type"] = InstructionType(int(known["instruction_type"]))
        return Intent(**known)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"The plan's intent is malformed ({exc}); regenerate the plan.") from exc


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
