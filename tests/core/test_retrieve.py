"""search() / retrieve() on a real-catalog subset, the image channel, and the search/index CLIs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from polaris_core.candidates import Candidates
from polaris_core.cli import main
from polaris_core.errors import EmptyZooError
from polaris_core.index import ZooIndex
from polaris_core.intent import Intent, InstructionType
from polaris_core.retrieve import SearchOptions, retrieve, search
from polaris_core.zoo.entry import ZooEntry
from tests.core.retrieval_fixtures import catalog_subset, embedding_cache


@pytest.fixture(scope="module")
def index(shared_data, fixture_cache, tmp_path_factory):
    folder = tmp_path_factory.mktemp("retrieve-index")
    return ZooIndex.build(catalog_subset(shared_data, fixture_cache), folder, cache=embedding_cache(fixture_cache))


@pytest.fixture(scope="module")
def demo_index(fixture_cache, tmp_path_factory):
    """The shipped demo zoo's index: CLI tests need only the text encoder, not the shared data."""
    from polaris_core.demo import demo_catalog_path
    from polaris_core.zoo.civitai import load_catalog

    folder = tmp_path_factory.mktemp("demo-index")
    return ZooIndex.build(load_catalog([demo_catalog_path()]), folder, cache=embedding_cache(fixture_cache))


def test_results_are_grouped_per_model_and_scored(index):
    results = search(index, "1girl, portrait, detailed face, realistic", kind="lora", k=10)
    assert 0 < len(results) <= 10
    models = [c.entry.civitai_model_id for c in results]
    assert len(models) == len(set(models))  # versions collapsed
    assert all(c.entry.kind == "lora" for c in results)
    assert [c.score for c in results] == sorted((c.score for c in results), reverse=True)
    assert {"lexical", "dense"} <= set(results[0].channel_scores)
    assert all(c.slot in ("style_lora", "object_lora") for c in results)


def test_each_channel_alone_and_filters(index):
    query = next(e for e in index.entries if e.kind == "lora" and e.example_prompts).example_prompts[0]
    for channels in (("lexical",), ("dense",)):
        found = search(index, query, kind="lora", k=5, options=SearchOptions(channels=channels))
        assert found and set(found[0].channel_scores) <= set(channels) | {"popularity"}
    family = index.entries[0].base_family
    assert all(c.entry.base_family in (family, "unknown")
               for c in search(index, query, kind="lora", k=20, base_family=family))
    assert all(c.entry.role == "style" for c in search(index, query, kind="lora", k=20, role="style"))
    assert search(index, "", kind="lora") == []


def test_checkpoints_are_found_by_their_prompts(index):
    probes = [e for e in index.entries if e.kind == "checkpoint" and e.example_prompts][:5]
    hits = sum(search(index, e.example_prompts[0], kind="checkpoint", k=3)[0].entry.civitai_model_id
               == e.civitai_model_id for e in probes)
    assert hits >= len(probes) - 1


def _intent(kind: InstructionType, subject: str, prompt: str) -> Intent:
    return Intent(instruction=prompt, instruction_type=kind, subject=subject, generation_prompt=prompt)


def test_two_level_retrieval_fills_the_right_slots(index):
    style = retrieve(index, _intent(InstructionType.GLOBAL_STYLE, "", "anime style illustration, vivid colors"),
                     k_checkpoints=3, k_loras=5)
    assert isinstance(style, Candidates)
    assert 0 < len(style.checkpoints) <= 3 and all(c.slot == "checkpoint" for c in style.checkpoints)
    assert style.style_loras and not style.object_loras
    family = style.checkpoints[0].entry.base_family
    assert all(c.entry.base_family in (family, "unknown") for c in style.style_loras)
    assert all(c.slot == "style_lora" for c in style.style_loras)
    assert "affinity" in style.style_loras[0].channel_scores

    add = retrieve(index, _intent(InstructionType.ADD, "a knight in armor", "a knight in shining armor"),
                   k_loras=4)
    assert add.object_loras and not add.style_loras and len(add.object_loras) <= 4
    removed = retrieve(index, _intent(InstructionType.REMOVE, "the cup", "a table"))
    assert removed.checkpoints and not removed.style_loras and not removed.object_loras
    json.dumps(add.to_dict())  # the contract the reranker and nodes read


