"""Nothing lost, nothing trusted: index folders that are not ours, rebuilds that would wipe an index,
damaged files under `polaris search` / `polaris index info`, and CLI arguments checked before work.

Runs on the shipped demo zoo (no shared data needed)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from polaris_core.cli import main
from polaris_core.cli import main as cli_main
from polaris_core.demo import demo_catalog_path
from polaris_core.errors import IndexFolderError
from polaris_core.index import ZooIndex
from polaris_core.pipeline import build_or_update_index
from polaris_core.vectorstore import MANIFEST as STORE_MANIFEST
from polaris_core.zoo.civitai import load_catalog
from tests.core.retrieval_fixtures import embedding_cache


@pytest.fixture(autouse=True)
def polaris_cache(tmp_path, monkeypatch):
    """Each test has its own cache folder: checksum memos and scan caches never leak between tests."""
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(tmp_path / "polaris-cache"))


@pytest.fixture(scope="module")
def demo_built(fixture_cache, tmp_path_factory):
    """The demo zoo's index, with every vector partition as an HNSW graph so graph files are covered too."""
    folder = tmp_path_factory.mktemp("demo-index")
    index = ZooIndex.build(load_catalog([demo_catalog_path()]), cache=embedding_cache(fixture_cache))
    index.store.exact_threshold = 1
    for part in index.store._parts.values():
        index.store._to_hnsw(part)
    index.save(folder)
    return index, folder


def _copy_index(index: ZooIndex, folder: Path) -> Path:
    index.save(folder)
    return folder


def _demo_catalog_copy(tmp_path: Path, n_lines: int | None = None) -> Path:
    lines = demo_catalog_path().read_text(encoding="utf-8").splitlines(keepends=True)
    target = tmp_path / "catalog.jsonl"
    target.write_text("".join(lines[:n_lines] if n_lines else lines), encoding="utf-8")
    return target


# ---- 1. --out is someone's folder ------------------------------------------------------------------------
def test_build_refuses_a_folder_that_is_not_an_index_and_deletes_nothing(tmp_path, fixture_cache, caplog):
    out = tmp_path / "my-stuff"
    for sub in ("zoo", "vectorstore-data"):
        (out / sub).mkdir(parents=True)
        (out / sub / "notes.txt").write_text("mine")
    (out / "zoo" / "photo.npy").write_bytes(b"not an index file")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    catalog = _demo_catalog_copy(tmp_path)
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(out)]) == 1
    assert "not a Polaris index" in caplog.text
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert (out / "zoo" / "notes.txt").read_text() == "mine"


def test_saving_into_an_index_keeps_files_it_did_not_write(demo_built, tmp_path):
    from polaris_core.atomic import ORPHAN_AGE_S

    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "idx")
    stranger = folder / "zoo" / "readme.txt"
    stranger.write_text("a user's note")
    stray_data = folder / "vectorstore-data" / "backup.npy"
    stray_data.write_bytes(b"x")
    old_own = folder / "zoo" / "entries-0123456789abcdef.jsonl"  # left by a save killed long ago: cleaned up
    old_own.write_text("{}\n")
    long_ago = time.time() - 2 * ORPHAN_AGE_S
    os.utime(old_own, (long_ago, long_ago))
    pending = folder / "zoo" / "entries-fedcba9876543210.jsonl"  # young: another save's, not committed yet
    pending.write_text("{}\n")
    index.save(folder)
    assert stranger.read_text() == "a user's note" and stray_data.exists()
    assert not old_own.exists() and pending.exists()
    assert len(ZooIndex.load(folder)) == len(index)


def test_an_interrupted_first_save_can_be_saved_over(demo_built, tmp_path):
    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "half")
    (folder / STORE_MANIFEST).unlink()  # killed before the commit point: only index files remain
    index.save(folder)
    assert len(ZooIndex.load(folder)) == len(index)


