"""The masker against real SAM / CLIP files, when POLARIS_SAM_PATH / POLARIS_CLIP_PATH point at them.

With real weights the answers are meaningful, so these check quality on a simple scene
(a red disk and a blue square on white), not only shapes.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from polaris_core.mask import MaskOptions, mask_region
from polaris_core.mask.postprocess import mask_box
from polaris_core.mask.scoring import score_masks, subject_embedding

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module")
def real_clip():
    if not os.environ.get("POLARIS_CLIP_PATH"):
        pytest.skip("set POLARIS_CLIP_PATH to an open_clip .safetensors file to run")
    from polaris_core.clip_model import load_clip

    return load_clip(os.environ["POLARIS_CLIP_PATH"], arch=os.environ.get("POLARIS_CLIP_ARCH", "auto"))


@pytest.fixture(scope="module")
def real_sam():
    if not os.environ.get("POLARIS_SAM_PATH"):
        pytest.skip("set POLARIS_SAM_PATH to a segment-anything .safetensors file to run")
    from polaris_core.sam_model import load_sam

    return load_sam(os.environ["POLARIS_SAM_PATH"])


def _scene():
    ys, xs = np.mgrid[0:320, 0:480]
    disk = (ys - 160) ** 2 + (xs - 130) ** 2 <= 70 ** 2
    square = (ys >= 100) & (ys < 230) & (xs >= 280) & (xs < 410)
    image = np.full((320, 480, 3), 245, dtype=np.uint8)
    image[disk] = (220, 20, 20)
    image[square] = (20, 40, 220)
    return image, disk, square


def test_clip_prefers_the_named_shape(real_clip):
    image, disk, square = _scene()
    masks = [disk, square]
    boxes = [mask_box(m) for m in masks]
    red, _ = score_masks(real_clip, image, masks, boxes, subject_embedding(real_clip, "a red circle", ("a photo of {}.",)), 0.15)
    blue, _ = score_masks(real_clip, image, masks, boxes, subject_embedding(real_clip, "a blue square", ("a photo of {}.",)), 0.15)
    assert red[0] > red[1] and blue[1] > blue[0]


def test_sam_and_clip_find_the_red_disk(real_sam, real_clip):
    image, disk, _ = _scene()
    result = mask_region(image, "a red circle", sam=real_sam, clip=real_clip, options=MaskOptions(points_per_side=16))
    assert result.method == "sam_clip" and len(result.candidates) >= 2
    chosen = result.mask >= 0.5
    iou = (chosen & disk).sum() / (chosen | disk).sum()
    assert iou > 0.7


def test_add_object_region_is_plausible(real_sam, real_clip):
    image, _, _ = _scene()
    options = MaskOptions(points_per_side=16)
    result = mask_region(image, "a small green ball on the white background", instruction_type=1,
                         sam=real_sam, clip=real_clip, options=options)
    assert result.method == "add_object"
    area = float((result.mask >= 0.5).mean())
    assert options.add_min_area_fraction * 0.9 <= area <= options.add_max_area_fraction * 1.1
