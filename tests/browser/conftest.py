"""The browser tier: ComfyUI's real frontend in headless Chromium (Debian's package, driven by pip playwright).

Never `playwright install`: it downloads browsers. `scripts/setup_env.sh` installs Debian's chromium; a machine
where it is missing fails this tier with one line that says how to install it, never a quiet skip.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from chromium_launch import launch_chromium

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("POLARIS_SCREENSHOTS", ROOT / "tests" / "browser" / "screenshots"))
VIEWPORT = {"width": 1920, "height": 1080}


@pytest.fixture(scope="session")
def playwright_driver():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `bash scripts/setup_env.sh` (pip package only; never "
                    "`playwright install`).", pytrace=False)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver):
    launched = launch_chromium(playwright_driver)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def browser_server(comfy_server):
    """The real ComfyUI server shared with the integration tier (tests/conftest.py), UI settings for tests."""
    # No first-run template browser over the canvas, and the new menu with its Run button.
    # Text stays drawn when a whole workflow is zoomed to fit a screenshot; no minimap over the graph.
    for key, value in {"Comfy.TutorialCompleted": True, "Comfy.UseNewMenu": "Top",
                       "Comfy.Workflow.ShowMissingNodesWarning": True, "Comfy.Minimap.Visible": False,
                       "LiteGraph.Canvas.MinFontSizeForLOD": 0}.items():
        comfy_server.post(f"/settings/{key}", value)
    return comfy_server


class ComfyPage:
    """A playwright Page on ComfyUI, with what the tests read through it."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.console_errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))

    def __getattr__(self, name):
        return getattr(self.page, name)

    def open(self) -> "ComfyPage":
        self.page.goto(self.server.url, wait_until="domcontentloaded")
        self.page.wait_for_function("() => window.app && window.app.graph && window.app.canvas "
                                    "&& document.querySelector('#graph-canvas')", timeout=60_000)
        self.page.wait_for_timeout(500)  # extensions finish their setup hooks
        # Keep every `executed` message the page receives, to tell a server that sent nothing from a node
        # that showed nothing.
        self.page.evaluate("""() => { window.__polarisExecuted = [];
            window.app.api.addEventListener('executed', e => window.__polarisExecuted.push(e.detail)); }""")
        return self

    def executed_messages(self) -> list[dict]:
        return self.page.evaluate("() => window.__polarisExecuted")

    def drop_workflow(self, path: Path) -> None:
        """Drop a workflow file onto the canvas, as a user drags it from their file manager."""
        text = path.read_text(encoding="utf-8")
        self.page.evaluate(
            """([name, text]) => {
                const canvas = document.querySelector('#graph-canvas');
                const box = canvas.getBoundingClientRect();
                const data = new DataTransfer();
                data.items.add(new File([text], name, {type: 'application/json'}));
                const at = {clientX: box.left + box.width / 2, clientY: box.top + box.height / 2};
                for (const type of ['dragenter', 'dragover', 'drop']) {
                    canvas.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true,
                                                              ...at}));
                }
            }""",
            [path.name, text],
        )
        self.page.wait_for_function("(n) => window.app.graph._nodes.length === n",
                                    arg=len(json.loads(text)["nodes"]), timeout=30_000)
        self.page.wait_for_timeout(800)

    def nodes(self) -> list[dict]:
        """What the canvas holds: type, title, bounds, widget values, error state, the Polaris text box."""
        return self.page.evaluate(
            """() => window.app.graph._nodes.map(n => {
                const titleHeight = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
                const widgets = (n.widgets ?? []).map(w => ({
                    name: w.name, type: w.type, value: w.value,
                    options: Array.isArray(w.options?.values) ? w.options.values : null}));
                return {id: n.id, type: n.type, title: n.title, mode: n.mode,
                        x: n.pos[0], y: n.pos[1] - titleHeight, w: n.size[0], h: n.size[1] + titleHeight,
                        has_errors: Boolean(n.has_errors), widgets,
                        text: (n.widgets ?? []).find(w => w.name === 'polaris_output')?.value ?? null};
            })"""
        )

    def set_widget(self, node_id: int, name: str, value) -> None:
        self.page.evaluate(
            """([id, name, value]) => {
                const node = window.app.graph.getNodeById(id);
                const widget = node.widgets.find(w => w.name === name);
                if (!widget) throw new Error(`node ${id} has no widget ${name}`);
                widget.value = value;
                widget.callback?.(value);
            }""",
            [node_id, name, value],
        )

    def visible_dialogs(self) -> list[str]:
        return self.page.evaluate(
            """() => [...document.querySelectorAll('.p-dialog, [role=dialog]')]
                    .filter(d => d.offsetParent !== null).map(d => d.innerText.slice(0, 300))"""
        )

    def run_and_wait(self, timeout_s: float = 900.0) -> dict:
        """Press Run, wait until the server's queue is empty, and return the new /history entry."""
        before = set(self.server.get("/history"))
        self.page.get_by_role("button", name="Run", exact=True).first.click()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            history = self.server.get("/history")
            new = [pid for pid in history if pid not in before]
            queue = self.server.get("/queue")
            if new and not queue["queue_running"] and not queue["queue_pending"]:
                self.page.wait_for_timeout(1000)  # the last `executed` messages reach the page
                return history[new[0]]
            time.sleep(1.0)
        raise TimeoutError(f"the run did not finish in {timeout_s:.0f}s:\n{self.server.log()[-3000:]}")

    def fit_view(self) -> None:
        """Zoom the canvas so the whole graph shows, as a user would before a screenshot."""
        self.page.evaluate(
            """() => {
                const nodes = window.app.graph._nodes;
                const xs = nodes.flatMap(n => [n.pos[0], n.pos[0] + n.size[0]]);
                const ys = nodes.flatMap(n => [n.pos[1] - 40, n.pos[1] + n.size[1]]);
                for (const g of window.app.graph._groups ?? []) {
                    const [gx, gy, gw, gh] = g._bounding ?? g.bounding; xs.push(gx, gx + gw); ys.push(gy, gy + gh);
                }
                const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
                const canvas = window.app.canvas; const el = canvas.canvas;
                // The side bar and the top menu float over the canvas: keep the graph clear of them.
                const [left, top, right, bottom] = [90, 110, 40, 40];
                const scale = Math.min((el.clientWidth - left - right) / (x1 - x0),
                                       (el.clientHeight - top - bottom) / (y1 - y0));
                canvas.ds.scale = scale;
                canvas.ds.offset[0] = -x0 + left / scale;
                canvas.ds.offset[1] = -y0 + top / scale;
                canvas.setDirty(true, true);
            }"""
        )
        self.page.wait_for_timeout(500)

    def focus_node(self, node_type: str, scale: float = 1.0) -> None:
        """Zoom to a node of `node_type` at the top left of the canvas, to read what it shows."""
        self.page.evaluate(
            """([type, scale]) => {
                const node = window.app.graph._nodes.find(n => n.type === type);
                const canvas = window.app.canvas;
                canvas.ds.scale = scale;
                canvas.ds.offset[0] = -node.pos[0] + 80 / scale;
                canvas.ds.offset[1] = -node.pos[1] + 130 / scale;
                canvas.setDirty(true, true);
            }""",
            [node_type, scale],
        )
        self.page.wait_for_timeout(500)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(target))
        return target


@pytest.fixture
def comfy_page(browser, browser_server):
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script("localStorage.setItem('vueNodesBannerDismissed', 'true')")  # a one-off announcement
    page = ComfyPage(context.new_page(), browser_server).open()
    yield page
    context.close()
