"""Write workflows/*.json (ComfyUI UI format) and workflows/api/*.json (API format) from one description.

The UI twin is laid out from the live server's /object_info, so widget order and counts match what the
server reports (the integration tests check this). Run after changing a node's inputs:

    .venv/bin/python scripts/make_workflows.py
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


# Stages, left to right; each becomes a column of the canvas inside a titled group.
STAGES = ("Inputs and models", "Parse", "Mask", "Retrieve", "Rerank", "Apply", "Generate", "Output")
STAGE_COLOURS = {"Inputs and models": "#3f5159", "Parse": "#2a5a6b", "Mask": "#4b3f72", "Retrieve": "#2f5f3a",
                 "Rerank": "#6b4f1f", "Apply": "#6b2f2f", "Generate": "#444444", "Output": "#335544"}


class Graph:
    def __init__(self, title: str):
        self.title = title
        self.nodes: list[dict] = []

    def add(self, class_type: str, stage: str, title: str | None = None, **inputs) -> "NodeRef":
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        self.nodes.append({"class_type": class_type, "inputs": inputs, "title": title, "stage": stage})
        return NodeRef(len(self.nodes))

    def title_of(self, node: dict, object_info: dict) -> str:
        """The node's own display name, as the node menu shows it, unless the graph names it."""
        spec = object_info[node["class_type"]]
        return node["title"] or spec.get("display_name") or node["class_type"]

    def api(self, object_info: dict) -> dict:
        out = {}
        for i, node in enumerate(self.nodes, 1):
            inputs = {k: ([str(v.node_id), v.slot] if isinstance(v, Output) else v) for k, v in node["inputs"].items()}
            out[str(i)] = {"class_type": node["class_type"], "inputs": inputs,
                           "_meta": {"title": self.title_of(node, object_info)}}
        return out


class NodeRef:
    def __init__(self, node_id: int):
        self.node_id = node_id

    def __getitem__(self, slot: int) -> "Output":
        return Output(self.node_id, slot)


class Output:
    def __init__(self, node_id: int, slot: int):
        self.node_id, self.slot = node_id, slot


def widget_names(spec: dict) -> list[tuple[str, dict]]:
    """(name, options) of the inputs the UI shows as widgets, in the order it stores their values."""
    names = []
    for section in ("required", "optional"):
        for name, definition in spec["input"].get(section, {}).items():
            kind = definition[0]
            options = definition[1] if len(definition) > 1 else {}
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                names.append((name, options))
    return names


def widget_values(spec: dict, inputs: dict) -> list:
    values = []
    for name, options in widget_names(spec):
        value = inputs.get(name, options.get("default"))
        if isinstance(value, Output):
            value = options.get("default", "")
        if value is None:
            kind = spec["input"].get("required", {}).get(name, spec["input"].get("optional", {}).get(name))[0]
            value = kind[0] if isinstance(kind, list) and kind else (options.get("options") or [""])[0]
        values.append(value)
        if options.get("control_after_generate"):
            values.append("fixed")
        if options.get("image_upload"):
            values.append("image")
    return values


def ui_workflow(graph: Graph, object_info: dict) -> dict:
    nodes, links = [], []
    outgoing: dict[tuple[int, int], list[int]] = {}
    link_id = 0
    incoming: dict[int, dict[str, int]] = {}
    for i, node in enumerate(graph.nodes, 1):
        for name, value in node["inputs"].items():
            if isinstance(value, Output):
                link_id += 1
                spec = object_info[graph.nodes[value.node_id - 1]["class_type"]]
                links.append([link_id, value.node_id, value.slot, i, name, spec["output"][value.slot]])
                outgoing.setdefault((value.node_id, value.slot), []).append(link_id)
                incoming.setdefault(i, {})[name] = link_id
    final_links = []
    placed: dict[int, tuple[float, float, float, float]] = {}
    for i, node in enumerate(graph.nodes, 1):
        spec = object_info[node["class_type"]]
        widgets = {name for name, _ in widget_names(spec)}
        inputs = []
        slot_of_input = {}
        for section in ("required", "optional"):
            for name, definition in spec["input"].get(section, {}).items():
                linked = incoming.get(i, {}).get(name)
                if name in widgets and linked is None:
                    continue
                entry = {"name": name, "type": definition[0] if isinstance(definition[0], str) else "COMBO",
                         "link": linked}
                if name in widgets:
                    entry["widget"] = {"name": name}
                slot_of_input[name] = len(inputs)
                inputs.append(entry)
        outputs = [{"name": out_name, "type": out_type, "links": outgoing.get((i, slot), []), "slot_index": slot}
                   for slot, (out_name, out_type) in enumerate(zip(spec["output_name"], spec["output"]))]
        placed[i] = (0.0, 0.0, *node_size(node["class_type"], spec, inputs, outputs))
        nodes.append({
            "id": i, "type": node["class_type"], "pos": [0, 0], "size": list(placed[i][2:]),
            "flags": {}, "order": i - 1, "mode": 0, "inputs": inputs, "outputs": outputs,
            "title": graph.title_of(node, object_info), "properties": {"Node name for S&R": node["class_type"]},
            "widgets_values": widget_values(spec, node["inputs"]),
        })
        for name, linked in incoming.get(i, {}).items():
            final_links.append((linked, name, slot_of_input[name]))
    groups = layout(graph, nodes)
    slot_for_link = {lid: slot for lid, _, slot in final_links}
    links = [[lid, src, src_slot, dst, slot_for_link[lid], kind] for lid, src, src_slot, dst, _, kind in links]
    return {"last_node_id": len(nodes), "last_link_id": link_id, "nodes": nodes, "links": links, "groups": groups,
            "config": {}, "extra": {"polaris": {"title": graph.title}, "ds": {"scale": 0.55, "offset": [40, 60]}},
            "version": 0.4}


