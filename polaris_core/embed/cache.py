"""Embedding cache keyed by (encoder id, content hash of the text).

A rebuild or an incremental update re-embeds only texts whose hash is new for that encoder.
Vectors are stored as float16 (half the disk, cosine error ~1e-3) and every vector handed out,
cached or fresh, goes through the same float16 rounding, so results do not depend on what was
cached. SQLite (WAL) makes concurrent readers and a killed writer safe: what was committed stays.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from polaris_core.errors import ConfigError
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")

CACHE_ENV = "POLARIS_CACHE_DIR"
_SELECT_BATCH = 500
_COMMIT_EVERY = 2048


def _disk_full(exc: BaseException) -> bool:
    """A full disk, as the OS (ENOSPC, EDQUOT) or SQLite (SQLITE_FULL) reports it."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or (code is None and "disk is full" in str(exc))


def default_cache_dir() -> Path:
    """$POLARIS_CACHE_DIR, else ~/.cache/polaris."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "polaris"


def text_key(text: str) -> bytes:
    """Content hash of a text (16 bytes of sha256)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).digest()[:16]


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """The float16 round trip every vector goes through (cached or not), back as float32."""
    return np.asarray(vectors, dtype=np.float16).astype(np.float32)


class EmbeddingCache:
    """A persistent map (encoder id, text hash) -> vector in one SQLite file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (encoder TEXT NOT NULL, key BLOB NOT NULL, "
                "dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (encoder, key)) WITHOUT ROWID"
            )
            self._conn.commit()
        except (OSError, sqlite3.Error) as exc:
            if _disk_full(exc):
                raise self._full_error() from exc
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(
                f"Cannot open the embedding cache {self.path} ({reason}); choose a writable folder "
                f"with --cache or {CACHE_ENV}, or delete the damaged file."
            ) from exc
        self._lock = threading.Lock()

    def _full_error(self) -> ConfigError:
        return ConfigError(f"The disk holding the embedding cache ({self.path.parent}) is full; nothing is damaged. "
                           f"Free space on it, or choose a cache folder on another disk (--cache or {CACHE_ENV}), "
                           "and build again.")

    @classmethod
    def default(cls) -> "EmbeddingCache":
        return cls(default_cache_dir() / "embeddings.sqlite")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def get_many(self, encoder_id: str, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        """Cached vectors (float32) for those keys that are present with the right dimension."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), _SELECT_BATCH):
                batch = list(keys[start : start + _SELECT_BATCH])
                marks = ",".join("?" * len(batch))
                rows = self._conn.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE encoder = ? AND key IN ({marks})",
                    [encoder_id, *batch],
                ).fetchall()
                for key, row_dim, blob in rows:
                    if row_dim == dim and len(blob) == 2 * dim:
                        found[bytes(key)] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
        return found

    def put_many(self, encoder_id: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        half = np.asarray(vectors, dtype=np.float16)
        rows = [(encoder_id, key, half.shape[1], half[i].tobytes()) for i, key in enumerate(keys)]
        with self._lock:
            try:
                self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
                self._conn.commit()
            except (OSError, sqlite3.Error) as exc:
                if not _disk_full(exc):
                    raise
                self._conn.rollback()
                raise self._full_error() from exc

    def count(self, encoder_id: Optional[str] = None) -> int:
        with self._lock:
            if encoder_id is None:
                return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
            return int(
                self._conn.execute("SELECT COUNT(*) FROM vectors WHERE encoder = ?", (encoder_id,)).fetchone()[0]
            )


def embed_with_cache(
    texts: Sequence[str],
    encode: Callable[..., np.ndarray],
    encoder_id: str,
    dim: int,
    cache: Optional[EmbeddingCache] = None,
    on_step: OnStep | None = None,
    check_cancel: CheckCancel | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (float32, float16-rounded), embedding only texts the cache lacks.

    `encode(texts, on_step=, check_cancel=)` embeds a list. Returns (vectors, number embedded now).
    New vectors are committed to the cache in slices, so a cancelled or killed build keeps them.
    """
    on_step, check_cancel = resolve(on_step, check_cancel)
    keys = [text_key(t) for t in texts]
    unique: dict[bytes, str] = {}
    for key, text in zip(keys, texts):
        unique.setdefault(key, text)
    known = cache.get_many(encoder_id, list(unique), dim) if cache is not None else {}
    missing = [key for key in unique if key not in known]
    total = len(missing)
    done = 0
    for start in range(0, total, _COMMIT_EVERY):
        check_cancel()
        batch_keys = missing[start : start + _COMMIT_EVERY]

        def step(i: int, n: int, base: int = done) -> None:
            on_step(base + i, total)

        vectors = as_stored(encode([unique[k] for k in batch_keys], on_step=step, check_cancel=check_cancel))
        if cache is not None:
            cache.put_many(encoder_id, batch_keys, vectors)
        for key, vector in zip(batch_keys, vectors):
            known[key] = vector
        done += len(batch_keys)
    on_step(total, total)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        out[i] = known[key]
    return out, total
