"""Draw the example images the shipped workflows load (a 768x512 scene with a dog, a 512x512 style reference).

They are drawn, not downloaded, so the project can ship them. Polaris copies them into ComfyUI's input folder
on start when they are missing there. Run again only to change them:

    .venv/bin/python scripts/make_example_images.py
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "workflows" / "inputs"


def _gradient(width: int, height: int, top: tuple, bottom: tuple) -> Image.Image:
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    rows = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return Image.fromarray(np.repeat(rows, width, axis=1).astype(np.uint8), "RGB")


def dog_scene(width: int = 768, height: int = 512) -> Image.Image:
    """A park at noon: sky, hills, a tree and a brown dog standing on the grass."""
    img = _gradient(width, height, (120, 170, 235), (205, 225, 245))
    draw = ImageDraw.Draw(img)
    draw.ellipse((600, 40, 680, 120), fill=(255, 236, 170))
    draw.ellipse((-200, 260, 500, 560), fill=(96, 150, 80))
    draw.ellipse((300, 250, 1000, 600), fill=(110, 165, 88))
    draw.rectangle((0, 360, width, height), fill=(104, 160, 84))
    rng = np.random.default_rng(7)
    for _ in range(900):  # grass blades
        x, y = int(rng.integers(0, width)), int(rng.integers(355, height))
        draw.line((x, y, x + int(rng.integers(-3, 4)), y - int(rng.integers(4, 10))), fill=(70, 125, 60), width=1)
    draw.rectangle((118, 190, 138, 380), fill=(101, 72, 48))  # tree
    draw.ellipse((60, 100, 200, 240), fill=(62, 118, 60))
    draw.ellipse((90, 70, 220, 200), fill=(72, 132, 66))
    fur, dark = (150, 98, 52), (96, 60, 32)
    draw.ellipse((330, 300, 500, 380), fill=fur)  # body
    for x in (350, 380, 450, 475):  # legs
        draw.rounded_rectangle((x, 360, x + 18, 430), radius=6, fill=fur)
    draw.ellipse((470, 250, 560, 330), fill=fur)  # head
    draw.ellipse((540, 285, 585, 318), fill=(165, 112, 64))  # muzzle
    draw.ellipse((572, 290, 586, 302), fill=(30, 20, 15))  # nose
    draw.ellipse((505, 272, 517, 284), fill=(25, 20, 15))  # eye
    draw.polygon([(478, 262), (492, 232), (505, 268)], fill=dark)  # ear
    draw.line((335, 320, 295, 280), fill=fur, width=12)  # tail
    draw.ellipse((340, 425, 520, 445), fill=(80, 130, 66))  # shadow
    return img.filter(ImageFilter.SMOOTH)


def style_reference(size: int = 512) -> Image.Image:
    """A woodblock-print-like sea: flat indigo waves with white crests under a pale sky."""
    img = _gradient(size, size, (236, 224, 196), (214, 196, 160))
    draw = ImageDraw.Draw(img)
    draw.ellipse((330, 60, 430, 160), fill=(196, 72, 52))
    for row in range(9):
        base = 200 + row * 36
        shade = (34 + row * 6, 58 + row * 8, 112 + row * 10)
        points = [(x, base + 14 * math.sin(x / 38.0 + row)) for x in range(0, size + 8, 8)]
        draw.polygon(points + [(size, size), (0, size)], fill=shade)
        draw.line(points, fill=(245, 242, 232), width=3)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    dog_scene().save(OUT / "polaris-example.png", optimize=True)
    style_reference().save(OUT / "polaris-reference.png", optimize=True)


if __name__ == "__main__":
    main()
