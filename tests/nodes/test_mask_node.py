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
    from polaris_core.clip_model import load_clip
    from polaris_core.sam_model import load_sam

    node = pack.nodes.mask.PolarisMaskRegion
    clip, sam = load_clip(clip_weights), load_sam(sam_weights)
    kwargs = dict(clip=clip, sam=sam, points_per_side=3, min_predicted_iou=0.0, min_stability=0.0, max_overlap=1.0,
                  grow_px=0.0, feather_px=0.0)
    first_mask, result = node.execute(_scene(), _intent(InstructionType.REPLACE, "square"), **kwargs).result
    assert result.method == "sam_clip" and len(result.candidates) >= 2
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    second_mask, _ = node.execute(_scene(), _intent(InstructionType.REPLACE, "square"), candidate=1, **kwargs).result
    assert first_mask.shape == second_mask.shape == (1, 96, 128)
    from polaris_core.mask import postprocess_mask

    expected = postprocess_mask(result.candidates[1].mask)  # holes filled, as for the winner
    assert torch.equal(second_mask[0], torch.from_numpy(expected))
