"""polaris_core.zoo_service without ComfyUI: request bounds, builds with progress and cancel, plan workflows."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from polaris_core import zoo_service as zoo
from polaris_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("payload", [
    {"index": "demo", "query": "q" * 501}, {"index": "demo", "k": 0}, {"index": "demo", "k": 51},
    {"index": "demo", "k": True}, {"index": "demo", "k": 1.5}, {"index": "demo", "page": -1},
    {"index": "demo", "kind": "vae"}, {"index": "../demo"}, {"index": "a/b"}, {"index": ".hidden"}, {"index": 3},
    {"index": "demo", "query": "a\x00b"}, {"index": "demo", "family": ["sd15"]}, [],
])
def test_search_requests_out_of_bounds_are_refused(payload):
    with pytest.raises(zoo.ZooRequestError):
        zoo.search_request(payload)


@pytest.mark.parametrize("text", ["--5", "-", "²", "٣", "5²", "9" * 5000, "1_000", "0x10", " ", "+-3"])
def test_numbers_as_text_that_int_cannot_read_are_refused_clearly(text):
    """str.isdigit accepts "²", "٣" and 5000 digits, which int() then rejects: a 500 on the routes (issue 21)."""
    for key in ("k", "page"):
        with pytest.raises(zoo.ZooRequestError, match=f"'{key}' must be a whole number"):
            zoo.search_request({"index": "demo", key: text})


def test_search_request_defaults_and_numbers_as_text():
    request = zoo.search_request({"index": " demo ", "query": "  cat  ", "k": "5", "page": 2.0})
    assert request == zoo.SearchRequest(index="demo", query="cat", kind="lora", family="", k=5, page=2)


class FakeBuild:
    def __init__(self, n):
        self.index = [None] * n

    def summary(self):
        return f"{len(self.index)} entries; skipped 1 (not a model: 1)"


def test_builds_report_progress_and_finish(tmp_path):
    events = []
    builds = zoo.IndexBuilds(events.append, interval=0.0)

    def run(on_step, check_cancel):
        for i in range(1, 6):
            check_cancel()
            on_step(i, 5)
        return FakeBuild(3)

    builds.start("mine", tmp_path, run)
    builds.wait(10)
    assert [e["state"] for e in events][0] == "running" and events[-1]["state"] == "done"
    assert [e["step"] for e in events if e["state"] == "running" and e["total"]] == [1, 2, 3, 4, 5]
    assert events[-1]["summary"].endswith("skipped 1 (not a model: 1)")
    assert zoo.last_build(tmp_path)["summary"] == events[-1]["summary"]


def test_a_build_can_be_cancelled_and_only_one_runs_at_a_time(tmp_path):
    events = []
    builds = zoo.IndexBuilds(events.append, interval=0.0)
    started, release = threading.Event(), threading.Event()

    def run(on_step, check_cancel):
        started.set()
        release.wait(10)
        check_cancel()
        return FakeBuild(1)

    builds.start("slow", tmp_path, run)
    started.wait(10)
    with pytest.raises(zoo.BuildBusy):
        builds.start("other", tmp_path, run)
    assert builds.cancel()["message"] == "cancelling"
    release.set()
    builds.wait(10)
    final = builds.status()
    assert final["state"] == "cancelled" and "unchanged" in final["message"]
    assert zoo.last_build(tmp_path) is None  # only finished builds leave a report


def test_a_failing_build_says_why(tmp_path):
    builds = zoo.IndexBuilds(lambda status: None)

    def run(on_step, check_cancel):
        raise ConfigError("Nothing to index: give a catalog file and/or model folders to scan.")

    builds.start("bad", tmp_path, run)
    builds.wait(10)
    assert builds.status()["state"] == "failed" and "Nothing to index" in builds.status()["message"]


def plan(checkpoint="base.safetensors", loras=(("style.safetensors", 0.8),)):
    choice = lambda name, slot, w=None: {"load_name": name, "slot": slot, "weight": w, "name": name}  # noqa: E731
    return {"instruction": "Turn the dog into a corgi", "prompt": "pcorgi, a corgi", "negative_prompt": "blurry",
            "checkpoint": choice(checkpoint, "checkpoint") if checkpoint is not None else None,
            "loras": [choice(n, "object_lora", w) for n, w in loras]}


def test_text_to_image_workflow_from_a_plan():
    prompt = zoo.workflow_from_plan(plan(loras=(("a.safetensors", 0.7), ("b.safetensors", 0.5))), "text-to-image",
                                    ROOT / "workflows" / "api")
    by_type = {}
    for node_id, node in prompt.items():
        by_type.setdefault(node["class_type"], []).append((node_id, node["inputs"]))
    assert by_type["CheckpointLoaderSimple"][0][1] == {"ckpt_name": "base.safetensors"}
    (first_id, first), (_, second) = by_type["LoraLoader"]
    assert (first["lora_name"], first["strength_model"], second["lora_name"]) == ("a.safetensors", 0.7,
                                                                                 "b.safetensors")
    assert second["model"] == [first_id, 0] and second["clip"] == [first_id, 1]  # chained
    texts = [inputs["text"] for _, inputs in by_type["CLIPTextEncode"]]
    assert texts == ["pcorgi, a corgi", "blurry"]
    shipped = json.loads((ROOT / "workflows" / "api" / "polaris-text-to-image.json").read_text())
    sampler = next(n["inputs"] for n in shipped.values() if n["class_type"] == "KSampler")
    assert by_type["KSampler"][0][1]["steps"] == sampler["steps"]
    assert all(not t.startswith("Polaris") for t in by_type)


def test_local_edit_workflow_keeps_the_mask_and_inpaints_with_the_plan():
    prompt = zoo.workflow_from_plan(plan(), "local-edit", ROOT / "workflows" / "api")
    types = [n["class_type"] for n in prompt.values()]
    assert {"LoadImage", "PolarisParseInstruction", "PolarisMaskRegion", "PolarisInpaintMasked",
            "MaskToImage"} <= set(types)
    inpaint = next(n["inputs"] for n in prompt.values() if n["class_type"] == "PolarisInpaintMasked")
    assert inpaint["prompt"] == "pcorgi, a corgi"
    assert next(n["inputs"]["instruction"] for n in prompt.values()
                if n["class_type"] == "PolarisParseInstruction") == "Turn the dog into a corgi"


def test_a_plan_without_a_local_checkpoint_cannot_become_a_workflow():
    with pytest.raises(zoo.ZooRequestError, match="no local checkpoint"):
        zoo.workflow_from_plan(plan(checkpoint=""), "text-to-image", ROOT / "workflows" / "api")
    with pytest.raises(zoo.ZooRequestError):
        zoo.workflow_from_plan(plan(), "video", ROOT / "workflows" / "api")


def test_index_cache_reloads_changed_folders_and_keeps_the_last_used(tmp_path):
    from polaris_core.vectorstore import MANIFEST

    loads = []

    def loader(folder):
        loads.append(folder.name)
        return [folder.name, len(loads)]

    folders = []
    for name in "abc":
        folder = tmp_path / name
        folder.mkdir()
        (folder / MANIFEST).write_text("1")
        folders.append(folder)
    cache = zoo.IndexCache(loader, max_loaded=2)
    assert cache.get(folders[0])[0] == ["a", 1]
    assert cache.get(folders[0])[0] == ["a", 1]          # cached
    (folders[0] / MANIFEST).write_text("22")            # a rebuild replaces the manifest
    assert cache.get(folders[0])[0] == ["a", 2]
    cache.get(folders[1])
    cache.get(folders[0])                               # a used last, b next
    cache.get(folders[2])                               # c evicts b
    assert cache.get(folders[0])[0] == ["a", 2] and loads == ["a", "a", "b", "c"]
    cache.get(folders[1])
    assert loads[-1] == "b"
    with pytest.raises(zoo.ZooNotFound):
        cache.get(tmp_path / "missing")


# ---- issue 21: one index-name rule, the shrink choice, messages without server paths ----------------------
@pytest.mark.parametrize("name, says", [("x" * 300, "300 characters long"), (".hidden", "dot"),
                                        ("tab\tname", "control"), ("a:b", "separator")])
def test_index_names_in_requests_follow_the_nodes_rule(name, says):
    for make in (lambda: zoo.search_request({"index": name}), lambda: zoo.build_request({"name": name})):
        with pytest.raises(zoo.ZooRequestError, match=says):
            make()


def test_demo_can_be_searched_but_not_built_and_removing_entries_is_a_choice():
    assert zoo.search_request({"index": "demo"}).index == "demo"
    for name in ("demo", "Demo"):
        with pytest.raises(zoo.ZooRequestError, match="reserved for the shipped demo zoo"):
            zoo.build_request({"name": name})
    assert zoo.build_request({"name": "mine"}).allow_removing_entries is False
    assert zoo.build_request({"name": "mine", "allow_removing_entries": True}).allow_removing_entries is True
    with pytest.raises(zoo.ZooRequestError):
        zoo.build_request({"name": "mine", "allow_removing_entries": "yes"})


def test_a_failed_build_shows_no_server_path(tmp_path):
    events = []
    builds = zoo.IndexBuilds(events.append, interval=0.0,
                             public_message=lambda text: text.replace(str(tmp_path), "models/polaris/indexes"))

    def os_error(on_step, check_cancel):
        open(tmp_path / "missing" / "file.txt")

    builds.start("mine", tmp_path, os_error)
    builds.wait(10)
    assert events[-1]["state"] == "failed" and "internal error (FileNotFoundError)" in events[-1]["message"]
    assert str(tmp_path) not in json.dumps(events)

    def polaris_error(on_step, check_cancel):
        raise ConfigError(f"{tmp_path / 'notes'} is not empty")

    builds.start("mine", tmp_path, polaris_error)
    builds.wait(10)
    assert events[-1]["message"] == "models/polaris/indexes/notes is not empty"

def test_the_sidebar_plan_and_its_workflows_leave_out_catalog_only_loras_and_their_trigger_words(tmp_path):
    """A catalog LoRA that fits the request best has no file: the plan takes the local one, and no workflow
    carries the catalog LoRA's trigger word (it used to be dropped from the loaders but kept in the prompt)."""
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.index import ZooIndex
    from polaris_core.zoo.entry import ZooEntry

    def local(name: str) -> dict:
        (tmp_path / name).write_bytes(b"x")
        return dict(source="local", file_format="safetensors", file_name=name, file_path=str(tmp_path / name))

    zoo_entries = [
        ZooEntry(id="ck", kind="checkpoint", name="Photo Base", base_family="sd15", tags=["photo"],
                 **local("base.safetensors")),
        ZooEntry(id="civitai:8765", kind="lora", name="Corgi Deluxe corgi dog", role="object", base_family="sd15",
                 trigger_words=["cdlx corgi"], tags=["corgi", "dog"], civitai_model_id=4321,
                 civitai_version_id=8765, example_prompts=["cdlx corgi, a corgi dog on the grass"] * 3),
        ZooEntry(id="local-dog", kind="lora", name="Small dogs", role="object", base_family="sd15",
                 trigger_words=["smdog"], tags=["dog"], **local("small-dogs.safetensors")),
    ]
    index = ZooIndex.build(zoo_entries, None, text_encoder=load_text_encoder())
    summary = zoo.plan_instruction(index, "Turn the cat into a corgi dog")
    object_cards = summary["candidates"]["object_lora"]
    assert object_cards[0]["name"] == "Corgi Deluxe corgi dog"  # retrieval ranks the catalog LoRA first
    assert [lora["load_name"] for lora in summary["loras"]] == ["small-dogs.safetensors"]
    assert any("Corgi Deluxe" in note and "civitai.com/models/4321" in note for note in summary["notes"])
    for template in zoo.WORKFLOW_TEMPLATES:
        prompt = zoo.workflow_from_plan(summary, template, ROOT / "workflows" / "api")
        texts = json.dumps(prompt)
        assert "cdlx" not in texts and "smdog" in texts
        assert [n["inputs"]["lora_name"] for n in prompt.values() if n["class_type"] == "LoraLoader"] == \
            ["small-dogs.safetensors"]
    assert object_cards[0]["installed"] is False and \
        object_cards[0]["civitai_page"] == "https://civitai.com/models/4321?modelVersionId=8765"
    broken = {**summary, "loras": [{**summary["loras"][0], "load_name": ""}]}
    with pytest.raises(zoo.ZooRequestError, match="no local file"):
        zoo.workflow_from_plan(broken, "text-to-image", ROOT / "workflows" / "api")
