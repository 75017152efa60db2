"""What the Zoo sidebar asks of the core: search with filters, entry details, previews, plans, index builds.

Plain Python over `ZooIndex`, `retrieve`, `parse`, `plan`; the ComfyUI routes (`nodes/routes.py`) only
translate HTTP to these calls. Every request is validated here with fixed bounds (query length, k,
page), so a route never hands unchecked input to the core. All metadata text in the results is
untrusted: the page renders it as text, and nothing here interprets it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import time
import weakref
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from polaris_core.errors import Cancelled, ConfigError, PolarisError
from polaris_core.progress import CheckCancel, OnStep
from polaris_core.zoo.entry import KINDS, ZooEntry

log = logging.getLogger("polaris")

MAX_QUERY_CHARS = 500        # longer than any real prompt; bounds the lexical and encoder work
MAX_INSTRUCTION_CHARS = 1000
MAX_K = 50                   # results per page
MAX_PAGE = 19                # pages 0..19: at most 1,000 models deep
MAX_FAMILY_CHARS = 32
MAX_ID_CHARS = 200
MAX_TEXT_CHARS = 400         # names, authors, one trigger word in a card
MAX_TRIGGERS = 12
MAX_DESCRIPTION_CHARS = 20_000
MAX_PROMPTS = 8
MAX_SIBLINGS = 24
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                  ".gif": "image/gif"}
PREVIEW_CACHE_DIR = "previews"  # an index folder's own preview cache
LAST_BUILD_FILE = "polaris-last-build.json"
WORKFLOW_TEMPLATES = ("text-to-image", "local-edit")


class ZooRequestError(ConfigError):
    """A sidebar request is malformed or out of bounds (HTTP 400)."""


class ZooNotFound(ConfigError):
    """The index or entry a request names does not exist (HTTP 404)."""


class BuildBusy(ConfigError):
    """An index build is already running (HTTP 409)."""


# ---------------------------------------------------------------- request validation
@dataclass(frozen=True)
class SearchRequest:
    index: str
    query: str = ""
    kind: str = "lora"
    family: str = ""          # "" = every family
    k: int = 20
    page: int = 0


def _text(payload: dict, key: str, limit: int, default: str = "") -> str:
    value = payload.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise ZooRequestError(f"{key!r} must be a string.")
    if len(value) > limit:
        raise ZooRequestError(f"{key!r} is {len(value)} characters long; the limit is {limit}. Shorten it.")
    if "\x00" in value:
        raise ZooRequestError(f"{key!r} contains a NUL character.")
    return value


_WHOLE_NUMBER_TEXT = re.compile(r"-?[0-9]{1,12}")  # ASCII digits only: str.isdigit also takes "²" and "٣"


def _int(payload: dict, key: str, low: int, high: int, default: int) -> int:
    value = payload.get(key, default)
    if isinstance(value, str) and _WHOLE_NUMBER_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ZooRequestError(f"{key!r} must be a whole number between {low} and {high}.")
    if not low <= value <= high:
        raise ZooRequestError(f"{key!r} is {value}; it must be between {low} and {high}.")
    return value


def _bool(payload: dict, key: str, default: bool) -> bool:
    value = payload.get(key, default)
    if not isinstance(value, bool):
        raise ZooRequestError(f"{key!r} must be true or false.")
    return value


def search_request(payload: Any) -> SearchRequest:
    """A validated SearchRequest from a JSON object (ZooRequestError when out of bounds)."""
    if not isinstance(payload, dict):
        raise ZooRequestError("The search request must be a JSON object.")
    kind = _text(payload, "kind", 16, "lora")
    if kind not in KINDS:
        raise ZooRequestError(f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}.")
    return SearchRequest(
        index=index_name(payload.get("index")),
        query=_text(payload, "query", MAX_QUERY_CHARS).strip(),
        kind=kind,
        family=_text(payload, "family", MAX_FAMILY_CHARS).strip(),
        k=_int(payload, "k", 1, MAX_K, 20),
        page=_int(payload, "page", 0, MAX_PAGE, 0),
    )


def index_name(value: Any, *, allow_demo: bool = True) -> str:
    """An index name by the one rule of the nodes, the CLI and the routes (`index.valid_index_name`), else
    ZooRequestError. 'demo' (the shipped demo zoo) may be read, never built."""
    from polaris_core.index import IndexNameError, valid_index_name

    if not isinstance(value, str) or not value.strip():
        raise ZooRequestError("Name an index ('index': 'demo' or a folder in models/polaris/indexes).")
    try:
        return valid_index_name(value, allow_reserved=allow_demo)
    except IndexNameError as exc:
        raise ZooRequestError(str(exc)) from None


def entry_id(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or "\x00" in value:
        raise ZooRequestError(f"'id' must be an entry id of at most {MAX_ID_CHARS} characters.")
    return value


def instruction_request(payload: Any) -> tuple[str, str, bool]:
    """(index, instruction, rerank with the LLM) from a plan request."""
    if not isinstance(payload, dict):
        raise ZooRequestError("The plan request must be a JSON object.")
    instruction = _text(payload, "instruction", MAX_INSTRUCTION_CHARS).strip()
    if not instruction:
        raise ZooRequestError("Type an instruction, e.g. 'make it look like a ukiyo-e print'.")
    return index_name(payload.get("index")), instruction, _bool(payload, "rerank", False)


@dataclass(frozen=True)
class BuildRequest:
    name: str
    scan_checkpoints: bool = True
    scan_loras: bool = True
    catalogs: str = ""
    allow_removing_entries: bool = False  # the form's "Allow removing entries" box
    milvus_uri: str = ""  # optional: a new index's vectors go to this Milvus (see vectorstore_milvus)


def build_request(payload: Any) -> BuildRequest:
    if not isinstance(payload, dict):
        raise ZooRequestError("The build request must be a JSON object.")
    name = index_name(payload.get("name"), allow_demo=False)
    request = BuildRequest(name, _bool(payload, "scan_checkpoints", True), _bool(payload, "scan_loras", True),
                           _text(payload, "catalogs", 4000), _bool(payload, "allow_removing_entries", False))
    if not (request.scan_checkpoints or request.scan_loras or request.catalogs.strip()):
        raise ZooRequestError("Nothing to index: scan checkpoints or LoRAs, or name a catalog file.")
    milvus_uri = _text(payload, "milvus_uri", 500).strip()
    if milvus_uri:
        from polaris_core.vectorstore_milvus import check_uri

        try:
            check_uri(milvus_uri)
        except ConfigError as exc:
            raise ZooRequestError(str(exc)) from exc
        request = replace(request, milvus_uri=milvus_uri)
    return request


# ---------------------------------------------------------------- loaded indexes
def folder_signature(folder: Path) -> Optional[tuple]:
    """Changes whenever an index is saved (its manifest is replaced atomically); None if absent."""
    from polaris_core.vectorstore import MANIFEST

    try:
        st = (folder / MANIFEST).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class IndexCache:
    """Loaded indexes by folder, reloaded when the folder's manifest changes. Thread-safe.

    Each index also carries a lock that searches hold: the derived caches of a ZooIndex are built
    lazily on first use, and on a 2-core CPU parallel searches gain nothing over queued ones.
    """

    def __init__(self, loader: Optional[Callable[[Path], Any]] = None, max_loaded: int = 4) -> None:
        self._loader = loader or _load_index
        self._max_loaded = max_loaded  # loaded indexes stay in memory (the 21.7K catalog: 272 MB on disk)
        self._lock = threading.Lock()
        self._items: dict[Path, tuple[tuple, Any, threading.Lock]] = {}
        self._loading: dict[Path, threading.Lock] = {}

    def get(self, folder: Path) -> tuple[Any, threading.Lock]:
        """(index, its search lock); ZooNotFound when the folder holds no index."""
        folder = Path(folder)
        signature = folder_signature(folder)
        if signature is None:
            raise ZooNotFound(f"No index named {folder.name!r}; build it in the sidebar's Indexes panel first.")
        with self._lock:
            cached = self._items.pop(folder, None)
            if cached:
                self._items[folder] = cached  # most recently used last
            if cached and cached[0] == signature:
                return cached[1], cached[2]
            loading = self._loading.setdefault(folder, threading.Lock())
        with loading:  # one load per folder, however many requests wait for it
            with self._lock:
                cached = self._items.get(folder)
            signature = folder_signature(folder)
            if cached and cached[0] == signature:
                return cached[1], cached[2]
            started = time.perf_counter()
            index = self._loader(folder)
            log.info("zoo sidebar: loaded index %s (%d entries) in %.2fs", folder.name, len(index),
                     time.perf_counter() - started)
            item = (signature, index, threading.Lock())
            with self._lock:
                self._items.pop(folder, None)
                self._items[folder] = item
                while len(self._items) > self._max_loaded:
                    self._items.pop(next(iter(self._items)))
            return index, item[2]

    def forget(self, folder: Path) -> None:
        with self._lock:
            self._items.pop(Path(folder), None)


def _load_index(folder: Path):
    from polaris_core.index import ZooIndex

    return ZooIndex.load(folder, verify=False)


# ---------------------------------------------------------------- cards and details
def _clip(text: Any, limit: int = MAX_TEXT_CHARS) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview_sources(entry: ZooEntry) -> list[str]:
    """What the preview route may serve for an entry, in order: local files, then demo previews."""
    return [*entry.preview_paths, *(u for u in entry.preview_urls if isinstance(u, str) and u.startswith("demo://"))]


def card(entry: ZooEntry, score: Optional[float] = None, channels: Optional[dict] = None) -> dict:
    """What a result card shows: short, bounded fields only."""
    return {
        "id": entry.id,
        "name": _clip(entry.name),
        "version": _clip(entry.version_name),
        "author": _clip(entry.author),
        "kind": entry.kind,
        "family": entry.base_family or "unknown",
        "base_model": _clip(entry.base_model),
        "role": entry.role,
        "triggers": [_clip(t, 120) for t in entry.trigger_words[:MAX_TRIGGERS]],
        "file_name": _clip(entry.file_name, 1000),
        "source": entry.source,
        "previews": min(len(preview_sources(entry)), 8),
        "recommended_weight": entry.recommended_weight,
        "score": None if score is None else round(float(score), 4),
        "channels": found_by(channels or {}),
    }


SHOWN_CHANNELS = ("lexical", "names", "dense", "image")


def found_by(channels: dict) -> dict:
    """The channels that found a model, with their scores: lexical and names only when they matched
    (0 means no shared term); popularity and the author step rank but do not find."""
    return {name: round(float(channels[name]), 4) for name in SHOWN_CHANNELS
            if name in channels and math.isfinite(channels[name])
            and (channels[name] > 0 or name not in ("lexical", "names"))}


def entry_detail(index, wanted_id: str) -> dict:
    """A card plus description, example prompts, relative path, hashes and the author's other models."""
    entry = index.get(wanted_id)
    if entry is None:
        raise ZooNotFound("No such entry in this index; search again (the index may have been rebuilt).")
    detail = card(entry)
    detail.update(
        description=_clip(entry.description, MAX_DESCRIPTION_CHARS),
        example_prompts=[_clip(p, 2000) for p in entry.example_prompts[:MAX_PROMPTS]],
        tags=[_clip(t, 60) for t in entry.tags[:30]],
        hashes={"sha256": entry.sha256, "autov2": entry.autov2, "autov3": entry.autov3},
        civitai_model_id=entry.civitai_model_id,
        civitai_version_id=entry.civitai_version_id,
        downloads=entry.downloads,
        file_format=entry.file_format,
        siblings=author_models(index, entry),
    )
    return detail


