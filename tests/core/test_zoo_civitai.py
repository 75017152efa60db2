"""Civitai JSON ingestion: one ZooEntry per model version, cleaned text, weights, bad lines."""
from __future__ import annotations

import gzip
import itertools
import json

import pytest

from polaris_core.errors import ZooError
from polaris_core.zoo.civitai import (MAX_RELATED_PROMPTS_PER_VERSION, CrossReferences, IngestStats,
                                      entries_from_object, iter_catalog, load_catalog, network_tags, role_from_tags,
                                      strip_html, weight_from_description, weight_from_prompts)


def _model(**overrides) -> dict:
    model = {
        "id": 11, "name": "Ink Wash <b>Style</b>", "type": "LORA", "tags": ["style", "art style", "ink"],
        "description": "<p>Ink wash painting.</p><script>alert('x')</script><p>Use weight 0.6-0.8 &amp; enjoy</p>",
        "stats": {"downloadCount": 1234}, "creator": {"username": "ink\nmaster", "image": None},
        "modelVersions": [
            {"id": 101, "name": "v2", "baseModel": "SDXL 1.0", "trainedWords": [" inkwash ", "inkwash", ""],
             "description": None,
             "files": [{"name": "inkwash_v2.safetensors", "primary": True,
                        "hashes": {"SHA256": "AB" * 32, "AutoV2": "ABABABABAB", "AutoV3": "CD" * 32}}],
             "images": [
                 {"url": "https://x/1.jpeg", "nsfw": "None",
                  "meta": {"prompt": "a heron, ink wash <lora:inkwash_v2:0.7>"}},
                 {"url": "https://x/2.jpeg", "nsfw": "Mature",
                  "meta": {"prompt": "a heron,  ink wash <lora:inkwash_v2:0.9>"}},
                 {"url": "https://x/3.jpeg", "nsfw": "None", "meta": {"prompt": "A HERON, INK WASH"}},
             ]},
            {"id": 100, "name": "v1", "baseModel": "SD 1.5", "trainedWords": [],
             "files": [{"name": "inkwash_v1.safetensors", "hashes": {"SHA256": "EF" * 32}}],
             "images": [{"url": "https://x/4.jpeg", "meta": {"prompt": "<lora:inkwash_v1:0.5> mountains",
                                                           "resources": [{"name": "inkwash_v1", "type": "lora",
                                                                          "weight": 0.7}]}}]},
        ],
    }
    model.update(overrides)
    return model


def test_strip_html_drops_markup_scripts_and_invisible_characters():
    html = ('<p>Hello&nbsp;<b>world</b> &amp; friends</p><script>evil()</script><style>p{}</style>'
            '<!-- hidden --><ul><li>one</li><li>two\u200b\u1160</li></ul><p>broken <a href="x>y">link')
    text = strip_html(html)
    assert "evil" not in text and "hidden" not in text and "<" not in text and "p{}" not in text
    assert text.splitlines()[0] == "Hello world & friends"
    assert "one" in text.splitlines() and "two" in text.splitlines()
    assert strip_html("<script>never closed") == ""
    assert strip_html("a < b and c > d") == "a < b and c > d"
    assert strip_html("") == "" and strip_html("plain") == "plain"


def test_weight_parsers():
    assert weight_from_description("Recommended weight: 0.6-0.8") == 0.7
    assert weight_from_description("use strength 0.65 for best results") == 0.65
    assert weight_from_description("Recommended weight 0.7.") == 0.7
    assert weight_from_description("weight " + "1" * 8000) is None  # long digit runs stay linear
    assert weight_from_description("works at 0.8 weight") == 0.8
    assert weight_from_description("trained 1000 steps at weight decay 50") is None
    assert weight_from_description("example <lora:foo:0.55>") == 0.55
    assert network_tags("x <lora:foo:0.5> <lyco:bar> <hypernet:h:1>") == [("foo", 0.5), ("bar", None)]
    prompts = ["<lora:mine:0.6> <lora:other:1.0>", "<lora:mine:0.8>", "<lora:solo:0.4>", "<lora:x:9>"]
    assert weight_from_prompts(prompts, {"mine"}) == 0.6  # median of 0.6, 0.8, 0.4 (single tag); 9 is implausible


