"""CLIP scoring of candidate masks against the subject text.

CLIP was trained on whole photos, not on masks, so each candidate is shown to it as a photo
of that region alone: the image is cropped to the mask's box plus a margin (the object keeps
a natural scale in the frame), every pixel outside the mask is set to CLIP's mean colour
(which normalises to zero, i.e. carries no signal), and the crop is padded to a square with
the same colour so CLIP's centre crop cuts nothing off. All candidates go through the image
tower in one batched forward.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from polaris_core.clip_model import LoadedClip, encode_texts


def pad_to_square(rgb: np.ndarray, fill: tuple[int, int, int]) -> np.ndarray:
    """Centre `rgb` on a square canvas of its long side, filled with `fill`."""
    height, width = rgb.shape[:2]
    side = max(height, width)
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[:] = fill
    top, left = (side - height) // 2, (side - width) // 2
    canvas[top:top + height, left:left + width] = rgb
    return canvas


def masked_crop(
    rgb: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], margin: float, fill: tuple[int, int, int]
) -> np.ndarray:
    """Square uint8 crop of the mask's box grown by `margin` x its long side, outside-mask pixels = `fill`."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = box
    pad = int(round(margin * max(x1 - x0, y1 - y0, 1)))
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(width, max(x1 + pad, x0 + 1)), min(height, max(y1 + pad, y0 + 1))
    crop = rgb[y0:y1, x0:x1].copy()
    crop[~mask[y0:y1, x0:x1].astype(bool)] = fill
    return pad_to_square(crop, fill)


def subject_embedding(clip: LoadedClip, subject: str, templates: Sequence[str]):
    """The subject's text embedding [D], averaged over prompt templates and L2-normalised."""
    import torch

    prompts = [template.format(subject) for template in templates] or [subject]
    mean = encode_texts(clip, prompts).mean(dim=0)
    return torch.nn.functional.normalize(mean, dim=0)


def clip_temperature(clip: LoadedClip) -> float:
    """CLIP's learned logit scale (100 for the released models), used to turn cosines into softmax weights."""
    scale = getattr(clip.model, "logit_scale", None)
    return float(scale.detach().exp()) if scale is not None else 100.0


def encode_crops(clip: LoadedClip, crops: Sequence[np.ndarray]):
    """L2-normalised CLIP image embeddings [N, D] of uint8 crops, in ONE forward of the image tower."""
    import torch
    from PIL import Image

    from polaris_core.devices import load_for_work

    load_for_work(clip)
    batch = torch.stack([clip.preprocess(Image.fromarray(crop)) for crop in crops]).to(clip.device)
    with torch.no_grad():
        features = clip.model.encode_image(batch).float()
    return torch.nn.functional.normalize(features, dim=-1).cpu()


def score_masks(
    clip: LoadedClip,
    rgb: np.ndarray,
    masks: Sequence[np.ndarray],
    boxes: Sequence[tuple[int, int, int, int]],
    text_embedding,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(cosine similarity, softmax probability at CLIP's temperature) of each mask vs the text."""
    import torch

    if not masks:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)
    crops = [masked_crop(rgb, mask, box, margin, clip.mean_rgb_uint8) for mask, box in zip(masks, boxes)]
    cosines = encode_crops(clip, crops) @ text_embedding
    probabilities = torch.softmax(cosines * clip_temperature(clip), dim=0)
    return cosines.numpy().astype(np.float32), probabilities.numpy().astype(np.float32)
