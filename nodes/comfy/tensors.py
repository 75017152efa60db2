"""ComfyUI's IMAGE and MASK tensors to and from the numpy arrays polaris_core works on."""
from __future__ import annotations


import numpy as np
import torch

def image_to_numpy(image: torch.Tensor, index: int = 0) -> np.ndarray:
    """ComfyUI IMAGE (B,H,W,C float 0..1) → H×W×3 uint8 for the core."""
    frame = image[min(index, image.shape[0] - 1)].detach().cpu().float().clamp(0, 1).numpy()
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    return (frame[..., :3] * 255.0 + 0.5).astype(np.uint8)


def numpy_to_image(array: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 (or float 0..1) → ComfyUI IMAGE (1,H,W,3)."""
    data = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(data))[None]


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """H×W float 0..1 → ComfyUI MASK (1,H,W)."""
    return torch.from_numpy(np.ascontiguousarray(mask.astype(np.float32)))[None]
