"""The Zoo sidebar's /polaris/... routes on a real ComfyUI server: results, bounds, previews, builds, plans."""
from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from zoo_sidebar_fixtures import HOSTILE_NAME, HOSTILE_TRIGGER, build_index, hostile_entries, wait_build


def request(server, method: str, path: str, payload=None, raw: bytes | None = None, timeout: float = 60.0):
    """(status, headers, body bytes) for any answer, errors included."""
    data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def search(server, **payload):
    status, _, body = request(server, "POST", "/polaris/search", {"index": "demo", **payload})
    return status, json.loads(body)


@pytest.fixture(scope="module")
def hostile_index(comfy_server, tmp_path_factory):
    """An index in the server's models/polaris/indexes with hostile text and escaping preview paths."""
    models = comfy_server.base_dir / "models"
    outside = tmp_path_factory.mktemp("outside-models")
    build_index(hostile_entries(models / "loras", outside), models / "polaris" / "indexes" / "hostile")
    return "hostile"


def test_search_finds_the_demo_model_and_shows_why(comfy_server):
    status, page = search(comfy_server, query="ukiyoe print of mount fuji, woodblock", kind="lora", k=5)
    assert status == 200, page
    first = page["results"][0]
    assert first["name"] == "Edo Woodblock Print"
    assert first["author"] == "tin_lantern" and first["family"] == "sd15"
    assert "ukiyoe print" in first["triggers"]
    assert {"lexical", "names"} <= set(first["channels"]) and first["previews"] >= 1
    assert len(page["results"]) == 5 and page["more"] is True


def test_family_filter_and_paging(comfy_server):
    status, page = search(comfy_server, query="portrait photo", kind="checkpoint", family="sdxl", k=3)
    assert status == 200 and page["results"]
    assert {r["family"] for r in page["results"]} == {"sdxl"}
    status, all_pages = search(comfy_server, query="portrait photo", kind="checkpoint", k=6)
    status, second = search(comfy_server, query="portrait photo", kind="checkpoint", k=3, page=1)
    assert [r["id"] for r in second["results"]] == [r["id"] for r in all_pages["results"][3:6]]
    # An empty query browses the zoo: one card per model, no scores.
    status, browse = search(comfy_server, query="", kind="embedding", k=50)
    assert status == 200 and len(browse["results"]) == 4 and browse["results"][0]["score"] is None


def test_entry_details(comfy_server):
    _, page = search(comfy_server, query="ukiyoe woodblock", kind="lora", k=1)
    entry_id = page["results"][0]["id"]
    detail = comfy_server.get(f"/polaris/entry?index=demo&id={urllib.parse.quote(entry_id)}")
    assert detail["name"] == "Edo Woodblock Print"
    assert detail["description"] and "<p>" not in detail["description"]  # HTML stripped at ingest
    assert detail["example_prompts"]
    assert set(detail["hashes"]) == {"sha256", "autov2", "autov3"}
    siblings = {s["name"] for s in detail["siblings"]}
    assert "Cathedral Glass" in siblings and "Edo Woodblock Print" not in siblings  # tin_lantern's others
    status, _, body = request(comfy_server, "GET", "/polaris/entry?index=demo&id=civitai:nope")
    assert status == 404 and json.loads(body)["error"]


@pytest.mark.parametrize("payload, status", [
    ({"query": "x" * 501}, 400),                       # oversized query
    ({"query": "cat", "k": 0}, 400),                   # k out of range
    ({"query": "cat", "k": 51}, 400),
    ({"query": "cat", "k": "many"}, 400),
    ({"query": "cat", "k": 2.5}, 400),
    ({"query": "cat", "k": "--5"}, 400),               # passed an isdigit precheck, then failed in int(): a 500
    ({"query": "cat", "k": "\u00b2"}, 400),
    ({"query": "cat", "page": "9" * 5000}, 400),
    ({"query": "cat", "page": 20}, 400),
    ({"query": "cat", "kind": "vae"}, 400),
    ({"query": ["cat"]}, 400),
    ({"query": "cat", "family": "f" * 33}, 400),
    ({"query": "cat", "index": "no-such-index"}, 404),  # unknown index
    ({"query": "cat", "index": "../../etc"}, 400),
    ({"query": "cat", "index": ""}, 400),
])
def test_search_rejects_bad_input(comfy_server, payload, status):
    got, page = search(comfy_server, **payload)
    assert got == status, page
    assert page["error"] and "Traceback" not in page["error"]