# Sizes the frontend needs to show every widget and the Polaris text box without overlap (canvas units).
TITLE_HEIGHT, SLOT_HEIGHT, WIDGET_HEIGHT = 30, 22, 26
MULTILINE_HEIGHT = 90          # a multiline STRING widget
POLARIS_TEXT_HEIGHT = {"PolarisRetrieveCheckpoint": 230, "PolarisRetrieveLoRA": 300, "PolarisTreeRerank": 420,
                       "PolarisParseInstruction": 170, "PolarisMaskRegion": 170}
IMAGE_HEIGHT = {"LoadImage": 300, "SaveImage": 300, "PolarisMaskRegion": 280, "PolarisRetrieveCheckpoint": 150,
                "PolarisRetrieveLoRA": 150, "PolarisTreeRerank": 150}
NODE_WIDTH = {"PolarisRetrieveCheckpoint": 640, "PolarisRetrieveLoRA": 640, "PolarisTreeRerank": 640,
              "PolarisParseInstruction": 400, "PolarisMaskRegion": 420, "PolarisApplyPlan": 420,
              "PolarisInpaintMasked": 400, "KSampler": 320, "CLIPTextEncode": 320, "LoadImage": 320,
              "SaveImage": 320}
COLUMN_GAP, ROW_GAP, GROUP_PAD, GROUP_TITLE = 80, 50, 20, 44


def node_size(class_type: str, spec: dict, inputs: list, outputs: list) -> tuple[int, int]:
    height = TITLE_HEIGHT + SLOT_HEIGHT * max(len(inputs), len(outputs), 1)
    for name, options in widget_names(spec):
        if any(entry.get("widget", {}).get("name") == name for entry in inputs):
            continue  # a linked widget is an input slot, counted above
        height += MULTILINE_HEIGHT if options.get("multiline") else WIDGET_HEIGHT
        height += WIDGET_HEIGHT * bool(options.get("control_after_generate"))
    if class_type.startswith("Polaris"):
        height += POLARIS_TEXT_HEIGHT.get(class_type, 110)
    height += IMAGE_HEIGHT.get(class_type, 0)
    return NODE_WIDTH.get(class_type, 340), height + 16


def layout(graph: Graph, nodes: list[dict]) -> list[dict]:
    """Columns in stage order, nodes stacked in each, one titled group around each stage; returns the groups."""
    groups = []
    x = 0.0
    for stage in STAGES:
        members = [n for n, g in zip(nodes, graph.nodes) if g["stage"] == stage]
        if not members:
            continue
        width = max(n["size"][0] for n in members)
        y = GROUP_TITLE
        for n in members:
            n["pos"] = [x + GROUP_PAD, y + TITLE_HEIGHT]
            y += TITLE_HEIGHT + n["size"][1] + ROW_GAP
        groups.append({"title": stage, "bounding": [x, 0, width + 2 * GROUP_PAD, y - ROW_GAP + GROUP_PAD],
                       "color": STAGE_COLOURS[stage], "font_size": 24, "flags": {}})
        x += width + 2 * GROUP_PAD + COLUMN_GAP
    return groups


def retrieval_chain(g: Graph, index, intent, llm, image=None):
    extra = {"image": image} if image is not None else {}
    ckpts = g.add("PolarisRetrieveCheckpoint", "Retrieve", index=index, intent=intent, top_k=5, **extra)
    loras = g.add("PolarisRetrieveLoRA", "Retrieve", index=index, candidates=ckpts[0], top_k=10, **extra)
    rerank = g.add("PolarisTreeRerank", "Rerank", llm=llm, candidates=loras[0], keep=3, score="yes_no")
    return g.add("PolarisApplyPlan", "Apply", plan=rerank[0], extra_prompt="", lora_strength_scale=1.0,
                   lora_schedule="from plan")


