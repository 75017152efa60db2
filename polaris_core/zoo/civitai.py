"""Civitai API JSON → ZooEntry, one entry per model version.

Reads `.jsonl` / `.jsonl.gz` files of `/api/v1/models` objects (one model per line), pages of that
API (`{"items": [...]}`), and the by-hash model-version JSON (`/api/v1/model-versions/by-hash/…`,
also the format of `.civitai.info` sidecars), as a line or as a whole `.json` file.

All text here is untrusted: it is cleaned (HTML stripped, control characters dropped, length
capped) and only ever used as data to embed and score.

Cross-page evidence (`CrossReferences`, used by `load_catalog`): an image's metadata records the
checkpoint it was generated on (`Model hash`, `Model`) and the LoRAs it used (`<lora:NAME:w>`
tags, `resources`, `hashes`). So an image posted on one page is also evidence of how OTHER models
are used: its prompt becomes a related prompt of each model it names unambiguously (by file hash,
else by file name), wherever in the catalog that model is.
"""
from __future__ import annotations

import functools
import gzip
import io
import json
import logging
import os
import re
import statistics
import zlib
from collections import Counter
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Iterable, Iterator, Optional

from polaris_core.errors import ZooError
from polaris_core.zoo.entry import KINDS, ZooEntry
from polaris_core.zoo.family import family_from_label
from polaris_core.zoo.hashing import autov3_key

log = logging.getLogger("polaris")

# Civitai model "type" → Polaris kind. Other types (Hypernetwork, Controlnet, VAE, …) are skipped.
CIVITAI_KINDS = {
    "checkpoint": "checkpoint",
    "lora": "lora",
    "locon": "lora",
    "lycoris": "lora",
    "dora": "lora",
    "textualinversion": "embedding",
}

MAX_DESCRIPTION_CHARS = 8000
MAX_PROMPT_CHARS = 2000
MAX_PROMPTS_PER_VERSION = 64
MAX_RELATED_PROMPTS_PER_VERSION = 16
MAX_TRIGGER_CHARS = 200
MAX_AUTHOR_CHARS = 100
MAX_JSON_FILE_BYTES = 512 * 1024 * 1024  # a whole-file `.json` catalog is parsed in memory
_WARN_LIMIT = 20  # per-reason skip warnings before falling back to debug logging


@dataclass
class SkipCounter:
    """Skips counted by reason; the first few of each reason are logged as warnings."""

    skipped: Counter = field(default_factory=Counter)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        level = logging.WARNING if self.skipped[reason] <= _WARN_LIMIT else logging.DEBUG
        log.log(level, "skipped %s: %s", where, reason)

    def skip_summary(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) or "none"
        return f"skipped {self.total_skipped} ({reasons})"


@dataclass
class IngestStats(SkipCounter):
    """Counts of what one or more `iter_catalog` calls read, produced and skipped (by reason)."""

    lines: int = 0
    models: int = 0
    versions: int = 0
    entries: int = 0
    related_prompts: int = 0  # cross-page prompts attached by `load_catalog`

    def summary(self) -> str:
        related = f", {self.related_prompts} related prompts from other pages" if self.related_prompts else ""
        return (f"{self.entries} entries from {self.versions} versions of {self.models} models "
                f"({self.lines} lines){related}; {self.skip_summary()}")


# ---------------------------------------------------------------- text cleaning

_BLOCK_TAGS = ("p|br|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|pre|hr|table|section|article|header|footer|"
               "dt|dd|figure|figcaption")
_HIDDEN_TAGS = "script|style|noscript|template|iframe|object|head|title|svg|math|textarea|select"
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
# As in browsers, "<" must be followed directly by a name to open a tag ("a < b" is text).
_HIDDEN_BLOCK = re.compile(rf"<({_HIDDEN_TAGS})\b[^>]*>.*?(?:</\1\s*>|$)", re.DOTALL | re.IGNORECASE)
_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^<>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?[a-zA-Z][^<>]*>|<[!?][^<>]*>")
# Characters that carry no text: C0/C1 controls, zero-width and bidi controls, BOM, surrogates,
# private use, tag characters, Hangul fillers (used on Civitai as invisible padding).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\uffff\ud800-\udfff\ue000-\uf8ff"
    "\U000e0000-\U000e007f\U000f0000-\U0010ffff]")
