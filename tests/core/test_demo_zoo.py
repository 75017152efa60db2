"""The shipped demo zoo: Civitai-shaped, unique ids, a preview per version, and models for every demo edit."""
from __future__ import annotations

import re
import struct
from collections import Counter

import pytest

from polaris_core.demo import (
    DEMO_DIR,
    DEMO_INSTRUCTIONS,
    demo_catalog_path,
    demo_preview_path,
    load_demo_models,
    resolve_demo_url,
)
from polaris_core.errors import UnsafePathError, ZooError
from polaris_core.intent import InstructionType

CIVITAI_KIND = {"checkpoint": "Checkpoint", "lora": "LORA", "embedding": "TextualInversion"}
MODEL_KEYS = {"id", "name", "description", "type", "poi", "nsfw", "allowNoCredit", "allowCommercialUse",
              "allowDerivatives", "allowDifferentLicense", "stats", "creator", "tags", "modelVersions"}
VERSION_KEYS = {"id", "modelId", "name", "createdAt", "updatedAt", "trainedWords", "baseModel",
                "earlyAccessTimeFrame", "description", "stats", "files", "images", "downloadUrl"}
FILE_KEYS = {"name", "id", "sizeKB", "type", "metadata", "pickleScanResult", "pickleScanMessage",
             "virusScanResult", "scannedAt", "hashes", "downloadUrl", "primary"}
IMAGE_KEYS = {"id", "url", "nsfw", "width", "height", "hash", "meta"}
FIRST_DEMO_ID = 9_000_000
MAX_PREVIEW_BYTES = 15 * 1024


@pytest.fixture(scope="module")
def models() -> list[dict]:
    return load_demo_models()


def _versions(models):
    for model in models:
        for version in model["modelVersions"]:
            yield model, version


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_catalog_has_the_civitai_api_shape(models):
    assert demo_catalog_path().parent == DEMO_DIR
    kinds = Counter(model["type"] for model in models)
    assert kinds["Checkpoint"] >= 12 and kinds["LORA"] >= 24 and kinds["TextualInversion"] >= 3
    assert set(kinds) <= set(CIVITAI_KIND.values())
    for model, version in _versions(models):
        assert MODEL_KEYS <= model.keys(), model["name"]
        assert VERSION_KEYS <= version.keys(), version["id"]
        assert version["baseModel"] in ("SD 1.5", "SDXL 1.0")
        assert isinstance(version["trainedWords"], list) and isinstance(model["tags"], list)
        assert isinstance(model["stats"]["downloadCount"], int) and model["creator"]["username"]
        for file in version["files"]:
            assert FILE_KEYS <= file.keys()
            assert file["name"].endswith(".safetensors") and file["metadata"]["format"] == "SafeTensor"
            hashes = file["hashes"]
            assert re.fullmatch(r"[0-9A-F]{64}", hashes["SHA256"]) and hashes["AutoV2"] == hashes["SHA256"][:10]
        assert 2 <= len(version["images"]) <= 4, f"{model['name']} {version['name']}: want 2-4 example images"
        for image in version["images"]:
            assert IMAGE_KEYS <= image.keys() and image["nsfw"] == "None"
            assert image["meta"]["prompt"].strip() and image["meta"]["negativePrompt"].strip()


def test_ids_are_unique_and_cannot_collide_with_civitai(models):
    ids = Counter(("model", model["id"]) for model in models)
    for model, version in _versions(models):
        assert version["modelId"] == model["id"]
        ids[("version", version["id"])] += 1
        ids.update(("file", file["id"]) for file in version["files"])
        ids.update(("image", image["id"]) for image in version["images"])
    assert [key for key, count in ids.items() if count > 1] == []
    assert min(value for _, value in ids) >= FIRST_DEMO_ID


def test_every_version_has_its_preview_and_no_preview_is_stray(models):
    version_ids = set()
    for _, version in _versions(models):
        version_ids.add(version["id"])
        path = demo_preview_path(version["id"])
        assert path.is_file(), f"missing {path}; run scripts/make_demo_previews.py"
        assert path.stat().st_size <= MAX_PREVIEW_BYTES
        for image in version["images"]:
            assert image["url"] == f"demo://previews/{version['id']}.png"
            assert resolve_demo_url(image["url"]) == path
            assert _png_size(path) == (image["width"], image["height"])
    on_disk = {int(p.stem) for p in (DEMO_DIR / "previews").glob("*.png")}
    assert on_disk == version_ids


def test_lora_triggers_appear_in_their_example_prompts(models):
    for model, version in _versions(models):
        if model["type"] == "LORA" and version["trainedWords"]:
            prompts = " ".join(image["meta"]["prompt"] for image in version["images"])
            assert version["trainedWords"][0] in prompts, model["name"]


def test_every_lora_base_model_has_a_checkpoint(models):
    checkpoint_bases = {v["baseModel"] for m, v in _versions(models) if m["type"] == "Checkpoint"}
    lora_bases = {v["baseModel"] for m, v in _versions(models) if m["type"] == "LORA"}
    assert lora_bases <= checkpoint_bases


def test_every_demo_instruction_has_fitting_models(models):
    covered_types = {instruction.instruction_type for instruction in DEMO_INSTRUCTIONS}
    assert covered_types >= {InstructionType.REPLACE, InstructionType.ADD, InstructionType.LOCAL_STYLE,
                             InstructionType.GLOBAL_STYLE, InstructionType.REMOVE}
    for instruction in DEMO_INSTRUCTIONS:
        fitting = [m["name"] for m in models
                   if m["type"] == CIVITAI_KIND[instruction.fitting_kind]
                   and set(instruction.fitting_tags) & {t.lower() for t in m["tags"]}]
        assert fitting, f"no {instruction.fitting_kind} in the demo zoo fits {instruction.text!r}"
        assert instruction.subject and (instruction.target or instruction.instruction_type == InstructionType.REMOVE)


@pytest.mark.parametrize("bad_id", ["../zoo", "9100001.png", "", "-1", "1e5"])
def test_preview_path_refuses_anything_but_a_version_id(bad_id):
    with pytest.raises(ZooError):
        demo_preview_path(bad_id)


def test_resolve_demo_url_only_maps_demo_previews():
    assert resolve_demo_url("https://image.civitai.com/x/width=450/1.jpeg") is None
    assert resolve_demo_url(None) is None
    for bad in ("demo://previews/../../etc/passwd", "demo://download/9100001", "demo://previews/12.png/x"):
        with pytest.raises(UnsafePathError):
            resolve_demo_url(bad)
