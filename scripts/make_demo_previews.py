"""Draw the demo zoo's preview images: polaris_core/demo/previews/<versionId>.png.

Each preview is a small procedural picture that hints at its model: a *motif* (what the
model draws: a dog, a castle, a skyline...) rendered with a *treatment* (how it draws:
pixelated, watercolour wash, pencil hatching...). Both are picked from the model's name,
tags and trigger words (the motif, failing those, from its example prompts); the random
generator is seeded by the version id, so a rerun writes byte-identical files.

    .venv/bin/python scripts/make_demo_previews.py           # (re)write every preview
    .venv/bin/python scripts/make_demo_previews.py --check   # exit 1 if a file is missing or differs
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "polaris_core" / "demo"
PREVIEW_SIZE = 96
DRAW_SIZE = 192      # motifs are drawn at twice the size, then downsampled (cheap antialiasing)
MAX_COLOURS = 64     # palette PNGs keep every preview well under the 15 KB budget
MAX_PREVIEW_BYTES = 15 * 1024

RGB = tuple[int, int, int]
Rng = np.random.Generator


# ---------------------------------------------------------------- small helpers

def _jitter(colour: RGB, rng: Rng, amount: int = 18) -> RGB:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def _vertical_gradient(size: int, top: RGB, bottom: RGB) -> Image.Image:
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    rows = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    return Image.fromarray(np.repeat(rows, size, axis=1).astype(np.uint8), "RGB")


def _noise(size: int, rng: Rng, strength: float) -> np.ndarray:
    return rng.normal(0.0, strength, (size, size, 1))


def _add_noise(img: Image.Image, rng: Rng, strength: float) -> Image.Image:
    arr = np.asarray(img, float) + _noise(img.width, rng, strength)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _edges(img: Image.Image) -> Image.Image:
    """Grey edge map (L): bright where colour changes."""
    return ImageOps.autocontrast(img.convert("L").filter(ImageFilter.FIND_EDGES))


def _posterize(img: Image.Image, colours: int) -> Image.Image:
    return img.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")


def _tint(img: Image.Image, colour: RGB, amount: float) -> Image.Image:
    return Image.blend(img, Image.new("RGB", img.size, colour), amount)


# ---------------------------------------------------------------- motifs (what is drawn)
# Each motif draws on a DRAW_SIZE canvas whose background the caller already painted.

def _ground(d: ImageDraw.ImageDraw, s: int, colour: RGB, height: float = 0.72) -> None:
    d.rectangle([0, int(s * height), s, s], fill=colour)


def motif_landscape(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    d.ellipse([s * 0.62, s * 0.12, s * 0.84, s * 0.34], fill=_jitter((250, 214, 120), rng))
    for i, shade in enumerate(((92, 130, 96), (70, 112, 80))):
        cx = s * (0.25 + 0.5 * i) + rng.integers(-12, 12)
        d.ellipse([cx - s * 0.5, s * (0.55 + 0.08 * i), cx + s * 0.5, s * 1.3], fill=_jitter(shade, rng))
    x = int(s * rng.uniform(0.18, 0.35))
    d.rectangle([x, s * 0.52, x + 8, s * 0.72], fill=(88, 62, 40))
    d.ellipse([x - 26, s * 0.32, x + 34, s * 0.58], fill=_jitter((58, 110, 62), rng))


def motif_wave(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    d.polygon([(s * 0.55, s * 0.62), (s * 0.75, s * 0.3), (s * 0.95, s * 0.62)], fill=(96, 110, 140))
    d.polygon([(s * 0.7, s * 0.38), (s * 0.75, s * 0.3), (s * 0.8, s * 0.38)], fill=(245, 245, 240))
    _ground(d, s, (40, 70, 120), 0.66)
    for i in range(4):
        r = s * (0.42 - 0.08 * i)
        box = [s * 0.05 + i * 8, s * 0.3 + i * 10, s * 0.05 + i * 8 + 2 * r, s * 0.3 + i * 10 + 2 * r]
        d.pieslice(box, 180, 360, fill=(30 + 20 * i, 70 + 25 * i, 130 + 20 * i))
        d.arc(box, 190, 330, fill=(240, 240, 235), width=5)
    for _ in range(9):
        x, y = rng.uniform(0.08, 0.6) * s, rng.uniform(0.26, 0.4) * s
        d.ellipse([x, y, x + 7, y + 7], fill=(245, 245, 240))


def motif_dog(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((110, 160, 90), rng))
    fur = _jitter((196, 132, 70), rng, 30)
    d.ellipse([s * 0.25, s * 0.48, s * 0.7, s * 0.72], fill=fur)
    for x in (0.3, 0.4, 0.56, 0.64):
        d.rectangle([s * x, s * 0.66, s * x + 10, s * 0.86], fill=fur)
    d.ellipse([s * 0.58, s * 0.3, s * 0.82, s * 0.54], fill=fur)
    d.ellipse([s * 0.76, s * 0.42, s * 0.88, s * 0.5], fill=(70, 45, 30))
    d.polygon([(s * 0.6, s * 0.36), (s * 0.58, s * 0.2), (s * 0.68, s * 0.31)], fill=(120, 80, 45))
    d.polygon([(s * 0.76, s * 0.34), (s * 0.8, s * 0.18), (s * 0.82, s * 0.36)], fill=(120, 80, 45))
    d.ellipse([s * 0.69, s * 0.38, s * 0.72, s * 0.41], fill=(20, 20, 20))
    d.line([(s * 0.27, s * 0.52), (s * 0.14, s * 0.38)], fill=fur, width=9)


def motif_cat(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((150, 120, 100), rng), 0.8)
    fur = _jitter((232, 150, 70), rng, 30)
    d.ellipse([s * 0.3, s * 0.45, s * 0.7, s * 0.88], fill=fur)
    d.ellipse([s * 0.34, s * 0.2, s * 0.66, s * 0.5], fill=fur)
    d.polygon([(s * 0.36, s * 0.3), (s * 0.38, s * 0.12), (s * 0.48, s * 0.23)], fill=fur)
    d.polygon([(s * 0.64, s * 0.3), (s * 0.62, s * 0.12), (s * 0.52, s * 0.23)], fill=fur)
    for x in (0.42, 0.55):
        d.ellipse([s * x, s * 0.31, s * x + 8, s * 0.36], fill=(40, 120, 60))
    d.arc([s * 0.55, s * 0.55, s * 0.92, s * 0.9], 300, 80, fill=fur, width=9)
    for y in (0.4, 0.43):
        d.line([(s * 0.3, s * y), (s * 0.44, s * 0.41)], fill=(250, 250, 250), width=1)
        d.line([(s * 0.56, s * 0.41), (s * 0.7, s * y)], fill=(250, 250, 250), width=1)


def _wheel(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(25, 25, 25), width=7)
    for a in range(0, 180, 30):
        dx, dy = r * math.cos(math.radians(a)), r * math.sin(math.radians(a))
        d.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=(170, 170, 170), width=1)


def motif_motorcycle(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, (90, 90, 95), 0.8)
    paint = _jitter((170, 40, 40), rng, 40)
    _wheel(d, s * 0.25, s * 0.68, s * 0.14)
    _wheel(d, s * 0.75, s * 0.68, s * 0.14)
    d.line([(s * 0.25, s * 0.68), (s * 0.45, s * 0.5), (s * 0.62, s * 0.52), (s * 0.75, s * 0.68)],
           fill=(60, 60, 60), width=6)
    d.ellipse([s * 0.42, s * 0.4, s * 0.64, s * 0.52], fill=paint)
    d.rectangle([s * 0.28, s * 0.42, s * 0.44, s * 0.47], fill=(40, 30, 25))
    d.line([(s * 0.62, s * 0.42), (s * 0.72, s * 0.34)], fill=(200, 200, 205), width=4)


def motif_car(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, (80, 80, 85), 0.76)
    paint = _jitter((90, 170, 180), rng, 50)
    d.rounded_rectangle([s * 0.08, s * 0.5, s * 0.92, s * 0.7], radius=14, fill=paint)
    d.polygon([(s * 0.28, s * 0.5), (s * 0.36, s * 0.34), (s * 0.62, s * 0.34), (s * 0.72, s * 0.5)], fill=paint)
    d.polygon([(s * 0.33, s * 0.49), (s * 0.39, s * 0.37), (s * 0.59, s * 0.37), (s * 0.66, s * 0.49)],
              fill=(200, 225, 240))
    d.polygon([(s * 0.84, s * 0.5), (s * 0.95, s * 0.42), (s * 0.92, s * 0.55)], fill=paint)
    d.line([(s * 0.1, s * 0.6), (s * 0.9, s * 0.6)], fill=(230, 230, 235), width=3)
    _wheel(d, s * 0.27, s * 0.72, s * 0.09)
    _wheel(d, s * 0.73, s * 0.72, s * 0.09)


def motif_castle(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((90, 130, 80), rng), 0.8)
    stone = _jitter((170, 165, 150), rng)
    d.rectangle([s * 0.2, s * 0.45, s * 0.8, s * 0.82], fill=stone)
    for x0 in (0.12, 0.68):
        d.rectangle([s * x0, s * 0.3, s * x0 + s * 0.2, s * 0.82], fill=stone)
        d.polygon([(s * x0 - 6, s * 0.3), (s * (x0 + 0.1), s * 0.1), (s * (x0 + 0.2) + 6, s * 0.3)],
                  fill=_jitter((150, 60, 70), rng))
    for x in range(int(s * 0.34), int(s * 0.66), 14):
        d.rectangle([x, s * 0.4, x + 7, s * 0.45], fill=stone)
    d.chord([s * 0.42, s * 0.6, s * 0.58, s * 0.9], 180, 360, fill=(60, 45, 35))
    d.rectangle([s * 0.42, s * 0.75, s * 0.58, s * 0.82], fill=(60, 45, 35))


def motif_dragon(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    scale, wing = _jitter((180, 50, 40), rng, 40), _jitter((120, 40, 40), rng)
    d.polygon([(s * 0.45, s * 0.55), (s * 0.28, s * 0.1), (s * 0.4, s * 0.26), (s * 0.5, s * 0.12),
               (s * 0.58, s * 0.3), (s * 0.64, s * 0.55)], fill=wing)
    d.line([(s * 0.38, s * 0.64), (s * 0.22, s * 0.72), (s * 0.12, s * 0.66)], fill=scale, width=9)
    d.polygon([(s * 0.06, s * 0.6), (s * 0.14, s * 0.62), (s * 0.1, s * 0.7)], fill=scale)
    d.ellipse([s * 0.34, s * 0.52, s * 0.72, s * 0.74], fill=scale)
    for x in (0.4, 0.62):
        d.rectangle([s * x, s * 0.68, s * x + 9, s * 0.84], fill=scale)
    d.polygon([(s * 0.62, s * 0.58), (s * 0.74, s * 0.32), (s * 0.8, s * 0.34), (s * 0.72, s * 0.62)], fill=scale)
    d.ellipse([s * 0.7, s * 0.22, s * 0.86, s * 0.36], fill=scale)
    d.polygon([(s * 0.84, s * 0.25), (s * 0.96, s * 0.3), (s * 0.84, s * 0.35)], fill=scale)
    d.polygon([(s * 0.72, s * 0.25), (s * 0.68, s * 0.12), (s * 0.77, s * 0.23)], fill=(240, 220, 180))
    d.ellipse([s * 0.78, s * 0.26, s * 0.81, s * 0.29], fill=(250, 220, 40))


def motif_sneaker(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    upper = _jitter((235, 235, 240), rng)
    d.rounded_rectangle([s * 0.1, s * 0.62, s * 0.9, s * 0.72], radius=8, fill=(250, 250, 250),
                        outline=(60, 60, 60), width=2)
    d.polygon([(s * 0.12, s * 0.62), (s * 0.18, s * 0.36), (s * 0.42, s * 0.34), (s * 0.6, s * 0.48),
               (s * 0.86, s * 0.54), (s * 0.88, s * 0.62)], fill=upper, outline=(60, 60, 60))
    accent = _jitter((220, 60, 60), rng, 60)
    d.line([(s * 0.26, s * 0.58), (s * 0.5, s * 0.46), (s * 0.78, s * 0.56)], fill=accent, width=7)
    for i in range(4):
        x = s * (0.36 + 0.05 * i)
        d.line([(x, s * 0.38 + i * 3), (x + 10, s * 0.44 + i * 3)], fill=(40, 40, 40), width=2)


def motif_flowers(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    for _ in range(7):
        x, y = rng.uniform(0.2, 0.8) * s, rng.uniform(0.15, 0.55) * s
        d.line([(x, y), (s * 0.5, s * 0.9)], fill=(60, 120, 60), width=3)
    for _ in range(7):
        x, y = rng.uniform(0.2, 0.8) * s, rng.uniform(0.15, 0.55) * s
        petal = _jitter(((235, 120, 160), (250, 230, 120), (240, 240, 245))[rng.integers(3)], rng, 25)
        for a in range(0, 360, 60):
            px, py = x + 11 * math.cos(math.radians(a)), y + 11 * math.sin(math.radians(a))
            d.ellipse([px - 9, py - 9, px + 9, py + 9], fill=petal)
        d.ellipse([x - 6, y - 6, x + 6, y + 6], fill=(240, 190, 60))


def motif_pastry(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((200, 170, 140), rng), 0.6)
    d.ellipse([s * 0.12, s * 0.62, s * 0.88, s * 0.86], fill=(245, 245, 245))
    d.rectangle([s * 0.28, s * 0.45, s * 0.72, s * 0.74], fill=_jitter((240, 200, 150), rng))
    d.rectangle([s * 0.28, s * 0.56, s * 0.72, s * 0.6], fill=_jitter((200, 70, 90), rng))
    d.ellipse([s * 0.26, s * 0.4, s * 0.74, s * 0.5], fill=(250, 245, 240))
    d.ellipse([s * 0.46, s * 0.32, s * 0.56, s * 0.42], fill=(190, 20, 40))
    d.chord([s * 0.02, s * 0.62, s * 0.3, s * 0.82], 180, 360, fill=(215, 150, 70))


def motif_snow(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    d.ellipse([-s * 0.3, s * 0.6, s * 0.8, s * 1.3], fill=(245, 248, 255))
    d.ellipse([s * 0.3, s * 0.55, s * 1.4, s * 1.3], fill=(230, 238, 250))
    for _ in range(5):
        x, h = rng.uniform(0.05, 0.95) * s, rng.uniform(0.2, 0.35) * s
        base = s * 0.72
        d.polygon([(x - h * 0.35, base), (x, base - h), (x + h * 0.35, base)], fill=(40, 80, 60))
        d.polygon([(x - h * 0.2, base - h * 0.5), (x, base - h), (x + h * 0.2, base - h * 0.5)],
                  fill=(245, 248, 255))
    for _ in range(40):
        x, y = rng.uniform(0, s), rng.uniform(0, s * 0.8)
        d.ellipse([x, y, x + 3, y + 3], fill=(255, 255, 255))


def motif_armour(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    steel = _jitter((175, 180, 190), rng)
    d.rounded_rectangle([s * 0.3, s * 0.15, s * 0.7, s * 0.6], radius=26, fill=steel, outline=(70, 70, 80), width=3)
    d.rectangle([s * 0.36, s * 0.32, s * 0.64, s * 0.36], fill=(30, 30, 35))
    d.line([(s * 0.5, s * 0.15), (s * 0.5, s * 0.6)], fill=(120, 120, 130), width=3)
    d.polygon([(s * 0.5, s * 0.2), (s * 0.44, s * 0.06), (s * 0.56, s * 0.06)], fill=_jitter((170, 30, 40), rng))
    d.polygon([(s * 0.25, s * 0.6), (s * 0.75, s * 0.6), (s * 0.7, s * 0.8), (s * 0.5, s * 0.95),
               (s * 0.3, s * 0.8)], fill=_jitter((40, 60, 120), rng), outline=(200, 170, 60))
    d.line([(s * 0.5, s * 0.62), (s * 0.5, s * 0.9)], fill=(200, 170, 60), width=5)
    d.line([(s * 0.35, s * 0.72), (s * 0.65, s * 0.72)], fill=(200, 170, 60), width=5)


def motif_glasses(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    frame = _jitter((50, 35, 30), rng, 40)
    d.ellipse([s * 0.3, s * 0.15, s * 0.7, s * 0.95], fill=_jitter((230, 190, 160), rng))
    for x in (0.22, 0.54):
        d.rounded_rectangle([s * x, s * 0.38, s * x + s * 0.24, s * 0.56], radius=12,
                            fill=(200, 225, 240), outline=frame, width=6)
    d.arc([s * 0.44, s * 0.38, s * 0.56, s * 0.5], 200, 340, fill=frame, width=5)
    d.line([(s * 0.22, s * 0.44), (s * 0.08, s * 0.4)], fill=frame, width=5)
    d.line([(s * 0.78, s * 0.44), (s * 0.92, s * 0.4)], fill=frame, width=5)


def motif_hat(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    straw = _jitter((225, 190, 110), rng, 30)
    d.ellipse([s * 0.08, s * 0.5, s * 0.92, s * 0.72], fill=straw, outline=(150, 110, 50), width=3)
    d.chord([s * 0.28, s * 0.22, s * 0.72, s * 0.78], 180, 360, fill=straw, outline=(150, 110, 50))
    d.rectangle([s * 0.28, s * 0.44, s * 0.72, s * 0.5], fill=_jitter((180, 40, 50), rng, 50))
    for x in range(int(s * 0.15), int(s * 0.85), 9):
        d.line([(x, s * 0.56), (x + 6, s * 0.66)], fill=(190, 150, 80), width=1)


def motif_balloon(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    colours = [_jitter(c, rng, 30) for c in ((220, 70, 60), (245, 200, 70), (70, 130, 200))]
    d.ellipse([s * 0.26, s * 0.08, s * 0.74, s * 0.62], fill=colours[0])
    for i, x in enumerate((0.34, 0.44, 0.54, 0.64)):
        d.chord([s * x, s * 0.08, s * (x + 0.06), s * 0.62], 0, 360, fill=colours[1 + i % 2])
    d.line([(s * 0.35, s * 0.55), (s * 0.44, s * 0.76)], fill=(90, 70, 50), width=2)
    d.line([(s * 0.65, s * 0.55), (s * 0.56, s * 0.76)], fill=(90, 70, 50), width=2)
    d.rectangle([s * 0.43, s * 0.76, s * 0.57, s * 0.86], fill=(140, 100, 60))


def motif_lanterns(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    d.line([(0, s * 0.2), (s * 0.5, s * 0.32), (s, s * 0.18)], fill=(40, 30, 30), width=2)
    for i in range(5):
        x = s * (0.1 + 0.2 * i)
        y = s * (0.24 + 0.08 * (1 - abs(i - 2) / 2)) + 4
        glow = _jitter((250, 140, 60), rng, 30)
        d.ellipse([x - 24, y - 6, x + 24, y + 50], fill=_jitter((120, 50, 40), rng))
        d.ellipse([x - 16, y, x + 16, y + 40], fill=glow)
        d.rectangle([x - 8, y - 6, x + 8, y], fill=(50, 40, 30))


def _person(d: ImageDraw.ImageDraw, s: int, coat: RGB, skin: RGB, hat: RGB | None) -> None:
    d.polygon([(s * 0.32, s * 0.95), (s * 0.38, s * 0.45), (s * 0.62, s * 0.45), (s * 0.68, s * 0.95)], fill=coat)
    d.ellipse([s * 0.4, s * 0.2, s * 0.6, s * 0.44], fill=skin)
    if hat:
        d.rectangle([s * 0.34, s * 0.2, s * 0.66, s * 0.24], fill=hat)
        d.rectangle([s * 0.41, s * 0.08, s * 0.59, s * 0.21], fill=hat)


def motif_figure(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((110, 100, 90), rng), 0.85)
    _person(d, s, _jitter((40, 60, 110), rng, 40), _jitter((230, 190, 160), rng), _jitter((60, 40, 30), rng))
    d.line([(s * 0.38, s * 0.5), (s * 0.62, s * 0.7)], fill=(220, 180, 60), width=4)


def motif_portrait(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    d.chord([s * 0.12, s * 0.62, s * 0.88, s * 1.4], 180, 360, fill=_jitter((70, 80, 110), rng, 40))
    d.ellipse([s * 0.33, s * 0.18, s * 0.67, s * 0.66], fill=_jitter((225, 185, 155), rng))
    d.chord([s * 0.3, s * 0.12, s * 0.7, s * 0.5], 180, 360, fill=_jitter((70, 45, 30), rng, 30))
    for x in (0.42, 0.54):
        d.ellipse([s * x, s * 0.38, s * x + 7, s * 0.42], fill=(40, 30, 30))


def motif_fox(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((60, 90, 70), rng), 0.8)
    fur = _jitter((230, 120, 40), rng, 20)
    d.polygon([(s * 0.3, s * 0.25), (s * 0.7, s * 0.25), (s * 0.5, s * 0.6)], fill=fur)
    d.polygon([(s * 0.3, s * 0.25), (s * 0.32, s * 0.06), (s * 0.44, s * 0.25)], fill=fur)
    d.polygon([(s * 0.7, s * 0.25), (s * 0.68, s * 0.06), (s * 0.56, s * 0.25)], fill=fur)
    d.polygon([(s * 0.4, s * 0.42), (s * 0.6, s * 0.42), (s * 0.5, s * 0.6)], fill=(250, 245, 235))
    d.ellipse([s * 0.47, s * 0.55, s * 0.53, s * 0.61], fill=(30, 20, 20))
    d.ellipse([s * 0.38, s * 0.55, s * 0.62, s * 0.88], fill=fur)
    d.ellipse([s * 0.68, s * 0.56, s * 0.84, s * 0.76], fill=(255, 200, 90))  # the lantern it carries
    d.line([(s * 0.6, s * 0.66), (s * 0.7, s * 0.58)], fill=(60, 40, 30), width=3)


def motif_robot(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    brass = _jitter((190, 150, 70), rng, 20)
    d.rounded_rectangle([s * 0.3, s * 0.42, s * 0.7, s * 0.85], radius=10, fill=brass, outline=(90, 60, 30), width=3)
    d.ellipse([s * 0.36, s * 0.12, s * 0.64, s * 0.42], fill=brass, outline=(90, 60, 30), width=3)
    for x in (0.42, 0.53):
        d.ellipse([s * x, s * 0.22, s * x + 10, s * 0.3], fill=(120, 220, 255))
    d.line([(s * 0.5, s * 0.12), (s * 0.5, s * 0.04)], fill=(90, 60, 30), width=3)
    cx, cy, r = s * 0.5, s * 0.62, s * 0.1
    for a in range(0, 360, 45):
        d.line([(cx, cy), (cx + r * 1.3 * math.cos(math.radians(a)), cy + r * 1.3 * math.sin(math.radians(a)))],
               fill=(110, 80, 40), width=5)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(150, 110, 50))


def motif_city(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    x = 0
    while x < s:
        w, h = int(rng.integers(18, 36)), int(rng.integers(40, 140))
        shade = int(rng.integers(30, 60))
        d.rectangle([x, s - h, x + w, s], fill=(shade, shade, shade + 20))
        for wy in range(s - h + 6, s - 6, 10):
            for wx in range(x + 4, x + w - 4, 8):
                if rng.random() < 0.45:
                    d.rectangle([wx, wy, wx + 3, wy + 4], fill=_jitter((250, 220, 120), rng, 30))
        x += w + 2


def motif_lighthouse(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    _ground(d, s, _jitter((50, 90, 140), rng), 0.78)
    d.polygon([(0, s * 0.8), (s * 0.2, s * 0.62), (s * 0.7, s * 0.66), (s * 0.85, s * 0.8)],
              fill=_jitter((110, 100, 90), rng))
    d.polygon([(s * 0.38, s * 0.66), (s * 0.42, s * 0.24), (s * 0.54, s * 0.24), (s * 0.58, s * 0.66)],
              fill=(245, 245, 240))
    for y in (0.34, 0.48, 0.6):
        d.rectangle([s * 0.4, s * y, s * 0.56, s * (y + 0.05)], fill=_jitter((200, 50, 50), rng))
    d.rectangle([s * 0.42, s * 0.16, s * 0.54, s * 0.24], fill=(255, 230, 120))
    d.polygon([(s * 0.4, s * 0.16), (s * 0.48, s * 0.08), (s * 0.56, s * 0.16)], fill=(60, 60, 70))
    d.polygon([(s * 0.54, s * 0.17), (s * 0.98, s * 0.08), (s * 0.98, s * 0.26)], fill=(255, 240, 170))


def motif_split(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    """Negative embeddings: a smeared half next to a clean half."""
    for _ in range(60):
        x, y, r = rng.uniform(0, s / 2), rng.uniform(0, s), rng.uniform(4, 18)
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(60, 200, 3)))
    d.rectangle([s / 2, 0, s, s], fill=(235, 232, 225))
    d.ellipse([s * 0.6, s * 0.3, s * 0.9, s * 0.7], fill=_jitter((120, 160, 200), rng))
    d.line([(s / 2, 0), (s / 2, s)], fill=(20, 20, 20), width=3)


def motif_hand(d: ImageDraw.ImageDraw, s: int, rng: Rng) -> None:
    skin = _jitter((225, 180, 150), rng)
    d.rounded_rectangle([s * 0.3, s * 0.45, s * 0.66, s * 0.9], radius=20, fill=skin)
    for x, top in ((0.31, 0.2), (0.4, 0.12), (0.49, 0.14), (0.58, 0.22)):
        d.rounded_rectangle([s * x, s * top, s * x + 16, s * 0.55], radius=8, fill=skin, outline=(170, 120, 100))
    d.rounded_rectangle([s * 0.62, s * 0.5, s * 0.86, s * 0.62], radius=8, fill=skin, outline=(170, 120, 100))


MOTIFS: dict[str, Callable[[ImageDraw.ImageDraw, int, Rng], None]] = {
    "landscape": motif_landscape, "wave": motif_wave, "dog": motif_dog, "cat": motif_cat,
    "motorcycle": motif_motorcycle, "car": motif_car, "castle": motif_castle, "dragon": motif_dragon,
    "sneaker": motif_sneaker, "flowers": motif_flowers, "pastry": motif_pastry, "snow": motif_snow,
    "armour": motif_armour, "glasses": motif_glasses, "hat": motif_hat, "balloon": motif_balloon,
    "lanterns": motif_lanterns, "figure": motif_figure, "portrait": motif_portrait, "fox": motif_fox,
    "robot": motif_robot, "city": motif_city, "lighthouse": motif_lighthouse, "split": motif_split,
    "hand": motif_hand,
}

# The first keyword of this list found in the text wins, so specific words come first. The
# model's own words are searched before its example prompts (see render_preview).
MOTIF_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("fingers", "hand"), ("hands", "hand"), ("negative", "split"), ("lighthouse", "lighthouse"), ("fox", "fox"),
    ("clockwork", "robot"), ("robot", "robot"), ("airship", "figure"), ("dog", "dog"), ("cat", "cat"), ("motorcycle", "motorcycle"),
    ("classic car", "car"), ("vintage car", "car"), ("castle", "castle"), ("dragon", "dragon"),
    ("sneaker", "sneaker"), ("bouquet", "flowers"), ("flowers", "flowers"), ("pastry", "pastry"),
    ("dessert", "pastry"), ("snow", "snow"), ("armour", "armour"), ("armor", "armour"),
    ("eyewear", "glasses"), ("glasses", "glasses"), ("hat", "hat"), ("balloon", "balloon"),
    ("lantern", "lanterns"), ("ukiyo-e", "wave"), ("woodblock", "wave"), ("cyberpunk", "city"),
    ("neon", "city"), ("noir", "figure"), ("portrait", "portrait"), ("city", "city"), ("girl", "portrait"),
    ("man", "portrait"), ("woman", "portrait"), ("fantasy", "castle"),
)
# Motifs for models whose words name none: an everyday scene picked by the version's seed.
SCENES = ("landscape", "lighthouse", "flowers", "balloon", "castle", "lanterns", "cat", "car")


def pick(keywords: tuple[tuple[str, str], ...], text: str, default: str) -> str:
    """Value of the first keyword present in `text` as a whole word (plurals allowed: "cats", "glasses")."""
    for word, value in keywords:
        if re.search(rf"\b{re.escape(word)}(?:s|es)?\b", text):
            return value
    return default


# ---------------------------------------------------------------- treatments (how it is drawn)
# Each treatment maps a PREVIEW_SIZE RGB image to another; `rng` is the version's generator.

def treat_photo(img: Image.Image, rng: Rng) -> Image.Image:
    return _add_noise(img.filter(ImageFilter.GaussianBlur(0.8)), rng, 5)


def treat_film(img: Image.Image, rng: Rng) -> Image.Image:
    warm = _tint(treat_photo(img, rng), (230, 170, 110), 0.18)
    yy, xx = np.mgrid[0:img.height, 0:img.width] / img.width - 0.5
    vignette = 1.0 - 0.9 * (xx ** 2 + yy ** 2)
    arr = np.asarray(warm, float) * vignette[..., None] + _noise(img.width, rng, 11)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def treat_flat(img: Image.Image, rng: Rng) -> Image.Image:
    flat = _posterize(ImageEnhance.Color(img).enhance(1.4), 8)
    ink = _edges(flat).point(lambda v: 255 if v > 110 else 0)
    return Image.composite(Image.new("RGB", img.size, (30, 25, 35)), flat, ink)


def treat_halftone(img: Image.Image, rng: Rng) -> Image.Image:
    base = treat_flat(img, rng)
    grey = np.asarray(base.convert("L"), float) / 255
    yy, xx = np.mgrid[0:img.height, 0:img.width]
    dots = ((xx % 4 - 1.5) ** 2 + (yy % 4 - 1.5) ** 2) < (1 - grey) * 5
    arr = np.asarray(base, float)
    arr[dots] *= 0.55
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def treat_watercolor(img: Image.Image, rng: Rng) -> Image.Image:
    soft = _posterize(img.filter(ImageFilter.GaussianBlur(1.6)), 10)
    wash = np.asarray(soft, float)
    pooled = np.asarray(_edges(soft).filter(ImageFilter.GaussianBlur(1)), float)[..., None] / 255
    wash = wash * (1 - 0.35 * pooled)                        # pigment pools at the edges of a wash
    wash = 255 - (255 - wash) * 0.9 + _noise(img.width, rng, 6)  # light, grainy paper shows through
    return Image.fromarray(np.clip(wash, 0, 255).astype(np.uint8), "RGB")


def _strokes(img: Image.Image, rng: Rng, count: int, length: float, width: int, angle_spread: float,
             underpainting_blur: float = 2.0) -> Image.Image:
    src = np.asarray(img)
    canvas = img.filter(ImageFilter.GaussianBlur(underpainting_blur))
    d = ImageDraw.Draw(canvas)
    base_angle = rng.uniform(0, math.pi)
    for _ in range(count):
        x, y = rng.integers(0, img.width), rng.integers(0, img.height)
        a = base_angle + rng.normal(0, angle_spread)
        dx, dy = length * math.cos(a), length * math.sin(a)
        colour = _jitter(tuple(int(c) for c in src[y, x]), rng, 14)
        d.line([(x - dx, y - dy), (x + dx, y + dy)], fill=colour, width=width)
    return canvas


def treat_oil(img: Image.Image, rng: Rng) -> Image.Image:
    return ImageOps.autocontrast(_strokes(img, rng, 900, 3.0, 2, 0.6), cutoff=1)


def treat_painterly(img: Image.Image, rng: Rng) -> Image.Image:
    return _posterize(_strokes(img, rng, 350, 2.5, 3, 1.2, underpainting_blur=0.6), 20)


def treat_pastel(img: Image.Image, rng: Rng) -> Image.Image:
    soft = Image.blend(img.filter(ImageFilter.GaussianBlur(1.2)), Image.new("RGB", img.size, (250, 240, 225)), 0.35)
    return _add_noise(soft, rng, 4)


def treat_pixel(img: Image.Image, rng: Rng) -> Image.Image:
    cells = int(rng.choice([16, 24]))
    small = img.resize((cells, cells), Image.Resampling.BOX)
    small = small.quantize(12, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")
    return small.resize(img.size, Image.Resampling.NEAREST)


def treat_sketch(img: Image.Image, rng: Rng) -> Image.Image:
    grey = np.asarray(img.convert("L"), float)
    paper = np.full(grey.shape, 238.0) + _noise(img.width, rng, 3)[..., 0]
    canvas = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8), "L")
    d = ImageDraw.Draw(canvas)
    for _ in range(1400):  # hatching: short diagonal strokes, denser where the picture is dark
        x, y = int(rng.integers(0, img.width)), int(rng.integers(0, img.height))
        if rng.random() * 255 > grey[y, x]:
            d.line([(x - 2, y + 2), (x + 2, y - 2)], fill=int(rng.integers(60, 130)), width=1)
    outline = _edges(img).point(lambda v: 255 if v > 70 else 0)
    canvas.paste(50, mask=outline)
    return canvas.convert("RGB")


def treat_stained_glass(img: Image.Image, rng: Rng) -> Image.Image:
    n = 64
    seeds = rng.uniform(0, img.width, (n, 2))
    yy, xx = np.mgrid[0:img.height, 0:img.width]
    dist = (xx[..., None] - seeds[:, 0]) ** 2 + (yy[..., None] - seeds[:, 1]) ** 2
    cell = dist.argmin(axis=2)
    src = np.asarray(ImageOps.autocontrast(img, cutoff=2), float)
    out = np.zeros_like(src)
    for k in range(n):
        mask = cell == k
        if mask.any():
            mean = src[mask].mean(axis=0)
            out[mask] = np.clip(mean + 0.8 * (mean - mean.mean()), 0, 255)  # backlit glass is saturated
    lead = (np.diff(cell, axis=0, prepend=cell[:1]) != 0) | (np.diff(cell, axis=1, prepend=cell[:, :1]) != 0)
    out[lead] = (20, 20, 25)
    return Image.fromarray(out.astype(np.uint8), "RGB")


def treat_lowpoly(img: Image.Image, rng: Rng) -> Image.Image:
    step, cells = 8, img.width // 8

    def corner(i: int, j: int) -> tuple[int, int]:
        # Inner corners move; border corners stay put so the facets tile the whole frame.
        dx = 0 if i in (0, cells) else int(rng.integers(-3, 4))
        dy = 0 if j in (0, cells) else int(rng.integers(-3, 4))
        return min(img.width - 1, i * step + dx), min(img.height - 1, j * step + dy)

    pts = {(i, j): corner(i, j) for i in range(cells + 1) for j in range(cells + 1)}
    src = np.asarray(img)
    out = Image.new("RGB", img.size)
    d = ImageDraw.Draw(out)
    for i in range(cells):
        for j in range(cells):
            a, b, c, e = pts[i, j], pts[i + 1, j], pts[i, j + 1], pts[i + 1, j + 1]
            for tri in ((a, b, c), (b, e, c)):
                cx, cy = (sum(p[0] for p in tri) // 3, sum(p[1] for p in tri) // 3)
                d.polygon(tri, fill=tuple(int(v) for v in src[cy, cx]))
    return out


def treat_noir(img: Image.Image, rng: Rng) -> Image.Image:
    grey = ImageOps.autocontrast(img.convert("L"), cutoff=8)
    arr = np.asarray(grey, float)
    yy, xx = np.mgrid[0:img.height, 0:img.width]
    blinds = ((xx + yy) // 7) % 2 == 0  # slatted shadow across the frame
    arr = np.where(blinds, arr * 0.45, arr) + _noise(img.width, rng, 7)[..., 0]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L").convert("RGB")


def treat_neon(img: Image.Image, rng: Rng) -> Image.Image:
    dark = np.asarray(img, float) * 0.35
    glow = np.asarray(_edges(img).filter(ImageFilter.GaussianBlur(1.2)), float)[..., None] / 255
    colour = np.where(np.arange(img.width)[None, :, None] < img.width / 2, (255, 40, 200), (40, 230, 255))
    return Image.fromarray(np.clip(dark + glow * colour * 1.6, 0, 255).astype(np.uint8), "RGB")


def treat_vaporwave(img: Image.Image, rng: Rng) -> Image.Image:
    sky = _vertical_gradient(img.width, (255, 110, 200), (90, 40, 160))
    out = Image.blend(sky, img, 0.45)
    d = ImageDraw.Draw(out)
    s, horizon = img.width, int(img.height * 0.8)
    d.rectangle([0, horizon, s, s], fill=(40, 10, 70))
    for k in range(1, 7):  # perspective grid
        y = horizon + int((s - horizon) * (k / 6) ** 1.8)
        d.line([(0, y), (s, y)], fill=(0, 255, 240))
    for k in range(-6, 7):
        d.line([(s / 2 + k * 4, horizon), (s / 2 + k * 20, s)], fill=(0, 255, 240))
    d.ellipse([s * 0.66, s * 0.06, s * 0.94, s * 0.34], fill=(255, 190, 80))
    for k in range(3):  # the striped retro sun, kept in a corner so the subject stays visible
        y = int(s * (0.24 + 0.035 * k))
        d.rectangle([s * 0.66, y, s * 0.94, y + 1 + k], fill=(255, 110, 200))
    return out


def treat_clay(img: Image.Image, rng: Rng) -> Image.Image:
    soft = _posterize(img.filter(ImageFilter.GaussianBlur(2.2)), 9)
    relief = soft.convert("L").filter(ImageFilter.EMBOSS)
    shaded = ImageChops.overlay(soft, relief.convert("RGB"))
    return _add_noise(shaded, rng, 4)  # thumbprint texture


def treat_render3d(img: Image.Image, rng: Rng) -> Image.Image:
    soft = img.filter(ImageFilter.GaussianBlur(1.4))
    relief = soft.convert("L").filter(ImageFilter.EMBOSS).filter(ImageFilter.GaussianBlur(1))
    return ImageOps.autocontrast(ImageChops.soft_light(soft, relief.convert("RGB")), cutoff=1)


def treat_woodblock(img: Image.Image, rng: Rng) -> Image.Image:
    flat = _posterize(img, 6)
    paper = Image.new("RGB", img.size, (236, 224, 196))
    printed = Image.blend(flat, paper, 0.25)
    ink = _edges(flat).point(lambda v: 255 if v > 50 else 0)
    printed = Image.composite(Image.new("RGB", img.size, (35, 30, 40)), printed, ink)
    return _add_noise(printed, rng, 6)  # uneven ink take-up of the block


def treat_linocut(img: Image.Image, rng: Rng) -> Image.Image:
    grey = np.asarray(ImageOps.autocontrast(img.convert("L"), cutoff=2), float)
    yy = np.mgrid[0:img.height, 0:img.width][0]
    gouges = (yy + (grey / 40).astype(int)) % 5 == 0  # carved lines bend with the tones
    ink = ((grey < np.median(grey)) & ~gouges) | (np.asarray(_edges(img)) > 60)
    out = np.where(ink[..., None], np.array((25, 25, 30)), np.array((240, 230, 210)))
    return Image.fromarray(out.astype(np.uint8), "RGB")


def treat_papercut(img: Image.Image, rng: Rng) -> Image.Image:
    layers = _posterize(img, 5)
    shadow = ImageChops.offset(layers.convert("L").filter(ImageFilter.FIND_EDGES), 2, 2)
    shadow = shadow.point(lambda v: 255 if v > 20 else 0).filter(ImageFilter.GaussianBlur(1))
    return Image.composite(Image.new("RGB", img.size, (40, 30, 30)), layers, shadow.point(lambda v: v // 2))


def treat_nouveau(img: Image.Image, rng: Rng) -> Image.Image:
    out = _tint(treat_flat(img, rng), (230, 200, 150), 0.2)
    d = ImageDraw.Draw(out)
    s, gold = img.width, (200, 160, 60)
    d.rectangle([2, 2, s - 3, s - 3], outline=gold, width=3)
    for cx, cy in ((0, 0), (s, 0), (0, s), (s, s)):  # whiplash curls in the corners
        d.arc([cx - 22, cy - 22, cx + 22, cy + 22], 0, 360, fill=gold, width=2)
        d.arc([cx - 12, cy - 12, cx + 12, cy + 12], 0, 360, fill=gold, width=2)
    return out


def treat_golden(img: Image.Image, rng: Rng) -> Image.Image:
    return _tint(treat_photo(img, rng), (255, 170, 70), 0.3)


TREATMENTS: dict[str, Callable[[Image.Image, Rng], Image.Image]] = {
    "photo": treat_photo, "film": treat_film, "flat": treat_flat, "halftone": treat_halftone,
    "watercolor": treat_watercolor, "oil": treat_oil, "painterly": treat_painterly, "pastel": treat_pastel,
    "pixel": treat_pixel, "sketch": treat_sketch, "stained_glass": treat_stained_glass,
    "lowpoly": treat_lowpoly, "noir": treat_noir, "neon": treat_neon, "vaporwave": treat_vaporwave,
    "clay": treat_clay, "render3d": treat_render3d, "woodblock": treat_woodblock, "linocut": treat_linocut,
    "papercut": treat_papercut, "nouveau": treat_nouveau, "golden": treat_golden,
}

TREATMENT_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("pixel", "pixel"), ("watercolor", "watercolor"), ("gouache", "painterly"), ("ukiyo-e", "woodblock"),
    ("woodblock", "woodblock"), ("linocut", "linocut"), ("impasto", "oil"), ("impressionism", "oil"),
    ("impressionist", "oil"),
    ("oil painting", "oil"), ("stained glass", "stained_glass"), ("low poly", "lowpoly"),
    ("lowpoly", "lowpoly"), ("noir", "noir"), ("vaporwave", "vaporwave"), ("claymation", "clay"),
    ("clay", "clay"), ("graphite", "sketch"), ("pencil", "sketch"), ("sketch", "sketch"),
    ("papercraft", "papercut"), ("papercut", "papercut"), ("nouveau", "nouveau"), ("neon", "neon"),
    ("cyberpunk", "neon"), ("cel shading", "flat"), ("comic", "halftone"), ("golden hour", "golden"),
    ("3d", "render3d"), ("storybook", "pastel"), ("pastel", "pastel"), ("analog", "film"),
    ("film", "film"), ("painterly", "painterly"), ("fantasy", "painterly"), ("anime", "flat"),
)

# Sky colours (top, bottom) the scene is painted over, by treatment family.
SKIES: dict[str, tuple[RGB, RGB]] = {
    "neon": ((15, 10, 35), (60, 20, 70)), "noir": ((60, 60, 60), (150, 150, 150)),
    "woodblock": ((230, 200, 150), (240, 225, 190)), "golden": ((250, 180, 100), (250, 220, 170)),
}
DEFAULT_SKIES: tuple[tuple[RGB, RGB], ...] = (
    ((120, 170, 230), (210, 230, 245)), ((160, 190, 230), (240, 220, 200)), ((100, 140, 200), (190, 215, 235)),
)


def describe_text(model: dict, version: dict) -> tuple[str, str]:
    """(name + tags + trigger words, the example prompts), lower-cased, to pick from."""
    words = [model.get("name") or "", *(model.get("tags") or []), *(version.get("trainedWords") or [])]
    prompts = [((image or {}).get("meta") or {}).get("prompt") or "" for image in version.get("images") or []]
    return " | ".join(str(w) for w in words).lower(), " | ".join(str(p) for p in prompts).lower()


def render_preview(model: dict, version: dict) -> Image.Image:
    """The preview of one model version as a palette image (deterministic for a given version id)."""
    rng = np.random.default_rng(int(version["id"]))
    words, prompts = describe_text(model, version)
    treatment = pick(TREATMENT_KEYWORDS, words, "photo")
    motif_defaults = {"woodblock": "wave", "neon": "city", "noir": "figure", "golden": "portrait"}
    motif = (pick(MOTIF_KEYWORDS, words, "") or pick(MOTIF_KEYWORDS, prompts, "")
             or motif_defaults.get(treatment) or SCENES[int(rng.integers(len(SCENES)))])
    top, bottom = SKIES.get(treatment) or DEFAULT_SKIES[int(rng.integers(len(DEFAULT_SKIES)))]
    canvas = _vertical_gradient(DRAW_SIZE, _jitter(top, rng), _jitter(bottom, rng))
    MOTIFS[motif](ImageDraw.Draw(canvas), DRAW_SIZE, rng)
    small = canvas.resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.LANCZOS)
    styled = TREATMENTS[treatment](small, rng)
    return styled.quantize(MAX_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def iter_versions(catalog: Path):
    with catalog.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                model = json.loads(line)
                for version in model["modelVersions"]:
                    yield model, version


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, default=DEMO_DIR / "zoo.jsonl")
    parser.add_argument("--out", type=Path, default=DEMO_DIR / "previews")
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    expected, problems, sizes = set(), [], []
    try:
        versions = list(iter_versions(args.catalog))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read {args.catalog}: {exc!r}; fix the catalog line or pass --catalog", file=sys.stderr)
        return 1
    for model, version in versions:
        name = f"{int(version['id'])}.png"
        expected.add(name)
        data = png_bytes(render_preview(model, version))
        sizes.append(len(data))
        if len(data) > MAX_PREVIEW_BYTES:
            problems.append(f"{name}: {len(data)} bytes, over the {MAX_PREVIEW_BYTES} byte budget")
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                problems.append(f"{name}: missing or out of date")
        elif not path.is_file() or path.read_bytes() != data:
            _write_atomic(path, data)
    stale = sorted(p.name for p in args.out.glob("*.png") if p.name not in expected)
    problems.extend(f"{name}: no version in the catalog uses it" for name in stale)

    print(f"{len(sizes)} previews, {sum(sizes) / 1024:.0f} KiB in all, largest {max(sizes, default=0)} bytes")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("Rerun without --check to rewrite the previews; delete stale files by hand.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