def test_bodies_are_bounded(comfy_server):
    big = json.dumps({"index": "demo", "query": "cat", "pad": "x" * 20000}).encode()
    status, _, body = request(comfy_server, "POST", "/polaris/search", raw=big)
    assert status == 400 and "larger than" in json.loads(body)["error"]
    status, _, body = request(comfy_server, "POST", "/polaris/search", raw=b"{not json")
    assert status == 400
    for route in ("/polaris/search", "/polaris/plan", "/polaris/index/build"):  # RecursionError was a 500
        status, _, body = request(comfy_server, "POST", route, raw=b"[" * 5000 + b"]" * 5000)
        assert status == 400 and "nests too deeply" in json.loads(body)["error"], (route, body)
        status, _, body = request(comfy_server, "POST", route, raw=b'{"a":' * 2000 + b"1" + b"}" * 2000)
        assert status == 400, (route, body)
    status, _, body = request(comfy_server, "POST", "/polaris/plan", {"index": "demo", "instruction": "y" * 1001})
    assert status == 400


def test_demo_preview_is_served(comfy_server):
    _, page = search(comfy_server, query="ukiyoe woodblock", kind="lora", k=1)
    entry_id = urllib.parse.quote(page["results"][0]["id"])
    status, headers, body = request(comfy_server, "GET", f"/polaris/preview?index=demo&id={entry_id}&n=0")
    assert status == 200 and headers["Content-Type"] == "image/png" and body[:4] == b"\x89PNG"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_preview_refuses_everything_outside_the_model_folders(comfy_server, hostile_index):
    ok = request(comfy_server, "GET", "/polaris/preview?index=hostile&id=hostile:1&n=0")
    assert ok[0] == 200 and ok[2][:4] == b"\x89PNG"  # a preview inside models/loras
    refused = [
        "/polaris/preview?index=hostile&id=hostile:2&n=0",        # a symlink out of models/loras
        "/polaris/preview?index=hostile&id=hostile:3&n=0",        # .. out of models/loras
        "/polaris/preview?index=hostile&id=hostile:4&n=0",        # an absolute path elsewhere
        "/polaris/preview?index=hostile&id=hostile:4&n=1",        # /etc/passwd
        "/polaris/preview?index=hostile&id=hostile:4&n=2",        # a relative path
        "/polaris/preview?index=hostile&id=hostile:1&n=1",        # no such preview
        "/polaris/preview?index=hostile&id=hostile:1&n=-1",
        "/polaris/preview?index=hostile&id=hostile:1&n=x",
        "/polaris/preview?index=hostile&id=../../../../etc/passwd&n=0",
        "/polaris/preview?index=hostile&id=/etc/passwd&n=0",
        "/polaris/preview?index=../../../../etc&id=passwd&n=0",
        "/polaris/preview?index=%2Fetc&id=passwd&n=0",
        "/polaris/preview?index=no-such-index&id=hostile:1&n=0",
        "/polaris/preview?index=demo&id=hostile:1&n=0",
        "/polaris/preview",
    ]
    answers = {path: request(comfy_server, "GET", path) for path in refused}
    for path, (status, _, _body) in answers.items():
        assert status == 404, path
    # The same answer for a file that exists but is forbidden and for one that does not exist.
    assert len({body for _, _, body in answers.values()}) == 1


def test_hostile_text_comes_back_as_plain_data(comfy_server, hostile_index):
    status, page = search(comfy_server, index="hostile", query="lanternglow festival", kind="lora", k=10)
    assert status == 200
    evil = next(r for r in page["results"] if r["id"] == "hostile:1")
    assert evil["name"] == HOSTILE_NAME and HOSTILE_TRIGGER in evil["triggers"]


def test_fifty_concurrent_searches(comfy_server):
    queries = [f"{word} painting, detailed" for word in
               ("watercolor", "ukiyoe", "pixel", "clay", "noir", "neon", "glass", "dragon", "castle", "snow")]

    def one(i: int):
        return search(comfy_server, query=queries[i % len(queries)], kind=("lora", "checkpoint")[i % 2], k=10)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(one, range(50)))
    assert all(status == 200 and page["results"] for status, page in answers), answers[:3]
    # The server's queue stayed responsive throughout.
    assert comfy_server.get("/queue")["queue_running"] == []


def test_index_cache_reloads_when_the_folder_changes(comfy_server, tmp_path):
    from polaris_core.zoo.entry import ZooEntry

    folder = comfy_server.base_dir / "models" / "polaris" / "indexes" / "reload"
    common = dict(kind="lora", base_family="sd15", role="style")
    build_index([ZooEntry(id="r:1", name="Saffron Teapots", example_prompts=["a saffron teapot"], **common)],
                folder)
    assert search(comfy_server, index="reload", query="teapot", kind="lora")[1]["results"][0]["id"] == "r:1"
    build_index([ZooEntry(id="r:2", name="Cobalt Teapots", example_prompts=["a cobalt teapot"], **common)],
                folder)
    assert [r["id"] for r in search(comfy_server, index="reload", query="teapot", kind="lora")[1]["results"]] \
        == ["r:2"]


