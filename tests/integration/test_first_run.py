"""A new user's first Run: a fresh ComfyUI with models in checkpoints/ and loras/ and no Polaris index yet.

The shipped text-to-image API workflow names the index 'my-zoo'; it must validate, build the index on its first run
and make an image. POLARIS_SERVER_PYTHON runs the server with another Python (a clean environment holding only
ComfyUI's requirements and Polaris's requirements.txt, as ComfyUI-Manager installs it).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory, sd15_checkpoint, lora_files):
    from comfy_host import ComfyServer, ComfyUIMissing, require_comfyui

    try:
        require_comfyui()
    except ComfyUIMissing as exc:
        pytest.fail(str(exc))
    base = tmp_path_factory.mktemp("fresh-install")
    for sub in ("checkpoints", "loras"):
        (base / "models" / sub).mkdir(parents=True)
    os.symlink(sd15_checkpoint, base / "models" / "checkpoints" / sd15_checkpoint.name)
    for path in lora_files.values():
        shutil.copy(path, base / "models" / "loras" / path.name)
    server = ComfyServer(base, python=os.environ.get("POLARIS_SERVER_PYTHON", sys.executable)).start()
    yield server
    server.stop()


def _text_to_image() -> dict:
    prompt = json.loads((ROOT / "workflows" / "api" / "polaris-text-to-image.json").read_text())
    for node in prompt.values():
        if "steps" in node["inputs"]:
            node["inputs"]["steps"] = 1
        if node["class_type"] == "EmptyLatentImage":
            node["inputs"].update(width=64, height=64)
    return prompt


def _node_id(prompt: dict, class_type: str) -> str:
    return next(k for k, node in prompt.items() if node["class_type"] == class_type)


def test_first_run_of_the_shipped_workflow_builds_the_index_and_makes_an_image(fresh_server):
    index_folder = Path(fresh_server.base_dir) / "models" / "polaris" / "indexes" / "my-zoo"
    assert not index_folder.exists()
    prompt = _text_to_image()
    entry = fresh_server.run_prompt(prompt, timeout=1500)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-3000:] + fresh_server.log()[-3000:]
    outputs = entry["outputs"]
    load_text = "".join(outputs[_node_id(prompt, "PolarisLoadIndex")]["text"])
    assert "first run: built 'my-zoo' from models/checkpoints and models/loras" in load_text, load_text
    assert "1 checkpoint" in load_text and "lora" in load_text, load_text
    image = outputs[_node_id(prompt, "SaveImage")]["images"][0]
    saved = Path(fresh_server.base_dir) / image["type"] / image["subfolder"] / image["filename"]
    assert np.asarray(Image.open(saved)).shape == (64, 64, 3)
    assert (index_folder / "vectorstore.json").is_file()

    again = fresh_server.run_prompt(_text_to_image(), timeout=1500)  # later runs load the built index
    assert again["status"]["status_str"] == "success", json.dumps(again["status"])[-3000:]
    load_id = _node_id(prompt, "PolarisLoadIndex")
    assert load_id in again["outputs"], "the index's fingerprint changed, so ComfyUI ran Load Zoo Index again"
    later_text = "".join(again["outputs"][load_id]["text"])
    assert "index: my-zoo" in later_text and "first run" not in later_text, later_text
