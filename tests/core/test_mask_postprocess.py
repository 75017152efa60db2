"""Mask post-processing maths: hole filling, exact disk growth, the feather ramp, boxes."""
from __future__ import annotations

import numpy as np
import pytest

from polaris_core.mask.postprocess import feather, fill_holes, grow, mask_box, postprocess_mask, signed_distance


def _disk(size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return (ys - cy) ** 2 + (xs - cx) ** 2 <= radius ** 2


def test_fill_holes_fills_enclosed_but_not_border_regions():
    ring = _disk(21, 10, 10, 8) & ~_disk(21, 10, 10, 4)
    assert np.array_equal(fill_holes(ring), _disk(21, 10, 10, 8))
    cup = np.zeros((6, 6), dtype=bool)
    cup[0:5, 1] = cup[0:5, 4] = cup[4, 1:5] = True  # a U open to the top edge
    assert not fill_holes(cup)[0:4, 2:4].any()
    closed = cup.copy()
    closed[0, 1:5] = True
    assert fill_holes(closed)[1:4, 2:4].all()
    border_notch = np.ones((5, 5), dtype=bool)
    border_notch[0, 2] = False  # touches the border: not a hole
    assert not fill_holes(border_notch)[0, 2]


def test_grow_is_an_exact_disk_dilation():
    point = np.zeros((15, 15), dtype=bool)
    point[7, 7] = True
    grown = grow(point, 3)
    lattice = sum(1 for dy in range(-3, 4) for dx in range(-3, 4) if dy * dy + dx * dx <= 9)
    assert grown.sum() == lattice == 29
    assert np.array_equal(grown, _disk(15, 7, 7, 3))
    assert np.array_equal(grow(point, 0), point) and grow(point, 0) is not point


def test_shrink_and_degenerate_masks():
    disk = _disk(41, 20, 20, 12)
    shrunk = grow(disk, -3)
    assert shrunk.sum() < disk.sum() and not (shrunk & ~disk).any()
    assert np.array_equal(grow(shrunk, 3) & disk, grow(shrunk, 3))  # opening stays inside the original
    full = np.ones((5, 5), dtype=bool)
    empty = np.zeros((5, 5), dtype=bool)
    assert grow(full, -2).all() and not grow(empty, 4).any()


def test_signed_distance_and_feather_ramp_on_a_straight_edge():
    mask = np.zeros((5, 20), dtype=bool)
    mask[:, :10] = True
    sd = signed_distance(mask)
    columns = np.arange(20)
    assert np.allclose(sd[2], 9.5 - columns)  # edge between columns 9 and 10
    alpha = feather(mask, 4)
    assert alpha.dtype == np.float32
    assert np.allclose(alpha[2], np.clip(0.5 + (9.5 - columns) / 4, 0, 1))
    assert np.allclose(alpha[2, 9] + alpha[2, 10], 1.0)  # symmetric about the edge
    assert np.array_equal(feather(mask, 0), mask.astype(np.float32))


def test_postprocess_mask_order_and_range():
    ring = _disk(31, 15, 15, 10) & ~_disk(31, 15, 15, 3)
    out = postprocess_mask(ring, fill=True, grow_px=2, feather_px=0)
    assert out.dtype == np.float32 and set(np.unique(out)) <= {0.0, 1.0}
    assert np.array_equal(out.astype(bool), _disk(31, 15, 15, 12))
    kept_hole = postprocess_mask(ring, fill=False)
    assert kept_hole[15, 15] == 0
    soft = postprocess_mask(ring.astype(np.float32), feather_px=3)
    assert 0 <= soft.min() and soft.max() <= 1 and ((soft > 0) & (soft < 1)).any()


def test_mask_box_is_exclusive():
    mask = np.zeros((10, 12), dtype=bool)
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3, 2, 9, 5)
    assert mask_box(np.zeros((3, 3), dtype=bool)) == (0, 0, 0, 0)


@pytest.mark.parametrize("name", ["pred_iou_thresh", "grow_px", "feather_px", "box_nms_thresh", "crop_margin"])
def test_mask_options_refuse_non_finite_numbers(name):
    """NaN passes every range comparison; the mask options refuse it (and infinities) by name."""
    from polaris_core.errors import ConfigError
    from polaris_core.mask import MaskOptions

    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match=f"Mask option {name} must be a finite number"):
            MaskOptions(**{name: bad}).validate()
