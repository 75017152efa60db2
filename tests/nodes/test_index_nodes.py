"""Index nodes: build from ComfyUI's folders, load by name, stop promptly on a UI interrupt."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture()
def lora_folder(comfy, lora_files):
    import folder_paths

    folder = comfy / "models" / "loras-index-test"
    folder.mkdir(parents=True, exist_ok=True)
    for path in lora_files.values():
        shutil.copy(path, folder / path.name)
    folder_paths.add_model_folder_path("loras", str(folder), is_default=True)
    return folder


def test_build_then_load_index_by_name(pack, lora_folder):
    nodes = pack.nodes.index
    built = nodes.PolarisBuildIndex.execute("node-test", scan_checkpoints=False, scan_loras=True)
    index = built.result[0]
    assert index.counts().get("lora", 0) >= 2
    assert "node-test" in pack.nodes.comfy.indexes.index_names()
    loaded = nodes.PolarisLoadIndex.execute("node-test").result[0]
    assert sorted(e.id for e in loaded.entries) == sorted(e.id for e in index.entries)


def _new_lora(path, seed: int) -> None:
    """A small LoRA with its own tensor data (a copy would be the same model to the scanner)."""
    import numpy as np
    from safetensors.numpy import save_file

    key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    values = np.random.default_rng(seed).standard_normal((4, 768)).astype(np.float16)
    save_file({key: values}, str(path), metadata={"ss_output_name": f"interrupt probe {seed} {path.stem}",
                                                   "ss_tag_frequency": '{"1_x": {"unique%d": 1}}' % seed})


def test_interrupt_mid_build_stops_it_and_keeps_the_previous_index(pack, lora_folder):
    """The UI's interrupt arrives while the build runs (from its progress bar, once the scan is done
    and embedding begins), as a user pressing Cancel would send it."""
    import time

    import comfy.model_management
    import comfy.utils

    nodes = pack.nodes.index
    before = nodes.PolarisBuildIndex.execute("interrupt-test", scan_checkpoints=False, scan_loras=True).result[0]
    manifest = (pack.nodes.comfy.indexes.index_folder("interrupt-test") / "vectorstore.json").read_bytes()
    _new_lora(lora_folder / "another.safetensors", seed=time.time_ns() % 100_000)
    progress: list[tuple[int, int]] = []

    def ui_progress(value, total, preview=None, node_id=None):
        progress.append((value, total))
        if value * 3 >= total:  # the scan (first third) is done: the build is mid-way
            comfy.model_management.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(ui_progress)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            nodes.PolarisBuildIndex.execute("interrupt-test", scan_checkpoints=False, scan_loras=True)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        comfy.model_management.interrupt_current_processing(False)
        (lora_folder / "another.safetensors").unlink()
    assert progress and progress[0][0] * 3 < progress[0][1]  # it had started before the interrupt
    assert any(value * 3 >= total for value, total in progress)  # and the interrupt came mid-build
    assert (pack.nodes.comfy.indexes.index_folder("interrupt-test") / "vectorstore.json").read_bytes() == manifest
    after = nodes.PolarisLoadIndex.execute("interrupt-test").result[0]
    assert sorted(e.id for e in after.entries) == sorted(e.id for e in before.entries)


def test_catalog_paths_stay_inside_the_input_and_catalog_folders(pack, comfy, tmp_path):
    import folder_paths

    from polaris_core.demo import demo_catalog_path
    from polaris_core.errors import UnsafePathError

    seam = pack.nodes.comfy
    inside = Path(folder_paths.get_input_directory()) / "demo-catalog.jsonl"
    shutil.copy(demo_catalog_path(), inside)
    catalogs = Path(folder_paths.get_folder_paths("polaris")[0]) / "catalogs"
    catalogs.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_catalog_path(), catalogs / "zoo.jsonl")
    assert seam.indexes.resolve_catalog_paths("demo-catalog.jsonl\n\n  zoo.jsonl  \n") == [
        inside.resolve(), (catalogs / "zoo.jsonl").resolve()]
    assert seam.indexes.resolve_catalog_paths(str(inside)) == [inside.resolve()]

    outside = tmp_path / "secret.jsonl"
    outside.write_text("{}\n")
    (Path(folder_paths.get_input_directory()) / "link.jsonl").symlink_to(outside)
    messages = set()
    for name in ("/etc/passwd", "/no/such/file", str(outside), "../../../../../../etc/passwd", "link.jsonl",
                 "missing.jsonl", "a\x00b"):
        with pytest.raises(UnsafePathError) as exc:
            seam.indexes.resolve_catalog_paths(name)
        messages.add(str(exc.value).replace(repr(name[:200]), "NAME"))
    assert len(messages) == 1  # the same answer whether the file exists or not
    with pytest.raises(UnsafePathError):
        pack.nodes.index.PolarisBuildIndex.execute("catalog-test", scan_checkpoints=False, scan_loras=False,
                                                   catalogs="/etc/passwd")
    assert "catalog-test" not in seam.indexes.index_names()


def test_index_names_cannot_escape_the_index_folder(pack):
    from polaris_core.errors import UnsafePathError

    with pytest.raises(UnsafePathError):
        pack.nodes.index.PolarisLoadIndex.execute("../../etc")


def test_load_index_notices_a_rebuild(pack, lora_folder):
    nodes = pack.nodes.index
    load = nodes.PolarisLoadIndex
    assert load.validate_inputs("not-built-yet") is True  # built on its first run
    assert load.validate_inputs(pack.nodes.comfy.indexes.DEFAULT_INDEX) is True
    unsafe = load.validate_inputs("../elsewhere")
    assert isinstance(unsafe, str) and "use a plain folder name" in unsafe

    nodes.PolarisBuildIndex.execute("fingerprint-test", scan_checkpoints=False, scan_loras=True)
    assert load.validate_inputs("fingerprint-test") is True
    first = load.fingerprint_inputs("fingerprint-test")
    assert load.fingerprint_inputs("fingerprint-test") == first  # unchanged: ComfyUI keeps its cached output
    shutil.copy(next(lora_folder.glob("*.safetensors")), lora_folder / "rebuilt.safetensors")
    try:
        nodes.PolarisBuildIndex.execute("fingerprint-test", scan_checkpoints=False, scan_loras=True)
    finally:
        (lora_folder / "rebuilt.safetensors").unlink()
    assert load.fingerprint_inputs("fingerprint-test") != first  # rebuilt outside this node: loaded again
    shown = load.execute("fingerprint-test").ui.as_dict()["text"][0]
    assert "index: fingerprint-test" in shown and "image channel: off (built without CLIP)" in shown, shown


def test_load_index_with_clip_turns_the_image_channel_on_or_says_why_not(pack, lora_folder, clip_weights):
    from polaris_core.clip_model import load_clip

    import numpy as np
    from PIL import Image

    clip = load_clip(clip_weights, arch="ViT-B-32", cache=False)
    lora = next(lora_folder.glob("*.safetensors"))
    pixels = np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(lora.with_name(lora.stem + ".preview.png"))
    nodes = pack.nodes.index
    nodes.PolarisBuildIndex.execute("clip-test", scan_checkpoints=False, scan_loras=True, clip=clip)
    shown = nodes.PolarisLoadIndex.execute("clip-test", clip=clip).ui.as_dict()["text"][0]
    assert "image channel: on" in shown, shown
    without = nodes.PolarisBuildIndex.execute("no-clip-test", scan_checkpoints=False, scan_loras=True)
    assert without.result[0].has_image_channel is False
    shown = nodes.PolarisLoadIndex.execute("no-clip-test", clip=clip).ui.as_dict()["text"][0]
    assert "note: this index holds no preview-image vectors" in shown, shown


def _validate_prompt(monkeypatch, node_cls, inputs: dict) -> tuple[bool, list[dict]]:
    """ComfyUI's own validation of a one-node API prompt."""
    import asyncio

    import execution
    import nodes as comfy_nodes

    node_id = node_cls.GET_SCHEMA().node_id
    monkeypatch.setitem(comfy_nodes.NODE_CLASS_MAPPINGS, node_id, node_cls)
    ok, errors, _ = asyncio.run(execution.validate_inputs("test", {"1": {"class_type": node_id, "inputs": inputs}},
                                                          "1", {}))
    return ok, errors