# ---- 2. a rebuild whose inputs all fail ------------------------------------------------------------------
def test_a_rebuild_from_failed_inputs_keeps_the_index(tmp_path, fixture_cache, caplog):
    def main(argv):  # the embedding cache of the fixtures: the demo zoo is embedded once
        return cli_main(argv + ["--cache", str(fixture_cache)])

    out = tmp_path / "idx"
    catalog = _demo_catalog_copy(tmp_path)
    assert main(["index", "build", "--catalog", str(catalog), "--out", str(out)]) == 0
    manifest = (out / STORE_MANIFEST).read_text()
    size = len(ZooIndex.load(out))

    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n{\"items\": 3}\n\x00\x01\n", encoding="utf-8")
    assert main(["index", "build", "--catalog", str(garbage), "--out", str(out)]) == 1
    assert "no usable entries" in caplog.text
    empty_models = tmp_path / "models"
    empty_models.mkdir()
    assert main(["index", "build", "--models-dir", str(empty_models), "--kind", "lora", "--out", str(out)]) == 1
    few = _demo_catalog_copy(tmp_path, n_lines=5)
    assert main(["index", "build", "--catalog", str(few), "--out", str(out)]) == 1
    assert "--allow-shrink" in caplog.text
    assert main(["index", "build", "--catalog", str(few), "--out", str(out), "--update", "--prune"]) == 1
    assert (out / STORE_MANIFEST).read_text() == manifest and len(ZooIndex.load(out)) == size

    assert main(["index", "build", "--catalog", str(few), "--out", str(out), "--allow-shrink"]) == 0
    assert 0 < len(ZooIndex.load(out)) < size / 2


def test_the_build_node_path_keeps_the_index_too(demo_built, tmp_path, fixture_cache):
    from polaris_core.pipeline import build_or_update_index

    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "node-idx")
    empty = tmp_path / "loras"
    empty.mkdir()
    with pytest.raises(IndexFolderError, match="no usable entries"):
        build_or_update_index(folder, model_roots=[(empty, "lora")], cache_dir=fixture_cache)
    assert len(ZooIndex.load(folder)) == len(index)


# ---- 3. damaged files under search and info --------------------------------------------------------------
def _index_files(folder: Path) -> list[Path]:
    return sorted(p for sub in ("zoo", "vectorstore-data") for p in (folder / sub).iterdir())


def test_every_damaged_file_is_a_clear_error_under_search_and_info(demo_built, tmp_path, caplog, capsys):
    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "flip")
    files = _index_files(folder)
    assert {p.suffix for p in files} == {".npy", ".hnsw", ".json", ".jsonl", ".bin"}
    assert main(["search", "--index", str(folder), "--kind", "lora", "a watercolor painting"]) == 0
    assert main(["index", "info", str(folder)]) == 0  # both verified once: later loads use the memo
    for path in files:
        original = path.read_bytes()
        for offset in (len(original) // 2, len(original) - 1):
            damaged = bytearray(original)
            damaged[offset] ^= 0x5A
            path.write_bytes(bytes(damaged))
            caplog.clear()
            assert main(["index", "info", str(folder)]) == 1, path.name
            assert main(["search", "--index", str(folder), "--kind", "lora", "a watercolor painting"]) == 1
            assert "checksum" in caplog.text, path.name
        path.write_bytes(original)
    capsys.readouterr()
    assert main(["search", "--index", str(folder), "--kind", "lora", "a watercolor painting"]) == 0


def _save_npy_keeping_stamp(path: Path, array: np.ndarray) -> None:
    """Rewrite an array file with the same size and mtime: the checksum memo cannot notice it."""
    st = path.stat()
    with open(path, "r+b") as fh:
        np.save(fh, array, allow_pickle=False)
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("name, damage", [
    ("chunk_entry", lambda a: np.where(np.arange(len(a)) == 3, 10 ** 9, a)),
    ("chunk_kind", lambda a: np.full_like(a, 99)),
    ("chunk_label", lambda a: a[::-1].copy()),
    ("chunk_counts-indices", lambda a: a + np.array(10 ** 6, a.dtype)),
    ("title-indptr", lambda a: np.where(np.arange(len(a)) == 1, a[-1] + 5, a)),
    ("description-data", lambda a: a + np.float32(0.5)),  # term counts are whole numbers (held as uint16)
    ("chunk_dense", lambda a: a.astype(np.uint8)),
    ("p0000-labels", lambda a: a + 10 ** 6),
])
def test_out_of_range_arrays_are_refused_even_when_checksums_are_skipped(demo_built, tmp_path, caplog, name,
                                                                         damage):
    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "bounds")
    assert main(["index", "info", str(folder)]) == 0  # remembered as verified
    path = next(p for p in _index_files(folder) if p.name.startswith(name + "-") and p.suffix == ".npy")
    _save_npy_keeping_stamp(path, damage(np.load(path)))
    caplog.clear()
    assert main(["index", "info", str(folder)]) == 1
    assert main(["search", "--index", str(folder), "--kind", "lora", "a watercolor painting"]) == 1
    assert "rebuild" in caplog.text
    with pytest.raises(IndexFolderError):
        ZooIndex.load(folder, verify=False)


