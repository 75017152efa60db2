"""Scan a user's ComfyUI model folders (checkpoints, loras, embeddings) into ZooEntries.

Per model file it reads only the safetensors header (bounded), the sidecars next to it
(`.civitai.info`, LoRA-Manager `.metadata.json`, A1111 `.json`, rgthree `.rgthree-info.json`,
`.txt` trigger words) and the names of preview images. Pickle files (`.ckpt/.pt/.pth/.bin`) are
listed by name and hash only and never opened as pickles. A scan cache keyed by path, size and
mtime makes an unchanged rescan cheap; a renamed file is recognised by size, mtime and a quick
content signature and keeps its hashes without being read again.

Every problem is a logged, counted skip in the `ScanReport`, never an exception, except a model
folder that does not exist (ZooError) and a cancel (Cancelled).
"""
from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from polaris_core.atomic import write_text_atomic
from polaris_core.errors import Cancelled, ModelFileError, PolarisError, ZooError
from polaris_core.progress import CheckCancel, OnStep, resolve
from polaris_core.zoo.civitai import (MAX_PROMPT_CHARS, MAX_PROMPTS_PER_VERSION, SkipCounter, clean_author,
                                      clean_text, entry_from_version, role_from_tags, sanitize_entry,
                                      strip_html, weight_from_description)
from polaris_core.zoo.entry import KINDS, ZooEntry
from polaris_core.zoo.family import detect_family, family_from_label
from polaris_core.zoo.hashing import FileHashes, hash_file
from polaris_core.zoo.safetensors_header import read_header_from
from polaris_core.weights import PICKLE_SUFFIXES

log = logging.getLogger("polaris")

SAFETENSORS_SUFFIXES = (".safetensors", ".sft")
MODEL_SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES  # pickles are listed by name and hash, never loaded
SIDECAR_SUFFIXES = (".civitai.info", ".metadata.json", ".rgthree-info.json", ".json", ".txt")
PREVIEW_SUFFIXES = (".preview.png", ".preview.jpg", ".preview.jpeg", ".preview.webp",
                    ".png", ".jpg", ".jpeg", ".webp")
MAX_SIDECAR_BYTES = 8 * 1024 * 1024
MAX_TRIGGER_WORDS = 64
TOP_DATASET_TAGS = 40
CACHE_FILE = "scan-cache.json"
CACHE_FORMAT, CACHE_VERSION = "polaris-scan-cache", 1
# Bumped when entries gain fields read from headers or sidecars: such records rebuild their entry
# (re-reading the bounded header) but keep their hashes, so nothing is hashed again.
ENTRY_VERSION = 3  # 3: entries sanitised (plain text, safe preview URLs)
_QUICK_BYTES = 64 * 1024


@dataclass
class ScanReport(SkipCounter):
    """What a scan did. `skipped` counts model files left out and sidecars ignored, by reason."""

    files_seen: int = 0
    entries: int = 0
    from_cache: int = 0
    hashed: int = 0
    renamed: int = 0
    pickles: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.entries} entries from {self.files_seen} model files in {self.seconds:.1f}s "
                f"({self.from_cache} cached, {self.hashed} hashed, {self.renamed} renamed, "
                f"{self.pickles} pickles listed); {self.skip_summary()}")


@dataclass
class ScanResult:
    entries: list[ZooEntry]
    report: ScanReport


# ---------------------------------------------------------------- sidecars

@dataclass
class SidecarInfo:
    """What one sidecar file says about a model (all text cleaned; untrusted)."""

    name: str = ""
    trigger_words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str = ""
    example_prompts: list[str] = field(default_factory=list)
    preview_urls: list[str] = field(default_factory=list)
    recommended_weight: Optional[float] = None
    base_model: str = ""
    civitai_model_id: Optional[int] = None
    civitai_version_id: Optional[int] = None
    author: str = ""


def _words(values, limit: int = MAX_TRIGGER_WORDS) -> list[str]:
    out, seen = [], set()
    for value in values:
        word = clean_text(str(value), 200).replace("\n", " ").strip(" ,")
        if word and word.lower() not in seen:
            seen.add(word.lower())
            out.append(word)
        if len(out) >= limit:
            break
    return out