def author_models(index, entry: ZooEntry, limit: int = MAX_SIBLINGS) -> list[dict]:
    """The same author's other models (one version per model), most downloaded first."""
    from polaris_core.index import group_key

    author = entry.author.strip().lower()
    if not author:
        return []
    own = group_key(entry)
    entries = index.entries
    best: dict[str, ZooEntry] = {}
    for row, name in enumerate(entries.authors):  # columns: decoding every entry would take seconds at 1M
        if name != author or entries.group_keys[row] == own:
            continue
        other = entries[row]
        key = group_key(other)
        kept = best.get(key)
        if kept is None or (other.source == "local", other.downloads) > (kept.source == "local", kept.downloads):
            best[key] = other
    ranked = sorted(best.values(), key=lambda e: (e.source != "local", -(e.downloads or 0), e.name))[:limit]
    return [{"id": e.id, "name": _clip(e.name), "kind": e.kind, "family": e.base_family or "unknown"}
            for e in ranked]


# ---------------------------------------------------------------- search
_FACETS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def facets(index) -> dict[str, dict[str, int]]:
    """Entries per kind and base family, for the filter menus (computed once per loaded index)."""
    cached = _FACETS.get(index)
    if cached is None:
        cached = {}
        for kind, family in zip(index.entries.kinds, index.entries.families):
            families = cached.setdefault(kind, {})
            family = family or "unknown"
            families[family] = families.get(family, 0) + 1
        _FACETS[index] = cached
    return cached


