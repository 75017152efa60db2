"""The Milvus vector-store backend against Milvus Lite: same answers as the hnswlib store, save/load,
export round trip (and a failed export changes nothing), clear errors from an unreachable Milvus or
a .db file another process holds, and searches from several processes through a Milvus Lite server."""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from polaris_core.cli import main
from polaris_core.errors import ConfigError, VectorServiceError
from polaris_core.index import ZooIndex
from polaris_core.retrieve import SearchOptions, search
from polaris_core.vectorstore import VectorStore
from polaris_core.vectorstore_milvus import MilvusVectorStore, connect
from tests.core.retrieval_fixtures import embedding_cache

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ["1girl, portrait, detailed face", "anime style", "photorealistic landscape, mountains",
           "pixel art", "cyberpunk city at night", "watercolor painting"]


@pytest.fixture(scope="module", autouse=True)
def stop_milvus_lite_servers():
    """Milvus Lite keeps a server (and its threads) per .db file until the process exits: stop them with the
    module, so the tests after these do not share the CPU with idle servers."""
    yield
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_all()


@pytest.fixture(autouse=True)
def polaris_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(tmp_path / "polaris-cache"))


def _vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_milvus_store_answers_as_the_hnswlib_store_through_updates(tmp_path):
    vectors = _vectors(900)
    milvus, local = MilvusVectorStore.create(16, str(tmp_path / "a.db")), VectorStore.create(16)
    for store in (milvus, local):
        store.add("lora/sd15/style", np.arange(600), vectors[:600])
        store.add("lora/sdxl/style", np.arange(600, 900), vectors[600:])
        store.add("lora/sdxl/style", [5, 6], vectors[:2] * -1)  # moves two labels, with new vectors
        store.delete(np.arange(100, 150))
    queries = _vectors(8, seed=1)
    for partitions in (None, ["lora/sd15/style"], ["lora/sdxl/style", "nope"]):
        (ms, ml), (ls, ll) = milvus.search(queries, 10, partitions), local.search(queries, 10, partitions)
        assert np.array_equal(ml, ll) and np.allclose(ms, ls, atol=1e-5)
    assert len(milvus) == len(local) == 850 and milvus.partition_of(5) == "lora/sdxl/style"
    assert np.array_equal(milvus.labels("lora/sd15/style"), np.sort(local.labels("lora/sd15/style")))
    assert np.allclose(milvus.get_vectors([5, 700, 0]), local.get_vectors([5, 700, 0]), atol=1e-6)
    assert milvus.search(queries[0], 3, ["empty/x/y"])[1].shape == (0,)


def test_milvus_save_load_and_vectors_another_process_has_not_committed(tmp_path):
    uri, folder = str(tmp_path / "zoo.db"), tmp_path / "index"
    writer = MilvusVectorStore.create(16, uri, extra={"note": "x"})
    vectors = _vectors(300)
    writer.add("ckpt/sd15/base", np.arange(200), vectors[:200])
    writer.save(folder)
    reader = MilvusVectorStore.load(folder)
    assert len(reader) == 200 and reader.extra == {"note": "x"} and reader.collection == writer.collection
    writer.add("ckpt/sd15/base", np.arange(200, 300), vectors[200:])  # in Milvus, not in the saved index
    writer.delete([0])                                                 # not applied before a save
    _, labels = reader.search(vectors[250], 5)
    assert labels.max() < 200 and 0 in reader.search(vectors[0], 1)[1]
    writer.save(folder)
    again = MilvusVectorStore.load(folder)
    assert len(again) == 299 and again.search(vectors[250], 1)[1][0] == 250 and 0 not in again
    manifest = json.loads((folder / "vectorstore.json").read_text())
    assert manifest["backend"] == "milvus" and manifest["uri"] == uri and manifest["collection"] == writer.collection


@pytest.fixture(scope="module")
def demo_pair(fixture_cache, tmp_path_factory):
    """The demo zoo indexed twice: in the default store, and exported to Milvus Lite by the CLI."""
    from polaris_core.demo import demo_catalog_path
    from polaris_core.zoo.civitai import load_catalog

    base = tmp_path_factory.mktemp("milvus-demo")
    local = ZooIndex.build(load_catalog([demo_catalog_path()]), base / "local", cache=embedding_cache(fixture_cache))
    before = _tree_digest(base / "local")
    assert main(["index", "export", str(base / "local"), "--to", str(base / "zoo.db"), "--out",
                 str(base / "exported")]) == 0
    assert _tree_digest(base / "local") == before
    return local, ZooIndex.load(base / "exported"), base


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


