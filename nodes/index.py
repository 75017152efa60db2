"""Zoo index nodes: build or update an index from ComfyUI's model folders (and catalogs), or load one."""
from __future__ import annotations

from pathlib import Path

from comfy_api.latest import io, ui

from . import glue, types

DEMO = "(demo zoo)"


class PolarisBuildIndex(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisBuildIndex",
            display_name="Build Zoo Index (Polaris)",
            category="Polaris/index",
            description="Scans ComfyUI's checkpoints and loras folders (headers and sidecars only, never loading "
                        "weights) plus optional Civitai catalog files, and builds or updates a searchable index in "
                        "models/polaris/indexes. Unchanged files are not re-read, so a rescan takes seconds.",
            inputs=[
                io.String.Input("index_name", default="my-zoo",
                                tooltip="Folder name under models/polaris/indexes; an existing index is updated."),
                io.Boolean.Input("scan_checkpoints", default=True, tooltip="Index the files in models/checkpoints."),
                io.Boolean.Input("scan_loras", default=True, tooltip="Index the files in models/loras."),
                io.String.Input("catalogs", default="", multiline=True, optional=True,
                                tooltip="Civitai API catalog files (.jsonl or .jsonl.gz), one name per line, from ComfyUI's "
                                        "input folder or models/polaris/catalogs."),
                types.ClipModel.Input("clip", optional=True,
                                      tooltip="Adds the image channel: CLIP embeddings of the preview images."),
            ],
            outputs=[types.ZooIndex.Output(display_name="index")],
            not_idempotent=True,
        )

    @classmethod
    def execute(cls, index_name: str, scan_checkpoints: bool, scan_loras: bool, catalogs: str = "",
                clip=None) -> io.NodeOutput:
        from polaris_core.pipeline import build_or_update_index

        folder = glue.index_folder(index_name)
        roots = [(p, "checkpoint") for p in glue.folder_list("checkpoints") if scan_checkpoints]
        roots += [(p, "lora") for p in glue.folder_list("loras") if scan_loras]
        files = glue.resolve_catalog_paths(catalogs)
        on_step, check_cancel = glue.callbacks()
        build = build_or_update_index(folder, catalogs=files, model_roots=roots, cache_dir=glue.cache_folder(),
                                      clip=clip, on_step=on_step, check_cancel=check_cancel)
        return io.NodeOutput(build.index, ui=ui.PreviewText(f"{folder}\n{build.summary()}"))


class PolarisLoadIndex(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadIndex",
            display_name="Load Zoo Index (Polaris)",
            category="Polaris/index",
            description="Loads a zoo index from models/polaris/indexes, or the small demo zoo shipped with Polaris.",
            inputs=[
                io.Combo.Input("index_name", options=[DEMO, *glue.index_names()],
                               tooltip="An index built by Build Zoo Index or `polaris index build`."),
            ],
            outputs=[types.ZooIndex.Output(display_name="index")],
        )

    @classmethod
    def execute(cls, index_name: str) -> io.NodeOutput:
        from polaris_core.index import ZooIndex
        from polaris_core.pipeline import demo_index

        if index_name == DEMO:
            build = demo_index(glue.index_folder("demo"), cache_dir=glue.cache_folder())
            return io.NodeOutput(build.index, ui=ui.PreviewText(build.summary()))
        index = ZooIndex.load(glue.index_folder(index_name))
        counts = ", ".join(f"{v} {k}" for k, v in index.counts().items())
        return io.NodeOutput(index, ui=ui.PreviewText(f"{index_name}: {len(index)} entries ({counts})"))


NODES = [PolarisBuildIndex, PolarisLoadIndex]