def search_index(index, request: SearchRequest) -> dict:
    """One page of result cards. An empty query browses: local files first, then the most downloaded."""
    from polaris_core.errors import EmptyZooError
    from polaris_core.retrieve import SearchOptions, search

    started = time.perf_counter()
    start = request.page * request.k
    families = [request.family] if request.family else None
    families_here = facets(index).get(request.kind, {})
    if not len(index.kind_rows(request.kind)):
        return {"results": [], "more": False, "took_ms": 0.0, "families": families_here,
                "message": f"This index has no {request.kind} entries."}
    if request.query:
        options = SearchOptions(unknown_family_ok=False)  # a family filter shows that family only
        try:
            found = search(index, request.query, None, kind=request.kind, k=start + request.k + 1,
                           base_family=families, options=options)
        except EmptyZooError as exc:
            return {"results": [], "more": False, "took_ms": 0.0, "families": families_here, "message": str(exc)}
        cards = [card(c.entry, c.score, c.channel_scores) for c in found[start:]]
    else:
        cards = [card(e) for e in _browse(index, request.kind, families, start + request.k + 1)[start:]]
    return {"results": cards[: request.k], "more": len(cards) > request.k, "families": families_here,
            "took_ms": round((time.perf_counter() - started) * 1000, 2)}


