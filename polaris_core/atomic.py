"""Atomic file writes and file checksums shared by the index, the vector store and the CLI.

Every write goes to a temporary file in the target's folder and is then renamed over the target
with `os.replace`, so a reader sees the old file or the new one, never half of one.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

_HASH_CHUNK = 8 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path: str | os.PathLike, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to disk; silently skipped where the OS cannot."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return  # directories cannot be opened for fsync on Windows
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], None], *, durable: bool = False) -> None:
    """Create `path` via `writer(tmp_path)` then `os.replace`. The parent folder is created if needed.
    `durable` also fsyncs the file and its folder (for index commit points). Raises OSError."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        if durable:
            fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(directory, directory=True)


def write_text_atomic(path: str | os.PathLike, text: str, *, durable: bool = False) -> None:
    """Write UTF-8 text to `path` atomically (see `write_atomic`)."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable=durable)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, durable: bool = True, indent: int | None = 1,
                      sort_keys: bool = True) -> None:
    """Write `obj` as JSON to `path` atomically; durable by default (manifests are commit points)."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
    write_text_atomic(path, text, durable=durable)


def write_content_addressed(folder: str | os.PathLike, stem: str, suffix: str,
                            writer: Callable[[Path], None]) -> dict:
    """Write via `writer(tmp_path)`, fsync, then rename to `<stem>-<sha256[:16]><suffix>` in `folder`.

    Returns `{"name", "sha256", "bytes"}` for a manifest. Raises OSError.
    """
    folder = Path(folder)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}-", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        fsync_path(tmp)
        digest = sha256_file(tmp)
        final = folder / f"{stem}-{digest[:16]}{suffix}"
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(folder, directory=True)
    return {"name": final.name, "sha256": digest, "bytes": final.stat().st_size}