def _split_words(text: str) -> list[str]:
    return _words(re.split(r"[,\n]", text or ""))


def _weight(value) -> Optional[float]:
    try:
        w = float(value)
    except (TypeError, ValueError):
        return None
    return w if 0.05 <= w <= 2.0 else None


def _from_civitai_version(version, kind: str) -> SidecarInfo:
    """Fields of a Civitai model-version object (by-hash JSON), as a sidecar carries it."""
    if not isinstance(version, dict):
        return SidecarInfo()
    # Sidecar writers often drop the ids or names the catalog always has; fill placeholders.
    placeholder = "polaris-unnamed-version"
    version = {**version, "id": version.get("id") or 0, "name": version.get("name") or placeholder}
    entry, _ = entry_from_version(version, None, kind=kind)
    if entry is None:
        return SidecarInfo()
    return SidecarInfo(name="" if entry.name == placeholder else entry.name, trigger_words=entry.trigger_words,
                       tags=entry.tags, description=entry.description, example_prompts=entry.example_prompts,
                       preview_urls=entry.preview_urls, recommended_weight=entry.recommended_weight,
                       base_model=entry.base_model, civitai_model_id=entry.civitai_model_id,
                       civitai_version_id=entry.civitai_version_id or None, author=entry.author)


def parse_sidecar(kind_of_sidecar: str, data: bytes, model_kind: str = "lora") -> SidecarInfo:
    """Parse one sidecar's bytes. `kind_of_sidecar` is its suffix (".civitai.info", ".metadata.json",
    ".rgthree-info.json", ".json" or ".txt"). Raises ZooError for unreadable content (not UTF-8,
    not JSON, wrong shape); never anything else."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise ZooError(f"sidecar is larger than {MAX_SIDECAR_BYTES >> 20} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ZooError(f"sidecar is not UTF-8 ({exc.reason})") from None
    if kind_of_sidecar == ".txt":
        return SidecarInfo(trigger_words=_split_words(text))
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ZooError(f"sidecar is not valid JSON ({str(exc)[:100]})") from None
    if not isinstance(obj, dict):
        raise ZooError("sidecar JSON is not an object")
    try:
        if kind_of_sidecar == ".civitai.info":
            return _from_civitai_version(obj, model_kind)
        if kind_of_sidecar == ".metadata.json":
            return _lora_manager(obj, model_kind)
        if kind_of_sidecar == ".rgthree-info.json":
            return _rgthree(obj, model_kind)
        if kind_of_sidecar == ".json":
            return _a1111(obj)
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as exc:
        raise ZooError(f"sidecar has an unexpected structure ({type(exc).__name__})") from None
    raise ZooError(f"unknown sidecar type {kind_of_sidecar!r}")


def _a1111(obj: dict) -> SidecarInfo:
    # A1111 extra-networks user metadata: description, "activation text", "preferred weight", "sd version".
    info = SidecarInfo(
        trigger_words=_split_words(str(obj.get("activation text") or "")),
        description=clean_text(" ".join(str(obj.get(k) or "") for k in ("description", "notes"))),
        recommended_weight=_weight(obj.get("preferred weight")),
    )
    version = str(obj.get("sd version") or "")
    if version.lower() not in ("", "unknown"):
        info.base_model = clean_text(version, 60)
    return info


def _lora_manager(obj: dict, kind: str) -> SidecarInfo:
    info = _from_civitai_version(obj.get("civitai"), kind)
    info.name = clean_text(str(obj.get("model_name") or ""), 300) or info.name
    info.base_model = clean_text(str(obj.get("base_model") or ""), 60) or info.base_model
    tags = obj.get("tags")
    if isinstance(tags, list):
        info.tags = _words(info.tags + tags)
    extra = strip_html(str(obj.get("modelDescription") or "")) + "\n" + clean_text(str(obj.get("notes") or ""))
    info.description = clean_text(f"{extra}\n{info.description}")
    tips = obj.get("usage_tips")
    if isinstance(tips, str):
        try:
            tips = json.loads(tips) if tips.strip().startswith("{") else {}
        except ValueError:
            tips = {}
    if isinstance(tips, dict):
        info.recommended_weight = _weight(tips.get("strength")) or info.recommended_weight
    return info


def _rgthree(obj: dict, kind: str) -> SidecarInfo:
    raw = obj.get("raw") if isinstance(obj.get("raw"), dict) else {}
    info = _from_civitai_version(raw.get("civitai"), kind)
    info.name = clean_text(str(obj.get("name") or ""), 300) or info.name
    info.base_model = clean_text(str(obj.get("baseModel") or ""), 60) or info.base_model
    words = []
    for item in obj.get("trainedWords") or []:
        words.append(item.get("word") if isinstance(item, dict) else item)
    info.trigger_words = _words([w for w in words if isinstance(w, str)] + info.trigger_words)
    prompts = []
    for image in obj.get("images") or []:
        if isinstance(image, dict) and isinstance(image.get("positive"), str):
            prompts.append(clean_text(image["positive"], MAX_PROMPT_CHARS).replace("\n", " "))
        if isinstance(image, dict) and isinstance(image.get("url"), str) and image["url"].startswith("http"):
            info.preview_urls.append(image["url"])
    info.example_prompts = _words(prompts + info.example_prompts, MAX_PROMPTS_PER_VERSION) if prompts \
        else info.example_prompts
    low, high = _weight(obj.get("strengthMin")), _weight(obj.get("strengthMax"))
    if low is not None and high is not None and low <= high:
        info.recommended_weight = round((low + high) / 2, 3)
    return info


# ---------------------------------------------------------------- safetensors metadata

def metadata_fields(metadata: dict) -> SidecarInfo:
    """kohya `ss_*` and `modelspec.*` keys → name, trigger words, tags, a tag 'prompt', description."""
    info = SidecarInfo()
    info.name = clean_text(metadata.get("modelspec.title") or metadata.get("ss_output_name") or "", 300)
    info.author = clean_author(metadata.get("modelspec.author") or "")
    info.description = clean_text(" ".join(metadata.get(k) or "" for k in
                                           ("modelspec.description", "modelspec.usage_hint")))
    triggers = _split_words(metadata.get("modelspec.trigger_phrase") or "")
    info.base_model = clean_text(metadata.get("ss_base_model_version") or metadata.get("modelspec.architecture")
                                 or "", 80)
    tags = _split_words(metadata.get("modelspec.tags") or "")
    frequency = _tag_frequency(metadata.get("ss_tag_frequency"))
    if frequency:
        top = [tag for tag, _ in frequency.most_common(TOP_DATASET_TAGS)]
        tags.extend(top[:20])
        # The captions a LoRA was trained on stand in for a catalog entry's example prompts.
        info.example_prompts = [", ".join(top)]
    if not triggers:
        # kohya dataset folders are named "<repeats>_<trigger> [class]".
        dirs = _json_object(metadata.get("ss_dataset_dirs")) or _json_object(metadata.get("ss_tag_frequency")) or {}
        triggers = _words(m.group(1) for m in (re.match(r"^\d+_(.+)$", str(d)) for d in dirs) if m)
    info.trigger_words = triggers
    info.tags = _words(tags)
    return info


def _json_object(value) -> Optional[dict]:
    if not isinstance(value, str) or not value.startswith("{"):
        return None
    try:
        obj = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _tag_frequency(value) -> Counter:
    counts: Counter = Counter()
    obj = _json_object(value)
    for tags in (obj or {}).values():
        if isinstance(tags, dict):
            for tag, n in tags.items():
                tag = clean_text(str(tag), 100).replace("\n", " ").strip(" ,")
                if tag and isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0:
                    counts[tag] += n
    return counts


# ---------------------------------------------------------------- scan cache

def _valid_record(record) -> bool:
    """A cache record has the fields `_process` relies on (the cache file may be damaged)."""
    try:
        hashes, entry = record["hashes"], record["entry"]
        return (isinstance(record["size"], int) and isinstance(record["mtime_ns"], int)
                and isinstance(record["quick"], str) and isinstance(record["sidecars"], list)
                and isinstance(hashes, dict) and set(hashes) == set(FileHashes.__dataclass_fields__)
                and isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("id", "kind", "name")))
    except (KeyError, TypeError):
        return False


class ScanCache:
    """JSON file in `cache_dir` with one record per model path: size, mtime, quick signature,
    hashes, sidecar signature and the built entry. Written atomically."""

    def __init__(self, cache_dir: Optional[str | os.PathLike]) -> None:
        self.path = Path(cache_dir) / CACHE_FILE if cache_dir else None
        self.records: dict[str, dict] = {}
        if self.path and self.path.is_file():
            collecting = gc.isenabled()
            gc.disable()  # decoding builds ~30 objects per record: cyclic GC passes only slow it down
            try:
                obj = json.loads(self.path.read_text(encoding="utf-8"))
                if obj.get("format") == CACHE_FORMAT and obj.get("version") == CACHE_VERSION and \
                        isinstance(obj.get("records"), dict):
                    self.records = {p: r for p, r in obj["records"].items() if _valid_record(r)}
                else:
                    log.info("scan cache %s is from another version; rescanning everything", self.path)
            except (OSError, ValueError, AttributeError) as exc:
                log.warning("scan cache %s is unreadable (%s); rescanning everything", self.path, exc)
            finally:
                if collecting:
                    gc.enable()
        self._by_signature: dict[tuple, str] = {}
        for path, rec in self.records.items():
            try:
                self._by_signature[(rec["size"], rec["mtime_ns"], rec["quick"])] = path
            except (KeyError, TypeError):
                continue

    def lookup_moved(self, size: int, mtime_ns: int, quick: str, path: str) -> Optional[dict]:
        old = self._by_signature.get((size, mtime_ns, quick))
        if old is None or old == path or os.path.exists(old):
            return None
        return self.records.get(old)

    def save(self, records: dict[str, dict]) -> None:
        if not self.path:
            return
        # json.dumps uses the C encoder; json.dump streams through the slow Python one.
        text = json.dumps({"format": CACHE_FORMAT, "version": CACHE_VERSION, "records": records},
                          ensure_ascii=False, separators=(",", ":"))
        try:
            write_text_atomic(self.path, text, durable=True)
        except OSError as exc:
            log.warning("could not write scan cache %s (%s); the next scan will re-read files", self.path, exc)


# ---------------------------------------------------------------- walking

@dataclass
class _ModelFile:
    path: str
    root: str
    kind: str
    size: int
    mtime_ns: int
    sidecars: dict[str, tuple[str, int, int]]  # suffix -> (path, size, mtime_ns)
    previews: list[str]


def _utf8(path: str) -> bool:
    """False for a name that is not valid UTF-8 (Python keeps its bytes as surrogates, which no JSON
    file, index or terminal can hold)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _inside(path: str, root_real: str) -> bool:
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def _walk(root: Path, kind: str, report: ScanReport, check_cancel: CheckCancel,
          follow_links: bool = False) -> list[_ModelFile]:
    """Model files under `root`. Folder links are followed once (loops are skipped), and only when
    they stay inside `root` unless `follow_links`."""
    found: list[_ModelFile] = []
    visited: set[tuple[int, int]] = set()
    root_real = os.path.realpath(root)
    stack = [str(root)]
    while stack:
        check_cancel()
        directory = stack.pop()
        try:
            st = os.stat(directory)
        except OSError as exc:
            report.skip(f"unreadable folder ({exc.strerror})", directory)
            continue
        if (st.st_dev, st.st_ino) in visited:
            report.skip("symlink loop or repeated folder", directory)
            continue
        visited.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            report.skip(f"unreadable folder ({exc.strerror})", directory)
            continue
        files: dict[str, os.DirEntry] = {}
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not _utf8(entry.path):
                report.skip("name is not valid UTF-8 (rename it)", ascii(entry.path))
                continue
            try:
                if entry.is_dir():  # follows symlinks; loops are caught by the inode check above
                    if entry.is_symlink() and not follow_links and not _inside(entry.path, root_real):
                        report.skip("folder link leads outside the scanned folder (not followed)", entry.path)
                    else:
                        stack.append(entry.path)
                elif entry.is_file():
                    files[entry.name] = entry
                elif entry.is_symlink() and not os.path.exists(entry.path):
                    report.skip("broken symlink", entry.path)
                else:
                    report.skip(f"not a regular file ({_file_type(entry.path)})", entry.path)
            except OSError as exc:
                report.skip(f"unreadable entry ({exc.strerror})", entry.path)
        lower_names = {name.lower(): name for name in files}
        for name in sorted(files):
            lower = name.lower()
            if not lower.endswith(MODEL_SUFFIXES):
                continue
            entry = files[name]
            try:
                st = entry.stat()
            except OSError as exc:
                report.skip(f"unreadable file ({exc.strerror})", entry.path)
                continue
            stem = lower[: lower.rfind(".")]  # the suffix lists are lower case: one lower() per file
            sidecars, previews = {}, []
            for suffix in SIDECAR_SUFFIXES:
                side = lower_names.get(stem + suffix)
                if side:
                    try:
                        sst = files[side].stat()
                        sidecars[suffix] = (files[side].path, sst.st_size, sst.st_mtime_ns)
                    except OSError:
                        pass
            for suffix in PREVIEW_SUFFIXES:
                side = lower_names.get(stem + suffix)
                if side:
                    previews.append(files[side].path)
            found.append(_ModelFile(entry.path, str(root), kind, st.st_size, st.st_mtime_ns, sidecars, previews))
    found.sort(key=lambda f: f.path)
    return found


