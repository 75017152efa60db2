"""ZooEntry: one checkpoint, LoRA or embedding, from a catalog or a local file."""
from __future__ import annotations

import json
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Optional

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

    def subset(self, rows: Iterable[int]) -> "EntryList":
        """A new list of these rows, in this order."""
        out = EntryList()
        rows = list(rows)
        for name in ("_texts", "ids", "kinds", "families", "roles", "authors", "is_local", "downloads", "group_keys"):
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
