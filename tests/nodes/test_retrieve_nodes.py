"""Retrieve nodes: checkpoint first, then LoRAs of its family; the preview names each model's author."""
from __future__ import annotations


def _zoo():
    from polaris_core.zoo.entry import ZooEntry

    def entry(n, kind, name, family, author, prompt, role="style"):
        return ZooEntry(id=f"civitai:{n}", kind=kind, name=name, civitai_model_id=n, civitai_version_id=n,
                        base_family=family, role=role, author=author, example_prompts=[prompt])

    return [entry(1, "checkpoint", "Watercolour Base", "sd15", "Mira", "watercolour painting of a harbour"),
            entry(2, "checkpoint", "Photo XL", "sdxl", "", "photo of a city street at night"),
            entry(3, "lora", "Wet Ink Wash", "sd15", "Mira", "watercolour wash, soft paper texture"),
            entry(4, "lora", "Neon Glow XL", "sdxl", "Tam", "neon glow, night city"),
            entry(5, "lora", "Paper Grain", "sd15", "Oslo", "watercolour paper grain, harbour boats")]


def test_retrieve_nodes_chain_and_preview(pack):
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.index import ZooIndex
    from polaris_core.intent import Intent, InstructionType

    index = ZooIndex.build(_zoo(), None, text_encoder=load_text_encoder())
    intent = Intent(instruction="make it a watercolour painting", instruction_type=InstructionType.GLOBAL_STYLE,
                    subject="", generation_prompt="watercolour painting of a harbour")
    nodes = pack.nodes.retrieve
    first = nodes.PolarisRetrieveCheckpoint.execute(index, intent, top_k=2)
    candidates, name = first.result
    assert candidates.checkpoints[0].entry.name == "Watercolour Base" and name == "Watercolour Base"
    preview = first.ui["text"][0]
    assert "Watercolour Base (Mira)" in preview and "found by" in preview, preview

    second = nodes.PolarisRetrieveLoRA.execute(index, candidates, top_k=5)
    loras = second.result[0].style_loras
    assert loras and {c.entry.base_family for c in loras} == {"sd15"}  # the checkpoint's family only
    assert {c.entry.name for c in loras} == {"Wet Ink Wash", "Paper Grain"}
    assert "(Oslo)" in str(second.ui) and "Neon Glow" not in str(second.ui)


def test_tree_rerank_without_an_llm_plans_in_retrieval_order(pack, tmp_path):
    """The shipped workflows' default path must make an image without the optional LLM package."""
    import dataclasses

    from polaris_core.embed.text import load_text_encoder
    from polaris_core.index import ZooIndex
    from polaris_core.intent import Intent, InstructionType

    installed = []  # the planner plans installed files only, so each model has one here
    for entry in _zoo():
        path = tmp_path / f"{entry.id.replace(':', '-')}.safetensors"
        path.write_bytes(b"x")
        installed.append(dataclasses.replace(entry, source="local", file_format="safetensors", file_name=path.name,
                                             file_path=str(path)))
    index = ZooIndex.build(installed, None, text_encoder=load_text_encoder())
    intent = Intent(instruction="make it a watercolour painting", instruction_type=InstructionType.GLOBAL_STYLE,
                    subject="", generation_prompt="watercolour painting of a harbour")
    candidates = pack.nodes.retrieve.PolarisRetrieveCheckpoint.execute(index, intent, top_k=2).result[0]
    candidates = pack.nodes.retrieve.PolarisRetrieveLoRA.execute(index, candidates, top_k=5).result[0]
    rerank = pack.nodes.rerank.PolarisTreeRerank
    assert "llm" in rerank.INPUT_TYPES()["optional"]  # a graph may leave it unconnected
    plan, ranked = rerank.execute(candidates=candidates).result
    assert ranked is candidates
    assert plan.checkpoint.entry.name == candidates.checkpoints[0].entry.name
    assert plan.loras and plan.loras[0].entry.name == candidates.style_loras[0].entry.name
    assert any(note.startswith("no LLM: the plan follows the retrieval order") for note in plan.notes)


def test_load_llm_without_the_bundled_package_hands_tree_rerank_no_llm(pack, monkeypatch):
    from polaris_core.errors import ConfigError

    loaders = pack.nodes.loaders

    def not_installed():
        raise ConfigError("No LLM found.")

    monkeypatch.setattr("polaris_core.weights.default_llm_path", not_installed)
    out = loaders.PolarisLoadLLM.execute(model=loaders.BUNDLED, dtype="float32")
    assert out.result == (None,)
    assert "Tree Rerank keeps the retrieval order" in out.ui.as_dict()["text"][0]