def test_load_index_builds_a_missing_index_on_its_first_run(pack, lora_folder, monkeypatch):
    """A fresh install: the workflow names an index that was never built. Validation passes, the first run builds
    it from the model folders with the node's progress bar and shows the counts; the next run just loads it."""
    import comfy.utils

    from polaris_core.index import is_index_folder

    load = pack.nodes.index.PolarisLoadIndex
    folder = pack.nodes.comfy.indexes.index_folder("first-run-zoo")
    assert not is_index_folder(folder)
    assert _validate_prompt(monkeypatch, load, {"index_name": "first-run-zoo"}) == (True, [])
    missing = load.fingerprint_inputs("first-run-zoo")
    progress: list[tuple[int, int]] = []
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview=None, node_id=None:
                                             progress.append((value, total)))
    try:
        first = load.execute("first-run-zoo")
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    index = first.result[0]
    assert is_index_folder(folder) and index.counts().get("lora", 0) >= 2
    shown = first.ui.as_dict()["text"][0]
    assert "first run: built 'first-run-zoo' from models/checkpoints and models/loras" in shown, shown
    assert f"{len(index)} entries (" in shown and "added " in shown, shown
    assert len(progress) >= 3 and progress[-1][0] == progress[-1][1]  # the bar moved and ended full
    assert load.fingerprint_inputs("first-run-zoo") != missing  # the next run re-executes and loads it
    again = load.execute("first-run-zoo")
    assert "first run" not in again.ui.as_dict()["text"][0]
    assert sorted(e.id for e in again.result[0].entries) == sorted(e.id for e in index.entries)