def _browse(index, kind: str, families: Optional[Sequence[str]], limit: int) -> list[ZooEntry]:
    selection = index.select(kind, families)
    order = sorted(range(len(selection.rows)),
                   key=lambda i: (not selection.is_local[i], -float(selection.downloads[i]), int(selection.rows[i])))
    seen: set[int] = set()
    out = []
    for i in order:
        group = int(selection.group_of_row[i])
        if group in seen:
            continue
        seen.add(group)
        out.append(index.entries[int(selection.rows[i])])
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------- previews
def _inside(path: Path, roots: Sequence[Path]) -> bool:
    for root in roots:
        try:
            path.relative_to(root)
            return True
        except ValueError:
            continue
    return False


def preview_file(index, wanted_id: str, number: int, allowed_roots: Sequence[Path]) -> Optional[Path]:
    """The preview image the index registered for an entry, or None.

    Served only when the file, after following every symlink, lies inside one of `allowed_roots`
    (ComfyUI's model folders) or the index's own preview cache, has an image suffix and exists.
    Demo previews come from `demo://previews/<versionId>.png` URLs and resolve into the pack's demo
    folder. Every refusal is the same None, so a caller cannot tell a missing file from a forbidden one.
    """
    from polaris_core.demo import DEMO_DIR, resolve_demo_url

    entry = index.get(wanted_id)
    if entry is None or not 0 <= number < 64:
        return None
    sources = preview_sources(entry)
    if number >= len(sources):
        return None
    source = sources[number]
    roots = [Path(r).resolve() for r in allowed_roots]
    if index.folder is not None:
        roots.append((Path(index.folder) / PREVIEW_CACHE_DIR).resolve())
    if source.startswith("demo://"):
        try:
            local = resolve_demo_url(source)
        except PolarisError:
            return None
        roots = [(DEMO_DIR / "previews").resolve()]
    else:
        local = Path(source)
        if not local.is_absolute() or ".." in local.parts:
            return None
    if local is None:
        return None
    try:
        real = local.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if real.suffix.lower() not in IMAGE_SUFFIXES or not _inside(real, roots) or not real.is_file():
        return None
    return real


