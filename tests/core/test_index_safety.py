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

from polaris_core.atomic import ORPHAN_AGE_S
from polaris_core.cli import main
from polaris_core.cli import main as cli_main
from polaris_core.demo import demo_catalog_path
from polaris_core.errors import IndexFolderError
from polaris_core.index import ZooIndex
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
    assert {p.suffix for p in files} == {".npy", ".hnsw", ".json", ".jsonl"}
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
