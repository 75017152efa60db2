"""Errors on the loader nodes speak ComfyUI's language: they name the node and widget, and say which model folder
to fill, never CLI flags. Checked through ComfyUI's own prompt validation where it applies."""
from __future__ import annotations

import asyncio
import shutil

import pytest

SAM_HINT = "put a SAM model (.safetensors) in models/sams and press R to refresh"


@pytest.fixture
def fresh_models(comfy, pack, monkeypatch, tmp_path):
    """A server whose model folders are empty: Polaris's folders and ComfyUI's checkpoints/loras point at them."""
    import folder_paths

    seam = pack.nodes.comfy
    models = tmp_path / "models"
    monkeypatch.setattr(folder_paths, "models_dir", str(models))
    places = {seam.folders.SAM_KEY: models / "sams", seam.folders.POLARIS_CLIP_KEY: models / "polaris" / "clip",
              seam.folders.POLARIS_LLM_KEY: models / "polaris" / "llm", "checkpoints": models / "checkpoints",
              "loras": models / "loras"}
    for key, folder in places.items():
        folder.mkdir(parents=True)
        _, extensions = folder_paths.folder_names_and_paths[key]
        monkeypatch.setitem(folder_paths.folder_names_and_paths, key, ([str(folder)], extensions))
        monkeypatch.delitem(folder_paths.filename_list_cache, key, raising=False)
    return places


def _validate(monkeypatch, node_cls, inputs: dict) -> tuple[bool, list[dict]]:
    """ComfyUI's own per-node validation of an API-format prompt (what the UI shows on the node)."""
    import execution
    import nodes as comfy_nodes

    node_id = node_cls.GET_SCHEMA().node_id
    monkeypatch.setitem(comfy_nodes.NODE_CLASS_MAPPINGS, node_id, node_cls)
    prompt = {"1": {"class_type": node_id, "inputs": inputs}}
    ok, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    return ok, errors


def test_empty_model_folders_say_which_folder_to_fill(pack, fresh_models, monkeypatch):
    loaders = pack.nodes.loaders
    sam_ok, sam_errors = _validate(monkeypatch, loaders.PolarisLoadSAM, {"sam_name": "sam_vit_b_01ec64.safetensors"})
    assert not sam_ok and len(sam_errors) == 1
    assert sam_errors[0]["details"] == ("sam_name - Load SAM (Polaris): there is no model in models/sams for "
                                        f"sam_name; {SAM_HINT}.")
    clip_ok, clip_errors = _validate(monkeypatch, loaders.PolarisLoadCLIP,
                                     {"clip_name": "open_clip_model.safetensors", "architecture": "ViT-B-32"})
    assert not clip_ok and "Load CLIP (Polaris): there is no model in models/polaris/clip for clip_name; put an " \
                           "open_clip CLIP model (.safetensors) in models/polaris/clip" in clip_errors[0]["details"]
    llm_ok, llm_errors = _validate(monkeypatch, loaders.PolarisLoadLLM, {"model": "qwen2.5-0.5b", "dtype": "float32"})
    assert not llm_ok and "Load LLM (Polaris): there is no model in models/polaris/llm for model; put a " \
                          "transformers model folder or a .gguf file in models/polaris/llm" in llm_errors[0]["details"]
    for error in sam_errors + clip_errors + llm_errors:
        assert "--" not in error["details"] and "rebuild" not in error["details"] and "polaris " not in error["details"]
    assert _validate(monkeypatch, loaders.PolarisLoadLLM, {"model": loaders.BUNDLED, "dtype": "float32"}) == (True, [])


