"""Hostile metadata never reaches an index entry as markup or as a runnable preview URL.

Catalog records, every sidecar kind and safetensors metadata carry `<script>` blocks, event-handler
tags, entity-encoded tags and `javascript:` / `data:` / `file:` preview URLs. After ingest, and after
a save and load of the index, no text field holds a tag a browser would parse when the text is put
into HTML (escaped or not), and every preview location is an http(s) URL or a local file."""
from __future__ import annotations

import json
import os
import re
from dataclasses import fields

import numpy as np
import pytest
from safetensors.numpy import save_file

from polaris_core.index import ZooIndex
from polaris_core.zoo.civitai import entries_from_object, plain_text, safe_preview_url
from polaris_core.zoo.entry import ZooEntry
from polaris_core.zoo.local import scan_folder
from tests.core.retrieval_fixtures import embedding_cache

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
ENCODED = "&lt;script&gt;alert(3)&lt;/script&gt;"
BAD_URLS = ["javascript:alert(4)", "data:text/html,<script>alert(5)</script>", "file:///etc/passwd",
            " javascript:alert(6)", "JaVaScRiPt:alert(7)", "https://ok.example/a.png\" onerror=\"alert(8)",
            "//evil.example/x.png", "vbscript:msgbox(9)", "https:///no-host.png"]
GOOD_URL = "https://image.example/ok.png"
# A tag a browser would parse: "<" then a letter, "/", "!" or "?" (as in the HTML tokenizer).
TAG = re.compile(r"<[a-zA-Z/!?]")
PATH_FIELDS = {"file_name", "file_path"}  # real file paths, shown only as text


def _hostile(text: str) -> str:
    return f"{text} {SCRIPT} {IMG} {ENCODED}"


def _hostile_version(version_id: int) -> dict:
    return {
        "id": version_id, "name": _hostile("v1"), "baseModel": _hostile("SD 1.5"),
        "trainedWords": [_hostile("trigger"), SCRIPT, IMG],
        "description": f"<p>{ENCODED}</p><script>alert(10)</script>",
        "files": [{"name": "x.safetensors", "primary": True, "hashes": {"SHA256": "ab" * 32}}],
        "images": [{"url": url, "nsfw": "None", "meta": {"prompt": _hostile("a castle")}}
                   for url in BAD_URLS + [GOOD_URL]],
    }


def _check_entry(entry: ZooEntry, files_exist: bool = True) -> None:
    for f in fields(ZooEntry):
        value = getattr(entry, f.name)
        if f.name in PATH_FIELDS:
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                assert not TAG.search(text), (f.name, text)
    for url in entry.preview_urls:
        assert url.startswith(("https://", "http://")) and safe_preview_url(url), url
    for path in entry.preview_paths:
        assert os.path.isabs(path) and (not files_exist or os.path.isfile(path)), path


def test_catalog_entries_hold_plain_text_and_safe_urls():
    record = {"id": 1, "name": _hostile("Model"), "type": "LORA", "tags": [SCRIPT, "style"],
              "description": _hostile("<b>desc</b>"), "creator": {"username": _hostile("me")},
              "modelVersions": [_hostile_version(11)]}
    entries = list(entries_from_object(record))
    assert len(entries) == 1
    entry = entries[0]
    _check_entry(entry)
    assert entry.preview_urls == [GOOD_URL]
    assert entry.name.startswith("Model") and "trigger" in entry.trigger_words[0]
    assert "desc" in entry.description and "alert(3)" not in entry.description  # decoded, then removed as a script


def test_sidecars_and_metadata_hold_plain_text_and_safe_urls(tmp_path):
    loras = tmp_path / "loras"
    loras.mkdir()
    key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    metadata = {"modelspec.title": _hostile("Title"), "modelspec.author": _hostile("Author"),
                "modelspec.description": _hostile("About"), "modelspec.trigger_phrase": _hostile("phrase"),
                "ss_tag_frequency": json.dumps({"10_x": {SCRIPT: 3, IMG: 2, "ink": 1}})}
    for i, sidecar in enumerate((".civitai.info", ".metadata.json", ".rgthree-info.json", ".json", ".txt")):
        path = loras / f"m{i}.safetensors"
        save_file({key: np.full((4, 768), float(i), dtype=np.float16)}, str(path), metadata=metadata)
        version = _hostile_version(100 + i)
        version["model"] = {"name": _hostile("Inner"), "type": "LORA"}
        body = {
            ".civitai.info": version,
            ".metadata.json": {"model_name": _hostile("Managed"), "modelDescription": ENCODED,
                               "notes": SCRIPT, "tags": [IMG], "civitai": version},
            ".rgthree-info.json": {"name": _hostile("Rg"), "trainedWords": [{"word": SCRIPT}],
                                   "images": [{"url": u, "positive": _hostile("p")} for u in BAD_URLS + [GOOD_URL]],
                                   "raw": {"civitai": version}},
            ".json": {"description": _hostile("a1111"), "activation text": _hostile("act"),
                      "sd version": _hostile("SD1")},
        }.get(sidecar)
        text = _hostile("word1, word2") if body is None else json.dumps(body)
        (loras / f"m{i}{sidecar}").write_text(text, encoding="utf-8")
        (loras / f"m{i}.preview.png").write_bytes(b"\x89PNG")
    result = scan_folder(loras, "lora")
    assert len(result.entries) == 5
    for entry in result.entries:
        _check_entry(entry)
        assert entry.preview_paths and set(entry.preview_urls) <= {GOOD_URL}


def test_a_saved_index_of_hostile_entries_loads_without_markup(tmp_path, fixture_cache):
    record = {"id": 2, "name": _hostile("Model"), "type": "LORA", "modelVersions": [_hostile_version(21)]}
    entries = list(entries_from_object(record))
    ZooIndex.build(entries, tmp_path / "idx", cache=embedding_cache(fixture_cache))
    for entry in ZooIndex.load(tmp_path / "idx").entries:
        _check_entry(entry)


@pytest.mark.parametrize("text, expected", [
    ("a < b and c > d", "a < b and c > d"),
    ("I <3 cats", "I <3 cats"),
    ("x <script>bad()</script> y", "x y"),
    ("<img src=x onerror=alert(1)>cat", "cat"),
    ("tail <svg onload=alert(1)", "tail"),
    ("<!-- c -->dog", "dog"),
])
def test_plain_text_removes_tags_but_keeps_comparisons(text, expected):
    assert plain_text(text) == expected
