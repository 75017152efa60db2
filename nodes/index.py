"""Zoo index nodes: build or update an index from ComfyUI's model folders (and catalogs), or load one."""
from __future__ import annotations


from comfy_api.latest import io, ui

from . import glue, types

DEMO = "(demo zoo)"
BUILD_NODE = "Build Zoo Index (Polaris)"


class PolarisBuildIndex(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisBuildIndex",
            display_name=BUILD_NODE,
            category="Polaris/index",
            description="Scans ComfyUI's checkpoints and loras folders (headers and sidecars only, never loading "
                        "weights) plus optional Civitai catalog files, and builds or updates a searchable index in "
                        "models/polaris/indexes. Unchanged files are not re-read, so a rescan takes seconds.",
            inputs=[
                io.String.Input("index_name", default="my-zoo",
                                tooltip="Folder name under models/polaris/indexes; an existing index is updated. "
                                        "A plain name of at most 80 characters, not starting with a dot; 'demo' is "
                                        "the shipped demo zoo's."),
                io.Boolean.Input("scan_checkpoints", default=True, tooltip="Index the files in models/checkpoints."),
                io.Boolean.Input("scan_loras", default=True, tooltip="Index the files in models/loras."),
                io.Boolean.Input("allow_removing_entries", default=False, optional=True,
                                 tooltip="Let this build drop more than half of the existing index's entries, "
                                         "e.g. after you deleted models or unticked a scan on purpose. Off, such a "
                                         "build stops and keeps the index as it was (a folder that failed to read "
                                         "must not wipe your index)."),
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
                clip=None, allow_removing_entries: bool = False) -> io.NodeOutput:
        from polaris_core.errors import PolarisError
        from polaris_core.pipeline import build_or_update_index

        try:
            folder = glue.index_folder(index_name)
        except PolarisError as exc:
            raise type(exc)(f"{BUILD_NODE}: index_name: {exc}") from exc
        roots = [(p, "checkpoint") for p in glue.folder_list("checkpoints") if scan_checkpoints]
        roots += [(p, "lora") for p in glue.folder_list("loras") if scan_loras]
        files = glue.resolve_catalog_paths(catalogs)
        on_step, check_cancel = glue.callbacks()
        try:
            build = build_or_update_index(
                folder, catalogs=files, model_roots=roots, cache_dir=glue.cache_folder(), clip=clip,
                allow_shrink=bool(allow_removing_entries), label=glue.index_label(folder.name),
                how_to_allow_shrink=f"tick allow_removing_entries on {BUILD_NODE} and queue it again",
                what=f"a {BUILD_NODE} node", on_step=on_step, check_cancel=check_cancel)
        except PolarisError as exc:  # said in the graph's terms, without the server's paths
            raise type(exc)(glue.public_message(str(exc))) from exc
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
            index = demo_index(glue.demo_folder(), cache_dir=glue.cache_folder(), label=glue.index_label("demo")).index
        else:
            index = glue.load_index(index_name)
        notes = attach_clip(index, clip) if clip is not None else []
        return io.NodeOutput(index, ui=ui.PreviewText(index_summary(index, index_name, notes)))


NODES = [PolarisBuildIndex, PolarisLoadIndex]
