"""Two index builds racing at the commit point: a real `polaris index build` process that stops just before
it replaces the index manifest, until the test lets it go. Used by the core and integration tiers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The child is the real CLI; the only change is a pause inside VectorStore.save's manifest write (the commit
# point): it touches `<signals>/at-commit` and waits for `<signals>/go`. With POLARIS_RACE_NO_LOCK=1 the
# folder lock is switched off, to test that cleanup alone never deletes another build's files.
_CHILD = r"""
import os, sys, time
from pathlib import Path
import polaris_core.vectorstore as vectorstore

signals = Path(os.environ["POLARIS_RACE_SIGNALS"])
real_write = vectorstore.write_json_atomic

def paused_write(path, obj, **kwargs):
    (signals / "at-commit").write_text(str(os.getpid()))
    deadline = time.monotonic() + 300
    while not (signals / "go").exists():
        if time.monotonic() > deadline:
            sys.exit("never released")
        time.sleep(0.05)
    return real_write(path, obj, **kwargs)

vectorstore.write_json_atomic = paused_write
if os.environ.get("POLARIS_RACE_NO_LOCK") == "1":
    import polaris_core.index_lock as index_lock
    index_lock._try_lock = lambda fd: True
from polaris_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def child_env(**extra: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def start_paused_build(argv: list[str], signals: Path, *, lock: bool = True, **env: str) -> subprocess.Popen:
    """`polaris <argv>` in a child process that stops at its commit point (see `wait_at_commit`, `release`)."""
    signals.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", _CHILD, *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=child_env(POLARIS_RACE_SIGNALS=str(signals), POLARIS_RACE_NO_LOCK="0" if lock else "1",
                                          **env))


def wait_at_commit(process: subprocess.Popen, signals: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not (signals / "at-commit").exists():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the build ended (rc {process.returncode}) before its commit:\n{err[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the build never reached its commit point")
        time.sleep(0.05)


def release(process: subprocess.Popen, signals: Path, timeout: float = 300.0) -> tuple[int, str, str]:
    (signals / "go").write_text("go")
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def run_cli(argv: list[str], timeout: float = 300.0) -> subprocess.CompletedProcess:
    """`polaris <argv>` in a plain child process."""
    return subprocess.run([sys.executable, "-m", "polaris_core", *argv], cwd=ROOT, capture_output=True, text=True,
                          env=child_env(), timeout=timeout)
