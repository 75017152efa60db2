"""Two-level retrieval (the Polaris paper): choose the checkpoint c* first, then search LoRAs
among models of c*'s base family, optionally pulled towards c*'s own embedding."""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

import numpy as np

from polaris_core.candidates import Candidate, Candidates
from polaris_core.errors import ConfigError, EmptyZooError
from polaris_core.index import ZooIndex
from polaris_core.intent import Intent, InstructionType
from polaris_core.progress import CheckCancel, OnStep, resolve
from polaris_core.retrieve.options import OBJECT_ROLES, STYLE_ROLES, SearchOptions
from polaris_core.retrieve.search import search
from polaris_core.zoo.entry import ZooEntry

log = logging.getLogger("polaris")


def _query_for(index: ZooIndex, modality: str, text: str, image: Any,
               notes: Optional[list[str]] = None) -> tuple[Optional[str], Any]:
    """(text, image) for one retrieval step: the image only when the intent asks for it, one is
    given and the index has preview vectors to compare it with; otherwise the text (and a note says why)."""
    if modality == "image" and image is not None and index.has_image_channel:
        return None, image
    if modality == "image":
        if image is None:
            why = "no image was given"
        elif index.image_encoder is None:
            why = "no CLIP model is attached to the index"
        else:
            why = "the index holds no preview-image vectors"
        note = f"the instruction asks for an image query, but {why}; searched by text instead"
        log.info(note)
        if notes is not None and note not in notes:
            notes.append(note)
    return text, None


def retrieve(
    index: ZooIndex,
    intent: Intent,
    image: Any = None,
    k_checkpoints: int = 5,
    k_loras: int = 10,
    *,
    options: Optional[SearchOptions] = None,
    chosen_checkpoint: Optional[ZooEntry] = None,
    on_step: OnStep | None = None,
    check_cancel: CheckCancel | None = None,
) -> Candidates:
    """Two-level retrieval for an intent: checkpoints first, then LoRAs near the chosen one.

    `chosen_checkpoint` skips level one and searches LoRAs near that checkpoint; `k_loras=0` skips level two.

    Style LoRAs are searched for style-changing instructions (local style, global style, style
    reference), object LoRAs for replace/add (query: the subject and the generation prompt).
    Raises EmptyZooError when the index has no checkpoints and no LoRAs at all.
    """
    on_step, check_cancel = resolve(on_step, check_cancel)
    options = options or SearchOptions()
    counts = index.counts()
    if not counts.get("checkpoint") and not counts.get("lora"):
        raise EmptyZooError(
            f"The index {index.folder or ''} has no checkpoints or LoRAs. Build it from your model folders: "
            "Build Zoo Index (Polaris) in ComfyUI, or `polaris index build` on the command line."
        )
    result = Candidates(intent=intent)
    kind_type = InstructionType(int(intent.instruction_type))
    prompt = intent.generation_prompt or intent.instruction
    steps = 3
    check_cancel()
    chosen = chosen_checkpoint
    if chosen is None and counts.get("checkpoint"):
        text, img = _query_for(index, intent.style_checkpoint_query, prompt, image, result.notes)
        result.checkpoints = search(index, text, img, kind="checkpoint", k=k_checkpoints, options=options)
        for candidate in result.checkpoints:
            candidate.slot = "checkpoint"
        chosen = result.checkpoints[0].entry if result.checkpoints else None
    elif chosen is None:
        log.warning("the index has no checkpoints; LoRAs are searched across all base families")
    on_step(1, steps)
    if k_loras <= 0:
        on_step(steps, steps)
        return result
    if not counts.get("lora"):
        log.warning("the index has no LoRAs; only checkpoints are returned")
        on_step(steps, steps)
        return result
    family = chosen.base_family if chosen is not None and chosen.base_family != "unknown" else None
    affinity = None
    if chosen is not None and options.weights.affinity:
        row = index.entry_row(chosen.id)
        affinity = index.centroid(row) if row is not None else None
    check_cancel()
    if kind_type in (InstructionType.LOCAL_STYLE, InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE):
        text, img = _query_for(index, intent.style_lora_query, prompt, image, result.notes)
        result.style_loras = _lora_slot(index, text, img, k_loras, family, STYLE_ROLES, options, affinity,
                                        "style_lora")
    on_step(2, steps)
    check_cancel()
    if kind_type in (InstructionType.REPLACE, InstructionType.ADD):
        subject = intent.subject.strip()
        object_text = f"{subject}, {prompt}" if subject and subject.lower() not in prompt.lower() else prompt
        text, img = _query_for(index, intent.object_lora_query, object_text, image, result.notes)
        result.object_loras = _lora_slot(index, text, img, k_loras, family, OBJECT_ROLES, options, affinity,
                                         "object_lora")
    on_step(steps, steps)
    return result


def _lora_slot(index: ZooIndex, text: Optional[str], image: Any, k: int, family: Optional[str],
               roles: Sequence[str], options: SearchOptions, affinity: Optional[np.ndarray],
               slot: str) -> list[Candidate]:
    """LoRAs of the wanted roles; when too few carry those role labels, any role fills the rest.
    The filler comes from one search over every role, and so do the role matches then: two
    searches standardise over different pools, so their scores could not be compared."""
    found = search(index, text, image, kind="lora", k=k, base_family=family, role=list(roles), options=options,
                   affinity_to=affinity)
    if len(found) < k:
        wide = search(index, text, image, kind="lora", k=max(k, options.pool_per_channel), base_family=family,
                      options=options, affinity_to=affinity)
        found = ([c for c in wide if c.entry.role in roles] + [c for c in wide if c.entry.role not in roles])[:k]
    for candidate in found:
        candidate.slot = slot
    return found


def retrieve_checkpoints(index: ZooIndex, intent: Intent, image: Any = None, k: int = 5, *,
                         options: Optional[SearchOptions] = None) -> Candidates:
    """Level one on its own (the ComfyUI checkpoint node): the top-k checkpoints for the intent."""
    result = retrieve(index, intent, image, k_checkpoints=k, k_loras=0, options=options)
    result.style_loras, result.object_loras = [], []
    return result


def retrieve_loras(index: ZooIndex, candidates: Candidates, image: Any = None, k: int = 10, *,
                   options: Optional[SearchOptions] = None) -> Candidates:
    """Level two on its own (the ComfyUI LoRA node): LoRAs near the best of `candidates.checkpoints`."""
    if candidates.intent is None:
        raise ConfigError("These candidates carry no intent; connect Retrieve Checkpoint's output.")
    chosen = candidates.checkpoints[0].entry if candidates.checkpoints else None
    found = retrieve(index, candidates.intent, image, k_checkpoints=1, k_loras=k, options=options,
                     chosen_checkpoint=chosen)
    notes = list(candidates.notes) + [n for n in found.notes if n not in candidates.notes]
    return Candidates(intent=candidates.intent, checkpoints=list(candidates.checkpoints),
                      style_loras=found.style_loras, object_loras=found.object_loras, notes=notes)