def test_a_cancelled_first_run_build_writes_no_index_and_the_next_run_builds_it(pack, lora_folder):
    import comfy.model_management
    import comfy.utils

    from polaris_core.index import is_index_folder

    load = pack.nodes.index.PolarisLoadIndex
    folder = pack.nodes.comfy.indexes.index_folder("cancelled-first-run")
    progress: list[tuple[int, int]] = []

    def ui_progress(value, total, preview=None, node_id=None):
        progress.append((value, total))
        if value * 3 >= total:  # scanning done, embedding under way: the user presses Cancel
            comfy.model_management.interrupt_current_processing(True)

    comfy.utils.set_progress_bar_global_hook(ui_progress)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            load.execute("cancelled-first-run")
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
        comfy.model_management.interrupt_current_processing(False)
    assert progress and progress[0][0] * 3 < progress[0][1]  # it had started before the interrupt
    assert not is_index_folder(folder)  # nothing half-written that a later load would take for an index
    built = load.execute("cancelled-first-run")
    assert is_index_folder(folder) and "first run: built" in built.ui.as_dict()["text"][0]


def test_a_first_run_with_empty_model_folders_says_what_to_do(pack, comfy, monkeypatch, tmp_path):
    import folder_paths

    from polaris_core.errors import IndexFolderError

    for key in ("checkpoints", "loras"):
        empty = tmp_path / key
        empty.mkdir()
        _, extensions = folder_paths.folder_names_and_paths[key]
        monkeypatch.setitem(folder_paths.folder_names_and_paths, key, ([str(empty)], extensions))
    with pytest.raises(IndexFolderError) as exc:
        pack.nodes.index.PolarisLoadIndex.execute("nothing-to-index")
    message = str(exc.value)
    assert message.startswith("Load Zoo Index (Polaris): there is no index named 'nothing-to-index' yet")
    assert "Put your checkpoints and LoRAs in those folders" in message, message
    assert not pack.nodes.comfy.indexes.index_folder("nothing-to-index").exists() or \
        not any(pack.nodes.comfy.indexes.index_folder("nothing-to-index").iterdir())


# ---- issue 21: names, shrink refusals, concurrent builds, what reaches the browser -------------------------
@pytest.fixture()
def checkpoint_folder(comfy, sd15_checkpoint):
    import folder_paths

    folder = comfy / "models" / "checkpoints-index-test"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / sd15_checkpoint.name).exists():
        (folder / sd15_checkpoint.name).symlink_to(sd15_checkpoint)
    folder_paths.add_model_folder_path("checkpoints", str(folder), is_default=True)
    return folder


@pytest.mark.parametrize("name, says", [("x" * 300, "300 characters long"), (".hidden", "dot"),
                                        ("demo", "reserved for the shipped demo zoo"), ("bad\x1b[2J", "control")])
def test_build_zoo_index_refuses_bad_names_clearly(pack, lora_folder, name, says):
    from polaris_core.errors import PolarisError

    with pytest.raises(PolarisError, match=says) as refused:
        pack.nodes.index.PolarisBuildIndex.execute(name, scan_checkpoints=False, scan_loras=True)
    assert str(refused.value).startswith("Build Zoo Index (Polaris): index_name:")
    root = pack.nodes.comfy.indexes.index_root()
    assert not root.is_dir() or name not in [p.name for p in root.iterdir()]
    if name != "demo":
        assert isinstance(pack.nodes.index.PolarisLoadIndex.validate_inputs(name), str)