_SPACES = r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]"
_INVISIBLE_OR_SPACES = re.compile(f"(?:{_INVISIBLE.pattern}|{_SPACES})+")
_MULTI_SPACE = re.compile(" {2,}")
_BLANK_LINES = re.compile(r"[ \t]*[\r\n\u2028\u2029\x85][\s]*")
MAX_HTML_CHARS = 200_000  # hostile descriptions are cut before parsing to keep it linear


def clean_text(text: str, max_chars: int = MAX_DESCRIPTION_CHARS) -> str:
    """Drop control/invisible characters, collapse whitespace, keep line breaks, cap the length."""
    if not text:
        return ""
    if text.isprintable():  # fast path (most prompts): no controls, line breaks or odd spaces
        if "  " in text:
            text = _MULTI_SPACE.sub(" ", text)
        return text.strip()[:max_chars].rstrip()
    text = _INVISIBLE_OR_SPACES.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _BLANK_LINES.sub("\n", text).strip()
    return text[:max_chars].rstrip()


def strip_html(html: str, max_chars: int = MAX_DESCRIPTION_CHARS) -> str:
    """Visible text of an HTML fragment: no tags, scripts, styles or comments; entities decoded.

    Regex-based so it is fast and total: unclosed tags, stray `<`, bad entities and binary junk
    all give some text, never an exception.
    """
    if not html:
        return ""
    html = html[:MAX_HTML_CHARS]
    if "<" in html:
        html = _COMMENT.sub(" ", html)
        html = _HIDDEN_BLOCK.sub(" ", html)
        html = _BLOCK_TAG.sub("\n", html)
        html = _ANY_TAG.sub("", html)
    if "&" in html:
        html = unescape(html)
    return clean_text(html, max_chars)


_OPEN_TAG_TAIL = re.compile(r"<[a-zA-Z!/?][^<>]*$")
MAX_URL_CHARS = 2048
_DEMO_PREVIEW_URL = re.compile(r"demo://previews/\d{1,12}\.png")


def plain_text(text: str, max_chars: int = MAX_DESCRIPTION_CHARS) -> str:
    """Untrusted text that is not HTML (a name, trigger word, prompt, or already-decoded description)
    as plain text: tags are removed, with the content of `<script>`-like blocks; a `<` not opening a
    tag stays ("a < b", "<3"). Whatever renders it later gets no markup to interpret."""
    text = clean_text(text, max_chars)
    if "<" in text:
        text = _COMMENT.sub(" ", text)
        text = _HIDDEN_BLOCK.sub(" ", text)
        text = _OPEN_TAG_TAIL.sub(" ", _ANY_TAG.sub(" ", text))
        text = clean_text(text, max_chars)
    return text


