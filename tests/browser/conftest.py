"""The browser tier: ComfyUI's real frontend in headless Chromium (Debian's package, driven by pip playwright).

Never `playwright install`: it downloads browsers. `scripts/setup_env.sh` installs Debian's chromium; a machine
where it is missing fails this tier with one line that says how to install it, never a quiet skip.

Two frontends, each with two node renderers: the frontend ComfyUI 0.3.75 pins (its comfyui-frontend-package) and
the newest on the registry (unpacked by setup_env.sh into .cache/, served with `main.py --front-end-root`), with
the classic canvas renderer and the Vue one ("Nodes 2.0", the `Comfy.VueNodes.Enabled` setting). One server per
frontend, one at a time; the renderer is switched through the settings API before each page opens.
"""
from __future__ import annotations

import json
import os
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pytest
from chromium_launch import launch_chromium
from frontends import COMBINATIONS, FRONTENDS, NEWEST_FRONTEND, NEWEST_FRONTEND_ROOT, PINNED_FRONTEND

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


def pytest_generate_tests(metafunc):
    """Every test that opens the page runs on every (frontend, renderer), unless it parametrizes them itself."""
    if "comfy_page" not in metafunc.fixturenames:
        return
    if any("frontend" in str(m.args[0]) for m in metafunc.definition.iter_markers("parametrize")):
        return
    metafunc.parametrize(("frontend", "renderer"), COMBINATIONS, ids=[f"{f}-{r}" for f, r in COMBINATIONS])


def pytest_collection_modifyitems(items):
    """All tests of one frontend before the next, so each frontend's server starts once (stable otherwise)."""
    where = [i for i, item in enumerate(items)
             if hasattr(item, "callspec") and "frontend" in item.callspec.params]
    ordered = sorted((items[i] for i in where), key=lambda item: FRONTENDS.index(item.callspec.params["frontend"]))
    for i, item in zip(where, ordered):
        items[i] = item


def served_page(server) -> str:
    with urllib.request.urlopen(server.url + "/", timeout=30) as resp:
        return resp.read().decode()


class FrontendServers:
    """One ComfyUI server per frontend, one running at a time besides the shared one (RAM: each loads SD1.5).

    The pinned frontend is the server shared with the integration tier (tests/conftest.py). The newest is a second
    server on the same base folder, started once the shared one let go of its models.
    """

    def __init__(self, shared, base: Path):
        self.shared, self.base, self.newest = shared, base, None

    def get(self, frontend: str):
        if frontend == PINNED_FRONTEND:
            self.stop_newest()
            server = self.shared
            if getattr(server, "frontend", None) != frontend:
                import comfyui_frontend_package

                installed = version("comfyui-frontend-package")
                assert installed == PINNED_FRONTEND, f"ComfyUI's frontend package is {installed}, not {PINNED_FRONTEND}"
                index = Path(comfyui_frontend_package.__file__).parent / "static" / "index.html"
                assert served_page(server) == index.read_text(), f"the server does not serve frontend {frontend}"
        elif frontend == NEWEST_FRONTEND:
            if self.newest is None:
                self.newest = self.start_newest()
            server = self.newest
        else:
            raise ValueError(f"no frontend {frontend!r}; the tier knows {FRONTENDS}")
        if getattr(server, "frontend", None) != frontend:
            # No first-run template browser or tour over the canvas, and the new menu with its Run button.
            # Text stays drawn when a whole workflow is zoomed to fit a screenshot; no minimap over the graph.
            for key, value in {"Comfy.TutorialCompleted": True, "Comfy.UseNewMenu": "Top",
                               "Comfy.Workflow.ShowMissingNodesWarning": True, "Comfy.Minimap.Visible": False,
                               "LiteGraph.Canvas.MinFontSizeForLOD": 0}.items():
                server.post(f"/settings/{key}", value)
            server.frontend = frontend
        return server

    def start_newest(self):
        from comfy_host import ComfyServer

        if not (NEWEST_FRONTEND_ROOT / "index.html").is_file():
            pytest.fail(f"frontend {NEWEST_FRONTEND} not found at {NEWEST_FRONTEND_ROOT}: run "
                        "`bash scripts/setup_env.sh`", pytrace=False)
        self.shared.post("/free", {"unload_models": True, "free_memory": True})
        server = ComfyServer(self.base, extra_args=("--front-end-root", str(NEWEST_FRONTEND_ROOT)),
                             log_name=f"server-frontend-{NEWEST_FRONTEND}.log").start()
        assert served_page(server) == (NEWEST_FRONTEND_ROOT / "index.html").read_text(), \
            f"the server does not serve frontend {NEWEST_FRONTEND} from {NEWEST_FRONTEND_ROOT}"
        return server

    def stop_newest(self):
        if self.newest is not None:
            self.newest.stop()
            self.newest = None


