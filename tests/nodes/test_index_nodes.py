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


def test_load_index_notices_a_rebuild_and_explains_a_missing_index(pack, lora_folder):
    nodes = pack.nodes.index
    load = nodes.PolarisLoadIndex
    missing = load.validate_inputs("not-built-yet")
    assert isinstance(missing, str) and "Build Zoo Index (Polaris)" in missing and "not-built-yet" in missing
    assert load.validate_inputs(pack.nodes.glue.DEFAULT_INDEX) is True or "Build Zoo Index" in \
        load.validate_inputs(pack.nodes.glue.DEFAULT_INDEX)

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
