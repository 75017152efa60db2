"""What nodes show: ranked tables with every score and channel; image queries that fell back to text say so."""
from __future__ import annotations

from polaris_core.candidates import Candidate, Candidates
from polaris_core.intent import InstructionType, Intent
from polaris_core.report import candidates_table
from polaris_core.zoo.entry import ZooEntry


def _entry(n: int, kind: str, name: str, family: str = "sd15", prompt: str = "") -> ZooEntry:
    return ZooEntry(id=f"civitai:{n}", kind=kind, name=name, civitai_model_id=n, civitai_version_id=n,
                    base_family=family, role="style", author="Mira" if n == 1 else "",
                    example_prompts=[prompt] if prompt else [])


def test_ranked_table_shows_slot_family_every_score_and_the_channels_that_found_it():
    ranked = Candidates(intent=None, checkpoints=[
        Candidate(_entry(1, "checkpoint", "Watercolour Base"), "checkpoint", 1.25,
                  {"dense": 0.61, "lexical": 0.4}, rerank_score=0.83, final_score=0.9),
    ], style_loras=[Candidate(_entry(2, "lora", "Wet Ink", "sdxl"), "style_lora", -0.5, {"image": 0.33})],
        notes=["the instruction asks for an image query, but no image was given; searched by text instead"])
    table = candidates_table(ranked)
    checkpoint_row = next(line for line in table.splitlines() if "Watercolour Base" in line)
    for shown in ("(Mira)", "sd15", "+1.25", "+0.83", "+0.90", "text 0.61 words 0.40"):
        assert shown in checkpoint_row, (shown, checkpoint_row)
    lora_row = next(line for line in table.splitlines() if "Wet Ink" in line)
    assert "sdxl" in lora_row and "-0.50" in lora_row and "image 0.33" in lora_row
    assert lora_row.count(" - ") >= 1  # not reranked yet: no LLM or final score
    assert "checkpoints (1)" in table and "style LoRAs (1)" in table
    assert "note: the instruction asks for an image query" in table


def test_image_query_falls_back_to_text_with_a_note_when_no_image_channel():
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import retrieve

    zoo = [_entry(1, "checkpoint", "Watercolour Base", prompt="watercolour painting of a harbour"),
           _entry(2, "lora", "Wet Ink", prompt="watercolour wash, soft paper")]
    index = ZooIndex.build(zoo, None, text_encoder=load_text_encoder())
    intent = Intent(instruction="paint it like this", instruction_type=InstructionType.STYLE_REFERENCE, subject="",
                    generation_prompt="watercolour painting", style_checkpoint_query="image",
                    style_lora_query="image")
    import numpy as np

    picture = np.full((32, 32, 3), 128, np.uint8)
    found = retrieve(index, intent, picture, k_checkpoints=1, k_loras=1)
    assert found.checkpoints and found.style_loras  # still answered, by text
    assert found.notes == ["the instruction asks for an image query, but no CLIP model is attached to the index; "
                           "searched by text instead"]
    text_only = retrieve(index, Intent(instruction="x", instruction_type=InstructionType.GLOBAL_STYLE, subject="",
                                       generation_prompt="watercolour painting"), None, k_checkpoints=1, k_loras=1)
    assert text_only.notes == []


def test_catalog_only_candidates_are_marked_not_installed_with_their_civitai_page(tmp_path):
    installed = _entry(3, "lora", "Ink Local")
    installed.file_name, installed.source = "ink.safetensors", "local"
    table = candidates_table(Candidates(intent=None, style_loras=[
        Candidate(_entry(2, "lora", "Wet Ink"), "style_lora", 0.9), Candidate(installed, "style_lora", 0.5)]))
    assert "not installed" in next(line for line in table.splitlines() if "Wet Ink" in line)
    assert "local" in next(line for line in table.splitlines() if "Ink Local" in line)
    assert "#1 https://civitai.com/models/2?modelVersionId=2" in table
