"""VectorStore: recall on clustered vectors, incremental updates, persistence and atomic saves."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from polaris_core.bench.index import clustered_vectors
from polaris_core.errors import IndexFolderError, VectorError
from polaris_core import vectorstore
from polaris_core.vectorstore import HnswParams, VectorStore

DIM = 48


def _exact_top(queries, vectors, labels, k):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    return labels[np.argsort(-(q @ unit.T), axis=1)[:, :k]]


def _recall(found, truth):
    return np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


@pytest.fixture(scope="module")
def data():
    vectors, queries = clustered_vectors(6000, DIM, n_queries=100, seed=3)
    return vectors, queries


def test_recall_on_clustered_vectors_hnsw_and_exact(data):
    vectors, queries = data
    vectors = vectors[:5900]
    labels = np.arange(10_000, 10_000 + len(vectors), dtype=np.int64)
    store = VectorStore.create(DIM, exact_threshold=1000)
    store.add("big", labels[:5000], vectors[:5000])
    store.add("small", labels[5000:], vectors[5000:])
    assert store.storage("big") == "hnsw" and store.storage("small") == "exact"
    truth = _exact_top(queries, vectors, labels, 10)
    scores, found = store.search(queries, 10)
    assert _recall(found, truth) >= 0.98
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    # The exact partition alone is exact; a single query gives 1-D results.
    small_truth = _exact_top(queries[:1], vectors[5000:], labels[5000:], 5)
    s1, l1 = store.search(queries[0], 5, partitions=["small", "missing"])
    assert l1.shape == (5,) and list(l1) == list(small_truth[0])
    np.testing.assert_allclose(s1[0], float(queries[0] @ vectors[5000 + (l1[0] - 15000)] /
                                            np.linalg.norm(queries[0]) /
                                            np.linalg.norm(vectors[5000 + (l1[0] - 15000)])), rtol=1e-5)


def test_incremental_add_update_delete_and_move(data):
    vectors, queries = data
    store = VectorStore.create(DIM, exact_threshold=500)
    labels = np.arange(3000)
    store.add("p", labels, vectors[:3000])
    assert len(store) == 3000 and store.storage("p") == "hnsw"
    # Delete a third: deleted labels never come back, counts follow.
    gone = labels[::3]
    assert store.delete(gone) == len(gone) and store.delete(gone) == 0
    _, found = store.search(queries, 50)
    assert not set(found.ravel()) & set(gone.tolist())
    # New labels reuse deleted slots; a deleted label can be re-added; an existing one is updated in place.
    store.add("p", np.arange(5000, 5000 + 500), vectors[3000:3500])
    store.add("p", gone[:10], vectors[3500:3510])
    store.add("p", [1], vectors[4000:4001] * 3)
    assert len(store) == 3000 - len(gone) + 510 == store.count("p")
    _, top = store.search(vectors[4000], 1)
    assert top[0] == 1
    unit = vectors[4000] / np.linalg.norm(vectors[4000])
    np.testing.assert_allclose(store.exact_vectors([1])[0], unit, rtol=1e-5)
    np.testing.assert_allclose(store.get_vectors([1])[0], unit, atol=F16_ATOL)  # the float16 copy
    _, found = store.search(queries, 100)
    assert all(len(set(row)) == len(row) for row in found)  # no duplicate labels after slot reuse
    # Moving a label to another partition removes it from the first.
    store.add("q", [2], vectors[:1])
    assert store.partition_of(2) == "q" and 2 not in store.labels("p") and store.count("q") == 1
    # Shrinking far below the threshold turns the partition back into an exact one.
    store.delete(store.labels("p")[100:])
    assert store.storage("p") == "exact" and store.count("p") == 100
    _, found = store.search(queries, 5, partitions=["p"])
    truth = _exact_top(queries, store.get_vectors(store.labels("p")), store.labels("p"), 5)
    assert _recall(found, truth) == 1.0
    store.delete(store.labels("q"))
    assert "q" not in store.partitions()


def test_bad_inputs_raise_vector_error(data):
    vectors, _ = data
    store = VectorStore.create(DIM)
    with pytest.raises(VectorError, match="shape"):
        store.add("p", [1], np.zeros((1, DIM + 1)))
    with pytest.raises(VectorError, match="NaN"):
        store.add("p", [1], np.full((1, DIM), np.nan))
    with pytest.raises(VectorError, match="zeros"):
        store.add("p", [1], np.zeros((1, DIM)))
    with pytest.raises(VectorError, match="≥ 0"):
        store.add("p", [-1], vectors[:1])
    with pytest.raises(VectorError, match="one vector per label"):
        store.add("p", [1, 2], vectors[:1])
    with pytest.raises(VectorError, match="Partition"):
        store.add("", [1], vectors[:1])
    with pytest.raises(VectorError):
        store.search(vectors[0], 0)
    with pytest.raises(VectorError):
        VectorStore.create(0)
    scores, labels = store.search(vectors[:2], 5)  # empty store: empty results, not an error
    assert scores.shape == (2, 0) and labels.shape == (2, 0)
    store.add("p", [7, 7], vectors[:2])  # a repeated label keeps its last vector
    assert len(store) == 1
    np.testing.assert_allclose(store.get_vectors([7])[0], vectors[1] / np.linalg.norm(vectors[1]), rtol=1e-5)
    assert store.search(vectors[0], 10)[1].shape == (1,)


F16_ATOL = 1e-3  # a graph partition's numpy copy is float16: unit-vector components move by < 5e-4


def test_graph_partitions_keep_a_float16_copy_and_loading_reads_the_graph_file(data, tmp_path, monkeypatch):
    vectors, queries = data
    store = _store(data)
    labels = store.labels("lora/sd15")
    assert store._parts["lora/sd15"].vectors.dtype == np.float16  # half the bytes of a float32 copy
    assert store._parts["checkpoint/sd15"].vectors.dtype == np.float32  # searched exactly from numpy
    store.save(tmp_path / "idx")
    calls = []
    real = vectorstore._graph_vectors
    monkeypatch.setattr(vectorstore, "_graph_vectors", lambda g, lab: calls.append(len(lab)) or real(g, lab))
    loaded = VectorStore.load(tmp_path / "idx")
    assert sum(calls) <= 8  # read from the graph file; only a sample is checked through get_items
    exact = loaded.exact_vectors(labels)
    assert np.array_equal(exact, store.exact_vectors(labels))
    assert np.array_equal(loaded.get_vectors(labels), exact.astype(np.float16).astype(np.float32))
    # A graph file of another layout: the vectors come from the graph, one call for them all.
    part = loaded._parts["lora/sd15"]
    path = next((tmp_path / "idx" / vectorstore.DATA_DIR).glob("p0001-graph-*.hnsw"))
    broken = tmp_path / "broken.hnsw"
    broken.write_bytes(path.read_bytes()[:200])
    assert vectorstore._graph_file_vectors(broken, part.graph, labels) is None
    exact = vectorstore._graph_file_vectors(path, part.graph, labels, dtype=np.float32)
    assert np.array_equal(exact, real(part.graph, labels))


def test_rescoring_from_the_float16_copy_keeps_the_exact_top_k(data):
    """Search rescoring (index.dense_scores) reads `get_vectors`: its cosines stay within 1e-3 of the
    float32 ones and give the same top 10."""
    vectors, queries = data
    store = _store(data)
    labels = store.labels("lora/sd15")
    approx, exact = store.get_vectors(labels), store.exact_vectors(labels)
    for query in queries[:50]:
        q = query / np.linalg.norm(query)
        a, b = approx @ q, exact @ q
        assert np.abs(a - b).max() < 1e-3
        assert np.array_equal(np.argsort(-a, kind="stable")[:10], np.argsort(-b, kind="stable")[:10])


def _store(data, n=1500):
    vectors, _ = data
    store = VectorStore.create(DIM, exact_threshold=1000, hnsw=HnswParams(M=12, ef_construction=80, ef_search=48),
                               extra={"text_encoder": "minilm"})
    store.add("lora/sd15", np.arange(n), vectors[:n])
    store.add("checkpoint/sd15", np.arange(n, n + 200), vectors[n:n + 200])
    return store


def test_save_load_round_trip_and_unchanged_partitions_are_not_rewritten(data, tmp_path):
    _, queries = data
    store = _store(data)
    folder = tmp_path / "idx"
    store.save(folder)
    manifest = json.loads((folder / vectorstore.MANIFEST).read_text())
    assert manifest["format_version"] == vectorstore.FORMAT_VERSION and manifest["dim"] == DIM
    assert manifest["partitions"]["lora/sd15"]["count"] == 1500 and manifest["count"] == 1700
    assert manifest["extra"] == {"text_encoder": "minilm"} and manifest["hnsw"]["M"] == 12
    loaded = VectorStore.load(folder, dim=DIM)
    assert loaded.partitions() == store.partitions() and len(loaded) == len(store)
    for a, b in zip(store.search(queries, 10), loaded.search(queries, 10)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    loaded.check_extra({"text_encoder": "minilm"})
    with pytest.raises(IndexFolderError, match="text_encoder"):
        loaded.check_extra({"text_encoder": "clip"})
    with pytest.raises(IndexFolderError, match="encoder changed"):
        VectorStore.load(folder, dim=DIM + 1)

    graph_file = folder / vectorstore.DATA_DIR / manifest["partitions"]["lora/sd15"]["files"]["hnsw"]["name"]
    before = graph_file.stat().st_mtime_ns
    loaded.add("checkpoint/sd15", [99999], data[0][1:2])
    loaded.delete([1500])
    loaded.save(folder)
    assert graph_file.stat().st_mtime_ns == before  # the unchanged HNSW partition was reused
    # hnsw: labels, graph (which holds the vectors); exact: labels, vectors. Old files of the changed
    # partition are gone.
    assert len(list((folder / vectorstore.DATA_DIR).iterdir())) == 4
    again = VectorStore.load(folder)
    assert len(again) == 1700 and 99999 in again and 1500 not in again


def test_corrupt_or_mismatched_folders_raise_index_folder_error(data, tmp_path):
    folder = tmp_path / "idx"
    _store(data).save(folder)
    manifest_path = folder / vectorstore.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    with pytest.raises(IndexFolderError, match="not a vector-store folder"):
        VectorStore.load(tmp_path / "nothing")

    def broken(change):
        m = json.loads(json.dumps(manifest))
        change(m)
        manifest_path.write_text(json.dumps(m))
        with pytest.raises(IndexFolderError) as info:
            VectorStore.load(folder)
        return str(info.value)

    assert "version" in broken(lambda m: m.update(format_version=99))
    assert "not a Polaris" in broken(lambda m: m.update(format="other"))
    assert "vectors" in broken(lambda m: m.update(count=5))
    assert "leaves" in broken(lambda m: m["partitions"]["lora/sd15"]["files"]["labels"].update(name="../x"))
    manifest_path.write_text("{not json")
    with pytest.raises(IndexFolderError, match="not JSON"):
        VectorStore.load(folder)
    manifest_path.write_text(json.dumps(manifest))
    graph = folder / vectorstore.DATA_DIR / manifest["partitions"]["lora/sd15"]["files"]["hnsw"]["name"]
    raw = bytearray(graph.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    graph.write_bytes(bytes(raw))
    with pytest.raises(IndexFolderError, match="checksum"):
        VectorStore.load(folder)
    graph.write_bytes(bytes(raw[:100]))
    with pytest.raises(IndexFolderError, match="size"):
        VectorStore.load(folder)
    graph.unlink()
    with pytest.raises(IndexFolderError, match="missing"):
        VectorStore.load(folder)


class _Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing in save() may swallow it."""


