"""A preview of the ranked candidates: each one tinted in its own colour, boxed and labelled.

Used by `polaris mask` and by the ComfyUI node's preview, so users can see which candidate
won and pick another when the first is wrong.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from polaris_core.mask.image import resize_mask
from polaris_core.mask.masker import MaskCandidate

# Distinct, colour-blind-friendly tints (Okabe-Ito), best candidate first.
PALETTE = ((230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
           (213, 94, 0), (204, 121, 167), (150, 150, 150))
TINT_ALPHA = 0.45


def render_overlay(
    rgb: np.ndarray, candidates: Sequence[MaskCandidate], *, top: int = 5, max_side: int = 2048
) -> np.ndarray:
    """HxWx3 uint8 preview of the `top` candidates over `rgb` (downscaled to `max_side`)."""
    from PIL import Image, ImageDraw

    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    base = Image.fromarray(rgb)
    if size != (height, width):
        base = base.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    canvas = np.asarray(base, dtype=np.float32).copy()
    shown = list(candidates)[:max(0, top)]
    for rank in reversed(range(len(shown))):  # best drawn last, on top
        mask = resize_mask(shown[rank].mask, size, binary=True)
        colour = np.array(PALETTE[rank % len(PALETTE)], dtype=np.float32)
        canvas[mask] = canvas[mask] * (1 - TINT_ALPHA) + colour * TINT_ALPHA
    image = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for rank in reversed(range(len(shown))):
        x0, y0, x1, y1 = (round(v * scale) for v in shown[rank].box)
        if x1 <= x0 or y1 <= y0:
            continue
        colour = PALETTE[rank % len(PALETTE)]
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=3 if rank == 0 else 1)
        label = f"#{rank + 1} {shown[rank].score:.3f}"
        text_box = draw.textbbox((x0 + 2, y0 + 2), label)
        draw.rectangle(text_box, fill=(0, 0, 0))
        draw.text((x0 + 2, y0 + 2), label, fill=colour)
    return np.asarray(image)
