"""The Zoo sidebar's `/polaris/...` routes on ComfyUI's PromptServer, thin over `polaris_core.zoo_service`.

Every handler validates its input with fixed bounds, runs the core call off the event loop
(`asyncio.to_thread`), and answers JSON. Index builds run in one worker thread and report
progress over ComfyUI's websocket as `polaris.index.progress` events.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

from aiohttp import web

from polaris_core.errors import PolarisError, UnsafePathError
from polaris_core import zoo_service as zoo

from .comfy import folders, indexes, models

log = logging.getLogger("polaris")

DEMO = "demo"
MAX_BODY_BYTES = 16 * 1024
PROGRESS_EVENT = "polaris.index.progress"
WORKFLOW_DIR = Path(__file__).resolve().parents[1] / "workflows" / "api"
_NOT_FOUND = "Not found."

_cache = zoo.IndexCache()
_demo_lock = threading.Lock()
_builds: zoo.IndexBuilds | None = None
_registered = False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _status_of(exc: PolarisError) -> int:
    if isinstance(exc, zoo.ZooNotFound):
        return 404
    if isinstance(exc, zoo.BuildBusy):
        return 409
    if isinstance(exc, (zoo.ZooRequestError, UnsafePathError)):
        return 400
    return 422  # a core error about the zoo, the index or the plan: its message says what to do


def _handle_errors(handler):
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except PolarisError as exc:
            return _error(_status_of(exc), folders.public_message(str(exc)))
        except Exception:  # never leak a traceback to the page; the server log has it
            log.exception("zoo sidebar route %s failed", request.path)
            return _error(500, "Polaris hit an internal error; the ComfyUI log has the details.")
    wrapped.__name__ = handler.__name__
    return wrapped


async def _json_body(request: web.Request) -> dict:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise zoo.ZooRequestError(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise zoo.ZooRequestError(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        payload = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested past ~1000 levels
        raise zoo.ZooRequestError("The request body is not valid JSON (or nests too deeply).") from None
    if not isinstance(payload, dict):
        raise zoo.ZooRequestError("The request body must be a JSON object.")
    return payload


# ---------------------------------------------------------------- indexes by name
def _folder(name: str) -> Path:
    return indexes.demo_folder() if name == DEMO else indexes.index_folder(name)


def _index(name: str):
    """(index, search lock) for a name; the demo zoo is built on first use."""
    folder = _folder(name)
    if name == DEMO and zoo.folder_signature(folder) is None:
        with _demo_lock:  # concurrent first requests build it once
            if zoo.folder_signature(folder) is None:
                from polaris_core.pipeline import demo_index

                demo_index(folder, cache_dir=indexes.cache_folder(), label=indexes.index_label(DEMO))
    return _cache.get(folder)


def _model_roots() -> list[Path]:
    """Folders whose files the preview route may serve: ComfyUI's model folders for what is indexed."""
    roots = []
    for key in ("checkpoints", "loras", "embeddings"):
        roots += [Path(p) for p in folders.folder_list(key)]
    return roots


def _list_indexes() -> dict:
    out = []
    for name in [DEMO, *indexes.index_names()]:
        try:
            if name == DEMO:
                _index(DEMO)  # built on first use
            out.append(zoo.index_info(name, _folder(name)))
        except PolarisError as exc:
            out.append({"name": name, "error": folders.public_message(str(exc))})
    return {"indexes": out, "build": _builds.status() if _builds else zoo.BuildStatus().to_dict()}


def _search(request: zoo.SearchRequest) -> dict:
    index, lock = _index(request.index)
    with lock:
        return zoo.search_index(index, request)


def _entry(name: str, wanted: str) -> dict:
    index, lock = _index(name)
    with lock:
        return zoo.entry_detail(index, wanted)


def _preview(name: str, wanted: str, number: int):
    try:
        index, _ = _index(name)
    except PolarisError:
        return None
    return zoo.preview_file(index, wanted, number, _model_roots())


def _managed_llm():
    """The bundled LLM as Load LLM (Polaris) loads it: on the offload device, under ComfyUI's memory manager."""
    from polaris_core.llm import load_llm

    return models.managed(load_llm(None, device=models.offload_device("llm"), cache=False), "llm")


def _plan(name: str, instruction: str, rerank: bool) -> dict:
    index, lock = _index(name)
    reranker = zoo.default_reranker(_managed_llm) if rerank else None
    # The search lock covers retrieval only: searches of this index go on while the LLM reranks.
    summary = zoo.plan_instruction(index, instruction, reranker=reranker, index_lock=lock)
    workflows, problems = {}, {}
    for template in zoo.WORKFLOW_TEMPLATES:
        try:
            workflows[template] = zoo.workflow_from_plan(summary, template, WORKFLOW_DIR)
        except PolarisError as exc:
            problems[template] = str(exc)
    summary.update(workflows=workflows, workflow_problems=problems)
    return summary


