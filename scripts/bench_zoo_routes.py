"""Benchmark the Zoo sidebar end to end: /polaris/search over HTTP, and first cards painted in the browser.

    python scripts/bench_zoo_routes.py --index-dir /tmp/catalog-index \\
        --queries ../shared/data/bench/lora-retrieval-dev.jsonl [--n 300] [--browser-queries 20]

Starts a throwaway ComfyUI (`main.py --cpu`, see tests/comfy_host.py) whose models/polaris/indexes/bench
links to --index-dir, or uses a running one with --server URL --index NAME. Prints:
- search latency over HTTP (query encoding, retrieval, JSON, one new connection per request), p50/p90/p99;
- 50 concurrent searches: errors and per-request latency;
- with playwright and Chromium: last keystroke → first result cards painted, typing as a user would.
No figure is asserted anywhere; the README quotes what this prints.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def post(url: str, path: str, payload: dict, timeout: float = 120.0) -> tuple[int, dict, float]:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            body = json.loads(resp.read())
            status = resp.status
    except urllib.error.HTTPError as exc:
        body, status = {"error": exc.read().decode(errors="replace")}, exc.code
    return status, body, (time.perf_counter() - started) * 1000


def load_queries(path: Path, n: int) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            query = json.loads(line).get("query", "")
            if query.strip():
                out.append(query[:500])
            if len(out) >= n:
                break
    return out


def bench_http(url: str, index: str, kind: str, queries: list[str], first_timeout: float = 900.0) -> None:
    # The first search loads the index (149 s for a million entries before packed entry files): its own timeout.
    status, body, first = post(url, "/polaris/search", {"index": index, "query": queries[0], "kind": kind, "k": 20},
                               timeout=first_timeout)
    if status != 200:
        raise SystemExit(f"search failed ({status}): {body}")
    print(f"first search (loads the index and the encoder): {first:.0f} ms")
    for query in queries[1:6]:  # warm the encoder's shapes
        post(url, "/polaris/search", {"index": index, "query": query, "kind": kind, "k": 20})
    wall, server = [], []
    for query in queries:
        status, body, ms = post(url, "/polaris/search", {"index": index, "query": query, "kind": kind, "k": 20})
        if status != 200:
            raise SystemExit(f"search failed ({status}): {body}")
        wall.append(ms)
        server.append(body["took_ms"])
    print(f"search over HTTP, {len(wall)} {kind} queries, k=20, sequential: p50 {percentile(wall, 50):.1f} ms, "
          f"p90 {percentile(wall, 90):.1f} ms, p99 {percentile(wall, 99):.1f} ms, max {max(wall):.1f} ms "
          f"(inside the core: p50 {percentile(server, 50):.1f} ms, p99 {percentile(server, 99):.1f} ms)")
    batch = queries[:50]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda q: post(url, "/polaris/search",
                                               {"index": index, "query": q, "kind": kind, "k": 20}), batch))
    total = (time.perf_counter() - started) * 1000
    errors = sum(1 for status, _, _ in answers if status != 200)
    latencies = [ms for _, _, ms in answers]
    print(f"50 concurrent searches: {errors} errors, all answered in {total:.0f} ms; per request p50 "
          f"{percentile(latencies, 50):.0f} ms, p99 {percentile(latencies, 99):.0f} ms (queued: 2 CPU cores)")


def bench_browser(url: str, index: str, queries: list[str]) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser: playwright is not installed; skipped")
        return
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from chromium_launch import launch_chromium  # the browser tier's own lookup, flags and one-line failures

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.add_init_script("localStorage.setItem('vueNodesBannerDismissed', 'true')")
        page.goto(url)
        page.wait_for_function("window.app && window.app.graph && window.app.extensionManager", timeout=120_000)
        page.keyboard.press("Escape")
        page.click('button.side-bar-button[aria-label*="Polaris Zoo"]')
        page.wait_for_selector(f'.pz-index-select option[value="{index}"]', state="attached", timeout=120_000)
        page.select_option(".pz-index-select", index)
        page.evaluate("() => document.addEventListener('keydown', "
                      "() => { window.__lastKey = performance.now(); }, true)")
        box = page.locator(".pz-query")
        delays = []
        for query in queries:
            text = " ".join(query.split()[:8])  # what someone types into a search box
            box.fill("")
            box.press_sequentially(text, delay=60)
            page.wait_for_function("q => document.querySelector('.pz-results').dataset.query === q", arg=text.strip(),
                                   timeout=60_000)
            page.wait_for_function("q => window.__polarisZoo.paints.some(p => p.query === q)", arg=text.strip())
            painted = page.evaluate("q => window.__polarisZoo.paints.filter(p => p.query === q).pop().paintedAt",
                                    text.strip())
            delays.append(painted - page.evaluate("window.__lastKey"))
        browser.close()
    print(f"browser, {len(delays)} queries typed at 60 ms per key: first cards painted after the last keystroke "
          f"p50 {percentile(delays, 50):.0f} ms, p90 {percentile(delays, 90):.0f} ms, max {max(delays):.0f} ms "
          "(60 ms of it is the typing pause the sidebar waits for)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, help="an index folder from `polaris index build`")
    parser.add_argument("--server", help="a running ComfyUI with Polaris (default: start one)")
    parser.add_argument("--index", default="bench", help="the index name on --server")
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared" / "data" / "bench" /
                        "lora-retrieval-dev.jsonl")
    parser.add_argument("--kind", default="lora", choices=("lora", "checkpoint", "embedding"))
    parser.add_argument("--n", type=int, default=300, help="sequential HTTP queries")
    parser.add_argument("--first-timeout", type=float, default=900.0,
                        help="seconds to wait for the first search, which loads the index (default 900)")
    parser.add_argument("--browser-queries", type=int, default=20, help="queries typed in the browser (0: skip)")
    args = parser.parse_args()
    queries = load_queries(args.queries, max(args.n, 50))
    server = None
    url = args.server
    if url is None:
        if args.index_dir is None or not (args.index_dir / "vectorstore.json").is_file():
            raise SystemExit("Give --index-dir (an index folder) or --server URL.")
        sys.path.insert(0, str(ROOT / "tests"))
        from comfy_host import ComfyServer

        base = Path(tempfile.mkdtemp(prefix="polaris-bench-zoo-"))
        indexes = base / "models" / "polaris" / "indexes"
        indexes.mkdir(parents=True)
        (indexes / args.index).symlink_to(args.index_dir.resolve(), target_is_directory=True)
        server = ComfyServer(base).start()
        url = server.url
        urllib.request.urlopen(urllib.request.Request(url + "/settings/Comfy.TutorialCompleted", data=b"true",
                                                      method="POST")).read()
    try:
        bench_http(url, args.index, args.kind, queries[: args.n], args.first_timeout)
        if args.browser_queries:
            bench_browser(url, args.index, queries[-args.browser_queries:])
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
