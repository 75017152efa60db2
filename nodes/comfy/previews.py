"""What nodes show: candidate preview images, and the example inputs copied into ComfyUI's input folder."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

import folder_paths

log = logging.getLogger("polaris")


# ---------------------------------------------------------------- previews of what was chosen
PREVIEW_TILE = 128


def _preview_file(entry) -> Path | None:
    from polaris_core.demo import resolve_demo_url

    for path in entry.preview_paths:
        if Path(path).is_file():
            return Path(path)
    for url in entry.preview_urls:
        try:
            local = resolve_demo_url(url)
        except Exception:  # an odd demo:// URL is just not previewed
            local = None
        if local is not None and local.is_file():
            return local
    return None


def candidate_preview(candidates, text: str, limit: int = 8) -> dict:
    """UI payload: the ranked table as text plus the candidates' preview images (when the zoo has them)."""
    from PIL import Image
    from comfy_api.v0_0_2 import ui

    tiles = []
    for slot in ("checkpoint", "style_lora", "object_lora"):
        for candidate in candidates.slot(slot)[:3]:
            path = _preview_file(candidate.entry)
            if path is None or len(tiles) >= limit:
                continue
            try:
                with Image.open(path) as img:
                    tile = img.convert("RGB").resize((PREVIEW_TILE, PREVIEW_TILE), Image.Resampling.BICUBIC)
            except (OSError, ValueError):
                log.debug("preview %s unreadable", path)
                continue
            tiles.append(np.asarray(tile))
    payload = {"text": (text,)}
    if tiles:
        batch = torch.from_numpy(np.stack(tiles).astype(np.float32) / 255.0)
        payload.update(ui.PreviewImage(batch).as_dict())
    return payload


# ---------------------------------------------------------------- example inputs for the shipped workflows
EXAMPLE_INPUTS = Path(__file__).resolve().parents[2] / "workflows" / "inputs"


def install_example_inputs() -> list[str]:
    """Copy the shipped workflows' example images into ComfyUI's input folder when they are not there yet.

    Never overwrites a user's file of the same name; writes through a temporary name so a crash leaves nothing
    half-written.
    """
    import shutil

    target = Path(folder_paths.get_input_directory())
    copied = []
    for source in sorted(EXAMPLE_INPUTS.glob("*.png")):
        destination = target / source.name
        if destination.exists():
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(f".{destination.name}.polaris-partial")
            shutil.copyfile(source, partial)
            os.replace(partial, destination)
            copied.append(source.name)
        except OSError as exc:
            log.warning("could not copy the example image %s into %s: %s", source.name, target, exc)
    return copied
