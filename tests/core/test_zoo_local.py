"""Local model-folder scan: headers, sidecars, previews, pickles, bad files, scan cache, renames."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from safetensors.numpy import save_file

from polaris_core.errors import Cancelled, ZooError
from polaris_core.zoo.local import comfyui_roots, parse_sidecar, scan_folder, scan_models

SD15_KEY = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
SDXL_KEY = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k.lora_down.weight"


def _lora(path, key=SD15_KEY, ctx=768, fill=0.0, metadata=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.full((4, ctx), fill, dtype=np.float16)}, str(path), metadata=metadata)


CIVITAI_INFO = {
    "id": 555, "modelId": 77, "name": "v1", "baseModel": "SD 1.5", "trainedWords": ["hrn style"],
    "description": "<p>Use <b>weight 0.6</b></p>",
    "model": {"name": "Heron Ink", "type": "LORA", "tags": ["style"]},
    "files": [{"name": "heron.safetensors", "hashes": {"SHA256": "00" * 32}}],
    "images": [{"url": "https://img/1.png", "nsfw": "None", "meta": {"prompt": "a heron <lora:heron:0.6>"}}],
}


@pytest.fixture()
def models(tmp_path):
    root = tmp_path / "models"
    loras = root / "loras"
    _lora(loras / "style" / "heron.safetensors", metadata={
        "ss_output_name": "heron_v1", "ss_base_model_version": "sd_v1", "modelspec.author": "Heron Studio",
        "ss_tag_frequency": json.dumps({"10_hrn bird": {"bird": 12, "ink": 7, "1girl": 1}})})
    (loras / "style" / "heron.civitai.info").write_text(json.dumps(CIVITAI_INFO))
    (loras / "style" / "heron.preview.png").write_bytes(b"\x89PNG")
    (loras / "style" / "heron.txt").write_text("extra trigger\n")
    _lora(loras / "xl.safetensors", key=SDXL_KEY, ctx=2048, fill=1.0)
    (loras / "xl.json").write_text(json.dumps({"description": "An XL thing", "activation text": "xlword",
                                               "preferred weight": 0.9, "sd version": "SDXL"}))
    (loras / "xl.jpg").write_bytes(b"\xff\xd8")
    _lora(loras / "managed.safetensors", fill=2.0)
    (loras / "managed.metadata.json").write_text(json.dumps({
        "model_name": "Managed Model", "base_model": "SD 1.5", "tags": ["clothing"],
        "modelDescription": "<p>a coat</p>", "usage_tips": json.dumps({"strength": 0.75}),
        "civitai": {"id": 9, "modelId": 8, "trainedWords": ["coat"], "images": [],
                    "creator": {"username": "coatmaker"}}}))
    _lora(loras / "rg.safetensors", fill=3.0)
    (loras / "rg.rgthree-info.json").write_text(json.dumps({
        "name": "RG Lora", "baseModel": "SDXL 1.0", "strengthMin": 0.4, "strengthMax": 0.8,
        "trainedWords": [{"word": "rgword", "civitai": True}],
        "images": [{"url": "https://img/rg.png", "positive": "a castle"}]}))
    _lora(loras / "dupe.safetensors", metadata={"other": "metadata"})  # same tensors as heron → same AutoV3
    (loras / "empty.safetensors").write_bytes(b"")
    (loras / "huge.safetensors").write_bytes((2**40).to_bytes(8, "little") + b"{}")
    (loras / "trunc.safetensors").write_bytes((500).to_bytes(8, "little") + b'{"a": 1')
    (loras / "badutf.safetensors").write_bytes((4).to_bytes(8, "little") + b"\xff\xfe\xfd\xfc")
    (loras / "old.ckpt").write_bytes(b"\x80\x04cos\nsystem\n")  # never unpickled
    (loras / "notes.md").write_text("not a model")
    (loras / "style" / "loop").symlink_to(loras, target_is_directory=True)
    ckpts = root / "checkpoints"
    ckpts.mkdir()
    save_file({"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight":
               np.zeros((8, 1024), dtype=np.float16)}, str(ckpts / "base.safetensors"))
    return root


def _by_file(entries):
    return {e.file_name: e for e in entries}


def test_scan_reads_headers_sidecars_previews_and_skips_bad_files(models, tmp_path):
    result = scan_models(comfyui_roots(models), cache_dir=tmp_path / "cache")
    entries = _by_file(result.entries)
    report = result.report
    assert set(entries) == {os.path.join("style", "heron.safetensors"), "xl.safetensors", "managed.safetensors",
                            "rg.safetensors", "old.ckpt", "base.safetensors"}

    heron = entries[os.path.join("style", "heron.safetensors")]
    assert heron.name == "Heron Ink" and heron.kind == "lora" and heron.source == "local"
    assert heron.base_family == "sd15" and heron.id == "autov3:" + heron.autov3[:12]
    assert heron.civitai_model_id == 77 and heron.civitai_version_id == 555
    assert {"hrn style", "extra trigger"} <= set(heron.trigger_words)
    assert "bird" in heron.tags and "bird, ink, 1girl" in heron.example_prompts and "a heron" in heron.example_prompts
    assert heron.recommended_weight == 0.6 and heron.role == "style" and heron.author == "Heron Studio"
    assert heron.preview_paths == [str(models / "loras" / "style" / "heron.preview.png")]
    assert heron.file_path == str(models / "loras" / "style" / "heron.safetensors")

    xl = entries["xl.safetensors"]
    assert xl.base_family == "sdxl" and xl.trigger_words == ["xlword"] and xl.recommended_weight == 0.9
    assert "An XL thing" in xl.description and xl.preview_paths[0].endswith("xl.jpg")
    managed = entries["managed.safetensors"]
    assert managed.name == "Managed Model" and managed.recommended_weight == 0.75 and managed.role == "object"
    assert managed.trigger_words == ["coat"] and managed.civitai_version_id == 9 and "a coat" in managed.description
    assert managed.author == "coatmaker" and entries["xl.safetensors"].author == ""
    rg = entries["rg.safetensors"]
    assert (rg.name, rg.trigger_words, rg.recommended_weight) == ("RG Lora", ["rgword"], 0.6)
    assert rg.example_prompts == ["a castle"] and rg.preview_urls == ["https://img/rg.png"]
    assert rg.base_family == "sd15"  # the tensors say SD 1.x; the sidecar's label does not override them
    pickle = entries["old.ckpt"]
    assert pickle.file_format == "pickle" and pickle.id.startswith("sha256:") and pickle.base_family == "unknown"
    assert entries["base.safetensors"].kind == "checkpoint" and entries["base.safetensors"].base_family == "sd2"

    assert report.pickles == 1 and report.hashed == 7 and report.entries == 6
    skipped = dict(report.skipped)
    assert skipped.pop("zero-byte file") == 1
    assert skipped.pop("duplicate of another file (same autov3)") == 1
    assert skipped.pop("symlink loop or repeated folder") == 1
    assert sum(skipped.values()) == 3  # huge, truncated and non-UTF-8 headers
    assert any("claims" in k for k in skipped) and any("UTF-8" in k for k in skipped)


def test_rescan_uses_the_cache_and_renames_keep_their_hashes(models, tmp_path):
    cache = tmp_path / "cache"
    first = scan_folder(models / "loras", "lora", cache_dir=cache)
    second = scan_folder(models / "loras", "lora", cache_dir=cache)
    assert second.report.hashed == 0 and second.report.from_cache == first.report.hashed
    assert [e.to_dict() for e in second.entries] == [e.to_dict() for e in first.entries]
    assert second.report.skipped == first.report.skipped

    os.rename(models / "loras" / "xl.safetensors", models / "loras" / "renamed_xl.safetensors")
    (models / "loras" / "style" / "heron.txt").write_text("changed trigger\n")  # sidecar edit: no rehash
    third = scan_folder(models / "loras", "lora", cache_dir=cache)
    assert third.report.hashed == 0 and third.report.renamed == 1
    entries = _by_file(third.entries)
    old = _by_file(first.entries)
    assert entries["renamed_xl.safetensors"].id == old["xl.safetensors"].id
    assert "changed trigger" in entries[os.path.join("style", "heron.safetensors")].trigger_words

    _lora(models / "loras" / "managed.safetensors", fill=5.0)  # content changed: rehash that file only
    fourth = scan_folder(models / "loras", "lora", cache_dir=cache)
    assert fourth.report.hashed == 1
    assert _by_file(fourth.entries)["managed.safetensors"].id != old["managed.safetensors"].id


def test_cache_records_from_before_a_new_entry_field_rebuild_entries_without_rehashing(models, tmp_path):
    from polaris_core.zoo.local import CACHE_FILE

    cache = tmp_path / "cache"
    first = scan_folder(models / "loras", "lora", cache_dir=cache)
    saved = json.loads((cache / CACHE_FILE).read_text())
    for record in saved["records"].values():  # as an older Polaris wrote them: no author, no entry version
        record["entry"].pop("author")
        record.pop("entry_version")
    (cache / CACHE_FILE).write_text(json.dumps(saved))
    again = scan_folder(models / "loras", "lora", cache_dir=cache)
    assert again.report.hashed == 0 and again.report.from_cache == 0
    assert [e.to_dict() for e in again.entries] == [e.to_dict() for e in first.entries]
    assert scan_folder(models / "loras", "lora", cache_dir=cache).report.from_cache == first.report.hashed


def test_scan_without_hashing_and_bad_cache(models, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "scan-cache.json").write_text("{corrupt")
    result = scan_folder(models / "checkpoints", "checkpoint", cache_dir=cache, hash_files=False)
    assert result.report.hashed == 0 and len(result.entries) == 1 and result.entries[0].id.startswith("quick:")
    assert result.entries[0].sha256 == "" and result.entries[0].base_family == "sd2"
    hashed = scan_folder(models / "checkpoints", "checkpoint", cache_dir=cache)  # hashes what was skipped
    assert hashed.report.hashed == 1 and hashed.entries[0].id.startswith("autov3:")
    records = json.loads((cache / "scan-cache.json").read_text())
    for record in records["records"].values():
        del record["hashes"]  # a damaged cache is ignored record by record, never trusted
    (cache / "scan-cache.json").write_text(json.dumps(records))
    assert scan_folder(models / "checkpoints", "checkpoint", cache_dir=cache).report.hashed == 1


def test_progress_cancel_and_missing_folder(models):
    steps = []
    scan_folder(models / "loras", "lora", on_step=lambda i, n: steps.append((i, n)))
    assert steps and steps[-1][0] == steps[-1][1]

    def cancel():
        raise Cancelled("stop")
    with pytest.raises(Cancelled):
        scan_folder(models / "loras", "lora", check_cancel=cancel)
    with pytest.raises(ZooError, match="does not exist"):
        scan_folder(models / "nope", "lora")
    with pytest.raises(ZooError, match="Unknown kind"):
        scan_folder(models / "loras", "vae")


def test_a_file_whose_read_fails_is_skipped_with_its_reason(models, monkeypatch):
    """Root can read any file, so the failure is made at read time: the scanner's own open() of one
    model file returns a handle whose reads raise EIO, as a failing disk does."""
    import errno
    import io

    import polaris_core.zoo.local as local

    broken = str(models / "loras" / "xl.safetensors")

    class FailingFile(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise OSError(errno.EIO, os.strerror(errno.EIO), broken)

    def scanner_open(path, *args, **kwargs):
        return io.BufferedReader(FailingFile()) if str(path) == broken else open(path, *args, **kwargs)

    monkeypatch.setattr(local, "open", scanner_open, raising=False)
    result = scan_folder(models / "loras", "lora")
    assert result.report.skipped[f"unreadable file ({os.strerror(errno.EIO)})"] == 1
    assert "xl.safetensors" not in _by_file(result.entries)
    assert "managed.safetensors" in _by_file(result.entries)  # the rest of the scan goes on


@pytest.mark.skipif(os.name != "posix", reason="POSIX file names are bytes")
def test_a_file_name_that_is_not_utf8_is_skipped_and_the_scan_goes_on(models, tmp_path):
    from polaris_core.zoo.local import CACHE_FILE

    odd = os.fsencode(models / "loras") + b"/caf\xe9-\xff.safetensors"
    _lora(models / "loras" / "placeholder.safetensors", fill=7.0)
    os.rename(models / "loras" / "placeholder.safetensors", odd)
    cache = tmp_path / "cache"
    result = scan_folder(models / "loras", "lora", cache_dir=cache)
    assert result.report.skipped["name is not valid UTF-8 (rename it)"] == 1
    assert "managed.safetensors" in _by_file(result.entries)
    json.loads((cache / CACHE_FILE).read_text(encoding="utf-8"))  # the cache was written, valid UTF-8 JSON


def test_of_identical_files_the_one_with_valid_metadata_is_kept(tmp_path):
    loras = tmp_path / "loras"
    _lora(loras / "a_broken.safetensors", fill=4.0)
    (loras / "a_broken.civitai.info").write_bytes(b"\xff not json")
    (loras / "a_broken.metadata.json").write_text("[1, 2]")
    _lora(loras / "b_good.safetensors", fill=4.0)
    (loras / "b_good.civitai.info").write_text(json.dumps(CIVITAI_INFO))
    result = scan_folder(loras, "lora")
    assert [e.file_name for e in result.entries] == ["b_good.safetensors"]
    assert result.entries[0].name == "Heron Ink"


@pytest.mark.skipif(os.name != "posix", reason="POSIX special files")
def test_special_files_and_links_get_their_own_reasons(tmp_path):
    loras = tmp_path / "loras"
    _lora(loras / "real.safetensors")
    (loras / "zero.safetensors").symlink_to("/dev/zero")
    (loras / "gone.safetensors").symlink_to(tmp_path / "nowhere.safetensors")
    os.mkfifo(loras / "pipe.safetensors")
    outside = tmp_path / "elsewhere"
    _lora(outside / "far.safetensors", fill=9.0)
    (loras / "linked").symlink_to(outside, target_is_directory=True)
    (loras / "inner").symlink_to(loras / "sub", target_is_directory=True)
    _lora(loras / "sub" / "near.safetensors", fill=8.0)

    result = scan_folder(loras, "lora")
    skipped = result.report.skipped
    assert skipped["not a regular file (character device)"] == 1
    assert skipped["not a regular file (named pipe)"] == 1
    assert skipped["broken symlink"] == 1
    assert skipped["folder link leads outside the scanned folder (not followed)"] == 1
    names = {os.path.basename(e.file_name) for e in result.entries}
    assert names == {"real.safetensors", "near.safetensors"}  # a link inside the folder is followed
    followed = scan_models([(loras, "lora")], follow_links=True)
    assert "far.safetensors" in {os.path.basename(e.file_name) for e in followed.entries}


def test_index_build_no_cache_writes_no_scan_cache(models, tmp_path, fixture_cache):
    from polaris_core.cli import main
    from polaris_core.zoo.local import CACHE_FILE

    cache = tmp_path / "cache"
    out = tmp_path / "index"
    assert main(["index", "build", "--models-dir", str(models / "checkpoints"), "--kind", "checkpoint",
                 "--out", str(out), "--cache", str(cache), "--no-cache"]) == 0
    assert not (cache / CACHE_FILE).exists()


@pytest.mark.parametrize("suffix, data", [
    (".civitai.info", b"\xff\xfe not utf8"),
    (".metadata.json", b"[1, 2]"),
    (".json", b"{\"description\": "),
    (".rgthree-info.json", b'{"trainedWords": 5}'),
])
def test_bad_sidecars_raise_zoo_error(suffix, data):
    with pytest.raises(ZooError):
        parse_sidecar(suffix, data)


def test_every_pickle_extension_is_listed_as_a_pickle_never_read(tmp_path):
    """.pt2 and .pkl are pickles ComfyUI lists among its models (issue 21, item 9): listed by name, never loaded."""
    from polaris_core.weights import PICKLE_SUFFIXES

    folder = tmp_path / "loras"
    folder.mkdir()
    for suffix in (".pt2", ".pkl", ".PT2", ".ckpt"):
        (folder / f"model{suffix.replace('.', '_')}{suffix}").write_bytes(b"\x80\x04 not really a pickle" + suffix.encode())
    assert {".pt2", ".pkl"} <= set(PICKLE_SUFFIXES)
    result = scan_folder(folder, "lora", cache_dir=None)
    assert len(result.entries) == 4 and result.report.pickles == 4
    assert all(e.file_format == "pickle" and e.base_family == "unknown" for e in result.entries)