def test_build_from_model_folders_with_progress_events(comfy_server):
    import aiohttp

    async def build_and_listen():
        events = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(comfy_server.url + "/ws?clientId=zoo-routes-test") as ws:
                async with session.post(comfy_server.url + "/polaris/index/build",
                                        json={"name": "route-built", "scan_checkpoints": True,
                                              "scan_loras": True}) as resp:
                    assert resp.status == 202, await resp.text()
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    msg = await ws.receive(timeout=600)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    data = json.loads(msg.data)
                    if data.get("type") == "polaris.index.progress":
                        events.append(data["data"])
                        if data["data"]["state"] != "running":
                            return events
        return events

    events = asyncio.run(build_and_listen())
    assert events[0]["state"] == "running" and events[-1]["state"] == "done", events[-1]
    assert any(0 < e["step"] < e["total"] for e in events if e["total"])
    assert "skipped" in events[-1]["summary"]
    listed = {i["name"]: i for i in comfy_server.get("/polaris/indexes")["indexes"]}
    built = listed["route-built"]
    assert built["counts"]["checkpoint"] == 1 and built["counts"]["lora"] == 2
    assert "skipped" in built["last_build"]["summary"]
    status, page = search(comfy_server, index="route-built", query="pcorgi", kind="lora", k=2)
    assert page["results"][0]["file_name"] == "polaris-corgi.safetensors"


