"""contour_compatibility, from the parser to the mask: exact segment when the new object fits the old outline,
a grown box when it does not (a cat becoming a giraffe)."""
from __future__ import annotations

import numpy as np
import pytest

from polaris_core.intent import InstructionType
from polaris_core.mask import MaskOptions, mask_region
from polaris_core.mask.masker import region_for_new_shape
from polaris_core.mask.postprocess import mask_box
from polaris_core.parse import get_parser

RELAXED = dict(points_per_side=2, points_per_batch=2, pred_iou_thresh=0.0, stability_score_thresh=0.0,
               box_nms_thresh=1.0, max_candidates=3, keep_candidates=3, work_max_side=256)


@pytest.mark.parametrize("instruction, fits", [
    ("Replace the dog with a cat", 1),
    ("Swap the mug for a teacup", 1),
    ("Replace the cat with a giraffe", 0),
    ("Replace the dog with a teapot", 0),
    ("Turn the bicycle into a motorcycle", 1),
    ("Turn the bicycle into a sofa", 0),
    ("Turn the dog into a corgi", 1),                 # a breed of the same outline
    ("Replace the lamp with a gramophone", 1),        # objects it cannot place keep their segment
])
def test_parser_decides_whether_the_outline_fits(instruction, fits):
    intent = get_parser("rules", head=False).parse(instruction)
    assert intent.instruction_type == InstructionType.REPLACE
    assert intent.contour_compatibility == fits


def test_box_around_a_segment_grows_and_clips():
    segment = np.zeros((100, 200), dtype=bool)
    segment[40:60, 50:90] = True
    segment[45, 50:60] = False  # holes and ragged edges do not matter for the box
    box = region_for_new_shape(segment, 0.25)
    assert mask_box(box) == (40, 35, 100, 65)  # 40 wide, 20 tall: +10 and +5 on each side
    assert box.sum() == 60 * 30 and box[segment].all()
    corner = np.zeros((50, 50), dtype=bool)
    corner[0:10, 40:50] = True
    assert mask_box(region_for_new_shape(corner, 0.5)) == (35, 0, 50, 15)
    assert not region_for_new_shape(np.zeros((5, 5), dtype=bool), 0.2).any()
    assert np.array_equal(region_for_new_shape(segment, 0.0), np.pad(np.ones((20, 40), bool), ((40, 40), (50, 110))))


def _scene() -> np.ndarray:
    small = np.full((128, 128), 60, dtype=np.uint8)
    small[20:60, 20:60] = 200
    small[75:115, 50:110] = 120
    return np.kron(small, np.ones((2, 2), dtype=np.uint8))


def test_masker_uses_the_segment_or_a_grown_box(sam_weights, clip_weights):
    from polaris_core.clip_model import load_clip
    from polaris_core.sam_model import load_sam

    sam, clip = load_sam(sam_weights), load_clip(clip_weights)
    options = MaskOptions(**RELAXED, box_margin=0.2, fill_holes=False)
    fits = mask_region(_scene(), "a white square", instruction_type=0, contour_compatibility=1, sam=sam, clip=clip,
                       options=options)
    other = mask_region(_scene(), "a white square", instruction_type=0, contour_compatibility=0, sam=sam, clip=clip,
                        options=options)
    assert fits.shape == "segment" and other.shape == "box" and other.to_dict()["shape"] == "box"
    segment = fits.candidates[0].mask
    assert np.array_equal(fits.mask > 0.5, segment)  # exact segment (no hole filling, grow or feather)
    expected = region_for_new_shape(segment, 0.2)
    assert np.array_equal(other.mask > 0.5, expected)
    assert (other.mask > 0.5).sum() >= segment.sum()
    removal = mask_region(_scene(), "a white square", instruction_type=5, contour_compatibility=0, sam=sam, clip=clip,
                          options=options)
    assert removal.shape == "segment"  # only a replacement changes the outline