def test_a_verified_index_is_not_hashed_again(demo_built, tmp_path, monkeypatch):
    import polaris_core.atomic as atomic

    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "memo")
    ZooIndex.load(folder, verify=False)
    hashed = []
    real = atomic.sha256_file
    monkeypatch.setattr(atomic, "sha256_file", lambda p: hashed.append(p) or real(p))
    ZooIndex.load(folder, verify=False)
    assert hashed == []
    path = next(p for p in _index_files(folder) if p.name.startswith("has_image-"))
    os.utime(path)  # touched: hashed again, once
    ZooIndex.load(folder, verify=False)
    assert [Path(p).name for p in hashed] == [path.name]


# ---- 12, 13. search arguments checked before the work -----------------------------------------------------
@pytest.mark.parametrize("k", ["0", "-1", "two"])
def test_search_rejects_a_k_below_one(demo_built, k):
    _, folder = demo_built
    with pytest.raises(SystemExit) as exc:
        main(["search", "--index", str(folder), "--k", k, "a cat"])
    assert exc.value.code == 2


def test_search_out_is_checked_before_the_work(demo_built, tmp_path, caplog, monkeypatch):
    _, folder = demo_built
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query": "a cat"}) + "\n")
    loads = []
    monkeypatch.setattr(ZooIndex, "load", classmethod(lambda cls, *a, **k: loads.append(a)))
    assert main(["search", "--index", str(folder), "--queries", str(queries), "--out", str(tmp_path)]) == 1
    assert "is a folder" in caplog.text
    assert main(["search", "--index", str(folder), "--queries", str(queries),
                 "--out", str(tmp_path / "missing" / "r.jsonl")]) == 1
    assert "does not exist" in caplog.text
    assert loads == []


# ---- concurrent builds of one index folder (issue 21, item 1) ---------------------------------------------
def _good_index(tmp_path: Path, fixture_cache: Path) -> tuple[Path, bytes, list[str]]:
    out = tmp_path / "idx"
    assert cli_main(["index", "build", "--catalog", str(_demo_catalog_copy(tmp_path)), "--out", str(out),
                     "--cache", str(fixture_cache)]) == 0
    return out, (out / STORE_MANIFEST).read_bytes(), sorted(e.id for e in ZooIndex.load(out).entries)


def _reversed_catalog(tmp_path: Path, drop: int) -> Path:
    """The demo catalog without its last `drop` lines, in reverse order: every index file differs."""
    lines = demo_catalog_path().read_text(encoding="utf-8").splitlines(keepends=True)
    target = tmp_path / f"catalog-reversed-{drop}.jsonl"
    target.write_text("".join(reversed(lines[: len(lines) - drop])), encoding="utf-8")
    return target


def test_two_cli_builds_of_one_folder_the_second_is_refused_and_names_the_first(tmp_path, fixture_cache):
    from index_race import release, run_cli, start_paused_build, wait_at_commit

    out, manifest, ids = _good_index(tmp_path, fixture_cache)
    signals = tmp_path / "signals"
    first = start_paused_build(["index", "build", "--catalog", str(_reversed_catalog(tmp_path, 2)), "--out", str(out),
                                "--cache", str(fixture_cache)], signals)
    try:
        wait_at_commit(first, signals)
        second = run_cli(["index", "build", "--catalog", str(_demo_catalog_copy(tmp_path)), "--out", str(out),
                          "--cache", str(fixture_cache)])
        assert second.returncode == 1, second.stderr[-2000:]
        assert "is being built by `polaris index build` (command line)" in second.stderr, second.stderr[-2000:]
        assert f"process {first.pid} on" in second.stderr and "Nothing was changed" in second.stderr
        assert (out / STORE_MANIFEST).read_bytes() == manifest  # the previous good index is untouched
        assert sorted(e.id for e in ZooIndex.load(out).entries) == ids
    finally:
        code, _, err = release(first, signals)
    assert code == 0, err[-2000:]
    assert len(ZooIndex.load(out).entries) == len(ids) - 2  # the first build committed, whole


