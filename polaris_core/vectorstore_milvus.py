"""A vector store whose vectors live in Milvus: Milvus Lite (a local `.db`) or a Milvus server/cluster.

Optional (`pip install 'polaris[milvus]'`); the hnswlib `VectorStore` stays the default. This class
offers the methods `ZooIndex` calls on a store (add, delete, search over partitions, get_vectors,
labels, counts, save, load), so an index behaves the same on either backend.

- One Milvus collection per index build: fields `label` (INT64 primary key), `partition`
  (VARCHAR, the "kind/family/role" key, filtered on) and `vector` (FLOAT_VECTOR, unit length,
  inner product = cosine), with an HNSW index (M=16, efConstruction=200, ef per search from
  `auto_ef`, as the default store).
- The index folder keeps the label table (which labels the saved index holds, in which
  partition) in checksummed files next to `vectorstore.json`, whose manifest names the backend,
  the URI and the collection. Searches drop any label the table does not hold, so vectors another
  process added but has not committed yet never reach this one.
- Adds go to Milvus at once; deletes wait until `save` has committed the manifest. A crash
  therefore leaves at most unreferenced vectors in the collection (ignored, overwritten by the next
  add of the same label), never a saved index whose vectors are missing.
- Every call has a timeout: connecting, searching and reading `POLARIS_MILVUS_TIMEOUT` seconds (default
  10), writing (inserts, flush, creating a collection) `POLARIS_MILVUS_WRITE_TIMEOUT` (default 300: a
  busy Milvus Lite builds segment indexes inside inserts, measured at over 60 s on a loaded 2-CPU
  machine). An unreachable or refusing Milvus raises VectorServiceError naming the URI; nothing waits
  forever.
- Milvus Lite lets one process open a `.db` at a time (it holds a file lock). A second process gets
  a VectorServiceError that says how to share it: serve the file with `milvus-lite server`.
- A token for a secured server is read from `POLARIS_MILVUS_TOKEN` and sent only to the server named by
  `POLARIS_MILVUS_TOKEN_URI` (an index or a sidebar build naming another host gets no token); it is
  never written to the manifest.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from polaris_core.atomic import ChecksumMemo, remove_stale, write_content_addressed, write_json_atomic
from polaris_core.errors import ConfigError, IndexFolderError, VectorError, VectorServiceError
from polaris_core.vectorstore import (DATA_DIR, MANIFEST, OWN_DATA_FILE, VectorStore, _checked_file, _load_npy,
                                      _manifest_files, _normalise, _save_npy, auto_ef)

log = logging.getLogger("polaris")

FORMAT_NAME = "polaris-vectorstore-milvus"
FORMAT_VERSION = 1
BACKEND = "milvus"
TIMEOUT_ENV = "POLARIS_MILVUS_TIMEOUT"
WRITE_TIMEOUT_ENV = "POLARIS_MILVUS_WRITE_TIMEOUT"
TOKEN_ENV = "POLARIS_MILVUS_TOKEN"
TOKEN_URI_ENV = "POLARIS_MILVUS_TOKEN_URI"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_WRITE_TIMEOUT_S = 300.0
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 200
_BATCH = 2000            # rows per insert/get call (~3 MB at dim 384, far under gRPC's 64 MB)
_MAX_LIMIT = 16384       # Milvus's largest top-k
_MAX_EF = 4096
_COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


def milvus_timeout(name: str = TIMEOUT_ENV, default: float = DEFAULT_TIMEOUT_S) -> float:
    """Seconds one Milvus call may take: `POLARIS_MILVUS_TIMEOUT` (default 10) for connecting, searching
    and reading; `POLARIS_MILVUS_WRITE_TIMEOUT` (default 300) for writes."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value <= 3600):
        raise ConfigError(f"{name}={raw!r} is not a number of seconds in (0, 3600]; unset it or fix it.")
    return value


def is_lite_uri(uri: str) -> bool:
    return uri.endswith(".db")