def _file_type(path: str) -> str:
    import stat

    mode = os.stat(path).st_mode
    for test, name in ((stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def _quick_signature(fh, size: int) -> str:
    """sha256 of the size, the first and the last 64 KiB: recognises a moved file without hashing it."""
    digest = hashlib.sha256(str(size).encode())
    fh.seek(0)
    digest.update(fh.read(_QUICK_BYTES))
    if size > _QUICK_BYTES:
        fh.seek(max(_QUICK_BYTES, size - _QUICK_BYTES))
        digest.update(fh.read(_QUICK_BYTES))
    return digest.hexdigest()


# ---------------------------------------------------------------- entries

def _merge(entry: ZooEntry, info: SidecarInfo, *, prefer_name: bool) -> None:
    if info.name and (prefer_name or entry.name == Path(entry.file_name).stem):
        entry.name = info.name
    entry.trigger_words = _words(entry.trigger_words + info.trigger_words)
    entry.tags = _words(entry.tags + info.tags)
    if info.description and info.description not in entry.description:
        entry.description = clean_text(f"{entry.description}\n{info.description}")
    entry.example_prompts = _words(entry.example_prompts + info.example_prompts, MAX_PROMPTS_PER_VERSION)
    entry.preview_urls = list(dict.fromkeys(entry.preview_urls + info.preview_urls))
    if entry.recommended_weight is None and info.recommended_weight is not None:
        entry.recommended_weight = info.recommended_weight
    if not entry.base_model and info.base_model:
        entry.base_model = info.base_model
    entry.civitai_model_id = entry.civitai_model_id or info.civitai_model_id
    entry.civitai_version_id = entry.civitai_version_id or info.civitai_version_id
    entry.author = entry.author or info.author


def _build_entry(model: _ModelFile, hashes: FileHashes, header_shapes: dict, metadata: dict,
                 is_pickle: bool, skips: list[list[str]]) -> ZooEntry:
    """The entry for one file; sidecar problems are appended to `skips` as [reason, path]."""
    rel = os.path.relpath(model.path, model.root)
    entry = ZooEntry(
        id=hashes.key, kind=model.kind, name=Path(rel).stem, file_name=rel,
        file_path=os.path.abspath(model.path), sha256=hashes.sha256, autov2=hashes.autov2, autov3=hashes.autov3,
        preview_paths=list(model.previews), source="local",
        file_format="pickle" if is_pickle else "safetensors",
    )
    family, _ = detect_family(header_shapes, metadata) if not is_pickle else ("unknown", "")
    _merge(entry, metadata_fields(metadata), prefer_name=True)
    # Sidecars, most specific first: a Civitai record names the model better than a file name.
    for suffix in (".civitai.info", ".metadata.json", ".rgthree-info.json", ".json", ".txt"):
        if suffix not in model.sidecars:
            continue
        path = model.sidecars[suffix][0]
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_SIDECAR_BYTES + 1)
            info = parse_sidecar(suffix, data, model.kind)
        except OSError as exc:
            skips.append([f"sidecar unreadable ({exc.strerror})", path])
            continue
        except ZooError as exc:
            skips.append([f"sidecar {suffix}: {str(exc).split(' (')[0]}", path])
            continue
        _merge(entry, info, prefer_name=suffix in (".civitai.info", ".metadata.json", ".rgthree-info.json"))
    if family == "unknown":
        family = family_from_label(entry.base_model)
    entry.base_family = family
    if entry.recommended_weight is None and model.kind != "checkpoint":
        entry.recommended_weight = weight_from_description(entry.description)
    sanitize_entry(entry)
    entry.name = entry.name or "unnamed model"
    entry.role = role_from_tags(entry.tags, entry.kind, entry.name)
    return entry


def _sidecar_signature(model: _ModelFile) -> list:
    return sorted([suffix, size, mtime] for suffix, (_, size, mtime) in model.sidecars.items())


def _process(model: _ModelFile, cache: ScanCache, report: ScanReport, hash_files: bool,
             check_cancel: CheckCancel) -> Optional[dict]:
    """Record (hashes + entry) for one model file, or None if it is skipped."""
    if model.size == 0:
        report.skip("zero-byte file", model.path)
        return None
    is_pickle = model.path.lower().endswith(tuple(s for s in MODEL_SUFFIXES if s not in SAFETENSORS_SUFFIXES))
    sidecar_sig = _sidecar_signature(model)
    cached = cache.records.get(model.path)
    unchanged = bool(cached) and cached.get("size") == model.size and cached.get("mtime_ns") == model.mtime_ns
    if unchanged and cached.get("sidecars") == sidecar_sig and cached.get("previews") == model.previews \
            and cached.get("root") == model.root and cached.get("kind") == model.kind \
            and cached.get("entry_version") == ENTRY_VERSION \
            and (cached["hashes"].get("sha256") or not hash_files):
        report.from_cache += 1
        for reason, path in cached.get("skips") or []:
            report.skip(reason, path)
        return cached
    shapes: dict = {}
    metadata: dict = {}
    try:
        with open(model.path, "rb") as fh:
            data_offset = None
            if not is_pickle:
                header = read_header_from(fh, model.size, os.path.basename(model.path))
                shapes = {k: t.shape for k, t in header.tensors.items()}
                metadata = header.metadata
                data_offset = header.data_offset
            quick = cached["quick"] if unchanged else _quick_signature(fh, model.size)
    except ModelFileError as exc:
        report.skip(_reason(exc), model.path)
        return None
    except OSError as exc:
        report.skip(f"unreadable file ({exc.strerror})", model.path)
        return None
    hashes = None
    if unchanged:
        hashes = FileHashes(**cached["hashes"])
    else:
        moved = cache.lookup_moved(model.size, model.mtime_ns, quick, model.path)
        if moved:
            hashes = FileHashes(**moved["hashes"])
            report.renamed += 1
    if hash_files and (hashes is None or not hashes.sha256):
        try:
            hashes = hash_file(model.path, data_offset=data_offset, check_cancel=check_cancel)
        except ModelFileError as exc:
            report.skip(_reason(exc), model.path)
            return None
        report.hashed += 1
    elif hashes is None:
        hashes = FileHashes(sha256="", autov1="", autov2="", autov3="", size=model.size)
    skips: list[list[str]] = []
    entry = _build_entry(model, hashes, shapes, metadata, is_pickle, skips)
    if not entry.id:
        # Not hashed: the quick signature stands in until a hashing scan (stable while unchanged).
        entry.id = f"quick:{quick[:16]}"
    for reason, path in skips:
        report.skip(reason, path)
    return {"size": model.size, "mtime_ns": model.mtime_ns, "quick": quick, "hashes": asdict(hashes),
            "sidecars": sidecar_sig, "previews": model.previews, "root": model.root, "kind": model.kind,
            "skips": skips, "entry": entry.to_dict(), "entry_version": ENTRY_VERSION}


def _reason(exc: PolarisError) -> str:
    """Short count key from a ModelFileError message ("… file: <why>. Re-download …")."""
    text = str(exc)
    why = text.split(": ", 1)[1] if ": " in text else text
    why = why.split(". ")[0].split(" (")[0]
    return re.sub(r"\d[\d,]+", "N", why)[:80]


def _keep_one(copies: list[tuple[ZooEntry, _ModelFile, int]], report: ScanReport) -> ZooEntry:
    """Of several files with the same content, keep the best described one: the most sidecars that
    could be read (broken ones count against a copy), then previews, then the first path."""
    if len(copies) == 1:
        return copies[0][0]
    best = min(copies, key=lambda c: (-(len(c[1].sidecars) - c[2]), c[2], -len(c[1].previews), c[1].path))
    for entry, model, _ in copies:
        if model is not best[1]:
            report.skip(f"duplicate of another file (same {entry.id.split(':')[0]})",
                        f"{model.path} = {best[1].path}")
    return best[0]


def scan_models(roots: Sequence[tuple[str | os.PathLike, str]], *, cache_dir: Optional[str | os.PathLike] = None,
                hash_files: bool = True, follow_links: bool = False, on_step: Optional[OnStep] = None,
                check_cancel: Optional[CheckCancel] = None) -> ScanResult:
    """Scan `(folder, kind)` pairs, e.g. `[("ComfyUI/models/loras", "lora")]`, recursively.

    Returns one ZooEntry per distinct model file (duplicates by content hash are skipped and
    counted). `cache_dir` keeps a scan cache between runs (None: no cache is read or written).
    Folder links leading outside a root are skipped unless `follow_links`. A folder that does not exist raises
    ZooError; everything else wrong is a counted skip in the report.
    """
    on_step, check_cancel = resolve(on_step, check_cancel)
    started = time.perf_counter()
    report = ScanReport()
    models: list[_ModelFile] = []
    for root, kind in roots:
        if kind not in KINDS:
            raise ZooError(f"Unknown kind {kind!r} for {root}; use one of {list(KINDS)}.")
        root_path = Path(os.path.abspath(root))
        if not root_path.is_dir():
            raise ZooError(f"Model folder {root_path} does not exist or is not a folder; check the path.")
        models.extend(_walk(root_path, kind, report, check_cancel, follow_links))
    report.files_seen = len(models)
    cache = ScanCache(cache_dir)
    scanned = tuple(os.path.abspath(r).rstrip(os.sep) + os.sep for r, _ in roots)
    # Records of other roots stay; those under the scanned roots are rebuilt from what exists now.
    records: dict[str, dict] = {path: rec for path, rec in cache.records.items() if not path.startswith(scanned)}
    by_id: dict[str, list[tuple[ZooEntry, _ModelFile, int]]] = {}
    try:
        for i, model in enumerate(models):
            check_cancel()
            record = _process(model, cache, report, hash_files, check_cancel)
            on_step(i + 1, len(models))
            if record is None:
                continue
            records[model.path] = record
            try:
                entry = ZooEntry(**record["entry"])  # fast path: the cache was written by this version
            except TypeError:
                entry = ZooEntry.from_dict(record["entry"])
            if entry.file_format == "pickle":
                report.pickles += 1
            broken_sidecars = len(record.get("skips") or [])  # only sidecar problems are recorded there
            by_id.setdefault(entry.id, []).append((entry, model, broken_sidecars))
    except Cancelled:
        cache.save(records)  # keep the hashing done so far
        raise
    if len(records) != len(cache.records) or any(cache.records.get(p) is not r for p, r in records.items()):
        cache.save(records)  # an unchanged rescan writes nothing
    entries = [_keep_one(copies, report) for copies in by_id.values()]
    report.entries = len(entries)
    report.seconds = time.perf_counter() - started
    log.info("local scan: %s", report.summary())
    return ScanResult(entries=entries, report=report)


def scan_folder(root: str | os.PathLike, kind: str, **kwargs) -> ScanResult:
    """`scan_models([(root, kind)], **kwargs)`."""
    return scan_models([(root, kind)], **kwargs)


def comfyui_roots(models_dir: str | os.PathLike) -> list[tuple[Path, str]]:
    """The `(folder, kind)` pairs present under a ComfyUI `models` folder."""
    base = Path(models_dir)
    pairs = [("checkpoints", "checkpoint"), ("loras", "lora"), ("embeddings", "embedding")]
    return [(base / name, kind) for name, kind in pairs if (base / name).is_dir()]