def test_a_hidden_index_folder_is_not_listed(pack, lora_folder):
    from polaris_core.demo import demo_catalog_path
    from polaris_core.pipeline import build_or_update_index

    seam = pack.nodes.comfy
    build_or_update_index(seam.indexes.index_root() / ".hidden", catalogs=[demo_catalog_path()],
                          cache_dir=seam.indexes.cache_folder())
    assert ".hidden" not in seam.indexes.index_names() and ".hidden" not in seam.indexes.index_choices("(demo zoo)")


def test_unticking_scan_loras_asks_to_tick_allow_removing_entries(pack, comfy, lora_folder, checkpoint_folder):
    from polaris_core.errors import IndexFolderError

    build = pack.nodes.index.PolarisBuildIndex.execute
    index = build("shrink-test", scan_checkpoints=True, scan_loras=True).result[0]
    counts = index.counts()
    assert counts["checkpoint"] >= 1 and counts["lora"] >= 2 * counts["checkpoint"], counts
    with pytest.raises(IndexFolderError) as refused:
        build("shrink-test", scan_checkpoints=True, scan_loras=False)
    message = str(refused.value)
    assert "tick allow_removing_entries on Build Zoo Index (Polaris)" in message, message
    assert "--allow-shrink" not in message and str(comfy) not in message
    assert "models/polaris/indexes/shrink-test" in message
    kept = pack.nodes.index.PolarisLoadIndex.execute("shrink-test").result[0]
    assert kept.counts() == counts
    shrunk = build("shrink-test", scan_checkpoints=True, scan_loras=False, allow_removing_entries=True).result[0]
    assert shrunk.counts()["lora"] == 0


def test_a_foreign_folder_is_named_relatively_and_its_files_are_not_listed(pack, comfy, lora_folder):
    from polaris_core.errors import IndexFolderError

    notes = pack.nodes.comfy.indexes.index_root() / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "my-notes.txt").write_text("private")
    with pytest.raises(IndexFolderError) as refused:
        pack.nodes.index.PolarisBuildIndex.execute("notes", scan_checkpoints=False, scan_loras=True)
    message = str(refused.value)
    assert "models/polaris/indexes/notes is not empty" in message, message
    assert "my-notes.txt" not in message and str(comfy) not in message
    assert sorted(p.name for p in notes.iterdir()) == ["my-notes.txt"]


def test_a_sidebar_build_and_a_build_zoo_index_node_never_write_one_folder_together(pack, comfy, lora_folder,
                                                                                     monkeypatch):
    """The sidebar's build (its real route code, in its worker thread) stops at its commit point; a Build Zoo
    Index node for the same index meanwhile is refused and says who builds it."""
    import threading

    import polaris_core.vectorstore as vectorstore
    from polaris_core import zoo_service as zoo
    from polaris_core.errors import PolarisError

    routes = pack.nodes.routes
    events: list[dict] = []
    monkeypatch.setattr(routes, "_builds", routes.new_builds(events.append))
    at_commit, go = threading.Event(), threading.Event()
    real_write = vectorstore.write_json_atomic

    def paused_write(path, obj, **kwargs):
        if threading.current_thread().name.startswith("polaris-build-"):
            at_commit.set()
            assert go.wait(120)
        return real_write(path, obj, **kwargs)

    monkeypatch.setattr(vectorstore, "write_json_atomic", paused_write)
    routes._start_build(zoo.build_request({"name": "race-test", "scan_checkpoints": False}))
    try:
        assert at_commit.wait(300), routes._builds.status()
        with pytest.raises(PolarisError) as refused:
            pack.nodes.index.PolarisBuildIndex.execute("race-test", scan_checkpoints=False, scan_loras=True)
        assert type(refused.value).__name__ == "IndexBusyError"
        message = str(refused.value)
        assert "models/polaris/indexes/race-test is being built by a build from the Zoo sidebar's Indexes panel" \
            in message, message
        assert str(comfy) not in message
    finally:
        go.set()
        routes._builds.wait(300)
    assert routes._builds.status()["state"] == "done", routes._builds.status()
    loaded = pack.nodes.index.PolarisLoadIndex.execute("race-test").result[0]
    assert loaded.counts()["lora"] >= 2


