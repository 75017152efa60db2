"""Zoo index nodes: build or update an index from ComfyUI's model folders (and catalogs), or load one."""
from __future__ import annotations


from comfy_api.v0_0_2 import io, ui

from . import types
from .comfy import execution, folders, indexes

DEMO = "(demo zoo)"
BUILD_NODE = "Build Zoo Index (Polaris)"
LOAD_NODE = "Load Zoo Index (Polaris)"


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
                clip=None, allow_removing_entries: bool = False, milvus_uri: str = "") -> io.NodeOutput:
        build = build_index(index_name, node=BUILD_NODE, scan_checkpoints=scan_checkpoints, scan_loras=scan_loras,
                            catalogs=catalogs, clip=clip, allow_removing_entries=allow_removing_entries,
                            milvus_uri=(milvus_uri or "").strip())
        return io.NodeOutput(build.index, ui=ui.PreviewText(f"{index_name}: {build.summary()}"))


def build_index(index_name: str, *, node: str, scan_checkpoints: bool = True, scan_loras: bool = True,
                catalogs: str = "", clip=None, allow_removing_entries: bool = False, milvus_uri: str = ""):
    """Build or update an index from ComfyUI's model folders (and catalogs), with the node's progress bar and
    the UI's interrupt. The core's build is atomic and holds the folder's lock: an interrupted or refused build
    leaves the previous index as it was. Errors are said in `node`'s terms, without the server's paths."""
    from polaris_core.errors import PolarisError
    from polaris_core.pipeline import build_or_update_index

    try:
        folder = indexes.index_folder(index_name)
    except PolarisError as exc:
        raise type(exc)(f"{node}: index_name: {exc}") from exc
    roots = [(p, "checkpoint") for p in folders.folder_list("checkpoints") if scan_checkpoints]
    roots += [(p, "lora") for p in folders.folder_list("loras") if scan_loras]
    files = indexes.resolve_catalog_paths(catalogs)
    on_step, check_cancel = execution.callbacks()
    try:
        return build_or_update_index(
            folder, catalogs=files, model_roots=roots, cache_dir=indexes.cache_folder(), clip=clip,
            allow_shrink=bool(allow_removing_entries), label=indexes.index_label(folder.name),
            how_to_allow_shrink=f"tick allow_removing_entries on {BUILD_NODE} and queue it again",
            what=f"a {node} node", on_step=on_step, check_cancel=check_cancel, milvus_uri=milvus_uri)
    except PolarisError as exc:  # said in the graph's terms, without the server's paths
        raise type(exc)(folders.public_message(str(exc))) from exc


def build_on_first_use(index_name: str, clip=None):
    """The first run of a workflow that names an index not built yet: build it from models/checkpoints and
    models/loras, with Load Zoo Index's wording when that fails (same error class)."""
    from polaris_core.errors import PolarisError

    try:
        return build_index(index_name, node=LOAD_NODE, clip=clip)
    except PolarisError as exc:
        raise type(exc)(
            f"Load Zoo Index (Polaris): there is no index named '{index_name}' yet, and building it from "
            f"models/checkpoints and models/loras on this first run failed: {exc} Put your checkpoints and LoRAs "
            "in those folders (or pick '(demo zoo)'), then queue the workflow again.") from exc


class PolarisLoadIndex(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisLoadIndex",
            display_name="Load Zoo Index (Polaris)",
            category="Polaris/index",
            description="Loads a zoo index from models/polaris/indexes (built by Build Zoo Index or `polaris index "
                        "build`), or the small demo zoo shipped with Polaris. An index that does not exist yet is "
                        "built from models/checkpoints and models/loras on the first run (progress on the node; "
                        "cancel stops it and writes nothing). Reloads by itself when the index folder changes. "
                        "Connect a CLIP to search by image.",
            inputs=[
                io.Combo.Input("index_name", options=indexes.index_choices(DEMO), default=indexes.DEFAULT_INDEX,
                               tooltip="An index in models/polaris/indexes. One that does not exist yet (such as "
                                       "'my-zoo' on a fresh install) is built from models/checkpoints and "
                                       "models/loras on the first run; Build Zoo Index rescans it when you add "
                                       "models."),
                types.ClipModel.Input("clip", optional=True,
                                      tooltip="The CLIP the index's preview images were embedded with: enables "
                                              "image queries (style from a reference image). A first-run build "
                                              "embeds the preview images with it."),
            ],
            outputs=[types.ZooIndex.Output(display_name="index")],
        )

    @classmethod
    def validate_inputs(cls, index_name: str, **_) -> bool | str:
        # A missing index is not an error: the first run builds it.
        return True if index_name == DEMO else indexes.check_index_name(index_name, missing_ok=True)

    @classmethod
    def fingerprint_inputs(cls, index_name: str, **_):
        return "demo" if index_name == DEMO else indexes.index_fingerprint(index_name)

    @classmethod
    def execute(cls, index_name: str, clip=None) -> io.NodeOutput:
        from polaris_core.pipeline import attach_clip, demo_index
        from polaris_core.report import index_summary

        from polaris_core.index import is_index_folder

        first_run = ""
        if index_name == DEMO:
            index = demo_index(indexes.demo_folder(), cache_dir=indexes.cache_folder(), label=indexes.index_label("demo")).index
        elif not is_index_folder(indexes.index_folder(index_name)):
            build = build_on_first_use(index_name, clip)
            index = build.index
            first_run = (f"first run: built '{index_name}' from models/checkpoints and models/loras "
                         f"({build.summary()}). Run Build Zoo Index (Polaris) when you add models.\n\n")
        else:
            index = indexes.load_index(index_name)
        notes = attach_clip(index, clip) if clip is not None else []
        return io.NodeOutput(index, ui=ui.PreviewText(first_run + index_summary(index, index_name, notes)))


NODES = [PolarisBuildIndex, PolarisLoadIndex]