def check_uri(uri) -> str:
    """The URI if it is one pymilvus can open (a `.db` path or http(s)/tcp/unix address), else ConfigError."""
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError("The Milvus URI is empty; give a Milvus Lite file (zoo.db) or a server URI "
                          "(http://host:19530).")
    uri = uri.strip()
    if not (is_lite_uri(uri) or re.match(r"^(?:https?|tcp|unix)://?\S+$", uri)):
        raise ConfigError(f"{uri!r} is not a Milvus URI: give a Milvus Lite file ending in .db, or "
                          "http://host:19530 for a Milvus server.")
    return uri


def _pymilvus():
    try:
        import pymilvus
    except ImportError as exc:
        raise ConfigError("The Milvus backend needs pymilvus (and milvus-lite for .db files): "
                          "pip install 'polaris[milvus]'.") from exc
    return pymilvus


def _lite_locked_elsewhere(path: Path) -> bool:
    """True when another process holds Milvus Lite's lock on the `.db` data folder."""
    lock = path / "LOCK"
    if not lock.is_file():
        return False
    try:
        import fcntl
    except ImportError:  # Windows: cannot tell; the caller's message names the possibility
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def connect(uri: str, *, timeout: Optional[float] = None):
    """A MilvusClient for `uri`, or VectorServiceError within `timeout` seconds naming the URI."""
    uri = check_uri(uri)
    timeout = milvus_timeout() if timeout is None else float(timeout)
    pymilvus = _pymilvus()
    if is_lite_uri(uri):
        path = Path(uri).expanduser()
        if not path.parent.is_dir():
            raise VectorServiceError(f"The Milvus Lite file {uri} cannot be created: its folder {path.parent} "
                                     "does not exist. Create the folder or give another path.")
        uri = str(path)
        logging.getLogger("milvus_lite").setLevel(max(logging.WARNING, logging.getLogger("milvus_lite").level))
    try:
        return pymilvus.MilvusClient(uri=uri, token=token_for(uri), timeout=timeout)
    except ImportError as exc:
        raise ConfigError("Milvus Lite files (.db) need the milvus-lite package: pip install 'polaris[milvus]', "
                          "or give a Milvus server URI (http://host:19530).") from exc
    except Exception as exc:  # pymilvus raises MilvusException and its own subclasses of it
        if is_lite_uri(uri) and _lite_locked_elsewhere(Path(uri).resolve()):
            raise _lite_busy(uri) from exc
        raise VectorServiceError(
            f"Cannot open Milvus at {uri} within {timeout:g} s ({_reason(exc)}). Check that the server is "
            f"running and the URI is right (host and gRPC port, default 19530); set {TIMEOUT_ENV} to wait "
            "longer.") from exc


def _server_of(uri: str) -> tuple[str, str, int]:
    from urllib.parse import urlparse

    parsed = urlparse(uri)
    scheme = (parsed.scheme or "").lower()
    return scheme, (parsed.hostname or "").lower(), parsed.port or (443 if scheme == "https" else 19530)


def token_for(uri: str) -> str:
    """The operator's token, only for the server they named with it (same scheme, host and port)."""
    token, allowed = os.environ.get(TOKEN_ENV, ""), os.environ.get(TOKEN_URI_ENV, "").strip()
    if not token or is_lite_uri(uri):
        return ""
    if not allowed:
        log.warning("%s is set without %s, so it is sent to no Milvus; set %s to the server's URI.",
                    TOKEN_ENV, TOKEN_URI_ENV, TOKEN_URI_ENV)
        return ""
    return token if _server_of(uri) == _server_of(allowed) else ""


def _lite_busy(uri: str) -> VectorServiceError:
    return VectorServiceError(
        f"The Milvus Lite file {uri} is open in another process, and Milvus Lite lets only one process open "
        f"a .db file. To share it between processes, serve it: `milvus-lite server --data-dir {uri} --port "
        "19530`, and give every process the URI http://127.0.0.1:19530 instead of the file.")


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())[:300]