def test_build_status_never_shows_server_paths(pack, comfy, lora_folder, monkeypatch):
    from polaris_core import zoo_service as zoo

    routes, seam = pack.nodes.routes, pack.nodes.comfy
    events: list[dict] = []
    monkeypatch.setattr(routes, "_builds", routes.new_builds(events.append))
    notes = seam.indexes.index_root() / "status-notes"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "my-notes.txt").write_text("private")
    routes._start_build(zoo.build_request({"name": "status-notes", "scan_checkpoints": False}))
    routes._builds.wait(300)
    status = routes._builds.status()
    assert status["state"] == "failed" and "models/polaris/indexes/status-notes is not empty" in status["message"]
    for shown in [status, *events]:
        text = json.dumps(shown)
        assert str(comfy) not in text and "my-notes.txt" not in text, text

    def broken(on_step, check_cancel):
        open(seam.indexes.index_root() / "no-such-folder" / "file.txt")  # an OSError whose text holds the full path

    routes._builds.start("broken", seam.indexes.index_root() / "broken", broken)
    routes._builds.wait(60)
    status = routes._builds.status()
    assert status["state"] == "failed" and "internal error" in status["message"] and str(comfy) not in status["message"]
    assert seam.folders.public_message(f"see {seam.indexes.index_root()}/x") == "see models/polaris/indexes/x"


def test_the_sidebar_plan_reranks_with_a_managed_llm_while_searches_go_on(pack, monkeypatch):
    """A plan with the LLM rerank holds the index's search lock for retrieval only: a search of the same index
    completes while the rerank is still scoring. The LLM is the managed one Load LLM (Polaris) gives."""
    import threading

    import comfy.model_management as mm

    from polaris_core import zoo_service as zoo
    from polaris_core.rerank import TreeReranker

    routes, seam = pack.nodes.routes, pack.nodes.comfy
    monkeypatch.setattr(zoo, "_RERANKER", [])
    reranking, searched = threading.Event(), threading.Event()
    real_rerank_all = TreeReranker.rerank_all

    def rerank_all(self, candidates, keep=3, *, on_step=None, check_cancel=None):
        def step(i, n):
            if i > 0 and not reranking.is_set():  # the first candidate is scored: the rerank is under way
                reranking.set()
                searched.wait(120)
            if on_step:
                on_step(i, n)
        return real_rerank_all(self, candidates, keep, on_step=step, check_cancel=check_cancel)

    monkeypatch.setattr(TreeReranker, "rerank_all", rerank_all)
    real_init = TreeReranker.__init__

    def judging_init(self, llm, **options):  # the bundled SmolLM2 is measured at weight 0 and skipped: make it judge
        options.setdefault("judge_weight", 1.0)
        real_init(self, llm, **options)

    monkeypatch.setattr(TreeReranker, "__init__", judging_init)
    result: dict = {}
    plan = threading.Thread(target=lambda: result.update(
        routes._plan("demo", "make it look like a ukiyo-e print", True)))
    plan.start()
    try:
        assert reranking.wait(600), "the rerank never started"
        found: dict = {}
        search = threading.Thread(target=lambda: found.update(
            routes._search(zoo.search_request({"index": "demo", "query": "ukiyoe print", "kind": "lora"}))))
        search.start()
        search.join(60)
        assert not search.is_alive(), "the search waited for the LLM rerank"
        assert found["results"]
    finally:
        searched.set()
        plan.join(600)
    assert result["reranked"] is True and result["candidates"]["checkpoint"]
    llm = zoo._RERANKER[0].llm
    assert isinstance(llm.manager, seam.models.ComfyDeviceManager)
    assert any(entry.model is llm.manager.patcher for entry in mm.current_loaded_models)


def test_a_damaged_index_is_named_relatively_on_load_zoo_index(pack, comfy, lora_folder):
    from polaris_core.errors import IndexFolderError

    nodes = pack.nodes.index
    nodes.PolarisBuildIndex.execute("damaged-test", scan_checkpoints=False, scan_loras=True)
    entries = next((pack.nodes.comfy.indexes.index_root() / "damaged-test" / "zoo").glob("entries-*.jsonl"))
    entries.write_bytes(entries.read_bytes()[:-5])
    with pytest.raises(IndexFolderError) as refused:
        nodes.PolarisLoadIndex.execute("damaged-test")
    message = str(refused.value)
    assert "models/polaris/indexes/damaged-test/zoo/entries-" in message and str(comfy) not in message, message
