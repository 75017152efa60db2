"""`polaris mask` without models (full-image types) and its error handling."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from polaris_core.cli import main


def test_full_image_type_needs_no_models(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("POLARIS_SAM_PATH", raising=False)
    monkeypatch.delenv("POLARIS_CLIP_PATH", raising=False)
    image_path = tmp_path / "photo.jpg"
    Image.fromarray(np.full((30, 40, 3), 90, dtype=np.uint8)).save(image_path)
    out = tmp_path / "nested" / "out"
    assert main(["mask", str(image_path), "", "--out", str(out), "--type", "3"]) == 0
    assert "method: full_image" in capsys.readouterr().out
    mask = np.asarray(Image.open(out / "photo_mask.png"))
    assert mask.shape == (30, 40) and (mask == 255).all()
    overlay = np.asarray(Image.open(out / "photo_overlay.png"))
    assert overlay.shape == (30, 40, 3)
    assert json.loads((out / "photo_candidates.json").read_text())["candidates"][0]["source"] == "full_image"
    assert (out / "photo_candidate1.png").is_file()


def test_bad_inputs_exit_with_a_message(tmp_path, caplog, monkeypatch):
    monkeypatch.delenv("POLARIS_SAM_PATH", raising=False)
    monkeypatch.delenv("POLARIS_CLIP_PATH", raising=False)
    not_image = tmp_path / "readme.png"
    not_image.write_text("hello")
    assert main(["mask", str(not_image), "a cat", "--out", str(tmp_path / "o"), "--type", "3"]) == 1
    assert "not an image" in caplog.text
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(good)
    assert main(["mask", str(good), "a cat", "--out", str(tmp_path / "o")]) == 1
    assert "POLARIS_CLIP_PATH" in caplog.text
    assert not (tmp_path / "o").exists()  # nothing half-written