def test_cleanup_never_deletes_the_files_of_a_build_that_has_not_committed_yet(tmp_path, fixture_cache):
    """With the lock switched off in both processes (a file system without working locks), a build that
    commits and cleans up while another waits at its commit point must not delete the waiting one's files."""
    from index_race import release, run_cli, start_paused_build, wait_at_commit

    out, manifest, ids = _good_index(tmp_path, fixture_cache)
    signals = tmp_path / "signals"
    late = start_paused_build(["index", "build", "--catalog", str(_reversed_catalog(tmp_path, 3)), "--out", str(out),
                               "--cache", str(fixture_cache)], signals, lock=False)
    try:
        wait_at_commit(late, signals)
        early = subprocess_without_lock(["index", "build", "--catalog", str(_demo_catalog_copy(tmp_path)),
                                         "--out", str(out), "--cache", str(fixture_cache)])
        assert early.returncode == 0, early.stderr[-2000:]
    finally:
        code, _, err = release(late, signals)
    assert code == 0, err[-2000:]
    loaded = ZooIndex.load(out)  # every file the last manifest names is there and passes its checksum
    assert len(loaded.entries) == len(ids) - 3
    assert run_cli(["index", "info", str(out)]).returncode == 0


def subprocess_without_lock(argv: list[str]):
    """`polaris <argv>` in a child process whose folder lock always succeeds (no pause)."""
    import subprocess
    import sys

    from index_race import ROOT, child_env

    code = ("import sys, polaris_core.index_lock as lock; lock._try_lock = lambda fd: True; "
            "from polaris_core.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True,
                          env=child_env(), timeout=300)


def test_a_build_in_another_thread_is_refused_too(tmp_path, fixture_cache):
    """flock belongs to an open file: two threads of one process (a sidebar build and a node build in one
    ComfyUI) exclude each other as two processes do."""
    import threading

    from polaris_core.index_lock import IndexBusyError, index_lock

    out, manifest, _ = _good_index(tmp_path, fixture_cache)
    holding, done = threading.Event(), threading.Event()

    def hold():
        with index_lock(out, "the Zoo sidebar's Indexes panel"):
            holding.set()
            done.wait(60)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(60)
        with pytest.raises(IndexBusyError, match="the Zoo sidebar's Indexes panel") as refused:
            build_or_update_index(out, catalogs=[_demo_catalog_copy(tmp_path)], cache_dir=fixture_cache,
                                  label="models/polaris/indexes/idx")
        assert str(tmp_path) not in str(refused.value) and "models/polaris/indexes/idx" in str(refused.value)
    finally:
        done.set()
        thread.join()
    assert (out / STORE_MANIFEST).read_bytes() == manifest
    build_or_update_index(out, catalogs=[_demo_catalog_copy(tmp_path)], cache_dir=fixture_cache)  # free again


def test_a_failed_first_build_leaves_no_folder_behind(tmp_path, fixture_cache):
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n", encoding="utf-8")
    out = tmp_path / "new-index"
    with pytest.raises(IndexFolderError, match="no usable entries"):
        build_or_update_index(out, catalogs=[garbage], cache_dir=fixture_cache)
    assert not out.exists()


# ---- index names (item 2) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, says", [
    ("x" * 300, "300 characters long"), (".hidden", "dot"), ("demo", "reserved"), ("DEMO", "reserved"),
    ("a/b", "separator"), ("a\\b", "separator"), ("bad\x1b[31m", "control"), ("rtl\u202e", "control"), ("", "name"),
])
def test_index_names_follow_one_rule(name, says):
    from polaris_core.index import IndexNameError, valid_index_name

    with pytest.raises(IndexNameError, match=says):
        valid_index_name(name)


def test_the_cli_refuses_a_300_character_out_name_clearly(tmp_path, caplog):
    out = tmp_path / ("x" * 300)
    assert main(["index", "build", "--catalog", str(_demo_catalog_copy(tmp_path)), "--out", str(out)]) == 1
    assert "300 characters long" in caplog.text and out.name not in os.listdir(tmp_path)


