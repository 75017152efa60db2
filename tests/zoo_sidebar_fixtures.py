"""Indexes for the Zoo sidebar tests: hostile metadata and preview paths that try to leave the model folders."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

# Each payload sets window.__polarisPwned if it is ever executed by the page.
HOSTILE_NAME = '<img src=x onerror="window.__polarisPwned=1">Evil Lantern LoRA'
HOSTILE_TRIGGER = "<script>window.__polarisPwned=2</script>"
HOSTILE_AUTHOR = '<b onmouseover="window.__polarisPwned=3">mallory</b>'
HOSTILE_DESCRIPTION = ('<a href="javascript:window.__polarisPwned=4">javascript:window.__polarisPwned=4</a> '
                       '<img src=x onerror=window.__polarisPwned=5> <svg onload=window.__polarisPwned=6>')
HOSTILE_PROMPT = '"><script>window.__polarisPwned=7</script> lantern festival at night'


def write_png(path: Path, seed: int = 0, size: int = 48) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def hostile_entries(model_root: Path, outside: Path) -> list:
    """LoRA entries whose text is hostile HTML, and whose preview paths point out of `model_root`
    (`..`, an absolute path elsewhere, a symlink out); one entry has a legitimate preview inside it."""
    from polaris_core.zoo.entry import ZooEntry

    outside.mkdir(parents=True, exist_ok=True)
    secret = write_png(outside / "secret.png", seed=9)
    inside = model_root / "hostile-previews"
    inside.mkdir(parents=True, exist_ok=True)
    good = write_png(inside / "fine.preview.png", seed=3)
    link = inside / "escape.preview.png"
    if not link.is_symlink():
        os.symlink(secret, link)
    escape_dots = str(inside) + "/../../" + os.path.relpath(secret, model_root.parent)
    common = dict(kind="lora", base_family="sd15", base_model="SD 1.5", role="style", author=HOSTILE_AUTHOR)
    return [
        ZooEntry(id="hostile:1", name=HOSTILE_NAME, trigger_words=[HOSTILE_TRIGGER, "lanternglow"],
                 description=HOSTILE_DESCRIPTION, example_prompts=[HOSTILE_PROMPT],
                 tags=["<i>tag</i>"], preview_paths=[str(good)], file_name="hostile/evil<lantern>.safetensors",
                 sha256="<script>alert(1)</script>", **common),
        ZooEntry(id="hostile:2", name="Lantern escape by symlink", trigger_words=["lanternglow"],
                 example_prompts=["paper lanterns over a river"], preview_paths=[str(link)], **common),
        ZooEntry(id="hostile:3", name="Lantern escape by dots", trigger_words=["lanternglow"],
                 example_prompts=["lantern festival"], preview_paths=[escape_dots], **common),
        ZooEntry(id="hostile:4", name="Lantern escape by absolute path", trigger_words=["lanternglow"],
                 example_prompts=["lanterns at dusk"], preview_paths=[str(secret), "/etc/passwd",
                                                                       "relative/preview.png"], **common),
    ]


def build_index(entries: list, folder: Path):
    from polaris_core.index import ZooIndex

    return ZooIndex.build(entries, folder)


def wait_build(server, timeout: float = 600.0) -> dict:
    """The sidebar's index build status once it is no longer running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = server.get("/polaris/index/status")
        if status["state"] != "running":
            return status
        time.sleep(0.3)
    raise TimeoutError("index build did not finish")
