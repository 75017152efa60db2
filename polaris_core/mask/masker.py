"""The region masker: Segment Anything proposes, CLIP ranks, the winner is post-processed.

- Replace / local style / remove (types 0, 2, 5): SAM proposes masks from a point grid
  (one cached image embedding), every proposal is scored in one batched CLIP forward
  (see scoring.py), the best one wins.
- Add (type 1): a CLIP patch-similarity map, snapped to SAM segments where they agree
  (see add_object.py).
- Global style / style reference (types 3, 4): the whole image; SAM is not run.
- Replace (type 0) whose new object does not fit the old outline (the intent's
  ``contour_compatibility`` is 0: a cat becoming a giraffe): the winner's box, grown by
  ``box_margin`` of its size on every side, so the new shape has room; otherwise the exact segment.

Large images are processed at ``work_max_side`` and masks are scaled back to the input size.
When nothing usable comes out (no proposals, an emptied mask, a tiny image), the result
falls back to the full image with a warning rather than failing.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from polaris_core.clip_model import LoadedClip
from polaris_core.devices import load_for_work
from polaris_core.errors import ConfigError, MaskError
from polaris_core.intent import InstructionType
from polaris_core.mask.add_object import PATCH_FEATURES, insertion_regions, patch_similarity_map
from polaris_core.mask.image import downscale_to_max_side, resize_mask, to_rgb_uint8
from polaris_core.mask.postprocess import mask_box, postprocess_mask
from polaris_core.mask.proposals import Proposal, count_batches, propose
from polaris_core.mask.scoring import clip_temperature, score_masks, subject_embedding
from polaris_core.progress import CheckCancel, OnStep, resolve
from polaris_core.sam_model import LoadedSam

log = logging.getLogger("polaris")

FULL_IMAGE_TYPES = (InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE)
MIN_WORK_SIDE = 8  # below this SAM and CLIP see nothing useful: use the whole image


@dataclass
class MaskOptions:
    # SAM proposals (segment_anything's automatic-mask-generator parameters)
    points_per_side: int = 16
    points_per_batch: int = 32
    pred_iou_thresh: float = 0.86
    stability_score_thresh: float = 0.92
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    min_area_fraction: float = 0.001   # drop specks smaller than this share of the image
    max_proposals: int = 128           # kept after NMS, best predicted IoU first
    # CLIP scoring
    max_candidates: int = 32           # proposals scored by CLIP, all in one batch
    crop_margin: float = 0.15          # context around the mask's box, times its long side
    prompt_templates: tuple[str, ...] = ("a photo of {}.", "{}")
    # output
    keep_candidates: int = 8           # ranked candidates returned (masks at full size)
    work_max_side: int = 1024          # longer images are downscaled for SAM/CLIP
    fill_holes: bool = True
    grow_px: float = 0                 # in input-image pixels; negative shrinks
    box_margin: float = 0.15           # contour_compatibility 0: the box grows by this share of its size per side
    feather_px: float = 0              # width of the soft edge, in input-image pixels
    candidate: int = 0                 # which ranked candidate becomes the mask (0 = the best; the last if fewer)
    # add-object (type 1)
    add_grid: int = 14                 # patch grid of the similarity map
    add_features: str = "value"        # "value" (MaskCLIP) or "tokens"; see add_object.py
    add_heat_drop: float = 0.35
    add_min_area_fraction: float = 0.02
    add_max_area_fraction: float = 0.35
    add_regions: int = 3

    def validate(self) -> None:
        for name in self.__dataclass_fields__:  # NaN passes every comparison below: refuse it first
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"Mask option {name} must be a finite number (got {value}).")
        positive = ("points_per_side", "points_per_batch", "max_proposals", "max_candidates",
                    "keep_candidates", "add_grid", "add_regions")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"Mask option {name} must be at least 1 (got {getattr(self, name)}).")
        if int(self.candidate) < 0:
            raise ConfigError(f"Mask option candidate must be 0 or more (got {self.candidate}).")
        if self.work_max_side < 64:
            raise ConfigError(f"Mask option work_max_side must be at least 64 (got {self.work_max_side}).")
        if self.crop_margin < 0 or self.feather_px < 0 or self.box_margin < 0:
            raise ConfigError("Mask options crop_margin, feather_px and box_margin cannot be negative.")
        if self.add_features not in PATCH_FEATURES:
            raise ConfigError(f"Mask option add_features must be one of {', '.join(PATCH_FEATURES)}.")
        if not 0 < self.add_min_area_fraction <= self.add_max_area_fraction <= 1:
            raise ConfigError("Mask options need 0 < add_min_area_fraction <= add_max_area_fraction <= 1.")


@dataclass
class MaskCandidate:
    mask: np.ndarray                   # HxW bool at the input image's size
    score: float                       # CLIP cosine similarity with the subject (higher is better)
    box: tuple[int, int, int, int]     # x0, y0, x1, y1 in input pixels, x1/y1 exclusive
    area_fraction: float = 0.0
    probability: float = 0.0           # softmax of the scores at CLIP's temperature
    predicted_iou: float = 0.0         # SAM's own quality estimate (0 when SAM did not make it)
    stability: float = 0.0
    source: str = "sam"                # sam | clip_map | clip_map+sam | full_image

    def to_dict(self) -> dict:
        return {
            "score": self.score, "box": list(self.box), "area_fraction": self.area_fraction,
            "probability": self.probability, "predicted_iou": self.predicted_iou,
            "stability": self.stability, "source": self.source,
        }


@dataclass
class MaskResult:
    mask: np.ndarray                   # HxW float32 in 0..1: the chosen, post-processed region
    candidates: list[MaskCandidate]    # ranked, best first (un-post-processed)
    method: str                        # sam_clip | add_object | full_image | full_image_fallback
    warnings: list[str] = field(default_factory=list)
    chosen: int = 0                    # index of the winner in `candidates`; -1 after a fallback
    image_size: tuple[int, int] = (0, 0)   # (H, W) of the input
    work_size: tuple[int, int] = (0, 0)    # (H, W) SAM and CLIP worked at
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    subject: str = ""
    instruction_type: int = 0
    shape: str = "segment"             # segment: the object's outline | box: a grown box (contour_compatibility 0)

    def to_dict(self) -> dict:
        return {
            "method": self.method, "shape": self.shape, "warnings": list(self.warnings), "chosen": self.chosen,
            "image_size": list(self.image_size), "work_size": list(self.work_size),
            "subject": self.subject, "instruction_type": self.instruction_type,
            "candidates": [c.to_dict() for c in self.candidates], "timings": dict(self.timings),
        }


class _Stages:
    """Progress steps, cancellation checks and per-stage timings, in one place."""

    def __init__(self, on_step: OnStep, check_cancel: CheckCancel, total: int, started: float):
        self.on_step, self.check_cancel, self.total = on_step, check_cancel, total
        self.done = 0
        self.timings: dict[str, float] = {}
        self.started = self.last = started

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now
        self.done = min(self.done + 1, self.total)
        self.on_step(self.done, self.total)
        self.check_cancel()

    def finish(self) -> dict[str, float]:
        self.timings["total"] = time.perf_counter() - self.started
        if self.done < self.total:
            self.on_step(self.total, self.total)
        return self.timings


def _full_candidate(size: tuple[int, int]) -> MaskCandidate:
    return MaskCandidate(mask=np.ones(size, dtype=bool), score=1.0, box=(0, 0, size[1], size[0]),
                         area_fraction=1.0, probability=1.0, source="full_image")


def mask_region(
    image: Any,
    subject: str,
    *,
    instruction_type: int | InstructionType = InstructionType.REPLACE,
    contour_compatibility: int = 1,
    sam: Optional[LoadedSam] = None,
    clip: Optional[LoadedClip] = None,
    options: Optional[MaskOptions] = None,
    on_step: Optional[OnStep] = None,
    check_cancel: Optional[CheckCancel] = None,
) -> MaskResult:
    """Find the region of `image` to edit for `subject`; see the module docstring for the method.

    `image` is a PIL image or an HxW[xC] array (uint8, 16-bit or float 0..1). SAM is needed
    for types 0, 2 and 5 and optional for type 1; CLIP is needed for types 0, 1, 2 and 5.
    For type 1 `subject` is the object to add; a phrase that also says where ("a boat on the
    lake") gives CLIP's map more to go on. `contour_compatibility` is the intent's: 0 on a
    replacement gives a grown box around the chosen segment instead of the segment itself.
    """
    opts = options or MaskOptions()
    opts.validate()
    step, cancel = resolve(on_step, check_cancel)
    try:
        kind = InstructionType(int(instruction_type))
    except ValueError as exc:
        raise ConfigError(f"Unknown instruction type {instruction_type!r}; use 0-5 (see InstructionType).") from exc
    cancel()
    started = time.perf_counter()
    rgb = to_rgb_uint8(image)
    size = rgb.shape[:2]
    text = (subject or "").strip()
    base = dict(image_size=size, subject=text, instruction_type=int(kind))

    if kind in FULL_IMAGE_TYPES:
        step(1, 1)
        return MaskResult(mask=np.ones(size, dtype=np.float32), candidates=[_full_candidate(size)],
                          method="full_image", work_size=size,
                          timings={"prepare": time.perf_counter() - started, "total": time.perf_counter() - started},
                          **base)
    if not text:
        raise MaskError(
            "The subject is empty, so there is nothing to look for. Name the object to edit "
            "(e.g. 'the red car'), or use instruction type 3 to edit the whole image."
        )
    if clip is None:
        raise ConfigError("A CLIP model is needed to rank regions; load one with load_clip(path).")
    if sam is None and kind != InstructionType.ADD:
        raise ConfigError("A SAM model is needed to propose regions; load one with load_sam(path).")

    work = downscale_to_max_side(rgb, opts.work_max_side)
    use_sam = sam is not None and min(work.shape[:2]) >= MIN_WORK_SIDE
    total = 1 + (1 + count_batches(opts.points_per_side, opts.points_per_batch) if use_sam else 0) + 3
    total += 1 if kind == InstructionType.ADD else 0
    stages = _Stages(step, cancel, total, started)
    stages.lap("prepare")
    result = MaskResult(mask=np.ones(size, dtype=np.float32), candidates=[], method="full_image_fallback",
                        chosen=-1, work_size=work.shape[:2], **base)

    if min(work.shape[:2]) < MIN_WORK_SIDE:
        _warn(result, f"The image is too small ({size[1]}x{size[0]}) to find a region in; using the whole image.")
        result.timings = stages.finish()
        return result

    load_for_work(sam if use_sam else None, clip)  # both at once, so loading one does not evict the other
    proposals = []
    if use_sam:
        proposals = propose(
            sam, work, points_per_side=opts.points_per_side, points_per_batch=opts.points_per_batch,
            pred_iou_thresh=opts.pred_iou_thresh, stability_score_thresh=opts.stability_score_thresh,
            stability_score_offset=opts.stability_score_offset, box_nms_thresh=opts.box_nms_thresh,
            min_area=int(np.ceil(opts.min_area_fraction * work.shape[0] * work.shape[1])),
            max_proposals=opts.max_proposals,
            after_embedding=lambda: stages.lap("sam_encoder"), after_batch=lambda: stages.lap("sam_decoder"),
        )
    text_embedding = subject_embedding(clip, text, opts.prompt_templates)
    stages.lap("clip_text")

    if kind == InstructionType.ADD:
        ranked = _rank_insertion_regions(clip, work, text_embedding, proposals, opts, stages)
        result.method = "add_object"
    else:
        ranked = rank_proposals(clip, work, text_embedding, proposals, opts)
        stages.lap("clip_scoring")
        result.method = "sam_clip"
        if not proposals:
            result.method = "full_image_fallback"
            _warn(result, "SAM proposed no usable region (try more points or lower thresholds); using the whole image.")

    if ranked:
        pick = min(int(opts.candidate), len(ranked[:opts.keep_candidates]) - 1)
        winner_work = ranked[pick][0]
        if kind == InstructionType.REPLACE and not contour_compatibility:
            winner_work = region_for_new_shape(winner_work, opts.box_margin)
            result.shape = "box"
        scale = work.shape[0] / size[0]
        post = postprocess_mask(winner_work, fill=opts.fill_holes, grow_px=opts.grow_px * scale,
                                feather_px=opts.feather_px * scale)
        post = resize_mask(post, size, binary=opts.feather_px <= 0).astype(np.float32)
        result.candidates = [_to_candidate(mask, size, **info) for mask, info in ranked[:opts.keep_candidates]]
        if post.max() > 0:
            result.mask, result.chosen = post, pick
        else:
            result.method = "full_image_fallback"
            _warn(result, "The chosen mask is empty after post-processing (is grow too negative?); using the whole image.")
    elif kind == InstructionType.ADD:
        result.method = "full_image_fallback"
        _warn(result, "No insertion region could be found; using the whole image.")
    stages.lap("postprocess")
    result.timings = stages.finish()
    return result


def region_for_new_shape(segment: np.ndarray, margin: float) -> np.ndarray:
    """The segment's bounding box grown by `margin` of its width and height on each side (clipped to the image).

    A replacement whose new object has another outline (a cat becoming a giraffe) needs room beyond the old
    object's pixels; an empty segment stays empty.
    """
    segment = np.asarray(segment, dtype=bool)
    if not segment.any():
        return segment.copy()
    x0, y0, x1, y1 = mask_box(segment)
    grow_x = int(round(margin * (x1 - x0)))
    grow_y = int(round(margin * (y1 - y0)))
    height, width = segment.shape
    box = np.zeros_like(segment)
    box[max(0, y0 - grow_y):min(height, y1 + grow_y), max(0, x0 - grow_x):min(width, x1 + grow_x)] = True
    return box


def _warn(result: MaskResult, message: str) -> None:
    log.warning("%s", message)
    result.warnings.append(message)


def _to_candidate(work_mask: np.ndarray, size: tuple[int, int], **info: Any) -> MaskCandidate:
    full = resize_mask(work_mask, size, binary=True)
    return MaskCandidate(mask=full, box=mask_box(full), area_fraction=float(full.mean()), **info)


def rank_proposals(
    clip: LoadedClip, work: np.ndarray, text_embedding: Any, proposals: list[Proposal], opts: MaskOptions
) -> list[tuple[np.ndarray, dict]]:
    """Score the best `max_candidates` proposals in one CLIP batch; (mask, candidate fields), best first."""
    chosen = proposals[:opts.max_candidates]
    if not chosen:
        return []
    cosines, probabilities = score_masks(
        clip, work, [p.mask for p in chosen], [p.box for p in chosen], text_embedding, opts.crop_margin
    )
    order = np.argsort(-cosines, kind="stable")
    return [
        (chosen[i].mask, dict(score=float(cosines[i]), probability=float(probabilities[i]),
                              predicted_iou=chosen[i].predicted_iou, stability=chosen[i].stability, source="sam"))
        for i in order
    ]


def _rank_insertion_regions(
    clip: LoadedClip, work: np.ndarray, text_embedding: Any, proposals: list[Proposal], opts: MaskOptions,
    stages: _Stages,
) -> list[tuple[np.ndarray, dict]]:
    similarity = patch_similarity_map(clip, work, text_embedding, grid=opts.add_grid, features=opts.add_features)
    stages.lap("clip_patch_map")
    regions = insertion_regions(
        similarity, [p.mask for p in proposals], count=opts.add_regions, heat_drop=opts.add_heat_drop,
        min_area_fraction=opts.add_min_area_fraction, max_area_fraction=opts.add_max_area_fraction,
    )
    stages.lap("add_region")
    if not regions:
        return []
    scores = np.array([r.score for r in regions], dtype=np.float64)
    weights = np.exp((scores - scores.max()) * clip_temperature(clip))
    probabilities = weights / weights.sum()
    return [
        (r.mask, dict(score=r.score, probability=float(p), source="clip_map+sam" if r.snapped_to_sam else "clip_map"))
        for r, p in zip(regions, probabilities)
    ]