# ---------------------------------------------------------------- instruction mode
_RERANKER_LOCK = threading.Lock()
_RERANKER: list = []
_RERANKING = threading.Lock()


def default_reranker(load_llm: Optional[Callable[[], Any]] = None):
    """The tree reranker over the bundled LLM, loaded once (only when a plan asks for it).

    `load_llm()` loads it; a host passes its managed loader (ComfyUI's memory manager, `nodes/comfy/models.py`), so
    the sidebar's LLM is placed and offloaded like the nodes' and no unmanaged copy sits on the GPU."""
    with _RERANKER_LOCK:
        if not _RERANKER:
            from polaris_core.rerank import TreeReranker

            if load_llm is None:
                from polaris_core.llm import load_llm as load

                load_llm = lambda: load(None)  # noqa: E731
            _RERANKER.append(TreeReranker(load_llm()))
        return _RERANKER[0]


def plan_instruction(index, instruction: str, *, reranker: Any = None, backend: str = "rules",
                     k_checkpoints: int = 5, k_loras: int = 8, index_lock: Any = None,
                     on_step: Optional[OnStep] = None) -> dict:
    """parse → retrieve → rerank (only with a reranker) → plan, as JSON for the sidebar.

    `index_lock` (the index's search lock) is held for parsing and retrieval only: the LLM rerank works
    on the retrieved candidates, so searches of the same index go on meanwhile. `on_step` reports
    the rerank's progress."""
    from polaris_core.parse import parse
    from polaris_core.plan import compose_plan
    from polaris_core.retrieve import retrieve

    timings = {}
    with index_lock if index_lock is not None else contextlib.nullcontext():
        started = time.perf_counter()
        intent = parse(instruction, None, backend)
        timings["parse_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        candidates = retrieve(index, intent, None, k_checkpoints=k_checkpoints, k_loras=k_loras)
        timings["retrieve_ms"] = (time.perf_counter() - started) * 1000
    ranked = candidates
    if reranker is not None:
        started = time.perf_counter()
        with _RERANKING:  # one LLM, one rerank at a time (searches are not held up by it)
            ranked = reranker.rerank_all(candidates, keep=3, on_step=on_step)
        timings["rerank_ms"] = (time.perf_counter() - started) * 1000
    plan = compose_plan(intent, ranked)
    summary = plan_summary(plan)
    # The judge follows Tree Rerank's rule: a measured weight of about zero skips its forward pass, and says so.
    judged = reranker is not None and not getattr(reranker, "skips_judge", False)
    summary.update(reranked=judged, judge=reranker.judge_summary() if reranker is not None else "",
                   timings={k: round(v, 1) for k, v in timings.items()},
                   candidates={slot: [plan_card(c) for c in ranked.slot(slot)[:5]]
                               for slot in ("checkpoint", "style_lora", "object_lora")})
    return summary


def plan_card(candidate) -> dict:
    """A plan candidate's card: shown whether or not it is installed, with the Civitai page of one that is not."""
    from polaris_core.plan import NOT_INSTALLED, civitai_page, unusable_reason

    reason = unusable_reason(candidate.entry)
    return {**card(candidate.entry, candidate.score, candidate.channel_scores), "plannable": not reason,
            "installed": reason != NOT_INSTALLED,
            "civitai_page": civitai_page(candidate.entry) if reason == NOT_INSTALLED else ""}


def plan_summary(plan) -> dict:
    """The plan as the sidebar shows it and as `workflow_from_plan` reads it."""
    def choice(c) -> dict:
        out = {**card(c.entry), "slot": c.slot, "weight": c.weight, "why": _clip(c.why, 600),
               "load_name": c.entry.file_name}
        if c.slot != "checkpoint":  # the LoRA's strength over steps and blocks (Apply Plan's lora_schedule)
            out["schedule"] = c.schedule.describe() if c.schedule else "uniform: every step, every block"
        return out

    intent = plan.intent
    return {
        "instruction": intent.instruction if intent else "",
        "instruction_type": intent.instruction_type.name.lower().replace("_", " ") if intent else "",
        "subject": intent.subject if intent else "",
        "checkpoint": choice(plan.checkpoint) if plan.checkpoint else None,
        "loras": [choice(c) for c in plan.loras],
        "trigger_words": list(plan.trigger_words),
        "prompt": plan.prompt,
        "negative_prompt": plan.negative_prompt,
        "base_family": plan.base_family,
        "notes": list(plan.notes),
        # Catalog-only models have no file to load: "Open as workflow" needs local files.
        "missing_files": [c.entry.name for c in ([plan.checkpoint] if plan.checkpoint else []) + plan.loras
                          if not c.entry.file_name],
    }


def workflow_from_plan(summary: dict, template: str, template_dir: Path) -> dict:
    """The shipped workflow `template` as an API prompt, with the plan's models loaded by ComfyUI's
    own CheckpointLoaderSimple and LoraLoader nodes and the plan's prompts filled in.

    The sampler, image size, mask and inpaint settings come from `workflows/api/polaris-<template>.json`.
    """
    if template not in WORKFLOW_TEMPLATES:
        raise ZooRequestError(f"Unknown workflow {template!r}; choose one of {', '.join(WORKFLOW_TEMPLATES)}.")
    checkpoint = summary.get("checkpoint")
    if not checkpoint or not checkpoint.get("load_name"):
        raise ZooRequestError("The plan has no local checkpoint file; index your models/checkpoints folder "
                              "(Indexes panel) so a plan can name one, then plan again.")
    path = Path(template_dir) / f"polaris-{template}.json"
    try:
        shipped = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"The shipped workflow {path} cannot be read ({exc}); reinstall Polaris.") from exc

    def shipped_inputs(class_type: str) -> dict:
        for node in shipped.values():
            if node.get("class_type") == class_type:
                return {k: v for k, v in node["inputs"].items() if not isinstance(v, list)}
        raise ConfigError(f"{path.name} has no {class_type} node; reinstall Polaris.")

    prompt: dict[str, dict] = {}

    def add(class_type: str, inputs: dict, title: str = "") -> str:
        node_id = str(len(prompt) + 1)
        prompt[node_id] = {"class_type": class_type, "inputs": inputs}
        if title:
            prompt[node_id]["_meta"] = {"title": title}
        return node_id

    model = add("CheckpointLoaderSimple", {"ckpt_name": checkpoint["load_name"]}, "Checkpoint (Polaris plan)")
    model_out, clip_out, vae_out = [model, 0], [model, 1], [model, 2]
    for lora in summary.get("loras", []):
        if not lora.get("load_name"):  # the planner never chooses one; dropping it would keep its trigger words
            raise ZooRequestError(f"The plan's LoRA {str(lora.get('name', ''))[:80]!r} has no local file; "
                                  "plan again (plans choose installed models only).")
        weight = float(lora.get("weight") or 0.0)
        node = add("LoraLoader", {"model": model_out, "clip": clip_out, "lora_name": lora["load_name"],
                                  "strength_model": weight, "strength_clip": weight}, "LoRA (Polaris plan)")
        model_out, clip_out = [node, 0], [node, 1]
    positive, negative = str(summary.get("prompt", "")), str(summary.get("negative_prompt", ""))
    if template == "text-to-image":
        pos = add("CLIPTextEncode", {"text": positive, "clip": clip_out}, "Prompt (Polaris plan)")
        neg = add("CLIPTextEncode", {"text": negative, "clip": clip_out}, "Negative prompt")
        latent = add("EmptyLatentImage", shipped_inputs("EmptyLatentImage"))
        sampled = add("KSampler", {**shipped_inputs("KSampler"), "model": model_out, "positive": [pos, 0],
                                   "negative": [neg, 0], "latent_image": [latent, 0]})
        image = add("VAEDecode", {"samples": [sampled, 0], "vae": vae_out})
        add("SaveImage", {**shipped_inputs("SaveImage"), "images": [image, 0]})
        return prompt
    picture = add("LoadImage", shipped_inputs("LoadImage"))
    clip_model = add("PolarisLoadCLIP", shipped_inputs("PolarisLoadCLIP"))
    sam = add("PolarisLoadSAM", shipped_inputs("PolarisLoadSAM"))
    intent = add("PolarisParseInstruction", {**shipped_inputs("PolarisParseInstruction"),
                                             "instruction": str(summary.get("instruction", ""))})
    mask = add("PolarisMaskRegion", {**shipped_inputs("PolarisMaskRegion"), "image": [picture, 0],
                                     "intent": [intent, 0], "clip": [clip_model, 0], "sam": [sam, 0]})
    edited = add("PolarisInpaintMasked", {**shipped_inputs("PolarisInpaintMasked"), "model": model_out,
                                          "clip": clip_out, "vae": vae_out, "image": [picture, 0],
                                          "mask": [mask, 0], "prompt": positive, "negative_prompt": negative})
    saves = [n for n in shipped.values() if n.get("class_type") == "SaveImage"]
    add("SaveImage", {"filename_prefix": saves[0]["inputs"]["filename_prefix"], "images": [edited, 0]})
    mask_image = add("MaskToImage", {"mask": [mask, 0]})
    add("SaveImage", {"filename_prefix": saves[-1]["inputs"]["filename_prefix"], "images": [mask_image, 0]})
    return prompt


