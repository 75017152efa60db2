"""Index nodes: build from ComfyUI's folders, load by name, stop promptly on a UI interrupt."""
from __future__ import annotations

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
    assert "node-test" in pack.nodes.glue.index_names()
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
    manifest = (pack.nodes.glue.index_folder("interrupt-test") / "vectorstore.json").read_bytes()
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
    assert (pack.nodes.glue.index_folder("interrupt-test") / "vectorstore.json").read_bytes() == manifest
    after = nodes.PolarisLoadIndex.execute("interrupt-test").result[0]
    assert sorted(e.id for e in after.entries) == sorted(e.id for e in before.entries)


def test_catalog_paths_stay_inside_the_input_and_catalog_folders(pack, comfy, tmp_path):
    import folder_paths

    from polaris_core.demo import demo_catalog_path
    from polaris_core.errors import UnsafePathError

    glue = pack.nodes.glue
    inside = Path(folder_paths.get_input_directory()) / "demo-catalog.jsonl"
    shutil.copy(demo_catalog_path(), inside)
    catalogs = Path(folder_paths.get_folder_paths("polaris")[0]) / "catalogs"
    catalogs.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_catalog_path(), catalogs / "zoo.jsonl")
    assert glue.resolve_catalog_paths("demo-catalog.jsonl\n\n  zoo.jsonl  \n") == [
        inside.resolve(), (catalogs / "zoo.jsonl").resolve()]
    assert glue.resolve_catalog_paths(str(inside)) == [inside.resolve()]

    outside = tmp_path / "secret.jsonl"
    outside.write_text("{}\n")
    (Path(folder_paths.get_input_directory()) / "link.jsonl").symlink_to(outside)
    messages = set()
    for name in ("/etc/passwd", "/no/such/file", str(outside), "../../../../../../etc/passwd", "link.jsonl",
                 "missing.jsonl", "a\x00b"):
        with pytest.raises(UnsafePathError) as exc:
            glue.resolve_catalog_paths(name)
        messages.add(str(exc.value).replace(repr(name[:200]), "NAME"))
    assert len(messages) == 1  # the same answer whether the file exists or not
    with pytest.raises(UnsafePathError):
        pack.nodes.index.PolarisBuildIndex.execute("catalog-test", scan_checkpoints=False, scan_loras=False,
                                                   catalogs="/etc/passwd")
    assert "catalog-test" not in glue.index_names()


def test_index_names_cannot_escape_the_index_folder(pack):
    from polaris_core.errors import UnsafePathError

    with pytest.raises(UnsafePathError):
        pack.nodes.index.PolarisLoadIndex.execute("../../etc")


def test_load_index_notices_a_rebuild(pack, lora_folder):
    nodes = pack.nodes.index
    load = nodes.PolarisLoadIndex
    assert load.validate_inputs("not-built-yet") is True  # built on its first run
    assert load.validate_inputs(pack.nodes.glue.DEFAULT_INDEX) is True
    unsafe = load.validate_inputs("../elsewhere")
    assert isinstance(unsafe, str) and "not a valid index name" in unsafe

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
    folder = pack.nodes.glue.index_folder("first-run-zoo")
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
    folder = pack.nodes.glue.index_folder("cancelled-first-run")
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
    assert not pack.nodes.glue.index_folder("nothing-to-index").exists() or \
        not any(pack.nodes.glue.index_folder("nothing-to-index").iterdir())