def safe_preview_url(url) -> bool:
    """An http(s) URL with a host (or a shipped demo preview), short, without spaces, quotes or angle
    brackets: never `javascript:`, `data:` or `file:`, which a page would run or open."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        return False
    if _DEMO_PREVIEW_URL.fullmatch(url):
        return True
    if any(ch.isspace() or ch in "\"'<>`\\" or not ch.isprintable() for ch in url):
        return False
    scheme, _, rest = url.partition("://")
    return scheme.lower() in ("http", "https") and bool(rest.split("/", 1)[0])


def sanitize_entry(entry: ZooEntry) -> ZooEntry:
    """Make every text field of `entry` plain text and keep only safe preview locations (http(s) URLs
    and absolute local paths), in place. Applied to every entry built from a catalog, a sidecar or
    a plan: a web page may show any of these fields. `file_name`/`file_path` are real paths, kept as
    they are (shown only as text)."""
    for name in ("name", "version_name", "base_model", "author", "description"):
        setattr(entry, name, plain_text(str(getattr(entry, name) or "")))
    for name in ("trigger_words", "tags", "example_prompts", "related_prompts"):
        values = getattr(entry, name) if isinstance(getattr(entry, name), list) else []
        setattr(entry, name, [t for t in (plain_text(str(v), MAX_PROMPT_CHARS) for v in values) if t])
    entry.preview_urls = [u for u in (entry.preview_urls if isinstance(entry.preview_urls, list) else [])
                          if safe_preview_url(u)]
    entry.preview_paths = [p for p in (entry.preview_paths if isinstance(entry.preview_paths, list) else [])
                           if isinstance(p, str) and os.path.isabs(p) and "\x00" not in p]
    return entry


# A closed `<lora:name:w>` tag, or an unclosed one (common in real prompts) up to the next comma.
_NETWORK_TAG = re.compile(r"<\s*(lora|lyco|locon|lycoris|hypernet)\s*:(?:([^<>\n]*)>|([^<>,\n]*))", re.IGNORECASE)


def strip_network_tags(prompt: str) -> str:
    """Remove A1111 `<lora:name:weight>`-style markup from a prompt (it is not image content)."""
    return _NETWORK_TAG.sub(" ", prompt) if "<" in prompt else prompt


def network_tags(prompt: str) -> list[tuple[str, Optional[float]]]:
    """`(name, weight)` for each `<lora:…>` / `<lyco:…>` tag in a prompt (weight None if absent)."""
    found = []
    for match in _NETWORK_TAG.finditer(prompt):
        if match.group(1).lower() == "hypernet":
            continue
        parts = (match.group(2) if match.group(2) is not None else match.group(3)).split(":")
        name = parts[0].strip()
        weight = _to_float(parts[1]) if len(parts) > 1 else None
        found.append((name, weight))
    return found


def _to_float(text) -> Optional[float]:
    try:
        value = float(str(text).strip().split(",")[0])
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


# ---------------------------------------------------------------- recommended weight

_NUM = r"(-?(?:\d{1,6}(?:\.\d{1,6})?|\.\d{1,6}))(?!\.?\d)"  # unambiguous: no backtracking blow-up
_RANGE_SEP = r"\s*(?:-|~|–|—|to|and)\s*"
_WEIGHT_WORD = r"\b(?:weight|strength|multiplier|scale)"
_DESC_RANGE = re.compile(_WEIGHT_WORD + r"[^0-9\n<>]{0,25}?" + _NUM + _RANGE_SEP + _NUM, re.IGNORECASE)
_DESC_SINGLE = re.compile(_WEIGHT_WORD + r"[^0-9\n<>]{0,25}?" + _NUM, re.IGNORECASE)
_DESC_NUM_FIRST = re.compile(_NUM + r"(?:" + _RANGE_SEP + _NUM + r")?\s*(?:weight|strength)", re.IGNORECASE)
MIN_WEIGHT, MAX_WEIGHT = 0.05, 2.0


def _plausible(value: Optional[float]) -> bool:
    return value is not None and MIN_WEIGHT <= value <= MAX_WEIGHT


_WEIGHT_HINT = re.compile(r"weight|strength|multiplier|scale|<\s*(?:lora|lyco)", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)  # a model's card text is shared by all of its versions
def weight_from_description(text: str) -> Optional[float]:
    """A recommended weight stated in card text ("weight 0.6-0.8" → 0.7, "strength: 0.8", "0.7 weight")."""
    if not text or not _WEIGHT_HINT.search(text):
        return None
    for match in _DESC_RANGE.finditer(text):
        low, high = _to_float(match.group(1)), _to_float(match.group(2))
        if _plausible(low) and _plausible(high) and low <= high:
            return round((low + high) / 2, 3)
    for match in _DESC_SINGLE.finditer(text):
        value = _to_float(match.group(1))
        if _plausible(value):
            return value
    for match in _DESC_NUM_FIRST.finditer(text):
        low, high = _to_float(match.group(1)), _to_float(match.group(2)) if match.group(2) else None
        if _plausible(low) and (high is None or (_plausible(high) and low <= high)):
            return round((low + high) / 2, 3) if high is not None else low
    for _name, value in network_tags(text):
        if _plausible(value):
            return value
    return None


def weight_from_prompts(prompts: Iterable[str], file_stems: set[str],
                        resources: Iterable[dict] = ()) -> Optional[float]:
    """Median weight the author used in example prompts: `<lora:stem:w>` tags naming one of this
    version's files (or the only tag in a prompt), plus `meta.resources` lora weights by name."""
    weights = []
    for prompt in prompts:
        tags = [(n, w) for n, w in network_tags(prompt) if w is not None]
        named = [w for n, w in tags if n.lower() in file_stems]
        if named:
            weights.extend(named)
        elif len(tags) == 1:
            weights.append(tags[0][1])
    for res in resources:
        name = str(res.get("name") or "").lower()
        if str(res.get("type") or "").lower() in ("lora", "lycoris", "locon") and name in file_stems:
            value = _to_float(res.get("weight"))
            if value is not None:
                weights.append(value)
    weights = [w for w in weights if _plausible(w)]
    return round(statistics.median(weights), 3) if weights else None


