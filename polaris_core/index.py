"""The zoo index: entries, their chunks, lexical term counts, dense vectors, in one folder.

Layout of an index folder:

    vectorstore.json   the VectorStore manifest; its `extra["zoo_index"]` is this index's manifest
                       (format version, encoder ids, dims, counts, file checksums, BM25F settings)
    vectorstore-data/  VectorStore files: one dense vector per chunk, partitioned "kind/family/role"
    zoo/               content-addressed files: entries (JSONL), chunk table, term counts, image vectors

Saving writes new `zoo/` files first, then the VectorStore replaces its manifest atomically
(the single commit point), then files no manifest refers to are removed. A save killed at any
point leaves the previous index loadable. Loading checks format, version and every checksum;
nothing is unpickled. Saving never deletes a file it did not write, and refuses a folder that
holds anything but an index.

Chunks (see `polaris_core.embed.chunks`) are the unit of the dense channel: an entry scores as
its best chunk. The lexical channel scores prompt chunks together with their entry's title and
description fields (BM25F, `polaris_core.embed.lexical`).
"""
from __future__ import annotations

import json
import logging
import mmap
import os
import time
import unicodedata
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
from scipy import sparse

from polaris_core import atomic
from polaris_core.atomic import (ChecksumMemo, content_addressed_pattern, is_own_file, is_temp_file, os_reason,
                                 remove_stale, remove_written, save_failure, sha256_file)
from polaris_core.embed.cache import EmbeddingCache, default_cache_dir, embed_with_cache
from polaris_core.embed.chunks import CHUNK_KINDS, PROMPT_KINDS, entry_chunks
from polaris_core.embed.lexical import (COUNT_DTYPES, BM25FParams, FieldedBM25, LexicalHits, TermCounts, as_counts,
                                        count_dtype, lexical_terms, query_terms, tokenize)
from polaris_core.errors import EmptyZooError, IndexFolderError, UnsafePathError, VectorError
from polaris_core.index_lock import LOCK_FILE, index_lock
from polaris_core.progress import CheckCancel, OnStep, resolve
from polaris_core.vectorstore import DATA_DIR as STORE_DATA_DIR
from polaris_core.vectorstore import MANIFEST as STORE_MANIFEST
from polaris_core.vectorstore import OWN_DATA_FILE, VectorStore, read_manifest
from polaris_core.zoo.entry import KINDS, EntryList, ZooEntry, entry_json, group_key  # noqa: F401 (group_key: re-exported)

log = logging.getLogger("polaris")

INDEX_FORMAT = "polaris-zoo-index"
INDEX_FORMAT_VERSION = 3  # 2: word-pair terms and related-prompt chunks; 3: only some chunks have vectors
ZOO_DIR = "zoo"
EXTRA_KEY = "zoo_index"
_SPARSE_PARTS = ("data", "indices", "indptr")
_KIND_CODES = {kind: i for i, kind in enumerate(CHUNK_KINDS)}
_OWN_ZOO_FILE = content_addressed_pattern(r"[a-z_]+(?:-(?:data|indices|indptr))?", r"\.jsonl|\.json|\.npy|\.bin")
# New indexes count description word pairs. Without them a 100K zoo holds 31% fewer term counts (the description
# was 54% of them, 58% of it pairs), but fused dev R@10/MRR@10 without trigger words drop .665/.535 → .656/.526
# (LoRA −.002/−.002, checkpoint ±0): kept until that trade is decided. An index keeps its own setting.
DESCRIPTION_PAIRS = True
CHECKSUM_MEMO = "verified-files.json"  # in the Polaris cache folder: files seen to pass their checksum


def partition_key(kind: str, family: str, role: str) -> str:
    return f"{kind}/{family or 'unknown'}/{role or 'other'}"


@dataclass
class IndexStats:
    """What a build or update did."""

    entries_added: int = 0
    entries_updated: int = 0
    entries_unchanged: int = 0
    entries_removed: int = 0
    chunks_added: int = 0
    dense_chunks_added: int = 0  # chunks with a vector (some chunks are BM25 only)
    texts_embedded: int = 0
    images_embedded: int = 0
    seconds: float = 0.0


@dataclass
class EmbeddedChunks:
    """The embedded chunks of an index (`ZooIndex.embedded_chunks`)."""

    rows: np.ndarray         # chunk rows
    entry_rows: np.ndarray   # the entry each belongs to
    kinds: np.ndarray        # chunk kind names ("prompt", "title", "related", "expanded", …)
    vectors: np.ndarray      # float32 unit vectors, one row each


@dataclass
class DenseHits:
    """Best dense chunk per entry for one query: entry rows, their scores and chunk rows."""

    rows: np.ndarray
    scores: np.ndarray
    chunks: np.ndarray
    means: Optional[np.ndarray] = None  # mean chunk cosine per entry (exact scoring only)


@dataclass
class Selection:
    """Entry rows passing a kind/family/role filter, grouped per model."""

    rows: np.ndarray          # entry rows
    groups: np.ndarray        # distinct group numbers among them
    group_of_row: np.ndarray  # position in `groups` of each row
    is_local: np.ndarray      # bool per row: a local file (preferred as a group's representative)
    downloads: np.ndarray     # float32 per row
    group_author: np.ndarray  # int64 per group: an author number, or -1 where no entry names one
    row_order: np.ndarray     # rows (positions in `rows`) sorted by group, for per-group reductions
    group_starts: np.ndarray  # where each group begins in `row_order`

    def group_max(self, values: np.ndarray) -> np.ndarray:
        """Per-group maximum of per-row values (every group has at least one row)."""
        if not len(values):
            return np.empty(0, dtype=values.dtype)
        return np.maximum.reduceat(values[self.row_order], self.group_starts)