def test_entry_from_model_versions():
    entries = list(iter_model(_model()))
    assert [e.civitai_version_id for e in entries] == [101, 100]
    v2, v1 = entries
    assert v2.id == "autov3:" + "cd" * 6 and v1.id == "civitai:100"
    assert v2.kind == "lora" and v2.role == "style"
    assert (v2.base_family, v2.base_model, v1.base_family) == ("sdxl", "SDXL 1.0", "sd15")
    assert v2.name == "Ink Wash Style"  # names are stored as plain text: markup is removed
    assert v2.trigger_words == ["inkwash"]
    assert v2.example_prompts == ["a heron, ink wash"]  # lora tags stripped, case/space duplicates merged
    assert v2.preview_urls == ["https://x/1.jpeg", "https://x/3.jpeg"]  # the "Mature" image is not a preview
    assert v2.recommended_weight == 0.7 and v1.recommended_weight == 0.7
    assert "alert" not in v2.description and "Ink wash painting." in v2.description
    assert v2.sha256 == "ab" * 32 and v2.autov2 == "ababababab" and v1.autov2 == "ef" * 5
    assert v2.downloads == 1234 and v2.source == "catalog" and v2.civitai_model_id == 11
    assert v2.author == v1.author == "ink master"  # one line of plain text
    assert next(iter_model(_model(creator="not an object"))).author == ""


def iter_model(model: dict):
    return entries_from_object(model)


def test_kinds_roles_and_unsupported_types():
    checkpoint = list(iter_model(_model(type="Checkpoint", tags=["character", "anime"])))[0]
    assert checkpoint.kind == "checkpoint" and checkpoint.role == "style" and checkpoint.recommended_weight is None
    assert list(iter_model(_model(type="TextualInversion")))[0].kind == "embedding"
    assert list(iter_model(_model(type="LoCon")))[0].kind == "lora"
    stats = IngestStats()
    assert list(entries_from_object(_model(type="Hypernetwork"), stats=stats)) == []
    assert stats.skipped["unsupported type hypernetwork"] == 2
    assert role_from_tags(["anime", "character", "girl"], "lora") == "character"
    assert role_from_tags(["clothing", "outfit"], "lora") == "object"
    assert role_from_tags(["negative", "embedding"], "embedding") == "other"
    assert role_from_tags([], "lora", "Watercolor Style") == "style"