# ---------------------------------------------------------------- role

_CHARACTER_TAGS = {"character", "characters", "celebrity", "celeb", "real person", "person", "actress", "actor",
                   "anime character", "game character", "video game character", "vtuber", "waifu", "singer",
                   "kpop", "idol", "instagram model", "consistent character", "famous", "pornstar", "youtuber",
                   "streamer", "cosplayer", "model", "athlete", "girl", "woman", "man", "boy", "people",
                   "female", "male", "girls", "women", "men"}
_STRONG_CHARACTER_TAGS = {"character", "characters", "celebrity", "celeb", "real person", "actress", "actor",
                          "anime character", "game character", "video game character", "vtuber", "waifu",
                          "consistent character"}
_STYLE_TAGS = {"style", "art style", "artstyle", "styles", "style lora", "artist", "artist style", "aesthetic",
               "painting style", "illustration style", "drawing style", "style art", "stylized", "art",
               "photography style", "filter", "lighting", "color", "colorful", "paintings", "painting",
               "watercolor", "oil painting", "sketch", "lineart", "pixel art", "3d render", "photographic",
               "illustration", "digital art", "concept art", "retro", "vintage", "abstract", "surreal",
               "cyberpunk", "steampunk", "fantasy art", "anime style", "cartoon", "comic", "manga style"}
_STRONG_STYLE_TAGS = {"style", "art style", "artstyle", "styles", "style lora", "artist", "artist style"}
_OBJECT_TAGS = {"concept", "concepts", "object", "objects", "clothing", "clothes", "outfit", "costume", "fashion",
                "dress", "armor", "weapon", "weapons", "vehicle", "vehicles", "car", "cars", "building",
                "buildings", "architecture", "animal", "animals", "creature", "food", "furniture", "item", "items",
                "accessory", "accessories", "hairstyle", "hair", "background", "scenery", "landscape",
                "landscapes", "prop", "props", "tool", "plant", "flower", "flowers", "poses", "pose", "mecha",
                "robot", "jewelry", "shoes", "hat", "interior", "environment"}
_STRONG_OBJECT_TAGS = {"concept", "object", "objects", "clothing", "clothes", "outfit", "vehicle", "vehicles",
                       "buildings", "animals", "food", "furniture", "items", "accessories", "weapon", "weapons"}
_OTHER_TAGS = {"negative", "negative embedding", "negative prompt", "slider", "utility", "detailer", "enhancer",
               "noise offset", "helper"}
_NAME_HINTS = (
    ("style", re.compile(r"\b(style|artstyle|art style|aesthetic|painting|illustration)\b", re.I)),
    ("character", re.compile(r"\b(character|cosplay|waifu)\b", re.I)),
    ("other", re.compile(r"\b(negative|neg|slider|detail(er)?|tweaker|enhancer|helper|offset|easynegative)\b",
                         re.I)),
)


def role_from_tags(tags: Iterable[str], kind: str, name: str = "") -> str:
    """style / object / character / other from Civitai tags (lower-cased), the kind and the name."""
    if kind == "checkpoint":
        return "style"  # a checkpoint sets the look of the whole image: it fills the style-checkpoint slot
    tagset = {t.strip().lower() for t in tags if t}
    scores = {"style": 0.0, "object": 0.0, "character": 0.0, "other": 0.0}
    scores["character"] += 3 * len(tagset & _STRONG_CHARACTER_TAGS) + 0.5 * len(tagset & _CHARACTER_TAGS)
    scores["style"] += 3 * len(tagset & _STRONG_STYLE_TAGS) + 0.5 * len(tagset & _STYLE_TAGS)
    scores["object"] += 3 * len(tagset & _STRONG_OBJECT_TAGS) + 0.5 * len(tagset & _OBJECT_TAGS)
    if tagset & _OTHER_TAGS:
        scores["other"] += 5
    for role, pattern in _NAME_HINTS:
        if name and pattern.search(name):
            scores[role] += 2
    best = max(scores, key=lambda r: (scores[r], r == "style"))
    return best if scores[best] > 0 else "other"


# ---------------------------------------------------------------- entries

def _as_list(value) -> list:
    return value if isinstance(value, list) else []


def clean_author(text: str) -> str:
    """An author name as one short line of plain text (it only groups models; untrusted)."""
    return clean_text(text, MAX_AUTHOR_CHARS).replace("\n", " ")


