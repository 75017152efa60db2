"""The mask node on real open_clip / SAM architectures with random weights."""
from __future__ import annotations

import numpy as np
import torch

from polaris_core.intent import Intent, InstructionType


def _intent(kind: InstructionType, subject: str) -> Intent:
    return Intent(instruction=f"edit the {subject}", instruction_type=kind, subject=subject,
                  generation_prompt=subject)


def _scene() -> torch.Tensor:
    image = np.full((96, 128, 3), 30, dtype=np.uint8)
    image[20:70, 30:90] = (230, 230, 230)
    return torch.from_numpy(image.astype(np.float32) / 255.0)[None]


def test_global_style_masks_the_whole_image_without_models(pack):
    node = pack.nodes.mask.PolarisMaskRegion
    out = node.execute(_scene(), _intent(InstructionType.GLOBAL_STYLE, "image"))
    mask, result = out.result
    assert mask.shape == (1, 96, 128) and float(mask.min()) == 1.0
    assert result.method == "full_image"
    assert out.ui is not None


def test_sam_and_clip_rank_candidates_and_a_later_one_can_be_picked(pack, clip_weights, sam_weights):
    """The node's mask is the masker's own result for the same request (candidate 0 or a later one),
    compared with `mask_region` called directly, not with a re-statement of the node."""
    from polaris_core.clip_model import load_clip
    from polaris_core.mask import MaskOptions, mask_region
    from polaris_core.sam_model import load_sam

    node = pack.nodes.mask.PolarisMaskRegion
    clip, sam = load_clip(clip_weights), load_sam(sam_weights)
    kwargs = dict(clip=clip, sam=sam, points_per_side=3, min_predicted_iou=0.0, min_stability=0.0, max_overlap=1.0,
                  grow_px=3.0, feather_px=2.0)
    first_mask, result = node.execute(_scene(), _intent(InstructionType.REPLACE, "square"), **kwargs).result
    assert result.method == "sam_clip" and len(result.candidates) >= 2 and result.chosen == 0
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    second_mask, second = node.execute(_scene(), _intent(InstructionType.REPLACE, "square"), candidate=1,
                                       **kwargs).result
    assert second.chosen == 1 and first_mask.shape == second_mask.shape == (1, 96, 128)

    rgb = pack.nodes.comfy.tensors.image_to_numpy(_scene())
    for index, node_mask in ((0, first_mask), (1, second_mask)):
        own = mask_region(rgb, "square", instruction_type=InstructionType.REPLACE, sam=sam, clip=clip,
                          options=MaskOptions(points_per_side=3, pred_iou_thresh=0.0, stability_score_thresh=0.0,
                                              box_nms_thresh=1.0, grow_px=3.0, feather_px=2.0, candidate=index))
        assert own.chosen == index
        assert torch.equal(node_mask[0], torch.from_numpy(own.mask))
        # The chosen mask covers that candidate's own region (grown, so a superset of it).
        assert (own.mask[own.candidates[index].mask] > 0.5).all()