def test_a_model_removed_while_the_server_runs_is_a_clear_node_error(pack, fresh_models, monkeypatch,
                                                                     format_loras):
    from polaris_core.errors import ModelFileError

    loaders = pack.nodes.loaders
    sam_file = fresh_models[pack.nodes.comfy.folders.SAM_KEY] / "sam-vit-b.safetensors"
    shutil.copy(format_loras["lokr"], sam_file)  # any small .safetensors: only its presence matters here
    before = loaders.PolarisLoadSAM.fingerprint_inputs(sam_name=sam_file.name)
    assert _validate(monkeypatch, loaders.PolarisLoadSAM, {"sam_name": sam_file.name}) == (True, [])

    shutil.copy(format_loras["loha"], sam_file)  # replaced: ComfyUI must not reuse the old output
    assert loaders.PolarisLoadSAM.fingerprint_inputs(sam_name=sam_file.name) != before
    (fresh_models[pack.nodes.comfy.folders.SAM_KEY] / "other.safetensors").write_bytes(b"")
    sam_file.unlink()
    assert loaders.PolarisLoadSAM.fingerprint_inputs(sam_name=sam_file.name) == "missing"
    message = f"Load SAM (Polaris): sam_name 'sam-vit-b.safetensors' is not in models/sams; {SAM_HINT}."
    ok, errors = _validate(monkeypatch, loaders.PolarisLoadSAM, {"sam_name": sam_file.name})
    assert not ok and errors[0]["details"] == f"sam_name - {message}"
    with pytest.raises(ModelFileError) as raised:  # gone between validation and execution
        loaders.PolarisLoadSAM.execute(sam_file.name)
    assert str(raised.value) == message


def test_a_file_of_the_wrong_kind_names_the_node_and_widget(pack, fresh_models, format_loras):
    from polaris_core.errors import ModelFileError

    loaders = pack.nodes.loaders
    shutil.copy(format_loras["lokr"], fresh_models[pack.nodes.comfy.folders.SAM_KEY] / "not-a-sam.safetensors")
    with pytest.raises(ModelFileError, match=r"^Load SAM \(Polaris\): sam_name 'not-a-sam.safetensors': .*no SAM "
                                             r"image encoder"):
        loaders.PolarisLoadSAM.execute("not-a-sam.safetensors")
    shutil.copy(format_loras["lokr"], fresh_models[pack.nodes.comfy.folders.POLARIS_CLIP_KEY] / "not-clip.safetensors")
    with pytest.raises(ModelFileError, match=r"^Load CLIP \(Polaris\): clip_name 'not-clip.safetensors': "):
        loaders.PolarisLoadCLIP.execute("not-clip.safetensors", "ViT-B-32")


def test_llm_list_shows_model_folders_and_gguf_files_not_their_parts(pack, fresh_models, smollm2_folder):
    seam = pack.nodes.comfy
    llm_dir = fresh_models[seam.folders.POLARIS_LLM_KEY]
    (llm_dir / "smollm2").symlink_to(smollm2_folder, target_is_directory=True)
    (llm_dir / "tiny.Q4_0.gguf").write_bytes(b"GGUF")
    (llm_dir / "notes.txt").write_text("not a model")
    assert seam.folders.llm_names() == ["smollm2", "tiny.Q4_0.gguf"]
    assert seam.folders.llm_path("smollm2", node="Load LLM (Polaris)", widget="model") == str(llm_dir / "smollm2")


def test_parse_with_the_transformers_backend_needs_a_connected_llm(pack):
    from polaris_core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"Parse Instruction \(Polaris\): .*connect a Load LLM \(Polaris\) node "
                                          r"to the llm input"):
        pack.nodes.parse.PolarisParseInstruction.execute("Turn the dog into a corgi", "transformers")


def test_a_plan_naming_a_missing_checkpoint_says_what_to_do_in_comfyui(pack, fresh_models):
    from polaris_core.errors import ModelFileError

    with pytest.raises(ModelFileError, match=r"^Apply Plan \(Polaris\): the plan names the checkpoint 'gone.safetensors', "
                                             r"which is not in models/checkpoints .*Build Zoo Index \(Polaris\)"):
        pack.nodes.comfy.sampling.load_checkpoint("gone.safetensors")
