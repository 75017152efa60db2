"""Image input for the masker: any PIL image or HxW[xC] array becomes HxWx3 uint8 RGB.

Grayscale, alpha (composited over white), palette, 16-bit, float (0..1) and 1-pixel
images are all accepted; what cannot be an image gets an ImageError that says what to do.
Large images are worked on at a reduced size; masks are scaled back afterwards.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from polaris_core.errors import ImageError

log = logging.getLogger("polaris")

ALPHA_BACKGROUND = 255  # transparent pixels are shown over white, like most viewers


def load_image(path: str | os.PathLike) -> Any:
    """Open an image file as a fully loaded PIL image (first frame, EXIF orientation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise ImageError(f"Image not found at {p}; give the path of a PNG, JPEG or WebP file.")
    try:
        with Image.open(p) as opened:
            opened.seek(0)  # first frame of an animation
            opened.load()
            image = ImageOps.exif_transpose(opened)
            return opened.copy() if image is None or image is opened else image
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{p.name} is too large to open safely ({exc}); downscale it first.") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{p.name} is not an image Pillow can read; give a PNG, JPEG or WebP file.") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{p.name} could not be decoded ({exc}); the file may be truncated or corrupt.") from exc


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Normalise a PIL image, numpy array or torch tensor to a C-contiguous HxWx3 uint8 RGB array."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with torchvision/open_clip
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        return _pil_to_rgb_uint8(image)
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # torch tensor, e.g. a ComfyUI IMAGE
        image = image.detach().cpu().float().numpy()
    if not isinstance(image, np.ndarray):
        raise ImageError(f"Expected a PIL image or an HxWxC array, got {type(image).__name__}.")
    return _array_to_rgb_uint8(image)


def _pil_to_rgb_uint8(image: Any) -> np.ndarray:
    mode = image.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    if mode.startswith("I") or mode == "F":  # 16/32-bit integer and float modes keep their range
        return _array_to_rgb_uint8(np.asarray(image))
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        return _array_to_rgb_uint8(np.asarray(image.convert("RGBA")))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _array_to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim == 4 and arr.shape[0] == 1:  # a batch of one (ComfyUI IMAGE layout)
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[-1] not in (1, 2, 3, 4):
        hint = " If it is CxHxW, transpose it with arr.transpose(1, 2, 0)." if arr.shape[0] in (1, 3, 4) else ""
        raise ImageError(f"Expected an HxWxC image with 1-4 channels, got shape {arr.shape}.{hint}")
    if arr.ndim not in (2, 3):
        raise ImageError(f"Expected an HxW or HxWxC image, got shape {arr.shape}; pass one image at a time.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError(f"The image is empty (shape {arr.shape}); give an image of at least 1x1 pixel.")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    unit = _to_unit_float(arr)  # HxWxC in 0..1
    channels = unit.shape[-1]
    if channels in (2, 4):  # colour + alpha: composite over the background
        alpha = unit[..., -1:]
        unit = unit[..., :-1] * alpha + (ALPHA_BACKGROUND / 255.0) * (1.0 - alpha)
    if unit.shape[-1] == 1:
        unit = np.repeat(unit, 3, axis=-1)
    return np.ascontiguousarray(np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8))


def _to_unit_float(arr: np.ndarray) -> np.ndarray:
    """Values in 0..1 as float32, reading the range from the dtype (uint8, 16-bit, float 0..1 or 0..255)."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if np.issubdtype(arr.dtype, np.integer):
        low, high = int(arr.min()), int(arr.max())
        if low < 0:
            raise ImageError("The image has negative pixel values; give 8-bit or 16-bit unsigned data.")
        if arr.dtype == np.uint16 or high > 255:
            if high > 65535:
                raise ImageError(f"Pixel values up to {high} are out of range; give 8-bit or 16-bit data.")
            return arr.astype(np.float32) / 65535.0
        return arr.astype(np.float32) / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        values = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        if values.size and float(values.max()) > 1.0:  # floats in 0..255
            values = values / 255.0
        return np.clip(values, 0.0, 1.0)
    raise ImageError(f"Unsupported pixel type {arr.dtype}; give uint8, uint16 or float data.")


def downscale_to_max_side(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Area-average `rgb` down so its long side is at most `max_side` (returned unchanged if it fits)."""
    from PIL import Image

    height, width = rgb.shape[:2]
    long_side = max(height, width)
    if long_side <= max_side:
        return rgb
    scale = max_side / long_side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def resize_mask(mask: np.ndarray, size: tuple[int, int], binary: bool) -> np.ndarray:
    """Bilinear resize of a float/bool mask to `size` = (H, W); `binary` thresholds the result at 0.5."""
    from PIL import Image

    height, width = size
    if mask.shape == (height, width):
        out = mask.astype(np.float32)
    else:
        resized = Image.fromarray(mask.astype(np.float32)).resize((width, height), Image.Resampling.BILINEAR)
        out = np.asarray(resized, dtype=np.float32)
    return out >= 0.5 if binary else np.clip(out, 0.0, 1.0)