def _author_of(obj: dict) -> str:
    """`creator.username` of a Civitai model (or of a sidecar that copied it), cleaned."""
    return clean_author(str(_as_dict(obj.get("creator")).get("username") or ""))


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _as_int(value) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _clean_words(values, max_chars: int = MAX_TRIGGER_CHARS) -> list[str]:
    seen, out = set(), []
    for value in _as_list(values):
        if not isinstance(value, str):
            continue
        word = clean_text(value, max_chars).replace("\n", " ").strip(" ,")
        if word and word.lower() not in seen:
            seen.add(word.lower())
            out.append(word)
    return out


def _primary_file(files: list) -> dict:
    files = [f for f in files if isinstance(f, dict)]
    for f in files:
        if f.get("primary"):
            return f
    for f in files:
        if str(f.get("type") or "Model").lower() in ("model", "pruned model"):
            return f
    return files[0] if files else {}


_HEX = re.compile(r"[0-9a-f]+")


def _hex(value) -> str:
    text = str(value or "").strip().lower()
    return text if _HEX.fullmatch(text) else ""


def _safe_preview(image: dict) -> bool:
    nsfw = image.get("nsfw")
    return nsfw in (None, False, "None", "none", 0) and isinstance(image.get("url"), str)


def entry_from_version(version: dict, model: Optional[dict] = None, *,
                       model_description: Optional[str] = None,
                       kind: Optional[str] = None) -> tuple[Optional[ZooEntry], str]:
    """One ZooEntry from a Civitai model-version object (with its parent model object if known).

    Returns `(entry, "")`, or `(None, reason)` when the version cannot be used. The by-hash JSON
    and `.civitai.info` sidecars carry `version["model"]` (name, type) instead of a parent object.
    `kind` overrides the kind read from the model type (a local file's folder decides it).
    """
    if not isinstance(version, dict):
        return None, "version is not an object"
    model = model if isinstance(model, dict) else {}
    inner_model = _as_dict(version.get("model"))
    model_type = str(model.get("type") or inner_model.get("type") or "").replace(" ", "").lower()
    kind = kind or CIVITAI_KINDS.get(model_type)
    if kind is None:
        return None, f"unsupported type {model_type or 'missing'}"
    version_id = _as_int(version.get("id"))
    model_id = _as_int(model.get("id")) or _as_int(version.get("modelId"))
    name = plain_text(str(model.get("name") or inner_model.get("name") or version.get("name") or ""), 300)
    if version_id is None or not name:
        return None, "no version id or name"

    files = _as_list(version.get("files"))
    primary = _primary_file(files)
    hashes = {str(k).lower(): v for k, v in _as_dict(primary.get("hashes")).items()}
    sha256, autov2, autov3 = _hex(hashes.get("sha256")), _hex(hashes.get("autov2")), _hex(hashes.get("autov3"))
    if sha256 and not autov2:
        autov2 = sha256[:10]
    entry_id = autov3_key(autov3) if autov3 else f"civitai:{version_id}"

    tags = _clean_words(model.get("tags") or inner_model.get("tags"), 80)
    author = _author_of(model) or _author_of(inner_model) or _author_of(version)
    if model_description is None:
        model_description = strip_html(str(model.get("description") or ""))
    version_description = strip_html(str(version.get("description") or ""))
    description = model_description
    if version_description and version_description not in description:
        description = f"{description}\n\n{version_description}" if description else version_description
    description = description[:MAX_DESCRIPTION_CHARS]

    raw_prompts, resources, previews, seen = [], [], [], set()
    for image in _as_list(version.get("images")):
        if not isinstance(image, dict):
            continue
        if _safe_preview(image):
            previews.append(image["url"])
        meta = _as_dict(image.get("meta"))
        prompt = meta.get("prompt")
        resources.extend(r for r in _as_list(meta.get("resources")) if isinstance(r, dict))
        if isinstance(prompt, str) and prompt.strip():
            raw_prompts.append(prompt[: MAX_PROMPT_CHARS * 2])
    example_prompts = []
    for prompt in dict.fromkeys(raw_prompts):
        if len(example_prompts) >= MAX_PROMPTS_PER_VERSION:
            break
        cleaned = clean_text(strip_network_tags(prompt), MAX_PROMPT_CHARS).replace("\n", " ")
        key = cleaned.lower()
        if cleaned and key not in seen:
            seen.add(key)
            example_prompts.append(cleaned)

    recommended = None
    if kind != "checkpoint":
        stems = {str(f.get("name") or "").rsplit(".", 1)[0].lower() for f in files if isinstance(f, dict)}
        stems.discard("")
        recommended = weight_from_description(version_description) or weight_from_description(model_description)
        if recommended is None:
            recommended = weight_from_prompts(raw_prompts, stems, resources)

    base_model = clean_text(str(version.get("baseModel") or ""), 60)
    downloads = _as_int(_as_dict(model.get("stats")).get("downloadCount"))
    if downloads is None:
        downloads = _as_int(_as_dict(version.get("stats")).get("downloadCount")) or 0
    entry = ZooEntry(
        id=entry_id,
        kind=kind,
        name=name,
        role=role_from_tags(tags, kind, name),
        base_family=family_from_label(base_model),
        base_model=base_model,
        version_name=clean_text(str(version.get("name") or ""), 200),
        civitai_model_id=model_id,
        civitai_version_id=version_id,
        sha256=sha256,
        autov2=autov2,
        autov3=autov3,
        trigger_words=_clean_words(version.get("trainedWords")),
        tags=tags,
        description=description,
        example_prompts=example_prompts,
        preview_urls=previews,
        recommended_weight=recommended,
        downloads=max(0, downloads),
        author=author,
        source="catalog",
    )
    return sanitize_entry(entry), ""