@pytest.mark.parametrize("crash_at", ["data file", "manifest replace"])
def test_crash_mid_save_leaves_previous_version_loadable(data, tmp_path, monkeypatch, crash_at):
    _, queries = data
    folder = tmp_path / "idx"
    old = _store(data)
    old.save(folder)
    expected = old.search(queries, 10)

    new = _store(data, n=1400)
    new.add("lora/sdxl", [777777], data[0][:1])
    real_replace = os.replace
    calls = {"n": 0}

    def crashing_replace(src, dst):
        calls["n"] += 1
        target = str(dst)
        if (crash_at == "data file" and calls["n"] == 2) or (crash_at == "manifest replace"
                                                             and target.endswith(vectorstore.MANIFEST)):
            raise _Crash()
        return real_replace(src, dst)

    monkeypatch.setattr(vectorstore.os, "replace", crashing_replace)
    with pytest.raises(_Crash):
        new.save(folder)
    monkeypatch.setattr(vectorstore.os, "replace", real_replace)
    reloaded = VectorStore.load(folder)
    assert len(reloaded) == 1700 and 777777 not in reloaded
    for a, b in zip(expected, reloaded.search(queries, 10)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    new.save(folder)  # the next save succeeds and clears the leftovers
    assert 777777 in VectorStore.load(folder)
    assert not [p for p in (folder / vectorstore.DATA_DIR).iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
def test_process_killed_during_save(data, tmp_path):
    folder = tmp_path / "idx"
    _store(data).save(folder)
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from polaris_core import vectorstore
        store = vectorstore.VectorStore.load({str(folder)!r})
        store.add("lora/sd15", np.arange(50_000, 50_100), np.random.default_rng(0).normal(size=(100, {DIM})))
        def die(path, obj):
            # Write half a manifest into the temp file, then die without cleanup.
            with open(str(path) + ".partial", "w") as fh:
                fh.write(str(obj)[:100])
            os.kill(os.getpid(), signal.SIGKILL)
        vectorstore.write_json_atomic = die  # the manifest write, the save's commit point
        store.save({str(folder)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    reloaded = VectorStore.load(folder)
    assert len(reloaded) == 1700 and 50_000 not in reloaded


def test_synthetic_vectors_are_clustered_not_random(data):
    vectors, queries = data
    sims = queries @ vectors.T
    nearest = np.sort(sims, axis=1)[:, -10:].mean()
    assert nearest > 0.6 and abs(float(sims.mean())) < 0.1  # tight neighbourhoods, unrelated far points


def test_search_survives_a_mostly_deleted_graph(data):
    vectors, queries = data
    store = VectorStore.create(DIM, exact_threshold=0, hnsw=HnswParams(M=8, ef_construction=40, ef_search=10))
    store.add("p", np.arange(1000), vectors[:1000])
    store.delete(np.arange(12, 1000))
    assert store.storage("p") == "hnsw" and len(store) == 12
    scores, labels = store.search(queries[:3], 10)
    assert labels.shape == (3, 10) and set(labels.ravel()) <= set(range(12))
    assert all(len(set(row)) == 10 for row in labels)
    assert store.search(queries[0], 50)[1].shape == (12,)


def test_get_vectors_across_exact_and_hnsw_partitions_follows_updates(data):
    vectors, _ = data
    store = VectorStore.create(DIM, exact_threshold=1000)
    store.add("big", np.arange(1200), vectors[:1200])
    store.add("small", np.arange(5000, 5100), vectors[1200:1300])
    assert store.storage("big") == "hnsw" and store.storage("small") == "exact"
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    wanted = np.array([5099, 3, 5000, 1199, 3])  # mixed partitions, out of order, a repeat
    expected = unit[[1299, 3, 1200, 1199, 3]]
    np.testing.assert_allclose(store.exact_vectors(wanted), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(store.get_vectors(wanted), expected, atol=F16_ATOL)
    assert np.array_equal(store.get_vectors(wanted)[[0, 2]], expected[[0, 2]])  # exact partition: float32
    assert store.get_vectors([]).shape == (0, DIM)
    with pytest.raises(VectorError, match="Label 4242"):
        store.get_vectors([3, 4242])
    # The lookup follows deletes, moves and updates (exact rows get compacted on delete).
    store.delete([5000, 3])
    store.add("small", [7], vectors[2000:2001])  # moved from "big"
    store.add("small", [5050], vectors[2001:2002])  # updated in place
    np.testing.assert_allclose(store.exact_vectors([5099, 7, 5050, 1199]), unit[[1299, 2000, 2001, 1199]],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(VectorError, match="Label 5000"):
        store.get_vectors([5000])


def test_automatic_ef_grows_with_partition_size(data):
    from polaris_core.vectorstore import auto_ef

    sizes = [1_000, 10_000, 27_000, 82_000, 1_000_000, 10**8]
    efs = [auto_ef(n) for n in sizes]
    assert efs == sorted(efs) and efs[0] >= 64 and efs[-1] <= 512
    assert auto_ef(82_000) >= 128 and auto_ef(1_000_000) >= 224  # measured needs for recall ≥ 0.98
    assert HnswParams().ef_for(50_000) == auto_ef(50_000) and HnswParams(ef_search=40).ef_for(10**6) == 40
    with pytest.raises(VectorError):
        HnswParams(ef_search=-1)
    # Automatic ef gives near-exact recall on a small clustered partition.
    vectors, queries = data
    store = VectorStore.create(DIM, exact_threshold=0)
    store.add("p", np.arange(len(vectors)), vectors)
    _, found = store.search(queries, 10)
    assert _recall(found, _exact_top(queries, vectors, np.arange(len(vectors)), 10)) >= 0.98


def test_a_store_saved_with_a_float32_copy_beside_the_graph_still_loads(data, tmp_path):
    """Stores saved before the float16 copy also wrote an HNSW partition's vectors as float32 .npy."""
    from polaris_core.atomic import write_content_addressed

    vectors, queries = data
    store = _store(data)
    folder = tmp_path / "idx"
    store.save(folder)
    manifest_path = folder / vectorstore.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    files = manifest["partitions"]["lora/sd15"]["files"]
    assert "vectors" not in files  # the graph file holds them
    labels = np.load(folder / vectorstore.DATA_DIR / files["labels"]["name"])
    files["vectors"] = write_content_addressed(folder / vectorstore.DATA_DIR, "p0000-vectors", ".npy",
                                               lambda p: vectorstore._save_npy(p, store.exact_vectors(labels)))
    manifest_path.write_text(json.dumps(manifest))
    loaded = VectorStore.load(folder)
    assert loaded.storage("lora/sd15") == "hnsw"
    np.testing.assert_allclose(loaded.get_vectors([0, 1499, 1500]), store.get_vectors([0, 1499, 1500]), atol=F16_ATOL)
    assert np.array_equal(loaded.exact_vectors([0, 1499, 1500]), store.exact_vectors([0, 1499, 1500]))
    for a, b in zip(store.search(queries, 10), loaded.search(queries, 10)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_random_updates_match_a_plain_model_and_survive_save_and_load(data, tmp_path):
    """Label bookkeeping (sorted numpy lookups, rows moved into holes on delete, labels marked deleted in a
    graph) against a dict model, through adds, in-place updates, moves between partitions, deletes,
    exact ↔ hnsw transitions, and a save and load."""
    vectors, queries = data
    rng = np.random.default_rng(7)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    store = VectorStore.create(DIM, exact_threshold=300, hnsw=HnswParams(M=8, ef_construction=40))
    model: dict[int, tuple[str, int]] = {}  # label -> (partition, row of `vectors`)
    label_space = np.arange(0, 4000) * 7 + 10**9  # sparse, large labels
    for _step in range(40):
        op = rng.choice(["add", "add", "delete", "move"])
        if op == "add" or not model:
            key = str(rng.choice(["a", "b", "c"]))
            labels = rng.choice(label_space, int(rng.integers(1, 400)), replace=True)
            rows = rng.integers(0, len(vectors), len(labels))
            store.add(key, labels, vectors[rows])
            for lab, row in zip(labels.tolist(), rows.tolist()):
                model[lab] = (key, row)  # a repeated label keeps its last vector
        elif op == "delete":
            known = np.array(list(model))
            picked = rng.choice(known, min(len(known), int(rng.integers(1, 500))), replace=False)
            unknown = label_space[:3] + 1  # never stored: ignored
            assert store.delete(np.concatenate([picked, unknown, picked[:5]])) == len(picked)
            for lab in picked.tolist():
                del model[lab]
        else:
            known = np.array(list(model))
            picked = rng.choice(known, min(len(known), 50), replace=False)
            key = str(rng.choice(["a", "b", "c"]))
            store.add(key, picked, unit[[model[lab][1] for lab in picked.tolist()]])
            for lab in picked.tolist():
                model[lab] = (key, model[lab][1])
        assert len(store) == len(model)
        for key in ("a", "b", "c"):
            expected = sorted(lab for lab, (k, _) in model.items() if k == key)
            assert sorted(store.labels(key).tolist()) == expected and store.count(key) == len(expected)
        sample = rng.choice(np.array(list(model)), min(len(model), 200), replace=False)
        truth = unit[[model[lab][1] for lab in sample.tolist()]]
        np.testing.assert_allclose(store.get_vectors(sample), truth, atol=F16_ATOL)
        np.testing.assert_allclose(store.exact_vectors(sample), truth, rtol=1e-5, atol=1e-6)
        assert all(store.partition_of(lab) == model[lab][0] for lab in sample[:20].tolist())
        assert int(label_space[0] + 1) not in store
    assert {store.storage(k) for k in ("a", "b", "c")} >= {"hnsw"}
    store.save(tmp_path / "idx")
    loaded = VectorStore.load(tmp_path / "idx")
    everything = np.array(sorted(model))
    assert np.array_equal(loaded.exact_vectors(everything), store.exact_vectors(everything))
    for a, b in zip(store.search(queries, 10), loaded.search(queries, 10)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # Adds after the load reuse the graph's deleted slots and keep working.
    loaded.add("a", label_space[-20:] + 1, vectors[:20])
    np.testing.assert_allclose(loaded.exact_vectors(label_space[-20:] + 1), unit[:20], rtol=1e-5, atol=1e-6)


def test_exact_vectors_of_a_graph_partition_are_the_graphs_own(data):
    vectors, _ = data
    store = _store(data)
    labels = np.array([1499, 5, 1600, 700, 5, 1500])  # both partitions, out of order, a repeat
    part = store._parts["lora/sd15"]
    in_graph = labels < 1500
    out = store.exact_vectors(labels)
    assert np.array_equal(out[in_graph], np.asarray(part.graph.get_items(labels[in_graph]), dtype=np.float32))
    assert np.array_equal(out[~in_graph], store.get_vectors(labels[~in_graph]))
    with pytest.raises(VectorError, match="Label 99999"):
        store.exact_vectors([5, 99999])


def _bookkeeping_bytes(store: VectorStore) -> int:
    """Bytes a store holds beside its vectors and graphs: label maps, lookups, tables."""
    def size(obj) -> int:
        if isinstance(obj, np.ndarray):
            return obj.nbytes
        if isinstance(obj, dict):
            return sys.getsizeof(obj) + sum(size(k) + size(v) for k, v in obj.items())
        if isinstance(obj, (set, list, tuple)):
            return sys.getsizeof(obj) + sum(size(x) for x in obj)
        return sys.getsizeof(obj)

    total = size(store._where) if hasattr(store, "_where") else 0
    total += size(store._label_table()[1:])
    for part in store._parts.values():
        total += sum(size(value) for name, value in vars(part).items() if name not in ("vectors", "graph"))
    return total


def test_label_bookkeeping_costs_a_few_dozen_bytes_per_label(data, tmp_path):
    """Python dicts and sets per label cost ~250 bytes each (~0.6 GB at a million entries); numpy
    lookups ~50."""
    vectors, _ = data
    store = VectorStore.create(DIM, exact_threshold=1000, hnsw=HnswParams(M=8, ef_construction=40))
    store.add("big", np.arange(5000) + 10**6, vectors[:5000])
    store.add("small", np.arange(500), vectors[5000:5500])
    store.save(tmp_path / "idx")
    loaded = VectorStore.load(tmp_path / "idx")
    loaded.delete(np.arange(10**6, 10**6 + 1000, 2))
    assert _bookkeeping_bytes(loaded) / len(loaded) < 80


def test_a_label_saved_in_two_partitions_is_refused_on_load(data, tmp_path):
    from polaris_core.atomic import write_content_addressed

    store = _store(data)
    folder = tmp_path / "idx"
    store.save(folder)
    manifest_path = folder / vectorstore.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    files = manifest["partitions"]["checkpoint/sd15"]["files"]
    labels = np.load(folder / vectorstore.DATA_DIR / files["labels"]["name"])
    labels[0] = 5  # also in lora/sd15
    files["labels"] = write_content_addressed(folder / vectorstore.DATA_DIR, "p0000-labels", ".npy",
                                              lambda p: vectorstore._save_npy(p, labels))
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFolderError, match="label 5 is in partitions 'checkpoint/sd15' and 'lora/sd15'"):
        VectorStore.load(folder)