def test_the_two_levels_run_apart_as_the_nodes_do(index):
    from polaris_core.retrieve import retrieve_checkpoints, retrieve_loras

    intent = _intent(InstructionType.GLOBAL_STYLE, "", "oil painting of a harbour at dusk")
    level_one = retrieve_checkpoints(index, intent, k=2)
    assert len(level_one.checkpoints) == 2 and not level_one.style_loras
    level_two = retrieve_loras(index, level_one, k=3)
    assert level_two.checkpoints == level_one.checkpoints and 0 < len(level_two.style_loras) <= 3
    family = level_one.checkpoints[0].entry.base_family
    assert all(c.entry.base_family in (family, "unknown") for c in level_two.style_loras)


def test_retrieve_on_an_empty_zoo(index, tmp_path):
    empty = ZooIndex.build([], None, text_encoder=index.text_encoder)
    with pytest.raises(EmptyZooError, match="no checkpoints or LoRAs"):
        retrieve(empty, _intent(InstructionType.GLOBAL_STYLE, "", "watercolor"))


def test_image_channel_finds_the_entry_with_that_preview(index, fixture_cache, tmp_path):
    from PIL import Image

    from polaris_core.clip_model import load_clip
    from polaris_core.embed.image import ClipEncoder
    from tests.model_fixtures import build_clip_fixture

    encoder = ClipEncoder(load_clip(build_clip_fixture(fixture_cache)))
    rng = np.random.default_rng(0)
    entries = []
    for i in range(4):
        path = tmp_path / f"preview{i}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        entries.append(ZooEntry(id=f"local:{i}", kind="lora", name=f"Local {i}", source="local",
                                preview_paths=[str(path)], base_family="sd15"))
    entries.append(ZooEntry(id="local:nopreview", kind="lora", name="No preview", source="local",
                            preview_paths=[str(tmp_path / "missing.png")]))
    built = ZooIndex.build(entries, tmp_path / "img-index", text_encoder=index.text_encoder,
                           image_encoder=encoder)
    assert built.arrays.has_image.tolist() == [True, True, True, True, False]
    loaded = ZooIndex.load(tmp_path / "img-index", image_encoder=encoder)
    target = Image.open(tmp_path / "preview2.png")
    found = search(loaded, None, target, kind="lora", k=3, options=SearchOptions(channels=("image",)))
    assert found[0].entry.id == "local:2"
    assert found[0].channel_scores["image"] == pytest.approx(1.0, abs=1e-3)


