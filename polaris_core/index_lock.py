"""One writer per index folder, across processes and threads: an exclusive lock held for a whole build.

The lock is an OS file lock (`flock` on POSIX, `msvcrt.locking` on Windows) on `.polaris-build.lock` inside
the index folder. The OS drops it when its holder exits or is killed, so a crashed build never leaves a
folder locked. The file also records who holds it (process, host, start time, what kind of build), so
a refused build can say whom it waits for. `flock` locks belong to an open file, so two threads of one
process exclude each other too (a sidebar build beside a Build Zoo Index node in the same ComfyUI).
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from polaris_core.errors import IndexFolderError

log = logging.getLogger("polaris")

LOCK_FILE = ".polaris-build.lock"
_WINDOWS_LOCK_OFFSET = 1 << 30  # msvcrt locks a byte range; lock one far past the holder record so it stays readable


class IndexBusyError(IndexFolderError):
    """Another build holds the index folder's lock."""


# Folders this process holds, with the thread holding each: `ZooIndex.save` inside a locked build re-enters.
_held: dict[str, int] = {}
_held_guard = threading.Lock()


def _try_lock(fd: int) -> bool:
    """Take the OS lock on `fd` without waiting; False when another open file holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            # A file system without locks (some network shares): build unlocked; cleanup still removes only
            # what a commit superseded (see `atomic.remove_stale`), so a concurrent build loses no files.
            log.warning("index folders here cannot be locked (%s); do not run two builds of one index at once",
                        exc.strerror)
            return True
        raise
    return True


def read_holder(folder: str | os.PathLike) -> Optional[dict]:
    """Who holds (or last held) the folder's lock, as recorded in the lock file; None if unreadable."""
    try:
        with open(Path(folder) / LOCK_FILE, "rb") as fh:
            data = json.loads(fh.read(4096).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def describe_holder(holder: Optional[dict]) -> str:
    """'a Build Zoo Index (Polaris) node (process 123 on host, started 2026-01-01 10:00:00 UTC)'."""
    if not holder:
        return "another build"
    what = str(holder.get("what") or "another build")[:200]
    started = holder.get("started_at")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)) if isinstance(started, (int, float)) else "?"
    return f"{what} (process {holder.get('pid', '?')} on {str(holder.get('host', '?'))[:100]}, started {when})"


@contextlib.contextmanager
def index_lock(folder: str | os.PathLike, what: str, *, label: Optional[str] = None,
               wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive build lock of `folder` (created if missing) for the `with` block.

    `what` says in the user's terms what kind of build this is ("`polaris index build`", "the Zoo sidebar's
    Indexes panel", ...); a refused build names it. `label` names the folder in messages (default: its
    path). `wait` seconds are spent retrying before IndexBusyError. Re-entering in the same thread is a
    no-op; another thread of this process is refused like another process.
    """
    folder = Path(folder)
    shown = label or str(folder)
    key = os.path.abspath(folder)
    me = threading.get_ident()
    with _held_guard:
        if _held.get(key) == me:
            reentered = True
        else:
            reentered = False
    if reentered:
        yield
        return
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = _open_locked(folder, what, shown, wait)
    except OSError as exc:
        raise IndexFolderError(f"Cannot lock the index folder {shown} ({exc.strerror or type(exc).__name__}); "
                               "choose a writable folder.") from exc
    with _held_guard:
        _held[key] = me
    try:
        yield
    finally:
        with _held_guard:
            _held.pop(key, None)
        _release(folder, fd, created)


def _open_locked(folder: Path, what: str, shown: str, wait: float) -> int:
    path = folder / LOCK_FILE
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # a build that had created the folder removed it as it ended
            folder.mkdir(parents=True, exist_ok=True)
            continue
        if _try_lock(fd):
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                _write_holder(fd, what)
                return fd
            os.close(fd)  # the holder removed the file as we opened it: lock the new one
            continue
        os.close(fd)
        if time.monotonic() >= deadline:
            raise IndexBusyError(
                f"The index folder {shown} is being built by {describe_holder(read_holder(folder))}. Only one "
                "build may write an index at a time: wait for that build to finish (or cancel it), then run "
                "this one again. Nothing was changed.")
        time.sleep(0.1)


def _write_holder(fd: int, what: str) -> None:
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time(), "what": what}
    data = json.dumps(record, ensure_ascii=False).encode("utf-8")
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    except OSError:
        pass  # a full disk: the lock still holds, the refusal message just names "another build"


def _release(folder: Path, fd: int, created: bool) -> None:
    """Drop the lock. A folder this build created and left without an index is removed again."""
    try:
        if created and sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]:
            (folder / LOCK_FILE).unlink()  # while still locked: a waiter re-checks the file it locked
            folder.rmdir()
    except OSError:
        pass
    finally:
        os.close(fd)
