"""Mask post-processing: fill holes, grow or shrink by N pixels, feather the edge.

Distances are exact Euclidean distances between pixel centres (scipy's EDT), so growing
by N pixels equals a dilation by a disk of radius N, and feathering is a linear ramp of
width N centred on the mask edge. scipy comes with ComfyUI's own requirements.
"""
from __future__ import annotations

import numpy as np


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the True pixels, x1/y1 exclusive; (0, 0, 0, 0) when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return (0, 0, 0, 0)
    cols = np.flatnonzero(mask.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill every background region the mask fully encloses (regions touching the image border stay)."""
    from scipy import ndimage

    return ndimage.binary_fill_holes(mask.astype(bool))


def grow(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Dilate by a disk of radius `pixels` (negative: erode); the image border is not an edge."""
    from scipy import ndimage

    binary = mask.astype(bool)
    if pixels == 0 or not binary.any() or binary.all():
        return binary.copy()
    if pixels > 0:
        return ndimage.distance_transform_edt(~binary) <= pixels
    return ndimage.distance_transform_edt(binary) > -pixels


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Distance in pixels from each pixel centre to the mask edge: positive inside, negative outside.

    The edge lies half a pixel beyond the outermost mask pixels, so edge pixels read +-0.5.
    """
    from scipy import ndimage

    binary = mask.astype(bool)
    inside = ndimage.distance_transform_edt(binary) - 0.5
    outside = ndimage.distance_transform_edt(~binary) - 0.5
    return np.where(binary, inside, -outside).astype(np.float32)


def feather(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Soft edge: alpha = clip(0.5 + signed_distance / pixels, 0, 1), a ramp `pixels` wide across the edge."""
    binary = mask.astype(bool)
    if pixels <= 0 or not binary.any() or binary.all():
        return binary.astype(np.float32)
    return np.clip(0.5 + signed_distance(binary) / float(pixels), 0.0, 1.0).astype(np.float32)


def postprocess_mask(
    mask: np.ndarray, *, fill: bool = True, grow_px: float = 0, feather_px: float = 0
) -> np.ndarray:
    """Fill holes, grow (or shrink), then feather a mask; returns HxW float32 in 0..1."""
    binary = mask.astype(bool) if mask.dtype == bool else np.asarray(mask) >= 0.5
    if fill:
        binary = fill_holes(binary)
    binary = grow(binary, grow_px)
    return feather(binary, feather_px)
