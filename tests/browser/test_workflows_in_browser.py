"""Polaris as a user meets it in ComfyUI's web page: the node menu, the shipped workflows, and what nodes show.

Every test runs on each frontend (the one ComfyUI pins and the newest) with each node renderer (classic canvas and
Vue), see conftest.py. Runs cost minutes on a CPU: every workflow runs on the pinned frontend's classic renderer,
and the local-edit workflow, which holds every stage node, runs in the three other combinations.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest
from frontends import COMBINATIONS, PINNED_FRONTEND

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
EVERY_STAGE = ROOT / "workflows" / "polaris-local-edit.json"  # holds every Polaris node a run shows text on
RUNS = [(f, r, path) for f, r in COMBINATIONS for path in WORKFLOWS
        if path == EVERY_STAGE or (f, r) == (PINNED_FRONTEND, "classic")]
OPENS = [(f, r, [p for p in WORKFLOWS if (f, r, p) not in RUNS]) for f, r in COMBINATIONS]
OPENS = [(f, r, paths) for f, r, paths in OPENS if paths]
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
    # The search box a double click on the canvas opens, through its command: playwright's double click on the
    # canvas did not open it with 1.58.1's Vue renderer.
    page.evaluate("() => window.app.extensionManager.command.execute('Workspace.SearchBox.Toggle')")
    search = page.locator("input[placeholder*='Search'], input[placeholder='Add a node...'], "
                          ".comfy-vue-node-search-container input").first
    search.wait_for(state="visible", timeout=10_000)
    search.fill("Polaris")
    page.wait_for_timeout(800)
    listed = page.locator(".comfy-vue-node-search-box li, .p-autocomplete-option, [role=option]").all_inner_texts()
    shown = "\n".join(listed)
    missing = [name for name in POLARIS_NODES.values() if name not in shown]
    comfy_page.screenshot("node-search")
    assert not missing, f"the node search does not list {missing}; it shows:\n{shown[:2000]}"
    assert not [e for e in comfy_page.console_errors if "olaris" in e], comfy_page.console_errors


def check_opens_clean(page, path: Path) -> list[dict]:
    """Drop a shipped workflow on the canvas: no dialog, no error badge, valid widget values, no overlapping node."""
    page.drop_workflow(path)
    nodes = page.nodes()
    shipped = json.loads(path.read_text())

    assert not page.visible_dialogs(), f"a dialog opened over {path.name}: {page.visible_dialogs()}"
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
    page.fit_view()
    page.screenshot(f"{path.stem}-opened")
    return nodes


def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["left"] >= outer["left"] - slack and inner["top"] >= outer["top"] - slack
            and inner["right"] <= outer["right"] + slack and inner["bottom"] <= outer["bottom"] + slack)


def escaping_boxes(boxes: list[dict]) -> list[str]:
    """Text boxes and previews that reach out of their node or their group (screen pixels), said in words."""
    out = []
    for node in boxes:
        shown = [("text box", node["text_box"])] if node["text_box"] else []
        shown += [("preview image", rect) for rect in node["images"]]
        for what, rect in shown:
            for holder, name in ((node["node"], "node"), (node["group"], f"group {node['group_title']!r}")):
                if holder is None:
                    out.append(f"{node['title']} is in no group")
                elif not inside(rect, holder):
                    out.append(f"{node['title']}: its {what} {fmt(rect)} leaves its {name} {fmt(holder)}")
    return out


def fmt(rect: dict) -> str:
    return "[{left:.0f},{top:.0f} to {right:.0f},{bottom:.0f}]".format(**rect)


@pytest.mark.parametrize(("frontend", "renderer", "paths"), OPENS,
                         ids=[f"{f}-{r}" for f, r, _ in OPENS])
def test_shipped_workflows_open_clean(comfy_page, paths):
    for path in paths:
        check_opens_clean(comfy_page, path)
    assert not [e for e in comfy_page.console_errors if "olaris" in e], comfy_page.console_errors


@pytest.mark.parametrize(("frontend", "renderer", "path"), RUNS,
                         ids=[f"{f}-{r}-{p.stem}" for f, r, p in RUNS])
def test_shipped_workflow_opens_clean_runs_and_every_node_shows_its_work(comfy_page, browser_server, path):
    nodes = check_opens_clean(comfy_page, path)
    shrink_for_cpu(comfy_page, nodes)
    # ComfyUI does not resend the output of a node it reuses from its cache, and the integration tier ran the
    # same graphs on this server: free the cache so every node runs and shows its work.
    browser_server.post("/free", {"free_memory": True, "unload_models": False})
    comfy_page.page.wait_for_timeout(1500)  # the server's worker resets its cache when it wakes for the flag
    entry = comfy_page.run_and_wait()
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-3000:]

    # What each node shows is read from the page: the text in its text box on screen, where the box and the
    # previews are drawn. The whole graph is in view, as a user sees it after "fit view".
    comfy_page.fit_view()
    boxes = comfy_page.shown_boxes()
    assert {b["type"] for b in boxes} == {n["type"] for n in nodes if n["type"].startswith("Polaris")}
    assert all(b["vue"] == (comfy_page.renderer == "vue") for b in boxes), \
        f"the {comfy_page.renderer} renderer did not draw the nodes: {[(b['title'], b['vue']) for b in boxes]}"
    for box in boxes:
        text = box["text"] or ""
        sent = [m for m in comfy_page.executed_messages() if str(m.get("node")) == str(box["id"])]
        assert box["text_shown"], f"{box['title']}'s text box is not on the page"
        assert text.strip(), f"{box['title']} shows no text after the run; the server sent it: {sent}"
        for word in SHOWN_AFTER_RUN.get(box["type"], ()):
            assert word in text, f"{box['title']} does not show {word!r}; it shows:\n{text[:1500]}"
    with_previews = {b["type"] for b in boxes if b["images"]}
    expected_previews = {"PolarisRetrieveLoRA", "PolarisMaskRegion"} & {b["type"] for b in boxes}
    assert expected_previews <= with_previews, f"no preview image on {expected_previews - with_previews}"
    assert not [e for e in comfy_page.console_errors if "olaris" in e], comfy_page.console_errors
    shot = comfy_page.screenshot(f"{path.stem}-after-run")
    assert shot.stat().st_size > 10_000
    escaping = escaping_boxes(boxes)
    assert not escaping, "text or previews leave their node or group (see " + shot.name + "):\n" + "\n".join(escaping)
    comfy_page.focus_node("PolarisTreeRerank")
    comfy_page.screenshot(f"{path.stem}-rerank")