def test_iter_catalog_counts_bad_lines_and_duplicates(tmp_path):
    path = tmp_path / "cat.jsonl.gz"
    lines = [json.dumps(_model()), "{not json", "", json.dumps([1, 2]), json.dumps(_model(id=12)),
             json.dumps({"hello": "world"})]
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    stats = IngestStats()
    entries = list(iter_catalog(path, stats=stats))
    # model 12 repeats model 11's versions: same ids, kept once
    assert len(entries) == 2 and len({e.id for e in entries}) == 2
    assert stats.skipped["duplicate entry id"] == 2
    assert sum(v for k, v in stats.skipped.items() if k.startswith("invalid JSON")) == 1
    assert stats.skipped["not a JSON object"] == 2
    assert stats.skipped["not a Civitai model or model-version object"] == 1
    assert list(iter_catalog(path, kinds=("checkpoint",))) == []


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    body = gzip.compress(("\n".join(json.dumps(_model(id=i, modelVersions=[
        dict(_model()["modelVersions"][1], id=1000 + i)])) for i in range(200)) + "\n").encode())
    path.write_bytes(body[: len(body) // 2])
    stats = IngestStats()
    entries = list(iter_catalog(path, stats=stats))
    assert 0 < len(entries) < 200
    assert any(k.startswith("truncated") for k in stats.skipped)


def test_by_hash_version_json(tmp_path):
    version = dict(_model()["modelVersions"][0], modelId=11, model={"name": "Ink", "type": "LORA"})
    path = tmp_path / "by-hash.json"
    path.write_text(json.dumps(version))
    (entry,) = list(iter_catalog(path))
    assert entry.name == "Ink" and entry.civitai_model_id == 11 and entry.civitai_version_id == 101
    with pytest.raises(ZooError):
        list(iter_catalog(tmp_path / "missing.jsonl"))
    with pytest.raises(ZooError):
        list(iter_catalog(path, kinds=("vae",)))


def test_real_catalog_sample(shared_data, tmp_path):
    # Every 8th model of the real catalog (it is sorted by type, so this covers all three kinds).
    sample = tmp_path / "sample.jsonl"
    with gzip.open(shared_data / "zoo" / "civitai-2023-sfw.jsonl.gz", "rt", encoding="utf-8") as src:
        sample.write_text("".join(itertools.islice(src, 0, None, 8)), encoding="utf-8")
    stats = IngestStats()
    entries = list(iter_catalog(sample, stats=stats))
    assert stats.models == 1816 and stats.total_skipped == 0 and len(entries) == stats.versions
    assert len({e.id for e in entries}) == len(entries)
    assert {e.kind for e in entries} <= {"checkpoint", "lora", "embedding"}
    assert all(e.civitai_version_id and e.name and e.id.startswith("civitai:") for e in entries)
    assert {e.kind for e in entries} == {"checkpoint", "lora", "embedding"}
    assert sum(e.base_family == "sd15" for e in entries) > 0.8 * len(entries)
    assert sum(bool(e.example_prompts) for e in entries) > 0.6 * len(entries)
    assert not any("<lora:" in p for e in entries for p in e.example_prompts)
    assert not any("<p>" in e.description for e in entries)
    loras = [e for e in entries if e.kind == "lora"]
    assert sum(e.recommended_weight is not None for e in loras) > len(loras) // 2
    assert all(0.05 <= e.recommended_weight <= 2 for e in loras if e.recommended_weight is not None)


def _page(model_id: int, civitai_type: str, file_name: str, autov2: str, images: list[dict]) -> dict:
    return {"id": model_id, "name": f"Model {model_id}", "type": civitai_type, "modelVersions": [
        {"id": model_id * 10, "name": "v1", "baseModel": "SD 1.5",
         "files": [{"name": file_name, "type": "Model", "hashes": {"AutoV2": autov2, "SHA256": autov2 + "0" * 54}},
                   {"name": "shared.vae.pt", "type": "VAE", "hashes": {"AutoV2": "abcabcabca"}}],
         "images": images}]}


def _cross_page_catalog(tmp_path, extra_pages=()):
    checkpoint = _page(1, "Checkpoint", "dreamy_v1.safetensors", "aaaaaaaaaa",
                       [{"meta": {"prompt": "own checkpoint prompt", "Model hash": "aaaaaaaaaa"}}])
    castle = _page(2, "LORA", "castle_style.safetensors", "bbbbbbbbbb", [])
    # An image on a third page: made on the checkpoint (by hash), using the castle LoRA (by tag name).
    other = _page(3, "LORA", "other.safetensors", "cccccccccc", [
        {"meta": {"prompt": "a castle at dusk, <lora:castle_style:0.8>", "Model hash": "aaaaaaaaaa"}},
        {"meta": {"prompt": "a forest", "Model": "dreamy_v1",
                  "hashes": {"lora:whatever": "bbbbbbbbbb"}}},  # checkpoint by file name, LoRA by hash
        {"meta": {"prompt": "unknown refs", "Model hash": "ffffffffff", "Model": "not_in_zoo"}},
    ])
    path = tmp_path / "cross.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in [checkpoint, castle, other, *extra_pages]) + "\n")
    return path


def test_load_catalog_links_images_to_the_models_they_record(tmp_path):
    stats = IngestStats()
    entries = {e.civitai_model_id: e for e in load_catalog([_cross_page_catalog(tmp_path)], stats=stats)}
    assert entries[1].related_prompts == ["a castle at dusk,", "a forest"]
    assert entries[2].related_prompts == ["a castle at dusk,", "a forest"]
    assert entries[3].related_prompts == []  # its own images are example prompts, not related ones
    assert entries[1].example_prompts == ["own checkpoint prompt"]
    assert stats.related_prompts == 4 and "4 related prompts" in stats.summary()
    # Streaming ingest cannot know later pages: no related prompts there.
    assert not any(e.related_prompts for e in iter_catalog(_cross_page_catalog(tmp_path)))
    assert not any(e.related_prompts
                   for e in load_catalog([_cross_page_catalog(tmp_path)], related_prompts=False))


def test_cross_page_links_skip_ambiguous_names_and_cap_per_version(tmp_path):
    # A second LoRA model with the same file name makes "castle_style" ambiguous: no link by name.
    twin = _page(4, "LORA", "castle_style.safetensors", "dddddddddd", [])
    many = _page(5, "Checkpoint", "x.safetensors", "eeeeeeeeee",
                 [{"meta": {"prompt": f"scene {i}", "Model hash": "aaaaaaaaaa"}} for i in range(40)])
    entries = {e.civitai_model_id: e for e in load_catalog([_cross_page_catalog(tmp_path, [twin, many])])}
    assert "a castle at dusk," not in entries[2].related_prompts and entries[4].related_prompts == []
    assert entries[2].related_prompts == ["a forest"]  # the hash link still holds
    assert len(entries[1].related_prompts) == MAX_RELATED_PROMPTS_PER_VERSION


def test_cross_references_ignore_odd_metadata():
    references = CrossReferences()
    odd_pages = [{"id": 9, "type": "LORA", "name": "x", "modelVersions": [
        {"id": 90, "files": "nope", "images": [None, {"meta": "text"}, {"meta": {"prompt": 5}},
                                                 {"meta": {"prompt": "p", "resources": ["x", {"type": None}],
                                                           "hashes": {"lora:a": None}, "Model hash": "zz"}}]}]}]
    entries = list(entries_from_object(odd_pages, references=references))
    assert len(entries) == 1 and references.attach(entries) == 0
