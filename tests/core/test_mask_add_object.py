"""The add-object region from a similarity map: peak, hot area, SAM snapping, size prior."""
from __future__ import annotations

import numpy as np

from polaris_core.mask.add_object import insertion_regions


def _bump(height: int, width: int, cy: float, cx: float, sigma: float) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def test_region_grows_from_the_peak_within_the_size_bounds():
    similarity = 0.2 + 0.1 * _bump(60, 80, 20, 55, 6)
    regions = insertion_regions(similarity, count=1, min_area_fraction=0.02, max_area_fraction=0.3)
    assert len(regions) == 1
    region = regions[0]
    assert region.peak == (55, 20) and region.mask[20, 55] and not region.snapped_to_sam
    area = region.mask.sum() / region.mask.size
    assert 0.02 <= area <= 0.3
    assert np.isclose(region.score, similarity[region.mask].mean())


def test_segments_mostly_inside_the_hot_area_snap_the_region():
    similarity = _bump(60, 60, 30, 30, 8)
    object_segment = np.zeros((60, 60), dtype=bool)
    object_segment[24:37, 22:39] = True  # a table top under the peak, fully hot
    background = np.ones((60, 60), dtype=bool)  # mostly cold: must not be taken
    regions = insertion_regions(similarity, [background, object_segment], count=1,
                                min_area_fraction=0.01, max_area_fraction=0.5)
    assert regions[0].snapped_to_sam
    assert np.array_equal(regions[0].mask, object_segment)


def test_segments_that_do_not_agree_leave_the_hot_area():
    similarity = _bump(60, 60, 30, 30, 8)
    far_segment = np.zeros((60, 60), dtype=bool)
    far_segment[0:5, 0:5] = True
    snapped = insertion_regions(similarity, [far_segment], count=1)[0]
    plain = insertion_regions(similarity, [], count=1)[0]
    assert not snapped.snapped_to_sam and np.array_equal(snapped.mask, plain.mask)


def test_too_large_hot_areas_are_trimmed_and_flat_maps_give_a_compact_blob():
    flat = np.zeros((50, 50), dtype=np.float32)
    region = insertion_regions(flat, count=1, min_area_fraction=0.05, max_area_fraction=0.1)[0]
    area = int(region.mask.sum())
    assert area == round(0.1 * 2500)
    ys, xs = np.nonzero(region.mask)
    x, y = region.peak
    assert abs(x - 24.5) <= 1 and abs(y - 24.5) <= 1  # no preference: the centre
    assert np.hypot(ys - y, xs - x).max() < 10  # a disk (r ~ 8.9) around the peak, not a scattered set


def test_tiny_hot_areas_grow_to_the_minimum_and_alternatives_do_not_overlap():
    similarity = _bump(64, 64, 10, 10, 1.0) + 0.9 * _bump(64, 64, 50, 50, 1.0)
    regions = insertion_regions(similarity, count=2, heat_drop=0.1, min_area_fraction=0.03, max_area_fraction=0.2)
    assert len(regions) == 2
    for region in regions:
        assert region.mask.sum() >= 0.03 * 64 * 64
    assert not (regions[0].mask & regions[1].mask).any()
    assert regions[0].score >= regions[1].score