def sample_and_save(g: Graph, applied: NodeRef, prefix: str) -> None:
    """Core nodes sample from Apply Plan's model, CLIP, VAE and prompts, and save the image."""
    positive = g.add("CLIPTextEncode", "Generate", title="Prompt from the plan", text=applied[3], clip=applied[1])
    negative = g.add("CLIPTextEncode", "Generate", title="Negative prompt", text=applied[4], clip=applied[1])
    latent = g.add("EmptyLatentImage", "Generate", width=512, height=512, batch_size=1)
    sampled = g.add("KSampler", "Generate", model=applied[0], seed=0, steps=25, cfg=7.0, sampler_name="euler",
                    scheduler="normal", positive=positive[0], negative=negative[0], latent_image=latent[0],
                    denoise=1.0)
    decoded = g.add("VAEDecode", "Output", samples=sampled[0], vae=applied[2])
    g.add("SaveImage", "Output", images=decoded[0], filename_prefix=prefix)


LLM = {"model": "(bundled SmolLM2-135M)", "dtype": "float32"}
CLIP = {"clip_name": "ViT-B-32.safetensors", "architecture": "ViT-B-32"}
INDEX = "my-zoo"  # what Build Zoo Index writes by default


def text_to_image() -> Graph:
    g = Graph("Text to image with a retrieved checkpoint and LoRAs")
    llm = g.add("PolarisLoadLLM", "Inputs and models", **LLM)
    index = g.add("PolarisLoadIndex", "Inputs and models", index_name=INDEX)
    parsed = g.add("PolarisParseInstruction", "Parse", instruction="a watercolor painting of a corgi in a meadow",
                   backend="rules", base_url="")
    applied = retrieval_chain(g, index[0], parsed[0], llm[0])
    sample_and_save(g, applied, "polaris/t2i")
    return g


def local_edit() -> Graph:
    g = Graph("Local edit by instruction: parse, mask, retrieve, rerank, apply, inpaint")
    image = g.add("LoadImage", "Inputs and models", image="polaris-example.png")
    llm = g.add("PolarisLoadLLM", "Inputs and models", **LLM)
    clip = g.add("PolarisLoadCLIP", "Inputs and models", **CLIP)
    sam = g.add("PolarisLoadSAM", "Inputs and models", sam_name="sam_vit_b.safetensors")
    index = g.add("PolarisLoadIndex", "Inputs and models", index_name=INDEX)
    parsed = g.add("PolarisParseInstruction", "Parse", instruction="Turn the dog into a corgi", backend="rules",
                   image=image[0], base_url="")
    mask = g.add("PolarisMaskRegion", "Mask", image=image[0], intent=parsed[0], clip=clip[0], sam=sam[0],
                 subject_override="", candidate=0, grow_px=8.0, feather_px=4.0, points_per_side=16,
                 min_predicted_iou=0.86, min_stability=0.92, max_overlap=0.7)
    applied = retrieval_chain(g, index[0], parsed[0], llm[0])
    edited = g.add("PolarisInpaintMasked", "Generate", model=applied[0], clip=applied[1], vae=applied[2],
                   image=image[0], mask=mask[0], prompt=applied[3], negative_prompt=applied[4], seed=0, steps=25,
                   cfg=7.0, sampler_name="euler", scheduler="normal", denoise=1.0, grow_mask_by=6)
    g.add("SaveImage", "Output", title="Save edited image", images=edited[0], filename_prefix="polaris/edit")
    mask_image = g.add("MaskToImage", "Output", mask=mask[0])
    g.add("SaveImage", "Output", title="Save mask", images=mask_image[0], filename_prefix="polaris/mask")
    return g


def style_from_reference() -> Graph:
    g = Graph("Style from a reference image (image-embedding retrieval)")
    reference = g.add("LoadImage", "Inputs and models", title="Load reference image", image="polaris-reference.png")
    llm = g.add("PolarisLoadLLM", "Inputs and models", **LLM)
    clip = g.add("PolarisLoadCLIP", "Inputs and models", **CLIP)
    index = g.add("PolarisLoadIndex", "Inputs and models", index_name=INDEX, clip=clip[0])
    parsed = g.add("PolarisParseInstruction", "Parse", instruction="Paint it in the style of this reference image",
                   backend="rules", image=reference[0], base_url="")
    applied = retrieval_chain(g, index[0], parsed[0], llm[0], image=reference[0])
    sample_and_save(g, applied, "polaris/style")
    return g


WORKFLOWS = {"polaris-text-to-image": text_to_image, "polaris-local-edit": local_edit,
             "polaris-style-from-reference": style_from_reference}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


def main() -> int:
    from comfy_host import ComfyServer

    with tempfile.TemporaryDirectory() as base:
        server = ComfyServer(Path(base)).start()
        try:
            object_info = server.get("/object_info")
        finally:
            server.stop()
    for name, make in WORKFLOWS.items():
        graph = make()
        write_json(ROOT / "workflows" / "api" / f"{name}.json", graph.api(object_info))
        write_json(ROOT / "workflows" / f"{name}.json", ui_workflow(graph, object_info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
