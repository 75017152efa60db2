"""Zoo index nodes: build or update an index from ComfyUI's model folders (and catalogs), or load one."""
from __future__ import annotations


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
                io.String.Input("milvus_uri", default="", optional=True,
                                tooltip="Optional: keep a new index's vectors in Milvus, shared by a team: a server "
                                        "URI (http://host:19530) or a Milvus Lite file (zoo.db). Empty: in the "
                                        "index folder. Needs pip install 'polaris[milvus]'."),
            ],
            outputs=[types.ZooIndex.Output(display_name="index")],
            not_idempotent=True,
        )

    @classmethod
    def execute(cls, index_name: str, scan_checkpoints: bool, scan_loras: bool, catalogs: str = "",
                clip=None, milvus_uri: str = "") -> io.NodeOutput:
        from polaris_core.pipeline import build_or_update_index

        folder = glue.index_folder(index_name)
        roots = [(p, "checkpoint") for p in glue.folder_list("checkpoints") if scan_checkpoints]
        roots += [(p, "lora") for p in glue.folder_list("loras") if scan_loras]
        files = glue.resolve_catalog_paths(catalogs)
        on_step, check_cancel = glue.callbacks()
        build = build_or_update_index(folder, catalogs=files, model_roots=roots, cache_dir=glue.cache_folder(),
                                      clip=clip, on_step=on_step, check_cancel=check_cancel,
                                      milvus_uri=(milvus_uri or "").strip())
        return io.NodeOutput(build.index, ui=ui.PreviewText(f"{index_name}: {build.summary()}"))


class PolarisLoadIndex(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadIndex",
            display_name="Load Zoo Index (Polaris)",
            category="Polaris/index",
            description="Loads a zoo index from models/polaris/indexes (built by Build Zoo Index or `polaris index "
                        "build`), or the small demo zoo shipped with Polaris. Reloads by itself when the index "
                        "folder changes. Connect a CLIP to search by image.",
            inputs=[
                io.Combo.Input("index_name", options=glue.index_choices(DEMO), default=glue.DEFAULT_INDEX,
                               tooltip="An index in models/polaris/indexes; Build Zoo Index writes 'my-zoo' by "
                                       "default."),
                types.ClipModel.Input("clip", optional=True,
                                      tooltip="The CLIP the index's preview images were embedded with: enables "
                                              "image queries (style from a reference image)."),
            ],
            outputs=[types.ZooIndex.Output(display_name="index")],
        )

    @classmethod
    def validate_inputs(cls, index_name: str, **_) -> bool | str:
        return True if index_name == DEMO else glue.check_index_name(index_name)

    @classmethod
    def fingerprint_inputs(cls, index_name: str, **_):
        return "demo" if index_name == DEMO else glue.index_fingerprint(index_name)

    @classmethod
    def execute(cls, index_name: str, clip=None) -> io.NodeOutput:
        from polaris_core.pipeline import attach_clip, demo_index
        from polaris_core.report import index_summary

        if index_name == DEMO:
            index = demo_index(glue.index_folder("demo"), cache_dir=glue.cache_folder()).index
        else:
            index = glue.load_index(index_name)
        notes = attach_clip(index, clip) if clip is not None else []
        return io.NodeOutput(index, ui=ui.PreviewText(index_summary(index, index_name, notes)))


NODES = [PolarisBuildIndex, PolarisLoadIndex]