# ---------------------------------------------------------------- index builds
@dataclass
class BuildStatus:
    state: str = "idle"            # idle, running, done, cancelled, failed
    index: str = ""
    step: int = 0
    total: int = 0
    message: str = ""
    summary: str = ""              # counts and the catalog/scan skip report of the last build
    started_at: float = 0.0
    finished_at: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class IndexBuilds:
    """One index build at a time, in a worker thread, with progress events and cancel.

    `notify(status_dict)` is called on the worker thread at each progress step (at most every
    `interval` seconds) and when the build ends; the ComfyUI seam (nodes/routes.py) forwards it over the websocket.
    """

    def __init__(self, notify: Callable[[dict], None], interval: float = 0.1,
                 public_message: Callable[[str], str] = lambda text: text) -> None:
        self._notify = notify
        self._interval = interval
        self._public = public_message  # what of an error message may reach the browser (the host strips paths)
        self._lock = threading.Lock()
        self._status = BuildStatus()
        self._cancel = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._last_sent = 0.0
        self._last_percent = 0

    def status(self) -> dict:
        with self._lock:
            return self._status.to_dict()

    def start(self, name: str, folder: Path, run: Callable[[OnStep, CheckCancel], Any]) -> dict:
        """Run `run(on_step, check_cancel)` (a build returning an IndexBuild) for index `name`."""
        with self._lock:
            if self._status.state == "running":
                raise BuildBusy(f"The index {self._status.index!r} is being built; wait for it or cancel it.")
            self._cancel.clear()
            self._status = BuildStatus(state="running", index=name, message="starting", started_at=time.time())
            self._thread = threading.Thread(target=self._work, args=(name, Path(folder), run),
                                            name=f"polaris-build-{name}", daemon=True)
            self._thread.start()
            status = self._status.to_dict()
        self._send(force=True)
        return status

    def cancel(self) -> dict:
        with self._lock:
            if self._status.state == "running":
                self._cancel.set()
                self._status.message = "cancelling"
        self._send(force=True)
        return self.status()

    def wait(self, timeout: Optional[float] = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("Index build cancelled; the previous index, if any, is unchanged.")

    def _on_step(self, i: int, n: int) -> None:
        with self._lock:
            self._status.step, self._status.total = int(i), int(n)
            if self._status.message in ("starting", ""):
                self._status.message = "indexing"
        self._send()

    def _work(self, name: str, folder: Path, run) -> None:
        state, message, summary = "done", "", ""
        try:
            build = run(self._on_step, self._check_cancel)
            summary = build.summary()
            message = f"{len(build.index)} entries"
        except Cancelled as exc:
            state, message = "cancelled", self._public(str(exc))
        except PolarisError as exc:
            state, message = "failed", self._public(str(exc))
        except Exception as exc:  # a bug or an OS error must still end the build visibly (its text may hold paths)
            log.exception("index build %s failed", name)
            state, message = "failed", (f"Polaris hit an internal error ({type(exc).__name__}); the ComfyUI log "
                                        "has the details.")
        with self._lock:
            self._status.state, self._status.message = state, message
            self._status.summary = summary or self._status.summary
            self._status.finished_at = time.time()
            if state == "done":
                self._status.step = self._status.total = max(self._status.total, 1)
            record = self._status.to_dict()
        if state == "done":
            _write_last_build(folder, record)
        self._send(force=True)

    def _send(self, force: bool = False) -> None:
        """Send the status: always at start and end, else every `interval` s or each 5% of progress."""
        now = time.monotonic()
        status = self.status()
        percent = 100 * status["step"] // status["total"] if status["total"] else 0
        if not force and now - self._last_sent < self._interval and percent < self._last_percent + 5:
            return
        self._last_sent, self._last_percent = now, percent
        try:
            self._notify(status)
        except Exception:  # a closed websocket must not stop a build
            log.debug("progress event not sent", exc_info=True)


def _write_last_build(folder: Path, record: dict) -> None:
    from polaris_core.atomic import write_text_atomic

    try:
        write_text_atomic(folder / LAST_BUILD_FILE, json.dumps(record, ensure_ascii=False))
    except (OSError, PolarisError) as exc:
        log.warning("could not record the build report in %s: %s", folder, exc)


def last_build(folder: Path) -> Optional[dict]:
    """The report of the last finished build of an index folder (counts and skips), if recorded."""
    try:
        data = json.loads((Path(folder) / LAST_BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def index_info(name: str, folder: Path) -> dict:
    """What the index list shows, read from the index's manifest (no index is loaded to list it)."""
    from polaris_core.vectorstore import MANIFEST

    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))["extra"]["zoo_index"]
        counts = {kind: int(n) for kind, n in manifest["counts"]["by_kind"].items()}
        entries = int(manifest["counts"]["entries"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ZooNotFound(f"{name}: not a readable Polaris index; rebuild it in the Indexes panel.") from None
    report = last_build(folder)
    return {"name": name, "entries": entries, "counts": counts, "saved_at": str(manifest.get("saved_at", "")),
            "last_build": {k: report.get(k) for k in ("state", "summary", "finished_at")} if report else None}


__all__ = [
    "BuildBusy", "BuildRequest", "BuildStatus", "IndexBuilds", "IndexCache", "SearchRequest", "ZooNotFound",
    "ZooRequestError", "build_request", "card", "entry_detail", "entry_id", "facets", "index_info",
    "index_name", "instruction_request", "last_build", "plan_instruction", "preview_file", "search_index",
    "search_request", "workflow_from_plan",
]
