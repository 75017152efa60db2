"""Readable text for what a stage chose: ranked candidate tables and plan summaries.

The ComfyUI nodes show these on the node, and the CLI can print them; both read the same words.
"""
from __future__ import annotations

from typing import Iterable, Optional

from polaris_core.candidates import SLOTS, Candidates

SLOT_LABELS = {"checkpoint": "checkpoint", "style_lora": "style LoRA", "object_lora": "object LoRA"}
# Short column names for the retrieval channels, in the order they are shown.
CHANNEL_LABELS = {"dense": "text", "lexical": "words", "names": "names", "image": "image", "affinity": "affinity",
                  "author": "author"}
NAME_WIDTH = 34


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _score(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:+.2f}"


def channel_summary(channel_scores: dict[str, float]) -> str:
    """'text .61 words .40' for the channels that found a candidate (strongest first)."""
    ordered = sorted(channel_scores.items(), key=lambda item: -item[1])
    return " ".join(f"{CHANNEL_LABELS.get(name, name)} {value:.2f}" for name, value in ordered) or "-"


def candidates_table(candidates: Candidates, slots: Iterable[str] = SLOTS, limit: int = 10) -> str:
    """One table per slot: rank, name, base family, retrieval / LLM / final score, channels that found it."""
    from polaris_core.plan import NOT_INSTALLED, civitai_page, unusable_reason

    blocks = []
    for slot in slots:
        ranked = candidates.slot(slot)
        if not ranked:
            continue
        reranked = any(c.rerank_score is not None for c in ranked)
        rows = [("#", "name", "family", "retr", "llm", "final", "round" if reranked else "", "file", "found by")]
        pages = []
        for rank, c in enumerate(ranked[:limit], 1):
            by = f" ({_clip(c.entry.author, 16)})" if c.entry.author else ""
            # The round a candidate reached orders the table: a finalist stays above anything pruned earlier.
            reached = str(c.rerank_round) if reranked else ""
            reason = unusable_reason(c.entry)
            state = "local" if not reason else "not installed" if reason == NOT_INSTALLED else "unusable"
            if reason == NOT_INSTALLED and civitai_page(c.entry):
                pages.append(f"#{rank} {civitai_page(c.entry)}")
            rows.append((str(rank), _clip(c.entry.name, NAME_WIDTH) + by, c.entry.base_family, _score(c.score),
                         _score(c.rerank_score), _score(c.final_score), reached, state,
                         channel_summary(c.channel_scores)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
        if pages:  # shown, never planned: where to get them
            lines.append("not installed (never planned), Civitai pages: " + ", ".join(pages))
        more = f"  … {len(ranked) - limit} more" if len(ranked) > limit else ""
        blocks.append(f"{SLOT_LABELS.get(slot, slot)}s ({len(ranked)}){more}\n" + "\n".join(lines))
    notes = [f"note: {n}" for n in getattr(candidates, "notes", [])]
    return "\n\n".join(blocks + (["\n".join(notes)] if notes else [])) or "(no candidates)"


def plan_summary(plan) -> str:
    """The plan as a user reads it: checkpoint, LoRAs with weights, trigger words, prompts and notes."""
    lines = []
    if plan.checkpoint is not None:
        lines.append(f"checkpoint: {plan.checkpoint.name}  [{plan.base_family}]")
    else:
        lines.append("checkpoint: (none found in the index)")
    for choice in plan.loras:
        label = SLOT_LABELS.get(choice.slot, choice.slot)
        lines.append(f"{label}: {choice.name}  weight {float(choice.weight or 0.0):.2f} ({choice.weight_source})")
    if not plan.loras:
        lines.append("LoRAs: (none)")
    lines.append(f"trigger words: {', '.join(plan.trigger_words) or '(none)'}")
    lines.append(f"prompt: {plan.prompt}")
    lines.append(f"negative: {plan.negative_prompt}")
    for choice in ([plan.checkpoint] if plan.checkpoint else []) + list(plan.loras):
        if choice.why:
            lines.append(f"why {_clip(choice.name, 40)}: {choice.why}")
    lines += [f"note: {n}" for n in plan.notes]
    return "\n".join(lines)


def index_summary(index, name: str, notes: Iterable[str] = ()) -> str:
    """What a loaded index holds: counts by kind and base family, the image channel, when it was built."""
    counts = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in index.counts().items()) or "no models"
    families: dict[str, int] = {}
    for entry in index.entries:
        families[entry.base_family] = families.get(entry.base_family, 0) + 1
    top = ", ".join(f"{fam} {n}" for fam, n in sorted(families.items(), key=lambda kv: -kv[1])[:6])
    images = int(index.arrays.has_image.sum())
    if index.has_image_channel:
        channel = f"on ({images} preview images embedded)"
    elif images:
        channel = f"off ({images} preview images embedded; connect the same CLIP to use them)"
    else:
        channel = "off (built without CLIP)"
    lines = [f"index: {name}  ({len(index)} entries: {counts})", f"base families: {top or '-'}",
             f"image channel: {channel}", f"built: {index.created_at}"]
    return "\n".join(lines + [f"note: {n}" for n in notes])


def mask_summary(result) -> str:
    """The ranked regions Mask Region found: score, probability, area and box, and which one is used."""
    h, w = result.image_size
    lines = [f"subject: {result.subject or '-'}   method: {result.method}   shape: {result.shape}   image {w}x{h}"]
    rows = [("#", "score", "prob", "area", "box (x0,y0,x1,y1)", "source")]
    for rank, c in enumerate(result.candidates[:8]):
        marker = "*" if rank == result.chosen else " "
        rows.append((f"{marker}{rank}", f"{c.score:+.3f}", f"{c.probability:.2f}", f"{c.area_fraction:.0%}",
                     ",".join(str(v) for v in c.box), c.source))
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(cell.ljust(wd) for cell, wd in zip(r, widths)).rstrip() for r in rows]
        lines.append("* = the region used; set 'candidate' to pick another")
    lines += [f"warning: {x}" for x in result.warnings]
    return "\n".join(lines)


def loaded_summary(kind: str, loaded, name: str) -> str:
    """What a loader node loaded: which model, its size and precision, and where it waits between uses."""
    from pathlib import Path

    parameters = sum(p.numel() for p in loaded.model.parameters())
    dtype = str(next(loaded.model.parameters()).dtype).replace("torch.", "")
    lines = [f"{kind}: {name}", f"{parameters / 1e6:.1f}M parameters, {dtype}"]
    arch = getattr(loaded, "arch", "")
    if arch:
        lines.append(f"architecture: {arch}")
    if getattr(loaded, "path", ""):
        lines.append(f"file: {Path(loaded.path).name}")
    managed = "ComfyUI's memory manager moves it for its own work" if getattr(loaded, "manager", None) else \
        "kept where it is"
    lines.append(f"waits on: {loaded.device} ({managed})")
    return "\n".join(lines)