def _start_build(request: zoo.BuildRequest) -> dict:
    from polaris_core.pipeline import build_or_update_index

    folder = _folder(request.name)
    try:
        catalogs = indexes.resolve_catalog_paths(request.catalogs) if request.catalogs.strip() else []
    except PolarisError as exc:  # a path outside the allowed folders, or a missing file: the request is wrong
        raise zoo.ZooRequestError(folders.public_message(str(exc))) from exc
    roots = [(p, "checkpoint") for p in folders.folder_list("checkpoints") if request.scan_checkpoints]
    roots += [(p, "lora") for p in folders.folder_list("loras") if request.scan_loras]

    def run(on_step, check_cancel):
        build = build_or_update_index(
            folder, catalogs=catalogs, model_roots=roots, cache_dir=indexes.cache_folder(),
            allow_shrink=request.allow_removing_entries, label=indexes.index_label(request.name),
            how_to_allow_shrink='tick "Allow removing entries" in the Indexes panel and build again',
            what="a build from the Zoo sidebar's Indexes panel", on_step=on_step, check_cancel=check_cancel,
            milvus_uri=request.milvus_uri)
        _cache.forget(folder)
        return build

    return _builds.start(request.name, folder, run)


# ---------------------------------------------------------------- handlers
@_handle_errors
async def get_indexes(request: web.Request) -> web.Response:
    return web.json_response(await asyncio.to_thread(_list_indexes))


@_handle_errors
async def post_search(request: web.Request) -> web.Response:
    search = zoo.search_request(await _json_body(request))
    return web.json_response(await asyncio.to_thread(_search, search))


@_handle_errors
async def get_entry(request: web.Request) -> web.Response:
    name = zoo.index_name(request.query.get("index"))
    wanted = zoo.entry_id(request.query.get("id"))
    return web.json_response(await asyncio.to_thread(_entry, name, wanted))


async def get_preview(request: web.Request) -> web.StreamResponse:
    # Every refusal is the same 404, whether the file is missing, outside the model folders or not an image.
    try:
        name = zoo.index_name(request.query.get("index"))
        wanted = zoo.entry_id(request.query.get("id"))
        number = int(request.query.get("n", "0"))
        path = await asyncio.to_thread(_preview, name, wanted, number)
    except (PolarisError, ValueError):
        path = None
    except Exception:
        log.exception("zoo sidebar preview failed")
        path = None
    if path is None:
        return _error(404, _NOT_FOUND)
    response = web.FileResponse(path, headers={
        "Content-Type": zoo.IMAGE_SUFFIXES[path.suffix.lower()], "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300", "Content-Security-Policy": "default-src 'none'"})
    return response


@_handle_errors
async def post_plan(request: web.Request) -> web.Response:
    name, instruction, rerank = zoo.instruction_request(await _json_body(request))
    return web.json_response(await asyncio.to_thread(_plan, name, instruction, rerank))


@_handle_errors
async def post_build(request: web.Request) -> web.Response:
    build = zoo.build_request(await _json_body(request))
    return web.json_response(await asyncio.to_thread(_start_build, build), status=202)


@_handle_errors
async def post_cancel(request: web.Request) -> web.Response:
    return web.json_response(_builds.cancel())


@_handle_errors
async def get_build_status(request: web.Request) -> web.Response:
    return web.json_response(_builds.status())


ROUTES = (
    ("GET", "/polaris/indexes", get_indexes),
    ("POST", "/polaris/search", post_search),
    ("GET", "/polaris/entry", get_entry),
    ("GET", "/polaris/preview", get_preview),
    ("POST", "/polaris/plan", post_plan),
    ("POST", "/polaris/index/build", post_build),
    ("POST", "/polaris/index/cancel", post_cancel),
    ("GET", "/polaris/index/status", get_build_status),
)


def new_builds(notify) -> zoo.IndexBuilds:
    """The sidebar's build runner: `notify(status)` gets every progress event, its messages without server paths."""
    return zoo.IndexBuilds(notify, public_message=folders.public_message)


def register() -> bool:
    """Add the routes to the running PromptServer once; False when there is no server (tests, scripts)."""
    global _registered, _builds
    if _registered:
        return True
    try:
        from server import PromptServer
    except ImportError:
        return False
    server = getattr(PromptServer, "instance", None)
    if server is None:
        return False
    _builds = new_builds(lambda status: server.send_sync(PROGRESS_EVENT, status))
    for method, path, handler in ROUTES:
        server.routes.route(method, path)(handler)
    _registered = True
    return True