def _group_order(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(position, kind="stable")
    starts = np.flatnonzero(np.r_[True, position[order][1:] != position[order][:-1]]) if len(order) else order
    return order, starts.astype(np.int64)


@dataclass
class _Arrays:
    """Row-aligned arrays: per entry and per chunk. Kept compact (removal rewrites them).

    Every field is either entry-aligned (`ENTRY_FIELDS`) or chunk-aligned; the sparse ones are
    term-count matrices. `concat`, `subset`, saving and loading all go by these two lists.
    The sparse ones are None while released (`ZooIndex._build_lexical_models`): the per-kind BM25F copies
    then hold the only copy of the counts.
    """

    title: Optional[sparse.csr_matrix]
    description: Optional[sparse.csr_matrix]
    chunk_counts: Optional[sparse.csr_matrix]
    chunk_entry: np.ndarray      # int64, entry row of each chunk
    chunk_kind: np.ndarray       # int8, index into CHUNK_KINDS
    chunk_label: np.ndarray      # int64, VectorStore label; ascending
    chunk_dense: np.ndarray      # bool, the chunk has a vector under its label (else it is BM25 only)
    image_vectors: np.ndarray    # float32 (entries, image_dim), zeros where no image
    has_image: np.ndarray        # bool (entries,)

    SPARSE = ("title", "description", "chunk_counts")
    ENTRY_FIELDS = ("title", "description", "image_vectors", "has_image")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def empty(cls, n_terms: int, image_dim: int) -> "_Arrays":
        blank = sparse.csr_matrix((0, n_terms), dtype=np.uint8)  # stacking keeps the widest count dtype
        return cls(blank, blank.copy(), blank.copy(), np.empty(0, np.int64), np.empty(0, np.int8),
                   np.empty(0, np.int64), np.zeros(0, bool), np.zeros((0, image_dim), np.float32), np.zeros(0, bool))

    def concat(self, other: "_Arrays", entry_offset: int, n_terms: int) -> "_Arrays":
        """These rows followed by `other`'s, whose chunks point at entry rows from `entry_offset` on."""
        def join(name: str):
            a, b = getattr(self, name), getattr(other, name)
            if name in self.SPARSE:
                if a is None:  # released term counts (the per-kind models gain these rows themselves)
                    return None
                return sparse.vstack([_with_columns(a, n_terms), _with_columns(b, n_terms)], format="csr")
            return np.concatenate([a, b + entry_offset if name == "chunk_entry" else b])
        return _Arrays(**{name: join(name) for name in self.names()})

    def subset(self, keep_entries: np.ndarray, keep_chunks: np.ndarray, new_entry_row: np.ndarray) -> "_Arrays":
        """Only the kept entry rows and chunks; chunks are renumbered to `new_entry_row` of their entry."""
        def take(name: str):
            value = getattr(self, name)
            if value is None:  # released term counts (the per-kind models lose these rows themselves)
                return None
            value = value[keep_entries if name in self.ENTRY_FIELDS else keep_chunks]
            return new_entry_row[value] if name == "chunk_entry" else value
        return _Arrays(**{name: take(name) for name in self.names()})


@dataclass
class _NewRows:
    """Everything computed for a batch of new entries before it is appended."""

    entries: list[ZooEntry]
    arrays: _Arrays
    vectors: np.ndarray          # one row per dense chunk, in chunk order
    partitions: list[str] = field(default_factory=list)


class ZooIndex:
    """A persistent, incrementally updatable index of checkpoints, LoRAs and embeddings."""

    def __init__(self, text_encoder_id: str, text_dim: int, *, max_tokens: int,
                 image_encoder_id: str = "", image_dim: int = 0, params: BM25FParams | None = None) -> None:
        self.text_encoder_id = text_encoder_id
        self.text_dim = int(text_dim)
        self.max_tokens = int(max_tokens)
        self.image_encoder_id = image_encoder_id
        self.image_dim = int(image_dim)
        self.params = params or BM25FParams()
        self.entries = EntryList()  # JSON text per entry, decoded when read
        self.terms = TermCounts()
        self.arrays = _Arrays.empty(0, self.image_dim)
        self.store = VectorStore.create(self.text_dim)
        self.folder: Optional[Path] = None
        self.next_label = 0
        self.created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._text_encoder = None
        self._image_encoder = None
        self._derived: dict = {}
        self.build_stats = IndexStats()
        # Writes predicted prompt terms into entries with no example prompts (`polaris_core.retrieve.expansion`):
        # None, SHIPPED (the packaged model, loaded when first needed) or an expander object.
        self.expander = None
        self.expansion_model = ""  # id of the model that expanded the indexed entries ("" for none)
        # Whether the description field counts word pairs too (saved in the manifest; see DESCRIPTION_PAIRS).
        self.description_pairs = DESCRIPTION_PAIRS

    # ------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        entries: Iterable[ZooEntry],
        folder: str | os.PathLike | None = None,
        *,
        text_encoder=None,
        image_encoder=None,
        cache: EmbeddingCache | None = None,
        params: BM25FParams | None = None,
        on_step: OnStep | None = None,
        check_cancel: CheckCancel | None = None,
        label: Optional[str] = None,
        expansion="default",
        milvus_uri: str | None = None,
    ) -> "ZooIndex":
        """Index `entries` (duplicates by id: the last wins) and save to `folder` if given (`label`: how
        messages name it).

        `text_encoder` defaults to all-MiniLM-L6-v2; `image_encoder` (a ClipEncoder) is optional
        and only used for entries with local preview files. `cache` avoids re-embedding texts.
        `expansion`: DEFAULT (the packaged prompt-expansion model when `EXPANSION_BY_DEFAULT`), SHIPPED
        (that model), None (off), or an expander (`polaris_core.retrieve.expansion`); later updates keep using it.
        `milvus_uri` keeps the vectors in a new Milvus collection there instead of the default
        hnswlib store (see `polaris_core.vectorstore_milvus`); a failed build drops that collection.
        """
        if text_encoder is None:
            from polaris_core.embed.text import load_text_encoder

            text_encoder = load_text_encoder()
        index = cls(text_encoder.encoder_id, text_encoder.dim, max_tokens=text_encoder.max_tokens,
                    image_encoder_id=image_encoder.encoder_id if image_encoder else "",
                    image_dim=image_encoder.dim if image_encoder else 0, params=params)
        index._text_encoder = text_encoder
        index._image_encoder = image_encoder
        index.expander = expansion
        if milvus_uri is None:
            index.build_stats = index.update(entries, cache=cache, on_step=on_step, check_cancel=check_cancel)
            if folder is not None:
                index.save(folder, label=label)
            return index
        from polaris_core.vectorstore_milvus import MilvusVectorStore, new_collection_name

        if folder is not None:
            refuse_foreign_folder(Path(folder))  # before a collection is created for it
        index.store = MilvusVectorStore.create(index.text_dim, milvus_uri,
                                               new_collection_name(Path(folder).name if folder else ""))
        try:
            index.build_stats = index.update(entries, cache=cache, on_step=on_step, check_cancel=check_cancel)
            if folder is not None:
                index.save(folder, label=label)
        except BaseException:
            try:
                index.store.drop()
            except Exception as exc:  # keep the build's own error; the leftover collection is named here
                log.warning("could not drop collection %s after a failed build: %s", index.store.collection, exc)
            raise
        return index

    # ------------------------------------------------------------ encoders
    @property
    def text_encoder(self):
        """The text encoder this index was built with (loaded on first use and checked)."""
        if self._text_encoder is None:
            from polaris_core.embed.text import load_text_encoder, text_encoder_id

            expected = text_encoder_id(max_tokens=self.max_tokens)
            self._check_text_encoder_id(expected)
            self._text_encoder = load_text_encoder(max_tokens=self.max_tokens)
        return self._text_encoder

    def set_text_encoder(self, encoder) -> None:
        self._check_text_encoder_id(encoder.encoder_id)
        self._text_encoder = encoder

    def _check_text_encoder_id(self, encoder_id: str) -> None:
        if encoder_id != self.text_encoder_id:
            raise IndexFolderError(
                f"The index {self.folder or ''} was built with text encoder {self.text_encoder_id!r}, but the "
                f"encoder available now is {encoder_id!r}. Their vectors are not comparable: rebuild the index "
                "with `polaris index build`, or point POLARIS_TEXT_ENCODER at the original model."
            )

    @property
    def image_encoder(self):
        return self._image_encoder

    @property
    def has_image_channel(self) -> bool:
        """True when some entries have preview vectors and a matching CLIP encoder is attached."""
        return self._image_encoder is not None and bool(self.arrays.has_image.any())

    def set_image_encoder(self, encoder) -> None:
        """Attach a ClipEncoder for image queries; it must be the one the previews were embedded with."""
        if self.image_encoder_id and encoder.encoder_id != self.image_encoder_id:
            raise IndexFolderError(
                f"The index's preview vectors come from {self.image_encoder_id!r}, not {encoder.encoder_id!r}; "
                "load the same CLIP weights or rebuild the index with these."
            )
        if not self.image_encoder_id:
            self.image_encoder_id, self.image_dim = encoder.encoder_id, encoder.dim
            self.arrays.image_vectors = np.zeros((len(self.entries), encoder.dim), np.float32)
        self._image_encoder = encoder

    # ------------------------------------------------------------ inspection
    def __len__(self) -> int:
        return len(self.entries)

    def counts(self) -> dict[str, int]:
        by_kind = {kind: 0 for kind in KINDS}
        for kind in self.entries.kinds:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        return by_kind

    def entry_row(self, entry_id: str) -> Optional[int]:
        return self._rows().get(entry_id)

    def get(self, entry_id: str) -> Optional[ZooEntry]:
        row = self.entry_row(entry_id)
        return self.entries[row] if row is not None else None

    def _rows(self) -> dict[str, int]:
        rows = self._derived.get("rows")
        if rows is None:
            rows = self._derived["rows"] = {entry_id: i for i, entry_id in enumerate(self.entries.ids)}
        return rows

    def entry_groups(self) -> tuple[np.ndarray, list[str]]:
        """(group number per entry row, group keys)."""
        cached = self._derived.get("groups")
        if cached is None:
            numbers: dict[str, int] = {}
            ids = np.array([numbers.setdefault(key, len(numbers)) for key in self.entries.group_keys], dtype=np.int64)
            cached = self._derived["groups"] = (ids, list(numbers))
        return cached

    def kind_rows(self, kind: str) -> np.ndarray:
        key = ("kind_rows", kind)
        rows = self._derived.get(key)
        if rows is None:
            rows = self._derived[key] = np.array(
                [i for i, k in enumerate(self.entries.kinds) if k == kind], dtype=np.int64)
        return rows

    def select(self, kind: str, families: Optional[Sequence[str]] = None,
               roles: Optional[Sequence[str]] = None) -> Selection:
        """Rows of `kind` (optionally only these base families / roles), cached until the next change."""
        key = ("select", kind, tuple(families) if families is not None else None,
               tuple(roles) if roles is not None else None)
        cached = self._derived.get(key)
        if cached is None:
            entries = self.entries
            rows = [i for i in self.kind_rows(kind).tolist()
                    if (families is None or entries.families[i] in families)
                    and (roles is None or entries.roles[i] in roles)]
            rows = np.array(rows, dtype=np.int64)
            groups, _ = self.entry_groups()
            unique, position = np.unique(groups[rows], return_inverse=True)
            authors: dict[str, int] = {}
            group_author = np.full(len(unique), -1, dtype=np.int64)
            for row, group in zip(rows.tolist(), position.tolist()):
                name = entries.authors[row]
                if name and group_author[group] < 0:
                    group_author[group] = authors.setdefault(name, len(authors))
            cached = self._derived[key] = Selection(
                rows, unique, position.astype(np.int64),
                np.array([entries.is_local[i] for i in rows.tolist()], dtype=bool),
                np.array([entries.downloads[i] for i in rows.tolist()], dtype=np.float32),
                group_author, *_group_order(position))
        return cached

    def require_kind(self, kind: str) -> np.ndarray:
        """Entry rows of `kind`; EmptyZooError if there are none."""
        if kind not in KINDS:
            raise VectorError(f"Unknown kind {kind!r}; use one of {list(KINDS)}.")
        rows = self.kind_rows(kind)
        if not len(rows):
            raise EmptyZooError(
                f"The index {self.folder or ''} has no {kind} entries ({len(self.entries)} entries in all). "
                f"Add some with `polaris index build --catalog FILE` or `--models-dir DIR --kind {kind}`."
            )
        return rows

    # ------------------------------------------------------------ updates
    def update(
        self,
        entries: Iterable[ZooEntry],
        *,
        cache: EmbeddingCache | None = None,
        on_step: OnStep | None = None,
        check_cancel: CheckCancel | None = None,
    ) -> IndexStats:
        """Insert new entries and replace changed ones (by id); unchanged entries are skipped."""
        on_step, check_cancel = resolve(on_step, check_cancel)
        started = time.perf_counter()
        stats = IndexStats()
        incoming: dict[str, ZooEntry] = {}
        for entry in entries:
            incoming[entry.id] = entry
        rows = self._rows()
        changed_ids, fresh = [], []
        for entry_id, entry in incoming.items():
            row = rows.get(entry_id)
            if row is None:
                fresh.append(entry)
            elif self.entries.text(row) != entry_json(entry).encode("utf-8"):
                changed_ids.append(entry_id)
                fresh.append(entry)
            else:
                stats.entries_unchanged += 1
        if changed_ids:
            self._remove_rows([rows[i] for i in changed_ids])
        stats.entries_updated = len(changed_ids)
        stats.entries_added = len(fresh) - len(changed_ids)
        if fresh:
            new = self._prepare(fresh, cache, stats, on_step, check_cancel)
            self._append(new)
        stats.seconds = time.perf_counter() - started
        return stats

    def remove(self, ids: Iterable[str]) -> int:
        """Remove entries by id; unknown ids are ignored. Returns how many were removed."""
        rows = self._rows()
        found = sorted({rows[i] for i in ids if i in rows})
        self._remove_rows(found)
        return len(found)

    def _prepare(self, entries: list[ZooEntry], cache, stats: IndexStats, on_step: OnStep,
                 check_cancel: CheckCancel) -> _NewRows:
        from polaris_core.retrieve.expansion import resolve_expander  # here: retrieve/ reads the index

        expander = self.expander = resolve_expander(self.expander)
        if expander is not None:
            self.expansion_model = expander.model_id
        chunk_lists = [entry_chunks(e, expander.expansion(e) if expander is not None else "") for e in entries]
        all_chunks = [c for chunks in chunk_lists for c in chunks]
        texts = [c.dense_text for c in all_chunks if c.dense]
        encoder = self.text_encoder
        vectors, embedded = embed_with_cache(texts, encoder.encode, self.text_encoder_id, self.text_dim, cache,
                                             on_step=on_step, check_cancel=check_cancel)
        stats.texts_embedded += embedded
        stats.chunks_added += len(all_chunks)
        stats.dense_chunks_added += len(texts)
        check_cancel()
        # Generators: each text's terms become ids as they are made (all term strings at once: GBs at 100K).
        title = self.terms.counts(lexical_terms(chunks[0].lexical_text) for chunks in chunk_lists)
        description_terms = lexical_terms if self.description_pairs else tokenize
        description = self.terms.counts(
            description_terms(" ".join(c.lexical_text for c in chunks if c.kind == "description"))
            for chunks in chunk_lists
        )
        chunk_counts = self.terms.counts(lexical_terms(c.lexical_text) if c.kind in PROMPT_KINDS else []
                                         for c in all_chunks)
        chunk_entry = np.repeat(np.arange(len(entries), dtype=np.int64), [len(c) for c in chunk_lists])
        chunk_kind = np.array([_KIND_CODES[c.kind] for c in all_chunks], dtype=np.int8)
        chunk_dense = np.array([c.dense for c in all_chunks], dtype=bool)
        labels = np.arange(self.next_label, self.next_label + len(all_chunks), dtype=np.int64)
        image_vectors = np.zeros((len(entries), self.image_dim), np.float32)
        has_image = np.zeros(len(entries), bool)
        if self._image_encoder is not None:
            wanted = [i for i, e in enumerate(entries) if e.preview_paths]
            if wanted:
                vecs, ok = self._image_encoder.entry_vectors([entries[i].preview_paths for i in wanted],
                                                             check_cancel=check_cancel)
                image_vectors[wanted] = vecs
                has_image[wanted] = ok
                stats.images_embedded += int(ok.sum())
        arrays = _Arrays(title, description, chunk_counts, chunk_entry, chunk_kind, labels, chunk_dense,
                         image_vectors, has_image)
        partitions = [partition_key(e.kind, e.base_family, e.role) for e in entries]
        return _NewRows(entries, arrays, vectors, partitions)

    def _append(self, new: _NewRows) -> None:
        # While the entry-major counts are released, the per-kind models gain the rows instead (made before
        # anything changes, so a failure leaves the index as it was): making the counts again and every model
        # on the next search cost ~3 s per 100K entries.
        models = self._models_with(new) if self.arrays.title is None else None
        if models is None:
            self._restore_counts()
        base = len(self.entries)
        old, add = self.arrays, new.arrays
        self.arrays = old.concat(add, base, len(self.terms.vocabulary))
        by_partition: dict[str, list[int]] = {}
        for local_row, key in enumerate(new.partitions):
            by_partition.setdefault(key, []).append(local_row)
        dense_chunks = np.flatnonzero(add.chunk_dense)  # row j of new.vectors is chunk dense_chunks[j]
        for key, local_rows in by_partition.items():
            mask = np.isin(add.chunk_entry[dense_chunks], local_rows)
            self.store.add(key, add.chunk_label[dense_chunks[mask]], new.vectors[mask])
        self.entries.extend(new.entries)
        if len(add.chunk_label):
            self.next_label = int(add.chunk_label[-1]) + 1
        self._derived.clear()
        if models:
            self._derived.update(models)
            del models
            _return_freed_memory()  # the old models' copies

    def _remove_rows(self, rows: Sequence[int]) -> None:
        if not len(rows):
            return
        drop = np.zeros(len(self.entries), bool)
        drop[list(rows)] = True
        arrays = self.arrays
        chunk_drop = drop[arrays.chunk_entry]
        # While the entry-major counts are released, the per-kind models lose the rows instead: making the
        # counts again and every model on the next search cost ~1 s per 100K entries.
        models = self._models_without(drop, chunk_drop) if arrays.title is None else {}
        self.store.delete(arrays.chunk_label[chunk_drop & arrays.chunk_dense])
        keep_rows = np.flatnonzero(~drop)
        new_row = np.full(len(self.entries), -1, dtype=np.int64)
        new_row[keep_rows] = np.arange(len(keep_rows))
        self.arrays = arrays.subset(keep_rows, ~chunk_drop, new_row)
        self.entries = self.entries.subset(keep_rows.tolist())
        self._derived.clear()
        if models:
            self._derived.update(models)
            del models
            _return_freed_memory()  # the old models' copies

    def _models_without(self, drop: np.ndarray, chunk_drop: np.ndarray) -> dict:
        """Every per-kind model (`lexical`) less the dropped entry and chunk rows, keyed as in `_derived`, with its
        rows renumbered as they will be once those rows are gone (`FieldedBM25.without`)."""
        groups, _ = self.entry_groups()
        new_entry = np.cumsum(~drop) - 1
        new_chunk = np.cumsum(~chunk_drop) - 1
        out = {}
        for key, value in self._derived.items():
            if not (isinstance(key, tuple) and key[0] == "lexical"):
                continue
            model, rows, chunk_rows = value
            gone, gone_chunks = drop[rows], chunk_drop[chunk_rows]
            _, group_numbers = np.unique(groups[rows], return_inverse=True)  # as `_build_lexical_models` numbers them
            out[key] = (model.without(gone, gone_chunks, group_numbers), new_entry[rows[~gone]],
                        new_chunk[chunk_rows[~gone_chunks]])
        return out

    def _models_with(self, new: _NewRows) -> Optional[dict]:
        """Every per-kind model (`lexical`) with the new rows of its kind after its own, keyed as in `_derived`,
        with the entry and chunk rows they will have once appended (`FieldedBM25.with_rows`); None when a new
        entry's kind has no model (then the counts are made again and the models built on the next search)."""
        held = {key[1]: value for key, value in self._derived.items() if isinstance(key, tuple) and key[0] == "lexical"}
        kinds = np.array([e.kind for e in new.entries], dtype=object)
        if not held or any(kind not in held for kind in set(kinds.tolist())):
            return None
        groups, keys = self.entry_groups()
        numbers = {key: n for n, key in enumerate(keys)}  # as `entry_groups` will number them once appended
        groups = np.concatenate([groups, np.array([numbers.setdefault(group_key(e), len(numbers))
                                                   for e in new.entries], dtype=np.int64)])
        base, chunk_base = len(self.entries), len(self.arrays.chunk_entry)
        n_terms = len(self.terms.vocabulary)
        add = new.arrays
        out = {}
        for kind, (model, rows, chunk_rows) in held.items():
            local = np.flatnonzero(kinds == kind)
            if not len(local):
                out[("lexical", kind)] = (model.widened(n_terms), rows, chunk_rows)
                continue
            new_local = np.full(len(new.entries), -1, dtype=np.int64)
            new_local[local] = np.arange(len(local))
            chunks = np.flatnonzero(new_local[add.chunk_entry] >= 0)
            all_rows = np.concatenate([rows, base + local])
            _, group_numbers = np.unique(groups[all_rows], return_inverse=True)  # as `_build_lexical_models`
            model = model.with_rows(add.title[local], add.description[local], add.chunk_counts[chunks],
                                    new_local[add.chunk_entry[chunks]], group_numbers,
                                    self._chunk_weights(add.chunk_kind[chunks]), n_terms=n_terms)
            out[("lexical", kind)] = (model, all_rows, np.concatenate([chunk_rows, chunk_base + chunks]))
        return out

    def _chunk_weights(self, chunk_kind: np.ndarray) -> np.ndarray:
        """What each chunk adds over its entry's fields, by its kind (related and expanded prompts count less)."""
        return np.select([chunk_kind == _KIND_CODES["related"], chunk_kind == _KIND_CODES["expanded"]],
                         [self.params.related_weight, self.params.expansion_weight], 1.0)

    # ------------------------------------------------------------ channels
    def lexical(self, kind: str) -> tuple[FieldedBM25, np.ndarray, np.ndarray]:
        """(BM25F over `kind`, entry rows it covers, chunk rows it covers); built once per change.

        The first call builds the model of every kind that has entries and releases the entry-major
        term counts as it goes (`_build_lexical_models`): the models' per-kind copies hold the same counts,
        and keeping both took a second copy of every count (~2.5 GB at a million entries)."""
        key = ("lexical", kind)
        cached = self._derived.get(key)
        if cached is None:
            self._restore_counts()  # a no-op unless released (then only a kind outside KINDS has no model)
            self._build_lexical_models([k for k in dict.fromkeys([*KINDS, kind]) if ("lexical", k) not in self._derived])
            if self.arrays.title is None:
                _return_freed_memory()  # the copies' temporaries, once all of them are gone
            cached = self._derived[key]
        return cached

    def _build_lexical_models(self, kinds: list[str]) -> None:
        """Build the models of `kinds` one field at a time: each field's per-kind copies are made (a block of
        rows at a time, `_rows_as_columns`), then, when the models will cover every entry and chunk, the
        entry-major field is released before the next field is copied. Copying every field before releasing
        any held the counts twice at once: the first search's peak, 1.4× the searched index's RSS at 300K."""
        arrays = self.arrays
        n_terms = len(self.terms.vocabulary)
        groups, _ = self.entry_groups()
        plans = []
        for kind in kinds:
            rows = self.kind_rows(kind)
            local = np.full(len(self.entries), -1, dtype=np.int64)
            local[rows] = np.arange(len(rows))
            chunk_rows = np.flatnonzero(local[arrays.chunk_entry] >= 0)
            plans.append((kind, rows, chunk_rows, local[arrays.chunk_entry[chunk_rows]]))
        covered = [(rows, chunk_rows) for _, rows, chunk_rows in self._lexical_models()] + \
            [(rows, chunk_rows) for _, rows, chunk_rows, _ in plans]
        # An entry of no known kind has no model: then the counts stay held rather than lose its terms.
        release = bool(len(self.entries)) and sum(len(r) for r, _ in covered) == len(self.entries) and \
            sum(len(c) for _, c in covered) == len(arrays.chunk_entry)
        columns: list[list[sparse.csc_matrix]] = [[] for _ in plans]
        released: list[str] = []
        try:
            for name in _Arrays.SPARSE:
                matrix = _with_columns(getattr(arrays, name), n_terms)
                for (_, rows, chunk_rows, _), parts in zip(plans, columns):
                    parts.append(_rows_as_columns(matrix, chunk_rows if name == "chunk_counts" else rows))
                del matrix
                if release:
                    setattr(arrays, name, None)
                    released.append(name)
                    _return_freed_memory()
            models = []
            for (kind, rows, chunk_rows, chunk_local), parts in zip(plans, columns):
                _, group_numbers = np.unique(groups[rows], return_inverse=True)
                weight = self._chunk_weights(arrays.chunk_kind[chunk_rows])
                models.append((kind, FieldedBM25(*parts, chunk_local, group_numbers, self.params, chunk_weight=weight),
                               rows, chunk_rows))
        except BaseException:
            for name in released:  # made again from the models built before and the new copies: nothing is lost
                field = _Arrays.SPARSE.index(name)
                chunk_major = name == "chunk_counts"
                parts, owners = self._model_rows(name)
                parts += [kind_parts[field].tocsr() for kind_parts in columns]
                owners += [chunk_rows if chunk_major else rows for _, rows, chunk_rows, _ in plans]
                setattr(arrays, name, _stack_rows(parts, owners, len(arrays.chunk_entry) if chunk_major
                                                  else len(self.entries), n_terms))
            raise
        for kind, model, rows, chunk_rows in models:
            self._derived[("lexical", kind)] = (model, rows, chunk_rows)

    # ------------------------------------------------------------ term counts: one copy held
    def _lexical_models(self) -> list[tuple[FieldedBM25, np.ndarray, np.ndarray]]:
        return [value for key, value in self._derived.items() if isinstance(key, tuple) and key[0] == "lexical"]

    def _restore_counts(self) -> None:
        """Hold the entry-major term counts again (before an update appends rows and drops the models)."""
        if self.arrays.title is None:
            title, description, chunk_counts = (self.count_matrix(name) for name in _Arrays.SPARSE)
            self.arrays.title, self.arrays.description, self.arrays.chunk_counts = title, description, chunk_counts

    def count_matrix(self, name: str) -> sparse.csr_matrix:
        """The entry-major (or chunk-major, for "chunk_counts") term counts `name` of `_Arrays.SPARSE`:
        the held matrix, or, while it is released, the same matrix made from the per-kind models
        (a new copy, not kept)."""
        held = getattr(self.arrays, name)
        if held is not None:
            return held
        parts, owners = self._model_rows(name)
        n_rows = len(self.arrays.chunk_entry) if name == "chunk_counts" else len(self.entries)
        return _stack_rows(parts, owners, n_rows, len(self.terms.vocabulary))

    def _model_rows(self, name: str) -> tuple[list[sparse.csr_matrix], list[np.ndarray]]:
        """The per-kind models' copies of the counts `name`, row-major over the vocabulary, and the entry (or
        chunk) row of each of their rows."""
        n_terms = len(self.terms.vocabulary)
        parts, owners = [], []
        for model, rows, chunk_rows in self._lexical_models():
            columns = {"title": model.title, "description": model.description, "chunk_counts": model.chunks}[name]
            part = columns.counts.tocsr()
            part.sort_indices()
            # Column j of a model is its held term j (the last column is empty): back to vocabulary ids.
            part = sparse.csr_matrix((part.data, model.held_terms[part.indices], part.indptr),
                                     shape=(part.shape[0], n_terms), copy=False)
            parts.append(part)
            owners.append(chunk_rows if name == "chunk_counts" else rows)
        return parts, owners

    def lexical_search(self, kind: str, text: str, rare_title: bool = False,
                       exclude_chunks: Optional[np.ndarray] = None) -> tuple[np.ndarray, LexicalHits]:
        """(entry rows of `kind`, their BM25F hits) for a query text; with `rare_title`, the hits
        also carry the rare-term title scores (`FieldedBM25.rare_title_scores`). `exclude_chunks`
        (chunk rows) are left out of the search (a catalog prompt used as a query)."""
        model, rows, chunk_rows = self.lexical(kind)
        terms = query_terms(self.terms, lexical_terms(text))
        local_excluded = None
        if exclude_chunks is not None and len(exclude_chunks):
            local_excluded = np.flatnonzero(np.isin(chunk_rows, exclude_chunks))
        hits = model.search(*terms, exclude_chunks=local_excluded)
        best = np.where(hits.best_chunk >= 0, chunk_rows[np.maximum(hits.best_chunk, 0)], -1)
        return rows, LexicalHits(hits.scores, best, model.rare_title_scores(*terms) if rare_title else None)

    def partitions_for(self, kind: str, families: Optional[Sequence[str]] = None,
                       roles: Optional[Sequence[str]] = None) -> list[str]:
        prefix = f"{kind}/"
        out = []
        for key in self.store.partitions():
            if not key.startswith(prefix):
                continue
            _, family, role = key.split("/", 2)
            if (families is None or family in families) and (roles is None or role in roles):
                out.append(key)
        return out

    def dense_search(self, vector: np.ndarray, partitions: Sequence[str], n_chunks: int,
                     title_bonus: float = 0.0, exclude_chunks: Optional[np.ndarray] = None) -> DenseHits:
        """Best chunk per entry among the top `n_chunks` chunks of `partitions` (`title_bonus` is
        added to title chunks' cosines before the max; see `SearchOptions.dense_title_bonus`)."""
        if not partitions:
            return DenseHits(np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.int64))
        scores, labels = self.store.search(vector, n_chunks, partitions)
        chunk_rows = self.chunk_rows_of(labels)
        if exclude_chunks is not None and len(exclude_chunks):
            keep = ~np.isin(chunk_rows, exclude_chunks)
            chunk_rows, scores = chunk_rows[keep], scores[keep]
        return self._best_per_entry(chunk_rows, scores, title_bonus)

    def dense_scores_for(self, vector: np.ndarray, entry_rows: np.ndarray, title_bonus: float = 0.0) -> DenseHits:
        """Exact best-chunk cosine for given entries (to fill in candidates the ANN search missed)."""
        chunk_rows = self.dense_chunk_rows_for(entry_rows)
        if not len(chunk_rows):
            return DenseHits(np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.int64))
        vectors = self.store.get_vectors(self.arrays.chunk_label[chunk_rows])
        return self._best_per_entry(chunk_rows, vectors @ np.asarray(vector, np.float32), title_bonus)

    # ------------------------------------------------------------ query API (what retrieve/ reads)
    def dense_channel(self, vector: np.ndarray, kind: str, families: Optional[Sequence[str]] = None,
                      roles: Optional[Sequence[str]] = None, n_chunks: int = 400, title_bonus: float = 0.0,
                      exclude_chunks: Optional[np.ndarray] = None) -> DenseHits:
        """Approximate best chunk per entry of `kind` (optionally of these families / roles) among
        the query's top `n_chunks` chunks; `exclude_chunks` (chunk rows) never count."""
        hits = self.dense_search(vector, self.partitions_for(kind, families, roles), n_chunks, title_bonus,
                                 exclude_chunks)
        return hits

    def dense_scores(self, vector: np.ndarray, entry_rows: np.ndarray, title_bonus: float = 0.0,
                     exclude_chunks: Optional[np.ndarray] = None) -> DenseHits:
        """Exact best-chunk cosine of given entries, also their mean chunk cosine (`DenseHits.means`)."""
        chunk_rows = self.dense_chunk_rows_for(entry_rows)
        if exclude_chunks is not None and len(exclude_chunks):
            chunk_rows = chunk_rows[~np.isin(chunk_rows, exclude_chunks)]
        if not len(chunk_rows):
            return DenseHits(np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.int64),
                             np.empty(0, np.float32))
        cosines = self.store.get_vectors(self.arrays.chunk_label[chunk_rows]) @ np.asarray(vector, np.float32)
        hits = self._best_per_entry(chunk_rows, cosines, title_bonus)
        entries = self.arrays.chunk_entry[chunk_rows]
        sums = np.bincount(np.searchsorted(hits.rows, entries), weights=cosines, minlength=len(hits.rows))
        counts = np.bincount(np.searchsorted(hits.rows, entries), minlength=len(hits.rows))
        hits.means = (sums / np.maximum(counts, 1)).astype(np.float32)
        return hits

    def image_scores(self, vector: np.ndarray, entry_rows: np.ndarray) -> np.ndarray:
        """CLIP cosine of a query vector with each entry's mean preview vector (-inf without previews)."""
        entry_rows = np.asarray(entry_rows, dtype=np.int64)
        values = np.full(len(entry_rows), -np.inf, dtype=np.float32)
        has = self.arrays.has_image[entry_rows]
        values[has] = self.arrays.image_vectors[entry_rows[has]] @ np.asarray(vector, np.float32)
        return values

    def centroid(self, entry_row: int) -> Optional[np.ndarray]:
        """Unit mean of an entry's chunk vectors (None when it has none)."""
        vectors = self.chunk_vectors(entry_row)
        if not len(vectors):
            return None
        mean = vectors.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return (mean / norm).astype(np.float32) if norm > 0 else None

    def term_presence(self, entry_rows: np.ndarray, words: Sequence[str],
                      exclude_chunks: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
        """Which of `words` each of the (distinct) entries holds in its prompt chunks: "prompt" (its
        own example prompts) and "related" (prompts of other pages that used it). Boolean
        (len(entry_rows) × len(words)) arrays; a word the index never saw is False. `exclude_chunks`
        (chunk rows) are left out, as in search. Reads only these entries' term counts."""
        entry_rows = np.asarray(entry_rows, dtype=np.int64)
        out = {name: np.zeros((len(entry_rows), len(words)), dtype=bool) for name in ("prompt", "related")}
        ids = np.array([self.terms.term_ids.get(w, -1) for w in words], dtype=np.int64)
        known = np.flatnonzero(ids >= 0)
        chunk_rows = self.chunk_rows_for(entry_rows) if len(known) and len(entry_rows) else np.empty(0, np.int64)
        if exclude_chunks is not None and len(exclude_chunks):
            chunk_rows = chunk_rows[~np.isin(chunk_rows, exclude_chunks)]
        if not len(chunk_rows):
            return out
        arrays = self.arrays
        order = np.argsort(entry_rows, kind="stable")
        owner = order[np.searchsorted(entry_rows[order], arrays.chunk_entry[chunk_rows])]
        where, which = self._chunk_terms(chunk_rows, ids[known])
        kinds = arrays.chunk_kind[chunk_rows[where]]
        for name in out:
            mine = kinds == _KIND_CODES[name]
            out[name][owner[where[mine]], known[which[mine]]] = True
        return out

    def _chunk_terms(self, chunk_rows: np.ndarray, term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in `chunk_rows`, position in `term_ids`) of every non-zero term count of those chunks
        in those terms (`_row_terms`); while the chunk-major counts are released, read from the per-kind
        models' columns (one binary search per term and model)."""
        held = self.arrays.chunk_counts
        if held is not None:
            return _row_terms(held, chunk_rows, term_ids)
        wheres, whiches = [], []
        for model, _, model_chunks in self._lexical_models():
            at = np.minimum(np.searchsorted(model_chunks, chunk_rows), max(len(model_chunks) - 1, 0))
            mine = np.flatnonzero(model_chunks[at] == chunk_rows) if len(model_chunks) else at[:0]
            if not len(mine):
                continue
            local = at[mine]
            counts = model.chunks.counts
            for j, column in enumerate(model.columns_of(term_ids).tolist()):
                holders = counts.indices[counts.indptr[column]:counts.indptr[column + 1]]  # ascending rows
                if not len(holders):
                    continue
                found = np.minimum(np.searchsorted(holders, local), len(holders) - 1)
                hit = holders[found] == local
                wheres.append(mine[hit])
                whiches.append(np.full(int(hit.sum()), j, dtype=np.int64))
        if not wheres:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(wheres).astype(np.int64), np.concatenate(whiches)

    def chunk_positions(self, chunk_rows: np.ndarray) -> dict[int, set[int]]:
        """{entry row: positions of the given chunk rows in that entry's chunk list}: position i is
        `embed.chunks.entry_chunks(entry)[i]` (chunk rows of one entry ascend in that order)."""
        chunk_rows = np.unique(np.asarray(chunk_rows, dtype=np.int64))
        out: dict[int, set[int]] = {}
        for entry_row in np.unique(self.arrays.chunk_entry[chunk_rows]).tolist():
            own = self.chunk_rows_for(np.array([entry_row]))
            out[entry_row] = set(np.flatnonzero(np.isin(own, chunk_rows)).tolist())
        return out

    def chunk_rows_for(self, entry_rows: np.ndarray) -> np.ndarray:
        """Ascending chunk rows of the given entry rows, without a pass over all chunks."""
        span = self._derived.get("chunk_span")
        if span is None:
            chunk_entry = self.arrays.chunk_entry
            counts = np.bincount(chunk_entry, minlength=len(self.entries))
            span = self._derived["chunk_span"] = (np.argsort(chunk_entry, kind="stable"),
                                                  np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        order, starts, counts = span
        entry_rows = np.unique(np.asarray(entry_rows, dtype=np.int64))
        return np.sort(order[span_positions(starts[entry_rows], counts[entry_rows])])

    def dense_chunk_rows_for(self, entry_rows: np.ndarray) -> np.ndarray:
        """Ascending rows of the given entries' chunks that have a vector."""
        chunk_rows = self.chunk_rows_for(entry_rows)
        return chunk_rows[self.arrays.chunk_dense[chunk_rows]]

    def chunk_rows_of(self, labels: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.arrays.chunk_label, labels)

    def _best_per_entry(self, chunk_rows: np.ndarray, scores: np.ndarray, title_bonus: float = 0.0) -> DenseHits:
        if title_bonus:
            scores = scores + np.float32(title_bonus) * (self.arrays.chunk_kind[chunk_rows] == _KIND_CODES["title"])
        entries = self.arrays.chunk_entry[chunk_rows]
        order = np.lexsort((scores, entries))
        entries, chunk_rows, scores = entries[order], chunk_rows[order], scores[order]
        last = np.flatnonzero(np.append(entries[1:] != entries[:-1], True)) if len(entries) else entries
        return DenseHits(entries[last], scores[last].astype(np.float32), chunk_rows[last])

    def embedded_chunks(self) -> "EmbeddedChunks":
        """Every chunk that has a vector: its row, entry row, kind and unit vector (for learning the
        query map; one read of the whole store)."""
        chunk_rows = np.flatnonzero(self.arrays.chunk_dense)
        vectors = self.store.get_vectors(self.arrays.chunk_label[chunk_rows]) if len(chunk_rows) else \
            np.zeros((0, self.text_dim), np.float32)
        return EmbeddedChunks(chunk_rows, self.arrays.chunk_entry[chunk_rows].astype(np.int64),
                              np.array(CHUNK_KINDS, dtype=object)[self.arrays.chunk_kind[chunk_rows]],
                              np.asarray(vectors, dtype=np.float32))

    def chunk_vectors(self, entry_row: int) -> np.ndarray:
        """Dense vectors of an entry's chunks (for affinity to a chosen checkpoint)."""
        return self.store.get_vectors(self.arrays.chunk_label[self.dense_chunk_rows_for(np.array([entry_row]))])

    # ------------------------------------------------------------ persistence
    def manifest(self) -> dict:
        return {
            "format": INDEX_FORMAT,
            "format_version": INDEX_FORMAT_VERSION,
            "text_encoder": {"id": self.text_encoder_id, "dim": self.text_dim, "max_tokens": self.max_tokens},
            "image_encoder": {"id": self.image_encoder_id, "dim": self.image_dim},
            "bm25f": self.params.to_dict(),
            "counts": {"entries": len(self.entries), "chunks": len(self.arrays.chunk_label),
                       "dense_chunks": len(self.store),
                       "images": int(self.arrays.has_image.sum()), "terms": len(self.terms.vocabulary),
                       "by_kind": self.counts()},
            "next_label": self.next_label,
            "created_at": self.created_at,
            "expansion": {"model": self.expansion_model},
            "lexical": {"description_pairs": self.description_pairs},
        }

    def save(self, folder: str | os.PathLike | None = None, *, label: Optional[str] = None) -> Path:
        """Write the index to `folder` (default: where it was loaded from) atomically, holding the
        folder's build lock (`index_lock`; a build that holds it already re-enters). `label` names the
        folder in messages (e.g. relative to ComfyUI's model folders); default its path."""
        target = Path(folder) if folder is not None else self.folder
        if target is None:
            raise IndexFolderError("No index folder given; pass the folder to save the index in.")
        shown = label or str(target)
        refuse_foreign_folder(target, label=shown)  # before the lock file: nothing is written into a stranger's folder
        with index_lock(target, "another Polaris index save", label=shown):
            self._save_locked(target, shown)
        self.folder = target
        return target

    def _save_locked(self, target: Path, shown: str) -> None:
        zoo = target / ZOO_DIR
        try:
            zoo.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexFolderError(f"Cannot create the index folder {shown} ({os_reason(exc)}). "
                                   "Choose a writable folder.") from exc
        previous = _zoo_files(target)
        written: list[str] = []
        try:
            files = self._write_files(zoo, written)
        except OSError as exc:
            remove_written(zoo, written, keep=previous)
            raise IndexFolderError(save_failure(exc, shown, "the index", "index")) from exc
        manifest = self.manifest()
        manifest["files"] = files
        manifest["shapes"] = {"terms": len(self.terms.vocabulary), "entries": len(self.entries),
                              "chunks": len(self.arrays.chunk_label)}
        manifest["saved_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.store.extra[EXTRA_KEY] = manifest
        try:
            self.store.save(target, label=shown)  # the commit point
        except IndexFolderError:
            remove_written(zoo, written, keep=previous)
            raise
        keep = {info["name"] for info in files.values()}
        remove_stale(zoo, _OWN_ZOO_FILE, superseded=previous, keep=keep)

    def _write_files(self, zoo: Path, written: list[str]) -> dict:
        """Write every array and list as a content-addressed file; each name goes to `written` as it lands."""
        files: dict[str, dict] = {}

        def write_content_addressed(folder: Path, stem: str, suffix: str, writer) -> dict:
            info = atomic.write_content_addressed(folder, stem, suffix, writer)
            written.append(info["name"])
            return info

        def write_entries(path: Path) -> None:
            with open(path, "wb") as fh:
                for row in range(len(self.entries)):
                    fh.write(self.entries.text(row) + b"\n")

        def write_json(obj) -> callable:
            def writer(path: Path) -> None:
                with open(path, "w", encoding="utf-8") as fh:
                    json.dump(obj, fh, ensure_ascii=False)
            return writer

        def write_array(array: np.ndarray) -> callable:
            def writer(path: Path) -> None:
                with open(path, "wb") as fh:
                    np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
            return writer

        def write_deflated(path: Path) -> None:
            with open(path, "wb") as fh:
                for text in self.entries.deflated_texts():
                    fh.write(text)

        files["entries"] = write_content_addressed(zoo, "entries", ".jsonl", write_entries)
        # The same entries as load keeps them (deflated texts and filter columns): loading reads these instead
        # of parsing and compressing every line; the JSON lines stay for older versions and for people.
        offsets, columns = self.entries.packed()
        files["entries_deflated"] = write_content_addressed(zoo, "entries_deflated", ".bin", write_deflated)
        files["entries_offsets"] = write_content_addressed(zoo, "entries_offsets", ".npy", write_array(offsets))
        files["entries_columns"] = write_content_addressed(zoo, "entries_columns", ".json", write_json(columns))
        files["vocabulary"] = write_content_addressed(zoo, "vocabulary", ".json", write_json(self.terms.vocabulary))
        arrays = self.arrays
        n_terms = len(self.terms.vocabulary)
        for name in _Arrays.names():
            if name in _Arrays.SPARSE:
                matrix = _with_columns(self.count_matrix(name), n_terms)
                for part in _SPARSE_PARTS:
                    values = getattr(matrix, part)
                    if part == "data":  # float32 on disk, as every index version wrote it (uint8 or uint16 in memory)
                        values = values.astype(np.float32)
                    files[f"{name}.{part}"] = write_content_addressed(
                        zoo, f"{name}-{part}", ".npy", write_array(values))
            else:
                files[name] = write_content_addressed(zoo, name, ".npy", write_array(getattr(arrays, name)))
        return files

    @classmethod
    def load(cls, folder: str | os.PathLike, *, text_encoder=None, image_encoder=None,
             verify: bool = True) -> "ZooIndex":
        """Load an index folder. Raises IndexFolderError when it is missing, damaged, of another format
        version, or built with another text encoder than `text_encoder` (checked lazily if None).

        Every array's dtype, length and index bounds are checked. `verify=True` hashes every file;
        `verify=False` hashes only files changed since they last passed (remembered by size and
        mtime in the Polaris cache folder), so repeated searches stay fast and still never read a
        changed file unchecked."""
        folder = Path(folder)
        if not (folder / STORE_MANIFEST).is_file():
            raise IndexFolderError(f"{folder} is not a Polaris index folder (no {STORE_MANIFEST}); "
                                   "build one with `polaris index build --catalog FILE --out FOLDER`.")
        memo = None if verify else ChecksumMemo(default_cache_dir() / CHECKSUM_MEMO)
        store = _load_store(folder, verify=verify, memo=memo)
        manifest = store.extra.get(EXTRA_KEY)
        if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
            raise IndexFolderError(f"{folder} holds vectors but no Polaris zoo index; rebuild it with "
                                   "`polaris index build`.")
        version = manifest.get("format_version")
        if version != INDEX_FORMAT_VERSION:
            raise IndexFolderError(f"{folder} is a zoo index of format version {version!r}; this Polaris reads "
                                   f"version {INDEX_FORMAT_VERSION}. Rebuild it with `polaris index build`.")
        try:
            text = manifest["text_encoder"]
            image = manifest.get("image_encoder") or {}
            index = cls(str(text["id"]), int(text["dim"]), max_tokens=int(text["max_tokens"]),
                        image_encoder_id=str(image.get("id") or ""), image_dim=int(image.get("dim") or 0),
                        params=BM25FParams(**manifest.get("bm25f", {})))
            if store.dim != index.text_dim:
                raise IndexFolderError(f"{folder}: vectors are {store.dim}-d but the manifest says "
                                       f"{index.text_dim}-d; rebuild the index.")
            index.store = store
            index.next_label = int(manifest["next_label"])
            index.created_at = str(manifest.get("created_at", ""))
            index.expansion_model = str((manifest.get("expansion") or {}).get("model") or "")
            index.expander = "shipped" if index.expansion_model else None  # updates expand as the build did
            # Saved before this setting existed: descriptions were counted with their word pairs.
            index.description_pairs = bool((manifest.get("lexical") or {}).get("description_pairs", True))
            index._read_files(folder / ZOO_DIR, manifest["files"], manifest["shapes"], memo)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise IndexFolderError(f"{folder}: the index manifest is incomplete ({exc!r}); rebuild the index.") from exc
        if memo is not None:
            memo.save()
        _return_freed_memory()  # the float32 count files' copies and the JSON parse
        index.folder = folder
        if text_encoder is not None:
            index.set_text_encoder(text_encoder)
        if image_encoder is not None:
            index.set_image_encoder(image_encoder)
        return index

    def _read_files(self, zoo: Path, files: dict, shapes: dict, memo: Optional[ChecksumMemo]) -> None:
        def path_of(name: str) -> Path:
            info = files[name]
            file_name = str(info["name"])
            if "/" in file_name or "\\" in file_name or file_name.startswith("."):
                raise IndexFolderError(f"{zoo}: file name {file_name!r} leaves the index folder; rebuild it.")
            path = zoo / file_name
            if not path.is_file() or path.stat().st_size != int(info["bytes"]):
                raise IndexFolderError(f"{path} is missing or truncated; the index is damaged, rebuild it.")
            expected = str(info["sha256"])
            if not (memo.matches(path, expected) if memo is not None else sha256_file(path) == expected):
                raise IndexFolderError(f"{path} fails its checksum; the index is damaged, rebuild it.")
            return path

        def array(name: str) -> np.ndarray:
            try:
                return np.load(path_of(name), allow_pickle=False)
            except (OSError, ValueError, EOFError, MemoryError) as exc:
                raise IndexFolderError(f"{zoo}: {name} is not a valid array ({exc}); rebuild the index.") from exc

        n_terms, n_entries, n_chunks = int(shapes["terms"]), int(shapes["entries"]), int(shapes["chunks"])
        try:
            if "entries_deflated" in files:  # saved with its packed form: no JSON parse, no compression
                path_of("entries")  # not read, but a checked load checks every file
                self.entries = _packed_entries(path_of("entries_deflated"), array("entries_offsets"),
                                               json.loads(path_of("entries_columns").read_text(encoding="utf-8")))
            else:  # saved before the packed form existed
                with open(path_of("entries"), encoding="utf-8") as fh:
                    self.entries = EntryList()
                    self.entries.extend_lines(fh)
            vocabulary = json.loads(path_of("vocabulary").read_text(encoding="utf-8"))
        except (ValueError, TypeError, AttributeError) as exc:
            raise IndexFolderError(f"{zoo}: the entries or vocabulary file is damaged ({exc}); "
                                   "rebuild the index.") from exc
        if not isinstance(vocabulary, list) or len(vocabulary) != n_terms or len(self.entries) != n_entries:
            raise IndexFolderError(f"{zoo}: entry or vocabulary counts differ from the manifest; rebuild the index.")
        self.terms = TermCounts(vocabulary)

        def matrix(name: str, rows: int) -> sparse.csr_matrix:
            data, indices, indptr = (array(f"{name}.{part}") for part in _SPARSE_PARTS)
            _check_csr(zoo, name, data, indices, indptr, rows, n_terms)
            try:
                counts = as_counts(sparse.csr_matrix((data, indices, indptr), shape=(rows, n_terms)))
                if counts.dtype not in COUNT_DTYPES:
                    raise ValueError("values that are not whole term counts")
                return counts
            except ValueError as exc:
                raise IndexFolderError(f"{zoo}: {name} is malformed ({exc}); rebuild the index.") from exc

        arrays = _Arrays(**{
            name: matrix(name, n_entries if name in _Arrays.ENTRY_FIELDS else n_chunks) if name in _Arrays.SPARSE
            else array(name) for name in _Arrays.names()})
        _check_arrays(zoo, arrays, n_entries, n_chunks, self.image_dim, self.next_label)
        dense_labels = arrays.chunk_label[arrays.chunk_dense]
        _, store_labels, _, _ = self.store._label_table()
        if not np.array_equal(store_labels, dense_labels):
            raise IndexFolderError(f"{zoo}: {len(dense_labels)} embedded chunks but the vector store holds "
                                   f"{len(store_labels)} other vectors; rebuild the index.")
        self.arrays = arrays


# dtype each stored array must have (they are saved from these dtypes; anything else is damage).
_ARRAY_DTYPES = {"chunk_entry": np.int64, "chunk_kind": np.int8, "chunk_label": np.int64, "chunk_dense": np.bool_,
                 "image_vectors": np.float32, "has_image": np.bool_}


def _check_csr(zoo: Path, name: str, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
               rows: int, n_terms: int) -> None:
    """A CSR matrix's parts hold consistent offsets and in-bounds column numbers (scipy checks neither
    fully, and a bad index later reads outside the arrays)."""
    ok = (data.ndim == indices.ndim == indptr.ndim == 1 and data.dtype.kind == "f"
          and indices.dtype.kind == "i" and indptr.dtype.kind == "i" and len(indptr) == rows + 1
          and len(data) == len(indices))
    ok = ok and int(indptr[0]) == 0 and int(indptr[-1]) == len(indices) and bool(np.all(np.diff(indptr) >= 0))
    ok = ok and (not len(indices) or (int(indices.min()) >= 0 and int(indices.max()) < n_terms))
    ok = ok and bool(np.isfinite(data).all())
    if not ok:
        raise IndexFolderError(f"{zoo}: the {name} term counts are damaged (offsets or term numbers out of range); "
                               "rebuild the index.")


def _check_arrays(zoo: Path, arrays: "_Arrays", n_entries: int, n_chunks: int, image_dim: int,
                  next_label: int) -> None:
    """Dtypes, lengths and index bounds of the row-aligned arrays, before anything indexes with them."""
    problems = [name for name, dtype in _ARRAY_DTYPES.items() if getattr(arrays, name).dtype != dtype]
    if not problems:
        chunk_sized = ("chunk_entry", "chunk_kind", "chunk_label", "chunk_dense")
        problems += [n for n in chunk_sized if getattr(arrays, n).shape != (n_chunks,)]
        if arrays.has_image.shape != (n_entries,) or arrays.image_vectors.shape != (n_entries, image_dim) or \
                not np.isfinite(arrays.image_vectors).all():
            problems.append("image vectors")
    if not problems and n_chunks:
        if int(arrays.chunk_entry.min()) < 0 or int(arrays.chunk_entry.max()) >= n_entries:
            problems.append("chunk_entry (entry rows out of range)")
        if int(arrays.chunk_kind.min()) < 0 or int(arrays.chunk_kind.max()) >= len(CHUNK_KINDS):
            problems.append("chunk_kind (unknown chunk kinds)")
        labels = arrays.chunk_label
        if int(labels[0]) < 0 or int(labels[-1]) >= next_label or not bool(np.all(np.diff(labels) > 0)):
            problems.append("chunk_label (labels not ascending or out of range)")
    if problems:
        raise IndexFolderError(f"{zoo}: damaged arrays ({', '.join(problems)}); rebuild the index.")


def refuse_foreign_folder(folder: Path, *, label: Optional[str] = None) -> None:
    """IndexFolderError when `folder` exists, is not an index, and holds anything an index save did not
    write: saving there could overwrite or clean up someone's files. An interrupted first save
    (only index files, no manifest yet) may be saved over. The message names the folder by `label`
    (default its path) and never lists the files in it (messages may reach a browser)."""
    folder = Path(folder)
    shown = label or str(folder)
    if is_index_folder(folder) or not os.path.lexists(folder):
        return
    if not folder.is_dir():
        raise IndexFolderError(f"{shown} is a file, not a folder; choose a new or empty folder for the index.")
    foreign = 0
    for path in folder.iterdir():
        own = {ZOO_DIR: _OWN_ZOO_FILE, STORE_DATA_DIR: OWN_DATA_FILE}.get(path.name)
        if own is not None and path.is_dir() and not path.is_symlink():
            foreign += sum(1 for p in path.iterdir()
                           if not (p.is_file() and not p.is_symlink() and is_own_file(p.name, own)))
        elif not (path.is_file() and (is_temp_file(path.name) or path.name == LOCK_FILE)):
            foreign += 1  # e.g. a temporary file of the manifest's, from a killed save, is ours
    if foreign:
        things = "1 file or folder" if foreign == 1 else f"{foreign} files or folders"
        raise IndexFolderError(f"{shown} is not empty and is not a Polaris index (it holds {things} that no index "
                               "save wrote); nothing was written or deleted. Give a new or empty folder, or an "
                               "existing index.")


def indexed_entries(folder: str | os.PathLike) -> Optional[int]:
    """How many entries the index saved in `folder` holds (from its manifest), or None if it has none."""
    try:
        count = _read_store_manifest(folder)["extra"][EXTRA_KEY]["counts"]["entries"]
    except (IndexFolderError, KeyError, TypeError):
        return None
    return count if isinstance(count, int) and count >= 0 else None


ALLOW_SHRINK_CLI = "pass --allow-shrink (or delete the index folder and build it again)"


def check_rebuild(folder: str | os.PathLike, new_count: int, *, allow_shrink: bool = False, inputs: str = "",
                  label: Optional[str] = None, how_to_allow: str = ALLOW_SHRINK_CLI) -> None:
    """Refuse a build that would replace the index in `folder` with nothing, or with less than half of
    it (unless `allow_shrink`): inputs that all failed to read must not wipe a good index.
    `new_count` is how many entries the index will hold; `inputs` describes them for the message;
    `label` names the folder; `how_to_allow` says, in the caller's terms, how to allow a shrink."""
    what = f" ({inputs})" if inputs else ""
    shown = label or str(folder)
    old = indexed_entries(folder)
    if new_count == 0:
        kept = f"the index {shown} ({old} entries) is left as it was" if old else "no index was written"
        raise IndexFolderError(f"The inputs gave no usable entries{what}; {kept}. Check the catalog files and "
                               "model folders (see the skip reasons logged above).")
    if old and new_count * 2 < old and not allow_shrink:
        raise IndexFolderError(f"This build would shrink the index {shown} from {old} to {new_count} entries"
                               f"{what}; it was left as it was. If the missing models were removed (or left out of "
                               f"the scan) on purpose, {how_to_allow}.")


# ---------------------------------------------------------------- index names
MAX_INDEX_NAME_CHARS = 80
MAX_INDEX_NAME_BYTES = 200   # file systems allow 255 bytes per name
RESERVED_INDEX_NAMES = ("demo",)  # the sidebar's shipped demo zoo lives in models/polaris/indexes/demo
_NAME_FORBIDDEN = set('/\\:*?"<>|')


class IndexNameError(UnsafePathError):
    """An index name is not a plain, portable folder name."""


def valid_index_name(value: object, *, allow_reserved: bool = False) -> str:
    """The index name `value` (surrounding spaces removed) if it is a plain folder name, else IndexNameError.

    One rule for the Build/Load Zoo Index nodes, the sidebar's routes and `polaris index build --out`: at most
    MAX_INDEX_NAME_CHARS characters, no leading dot (hidden folders), no trailing dot, no control or format
    characters, no path separators or characters Windows forbids, and not a reserved name (`demo`).
    """
    if not isinstance(value, str) or not value.strip():
        raise IndexNameError("Give the index a name, a plain folder name such as 'my-zoo'.")
    name = value.strip()
    if len(name) > MAX_INDEX_NAME_CHARS or len(name.encode("utf-8", "surrogatepass")) > MAX_INDEX_NAME_BYTES:
        raise IndexNameError(f"The index name is {len(name)} characters long; use at most {MAX_INDEX_NAME_CHARS} "
                             "(a plain folder name such as 'my-zoo').")
    shown = repr(name[:40] + ("…" if len(name) > 40 else ""))
    if name.startswith(".") or name.endswith("."):
        raise IndexNameError(f"The index name {shown} starts or ends with a dot; use a plain folder name such "
                             "as 'my-zoo'.")
    if any(c in _NAME_FORBIDDEN or unicodedata.category(c).startswith("C") for c in name):
        raise IndexNameError(f"The index name {shown} holds a path separator, a control character or one of "
                             '\\ / : * ? " < > |; use a plain folder name such as \'my-zoo\'.')
    if not allow_reserved and name.casefold() in RESERVED_INDEX_NAMES:
        raise IndexNameError(f"'{name}' is reserved for the shipped demo zoo; give your index another name, "
                             "e.g. 'my-zoo'.")
    return name


def span_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start+1, … start+length−1 of every (start, length), concatenated."""
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + offsets


def _row_terms(matrix: sparse.csr_matrix, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in `rows`, position in `columns`) of every non-zero of those rows in those columns;
    reads only the rows' own non-zeros (no column slicing of the whole matrix)."""
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    if not lengths.sum():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    terms = matrix.indices[span_positions(starts, lengths)]
    order = np.argsort(columns)
    found = np.searchsorted(columns[order], terms)
    found = np.minimum(found, len(columns) - 1)
    hit = columns[order][found] == terms
    owners = np.repeat(np.arange(len(rows)), lengths)
    return owners[hit], order[found[hit]]


def _stack_rows(parts: list[sparse.csr_matrix], owners: list[np.ndarray], n_rows: int,
                n_terms: int) -> sparse.csr_matrix:
    """One (n_rows × n_terms) CSR matrix of row-major parts whose row i is row `owners[k][i]` of the whole
    (every row owned by one part), with sorted indices."""
    if not parts:
        return sparse.csr_matrix((n_rows, n_terms), dtype=np.uint8)
    stacked = sparse.vstack(parts, format="csr")
    del parts[:]
    order = np.argsort(np.concatenate(owners), kind="stable")  # stacked row order[g] is row g
    out = stacked[order]
    out.sort_indices()
    return out


def _rows_as_columns(matrix: sparse.csr_matrix, rows: np.ndarray, block: int = 1 << 21) -> sparse.csc_matrix:
    """`as_counts(matrix[rows]).tocsc()`, sorted, made a block of rows (~`block` non-zeros) at a time into
    arrays of the final size: the row slice and its converted copy, both of all the rows, were the
    first search's largest temporary."""
    if matrix.dtype not in COUNT_DTYPES:
        out = as_counts(matrix[rows]).tocsc()
        out.sort_indices()
        return out
    n_columns = matrix.shape[1]
    rows = np.asarray(rows, dtype=np.int64)
    ends = np.cumsum((matrix.indptr[rows + 1] - matrix.indptr[rows]).astype(np.int64))
    nnz = int(ends[-1]) if len(rows) else 0
    bounds = [0]
    while bounds[-1] < len(rows):
        start = bounds[-1]
        end = int(np.searchsorted(ends, (int(ends[start - 1]) if start else 0) + block, side="right"))
        bounds.append(min(max(end, start + 1), len(rows)))
    blocks = list(zip(bounds, bounds[1:]))
    per_column = np.zeros(n_columns, dtype=np.int64)
    largest = 0
    for start, end in blocks:
        part = matrix[rows[start:end]]
        per_column += np.bincount(part.indices, minlength=n_columns)
        largest = max(largest, int(part.data.max()) if part.nnz else 0)
    index_dtype = np.int32 if max(nnz, len(rows), n_columns) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_columns + 1, dtype=np.int64)
    np.cumsum(per_column, out=indptr[1:])
    del per_column
    data = np.empty(nnz, dtype=count_dtype(largest))
    indices = np.empty(nnz, dtype=index_dtype)
    fill = indptr[:-1].copy()  # where each column's next non-zero goes
    for start, end in blocks:
        part = matrix[rows[start:end]].tocsc()  # rows ascend within each column
        lengths = np.diff(part.indptr)
        at = np.repeat(fill - part.indptr[:-1], lengths) + np.arange(part.nnz)
        data[at] = part.data
        indices[at] = part.indices + start
        fill += lengths
    out = sparse.csc_matrix((data, indices, indptr.astype(index_dtype)), shape=(len(rows), n_columns), copy=False)
    out.has_sorted_indices = True
    return out


def _with_columns(matrix: sparse.csr_matrix, n_terms: int) -> sparse.csr_matrix:
    """The same matrix widened to the current vocabulary (new terms have no counts in old rows)."""
    if matrix.shape[1] == n_terms:
        return matrix
    # The same arrays under a wider shape: copying them (GBs at a million entries) on every update cost seconds.
    return sparse.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], n_terms), copy=False)