def test_search_cli_writes_one_line_per_query_in_order(demo_index, tmp_path, capsys):
    index = demo_index
    folder = index.folder
    probes = [e for e in index.entries if e.kind == "lora" and e.example_prompts][:3]
    queries = tmp_path / "queries.jsonl"
    lines = [json.dumps({"query": e.example_prompts[0], "other": 1}) for e in probes]
    lines.insert(1, "not json")
    lines.append(json.dumps({"query": ""}))
    queries.write_text("\n".join(lines) + "\n")
    out = tmp_path / "ranked.jsonl"
    assert main(["search", "--index", str(folder), "--kind", "lora", "--queries", str(queries),
                 "--field", "query", "--k", "4", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(lines)
    assert rows[1] == {"results": []} and rows[-1] == {"results": []}
    first = rows[0]["results"]
    assert 0 < len(first) <= 4
    assert set(first[0]) == {"id", "civitai_model_id", "civitai_version_id", "name", "score"}
    assert first[0]["civitai_model_id"] == probes[0].civitai_model_id
    assert rows[2]["results"][0]["civitai_model_id"] == probes[1].civitai_model_id

    assert main(["search", "--index", str(folder), "--kind", "checkpoint", "photo of a woman, portrait"]) == 0
    table = capsys.readouterr().out
    assert "score" in table.splitlines()[0] and "author" in table.splitlines()[0] and len(table.splitlines()) > 2


def test_index_cli_builds_and_updates(fixture_cache, tmp_path, capsys, monkeypatch):
    from polaris_core.demo import demo_catalog_path

    monkeypatch.setenv("POLARIS_CACHE_DIR", str(fixture_cache))
    catalog = demo_catalog_path()
    out = tmp_path / "cli-index"
    assert main(["index", "build", "--catalog", str(catalog), "--kinds", "lora", "--out", str(out)]) == 0
    assert "entries" in capsys.readouterr().out
    built = ZooIndex.load(out)
    assert len(built) > 0 and built.counts()["lora"] == len(built)
    assert main(["index", "build", "--catalog", str(catalog), "--kinds", "lora", "--out", str(out), "--update"]) == 0
    assert "unchanged" in capsys.readouterr().out and len(ZooIndex.load(out)) == len(built)
    assert main(["index", "info", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["entries"] == len(built)
    assert main(["index", "build", "--out", str(out)]) == 1  # nothing to index: a clear error, no crash


def test_local_lora_is_found_by_its_training_tags(tmp_path, fixture_cache, monkeypatch, capsys):
    import torch
    from safetensors.torch import save_file

    monkeypatch.setenv("POLARIS_CACHE_DIR", str(fixture_cache))
    loras = tmp_path / "loras"
    loras.mkdir()
    for value, (name, tags) in enumerate((("glimmer", {"glimmerwing": 10, "neon lights": 3}),
                                          ("castle", {"old castle": 8}))):
        # Different tensor data: files with the same content hash are one model to the scanner.
        save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.full((4, 320), value)},
                  str(loras / f"{name}.safetensors"),
                  metadata={"ss_tag_frequency": json.dumps({"10_img": tags}), "ss_base_model_version": "sd_v1"})
    out = tmp_path / "local-index"
    assert main(["index", "build", "--models-dir", str(loras), "--kind", "lora", "--out", str(out)]) == 0
    capsys.readouterr()
    index = ZooIndex.load(out)
    assert len(index) == 2
    found = search(index, "glimmerwing, neon lights, city at night", kind="lora", k=2)
    assert found[0].entry.file_name.startswith("glimmer") and found[0].entry.source == "local"


@pytest.fixture(scope="module")
def crafted_index(fixture_cache, tmp_path_factory):
    """A small zoo where the answers are known: generic LoRAs that share common tags with the
    queries, one LoRA known only by its trigger word, and checkpoints with related prompts."""
    def lora(i: int, **fields) -> ZooEntry:
        fields.setdefault("name", f"LoRA {i}")
        return ZooEntry(id=f"lora-{i}", kind="lora", civitai_model_id=100 + i, civitai_version_id=1000 + i,
                        base_family="sd15", **fields)

    girls = [f"masterpiece, best quality, 1girl, solo, smile, looking at viewer, outdoors, {scene}, long hair"
             for scene in ("beach", "forest", "city street", "garden")]
    things = [f"a {thing} in the {place}, {light}" for thing in ("sports car", "dragon", "teapot", "spaceship", "robot")
              for place in ("desert", "ocean", "mountains", "jungle") for light in ("sunset", "fog")]
    entries = [lora(i, example_prompts=[prompt]) for i, prompt in enumerate(girls + things)]
    entries.append(lora(50, name="Akane Character", trigger_words=["akanedef"], tags=["character"]))
    for i, related in enumerate((["a lighthouse on a cliff at dawn, oil painting, crashing waves"],
                                 ["cyberpunk alley at night, neon signs, rain"], [])):
        entries.append(ZooEntry(id=f"ckpt-{i}", kind="checkpoint", name=f"Checkpoint {i}", base_family="sd15",
                                civitai_model_id=200 + i, civitai_version_id=2000 + i,
                                example_prompts=[f"portrait of a woman, style {i}"], related_prompts=related))
    folder = tmp_path_factory.mktemp("crafted-index")
    return ZooIndex.build(entries, folder, cache=embedding_cache(fixture_cache))


def test_a_query_equal_to_a_related_prompt_finds_that_checkpoint(crafted_index):
    kinds = [crafted_index.arrays.chunk_kind[crafted_index.arrays.chunk_entry == row]
             for row in range(len(crafted_index))]
    assert sum(int((k == 3).sum()) for k in kinds) == 2  # two "related" chunks were indexed
    for query, model in (("a lighthouse on a cliff at dawn, oil painting, crashing waves", 200),
                         ("cyberpunk alley at night, neon signs, rain", 201)):
        found = search(crafted_index, query, kind="checkpoint", k=3)
        assert found[0].entry.civitai_model_id == model


def test_a_rare_trigger_word_outweighs_many_shared_common_tags(crafted_index):
    query = "akanedef, masterpiece, best quality, 1girl, solo, smile, looking at viewer, outdoors, beach, long hair"
    # The hand-set fusion (the ranker's fallback) is what this checks; the learned ranker weighs the
    # names channel by what it learned on dev.
    fused_only = SearchOptions(ranker="off")
    found = search(crafted_index, query, kind="lora", k=3, options=fused_only)
    assert found[0].entry.civitai_model_id == 150 and found[0].channel_scores["names"] > 0
    # Without the names channel, the prompt sharing ten tags wins.
    plain = search(crafted_index, query, kind="lora", k=3, options=SearchOptions(channels=("lexical", "dense")))
    assert plain[0].entry.civitai_model_id == 100
    # No rare word in the query: the names channel stays silent.
    generic = search(crafted_index, "1girl, solo, smile, forest", kind="lora", k=3)
    assert generic[0].entry.civitai_model_id == 101
    assert all(c.channel_scores.get("names", 0.0) == 0.0 for c in generic)


def _author_zoo() -> list[ZooEntry]:
    """Sixteen LoRAs by fourteen authors; "Outfit Pack 7" has no prompts and a name unlike the query."""
    def lora(n: int, name: str, author: str, prompts: list[str], version: int = 1) -> ZooEntry:
        return ZooEntry(id=f"civitai:{n}{version}", kind="lora", name=name, civitai_model_id=n,
                        civitai_version_id=n * 10 + version, author=author, example_prompts=prompts,
                        base_family="sd15")

    zoo = [lora(1, "Winter Knight", "Ana", ["a knight in crimson armour riding through deep snow, castle walls"]),
           lora(2, "Outfit Pack 7", "ana", []),
           lora(2, "Outfit Pack 7", "ana", [], version=2),
           lora(3, "Harbour Watercolour", "Ana", ["watercolour harbour with fishing boats at dawn"])]
    topics = ["a bowl of ramen, food photography", "neon city street at night, rain", "a cat sleeping on a sofa",
              "pixel art dungeon tiles", "portrait of an old sailor, oil painting", "a red sports car on a coast road",
              "snowy mountain lake, landscape photo", "a knight's helmet on a wooden table, still life",
              "armoured knight on horseback, medieval battle", "a castle in a snowstorm", "red armour, fantasy warrior",
              "riding a horse through a winter forest", "knight kneeling in a snowy courtyard"]
    zoo += [lora(10 + i, f"Model {i}", f"author{i}", [topic]) for i, topic in enumerate(topics)]
    return zoo


def test_author_step_brings_in_a_prompt_less_sibling_of_the_best_match(tmp_path):
    from polaris_core.embed.text import load_text_encoder

    built = ZooIndex.build(_author_zoo(), None, text_encoder=load_text_encoder())
    query = "knight in crimson armour riding through snow"
    without = SearchOptions(pool_per_channel=3, channels=("lexical", "dense", "names"))
    plain = [c.entry.civitai_model_id for c in search(built, query, kind="lora", k=5, options=without)]
    assert plain[0] == 1 and 2 not in plain  # no channel puts the sibling in a pool of three

    # The author step of the hand-set fusion (the learned ranker's input and fallback).
    found = search(built, query, kind="lora", k=5, options=SearchOptions(pool_per_channel=3, ranker="off"))
    models = [c.entry.civitai_model_id for c in found]
    assert models[0] == 1 and 2 in models and models.count(2) == 1  # authors match case-insensitively
    sibling = found[models.index(2)]
    assert sibling.channel_scores["author"] == pytest.approx(found[0].channel_scores["author"])
    assert all("author" in c.channel_scores for c in found)

    anonymous = [ZooEntry.from_dict({**e.to_dict(), "author": ""}) for e in _author_zoo()]
    no_authors = ZooIndex.build(anonymous, None, text_encoder=built.text_encoder)
    assert [c.entry.civitai_model_id for c in search(no_authors, query, kind="lora", k=5,
                                                     options=SearchOptions(pool_per_channel=3,
                                                                           ranker="off"))] == plain


def test_top_rows_are_the_stable_sorts_first_k_ties_by_position():
    from polaris_core.retrieve.channels import top_rows

    rng = np.random.default_rng(0)
    for n in (1, 7, 300):
        for k in (0, 1, 5, 100, 400):
            values = (rng.integers(0, 4, n) * 0.5).astype(np.float32)  # many ties, at the boundary too
            assert np.array_equal(top_rows(values, k), np.argsort(-values, kind="stable")[:k])
    assert top_rows(np.array([0.0, 2.0, 2.0, 1.0], np.float32), 2).tolist() == [1, 2]
