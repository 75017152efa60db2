"""The shipped workflows: valid against the live server, and run end to end in API mode on CPU."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

FIXTURE_LORAS = ("polaris-watercolor", "polaris-corgi")  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
IMAGE_SCORE = re.compile(r"\bimage -?\d\.\d\d")  # an image-channel score in a ranked table's "found by" column


def expected_widget_count(spec: dict) -> int:
    count = 0
    for section in ("required", "optional"):
        for definition in spec["input"].get(section, {}).values():
            options = definition[1] if len(definition) > 1 else {}
            if isinstance(definition[0], list) or definition[0] in WIDGET_TYPES:
                count += 1 + bool(options.get("control_after_generate")) + bool(options.get("image_upload"))
    return count


def test_three_workflows_ship_in_both_formats():
    names = {p.stem for p in WORKFLOWS}
    assert names == {"polaris-text-to-image", "polaris-local-edit", "polaris-style-from-reference"}
    assert names == {p.stem for p in (ROOT / "workflows" / "api").glob("*.json")}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_ui_workflow_matches_object_info(comfy_server, path):
    info = comfy_server.get("/object_info")
    workflow = json.loads(path.read_text())
    for node in workflow["nodes"]:
        assert node["type"] in info, f"{node['type']} is not a node this server knows"
        assert len(node["widgets_values"]) == expected_widget_count(info[node["type"]]), node["type"]
    node_ids = {n["id"] for n in workflow["nodes"]}
    for link_id, src, src_slot, dst, dst_slot, kind in workflow["links"]:
        assert src in node_ids and dst in node_ids
        src_type = next(n["type"] for n in workflow["nodes"] if n["id"] == src)
        assert info[src_type]["output"][src_slot] == kind


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_api_workflow_inputs_exist(comfy_server, path):
    info = comfy_server.get("/object_info")
    prompt = json.loads((ROOT / "workflows" / "api" / path.name).read_text())
    for node in prompt.values():
        spec = info[node["class_type"]]["input"]
        known = {**spec.get("required", {}), **spec.get("optional", {})}
        assert set(node["inputs"]) <= set(known), node["class_type"]
        assert set(spec.get("required", {})) <= set(node["inputs"]), node["class_type"]


def _fast(prompt: dict) -> dict:
    """1 sampling step at 64 px, a tiny SAM grid and thresholds random weights can pass."""
    for node in prompt.values():
        inputs, kind = node["inputs"], node["class_type"]
        if "steps" in inputs:
            inputs["steps"] = 1
        if kind == "EmptyLatentImage":
            inputs.update(width=64, height=64)
        if kind == "LoadImage":  # the shipped 768x512 examples → the test's small images
            inputs["image"] = {"polaris-example.png": "example.png", "polaris-reference.png": "reference.png"}[
                inputs["image"]]
        if kind == "PolarisMaskRegion":
            inputs.update(points_per_side=2, min_predicted_iou=0.0, min_stability=0.0, max_overlap=1.0,
                          grow_px=0.0, feather_px=0.0)
    return prompt


def _run(server, name: str) -> tuple[dict, dict]:
    prompt = _fast(json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text()))
    entry = server.run_prompt(prompt, timeout=1500)
    status = entry.get("status", {})
    assert status.get("status_str") == "success", json.dumps(status)[-3000:] + server.log()[-3000:]
    return prompt, entry["outputs"]


def _saved(server, outputs: dict, node_id: str) -> np.ndarray:
    image = outputs[node_id]["images"][0]
    path = Path(server.base_dir) / image["type"] / image["subfolder"] / image["filename"]
    return np.asarray(Image.open(path).convert("RGB"))


def _node_id(prompt: dict, class_type: str, prefix: str | None = None) -> str:
    for node_id, node in prompt.items():
        if node["class_type"] == class_type and (prefix is None or node["inputs"].get("filename_prefix") == prefix):
            return node_id
    raise KeyError(class_type)


def _chosen_loras(prompt: dict, outputs: dict) -> str:
    return "".join(outputs[_node_id(prompt, "PolarisApplyPlan")]["text"])


def test_text_to_image_runs_with_retrieved_models(comfy_server):
    prompt, outputs = _run(comfy_server, "polaris-text-to-image")
    assert _saved(comfy_server, outputs, _node_id(prompt, "SaveImage")).shape == (64, 64, 3)
    applied = _chosen_loras(prompt, outputs)
    assert "sd15-random.safetensors" in applied
    assert any(f"{name}.safetensors" in applied for name in FIXTURE_LORAS), applied


def test_local_edit_keeps_pixels_outside_the_mask(comfy_server):
    prompt, outputs = _run(comfy_server, "polaris-local-edit")
    source = np.asarray(Image.open(Path(comfy_server.base_dir) / "input" / "example.png").convert("RGB"))
    edited = _saved(comfy_server, outputs, _node_id(prompt, "SaveImage", "polaris/edit"))
    mask = _saved(comfy_server, outputs, _node_id(prompt, "SaveImage", "polaris/mask"))[..., 0]
    assert edited.shape == source.shape
    outside = mask == 0
    assert outside.any(), "the mask covers the whole image, so the check below would be empty"
    assert np.array_equal(edited[outside], source[outside])
    assert not np.array_equal(edited[~outside], source[~outside])
    assert any(f"{name}.safetensors" in _chosen_loras(prompt, outputs) for name in FIXTURE_LORAS)


def test_style_from_reference_uses_the_image_channel(comfy_server):
    prompt, outputs = _run(comfy_server, "polaris-style-from-reference")
    assert _saved(comfy_server, outputs, _node_id(prompt, "SaveImage")).shape == (64, 64, 3)
    assert any(f"{name}.safetensors" in _chosen_loras(prompt, outputs) for name in FIXTURE_LORAS)
    index_text = "".join(outputs[_node_id(prompt, "PolarisLoadIndex")]["text"])
    assert "image channel: on" in index_text, index_text
    lora_text = "".join(outputs[_node_id(prompt, "PolarisRetrieveLoRA")]["text"])
    # The reference image was compared with the LoRAs' preview vectors: an "image" score in the found-by column.
    assert IMAGE_SCORE.search(lora_text) and "searched by text instead" not in lora_text, lora_text


def test_image_query_without_clip_says_it_fell_back_to_text(comfy_server):
    prompt = _fast(json.loads((ROOT / "workflows" / "api" / "polaris-style-from-reference.json").read_text()))
    index_id = _node_id(prompt, "PolarisLoadIndex")
    del prompt[index_id]["inputs"]["clip"]
    entry = comfy_server.run_prompt(prompt, timeout=1500)
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-3000:]
    lora_text = "".join(entry["outputs"][_node_id(prompt, "PolarisRetrieveLoRA")]["text"])
    assert "no CLIP model is attached to the index; searched by text instead" in lora_text, lora_text
    assert not IMAGE_SCORE.search(lora_text), lora_text


def test_api_example_script_edits_an_uploaded_image(comfy_server, tmp_path):
    import subprocess
    import sys

    source = tmp_path / "photo.png"
    Image.open(Path(comfy_server.base_dir) / "input" / "reference.png").save(source)
    out = tmp_path / "edited.png"
    fast = ["PolarisInpaintMasked.steps=1", "PolarisMaskRegion.points_per_side=2",
            "PolarisMaskRegion.min_predicted_iou=0", "PolarisMaskRegion.min_stability=0"]
    cmd = [sys.executable, str(ROOT / "scripts" / "api_example.py"), "--server", comfy_server.url,
           "--image", str(source), "--instruction", "Replace the box with a red sneaker", "--out", str(out)]
    for item in fast:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr + comfy_server.log()[-2000:]
    assert np.asarray(Image.open(out)).shape[:2] == np.asarray(Image.open(source)).shape[:2]