# ---------------------------------------------------------------- cross-page evidence

_LINKED_KINDS = ("checkpoint", "lora")
_LORA_RESOURCE_TYPES = ("lora", "lycoris", "locon", "dora")
_MODEL_FILE_TYPES = ("model", "pruned model")
_HASH_KEYS = ("autov1", "autov2", "autov3", "sha256")


@dataclass(frozen=True)
class _ImageUse:
    """What one example image's metadata says it was made with."""

    page_model: Optional[int]        # the Civitai model whose page shows the image
    prompt: str                      # cleaned, network tags removed
    checkpoint_hashes: tuple[str, ...]
    checkpoint_names: tuple[str, ...]
    lora_hashes: tuple[str, ...]
    lora_names: tuple[str, ...]


def _lower_str(value) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _image_use(meta: dict, page_model: Optional[int]) -> Optional[_ImageUse]:
    prompt = meta.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    cleaned = plain_text(strip_network_tags(prompt[: MAX_PROMPT_CHARS * 2]), MAX_PROMPT_CHARS).replace("\n", " ")
    if not cleaned:
        return None
    checkpoint_hashes = [_hex(meta.get("Model hash"))]
    checkpoint_names = [_lower_str(meta.get("Model"))]
    lora_hashes: list[str] = []
    lora_names = [name.lower() for name, _ in network_tags(prompt)]
    for resource in _as_list(meta.get("resources")):
        if not isinstance(resource, dict):
            continue
        kind = _lower_str(resource.get("type"))
        if kind == "model":
            checkpoint_hashes.append(_hex(resource.get("hash")))
            checkpoint_names.append(_lower_str(resource.get("name")))
        elif kind in _LORA_RESOURCE_TYPES:
            lora_hashes.append(_hex(resource.get("hash")))
            lora_names.append(_lower_str(resource.get("name")))
    for key, value in _as_dict(meta.get("hashes")).items():
        if isinstance(key, str) and key.lower().startswith(("lora:", "lyco:")):
            lora_hashes.append(_hex(value))

    def distinct(values: list[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for v in values if v))

    use = _ImageUse(page_model, cleaned, distinct(checkpoint_hashes), distinct(checkpoint_names),
                    distinct(lora_hashes), distinct(lora_names))
    if not (use.checkpoint_hashes or use.checkpoint_names or use.lora_hashes or use.lora_names):
        return None
    return use


