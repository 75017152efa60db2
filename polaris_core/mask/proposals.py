"""Segment Anything proposals: a grid of point prompts over one cached image embedding.

This follows segment_anything's SamAutomaticMaskGenerator (single crop layer): each grid
point yields three masks, which are filtered by SAM's predicted IoU and stability score,
then de-duplicated by box NMS. Differences, for speed and control:
- the image embedding (the expensive ViT pass) is cached per image on the LoadedSam and
  reused by later calls on the same image (another subject, add-object after replace);
- cancellation and progress are checked between point batches;
- NMS runs after every batch, so memory stays bounded by the distinct masks kept.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np

from polaris_core.sam_model import EMBEDDING_CACHE_SIZE, LoadedSam

log = logging.getLogger("polaris")


@dataclass
class Proposal:
    mask: np.ndarray                  # HxW bool at the working size
    box: tuple[int, int, int, int]    # x0, y0, x1, y1 (x1/y1 exclusive), working pixels
    predicted_iou: float
    stability: float
    area: int


def image_key(rgb: np.ndarray) -> str:
    """Content hash of an HxWx3 uint8 image: the key of SAM's embedding cache."""
    digest = hashlib.blake2b(rgb.tobytes(), digest_size=16)
    digest.update(repr(rgb.shape).encode())
    return digest.hexdigest()


def embed_image(sam: LoadedSam, rgb: np.ndarray):
    """A SamPredictor with `rgb` set, computing SAM's image embedding only if it is not cached."""
    from segment_anything import SamPredictor

    from polaris_core.devices import load_for_work

    load_for_work(sam)
    predictor = SamPredictor(sam.model)
    key = image_key(rgb)
    cached = sam.embedding_cache.get(key)
    if cached is not None:
        sam.embedding_cache.move_to_end(key)
        predictor.features, predictor.input_size, predictor.original_size = cached
        predictor.is_image_set = True
        return predictor
    predictor.set_image(rgb)
    sam.encoder_runs += 1
    sam.embedding_cache[key] = (predictor.features, predictor.input_size, predictor.original_size)
    while len(sam.embedding_cache) > EMBEDDING_CACHE_SIZE:
        sam.embedding_cache.popitem(last=False)
    return predictor


def _decode_points(predictor, coords, labels, pred_iou_thresh: float):
    """Mask logits at image size and predicted IoUs for point prompts, three masks per point.

    Same maths as SamPredictor.predict_torch, but masks below `pred_iou_thresh` are dropped
    before the upsampling to image size, which is most of the decoder's memory and time.
    """
    model = predictor.model
    sparse, dense = model.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
    low_res, iou_preds = model.mask_decoder(
        image_embeddings=predictor.features, image_pe=model.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True,
    )
    low_res, iou_preds = low_res.flatten(0, 1), iou_preds.flatten(0, 1).float()
    if pred_iou_thresh > 0:
        keep = iou_preds > pred_iou_thresh
        low_res, iou_preds = low_res[keep], iou_preds[keep]
    if low_res.shape[0] == 0:
        return low_res.new_zeros((0, *predictor.original_size)), iou_preds
    logits = model.postprocess_masks(low_res[:, None], predictor.input_size, predictor.original_size)[:, 0]
    return logits, iou_preds


def count_batches(points_per_side: int, points_per_batch: int) -> int:
    return -(-points_per_side * points_per_side // max(1, points_per_batch))


def propose(
    sam: LoadedSam,
    rgb: np.ndarray,
    *,
    points_per_side: int,
    points_per_batch: int,
    pred_iou_thresh: float,
    stability_score_thresh: float,
    stability_score_offset: float,
    box_nms_thresh: float,
    min_area: int,
    max_proposals: int,
    after_embedding: Callable[[], None],
    after_batch: Callable[[], None],
) -> list[Proposal]:
    """SAM mask proposals for `rgb`, best predicted IoU first.

    `after_embedding` and `after_batch` are called once the embedding is ready and after each
    point batch; they report progress and may raise Cancelled.
    """
    import torch
    from segment_anything.utils.amg import batched_mask_to_box, build_point_grid, calculate_stability_score
    from torchvision.ops import batched_nms

    predictor = embed_image(sam, rgb)
    after_embedding()
    height, width = rgb.shape[:2]
    points = build_point_grid(points_per_side) * np.array([[width, height]], dtype=np.float64)
    threshold = sam.model.mask_threshold
    kept_masks = torch.zeros((0, height, width), dtype=torch.bool)
    kept_boxes = torch.zeros((0, 4), dtype=torch.float32)
    kept_iou = torch.zeros((0,), dtype=torch.float32)
    kept_stability = torch.zeros((0,), dtype=torch.float32)
    for start in range(0, len(points), points_per_batch):
        batch = predictor.transform.apply_coords(points[start:start + points_per_batch], (height, width))
        coords = torch.as_tensor(batch, dtype=torch.float32, device=predictor.device)[:, None, :]
        labels = torch.ones(coords.shape[:2], dtype=torch.int, device=predictor.device)
        with torch.inference_mode():
            logits, iou_preds = _decode_points(predictor, coords, labels, pred_iou_thresh)
        stability = calculate_stability_score(logits, threshold, stability_score_offset)
        keep = stability >= stability_score_thresh if stability_score_thresh > 0 else torch.ones_like(iou_preds, dtype=torch.bool)
        logits, iou_preds, stability = logits[keep], iou_preds[keep], stability[keep]
        binary = logits > threshold
        keep_area = binary.flatten(1).sum(dim=1) >= max(1, min_area)
        binary = binary[keep_area].cpu()
        if binary.shape[0]:
            kept_masks = torch.cat([kept_masks, binary])
            kept_boxes = torch.cat([kept_boxes, batched_mask_to_box(binary).float()])
            kept_iou = torch.cat([kept_iou, iou_preds[keep_area].cpu()])
            kept_stability = torch.cat([kept_stability, stability[keep_area].float().cpu()])
            order = batched_nms(kept_boxes, kept_iou, torch.zeros_like(kept_iou), box_nms_thresh)[:max_proposals]
            kept_masks, kept_boxes = kept_masks[order], kept_boxes[order]
            kept_iou, kept_stability = kept_iou[order], kept_stability[order]
        del logits, binary
        after_batch()
    proposals = []
    for mask, box, iou, stab in zip(kept_masks.numpy(), kept_boxes.tolist(), kept_iou.tolist(), kept_stability.tolist()):
        x0, y0, x1, y1 = (int(v) for v in box)
        proposals.append(Proposal(mask=mask, box=(x0, y0, x1 + 1, y1 + 1), predicted_iou=float(iou),
                                  stability=float(stab), area=int(mask.sum())))
    log.debug("SAM proposed %d masks from %d points", len(proposals), len(points))
    return proposals
