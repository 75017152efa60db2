"""Index nodes: build from ComfyUI's folders, load by name, stop promptly on a UI interrupt."""
from __future__ import annotations

import shutil

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


def test_interrupt_stops_the_build_and_keeps_the_previous_index(pack, lora_folder):
    import comfy.model_management

    nodes = pack.nodes.index
    before = nodes.PolarisBuildIndex.execute("interrupt-test", scan_checkpoints=False, scan_loras=True).result[0]
    shutil.copy(next(lora_folder.glob("*.safetensors")), lora_folder / "another.safetensors")
    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            nodes.PolarisBuildIndex.execute("interrupt-test", scan_checkpoints=False, scan_loras=True)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    after = nodes.PolarisLoadIndex.execute("interrupt-test").result[0]
    assert sorted(e.id for e in after.entries) == sorted(e.id for e in before.entries)


def test_index_names_cannot_escape_the_index_folder(pack):
    from polaris_core.errors import UnsafePathError

    with pytest.raises(UnsafePathError):
        pack.nodes.index.PolarisLoadIndex.execute("../../etc")