# ---- shrink refusals in the caller's terms (item 3) --------------------------------------------------------
def test_the_shrink_refusal_says_how_to_allow_it_where_it_was_raised(demo_built, tmp_path, fixture_cache):
    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "shrink")
    few = _demo_catalog_copy(tmp_path, n_lines=5)
    with pytest.raises(IndexFolderError) as refused:
        build_or_update_index(folder, catalogs=[few], cache_dir=fixture_cache, label="models/polaris/indexes/shrink",
                              how_to_allow_shrink="tick allow_removing_entries on Build Zoo Index (Polaris)")
    message = str(refused.value)
    assert "tick allow_removing_entries on Build Zoo Index (Polaris)" in message and "--allow-shrink" not in message
    assert str(tmp_path) not in message and "models/polaris/indexes/shrink" in message
    build_or_update_index(folder, catalogs=[few], cache_dir=fixture_cache, allow_shrink=True)
    assert len(ZooIndex.load(folder)) < len(index) / 2


# ---- a full disk (smaller items) ---------------------------------------------------------------------------
def _folder_state(folder: Path) -> dict[str, bytes]:
    """Every file's bytes but the lock file's (it records the last build that held the lock)."""
    from polaris_core.index_lock import LOCK_FILE

    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != LOCK_FILE}


@pytest.mark.parametrize("where", ["zoo file", "vector file", "manifest"])
def test_a_full_disk_while_saving_says_so_and_loses_nothing(demo_built, tmp_path, fixture_cache, monkeypatch, where):
    import errno

    import polaris_core.atomic as atomic
    import polaris_core.vectorstore as vectorstore

    index, _ = demo_built
    folder = _copy_index(index, tmp_path / "full")
    before = _folder_state(folder)
    rebuilt = ZooIndex.build(load_catalog([_reversed_catalog(tmp_path, 4)]), cache=embedding_cache(fixture_cache))
    calls = []

    def full(real, after: int):
        def write(*args, **kwargs):
            calls.append(1)
            if len(calls) > after:
                raise OSError(errno.ENOSPC, "No space left on device", str(folder / "zoo" / "x.tmp"))
            return real(*args, **kwargs)
        return write

    if where == "zoo file":
        monkeypatch.setattr(atomic, "write_content_addressed", full(atomic.write_content_addressed, 3))
    elif where == "vector file":
        monkeypatch.setattr(vectorstore, "write_content_addressed", full(vectorstore.write_content_addressed, 1))
    else:
        monkeypatch.setattr(vectorstore, "write_json_atomic", full(vectorstore.write_json_atomic, 0))
    with pytest.raises(IndexFolderError) as refused:
        rebuilt.save(folder, label="models/polaris/indexes/full")
    assert "disk holding the index folder models/polaris/indexes/full is full" in str(refused.value)
    assert str(tmp_path) not in str(refused.value)
    assert _folder_state(folder) == before  # nothing of the previous index lost, nothing half-written left
    assert len(ZooIndex.load(folder)) == len(index)


def test_a_full_disk_at_the_embedding_cache_says_so(tmp_path, monkeypatch):
    import errno
    import sqlite3

    from polaris_core.embed.cache import EmbeddingCache
    from polaris_core.errors import ConfigError

    cache = EmbeddingCache(tmp_path / "cache" / "embeddings.sqlite")

    class FullConnection:
        def __init__(self, real):
            self.real = real

        def executemany(self, *args):
            raise sqlite3.OperationalError("database or disk is full")

        def rollback(self):
            self.real.rollback()

    monkeypatch.setattr(cache, "_conn", FullConnection(cache._conn))
    with pytest.raises(ConfigError, match="is full; nothing is damaged") as refused:
        cache.put_many("enc", [b"k" * 16], np.zeros((1, 4), np.float32))
    assert "delete the damaged file" not in str(refused.value)

    def no_space(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(sqlite3, "connect", no_space)
    with pytest.raises(ConfigError, match="is full; nothing is damaged"):
        EmbeddingCache(tmp_path / "other" / "embeddings.sqlite")
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(ConfigError, match="is full; nothing is damaged"):
        EmbeddingCache(tmp_path / "third" / "embeddings.sqlite")
