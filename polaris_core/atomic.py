"""Atomic file writes and file checksums shared by the index, the vector store and the CLI.

Every write goes to a temporary file in the target's folder and is then renamed over the target
with `os.replace`, so a reader sees the old file or the new one, never half of one.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

_HASH_CHUNK = 8 << 20
# A file of ours that no manifest names is removed only once it is this old: a younger one may belong to
# a save that has not committed yet (killed saves leave such files; a running one is still writing them).
ORPHAN_AGE_S = 3600.0

log = logging.getLogger("polaris")


def is_disk_full(exc: BaseException) -> bool:
    """True for the errors a full disk (or an exhausted quota) raises."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def os_reason(exc: OSError) -> str:
    """What went wrong, without the file path an OSError's text carries (messages may reach a browser)."""
    return exc.strerror or type(exc).__name__


def save_failure(exc: OSError, shown: str, saving: str, previous: str) -> str:
    """The message for a save (of `saving`, into the index folder `shown`) that failed with `exc`; a full disk is
    said as such. Either way `previous` stands: saves commit by an atomic manifest write."""
    if is_disk_full(exc):
        return (f"The disk holding the index folder {shown} is full; the previous index, if any, is still intact. "
                "Free space on that disk and build again.")
    return (f"Saving {saving} to {shown} failed ({os_reason(exc)}); the previous {previous}, if any, is still intact. "
            "Free disk space and retry.")


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


# Names `write_content_addressed` and `write_atomic` give their files (and their temporary files).
# Cleanup only ever removes files whose names match these, so a file a user put in an index folder
# is never deleted.
_TEMP_NAME = re.compile(r"^\.[A-Za-z0-9_.\-]+\.tmp$")


def content_addressed_pattern(stems: str, suffixes: str) -> re.Pattern:
    """A regex matching `<stem>-<sha256[:16]><suffix>` for the alternatives `stems` and `suffixes`."""
    return re.compile(rf"^(?:{stems})-[0-9a-f]{{16}}(?:{suffixes})$")


def is_temp_file(name: str) -> bool:
    """True for the name of a temporary file `write_atomic` or `write_content_addressed` left behind."""
    return bool(_TEMP_NAME.match(name))


def is_own_file(name: str, pattern: re.Pattern) -> bool:
    """True for a file name this module wrote under `pattern`, or one of its temporary files."""
    return bool(pattern.match(name)) or is_temp_file(name)


def remove_stale(folder: str | os.PathLike, pattern: re.Pattern, *, superseded: set[str], keep: set[str],
                 now: float | None = None) -> None:
    """After a commit: remove the files of `folder` that the replaced manifest named (`superseded`) and the
    new one does not (`keep`), plus files of ours no manifest names that are older than ORPHAN_AGE_S.

    Never a file matching neither `pattern` nor our temporary names, and never a young unnamed file: it may
    be another save's, not committed yet.
    """
    now = time.time() if now is None else now
    try:
        paths = list(Path(folder).iterdir())
    except OSError as exc:
        log.debug("could not list %s for cleanup: %s", folder, exc)
        return
    for path in paths:
        name = path.name
        if name in keep or not is_own_file(name, pattern):
            continue
        try:
            if not path.is_file() or path.is_symlink():
                continue
            if name not in superseded and now - path.stat().st_mtime < ORPHAN_AGE_S:
                continue
            path.unlink()
        except OSError as exc:  # e.g. still open on Windows: harmless, removed by a later save
            log.debug("could not remove stale %s: %s", path, exc)


def remove_written(folder: str | os.PathLike, written: list[str], *, keep: set[str]) -> None:
    """Undo a failed save: remove the files it wrote (`written`) unless the current manifest names them."""
    for name in written:
        if name not in keep:
            try:
                (Path(folder) / name).unlink(missing_ok=True)
            except OSError as exc:
                log.debug("could not remove %s after a failed save: %s", name, exc)


class ChecksumMemo:
    """sha256 checks remembered per file by (size, mtime_ns): a file is hashed again only after it changes.

    Lets every load verify checksums without hashing hundreds of MB on every `polaris search`.
    The memo lives in a JSON file (in the user's cache folder); a memo that cannot be read or
    written only costs time, never correctness.
    """

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else None
        self.records: dict[str, list] = {}
        self.changed = False
        if self.path and self.path.is_file():
            try:
                records = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(records, dict):
                    self.records = records
            except (OSError, UnicodeDecodeError, ValueError):
                self.records = {}

    def matches(self, path: str | os.PathLike, expected: str) -> bool:
        """Does `path` hash to `expected`? Skips the hashing when it did so at its current size and mtime."""
        path = Path(path)
        st = path.stat()
        key = str(path.resolve())
        stamp = [st.st_size, st.st_mtime_ns, expected]
        if self.records.get(key) == stamp:
            return True
        if sha256_file(path) != expected:
            return False
        self.records[key] = stamp
        self.changed = True
        return True

    def save(self) -> None:
        if not (self.path and self.changed):
            return
        live = {k: v for k, v in self.records.items() if os.path.exists(k)}
        try:
            write_json_atomic(self.path, live, durable=False, indent=None)
            self.changed = False
        except OSError:
            pass  # a read-only cache folder: the next load hashes again