class _MemoEncoder:
    def __init__(self, encoder) -> None:
        self.encoder, self.encoder_id, self.dim = encoder, encoder.encoder_id, encoder.dim
        self.max_tokens, self.seen = encoder.max_tokens, {}

    def encode(self, texts, **options):
        missing = list(dict.fromkeys(t for t in texts if t not in self.seen))
        if missing:
            self.seen.update(zip(missing, self.encoder.encode(missing, **options)))
        return np.stack([self.seen[text] for text in texts]) if texts else np.empty((0, self.dim), np.float32)


def test_milvus_export_round_trips_with_the_same_search_results(demo_pair):
    local, exported, _ = demo_pair
    assert type(exported.store).__name__ == "MilvusVectorStore" and len(exported.store) == len(local.store)
    labels = local.arrays.chunk_label[local.arrays.chunk_dense]
    assert np.allclose(exported.store.get_vectors(labels), local.store.exact_vectors(labels), atol=1e-6)
    memo = _MemoEncoder(local.text_encoder)  # each query is embedded once for both indexes
    local.set_text_encoder(memo)
    exported.set_text_encoder(memo)
    for kind in ("checkpoint", "lora"):
        for query in QUERIES:
            for channels in (("dense",), None):
                options = SearchOptions(channels=channels) if channels else None
                a = [c.entry.id for c in search(local, query, kind=kind, k=10, options=options)]
                b = [c.entry.id for c in search(exported, query, kind=kind, k=10, options=options)]
                assert a == b, (kind, query, channels)


def test_milvus_index_updates_and_reloads(demo_pair, tmp_path):
    local, exported, base = demo_pair
    exported.set_text_encoder(local.text_encoder)
    victim = next(e for e in exported.entries if e.kind == "lora")
    assert exported.remove([victim.id]) == 1
    exported.save(base / "exported")
    reloaded = ZooIndex.load(base / "exported")
    assert reloaded.get(victim.id) is None and len(reloaded.store) < len(local.store)
    exported.update([victim])
    exported.save()
    assert ZooIndex.load(base / "exported").get(victim.id) is not None


def test_a_failed_milvus_export_leaves_the_source_and_no_collection(demo_pair, tmp_path, monkeypatch):
    _, _, base = demo_pair
    before = _tree_digest(base / "local")
    uri = str(tmp_path / "fail.db")
    calls = []

    def failing_add(self, partition, labels, vectors):
        calls.append(partition)
        if len(calls) == 2:
            raise VectorServiceError("simulated: the server went away mid-export")
        return real_add(self, partition, labels, vectors)

    real_add = MilvusVectorStore.add
    monkeypatch.setattr(MilvusVectorStore, "add", failing_add)
    assert main(["index", "export", str(base / "local"), "--to", uri, "--out", str(tmp_path / "out")]) != 0
    assert len(calls) == 2
    monkeypatch.setattr(MilvusVectorStore, "add", real_add)
    assert _tree_digest(base / "local") == before
    assert not (tmp_path / "out" / "vectorstore.json").exists()
    assert connect(uri).list_collections() == []
    assert main(["index", "export", str(base / "local"), "--to", uri, "--out", str(base / "local")]) != 0
    assert _tree_digest(base / "local") == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_milvus_fails_fast_naming_the_uri(monkeypatch, demo_pair, tmp_path):
    closed = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(VectorServiceError, match=closed.replace(".", r"\.")):
        MilvusVectorStore.create(16, closed)
    assert time.monotonic() - started < 10
    # A port that accepts connections and never answers: the stated timeout bounds the wait.
    monkeypatch.setenv("POLARIS_MILVUS_TIMEOUT", "1.5")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(VectorServiceError, match="within 1.5 s"):
            connect(uri)
        assert time.monotonic() - started < 6
    # An index whose Milvus is gone says so on load.
    _, _, base = demo_pair
    moved = tmp_path / "moved"
    manifest = json.loads((base / "exported" / "vectorstore.json").read_text())
    import shutil

    shutil.copytree(base / "exported", moved)
    manifest["uri"] = closed
    (moved / "vectorstore.json").write_text(json.dumps(manifest))
    with pytest.raises(VectorServiceError, match="Cannot open Milvus at"):
        ZooIndex.load(moved)
    with pytest.raises(ConfigError, match="not a Milvus URI"):
        MilvusVectorStore.create(16, "ftp://example")