class CrossReferences:
    """Links example images to the checkpoints and LoRAs their metadata records, across pages.

    Feed it every version (`add_version`, done by `entries_from_object`), then `attach` the
    prompts to the entries. A reference is followed only when it is unambiguous: a hash or file
    name shared by files of two different models links to neither. A checkpoint is matched by
    hash first and by file name only when the image records no known hash.
    """

    def __init__(self) -> None:
        self._by_hash: dict[str, dict[str, set[str]]] = {k: {} for k in _LINKED_KINDS}
        self._by_stem: dict[str, dict[str, set[str]]] = {k: {} for k in _LINKED_KINDS}
        self._model_of: dict[str, Optional[int]] = {}
        self._uses: list[_ImageUse] = []

    def add_version(self, version: dict, model: Optional[dict], entry: Optional[ZooEntry]) -> None:
        """Record a version's model files (when `entry` is a kept checkpoint or LoRA) and the
        generation metadata of its example images (always: any page can be evidence)."""
        if not isinstance(version, dict):
            return
        if entry is not None and entry.kind in _LINKED_KINDS:
            self._model_of[entry.id] = entry.civitai_model_id
            for file in _as_list(version.get("files")):
                if not isinstance(file, dict) or str(file.get("type") or "Model").lower() not in _MODEL_FILE_TYPES:
                    continue
                hashes = {str(k).lower(): _hex(v) for k, v in _as_dict(file.get("hashes")).items()}
                for key in _HASH_KEYS:
                    value = hashes.get(key, "")
                    for prefix in ((value[:10], value[:12]) if key == "sha256" else (value,)):
                        if prefix:
                            self._by_hash[entry.kind].setdefault(prefix, set()).add(entry.id)
                stem = str(file.get("name") or "").rsplit(".", 1)[0].strip().lower()
                if stem:
                    self._by_stem[entry.kind].setdefault(stem, set()).add(entry.id)
        page_model = entry.civitai_model_id if entry is not None else (
            _as_int(_as_dict(model).get("id")) or _as_int(version.get("modelId")))
        for image in _as_list(version.get("images")):
            if isinstance(image, dict):
                use = _image_use(_as_dict(image.get("meta")), page_model)
                if use is not None:
                    self._uses.append(use)

    def _unique(self, table: dict[str, set[str]], keys: Iterable[str]) -> set[str]:
        """Entry ids the keys name, keeping a key only when all its files belong to one model."""
        found: set[str] = set()
        for key in keys:
            ids = table.get(key)
            if ids and len({self._model_of.get(i) for i in ids}) == 1:
                found |= ids
        return found

    def targets(self, use: _ImageUse) -> set[str]:
        """Entry ids of the checkpoints and LoRAs an image's metadata names unambiguously."""
        checkpoints = self._unique(self._by_hash["checkpoint"], use.checkpoint_hashes) or \
            self._unique(self._by_stem["checkpoint"], use.checkpoint_names)
        loras = self._unique(self._by_hash["lora"], use.lora_hashes) | \
            self._unique(self._by_stem["lora"], use.lora_names)
        return checkpoints | loras

    def attach(self, entries: Iterable[ZooEntry], stats: Optional[IngestStats] = None) -> int:
        """Append related prompts (other pages only, deduplicated, capped per version) to the
        entries they name. Returns how many prompts were attached."""
        by_id = {e.id: e for e in entries}
        seen: dict[str, set[str]] = {}
        attached = 0
        for use in self._uses:
            for entry_id in self.targets(use):
                entry = by_id.get(entry_id)
                if entry is None or (use.page_model is not None and use.page_model == entry.civitai_model_id):
                    continue
                if len(entry.related_prompts) >= MAX_RELATED_PROMPTS_PER_VERSION:
                    continue
                known = seen.get(entry_id)
                if known is None:
                    known = seen[entry_id] = {p.lower() for p in entry.example_prompts + entry.related_prompts}
                key = use.prompt.lower()
                if key in known:
                    continue
                known.add(key)
                entry.related_prompts.append(use.prompt)
                attached += 1
        if stats is not None:
            stats.related_prompts += attached
        return attached


