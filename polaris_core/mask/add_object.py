"""Where should a new object go? The add-object region (instruction type 1).

SAM only finds things that are already in the image, so for "add a boat on the lake" there
is no segment to pick. The region is built in three steps instead:

1. Patch-similarity map. The image (padded to a square with CLIP's mean colour, at a
   finer patch grid than CLIP's native one by interpolating its positional embedding) goes
   through the CLIP ViT; each patch token is projected like the class token (final
   LayerNorm, then the image projection) into the joint space and compared with the text
   embedding, giving a coarse map of where the text "fits". By default the last block's
   patch tokens are taken from its value path (MaskCLIP, Zhou et al. 2022; ClearCLIP, Lan
   et al. 2024): the query-key attention and the residual/FFN of the last block pull every
   patch toward the global image content, which blurs the map; ``features="tokens"`` uses the
   plain output tokens instead.
2. Hot region. The strongest peak and the connected area around it whose similarity is
   within ``heat_drop`` (a fraction of the map's range) of the peak.
3. SAM where it helps. The hot region follows patch borders, not object borders. SAM
   segments that lie mostly (``snap_min_hot``) inside the hot region are taken whole, so the
   region snaps to real boundaries (the lake's shore, the table top). When no segment
   agrees enough (the union covers under a quarter of the hot region), SAM does not help and
   the hot region stays as it is.

A size prior keeps the region plausible for one new object: too large, it keeps the most
similar pixels nearest the peak; too small, it grows as a disk. Further peaks (outside the
regions already found) give alternative places, ranked by mean similarity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from polaris_core.clip_model import LoadedClip
from polaris_core.errors import ConfigError
from polaris_core.mask.postprocess import grow
from polaris_core.mask.scoring import pad_to_square

PATCH_FEATURES = ("value", "tokens")


@dataclass
class InsertionRegion:
    mask: np.ndarray              # HxW bool at the working size
    score: float                  # mean CLIP cosine similarity inside the region
    peak: tuple[int, int]         # (x, y) of the similarity peak it grew from
    snapped_to_sam: bool          # SAM segments shaped it


def _check_vit(visual) -> None:
    needed = ("conv1", "class_embedding", "positional_embedding", "ln_pre", "transformer", "ln_post", "proj")
    if any(getattr(visual, name, None) is None for name in needed):
        raise ConfigError(
            "The add-object region needs a ViT-based open_clip model (ViT-B-32, ViT-B-16, ViT-L-14...); "
            "this CLIP's image tower has no patch tokens."
        )


def _patch_tokens(visual, pixels, grid: int, features: str):
    """Patch tokens [1, grid*grid, width] of the last block, at a `grid` x `grid` patch layout."""
    import torch
    import torch.nn.functional as F

    x = visual.conv1(pixels).flatten(2).transpose(1, 2)                  # [1, grid², width]
    cls = visual.class_embedding.to(x.dtype).reshape(1, 1, -1)
    pos = visual.positional_embedding.to(x.dtype)
    native = int(round((pos.shape[0] - 1) ** 0.5))
    pos_grid = pos[1:].reshape(1, native, native, -1).permute(0, 3, 1, 2)
    if native != grid:
        pos_grid = F.interpolate(pos_grid, size=(grid, grid), mode="bicubic", align_corners=False)
    pos = torch.cat([pos[:1], pos_grid.permute(0, 2, 3, 1).reshape(grid * grid, -1)])
    x = visual.ln_pre(torch.cat([cls, x], dim=1) + pos)
    batch_first = getattr(visual.transformer, "batch_first", True)
    if not batch_first:
        x = x.transpose(0, 1)
    blocks = list(visual.transformer.resblocks)
    for block in blocks[:-1]:
        x = block(x)
    last = blocks[-1]
    attn = getattr(last, "attn", None)
    if features == "value" and isinstance(attn, torch.nn.MultiheadAttention) and attn.in_proj_weight is not None:
        width = x.shape[-1]
        bias = attn.in_proj_bias[2 * width:] if attn.in_proj_bias is not None else None
        values = F.linear(last.ln_1(x), attn.in_proj_weight[2 * width:], bias)
        x = last.ls_1(attn.out_proj(values))
    else:
        x = last(x)
    if not batch_first:
        x = x.transpose(0, 1)
    return x[:, 1:]


def patch_similarity_map(
    clip: LoadedClip, rgb: np.ndarray, text_embedding, *, grid: int = 14, features: str = "value"
) -> np.ndarray:
    """HxW float32 map of CLIP cosine similarity between the text and each image patch (bilinear upsampled)."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    if features not in PATCH_FEATURES:
        raise ConfigError(f"Unknown patch features {features!r}; use one of {', '.join(PATCH_FEATURES)}.")
    visual = clip.model.visual
    _check_vit(visual)
    patch = visual.patch_size[0] if isinstance(visual.patch_size, (tuple, list)) else int(visual.patch_size)
    height, width = rgb.shape[:2]
    square = pad_to_square(rgb, clip.mean_rgb_uint8)
    resized = Image.fromarray(square).resize((grid * patch, grid * patch), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(clip.mean, dtype=torch.float32).reshape(3, 1, 1)
    std = torch.tensor(clip.std, dtype=torch.float32).reshape(3, 1, 1)
    from polaris_core.devices import load_for_work

    load_for_work(clip)
    pixels = ((pixels - mean) / std)[None].to(clip.device)
    with torch.no_grad():
        tokens = _patch_tokens(visual, pixels, grid, features)
        projected = F.normalize(visual.ln_post(tokens) @ visual.proj, dim=-1).float().cpu()
        similarity = (projected[0] @ text_embedding.float()).reshape(1, 1, grid, grid)
        side = square.shape[0]
        full = F.interpolate(similarity, size=(side, side), mode="bilinear", align_corners=False)[0, 0]
    top, left = (side - height) // 2, (side - width) // 2
    return full[top:top + height, left:left + width].numpy().astype(np.float32)


def _component_at(binary: np.ndarray, y: int, x: int) -> np.ndarray:
    from scipy import ndimage

    labels, _ = ndimage.label(binary)
    return labels == labels[y, x] if labels[y, x] else np.zeros_like(binary)


def _snap_to_segments(hot: np.ndarray, segments: Sequence[np.ndarray], min_hot: float) -> tuple[np.ndarray, bool]:
    """Union of the segments lying mostly inside `hot`, if it covers enough of it; else `hot` unchanged."""
    union = np.zeros_like(hot)
    for segment in segments:
        overlap = np.count_nonzero(segment & hot)
        if overlap and overlap >= min_hot * np.count_nonzero(segment):
            union |= segment
    if np.count_nonzero(union) >= 0.25 * np.count_nonzero(hot):
        return union, True
    return hot, False


def _fit_area(region: np.ndarray, priority: np.ndarray, peak: tuple[int, int], min_area: int, max_area: int) -> np.ndarray:
    """Shrink to the `max_area` highest-priority pixels (kept connected to the peak) or grow to `min_area`."""
    y, x = peak
    area = int(np.count_nonzero(region))
    if area > max_area > 0:
        values = np.where(region, priority, -np.inf).ravel()
        keep = np.argpartition(values, -max_area)[-max_area:]
        trimmed = np.zeros(region.size, dtype=bool)
        trimmed[keep] = True
        trimmed = trimmed.reshape(region.shape)
        trimmed[y, x] = True
        region = _component_at(trimmed, y, x)
    radius = 1.0
    while 0 < np.count_nonzero(region) < min_area and radius < max(region.shape):
        area = int(np.count_nonzero(region))
        radius = max(radius, np.sqrt(min_area / np.pi) - np.sqrt(area / np.pi), 1.0)
        region = grow(region, np.ceil(radius))
        radius *= 2
    return region


def insertion_regions(
    similarity: np.ndarray,
    segments: Sequence[np.ndarray] = (),
    *,
    count: int = 3,
    heat_drop: float = 0.35,
    snap_min_hot: float = 0.5,
    min_area_fraction: float = 0.02,
    max_area_fraction: float = 0.35,
) -> list[InsertionRegion]:
    """Up to `count` plausible insertion regions from a similarity map (and SAM segments), best first."""
    height, width = similarity.shape
    low, span = float(similarity.min()), float(np.ptp(similarity))
    normalised = (similarity - low) / span if span > 1e-12 else np.zeros_like(similarity)
    min_area = max(1, int(round(min_area_fraction * height * width)))
    max_area = max(min_area, int(round(max_area_fraction * height * width)))
    available = np.ones((height, width), dtype=bool)
    regions: list[InsertionRegion] = []
    ys, xs = np.mgrid[0:height, 0:width]
    # Ties (flat maps) resolve toward the image centre for the peak, toward the peak for the region.
    centred = normalised - 1e-6 * np.hypot(ys - (height - 1) / 2, xs - (width - 1) / 2) / max(height, width)
    for _ in range(max(0, count)):
        if not available.any():
            break
        y, x = np.unravel_index(np.argmax(np.where(available, centred, -np.inf)), normalised.shape)
        hot = _component_at(available & (normalised >= normalised[y, x] - heat_drop), y, x)
        region, snapped = _snap_to_segments(hot, segments, snap_min_hot)
        distance = np.hypot(ys - y, xs - x) / max(height, width)
        region = _fit_area(region, normalised - 1e-6 * distance, (y, x), min_area, max_area)
        if not region.any():
            break
        regions.append(InsertionRegion(
            mask=region, score=float(similarity[region].mean()), peak=(int(x), int(y)), snapped_to_sam=snapped,
        ))
        available &= ~(region | hot)
    return sorted(regions, key=lambda r: r.score, reverse=True)
