"""ZooEntry: one checkpoint, LoRA or embedding, from a catalog or a local file."""
from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

KINDS = ("checkpoint", "lora", "embedding")
ROLES = ("style", "object", "character", "other")


@dataclass
class ZooEntry:
    id: str                      # primary key: tensor-data hash (AutoV3 way) or "civitai:<version_id>"
    kind: str                    # one of KINDS; LyCORIS/LoCon are "lora"
    name: str
    role: str = "other"          # one of ROLES
    base_family: str = "unknown" # e.g. "sd15", "sd2", "sdxl", "flux", "unknown"
    base_model: str = ""         # raw label, e.g. "SD 1.5"
    version_name: str = ""
    civitai_model_id: Optional[int] = None
    civitai_version_id: Optional[int] = None
    sha256: str = ""
    autov2: str = ""
    autov3: str = ""
    trigger_words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str = ""        # HTML stripped, untrusted
    example_prompts: list[str] = field(default_factory=list)
    # Prompts of images posted on OTHER pages whose metadata records this model (by hash or file
    # name): evidence of how it is used; untrusted like all catalog text.
    related_prompts: list[str] = field(default_factory=list)
    preview_paths: list[str] = field(default_factory=list)
    preview_urls: list[str] = field(default_factory=list)
    recommended_weight: Optional[float] = None
    file_name: str = ""          # name relative to ComfyUI's model folder, for local files
    file_path: str = ""          # absolute path, for local files
    downloads: int = 0
    # Who published the model (Civitai creator, `modelspec.author`): authors keep a prompting style
    # and subject area across their models, which retrieval uses (retrieve/fusion.py, retrieve/ranker.py). Untrusted text.
    author: str = ""
    source: str = "catalog"      # "catalog" or "local"
    file_format: str = ""        # local files: "safetensors", or "pickle" (listed by name and hash, never loaded)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ZooEntry":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def group_key(entry: ZooEntry) -> str:
    """Versions of one model share a group: results are collapsed per group."""
    if entry.civitai_model_id is not None:
        return f"civitai:{entry.civitai_model_id}"
    return f"entry:{entry.id}"


def entry_json(entry: ZooEntry) -> str:
    """An entry as one line of an index's entries file."""
    return json.dumps(entry.to_dict(), ensure_ascii=False)