def entries_from_object(obj, kinds: Iterable[str] = KINDS, stats: Optional[IngestStats] = None,
                        where: str = "", references: Optional["CrossReferences"] = None) -> Iterator[ZooEntry]:
    """Entries from one parsed JSON value: a model, a model version, an API page or a list of those.

    `references`, when given, records every version's files and images (of any kind or type)
    for cross-page linking."""
    stats = stats if stats is not None else IngestStats()
    kinds = set(kinds)
    if isinstance(obj, list):
        for item in obj:
            yield from entries_from_object(item, kinds, stats, where, references)
        return
    if not isinstance(obj, dict):
        stats.skip("not a JSON object", where)
        return
    if isinstance(obj.get("items"), list) and "modelVersions" not in obj:
        yield from entries_from_object(obj["items"], kinds, stats, where, references)
        return
    if isinstance(obj.get("modelVersions"), list):
        stats.models += 1
        model_description = strip_html(str(obj.get("description") or ""))
        pairs = [(v, obj) for v in obj["modelVersions"]]
    elif "modelId" in obj or "files" in obj or isinstance(obj.get("model"), dict):
        model_description = None
        pairs = [(obj, None)]
    else:
        stats.skip("not a Civitai model or model-version object", where)
        return
    for version, model in pairs:
        stats.versions += 1
        entry, reason = entry_from_version(version, model, model_description=model_description)
        if references is not None:
            references.add_version(version, model, entry if entry is not None and entry.kind in kinds else None)
        if entry is None:
            stats.skip(reason, where)
        elif entry.kind not in kinds:
            stats.skipped[f"kind {entry.kind} not requested"] += 1
        else:
            stats.entries += 1
            yield entry


def _open_text(path: Path) -> io.TextIOBase:
    raw = open(path, "rb")
    head = raw.read(2)
    raw.seek(0)
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")


def iter_catalog(path: str | os.PathLike, *, kinds: Iterable[str] = KINDS,
                 stats: Optional[IngestStats] = None,
                 references: Optional[CrossReferences] = None) -> Iterator[ZooEntry]:
    """Yield one ZooEntry per usable model version in a Civitai catalog file, as it is read.

    `.jsonl` / `.jsonl.gz` (gzip detected by content): one JSON value per line; a bad line is
    skipped, logged and counted in `stats`. `.json`: one JSON value for the whole file. The same
    entry id twice (the same file re-listed) is kept once. Raises ZooError if the file cannot be read.
    Streaming cannot know cross-page evidence yet: `load_catalog` adds it (or pass `references`
    and call `references.attach` on the entries at the end).
    """
    path = Path(path)
    stats = stats if stats is not None else IngestStats()
    kinds = tuple(kinds)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ZooError(f"Unknown kind(s) {sorted(unknown)}; choose from {list(KINDS)}.")
    if not path.is_file():
        raise ZooError(f"Catalog file {path} does not exist; pass a Civitai .jsonl, .jsonl.gz or .json file.")
    seen_ids: set[str] = set()

    def unique(entries: Iterable[ZooEntry]) -> Iterator[ZooEntry]:
        for entry in entries:
            if entry.id in seen_ids:
                stats.entries -= 1
                stats.skip("duplicate entry id", f"{path.name}: {entry.id}")
                continue
            seen_ids.add(entry.id)
            yield entry

    try:
        if path.suffix.lower() == ".json":
            if path.stat().st_size > MAX_JSON_FILE_BYTES:
                raise ZooError(f"{path} is larger than {MAX_JSON_FILE_BYTES >> 20} MB; "
                               "split it into a .jsonl file with one model per line.")
            with _open_text(path) as fh:
                text = fh.read()
            stats.lines += 1
            try:
                obj = json.loads(text)
            except ValueError as exc:
                stats.skip(f"invalid JSON ({exc.msg})", str(path))
                return
            yield from unique(entries_from_object(obj, kinds, stats, path.name, references))
            return
        with _open_text(path) as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                stats.lines += 1
                where = f"{path.name}:{line_no}"
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    stats.skip(f"invalid JSON ({getattr(exc, 'msg', exc)})", where)
                    continue
                yield from unique(entries_from_object(obj, kinds, stats, where, references))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # A truncated download: keep what was read, count the rest as one skip.
        stats.skip(f"truncated or corrupt compressed file ({exc})", str(path))
    except OSError as exc:
        raise ZooError(f"Cannot read catalog {path}: {exc}. Check the file exists and is readable.") from exc


def load_catalog(paths: Iterable[str | os.PathLike], *, kinds: Iterable[str] = KINDS,
                 stats: Optional[IngestStats] = None, related_prompts: bool = True) -> list[ZooEntry]:
    """All entries of several catalog files, in order (ids unique per file), with cross-page
    related prompts attached (`CrossReferences`; evidence may come from any of the files)."""
    stats = stats if stats is not None else IngestStats()
    references = CrossReferences() if related_prompts else None
    out: list[ZooEntry] = []
    for path in paths:
        out.extend(iter_catalog(path, kinds=kinds, stats=stats, references=references))
    if references is not None:
        references.attach(out, stats)
    log.info("catalog: %s", stats.summary())
    return out