def _return_freed_memory() -> None:
    """Give freed heap pages back to the system. glibc keeps them after large temporary copies (loading, the
    first search's count copies): 0.125 GB of 1.55 GB at 100K entries. Nothing to do elsewhere."""
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM = None


def _load_store(folder: Path, *, verify: bool, memo: Optional[ChecksumMemo]):
    """The index's vector store: the hnswlib VectorStore, or a MilvusVectorStore when its manifest says so."""
    from polaris_core.vectorstore_milvus import is_milvus_folder

    if is_milvus_folder(folder):
        from polaris_core.vectorstore_milvus import MilvusVectorStore

        return MilvusVectorStore.load(folder, verify=verify, memo=memo)
    return VectorStore.load(folder, verify=verify, memo=memo)


def _read_store_manifest(folder: str | os.PathLike) -> dict:
    from polaris_core.vectorstore_milvus import is_milvus_folder, read_milvus_manifest

    return read_milvus_manifest(folder) if is_milvus_folder(folder) else read_manifest(folder)


def is_index_folder(folder: str | os.PathLike) -> bool:
    """True when `folder` holds a saved index (its commit point exists); says nothing about its health."""
    return (Path(folder) / STORE_MANIFEST).is_file()


def _packed_entries(path: Path, offsets: np.ndarray, columns) -> EntryList:
    """An index's entries from their packed files (`EntryList.packed`), the texts read through a map
    so the whole file is never one more copy in memory. Raises ValueError when they disagree."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return EntryList.from_packed(b"", offsets, columns)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as texts:
            return EntryList.from_packed(texts, offsets, columns)


def _zoo_files(folder: Path) -> set[str]:
    """Names of the zoo/ files the folder's current manifest refers to (empty when there is none)."""
    try:
        files = read_manifest(folder)["extra"][EXTRA_KEY]["files"]
        return {str(info["name"]) for info in files.values()}
    except (IndexFolderError, KeyError, TypeError, AttributeError):
        return set()