def test_build_input_is_bounded(comfy_server, tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("{}\n")
    link = comfy_server.base_dir / "input" / "escape.jsonl"
    if not link.is_symlink():
        link.symlink_to(outside)  # inside input/ by name, outside once followed
    for payload in ({"name": "x", "catalogs": "escape.jsonl"}, {"name": "x", "catalogs": str(link)},
                    {"name": "x", "catalogs": "missing.jsonl"}, {"name": "x", "catalogs": "notes.txt"},
                    {"name": "../escape"}, {"name": "demo"}, {"name": "x", "scan_checkpoints": "yes"},
                    {"name": "x", "scan_checkpoints": False, "scan_loras": False},
                    {"name": "x", "catalogs": "/etc/passwd"}, {"name": "x", "catalogs": "../../secret.jsonl"},
                    {"name": "x", "catalogs": "c" * 4001}):
        status, _, body = request(comfy_server, "POST", "/polaris/index/build", payload)
        assert status == 400, (payload, body)


def test_cancel_leaves_nothing_half_written(comfy_server, shared_data):
    """A build of the 21.7K-entry catalog (from ComfyUI's input folder), cancelled at once."""
    catalog = comfy_server.base_dir / "input" / "civitai-sfw.jsonl.gz"
    if not catalog.exists():  # a copy: a symlink out of the input folder is refused, as the node refuses it
        shutil.copyfile(shared_data / "zoo" / "civitai-2023-sfw.jsonl.gz", catalog)
    wait_build(comfy_server)
    status, _, body = request(comfy_server, "POST", "/polaris/index/build",
                              {"name": "to-cancel", "scan_checkpoints": False, "scan_loras": False,
                               "catalogs": "civitai-sfw.jsonl.gz"})
    assert status == 202, body
    cancelled = json.loads(request(comfy_server, "POST", "/polaris/index/cancel", {})[2])
    assert cancelled["index"] == "to-cancel"
    final = wait_build(comfy_server)
    assert final["state"] == "cancelled", final
    assert "unchanged" in final["message"]
    assert "to-cancel" not in {i["name"] for i in comfy_server.get("/polaris/indexes")["indexes"]}


def test_plan_and_its_workflows(comfy_server):
    built = wait_build(comfy_server)
    if "route-built" not in {i["name"] for i in comfy_server.get("/polaris/indexes")["indexes"]}:
        request(comfy_server, "POST", "/polaris/index/build", {"name": "route-built"})
        built = wait_build(comfy_server)
    assert built["state"] in ("done", "idle", "cancelled")
    status, _, body = request(comfy_server, "POST", "/polaris/plan",
                              {"index": "route-built", "instruction": "Turn the dog into a pcorgi corgi"})
    plan = json.loads(body)
    assert status == 200, plan
    assert plan["checkpoint"]["load_name"] == "sd15-random.safetensors"
    assert [lora["load_name"] for lora in plan["loras"]] == ["polaris-corgi.safetensors"]
    assert "pcorgi" in plan["prompt"] and plan["reranked"] is False
    info = comfy_server.get("/object_info")
    for template in ("text-to-image", "local-edit"):
        prompt = plan["workflows"][template]
        for node in prompt.values():
            spec = info[node["class_type"]]["input"]
            assert set(node["inputs"]) <= set(spec.get("required", {})) | set(spec.get("optional", {}))
        loaders = [n["inputs"] for n in prompt.values() if n["class_type"] == "LoraLoader"]
        assert loaders == [{**loaders[0], "lora_name": "polaris-corgi.safetensors"}]
    status, _, body = request(comfy_server, "POST", "/polaris/plan", {"index": "demo", "instruction": ""})
    assert status == 400


def test_plan_with_the_llm_rerank(comfy_server):
    """The optional LLM step follows Tree Rerank's rule: a judge whose measured weight is about zero is skipped,
    and the plan says which model, what was measured and what to do."""
    status, _, body = request(comfy_server, "POST", "/polaris/plan",
                              {"index": "demo", "instruction": "Make the whole picture look like a ukiyo-e "
                                                               "woodblock print", "rerank": True}, timeout=600)
    plan = json.loads(body)
    assert status == 200, plan
    assert "SmolLM2" in plan["judge"] and "rerank_ms" in plan["timings"]
    assert plan["reranked"] is ("skipped" not in plan["judge"])  # a skipped judge says how to connect a better one
    assert "skipped" not in plan["judge"] or "Load LLM" in plan["judge"]
    # Demo entries are catalog models: shown with their notes, never planned (no workflow could load them).
    assert plan["loras"] == [] and plan["candidates"]["style_lora"]
    assert not plan["candidates"]["style_lora"][0]["installed"]
    assert any("not installed" in note for note in plan["notes"])
    assert "no local checkpoint" in plan["workflow_problems"]["text-to-image"]


# ---- issue 21: a CLI build beside a sidebar build, names, and what the browser sees -----------------------
def test_a_sidebar_build_beside_a_cli_build_of_the_same_folder_is_refused(comfy_server, tmp_path):
    from index_race import release, start_paused_build, wait_at_commit

    from polaris_core.demo import demo_catalog_path

    models = comfy_server.base_dir / "models"
    folder = models / "polaris" / "indexes" / "cli-race"
    signals = tmp_path / "signals"
    wait_build(comfy_server)
    cli = start_paused_build(["index", "build", "--catalog", str(demo_catalog_path()), "--out", str(folder),
                              "--cache", str(models / "polaris" / "cache")], signals)
    try:
        wait_at_commit(cli, signals)
        status, _, body = request(comfy_server, "POST", "/polaris/index/build",
                                  {"name": "cli-race", "scan_checkpoints": False})
        assert status == 202, body
        final = wait_build(comfy_server)
        assert final["state"] == "failed", final
        assert ("models/polaris/indexes/cli-race is being built by `polaris index build` (command line) "
                f"(process {cli.pid} on") in final["message"], final
        assert str(comfy_server.base_dir) not in json.dumps(final)
    finally:
        code, _, err = release(cli, signals)
    assert code == 0, err[-2000:]
    status, page = search(comfy_server, index="cli-race", query="ukiyoe print", kind="lora", k=3)
    assert status == 200 and page["results"], page


def test_build_status_names_folders_relatively_and_never_the_users_files(comfy_server):
    notes = comfy_server.base_dir / "models" / "polaris" / "indexes" / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "my-notes.txt").write_text("private")
    wait_build(comfy_server)
    status, _, body = request(comfy_server, "POST", "/polaris/index/build", {"name": "notes"})
    assert status == 202, body
    final = wait_build(comfy_server)
    assert final["state"] == "failed" and "models/polaris/indexes/notes is not empty" in final["message"], final
    assert "my-notes.txt" not in json.dumps(final) and str(comfy_server.base_dir) not in json.dumps(final)
    assert sorted(p.name for p in notes.iterdir()) == ["my-notes.txt"]


@pytest.mark.parametrize("name", ["x" * 300, ".hidden", "demo", "bad\x1b[31mname"])
def test_bad_index_names_are_a_clear_400(comfy_server, name):
    status, _, body = request(comfy_server, "POST", "/polaris/index/build", {"name": name})
    assert status == 400, body
    message = json.loads(body)["error"]
    assert "OSError" not in message and str(comfy_server.base_dir) not in message
    if name != "demo":
        status, _, body = request(comfy_server, "POST", "/polaris/search", {"index": name})
        assert status == 400, body
