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