def _drop_unimplemented(record: logging.LogRecord) -> bool:
    """Milvus Lite's in-process server lacks AllocTimestamp, which pymilvus tries (and does without) while
    waiting for an index; its traceback would otherwise land in every ComfyUI console."""
    return "Method not implemented" not in record.getMessage()


def new_collection_name(hint: str = "") -> str:
    """A fresh collection name: `polaris_<hint>_<time>_<random>` (letters, digits, underscores)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", hint).strip("_")[:60] or "zoo"
    return f"polaris_{slug}_{time.strftime('%Y%m%d%H%M%S', time.gmtime())}_{uuid.uuid4().hex[:8]}"


class MilvusVectorStore:
    """Partitioned cosine vector store on a Milvus collection (see the module docstring)."""

    # Same input checks and metadata check as the default store (plain functions of self.dim / self.extra).
    _check_labels = VectorStore._check_labels
    _check_vectors = VectorStore._check_vectors
    _checked_upsert = VectorStore._checked_upsert
    check_extra = VectorStore.check_extra

    def __init__(self, dim: int, uri: str, collection: str, *, extra: Optional[dict] = None,
                 timeout: Optional[float] = None, client=None) -> None:
        if not isinstance(dim, (int, np.integer)) or not 1 <= int(dim) <= 32768:
            raise VectorError(f"Vector dimension must be an integer in 1..32768 for Milvus, got {dim!r}.")
        if not isinstance(collection, str) or not _COLLECTION_NAME.match(collection):
            raise ConfigError(f"{collection!r} is not a Milvus collection name (letters, digits and underscores, "
                              "not starting with a digit).")
        self.dim = int(dim)
        self.space = "cosine"
        self.uri = check_uri(uri)
        self.collection = collection
        self.extra: dict = dict(extra or {})
        self.timeout = milvus_timeout() if timeout is None else float(timeout)
        self.write_timeout = max(self.timeout, milvus_timeout(WRITE_TIMEOUT_ENV, DEFAULT_WRITE_TIMEOUT_S))
        self._client = client
        self._where: dict[int, str] = {}
        self._counts: dict[str, int] = {}
        self._pending_deletes: set[int] = set()
        self._table: Optional[tuple] = None

    # ------------------------------------------------------------ connection
    @property
    def client(self):
        if self._client is None:
            self._client = connect(self.uri, timeout=self.timeout)
        return self._client

    def _call(self, what: str, fn, *args, write: bool = False, **kwargs):
        """Run one pymilvus call with the read or write timeout; its errors become VectorServiceError naming
        the URI."""
        timeout = self.write_timeout if write else self.timeout
        try:
            return fn(*args, timeout=timeout, **kwargs)
        except (ConfigError, VectorServiceError):
            raise
        except Exception as exc:
            raise VectorServiceError(
                f"Milvus at {self.uri} failed to {what} (collection {self.collection}, timeout {timeout:g} s): "
                f"{_reason(exc)}. Check that the server is running and reachable; set "
                f"{WRITE_TIMEOUT_ENV if write else TIMEOUT_ENV} to wait longer.") from exc

    @classmethod
    def create(cls, dim: int, uri: str, collection: Optional[str] = None, *, extra: Optional[dict] = None,
               timeout: Optional[float] = None) -> "MilvusVectorStore":
        """A new, empty collection at `uri` (a fresh name unless `collection` is given; an existing
        collection of that name is refused, never overwritten)."""
        store = cls(dim, uri, collection or new_collection_name(), extra=extra, timeout=timeout)
        client = store.client
        if store._call("list collections", client.has_collection, store.collection):
            raise VectorServiceError(f"Milvus at {uri} already has a collection {store.collection}; nothing was "
                                     "changed. Choose another collection name.")
        pymilvus = _pymilvus()
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False,
                                      description=f"Polaris zoo index chunk vectors (dim {store.dim})")
        schema.add_field("label", pymilvus.DataType.INT64, is_primary=True)
        schema.add_field("partition", pymilvus.DataType.VARCHAR, max_length=200)
        schema.add_field("vector", pymilvus.DataType.FLOAT_VECTOR, dim=store.dim)
        index_params = client.prepare_index_params()
        index_params.add_index("vector", index_type="HNSW", metric_type="IP",
                               params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        grpc_log = logging.getLogger("grpc._server")
        grpc_log.addFilter(_drop_unimplemented)
        try:
            store._call("create a collection", client.create_collection, store.collection, schema=schema,
                        index_params=index_params, consistency_level="Strong", write=True)
        finally:
            grpc_log.removeFilter(_drop_unimplemented)
        return store

    def drop(self) -> None:
        """Remove this store's collection from Milvus (used to undo a failed build or export)."""
        self._call("drop a collection", self.client.drop_collection, self.collection, write=True)

    # ------------------------------------------------------------ inspection
    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, label) -> bool:
        return int(label) in self._where

    def partitions(self) -> list[str]:
        return sorted(k for k, n in self._counts.items() if n)

    def count(self, partition: str) -> int:
        return self._counts.get(partition, 0)

    def storage(self, partition: str) -> str:
        return BACKEND if self.count(partition) else ""

    def partition_of(self, label: int) -> Optional[str]:
        return self._where.get(int(label))

    def labels(self, partition: str) -> np.ndarray:
        return np.array(sorted(lab for lab, key in self._where.items() if key == partition), dtype=np.int64)

    def _label_table(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(partition keys, all labels sorted, partition number of each, position of each): the shape
        `VectorStore._label_table` has, which `ZooIndex` reads to check an index on load."""
        if self._table is None:
            keys = self.partitions()
            number = {key: i for i, key in enumerate(keys)}
            labels = np.fromiter(self._where.keys(), dtype=np.int64, count=len(self._where))
            codes = np.fromiter((number[k] for k in self._where.values()), dtype=np.int32, count=len(self._where))
            order = np.argsort(labels, kind="stable")
            self._table = (keys, labels[order], codes[order], np.arange(len(labels), dtype=np.int64))
        return self._table

    def get_vectors(self, labels: Iterable[int]) -> np.ndarray:
        """Stored (unit-length) vectors for `labels`, in order, fetched from Milvus."""
        labels = self._check_labels(labels)
        out = np.empty((len(labels), self.dim), dtype=np.float32)
        for lab in labels.tolist():
            if lab not in self._where:
                raise VectorError(f"Label {lab} is not in the vector store.")
        wanted = list(dict.fromkeys(labels.tolist()))
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(wanted), _BATCH):
            rows = self._call("fetch vectors", self.client.get, self.collection, ids=wanted[start:start + _BATCH],
                              output_fields=["vector"])
            for row in rows:
                found[int(row["label"])] = np.asarray(row["vector"], dtype=np.float32)
        missing = [lab for lab in wanted if lab not in found]
        if missing:
            raise VectorServiceError(f"Milvus at {self.uri} lacks {len(missing)} vectors of this index (collection "
                                     f"{self.collection}, e.g. label {missing[0]}): another process changed or "
                                     "dropped it. Reload the index; if it persists, rebuild or export it again.")
        for i, lab in enumerate(labels.tolist()):
            out[i] = found[lab]
        return out

    # ------------------------------------------------------------ updates
    def add(self, partition: str, labels, vectors) -> None:
        """Insert or update vectors (upsert), written to Milvus now; a label stored elsewhere moves."""
        labels, vectors = self._checked_upsert(partition, labels, vectors)
        if not len(labels):
            return
        for start in range(0, len(labels), _BATCH):
            rows = [{"label": int(lab), "partition": partition, "vector": vec}
                    for lab, vec in zip(labels[start:start + _BATCH].tolist(), vectors[start:start + _BATCH].tolist())]
            self._call("store vectors", self.client.upsert, self.collection, rows, write=True)
        for lab in labels.tolist():
            old = self._where.get(lab)
            if old is not None:
                self._counts[old] -= 1
            self._where[lab] = partition
            self._counts[partition] = self._counts.get(partition, 0) + 1
            self._pending_deletes.discard(lab)
        self._table = None

    def delete(self, labels) -> int:
        """Forget labels now; their vectors leave Milvus when `save` has committed the index without them."""
        labels = self._check_labels(labels)
        removed = 0
        for lab in dict.fromkeys(labels.tolist()):
            key = self._where.pop(lab, None)
            if key is None:
                continue
            self._counts[key] -= 1
            self._pending_deletes.add(lab)
            removed += 1
        self._table = None
        return removed

    # ------------------------------------------------------------ search
    def search(self, query, k: int, partitions: Optional[Iterable[str]] = None,
               *, ef: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine across `partitions` (all when None), as `VectorStore.search` returns it."""
        single = np.asarray(query).ndim == 1
        queries = _normalise(self._check_vectors(query))
        k = int(k)
        if k < 1:
            raise VectorError(f"k must be ≥ 1, got {k}.")
        everything = self.partitions()
        keys = everything if partitions is None else [p for p in dict.fromkeys(partitions) if self.count(p)]
        total = sum(self.count(p) for p in keys)
        want = min(k, total)
        if not want:
            empty = np.empty((len(queries), 0))
            scores, labels = empty.astype(np.float32), empty.astype(np.int64)
            return (scores[0], labels[0]) if single else (scores, labels)
        allowed = set(keys)
        options = {}
        if len(keys) < len(everything):
            # A literal list: Milvus Lite does not take filter templates; JSON strings are valid literals.
            options = {"filter": f"partition in [{', '.join(json.dumps(key, ensure_ascii=False) for key in keys)}]"}
        # One HNSW graph per segment holds every partition, and a partition filter leaves the graph walk
        # fewer usable nodes: widen ef by the share filtered out, so recall matches the default store's
        # per-partition graphs.
        ef_now = int(ef) if ef else min(_MAX_EF, int(auto_ef(len(self)) * len(self) / max(total, 1)))
        limit = want
        while True:
            limit = min(limit, _MAX_LIMIT)
            # ef ≥ 2·k: at ef = k (hnswlib's floor) the segment graph found 0.93 of the exact top 200 of
            # the catalog's LoRA chunks, at 2·k 0.994 (the default store: 0.984); latency barely moved.
            wide = max(ef_now, limit) if ef else max(limit, min(_MAX_EF, max(ef_now, 2 * limit)))
            params = {"metric_type": "IP", "params": {"ef": wide}}
            hits = self._call("search", self.client.search, self.collection, data=queries.tolist(), limit=limit,
                              anns_field="vector", search_params=params, output_fields=[], **options)
            rows = [[(float(h["distance"]), int(h["label"] if "label" in h else h["id"])) for h in hit_list]
                    for hit_list in hits]
            # Vectors this process's index does not hold (added by another, not yet committed) are dropped.
            kept = [[(s, lab) for s, lab in row if self._where.get(lab) in allowed] for row in rows]
            short = any(len(row) < want for row in kept) and any(len(row) >= limit for row in rows)
            if not short or limit >= _MAX_LIMIT:
                break
            limit *= 4
        n = min(min(len(row) for row in kept), want)
        scores = np.array([[s for s, _ in row[:n]] for row in kept], dtype=np.float32).reshape(len(kept), n)
        labels = np.array([[lab for _, lab in row[:n]] for row in kept], dtype=np.int64).reshape(len(kept), n)
        return (scores[0], labels[0]) if single else (scores, labels)

    # ------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike, *, label: Optional[str] = None) -> None:
        """Flush Milvus, write the label table and commit the manifest atomically; then remove only the files
        the replaced manifest named, apply deletes and drop the collection a previous build in this folder used
        (same URI), if it differs. `label` names the folder in messages."""
        folder = Path(folder)
        shown = label or str(folder)
        data = folder / DATA_DIR
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexFolderError(f"Cannot create index folder {shown}: {exc}. Choose a writable folder.") from exc
        previous = _previous_collection(folder)
        previous_files = _manifest_files(folder)
        self._call("flush", self.client.flush, self.collection, write=True)
        keys, labels, codes, _ = self._label_table()
        try:
            files = {
                "labels": write_content_addressed(data, "milvus-labels", ".npy", lambda p: _save_npy(p, labels)),
                "partitions": write_content_addressed(data, "milvus-partitions", ".npy",
                                                      lambda p: _save_npy(p, codes)),
            }
            manifest = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "backend": BACKEND,
                "uri": self.uri,
                "collection": self.collection,
                "dim": self.dim,
                "space": self.space,
                "count": len(self),
                "partitions": {key: self.count(key) for key in keys},
                "files": files,
                "hnsw": {"M": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": 0},
                "extra": self.extra,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "versions": {"numpy": np.__version__, "pymilvus": getattr(_pymilvus(), "__version__", "")},
            }
            write_json_atomic(folder / MANIFEST, manifest)  # the commit point
        except OSError as exc:
            raise IndexFolderError(f"Saving the vector store to {shown} failed ({exc}); the previous "
                                   "version, if any, is still intact. Free disk space and retry.") from exc
        remove_stale(data, OWN_DATA_FILE, superseded=previous_files, keep={info["name"] for info in files.values()})
        self._apply_deletes()
        if previous and previous != (self.uri, self.collection) and previous[0] == self.uri:
            try:
                self._call("drop the previous build's collection", self.client.drop_collection, previous[1])
            except VectorServiceError as exc:
                log.warning("could not drop the replaced collection %s: %s", previous[1], exc)

    def _apply_deletes(self) -> None:
        pending = sorted(self._pending_deletes)
        try:
            for start in range(0, len(pending), _BATCH):
                self._call("delete vectors", self.client.delete, self.collection, ids=pending[start:start + _BATCH],
                           write=True)
                self._pending_deletes.difference_update(pending[start:start + _BATCH])
        except VectorServiceError as exc:  # harmless: unreferenced vectors are never returned; retried next save
            log.warning("%d removed vectors stay in Milvus until the next save: %s", len(self._pending_deletes), exc)

    @classmethod
    def load(cls, folder: str | os.PathLike, *, dim: Optional[int] = None, verify: bool = True,
             memo: Optional[ChecksumMemo] = None, timeout: Optional[float] = None) -> "MilvusVectorStore":
        """Load the label table from `folder` and open its collection (checked to exist with this dimension)."""
        folder = Path(folder)
        manifest = read_milvus_manifest(folder)
        if not verify and memo is None:
            memo = ChecksumMemo(None)
        where = f"{folder}: Milvus label table"
        if dim is not None and manifest["dim"] != dim:
            raise IndexFolderError(f"{folder} holds {manifest['dim']}-d vectors but {dim}-d were expected; "
                                   "the encoder changed, so rebuild the index.")
        try:
            store = cls(int(manifest["dim"]), str(manifest["uri"]), str(manifest["collection"]),
                        extra=manifest.get("extra") or {}, timeout=timeout)
            paths = {role: _checked_file(folder / DATA_DIR, manifest["files"][role], None if verify else memo, where)
                     for role in ("labels", "partitions")}
            keys = list(manifest["partitions"])
        except (KeyError, TypeError, ValueError, VectorError) as exc:
            raise IndexFolderError(f"{folder / MANIFEST} is incomplete ({exc}); rebuild the index.") from exc
        labels, codes = _load_npy(paths["labels"], where), _load_npy(paths["partitions"], where)
        count = int(manifest["count"])
        if labels.dtype != np.int64 or labels.shape != (count,) or codes.dtype != np.int32 or \
                codes.shape != (count,) or (count and (codes.min() < 0 or codes.max() >= len(keys))) or \
                (count and not bool(np.all(np.diff(labels) > 0))):
            raise IndexFolderError(f"{where} does not hold {count} ascending labels with valid partitions; "
                                   "rebuild the index.")
        store._where = dict(zip(labels.tolist(), (keys[c] for c in codes.tolist())))
        store._counts = {key: int(n) for key, n in zip(keys, np.bincount(codes, minlength=len(keys)).tolist())}
        if store._counts != {key: int(n) for key, n in manifest["partitions"].items()}:
            raise IndexFolderError(f"{where}: partition counts differ from the manifest; rebuild the index.")
        store._check_collection()
        return store

    def _check_collection(self) -> None:
        client = self.client
        if not self._call("list collections", client.has_collection, self.collection):
            raise VectorServiceError(f"Milvus at {self.uri} has no collection {self.collection}, which this index "
                                     "uses (dropped, or another server?). Rebuild the index with `polaris index "
                                     "build --milvus URI`, or export a local index there with `polaris index export`.")
        info = self._call("describe the collection", client.describe_collection, self.collection)
        dims = [int((f.get("params") or {}).get("dim", 0)) for f in info.get("fields", []) if f.get("name") == "vector"]
        if dims != [self.dim]:
            raise VectorServiceError(f"The collection {self.collection} at {self.uri} does not hold {self.dim}-d "
                                     "vectors; it is not this index's. Rebuild or export the index again.")
        self._call("load the collection", client.load_collection, self.collection, write=True)  # slow when big


def _previous_collection(folder: Path) -> Optional[tuple[str, str]]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME:
        return str(manifest.get("uri")), str(manifest.get("collection"))
    return None


def is_milvus_folder(folder: str | os.PathLike) -> bool:
    """True when the vector-store manifest in `folder` names the Milvus backend."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME


def read_milvus_manifest(folder: str | os.PathLike) -> dict:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IndexFolderError(f"{path} is unreadable or not JSON ({exc}); rebuild the index.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise IndexFolderError(f"{path} is not a Polaris Milvus vector-store manifest; rebuild the index.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFolderError(f"{folder} uses Milvus store format version {manifest.get('format_version')!r}; this "
                               f"Polaris reads version {FORMAT_VERSION}. Rebuild the index with this version.")
    if not isinstance(manifest.get("dim"), int) or not isinstance(manifest.get("count"), int) or \
            not isinstance(manifest.get("partitions"), dict) or not isinstance(manifest.get("files"), dict):
        raise IndexFolderError(f"{path} is missing dim/count/partitions/files; rebuild the index.")
    return manifest


def copy_to_milvus(source, uri: str, collection: Optional[str] = None, *, on_step=None,
                   check_cancel=None) -> MilvusVectorStore:
    """A new collection at `uri` holding every vector of `source` (a VectorStore or MilvusVectorStore), in
    the same partitions under the same labels. `source` is only read; if anything fails, the new
    collection is dropped and the error raised."""
    target = MilvusVectorStore.create(source.dim, uri, collection, extra=dict(source.extra))
    try:
        keys = source.partitions()
        total, done = len(source), 0
        for key in keys:
            labels = source.labels(key)
            for start in range(0, len(labels), _BATCH * 5):
                if check_cancel is not None:
                    check_cancel()
                batch = labels[start:start + _BATCH * 5]
                # float32 as searched (an hnswlib store's get_vectors reads its float16 copy)
                target.add(key, batch, getattr(source, "exact_vectors", source.get_vectors)(batch))
                done += len(batch)
                if on_step is not None:
                    on_step(done, total)
        if len(target) != len(source):
            raise VectorServiceError(f"Exporting to {uri} copied {len(target)} of {len(source)} vectors; "
                                     "the export was undone.")
    except BaseException:
        try:
            target.drop()
        except Exception as exc:  # report the original failure; the orphan collection is named in the log
            log.warning("could not drop the half-written collection %s at %s: %s", target.collection, uri, exc)
        raise
    return target
