"""Copy the browser tier's screenshots into the README's pictures and the workflow template thumbnails.

Run the browser tier first (`bash scripts/test.sh tests/browser`), look at its screenshots, then:

    .venv/bin/python scripts/update_pictures.py

docs/images/*.png are the README's pictures; workflows/<name>.jpg are the thumbnails ComfyUI's template browser
shows beside each shipped workflow. Both are real screenshots of ComfyUI's page, never drawings.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "browser" / "screenshots"
README_WIDTH = 1400
THUMBNAIL = (640, 360)


def main() -> int:
    docs = ROOT / "docs" / "images"
    docs.mkdir(parents=True, exist_ok=True)
    shots = sorted(SHOTS.glob("*.png"))
    if not shots:
        raise SystemExit(f"no screenshots in {SHOTS}; run the browser tier first")
    shown = set(re.findall(r"docs/images/([\w.-]+\.png)", (ROOT / "README.md").read_text(encoding="utf-8")))
    for shot in shots:
        with Image.open(shot) as img:
            picture = img.convert("RGB")
        if shot.name in shown:  # only the pictures the README shows are kept in the repository
            scale = min(1.0, README_WIDTH / picture.width)
            readme = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
            readme.save(docs / shot.name, optimize=True)
        if shot.stem.endswith("-after-run"):
            workflow = shot.stem[: -len("-after-run")]
            if (ROOT / "workflows" / f"{workflow}.json").is_file():
                thumb = picture.copy()
                thumb.thumbnail(THUMBNAIL, Image.LANCZOS)
                thumb.save(ROOT / "workflows" / f"{workflow}.jpg", quality=85, optimize=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
