"""Polaris as a user meets it in ComfyUI's web page: the node menu, the shipped workflows, and what nodes show."""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
POLARIS_NODES = {
    "PolarisLoadLLM": "Load LLM (Polaris)", "PolarisLoadCLIP": "Load CLIP (Polaris)",
    "PolarisLoadSAM": "Load SAM (Polaris)", "PolarisBuildIndex": "Build Zoo Index (Polaris)",
    "PolarisLoadIndex": "Load Zoo Index (Polaris)", "PolarisParseInstruction": "Parse Instruction (Polaris)",
    "PolarisMaskRegion": "Mask Region (Polaris)", "PolarisRetrieveCheckpoint": "Retrieve Checkpoint (Polaris)",
    "PolarisRetrieveLoRA": "Retrieve LoRA (Polaris)", "PolarisTreeRerank": "Tree Rerank (Polaris)",
    "PolarisApplyPlan": "Apply Plan (Polaris)", "PolarisInpaintMasked": "Inpaint Masked (Polaris)",
}
# What each Polaris node must show after a run (a word of each part the user needs to read).
SHOWN_AFTER_RUN = {
    "PolarisLoadLLM": ("LLM: (bundled SmolLM2-135M)", "parameters", "waits on:"),
    "PolarisLoadCLIP": ("CLIP: ViT-B-32.safetensors", "architecture: ViT-B-32", "waits on:"),
    "PolarisLoadSAM": ("SAM: sam_vit_b.safetensors", "architecture: vit_b", "waits on:"),
    "PolarisLoadIndex": ("index: my-zoo", "entries", "image channel:"),
    "PolarisParseInstruction": ("type:", "prompt:", "confidence:"),
    "PolarisMaskRegion": ("subject:", "score", "* = the region used"),
    "PolarisRetrieveCheckpoint": ("checkpoints (", "retr", "found by", "SD1.5 fixture"),
    "PolarisRetrieveLoRA": ("LoRAs (", "retr", "found by"),
    "PolarisTreeRerank": ("PLAN", "checkpoint:", "prompt:", "RANKED", "llm", "final"),
    "PolarisApplyPlan": ("checkpoint:", "loras:", "prompt:"),
    "PolarisInpaintMasked": ("inpainted", "inside the mask"),
}
SMALL_IMAGES = {"polaris-example.png": "example.png", "polaris-reference.png": "reference.png"}


def overlaps(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def shrink_for_cpu(page, nodes: list[dict]) -> None:
    """The test's own small settings, set in the browser: the shipped files stay as users get them."""
    for node in nodes:
        names = {w["name"] for w in node["widgets"]}
        if "steps" in names:
            page.set_widget(node["id"], "steps", 1)
        if node["type"] == "EmptyLatentImage":
            page.set_widget(node["id"], "width", 64)
            page.set_widget(node["id"], "height", 64)
        if node["type"] == "LoadImage":
            value = next(w["value"] for w in node["widgets"] if w["name"] == "image")
            page.set_widget(node["id"], "image", SMALL_IMAGES[value])
        if node["type"] == "PolarisMaskRegion":
            for name, value in {"points_per_side": 2, "min_predicted_iou": 0.0, "min_stability": 0.0,
                                "max_overlap": 1.0, "grow_px": 0.0, "feather_px": 0.0}.items():
                page.set_widget(node["id"], name, value)


def test_node_search_lists_every_polaris_node(comfy_page):
    page = comfy_page.page
    page.evaluate("() => { window.app.graph.clear(); window.app.canvas.setDirty(true, true); }")
    page.locator("#graph-canvas").dblclick(position={"x": 700, "y": 500})
    search = page.locator("input[placeholder*='Search'], .comfy-vue-node-search-container input").first
    search.wait_for(state="visible", timeout=10_000)
    search.fill("Polaris")
    page.wait_for_timeout(800)
    listed = page.locator(".comfy-vue-node-search-box li, .p-autocomplete-option, [role=option]").all_inner_texts()
    shown = "\n".join(listed)
    missing = [name for name in POLARIS_NODES.values() if name not in shown]
    comfy_page.screenshot("node-search")
    assert not missing, f"the node search does not list {missing}; it shows:\n{shown[:2000]}"
    assert not [e for e in comfy_page.console_errors if "olaris" in e], comfy_page.console_errors


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_shipped_workflow_opens_clean_runs_and_every_node_shows_its_work(comfy_page, browser_server, path):
    comfy_page.drop_workflow(path)
    nodes = comfy_page.nodes()
    shipped = json.loads(path.read_text())

    assert not comfy_page.visible_dialogs(), f"a dialog opened over {path.name}: {comfy_page.visible_dialogs()}"
    assert {n["type"] for n in nodes} == {n["type"] for n in shipped["nodes"]}
    for node in nodes:
        assert not node["has_errors"], f"{node['title']} shows an error badge"
        assert node["title"] != node["type"] or not node["type"].startswith("Polaris"), \
            f"{node['type']} is titled with its raw id"
        if node["type"] in POLARIS_NODES:
            assert node["title"] == POLARIS_NODES[node["type"]]
        for widget in node["widgets"]:
            if widget["options"] is not None:
                assert widget["value"] in widget["options"], \
                    f"{node['title']}: {widget['name']}={widget['value']!r} is not one of {widget['options'][:8]}"
    crowded = [(a["title"], b["title"]) for a, b in combinations(nodes, 2) if overlaps(a, b)]
    assert not crowded, f"nodes overlap on the canvas: {crowded}"
    left_to_right = [n["x"] for n in sorted(nodes, key=lambda n: n["id"])]
    assert left_to_right[0] == min(left_to_right), "the graph does not start with its inputs on the left"
    comfy_page.fit_view()
    comfy_page.screenshot(f"{path.stem}-opened")

    shrink_for_cpu(comfy_page, nodes)
    # ComfyUI does not resend the output of a node it reuses from its cache, and the integration tier ran the
    # same graphs on this server: free the cache so every node runs and shows its work.
    browser_server.post("/free", {"free_memory": True, "unload_models": False})
    comfy_page.page.wait_for_timeout(1500)  # the server's worker resets its cache when it wakes for the flag
    entry = comfy_page.run_and_wait()
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-3000:]

    after = {n["id"]: n for n in comfy_page.nodes()}
    for node in after.values():
        if not node["type"].startswith("Polaris"):
            continue
        text = node["text"] or ""
        sent = [m for m in comfy_page.executed_messages() if str(m.get("node")) == str(node["id"])]
        assert text.strip(), f"{node['title']} shows no text after the run; the server sent it: {sent}"
        for word in SHOWN_AFTER_RUN.get(node["type"], ()):
            assert word in text, f"{node['title']} does not show {word!r}; it shows:\n{text[:1500]}"
    assert not [e for e in comfy_page.console_errors if "olaris" in e], comfy_page.console_errors
    comfy_page.fit_view()
    shot = comfy_page.screenshot(f"{path.stem}-after-run")
    assert shot.stat().st_size > 10_000
    comfy_page.focus_node("PolarisTreeRerank")
    comfy_page.screenshot(f"{path.stem}-rerank")
