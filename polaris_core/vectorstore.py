"""A persistent, partitioned cosine-similarity vector store.

Each partition (a string key such as "lora/sd15") is searched on its own, so a filter by kind and
base family is a choice of partitions instead of a per-candidate callback (hnswlib's Python
filter costs tens of ms per query). Small partitions are searched exactly (one numpy product);
partitions at or above `exact_threshold` vectors use an hnswlib graph (which holds them in float32 and
searches with them), and keep a float16 copy in numpy (fetching vectors by label is then one fancy index;
hnswlib's `get_items` costs ~30 µs per vector): 0.77 KB more per vector at dim 384 instead of 1.5 KB.
`get_vectors` reads that copy, so for vectors in a graph partition it is exact to float16 (a cosine
moves by ~1e-4 at most); `exact_vectors` reads the graph. Labels are int64 ids unique
across the whole store: adding a label again updates it (and moves it if the partition differs).

On disk a store is `vectorstore.json` (the manifest) plus content-addressed files under
`vectorstore-data/` in a folder, so it can share a folder with other index files.
`save` writes new files first, then replaces the manifest atomically, then removes files no
manifest refers to: a save killed at any point leaves the previous version loadable. `load`
checks format version, dimension, counts and the sha256 of every file before reading it, and
never unpickles (`np.load(allow_pickle=False)`).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional

import hnswlib
import numpy as np

from polaris_core.atomic import (ChecksumMemo, content_addressed_pattern, os_reason, remove_stale, remove_written,
                                 save_failure, sha256_file, write_content_addressed, write_json_atomic)
from polaris_core.errors import IndexFolderError, VectorError

log = logging.getLogger("polaris")

FORMAT_NAME = "polaris-vectorstore"
FORMAT_VERSION = 1
MANIFEST = "vectorstore.json"
DATA_DIR = "vectorstore-data"
# milvus-*: the label table of a store whose vectors live in Milvus (polaris_core.vectorstore_milvus).
OWN_DATA_FILE = content_addressed_pattern(r"p\d{4}-(?:labels|vectors|graph)|milvus-(?:labels|partitions)",
                                         r"\.npy|\.hnsw")
# Below this many vectors a partition is searched exactly (perfect recall, cheap updates, no graph
# build). `polaris bench index` at dim 384 on 2 CPUs, single query: exact 0.05 ms at 250, 0.11 ms
# at 1,000, 0.17 ms at 2,000, 0.63 ms at 8,000 vectors; HNSW at recall ≥ 0.98 0.05–0.14 ms. Both
# cost ~0.1 ms up to 1,000, and HNSW pulls ahead above.
DEFAULT_EXACT_THRESHOLD = 1000
_EINSUM_MAX_QUERIES = 8
_MAX_GRAPH_CAPACITY = 50_000_000
# The numpy copy of a graph partition's vectors (the graph keeps float32 for its own search).
GRAPH_COPY_DTYPE = np.float16


def auto_ef(n: int) -> int:
    """ef_search for recall@10 ≥ 0.98 against exact search on an HNSW graph of `n` vectors (M=16).

    Recall at a fixed ef falls as the graph grows, so ef grows by 20 per doubling of n: 72 at 5K,
    96 at 10K, 120 at 27K, 152 at 82K, 224 at 1M (64..512). `polaris bench index` (dim 384) needs,
    on real MiniLM chunk vectors, ef 64 at 5K, 80 at 10K, ~108 at 27K and ~112 at 80K for 0.98
    (ef 160 gives 0.986 at 80K), and on clustered synthetic ones ef 192 at 1M (256: 0.992).
    """
    ef = 72 + 20 * math.log2(max(int(n), 1) / 5000)
    return int(min(512, max(64, 8 * round(ef / 8))))


@dataclass
class HnswParams:
    """hnswlib graph settings. `ef_search` 0 (the default) picks ef per partition with `auto_ef`;
    a positive value fixes it. Either way ef is raised to k when a query asks for more results.

    Chosen with `polaris bench index` (2 shared CPUs): on 80K real MiniLM catalog embeddings,
    M=16/ef_construction=200 reaches recall@10 0.983 vs exact at ef 128 (p50 0.47 ms); ef 64
    gives 0.970. M=32 needs ef 96 for the same recall at the same latency, and builds 50% slower.
    """

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 0

    def __post_init__(self) -> None:
        if not (2 <= int(self.M) <= 256 and 1 <= int(self.ef_construction) and 0 <= int(self.ef_search)):
            raise VectorError(f"Invalid HNSW parameters {asdict(self)}: use 2 ≤ M ≤ 256, ef_construction ≥ 1 "
                              "and ef_search ≥ 0 (0 = automatic).")

    def ef_for(self, n: int) -> int:
        """The ef_search used on a partition of `n` vectors."""
        return int(self.ef_search) if self.ef_search else auto_ef(n)


_NO_LABELS = np.empty(0, dtype=np.int64)


class _Partition:
    """One partition: exact (dense normalised arrays) or hnsw (an hnswlib graph over the same arrays).

    Both keep the live vectors in row-aligned arrays: hnswlib's `get_items` costs ~30 µs per
    vector, which made fetching a query's candidate vectors the slowest step of a search. An hnsw
    partition's array is a GRAPH_COPY_DTYPE copy (the graph holds the float32 vectors).

    Label lookups go through numpy arrays, not Python dicts and sets (those took ~250 bytes per
    label, ~0.6 GB at a million entries): the live labels sorted with their rows (`find`), and for
    a graph the sorted labels it still holds marked deleted. A graph's live labels are its rows'.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.storage = "exact"
        self.labels = np.empty(0, dtype=np.int64)        # live labels, row-aligned with vectors
        self.vectors = np.empty((0, dim), dtype=np.float32)
        self.size = 0                                     # rows in use
        self.sorted_labels = _NO_LABELS                   # live labels, sorted ...
        self.sorted_rows = _NO_LABELS                     # ... and the row of each
        self.graph: Optional[hnswlib.Index] = None        # hnsw
        self.deleted_in_graph = _NO_LABELS                # hnsw: labels present but marked deleted, sorted
        self.saved_files: Optional[tuple[str, dict]] = None  # (folder, files) of the last save, if unchanged

    def __len__(self) -> int:
        return self.size

    def live_labels(self) -> np.ndarray:
        """Live labels in row order."""
        return self.labels[: self.size].copy()

    def find(self, labels: np.ndarray) -> np.ndarray:
        """The row of each label, -1 where it is not in this partition."""
        if not len(self.sorted_labels):
            return np.full(len(labels), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.sorted_labels, labels), len(self.sorted_labels) - 1)
        return np.where(self.sorted_labels[at] == labels, self.sorted_rows[at], -1)

    def index_rows(self) -> None:
        """Rebuild the sorted lookup from the rows (after a load, or when many rows changed)."""
        order = np.argsort(self.labels[: self.size], kind="stable")
        self.sorted_labels, self.sorted_rows = self.labels[: self.size][order], order.astype(np.int64)

    def append(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows for labels not in the partition (unique), growing the arrays by half when full."""
        need = self.size + len(labels)
        if need > len(self.labels):
            capacity = max(need, int(len(self.labels) * 1.5) + 16)
            grown_labels = np.empty(capacity, dtype=np.int64)
            grown_vectors = np.empty((capacity, self.dim), dtype=self.vectors.dtype)
            grown_labels[: self.size] = self.labels[: self.size]
            grown_vectors[: self.size] = self.vectors[: self.size]
            self.labels, self.vectors = grown_labels, grown_vectors
        start = self.size
        self.labels[start:need] = labels
        self.vectors[start:need] = vectors
        self.size = need
        order = np.argsort(labels, kind="stable")
        at = np.searchsorted(self.sorted_labels, labels[order])
        self.sorted_labels = np.insert(self.sorted_labels, at, labels[order])
        self.sorted_rows = np.insert(self.sorted_rows, at, start + order)

    def remove(self, rows: np.ndarray) -> None:
        """Drop these rows (unique, in use): the last rows in use move into the holes, so the arrays
        stay dense and only as many rows move as are removed."""
        keep = self.size - len(rows)
        gone = np.zeros(self.size, dtype=bool)
        gone[rows] = True
        holes = np.sort(rows[rows < keep])
        movers = np.flatnonzero(~gone[keep:]) + keep  # rows past the end that stay, as many as holes
        removed_labels = self.labels[rows]
        self.labels[holes] = self.labels[movers]
        self.vectors[holes] = self.vectors[movers]
        self.size = keep
        at = np.searchsorted(self.sorted_labels, removed_labels)
        self.sorted_labels = np.delete(self.sorted_labels, at)
        self.sorted_rows = np.delete(self.sorted_rows, at)
        self.sorted_rows[np.searchsorted(self.sorted_labels, self.labels[holes])] = holes


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / norms).astype(np.float32, copy=False)


def last_of_each(labels: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and normalised vectors keeping only the last occurrence of a label repeated within one call."""
    _, last = np.unique(labels[::-1], return_index=True)
    keep = np.sort(len(labels) - 1 - last)
    return labels[keep], _normalise(vectors[keep])


def _similarities(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """queries · vectorsᵀ. A few queries use einsum's own loop: a multi-threaded BLAS gemv can wait
    milliseconds for a second thread on a busy CPU (measured 8 ms vs 0.35 ms at 4,000×384)."""
    if len(queries) <= _EINSUM_MAX_QUERIES:
        return np.einsum("qd,nd->qn", queries, vectors)
    return queries @ vectors.T


def _graph_vectors(graph: hnswlib.Index, labels: np.ndarray) -> np.ndarray:
    """Vectors of `labels` from an hnswlib graph in one call (float32, as stored: unit length)."""
    if not len(labels):
        return np.empty((0, graph.dim), dtype=np.float32)
    return np.asarray(graph.get_items(labels, return_type="numpy"), dtype=np.float32)


def _graph_labels(graph: hnswlib.Index) -> np.ndarray:
    """Every label an hnswlib graph holds (live or marked deleted), sorted."""
    return np.unique(np.asarray(graph.get_ids_list(), dtype=np.int64))


# hnswlib's saved index (hnswalg.h `saveIndex`): a 96-byte header of size_t/int fields, then every
# element's level-0 record (links, then the float32 vector at `offsetData`, then the size_t label).
_GRAPH_HEADER = np.dtype([("offset_level0", "<u8"), ("max_elements", "<u8"), ("count", "<u8"),
                          ("bytes_per_element", "<u8"), ("label_offset", "<u8"), ("data_offset", "<u8"),
                          ("max_level", "<i4"), ("entry_point", "<u4"), ("max_m", "<u8"), ("max_m0", "<u8"),
                          ("m", "<u8"), ("mult", "<f8"), ("ef_construction", "<u8")])


def _graph_file_vectors(path: Path, graph: hnswlib.Index, labels: np.ndarray,
                        dtype=GRAPH_COPY_DTYPE) -> Optional[np.ndarray]:
    """The vectors of `labels` (as `dtype`) read straight from a saved hnswlib graph file (one sequential
    read instead of ~30 µs per vector through `get_items`, converted a block at a time), or None when
    the file's layout is not the one expected: the caller then asks the graph. A sample of the float32
    values is checked against `get_items`."""
    dim = graph.dim
    try:
        header = np.fromfile(path, dtype=_GRAPH_HEADER, count=1)
        if len(header) != 1:
            return None
        h = {name: int(header[name][0]) for name in ("count", "bytes_per_element", "label_offset", "data_offset")}
        count, per, data_offset, label_offset = h["count"], h["bytes_per_element"], h["data_offset"], h["label_offset"]
        if label_offset != data_offset + 4 * dim or per < label_offset + 8 or \
                path.stat().st_size < _GRAPH_HEADER.itemsize + count * per or count < len(labels):
            return None
        records = np.memmap(path, dtype=np.uint8, mode="r", offset=_GRAPH_HEADER.itemsize, shape=(count, per))
        file_labels = np.ascontiguousarray(records[:, label_offset:label_offset + 8]).view("<u8").ravel()
        order = np.argsort(file_labels, kind="stable")
        position = np.searchsorted(file_labels[order], labels.astype(np.uint64))
        position = np.minimum(position, max(count - 1, 0))
        if count and not np.array_equal(file_labels[order][position], labels.astype(np.uint64)):
            return None
        where = order[position]  # the file record of each label
        sample = np.unique(np.linspace(0, len(labels) - 1, num=min(8, len(labels))).astype(np.int64))
        exact = np.ascontiguousarray(records[where[sample], data_offset:data_offset + 4 * dim]).view("<f4")
        if len(sample) and not np.array_equal(exact, _graph_vectors(graph, labels[sample])):
            return None
        vectors = np.empty((len(labels), dim), dtype=dtype)
        block = 65_536  # float32 a block at a time: never the whole partition in float32 at once
        for start in range(0, len(labels), block):
            rows = where[start:start + block]
            vectors[start:start + block] = np.ascontiguousarray(
                records[rows, data_offset:data_offset + 4 * dim]).view("<f4")
        del records
    except (OSError, ValueError):
        return None
    return vectors


class VectorStore:
    """Partitioned cosine vector store with exact search for small partitions and HNSW for large ones."""

    def __init__(self, dim: int, *, exact_threshold: int = DEFAULT_EXACT_THRESHOLD,
                 hnsw: Optional[HnswParams] = None, extra: Optional[dict] = None) -> None:
        if not isinstance(dim, (int, np.integer)) or not 1 <= int(dim) <= 65536:
            raise VectorError(f"Vector dimension must be an integer in 1..65536, got {dim!r}.")
        if int(exact_threshold) < 0:
            raise VectorError("exact_threshold must be ≥ 0 (0 means every non-empty partition uses HNSW).")
        self.dim = int(dim)
        self.space = "cosine"
        self.exact_threshold = int(exact_threshold)
        self.hnsw = hnsw or HnswParams()
        self.extra: dict = dict(extra or {})   # caller metadata saved in the manifest (encoder ids, …)
        self._parts: dict[str, _Partition] = {}
        self.query_threads = 1                  # hnswlib threads per search call (batch queries may use more)
        self._table: Optional[tuple] = None     # label lookup table, see _label_table

    # ------------------------------------------------------------ construction
    @classmethod
    def create(cls, dim: int, *, exact_threshold: int = DEFAULT_EXACT_THRESHOLD,
               hnsw: Optional[HnswParams] = None, extra: Optional[dict] = None) -> "VectorStore":
        return cls(dim, exact_threshold=exact_threshold, hnsw=hnsw, extra=extra)

    # ------------------------------------------------------------ inspection
    def __len__(self) -> int:
        return sum(p.size for p in self._parts.values())

    def __contains__(self, label) -> bool:
        return self.partition_of(label) is not None

    def partitions(self) -> list[str]:
        """Partition keys holding at least one vector, sorted."""
        return sorted(k for k, p in self._parts.items() if len(p))

    def count(self, partition: str) -> int:
        part = self._parts.get(partition)
        return len(part) if part else 0

    def storage(self, partition: str) -> str:
        """"exact" or "hnsw" (how that partition is searched); "" if it does not exist."""
        part = self._parts.get(partition)
        return part.storage if part else ""

    def partition_of(self, label: int) -> Optional[str]:
        number = int(self._partitions_holding(np.array([int(label)], dtype=np.int64))[0])
        return list(self._parts)[number] if number >= 0 else None

    def _partitions_holding(self, labels: np.ndarray) -> np.ndarray:
        """For each label, the number of the partition (in `self._parts` order) holding it, -1 if none."""
        out = np.full(len(labels), -1, dtype=np.int64)
        for number, part in enumerate(self._parts.values()):
            out[part.find(labels) >= 0] = number
        return out

    def labels(self, partition: str) -> np.ndarray:
        part = self._parts.get(partition)
        return part.live_labels() if part else np.empty(0, dtype=np.int64)

    def get_vectors(self, labels: Iterable[int]) -> np.ndarray:
        """Stored (unit-length) vectors for `labels`, in order. Unknown labels raise VectorError."""
        labels = self._check_labels(labels)
        out = np.empty((len(labels), self.dim), dtype=np.float32)
        if not len(labels):
            return out
        keys, sorted_labels, part_numbers, rows = self._label_table()
        position = np.minimum(np.searchsorted(sorted_labels, labels), max(len(sorted_labels) - 1, 0))
        known = sorted_labels[position] == labels if len(sorted_labels) else np.zeros(len(labels), bool)
        if not known.all():
            raise VectorError(f"Label {int(labels[np.argmin(known)])} is not in the vector store.")
        numbers, rows = part_numbers[position], rows[position]
        for number in np.unique(numbers).tolist():
            picked = np.flatnonzero(numbers == number)
            out[picked] = self._parts[keys[number]].vectors[rows[picked]]
        return out

    def exact_vectors(self, labels: Iterable[int]) -> np.ndarray:
        """Like `get_vectors`, but a graph partition's vectors come from the graph (float32, as searched)
        instead of its float16 copy: ~30 µs per such vector, for exports, not for search."""
        labels = self._check_labels(labels)
        out = self.get_vectors(labels)  # raises on unknown labels
        if not len(labels):
            return out
        keys, sorted_labels, part_numbers, _ = self._label_table()
        numbers = part_numbers[np.searchsorted(sorted_labels, labels)]
        for number in np.unique(numbers).tolist():
            part = self._parts[keys[number]]
            if part.storage == "hnsw":
                picked = np.flatnonzero(numbers == number)
                out[picked] = _graph_vectors(part.graph, labels[picked])
        return out

    def _label_table(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(partition keys, all labels sorted, partition number and row of each), rebuilt
        after a change: label lookups become one searchsorted instead of a Python loop."""
        if self._table is None:
            keys, parts = list(self._parts), list(self._parts.values())
            all_labels = np.concatenate([_NO_LABELS] + [p.sorted_labels for p in parts])
            numbers = np.repeat(np.arange(len(parts), dtype=np.int32), [len(p.sorted_labels) for p in parts])
            # Each partition's labels are sorted already: a stable sort (timsort) merges the runs.
            order = np.argsort(all_labels, kind="stable")
            rows = np.concatenate([_NO_LABELS] + [p.sorted_rows for p in parts])
            self._table = (keys, all_labels[order], numbers[order], rows[order])
        return self._table

    # ------------------------------------------------------------ validation
    def _check_labels(self, labels) -> np.ndarray:
        arr = np.asarray(labels)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise VectorError(f"Labels must be a 1-D array of integers, got shape {arr.shape} dtype {arr.dtype}.")
        arr = arr.astype(np.int64, copy=False)
        if arr.size and arr.min() < 0:
            raise VectorError("Labels must be ≥ 0 (hnswlib stores them unsigned).")
        return arr

    def _check_vectors(self, vectors, n: Optional[int] = None) -> np.ndarray:
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise VectorError(f"Vectors must have shape (n, {self.dim}), got {arr.shape}; "
                              "use the encoder this store was built with.")
        if n is not None and arr.shape[0] != n:
            raise VectorError(f"Got {n} labels but {arr.shape[0]} vectors; pass one vector per label.")
        if not np.isfinite(arr).all():
            raise VectorError("Vectors contain NaN or infinity; re-embed those items.")
        if arr.size and (np.linalg.norm(arr, axis=1) == 0).any():
            raise VectorError("A vector is all zeros, so it has no direction to compare; re-embed that item.")
        return arr

    # ------------------------------------------------------------ updates
    def _checked_upsert(self, partition: str, labels, vectors) -> tuple[np.ndarray, np.ndarray]:
        """An add's partition key, labels and vectors checked; the last vector of a repeated label, normalised."""
        if not isinstance(partition, str) or not partition or len(partition) > 200:
            raise VectorError(f"Partition key must be a non-empty string of ≤ 200 characters, got {partition!r}.")
        labels = self._check_labels(labels)
        vectors = self._check_vectors(vectors, len(labels))
        return last_of_each(labels, vectors) if len(labels) else (labels, vectors)

    def add(self, partition: str, labels, vectors) -> None:
        """Insert or update vectors (upsert). A label already stored elsewhere moves to `partition`."""
        labels, vectors = self._checked_upsert(partition, labels, vectors)
        if not len(labels):
            return
        own = list(self._parts).index(partition) if partition in self._parts else -1
        holder = self._partitions_holding(labels)
        elsewhere = (holder >= 0) & (holder != own)
        if elsewhere.any():
            self.delete(labels[elsewhere])
        part = self._parts.setdefault(partition, _Partition(self.dim))
        part.saved_files = None
        if part.storage == "exact":
            self._exact_upsert(part, labels, vectors)
            if part.size >= max(1, self.exact_threshold):
                self._to_hnsw(part)
        else:
            self._hnsw_upsert(part, labels, vectors)
        self._table = None

    def delete(self, labels) -> int:
        """Remove labels from the store; unknown labels are ignored. Returns how many were removed."""
        labels = np.unique(self._check_labels(labels))
        removed = 0
        touched: list[str] = []
        self._table = None
        for key, part in self._parts.items():
            rows = part.find(labels)
            held = rows >= 0
            if not held.any():
                continue
            touched.append(key)
            removed += int(held.sum())
            part.remove(rows[held])
            if part.storage == "hnsw":
                for lab in labels[held].tolist():
                    part.graph.mark_deleted(lab)
                part.deleted_in_graph = np.union1d(part.deleted_in_graph, labels[held])
        for key in touched:
            part = self._parts[key]
            part.saved_files = None
            if part.storage == "hnsw" and len(part) < self.exact_threshold // 2:
                self._to_exact(part)
            if not len(part):
                del self._parts[key]
        return removed

    def _exact_upsert(self, part: _Partition, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Labels are unique: known ones get their vector replaced, new ones are appended."""
        rows = part.find(labels)
        known = rows >= 0
        part.vectors[rows[known]] = vectors[known]
        if not known.all():
            part.append(labels[~known], vectors[~known])

    def _new_graph(self, capacity: int) -> hnswlib.Index:
        graph = hnswlib.Index(space="cosine", dim=self.dim)
        graph.init_index(max_elements=max(capacity, 16), ef_construction=self.hnsw.ef_construction,
                         M=self.hnsw.M, allow_replace_deleted=True)
        return graph

    def _to_hnsw(self, part: _Partition) -> None:
        n = part.size
        graph = self._new_graph(int(n * 1.25) + 64)
        graph.add_items(part.vectors[:n], part.labels[:n], num_threads=-1)
        part.graph, part.storage = graph, "hnsw"
        # The graph holds them in float32; the copy drops the rows grown but not yet used.
        part.labels, part.vectors = part.labels[:n].copy(), part.vectors[:n].astype(GRAPH_COPY_DTYPE)
        part.deleted_in_graph = _NO_LABELS

    def _to_exact(self, part: _Partition) -> None:
        # Exact search reads the numpy array: back to float32, from the graph (a few hundred vectors).
        part.vectors = _graph_vectors(part.graph, part.labels[: part.size])
        part.graph, part.storage, part.deleted_in_graph = None, "exact", _NO_LABELS

    def _hnsw_upsert(self, part: _Partition, labels: np.ndarray, vectors: np.ndarray) -> None:
        live = part.find(labels) >= 0  # before the rows take the new labels
        self._exact_upsert(part, labels, vectors)
        graph = part.graph
        # hnswlib rules: a live label is updated in place; a deleted one must be unmarked first;
        # only brand-new labels may take a deleted slot (replace_deleted), or the label map breaks.
        in_place, fresh = np.flatnonzero(live).tolist(), []
        was_deleted = ~live & np.isin(labels, part.deleted_in_graph)
        for i in np.flatnonzero(~live).tolist():
            if was_deleted[i]:
                try:
                    graph.unmark_deleted(int(labels[i]))
                    in_place.append(i)
                except RuntimeError:  # its slot was reused by another label since
                    fresh.append(i)
            else:
                fresh.append(i)
        if was_deleted.any():
            part.deleted_in_graph = np.setdiff1d(part.deleted_in_graph, labels[was_deleted])
        free_slots = graph.get_max_elements() - graph.get_current_count() + len(part.deleted_in_graph)
        if len(fresh) > free_slots:
            graph.resize_index(max(graph.get_max_elements() + len(fresh) - free_slots,
                                   int(graph.get_max_elements() * 1.5)))
        if in_place:
            idx = np.asarray(in_place)
            graph.add_items(vectors[idx], labels[idx], num_threads=-1, replace_deleted=False)
        if fresh:
            idx = np.asarray(fresh)
            reused = min(len(fresh), len(part.deleted_in_graph))
            graph.add_items(vectors[idx], labels[idx], num_threads=-1, replace_deleted=True)
            if reused:
                # Slots of deleted labels were taken over; those labels are gone from the graph.
                part.deleted_in_graph = np.intersect1d(part.deleted_in_graph, _graph_labels(graph)) \
                    if reused < len(part.deleted_in_graph) else _NO_LABELS

    # ------------------------------------------------------------ search
    def search(self, query, k: int, partitions: Optional[Iterable[str]] = None,
               *, ef: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine similarity across `partitions` (all when None; unknown keys are ignored).

        `query` is one vector (dim,) or a batch (nq, dim). Returns `(scores, labels)`, each
        (nq, min(k, vectors searched)), best first; a 1-D query gives 1-D results.
        """
        single = np.asarray(query).ndim == 1
        queries = _normalise(self._check_vectors(query))
        k = int(k)
        if k < 1:
            raise VectorError(f"k must be ≥ 1, got {k}.")
        keys = self.partitions() if partitions is None else [p for p in dict.fromkeys(partitions)
                                                                if self.count(p)]
        all_scores, all_labels = [], []
        for key in keys:
            part = self._parts[key]
            kk = min(k, len(part))
            if part.storage == "exact":
                sims = _similarities(queries, part.vectors[: part.size])
                if kk < part.size:
                    top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
                    scores = np.take_along_axis(sims, top, axis=1)
                else:
                    top = np.broadcast_to(np.arange(part.size), sims.shape)
                    scores = sims
                all_scores.append(scores)
                all_labels.append(part.labels[: part.size][top])
            else:
                labels, dists = self._graph_query(part, queries, kk, ef)
                all_scores.append(1.0 - dists)
                all_labels.append(labels)
        if not all_scores:
            empty = np.empty((len(queries), 0))
            scores, labels = empty.astype(np.float32), empty.astype(np.int64)
        else:
            scores = np.concatenate(all_scores, axis=1).astype(np.float32, copy=False)
            labels = np.concatenate(all_labels, axis=1).astype(np.int64, copy=False)
            kk = min(k, scores.shape[1])
            order = np.argsort(-scores, axis=1, kind="stable")[:, :kk]
            scores = np.take_along_axis(scores, order, axis=1)
            labels = np.take_along_axis(labels, order, axis=1)
        return (scores[0], labels[0]) if single else (scores, labels)

    def _graph_query(self, part: _Partition, queries: np.ndarray, k: int,
                     ef: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
        ef_now = max(ef or self.hnsw.ef_for(len(part)), k)
        for _attempt in range(4):
            part.graph.set_ef(ef_now)
            try:
                labels, dists = part.graph.knn_query(queries, k=k, num_threads=self.query_threads)
                return labels.astype(np.int64), dists
            except RuntimeError:
                # Deleted nodes can leave the search with fewer than k live hits; widen it.
                ef_now = min(ef_now * 4, max(len(part) + len(part.deleted_in_graph), k))
        # Last resort: brute force over the live vectors of this partition.
        sims = _similarities(queries, part.vectors[: part.size].astype(np.float32))
        top = np.argsort(-sims, axis=1)[:, :k]
        return part.labels[: part.size][top], 1.0 - np.take_along_axis(sims, top, axis=1)

    # ------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike, *, label: Optional[str] = None) -> None:
        """Write the store to `folder` atomically (see module docstring). Unchanged partitions
        saved earlier to the same folder are not rewritten. `label` names the folder in messages.

        After the commit only the files the replaced manifest named (and old leftovers, see
        `remove_stale`) are removed, never files another save may have written meanwhile; a failed
        save removes what it wrote."""
        folder = Path(folder)
        shown = label or str(folder)
        data = folder / DATA_DIR
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexFolderError(f"Cannot create the index folder {shown} ({os_reason(exc)}). "
                                   "Choose a writable folder.") from exc
        previous = _manifest_files(folder)
        resolved = str(folder.resolve())
        manifest_parts: dict[str, dict] = {}
        written: list[tuple[_Partition, tuple[str, dict]]] = []
        new_names: list[str] = []
        try:
            for number, key in enumerate(self.partitions()):
                part = self._parts[key]
                files = self._reusable_files(part, resolved, data)
                if files is None:
                    files = self._write_partition(part, number, data, new_names)
                    written.append((part, (resolved, files)))
                manifest_parts[key] = {"count": len(part), "storage": part.storage, "files": files,
                                       "max_elements": part.graph.get_max_elements() if part.graph else 0}
            manifest = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "dim": self.dim,
                "space": self.space,
                "count": len(self),
                "exact_threshold": self.exact_threshold,
                "hnsw": asdict(self.hnsw),
                "partitions": manifest_parts,
                "extra": self.extra,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "versions": {"numpy": np.__version__, "hnswlib": getattr(hnswlib, "__version__", "0.8")},
            }
            write_json_atomic(folder / MANIFEST, manifest)
        except OSError as exc:
            remove_written(data, new_names, keep=previous)
            raise IndexFolderError(save_failure(exc, shown, "the vector store", "version")) from exc
        for part, record in written:
            part.saved_files = record
        keep = {info["name"] for p in manifest_parts.values() for info in p["files"].values()}
        remove_stale(data, OWN_DATA_FILE, superseded=previous, keep=keep)

    def _reusable_files(self, part: _Partition, resolved: str, data: Path) -> Optional[dict]:
        if not part.saved_files or part.saved_files[0] != resolved:
            return None
        files = part.saved_files[1]
        for info in files.values():
            path = data / info["name"]
            if not path.is_file() or path.stat().st_size != info["bytes"]:
                return None
        return files

    def _write_partition(self, part: _Partition, number: int, data: Path, written: list[str]) -> dict:
        def write(stem: str, suffix: str, writer) -> dict:
            info = write_content_addressed(data, stem, suffix, writer)
            written.append(info["name"])
            return info

        files = {"labels": write(f"p{number:04d}-labels", ".npy", lambda p: _save_npy(p, part.live_labels()))}
        if part.storage == "hnsw":
            # The graph file holds the float32 vectors; loading reads them from it (no second copy on disk).
            files["hnsw"] = write(f"p{number:04d}-graph", ".hnsw", lambda p: part.graph.save_index(str(p)))
        else:
            files["vectors"] = write(f"p{number:04d}-vectors", ".npy",
                                     lambda p: _save_npy(p, part.vectors[: part.size]))
        return files

    @classmethod
    def load(cls, folder: str | os.PathLike, *, dim: Optional[int] = None, verify: bool = True,
             memo: Optional[ChecksumMemo] = None) -> "VectorStore":
        """Load a saved store. Raises IndexFolderError if the folder is missing, from another format
        version or dimension, or if any file is missing, has the wrong shape or fails its checksum.

        `verify=True` hashes every file; `verify=False` hashes only files that changed since `memo`
        last saw them pass (a file is always checked once after each change: an hnswlib graph
        is never read unverified, since a damaged one can crash the process)."""
        folder = Path(folder)
        if not verify and memo is None:
            memo = ChecksumMemo(None)
        manifest = read_manifest(folder)
        if dim is not None and manifest["dim"] != dim:
            raise IndexFolderError(f"{folder} holds {manifest['dim']}-d vectors but {dim}-d were expected; "
                                   "the encoder changed, so rebuild the index.")
        try:
            hnsw = HnswParams(**{k: int(v) for k, v in manifest.get("hnsw", {}).items()
                                 if k in HnswParams.__dataclass_fields__})
            store = cls(int(manifest["dim"]), exact_threshold=int(manifest.get("exact_threshold", 0)),
                        hnsw=hnsw, extra=manifest.get("extra") or {})
        except (TypeError, ValueError, VectorError) as exc:
            raise IndexFolderError(f"{folder / MANIFEST} has invalid settings ({exc}); rebuild the index.") from exc
        resolved = str(folder.resolve())
        for key, info in manifest["partitions"].items():
            part = store._load_partition(folder, key, info, None if verify else memo)
            part.saved_files = (resolved, info["files"])
            store._parts[key] = part
        keys, sorted_labels, part_numbers, _ = store._label_table()
        twice = np.flatnonzero(sorted_labels[1:] == sorted_labels[:-1])
        if len(twice):
            both = sorted(keys[n] for n in part_numbers[twice[0]:twice[0] + 2].tolist())
            raise IndexFolderError(f"{folder}: label {int(sorted_labels[twice[0]])} is in partitions {both[0]!r} and "
                                   f"{both[1]!r}; the index is corrupt, rebuild it.")
        if len(store) != manifest["count"]:
            raise IndexFolderError(f"{folder}: manifest says {manifest['count']} vectors, files hold "
                                   f"{len(store)}; rebuild the index.")
        return store

    def _load_partition(self, folder: Path, key: str, info: dict, memo: Optional[ChecksumMemo]) -> _Partition:
        where = f"{folder}: partition {key!r}"
        try:
            files, count, storage = info["files"], int(info["count"]), info["storage"]
            paths = {role: _checked_file(folder / DATA_DIR, files[role], memo, where) for role in files}
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFolderError(f"{where} has an invalid manifest entry ({exc}); rebuild the index.") from exc
        if "labels" not in paths or storage not in ("exact", "hnsw") or \
                ("vectors" if storage == "exact" else "hnsw") not in paths:
            raise IndexFolderError(f"{where} lists the wrong files for storage {storage!r}; rebuild the index.")
        labels = _load_npy(paths["labels"], where)
        if labels.dtype != np.int64 or labels.ndim != 1 or len(labels) != count:
            raise IndexFolderError(f"{where}: labels file does not hold {count} int64 labels; rebuild the index.")
        if len(np.unique(labels)) != len(labels):
            raise IndexFolderError(f"{where}: duplicate labels; rebuild the index.")
        part = _Partition(self.dim)
        if "vectors" in paths:
            vectors = _load_npy(paths["vectors"], where)
            if vectors.dtype != np.float32 or vectors.shape != (count, self.dim) or not np.isfinite(vectors).all():
                raise IndexFolderError(f"{where}: vectors file does not hold {count}×{self.dim} finite float32 "
                                       "values; rebuild the index.")
            part.labels, part.vectors, part.size = labels.copy(), vectors, len(labels)
            part.index_rows()
        if storage == "exact":
            return part
        graph = hnswlib.Index(space="cosine", dim=self.dim)
        try:
            # The manifest is not checksummed: a damaged capacity must not make hnswlib allocate terabytes.
            max_elements = max(min(int(info.get("max_elements") or 0), _MAX_GRAPH_CAPACITY), count)
            graph.load_index(str(paths["hnsw"]), max_elements=max_elements, allow_replace_deleted=True)
        except (RuntimeError, ValueError, MemoryError) as exc:
            raise IndexFolderError(f"{where}: the HNSW graph cannot be read ({exc}); rebuild the index.") from exc
        in_graph = _graph_labels(graph)
        if graph.dim != self.dim or graph.get_current_count() < count or not np.isin(labels, in_graph).all():
            raise IndexFolderError(f"{where}: the HNSW graph does not match the manifest; rebuild the index.")
        part.storage, part.graph = "hnsw", graph
        part.deleted_in_graph = np.setdiff1d(in_graph, labels)
        del in_graph
        if "vectors" in paths:  # saved with a float32 copy beside the graph (before the float16 copy)
            part.vectors = part.vectors[: part.size].astype(GRAPH_COPY_DTYPE)
        else:
            vectors = _graph_file_vectors(paths["hnsw"], graph, labels)
            if vectors is None:  # another hnswlib file layout: ask the graph (~30 µs per vector)
                vectors = _graph_vectors(graph, labels).astype(GRAPH_COPY_DTYPE)
            part.labels, part.vectors, part.size = labels.copy(), vectors, len(labels)
            part.index_rows()
        return part

    def check_extra(self, expected: dict, folder: str = "") -> None:
        """Raise IndexFolderError naming every key of `expected` (e.g. encoder ids) that differs."""
        diffs = [f"{k}: index has {self.extra.get(k)!r}, expected {v!r}" for k, v in expected.items()
                 if self.extra.get(k) != v]
        if diffs:
            raise IndexFolderError(f"The index {folder} was built with other settings ({'; '.join(diffs)}); "
                                   "rebuild it with `polaris index build`.")


# ---------------------------------------------------------------- file helpers

def _manifest_files(folder: Path) -> set[str]:
    """Names of the data files the folder's current manifest refers to (empty when there is none): each
    partition's files, or the label table of a store whose vectors live in Milvus (top-level `files`)."""
    try:
        manifest = read_manifest(folder)
        names = {str(info["name"]) for part in manifest["partitions"].values() if isinstance(part, dict)
                 for info in part["files"].values()}
        return names | {str(info["name"]) for info in (manifest.get("files") or {}).values()}
    except (IndexFolderError, KeyError, TypeError, AttributeError):
        return set()


def read_manifest(folder: str | os.PathLike) -> dict:
    """Parse and check `manifest.json` of a vector-store folder (format, version, fields)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise IndexFolderError(f"{folder} is not a vector-store folder (no {MANIFEST}); build it first.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IndexFolderError(f"{path} is unreadable or not JSON ({exc}); rebuild the index.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFolderError(f"{path} is not a Polaris vector-store manifest; rebuild the index.")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFolderError(f"{folder} uses vector-store format version {version!r}; this Polaris reads "
                               f"version {FORMAT_VERSION}. Rebuild the index with this version.")
    if manifest.get("space") != "cosine" or not isinstance(manifest.get("dim"), int) or \
            not isinstance(manifest.get("partitions"), dict) or not isinstance(manifest.get("count"), int):
        raise IndexFolderError(f"{path} is missing dim/space/partitions/count; rebuild the index.")
    return manifest


def _checked_file(data: Path, info: dict, memo: Optional[ChecksumMemo], where: str) -> Path:
    """The path of a manifest-listed file after its name, size and checksum are checked (`memo`: checksums
    already seen to pass at the file's current size and mtime are not recomputed; None: always hash)."""
    name = str(info["name"])
    if "/" in name or "\\" in name or name.startswith("."):
        raise IndexFolderError(f"{where}: file name {name!r} leaves the data folder; rebuild the index.")
    path = data / name
    if not path.is_file():
        raise IndexFolderError(f"{where}: {path} is missing; the index folder is incomplete, rebuild it.")
    if path.stat().st_size != int(info["bytes"]):
        raise IndexFolderError(f"{where}: {path.name} has the wrong size (truncated?); rebuild the index.")
    expected = str(info["sha256"])
    if not (memo.matches(path, expected) if memo is not None else sha256_file(path) == expected):
        raise IndexFolderError(f"{where}: {path.name} fails its sha256 checksum (corrupt); rebuild the index.")
    return path


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)


def _load_npy(path: Path, where: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, MemoryError) as exc:
        raise IndexFolderError(f"{where}: {path.name} is not a valid .npy file ({exc}); rebuild the index.") from exc
