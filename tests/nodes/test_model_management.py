"""LLM, CLIP and SAM are ComfyUI-managed models: loaded on the offload device, registered with
comfy.model_management when they work, unloadable by free_memory, and still usable afterwards."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from polaris_core.intent import Intent, InstructionType


@pytest.fixture(scope="module")
def helper_folders(comfy, pack, clip_weights, sam_weights, smollm2_folder):
    """The fixture models placed in the folders the loader nodes list (models/polaris/clip, models/sams, ...)."""
    seam = pack.nodes.comfy
    models = comfy / "models"
    places = {
        models / "polaris" / "clip" / "clip-vit-b-32.safetensors": clip_weights,
        models / "sams" / "sam-vit-b.safetensors": sam_weights,
        models / "polaris" / "llm" / "smollm2": smollm2_folder,
    }
    for link, target in places.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(target, target_is_directory=target.is_dir())
    seam.folders.register_model_folders()
    return places


@pytest.fixture(scope="module")
def loaded_helpers(pack, helper_folders):
    loaders = pack.nodes.loaders
    llm = loaders.PolarisLoadLLM.execute("smollm2", "float32").result[0]
    clip = loaders.PolarisLoadCLIP.execute("clip-vit-b-32.safetensors", "ViT-B-32").result[0]
    sam = loaders.PolarisLoadSAM.execute("sam-vit-b.safetensors").result[0]
    return llm, clip, sam


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _registered(model) -> bool:
    import comfy.model_management as mm

    return any(entry.model is model.manager.patcher for entry in mm.current_loaded_models)


def _scene() -> torch.Tensor:
    image = np.full((96, 128, 3), 30, dtype=np.uint8)
    image[20:70, 30:90] = (230, 230, 230)
    return torch.from_numpy(image.astype(np.float32) / 255.0)[None]


def _use_all(pack, llm, clip, sam):
    """Parse with the connected LLM, then mask with SAM + CLIP: each model does its own work."""
    intent = pack.nodes.parse.PolarisParseInstruction.execute("Turn the dog into a corgi", "transformers",
                                                              llm=llm).result[0]
    assert intent.backend == "transformers"
    square = Intent(instruction="replace the square", instruction_type=InstructionType.REPLACE, subject="square",
                    generation_prompt="a square")
    _, result = pack.nodes.mask.PolarisMaskRegion.execute(
        _scene(), square, clip=clip, sam=sam, points_per_side=2, min_predicted_iou=0.0, min_stability=0.0,
        max_overlap=1.0, grow_px=0.0, feather_px=0.0).result
    assert result.method == "sam_clip"
    return intent, result


def test_loaders_give_managed_models_on_the_offload_device(pack, loaded_helpers):
    import comfy.model_management as mm

    for model, offload in zip(loaded_helpers, (mm.text_encoder_offload_device(), mm.text_encoder_offload_device(),
                                                mm.unet_offload_device())):
        patcher = model.manager.patcher
        assert patcher.offload_device == offload and patcher.load_device == mm.get_torch_device()
        assert model.device == str(offload)
        assert next(patcher.model.parameters()) is next(model.model.parameters())  # the very same weights
        assert patcher.model_size() > 10_000_000


def test_node_path_keeps_no_module_level_model_cache(pack, helper_folders, loaded_helpers):
    from polaris_core import clip_model, llm, sam_model

    caches = (llm._load_cached, clip_model._load_clip_cached, sam_model._load_sam_cached)
    before = [cache.cache_info().currsize for cache in caches]
    again = pack.nodes.loaders.PolarisLoadSAM.execute("sam-vit-b.safetensors").result[0]
    assert again is not loaded_helpers[2] and again.manager.patcher is not loaded_helpers[2].manager.patcher
    assert [cache.cache_info().currsize for cache in caches] == before


def test_models_register_when_used_and_free_memory_unloads_them(pack, loaded_helpers):
    import comfy.model_management as mm

    llm, clip, sam = loaded_helpers
    mm.unload_all_models()
    assert not any(_registered(m) for m in loaded_helpers)

    intent, first = _use_all(pack, llm, clip, sam)
    assert all(_registered(m) for m in loaded_helpers)
    assert all(m.manager.patcher.loaded_size() == m.manager.patcher.model_size() for m in loaded_helpers)

    unloaded = mm.free_memory(1e30, mm.get_torch_device())
    assert {id(entry.model) for entry in unloaded} >= {id(m.manager.patcher) for m in loaded_helpers}
    assert not any(_registered(m) for m in loaded_helpers)
    for model in loaded_helpers:
        assert model.manager.patcher.loaded_size() == 0
        assert model.device == str(model.manager.patcher.offload_device)  # weights back on the offload device

    again_intent, again = _use_all(pack, llm, clip, sam)  # they still work, and come back under management
    assert again_intent.to_dict() == intent.to_dict()
    assert [c.score for c in again.candidates] == pytest.approx([c.score for c in first.candidates], abs=1e-5)
    assert all(_registered(m) for m in loaded_helpers)

    mm.unload_all_models()
    assert not any(_registered(m) for m in loaded_helpers)


def test_tree_rerank_loads_its_llm_through_comfy_and_moves_the_progress_bar(pack, loaded_helpers):
    import comfy.model_management as mm
    import comfy.utils

    from polaris_core.candidates import Candidate, Candidates
    from polaris_core.zoo.entry import ZooEntry

    llm = loaded_helpers[0]
    intent = Intent(instruction="turn the dog into a tiger", instruction_type=InstructionType.REPLACE,
                    subject="dog", generation_prompt="a tiger")

    def candidate(i: int, kind: str, slot: str, text: str) -> Candidate:
        entry = ZooEntry(id=f"t:{i}", kind=kind, name=f"Model {i}", role="object" if slot == "object_lora" else
                         "style", base_family="sd15", description=text)
        return Candidate(entry=entry, slot=slot, score=1.0 - i / 10)

    candidates = Candidates(
        intent=intent,
        checkpoints=[candidate(0, "checkpoint", "checkpoint", "Photorealistic checkpoint.")],
        style_loras=[candidate(1, "lora", "style_lora", "Watercolor style.")],
        object_loras=[candidate(i, "lora", "object_lora", t) for i, t in
                      enumerate(["Bengal tiger LoRA.", "Golden retriever.", "Tiger costume."], start=2)],
    )
    mm.unload_all_models()
    progress: list[tuple[int, int]] = []
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: progress.append((value, total)))
    try:
        plan, ranked = pack.nodes.rerank.PolarisTreeRerank.execute(llm=llm, candidates=candidates, keep=1,
                                                                 judge_weight=1.0).result
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    assert _registered(llm)
    assert len(ranked.object_loras) == 3 and plan is not None
    values = [v for v, _ in progress]
    totals = {t for _, t in progress}
    assert len(totals) == 1 and values[-1] == totals.pop()
    assert values == sorted(values) and len(set(values)) >= 4  # moves while it works, never back