_HOLD = "import sys, time; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]); print('open', flush=True); time.sleep(60)"


def test_a_milvus_lite_file_open_in_another_process_gives_a_clear_error(tmp_path):
    uri = str(tmp_path / "held.db")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, uri], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorServiceError, match="open in another process.*milvus-lite server"):
            connect(uri)
    finally:
        holder.kill()
        holder.wait()


_SEARCHER = """
import json, sys
import numpy as np
from polaris_core.vectorstore_milvus import MilvusVectorStore
store = MilvusVectorStore.load(sys.argv[1])
queries = np.random.default_rng(1).normal(size=(20, 16)).astype(np.float32)
out = [store.search(q, 5, ["a/b/c"])[1].tolist() for _ in range(5) for q in queries]
print(json.dumps(out[:20]))
"""


def test_milvus_searches_from_several_processes_through_a_lite_server(tmp_path):
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "shared.db"),
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                store = MilvusVectorStore.create(16, uri, timeout=2)
                break
            except VectorServiceError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        vectors = _vectors(500)
        store.add("a/b/c", np.arange(500), vectors)
        store.save(tmp_path / "index")
        queries = np.random.default_rng(1).normal(size=(20, 16)).astype(np.float32)
        expected = [store.search(q, 5, ["a/b/c"])[1].tolist() for q in queries]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        workers = [subprocess.Popen([sys.executable, "-c", _SEARCHER, str(tmp_path / "index")], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err[-2000:]
            assert json.loads(out) == expected
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_milvus_token_goes_only_to_the_server_the_operator_named(monkeypatch):
    from polaris_core.vectorstore_milvus import token_for

    monkeypatch.setenv("POLARIS_MILVUS_TOKEN", "root:secret")
    assert token_for("http://milvus.studio:19530") == ""  # no server named: sent nowhere
    monkeypatch.setenv("POLARIS_MILVUS_TOKEN_URI", "http://milvus.studio:19530")
    assert token_for("http://milvus.studio:19530") == "root:secret" == token_for("http://MILVUS.studio")
    assert token_for("http://attacker.example:19530") == "" == token_for("https://milvus.studio:19530")
    assert token_for("/tmp/zoo.db") == ""


def test_sidebar_and_node_builds_on_milvus_keep_the_backend(fixture_cache, tmp_path, monkeypatch):
    from polaris_core.demo import demo_catalog_path
    from polaris_core.pipeline import build_or_update_index
    from polaris_core.zoo_service import ZooRequestError, build_request

    assert build_request({"name": "team", "milvus_uri": " http://milvus:19530 "}).milvus_uri == "http://milvus:19530"
    assert build_request({"name": "team"}).milvus_uri == ""
    with pytest.raises(ZooRequestError, match="not a Milvus URI"):
        build_request({"name": "team", "milvus_uri": "ftp://milvus"})
    monkeypatch.setenv("POLARIS_CACHE_DIR", str(fixture_cache))  # the demo zoo's embeddings are cached there
    uri, folder = str(tmp_path / "team.db"), tmp_path / "team"
    build = build_or_update_index(folder, catalogs=[demo_catalog_path()], cache_dir=fixture_cache, milvus_uri=uri)
    assert build.created and build.index.store.uri == uri
    again = build_or_update_index(folder, catalogs=[demo_catalog_path()], cache_dir=fixture_cache, milvus_uri=uri)
    assert not again.created and again.unchanged == len(build.index)
    with pytest.raises(ConfigError, match="keeps its vectors in Milvus"):
        build_or_update_index(folder, catalogs=[demo_catalog_path()], cache_dir=fixture_cache,
                              milvus_uri=str(tmp_path / "other.db"))
    # Milvus unreachable: the build fails naming it, and never rebuilds the index into a local store.
    manifest = json.loads((folder / "vectorstore.json").read_text())
    manifest["uri"] = f"http://127.0.0.1:{_free_port()}"
    (folder / "vectorstore.json").write_text(json.dumps(manifest))
    with pytest.raises(VectorServiceError, match="Cannot open Milvus at http://127.0.0.1"):
        build_or_update_index(folder, catalogs=[demo_catalog_path()], cache_dir=fixture_cache)
    assert json.loads((folder / "vectorstore.json").read_text())["uri"] == manifest["uri"]
