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


class Graph:
    def __init__(self, title: str):
        self.title = title
        self.nodes: list[dict] = []

    def add(self, class_type: str, title: str | None = None, **inputs) -> "NodeRef":
        self.nodes.append({"class_type": class_type, "inputs": inputs, "title": title or class_type})
        return NodeRef(len(self.nodes))

    def api(self) -> dict:
        out = {}
        for i, node in enumerate(self.nodes, 1):
            inputs = {k: ([str(v.node_id), v.slot] if isinstance(v, Output) else v) for k, v in node["inputs"].items()}
            out[str(i)] = {"class_type": node["class_type"], "inputs": inputs, "_meta": {"title": node["title"]}}
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
    depth: dict[int, int] = {}
    for i, node in enumerate(graph.nodes, 1):
        parents = [v.node_id for v in node["inputs"].values() if isinstance(v, Output)]
        depth[i] = 1 + max((depth[p] for p in parents), default=-1)
    column_rows: dict[int, int] = {}
    final_links = []
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
        col = depth[i]
        row = column_rows.get(col, 0)
        column_rows[col] = row + 1
        nodes.append({
            "id": i, "type": node["class_type"], "pos": [40 + col * 380, 40 + row * 300], "size": [340, 260],
            "flags": {}, "order": i - 1, "mode": 0, "inputs": inputs, "outputs": outputs,
            "title": node["title"], "properties": {"Node name for S&R": node["class_type"]},
            "widgets_values": widget_values(spec, node["inputs"]),
        })
        for name, linked in incoming.get(i, {}).items():
            final_links.append((linked, name, slot_of_input[name]))
    slot_for_link = {lid: slot for lid, _, slot in final_links}
    links = [[lid, src, src_slot, dst, slot_for_link[lid], kind] for lid, src, src_slot, dst, _, kind in links]
    return {"last_node_id": len(nodes), "last_link_id": link_id, "nodes": nodes, "links": links, "groups": [],
            "config": {}, "extra": {"polaris": {"title": graph.title}}, "version": 0.4}


def retrieval_chain(g: Graph, index, intent, llm, image=None):
    extra = {"image": image} if image is not None else {}
    ckpts = g.add("PolarisRetrieveCheckpoint", index=index, intent=intent, top_k=5, **extra)
    loras = g.add("PolarisRetrieveLoRA", index=index, candidates=ckpts[0], top_k=10, **extra)
    rerank = g.add("PolarisTreeRerank", llm=llm, candidates=loras[0], keep=3, score="yes_no")
    return g.add("PolarisApplyPlan", plan=rerank[0], extra_prompt="", lora_strength_scale=1.0)


def sample_and_save(g: Graph, applied: NodeRef, prefix: str) -> None:
    """Core nodes sample from Apply Plan's model, CLIP, VAE and prompts, and save the image."""
    positive = g.add("CLIPTextEncode", text=applied[3], clip=applied[1])
    negative = g.add("CLIPTextEncode", text=applied[4], clip=applied[1])
    latent = g.add("EmptyLatentImage", width=512, height=512, batch_size=1)
    sampled = g.add("KSampler", model=applied[0], seed=0, steps=25, cfg=7.0, sampler_name="euler",
                    scheduler="normal", positive=positive[0], negative=negative[0], latent_image=latent[0],
                    denoise=1.0)
    decoded = g.add("VAEDecode", samples=sampled[0], vae=applied[2])
    g.add("SaveImage", images=decoded[0], filename_prefix=prefix)


def text_to_image() -> Graph:
    g = Graph("Text to image with a retrieved checkpoint and LoRAs")
    llm = g.add("PolarisLoadLLM", model="(bundled SmolLM2-135M)", dtype="float32")
    index = g.add("PolarisBuildIndex", index_name="my-zoo", scan_checkpoints=True, scan_loras=True, catalogs="")
    parsed = g.add("PolarisParseInstruction", instruction="a watercolor painting of a corgi in a meadow",
                   backend="rules", base_url="")
    applied = retrieval_chain(g, index[0], parsed[0], llm[0])
    sample_and_save(g, applied, "polaris/t2i")
    return g


def local_edit() -> Graph:
    g = Graph("Local edit by instruction: parse, mask, retrieve, rerank, apply, inpaint")
    image = g.add("LoadImage", image="example.png")
    llm = g.add("PolarisLoadLLM", model="(bundled SmolLM2-135M)", dtype="float32")
    clip = g.add("PolarisLoadCLIP", clip_name="ViT-B-32.safetensors", architecture="ViT-B-32")
    sam = g.add("PolarisLoadSAM", sam_name="sam_vit_b.safetensors")
    index = g.add("PolarisBuildIndex", index_name="my-zoo", scan_checkpoints=True, scan_loras=True, catalogs="")
    parsed = g.add("PolarisParseInstruction", instruction="Turn the dog into a corgi", backend="rules",
                   image=image[0], base_url="")
    mask = g.add("PolarisMaskRegion", image=image[0], intent=parsed[0], clip=clip[0], sam=sam[0],
                 subject_override="", candidate=0, grow_px=8.0, feather_px=4.0, points_per_side=16,
                 min_predicted_iou=0.86, min_stability=0.92, max_overlap=0.7)
    applied = retrieval_chain(g, index[0], parsed[0], llm[0])
    edited = g.add("PolarisInpaintMasked", model=applied[0], clip=applied[1], vae=applied[2], image=image[0],
                   mask=mask[0], prompt=applied[3], negative_prompt=applied[4], seed=0, steps=25, cfg=7.0,
                   sampler_name="euler", scheduler="normal", denoise=1.0, grow_mask_by=6)
    g.add("SaveImage", images=edited[0], filename_prefix="polaris/edit")
    mask_image = g.add("MaskToImage", mask=mask[0])
    g.add("SaveImage", images=mask_image[0], filename_prefix="polaris/mask")
    return g


def style_from_reference() -> Graph:
    g = Graph("Style from a reference image (image-embedding retrieval)")
    reference = g.add("LoadImage", image="reference.png")
    llm = g.add("PolarisLoadLLM", model="(bundled SmolLM2-135M)", dtype="float32")
    clip = g.add("PolarisLoadCLIP", clip_name="ViT-B-32.safetensors", architecture="ViT-B-32")
    index = g.add("PolarisBuildIndex", index_name="my-zoo", scan_checkpoints=True, scan_loras=True, catalogs="",
                  clip=clip[0])
    parsed = g.add("PolarisParseInstruction", instruction="Paint it in the style of this reference image",
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
        write_json(ROOT / "workflows" / "api" / f"{name}.json", graph.api())
        write_json(ROOT / "workflows" / f"{name}.json", ui_workflow(graph, object_info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
