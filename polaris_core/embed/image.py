"""CLIP image (and text) embeddings for the image channel, via the shared open_clip loader.

An entry's image vector is the mean of its preview embeddings (each L2-normalised), normalised
again. A query image is embedded the same way; a text query can be compared with preview
vectors through CLIP's text tower (cross-modal), which is how an image-less instruction still
uses the previews.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any, Optional, Sequence

import numpy as np

from polaris_core.errors import ImageError
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")

MAX_PREVIEWS_PER_ENTRY = 4
IMAGE_BATCH = 16


def _weights_fingerprint(model: Any) -> str:
    """Identity of the loaded weights, so random-weight test models and real files both get one."""
    digest = hashlib.sha256()
    for name, tensor in list(model.state_dict().items())[:8]:
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes()[: 1 << 16])
    return digest.hexdigest()[:12]


class ClipEncoder:
    """Wraps a `LoadedClip` (see `polaris_core.clip_model`) for the retrieval image channel."""

    def __init__(self, clip: Any) -> None:
        self.clip = clip
        self.dim = int(clip.model.text_projection.shape[1]) if hasattr(clip.model, "text_projection") \
            else int(clip.model.visual.output_dim)
        self.encoder_id = f"clip:{clip.arch}:{_weights_fingerprint(clip.model)}"

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """Unit vectors (n, dim) for PIL images, arrays or image paths."""
        import torch
        from PIL import Image

        from polaris_core.mask.image import load_image, to_rgb_uint8

        from polaris_core.devices import load_for_work

        out = np.zeros((len(images), self.dim), dtype=np.float32)
        if len(images):
            load_for_work(self.clip)
        for start in range(0, len(images), IMAGE_BATCH):
            batch = []
            for item in images[start : start + IMAGE_BATCH]:
                image = load_image(item) if isinstance(item, (str, bytes)) or hasattr(item, "__fspath__") else item
                batch.append(self.clip.preprocess(Image.fromarray(to_rgb_uint8(image))))
            with torch.inference_mode():
                feats = self.clip.model.encode_image(torch.stack(batch).to(self.clip.device)).float()
                feats = torch.nn.functional.normalize(feats, dim=-1).cpu().numpy()
            out[start : start + len(batch)] = feats
        return out

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        from polaris_core.clip_model import encode_texts

        return encode_texts(self.clip, list(texts)).numpy().astype(np.float32)

    def entry_vectors(
        self,
        preview_lists: Sequence[Sequence[str]],
        on_step: OnStep | None = None,
        check_cancel: CheckCancel | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(vectors (n, dim), has_image (n,)): mean preview embedding per entry.

        Unreadable previews are skipped with a log line; an entry with none left has no vector.
        """
        on_step, check_cancel = resolve(on_step, check_cancel)
        vectors = np.zeros((len(preview_lists), self.dim), dtype=np.float32)
        has_image = np.zeros(len(preview_lists), dtype=bool)
        for i, paths in enumerate(preview_lists):
            check_cancel()
            vector = self._mean_of_files(paths[:MAX_PREVIEWS_PER_ENTRY])
            if vector is not None:
                vectors[i] = vector
                has_image[i] = True
            on_step(i + 1, len(preview_lists))
        return vectors, has_image

    def _mean_of_files(self, paths: Sequence[str]) -> Optional[np.ndarray]:
        from polaris_core.mask.image import load_image

        images = []
        for path in paths:
            try:
                images.append(load_image(path))
            except ImageError as exc:
                log.warning("preview skipped: %s", exc)
        if not images:
            return None
        mean = self.encode_images(images).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else None