class EntryList(Sequence):
    """An index's entries, each kept as its compressed JSON text and decoded when read, with the few
    fields read for every entry (filters, grouping, facets) kept as columns.

    As objects, a synthetic-zoo entry with its lists and strings takes ~6 KB (6 GB at a million entries);
    its JSON text ~2.3 KB, ~1.1 KB deflated (zlib level 1: ~10 µs per entry each way on an idle core).
    Reading one decodes it (a search reads its top candidates only), each time: a decoded entry is a
    copy, and changing it changes nothing stored.
    """

    def __init__(self) -> None:
        self._texts: list[bytes] = []        # zlib-compressed UTF-8 JSON
        self.ids: list[str] = []
        self.kinds: list[str] = []
        self.families: list[str] = []
        self.roles: list[str] = []
        self.authors: list[str] = []        # stripped, lower-cased ("" for none)
        self.is_local: list[bool] = []
        self.downloads: list[int] = []
        self.group_keys: list[str] = []

    @classmethod
    def of(cls, entries: Iterable[ZooEntry]) -> "EntryList":
        out = cls()
        out.extend(entries)
        return out

    def extend(self, entries: Iterable[ZooEntry]) -> None:
        for entry in entries:
            self._add(entry_json(entry).encode("utf-8"), entry)

    def extend_lines(self, lines: Iterable[str]) -> None:
        """Append entries from lines of an entries file (their text is kept as read, not re-encoded)."""
        for line in lines:
            if line.strip():
                text = line.rstrip("\n")
                self._add(text.encode("utf-8"), ZooEntry.from_dict(json.loads(text)))

    def _add(self, text: bytes, entry: ZooEntry) -> None:
        self._texts.append(zlib.compress(text, 1))
        self.ids.append(entry.id)
        self.kinds.append(sys.intern(entry.kind))
        self.families.append(sys.intern(entry.base_family or ""))
        self.roles.append(sys.intern(entry.role or ""))
        self.authors.append(sys.intern((entry.author or "").strip().lower()))
        self.is_local.append(entry.source == "local")
        self.downloads.append(max(int(entry.downloads or 0), 0))
        self.group_keys.append(group_key(entry))

    # The filter columns as an index saves them beside the deflated texts (`packed`).
    COLUMNS = ("ids", "kinds", "families", "roles", "authors", "is_local", "downloads", "group_keys")

    def packed(self) -> tuple[np.ndarray, dict]:
        """(offsets, columns) for saving: row r's deflated text is bytes offsets[r]:offsets[r + 1] of
        the concatenated `self.deflated_texts()`. Loading that back (`from_packed`) neither parses JSON
        nor compresses: at a million entries those took ~60 of a ~100 s load."""
        sizes = np.fromiter((len(t) for t in self._texts), dtype=np.int64, count=len(self._texts))
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        return offsets, {name: getattr(self, name) for name in self.COLUMNS}

    def deflated_texts(self) -> Iterator[bytes]:
        return iter(self._texts)

    @classmethod
    def from_packed(cls, texts: bytes | memoryview, offsets: np.ndarray, columns: dict) -> "EntryList":
        """The list `packed` describes. Raises ValueError when the parts disagree (a damaged index)."""
        n = len(offsets) - 1
        if offsets.ndim != 1 or n < 0 or offsets.dtype.kind not in "iu" or offsets[0] != 0 \
                or int(offsets[-1]) != len(texts) or bool(np.any(np.diff(offsets) < 0)):
            raise ValueError("entry offsets do not cut the texts file")
        if not isinstance(columns, dict) or set(columns) != set(cls.COLUMNS):
            raise ValueError("entry columns are missing or unknown")
        for name in cls.COLUMNS:
            values = columns[name]
            if not isinstance(values, list) or len(values) != n:
                raise ValueError(f"entry column {name} has the wrong length")
        for name, kind in (("ids", str), ("kinds", str), ("families", str), ("roles", str), ("authors", str),
                           ("group_keys", str), ("is_local", bool)):
            if not all(type(v) is kind for v in columns[name]):
                raise ValueError(f"entry column {name} holds values of another type")
        if not all(type(v) is int and v >= 0 for v in columns["downloads"]):
            raise ValueError("entry column downloads holds values that are not counts")
        out = cls()
        bounds = offsets.tolist()
        out._texts = [bytes(texts[a:b]) for a, b in zip(bounds, bounds[1:])]
        out.ids, out.group_keys = columns["ids"], columns["group_keys"]
        out.is_local, out.downloads = columns["is_local"], columns["downloads"]
        for name in ("kinds", "families", "roles", "authors"):  # as `_add` keeps them: one string per value
            setattr(out, name, [sys.intern(v) for v in columns[name]])
        return out

    def subset(self, rows: Iterable[int]) -> "EntryList":
        """A new list of these rows, in this order."""
        out = EntryList()
        rows = list(rows)
        for name in ("_texts",) + self.COLUMNS:
            column = getattr(self, name)
            setattr(out, name, [column[i] for i in rows])
        return out

    def text(self, row: int) -> bytes:
        """The stored JSON text of a row (what the entries file holds)."""
        return zlib.decompress(self._texts[row])

    def __len__(self) -> int:
        return len(self._texts)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return ZooEntry.from_dict(json.loads(zlib.decompress(self._texts[int(row)])))

    def __iter__(self) -> Iterator[ZooEntry]:
        for text in self._texts:
            yield ZooEntry.from_dict(json.loads(zlib.decompress(text)))
