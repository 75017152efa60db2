"""The Polaris Zoo sidebar in ComfyUI's real frontend (headless Chromium): search, filters, the graph,
instruction mode, index builds, and hostile metadata shown as text."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from frontends import FRONTENDS

from zoo_sidebar_fixtures import (HOSTILE_AUTHOR, HOSTILE_DESCRIPTION, HOSTILE_NAME, HOSTILE_PROMPT,
                                  HOSTILE_TRIGGER, build_index, hostile_entries, wait_build)

# The sidebar's own panels do not depend on the node renderer: those tests run on each frontend's classic renderer.
# Searching, adding to the graph and building run on every (frontend, renderer).
PER_FRONTEND = pytest.mark.parametrize(("frontend", "renderer"), [(f, "classic") for f in FRONTENDS],
                                       ids=[f"{f}-classic" for f in FRONTENDS])
SIDEBAR_BUTTON = 'button.side-bar-button[aria-label*="Polaris Zoo"]'


@pytest.fixture(scope="module")
def fixture_index(comfy_server) -> str:
    """An index over the server's fixture checkpoint and LoRAs, built through the route (every frontend's server
    shares the base folder)."""
    wait_build(comfy_server)
    comfy_server.post("/polaris/index/build", {"name": "fixture-zoo"})
    status = wait_build(comfy_server)
    assert status["state"] == "done", status
    return "fixture-zoo"


@pytest.fixture(scope="module")
def hostile_index(comfy_base, tmp_path_factory) -> str:
    models = Path(comfy_base) / "models"
    build_index(hostile_entries(models / "loras", tmp_path_factory.mktemp("outside")),
                models / "polaris" / "indexes" / "hostile")
    return "hostile"


def open_sidebar(page):
    page.click(SIDEBAR_BUTTON)
    page.wait_for_selector(".pz-root .pz-card", timeout=120_000)
    return page


def search(page, query: str, delay_ms: int = 0):
    """Type a query as a user would and wait until its results are on screen."""
    box = page.locator(".pz-query")
    box.fill("")
    box.press_sequentially(query, delay=delay_ms)
    page.wait_for_function("q => document.querySelector('.pz-results').dataset.query === q", arg=query,
                           timeout=60_000)


def card_names(page) -> list[str]:
    return page.locator(".pz-results .pz-card .pz-name-text").all_text_contents()


def choose_index(page, name: str):
    page.wait_for_selector(f'.pz-index-select option[value="{name}"]', state="attached", timeout=60_000)
    page.select_option(".pz-index-select", name)


def polaris_errors(page) -> list[str]:
    """Console errors caused by the sidebar (the frontend logs some of its own on an offline machine)."""
    return [e for e in page.console_errors if "polaris" in e.lower() or "/zoo/" in e]


@PER_FRONTEND
def test_open_sidebar(comfy_page):
    page = open_sidebar(comfy_page)
    assert page.locator(".pz-title").text_content() == "Polaris Zoo"
    assert page.locator(".pz-index-select").input_value() == "demo"
    assert page.locator(".pz-results .pz-card").count() == 20  # browsing the demo zoo before any query
    assert polaris_errors(page) == []


def test_search_as_you_type_puts_the_expected_model_first(comfy_page):
    page = open_sidebar(comfy_page)
    search(page, "woodblock")  # the server's first text query loads the encoder: not what is timed below
    page.evaluate("() => { window.__lastKey = 0; document.addEventListener('keydown', "
                  "() => { window.__lastKey = performance.now(); }, true); }")
    search(page, "ukiyoe print of a wave, woodblock", delay_ms=40)
    assert card_names(page)[0] == "Edo Woodblock Print"
    first = page.locator(".pz-results .pz-card").first
    assert first.locator(".pz-chip-text").all_text_contents() == ["ukiyoe print", "woodblock"]
    channels = first.locator(".pz-channel").evaluate_all("els => els.map(e => e.dataset.channel)")
    assert {"lexical", "names", "dense"} <= set(channels)
    # The preview is served by the route and decoded by the browser.
    page.wait_for_function("() => { const img = document.querySelector('.pz-card img.pz-thumb');"
                           " return img && img.complete && img.naturalWidth > 0; }", timeout=30_000)
    # Previews load lazily: the last card's waits until it is scrolled into view.
    last_src = "() => [...document.querySelectorAll('.pz-card img.pz-thumb')].pop().getAttribute('src')"
    assert page.evaluate(last_src) is None
    page.locator(".pz-results .pz-card").last.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({last_src})() !== null", timeout=10_000)
    page.locator(".pz-results .pz-card").first.scroll_into_view_if_needed()
    painted = page.evaluate("q => window.__polarisZoo.paints.filter(p => p.query === q).pop()",
                            "ukiyoe print of a wave, woodblock")
    last_key = page.evaluate("window.__lastKey")
    print(f"\nfirst cards painted {painted['paintedAt'] - last_key:.0f} ms after the last keystroke "
          "(demo zoo, test machine)")
    page.screenshot("zoo-sidebar-search", clip={"x": 0, "y": 0, "width": 1100, "height": 720})
    page.screenshot("zoo-sidebar", element=".pz-root")
    assert polaris_errors(page) == []


@PER_FRONTEND
def test_filter_by_family(comfy_page):
    page = open_sidebar(comfy_page)
    page.select_option(".pz-kind-select", "checkpoint")
    search(page, "portrait photo, soft light")
    families = page.locator(".pz-family-select option").evaluate_all("els => els.map(e => e.value)")
    assert {"", "sd15", "sdxl"} <= set(families)
    all_families = set(page.locator(".pz-results .pz-card").evaluate_all("els => els.map(e => e.dataset.family)"))
    assert all_families == {"sd15", "sdxl"}
    page.select_option(".pz-family-select", "sdxl")
    page.wait_for_function("() => [...document.querySelectorAll('.pz-results .pz-card')]"
                           ".every(c => c.dataset.family === 'sdxl')", timeout=30_000)
    names = card_names(page)
    assert names and "Lumen Photoreal XL" in names and "Lumen Photoreal" not in names


def test_add_lora_to_graph_by_button_and_by_drag(comfy_page, fixture_index):
    page = open_sidebar(comfy_page)
    choose_index(page, fixture_index)
    search(page, "pcorgi")
    assert card_names(page)[0] == "polaris-corgi"
    before = page.evaluate("window.app.graph._nodes.length")
    page.locator(".pz-results .pz-card").first.locator(".pz-add").click()
    loras = page.evaluate("window.app.graph._nodes.filter(n => n.type === 'LoraLoader')"
                          ".map(n => n.widgets.find(w => w.name === 'lora_name').value)")
    assert loras == ["polaris-corgi.safetensors"]
    assert page.evaluate("window.app.graph._nodes.length") == before + 1
    # With a node selected, the next one goes beside it.
    anchor = page.evaluate("""() => { const n = window.app.graph._nodes.find(n => n.type === 'KSampler');
        window.app.canvas.deselectAll?.(); window.app.canvas.selectNode(n);
        return [n.pos[0] + n.size[0], n.pos[1]]; }""")
    page.locator(".pz-results .pz-card").first.locator(".pz-add").click()
    placed = page.evaluate("window.app.graph._nodes.filter(n => n.type === 'LoraLoader').pop().pos")
    assert anchor[0] < placed[0] <= anchor[0] + 100 and placed[1] == anchor[1]
    before += 1
    # Drag the checkpoint card onto the canvas: a CheckpointLoaderSimple appears where it was dropped.
    page.select_option(".pz-kind-select", "checkpoint")
    search(page, "random fixture")
    canvas = page.locator("#graph-canvas")
    box = canvas.bounding_box()
    page.locator(".pz-results .pz-card").first.drag_to(
        canvas, target_position={"x": box["width"] * 0.6, "y": box["height"] * 0.8})
    checkpoints = page.evaluate("window.app.graph._nodes.filter(n => n.type === 'CheckpointLoaderSimple')"
                                ".map(n => n.widgets.find(w => w.name === 'ckpt_name').value)")
    assert "sd15-random.safetensors" in checkpoints
    assert page.evaluate("window.app.graph._nodes.length") == before + 2
    assert polaris_errors(page) == []


def test_instruction_mode_opens_a_workflow_that_runs(comfy_page, fixture_index, browser_server):
    page = open_sidebar(comfy_page)
    choose_index(page, fixture_index)
    page.click('.pz-tab[data-tab="instruct"]')
    page.fill(".pz-instruction", "Turn the dog into a pcorgi corgi")
    page.click(".pz-plan-run")
    page.wait_for_selector(".pz-plan-choice", timeout=120_000)
    slots = page.locator(".pz-plan-choice").evaluate_all("els => els.map(e => e.dataset.slot)")
    assert slots == ["checkpoint", "object_lora"]
    assert "pcorgi" in page.locator(".pz-prompt-text").first.text_content()
    page.screenshot("zoo-sidebar-plan", element=".pz-root")
    page.click('.pz-open[data-template="text-to-image"]')
    page.wait_for_function("window.app.graph._nodes.some(n => n.type === 'LoraLoader')", timeout=30_000)
    graph = page.evaluate("""() => Object.fromEntries(window.app.graph._nodes.map(n =>
        [n.type, Object.fromEntries((n.widgets || []).map(w => [w.name, w.value]))]))""")
    assert graph["CheckpointLoaderSimple"]["ckpt_name"] == "sd15-random.safetensors"
    assert graph["LoraLoader"]["lora_name"] == "polaris-corgi.safetensors"
    assert "pcorgi" in graph["CLIPTextEncode"]["text"] or any(
        "pcorgi" in n for n in page.evaluate("window.app.graph._nodes.filter(n => n.type === 'CLIPTextEncode')"
                                             ".map(n => n.widgets[0].value)"))
    # Small settings, then queue the loaded graph as the Run button would.
    page.evaluate("""() => { for (const n of window.app.graph._nodes) for (const w of n.widgets || []) {
        if (w.name === 'steps') w.value = 1;
        if (n.type === 'EmptyLatentImage' && (w.name === 'width' || w.name === 'height')) w.value = 64;
        if (w.name === 'filename_prefix') w.value = 'polaris/sidebar-plan'; } }""")
    before = set(browser_server.get("/history"))
    page.evaluate("window.app.queuePrompt(0)")
    deadline = time.monotonic() + 900
    entry = None
    while time.monotonic() < deadline:
        new = {k: v for k, v in browser_server.get("/history").items() if k not in before}
        done = [v for v in new.values() if v.get("status", {}).get("completed") is not None
                or v.get("status", {}).get("status_str") == "error"]
        if done:
            entry = done[0]
            break
        time.sleep(1)
    assert entry is not None, "the plan's workflow did not finish"
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-2000:]
    images = [img for out in entry["outputs"].values() for img in out.get("images", [])]
    assert images and images[0]["filename"].startswith("sidebar-plan")
    # The local-edit graph: the same models, the mask from the instruction, the plan's prompt inpainted.
    page.click('.pz-open[data-template="local-edit"]')
    page.wait_for_function("window.app.graph._nodes.some(n => n.type === 'PolarisInpaintMasked')", timeout=30_000)
    edit = page.evaluate("""() => Object.fromEntries(window.app.graph._nodes.map(n =>
        [n.type, Object.fromEntries((n.widgets || []).map(w => [w.name, w.value]))]))""")
    assert edit["LoraLoader"]["lora_name"] == "polaris-corgi.safetensors"
    assert edit["PolarisParseInstruction"]["instruction"] == "Turn the dog into a pcorgi corgi"
    assert "pcorgi" in edit["PolarisInpaintMasked"]["prompt"]
    assert page.evaluate("window.app.graph.links && Object.keys(window.app.graph.links).length") >= 10


def test_build_an_index_from_the_sidebar(comfy_page, browser_server):
    wait_build(browser_server)
    page = open_sidebar(comfy_page)
    page.click(SIDEBAR_BUTTON)  # closed and opened again: the progress must reach the panel on screen
    page.wait_for_selector(".pz-root", state="detached", timeout=10_000)
    open_sidebar(page)
    page.click('.pz-tab[data-tab="indexes"]')
    page.fill(".pz-build-name", "sidebar-built")
    page.click(".pz-build")
    # A small build can finish before a poll sees it running; either way the bar must end at 100%.
    page.wait_for_selector('.pz-progress[data-state="running"], .pz-build-state[data-state="done"]',
                           state="attached", timeout=30_000)
    page.wait_for_selector('.pz-build-state[data-state="done"]', timeout=600_000)
    assert page.locator(".pz-progress").get_attribute("aria-valuenow") == "100"
    assert "skipped 0" in page.locator(".pz-build-summary").text_content()
    page.wait_for_selector('.pz-index[data-name="sidebar-built"]', timeout=30_000)
    assert "1 checkpoint, 2 lora" in page.locator('.pz-index[data-name="sidebar-built"] .pz-meta').text_content()
    page.screenshot("zoo-sidebar-indexes", element=".pz-root")
    assert polaris_errors(page) == []


@PER_FRONTEND
def test_hostile_metadata_is_shown_as_text_and_never_runs(comfy_page, hostile_index):
    page = open_sidebar(comfy_page)
    choose_index(page, hostile_index)
    search(page, "lanternglow lantern festival")
    evil = page.locator('.pz-card[data-id="hostile:1"]')
    assert evil.locator(".pz-name-text").text_content() == HOSTILE_NAME
    assert HOSTILE_TRIGGER in evil.locator(".pz-chip-text").all_text_contents()
    assert HOSTILE_AUTHOR in evil.locator(".pz-meta").text_content()
    evil.click()
    page.wait_for_selector('.pz-detail[data-id="hostile:1"]', timeout=30_000)
    detail = page.locator(".pz-detail")
    assert detail.locator(".pz-detail-name").text_content() == HOSTILE_NAME
    assert detail.locator(".pz-description").text_content() == HOSTILE_DESCRIPTION
    assert HOSTILE_PROMPT in detail.locator(".pz-prompt").first.text_content()
    page.screenshot("zoo-sidebar-hostile", element=".pz-root")
    # Nothing was parsed as markup: no element from the metadata exists, nothing ran, no link is clickable.
    injected = page.evaluate("""() => document.querySelectorAll(
        '.pz-root script, .pz-root a, .pz-root svg, .pz-root b, .pz-root i:not(.pi), .pz-root img[src="x"],'
        + ' [onerror], [onload], [onmouseover]').length""")
    assert injected == 0
    detail.locator(".pz-description").hover()
    detail.locator(".pz-detail-name").hover()
    time.sleep(0.5)
    assert page.evaluate("window.__polarisPwned") is None
    assert polaris_errors(page) == []


LONG_AUTHOR = "Q" * 390  # one word: nothing to break at but the CSS


@pytest.fixture(scope="module")
def long_author_index(comfy_base) -> str:
    from polaris_core.zoo.entry import ZooEntry

    models = Path(comfy_base) / "models"
    common = dict(kind="lora", base_family="sd15", base_model="SD 1.5", role="style", author=LONG_AUTHOR)
    build_index([ZooEntry(id="long:1", name="Lantern glow study", trigger_words=["lanternglow"], **common),
                 ZooEntry(id="long:2", name="W" * 200, trigger_words=["lanternglow"], **common)],
                models / "polaris" / "indexes" / "long-author")
    return "long-author"


def overflowing(page) -> list[str]:
    """Classes of elements inside the sidebar that reach past its right edge (the sidebar would cut them off)."""
    return page.evaluate("""() => {
        const root = document.querySelector('.pz-root'), edge = root.getBoundingClientRect().right + 1;
        return [...root.querySelectorAll('*')].filter((e) => e.getClientRects().length
            && e.getBoundingClientRect().right > edge).map((e) => e.className || e.tagName);
    }""")


@PER_FRONTEND
def test_a_long_unbroken_author_name_wraps_in_cards_and_details(comfy_page, long_author_index):
    page = open_sidebar(comfy_page)
    choose_index(page, long_author_index)
    search(page, "lanternglow")
    assert overflowing(page) == []
    page.locator('.pz-card[data-id="long:1"]').click()
    page.wait_for_selector('.pz-detail[data-id="long:1"]', timeout=30_000)
    assert LONG_AUTHOR in page.locator(".pz-detail .pz-meta").text_content()
    assert page.locator(".pz-sibling").count() == 1
    assert overflowing(page) == []
    assert polaris_errors(page) == []