@pytest.fixture(scope="session")
def frontend_servers(comfy_server, comfy_base):
    servers = FrontendServers(comfy_server, comfy_base)
    yield servers
    servers.stop_newest()


@pytest.fixture
def browser_server(frontend_servers, frontend):
    """A real ComfyUI server serving `frontend` (a parameter of each test: see pytest_generate_tests)."""
    return frontend_servers.get(frontend)


class ComfyPage:
    """A playwright Page on ComfyUI, with what the tests read through it."""

    def __init__(self, page, server, renderer: str):
        self.page = page
        self.server = server
        self.frontend = server.frontend
        self.renderer = renderer
        # Screenshots of the pinned frontend's classic renderer keep their plain names (the README's pictures and
        # the template thumbnails come from them); the other combinations are named after themselves.
        self.shot_suffix = "" if (self.frontend, renderer) == (PINNED_FRONTEND, "classic") else \
            f"--{self.frontend}-{renderer}"
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
        vue = self.page.evaluate("() => window.app.extensionManager.setting.get('Comfy.VueNodes.Enabled')")
        assert vue == (self.renderer == "vue"), f"the page's Comfy.VueNodes.Enabled is {vue}, not {self.renderer}"
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

    def shown_boxes(self) -> list[dict]:
        """What each Polaris node shows on the page, in screen pixels: its text box (the DOM element and the text in
        it), its preview images, its own rect and its group's.

        With the Vue renderer a node is a DOM element and its previews are <img> elements in it; with the classic
        renderer a node and its previews are drawn on the canvas, so their rects come from the graph's coordinates
        (the canvas draws a preview inside its widget's area) through the canvas's own transform.
        """
        return self.page.evaluate(
            """() => {
                const app = window.app, canvas = app.canvas, box = canvas.canvas.getBoundingClientRect();
                const titleHeight = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
                const onScreen = (x, y, w, h) => {
                    const [ox, oy] = canvas.ds.offset, s = canvas.ds.scale;
                    return {left: box.left + (x + ox) * s, top: box.top + (y + oy) * s,
                            right: box.left + (x + w + ox) * s, bottom: box.top + (y + h + oy) * s};
                };
                const plain = (r) => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom});
                const groups = app.graph._groups ?? app.graph.groups ?? [];
                return app.graph._nodes.filter(n => n.type.startsWith('Polaris')).map(n => {
                    const element = document.querySelector(`.lg-node[data-node-id="${n.id}"]`);
                    const nodeRect = element ? plain(element.getBoundingClientRect())
                        : onScreen(n.pos[0], n.pos[1] - titleHeight, n.size[0], n.size[1] + titleHeight);
                    const widget = (n.widgets ?? []).find(w => w.name === 'polaris_output');
                    const textBox = widget?.element;
                    const style = textBox ? getComputedStyle(textBox) : null;
                    const shown = Boolean(textBox?.isConnected && textBox.getClientRects().length
                        && style.visibility !== 'hidden' && style.display !== 'none' && Number(style.opacity) > 0);
                    let images = [];
                    if (element) {
                        images = [...element.querySelectorAll('img')].filter(i => i.getClientRects().length)
                            .map(i => plain(i.getBoundingClientRect()));
                    } else if (n.imgs?.length) {
                        const preview = (n.widgets ?? []).find(w => w.name === '$$canvas-image-preview');
                        if (preview) images = [onScreen(n.pos[0], n.pos[1] + preview.y, n.size[0],
                                                        preview.computedHeight ?? 0)];
                        else images = [{left: NaN, top: NaN, right: NaN, bottom: NaN}];  // drawn where we cannot tell
                    }
                    const group = groups.find(g => { const [x, y, w, h] = g._bounding ?? g.bounding;
                        return n.pos[0] >= x && n.pos[0] < x + w && n.pos[1] >= y && n.pos[1] < y + h; });
                    return {id: n.id, type: n.type, title: n.title, vue: Boolean(element),
                            text: textBox ? textBox.value : null, text_shown: shown,
                            node: nodeRect, text_box: textBox && shown ? plain(textBox.getBoundingClientRect()) : null,
                            images, group_title: group?.title ?? null,
                            group: group ? onScreen(...(group._bounding ?? group.bounding)) : null};
                });
            }"""
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

    def screenshot(self, name: str, element=None, clip=None) -> Path:
        """Save a screenshot of the page (or of `element`, or of `clip`) named for this frontend and renderer."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}{self.shot_suffix}.png"
        if element is not None:
            self.page.locator(element).screenshot(path=str(target))
        else:
            self.page.screenshot(path=str(target), clip=clip)
        return target


@pytest.fixture
def comfy_page(browser, browser_server, renderer):
    browser_server.post("/settings/Comfy.VueNodes.Enabled", renderer == "vue")
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script("localStorage.setItem('vueNodesBannerDismissed', 'true')")  # a one-off announcement
    page = ComfyPage(context.new_page(), browser_server, renderer).open()
    yield page
    context.close()
