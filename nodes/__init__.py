"""Polaris's V3 nodes, one module per stage, registered through `comfy_entrypoint`."""
from __future__ import annotations

from typing_extensions import override

from comfy_api.v0_0_2 import ComfyExtension, io

from . import apply, index, loaders, mask, parse, rerank, retrieve, routes
from .comfy import folders, previews

NODE_CLASSES: list[type[io.ComfyNode]] = [
    *loaders.NODES,
    *index.NODES,
    *parse.NODES,
    *mask.NODES,
    *retrieve.NODES,
    *rerank.NODES,
    *apply.NODES,
]


class PolarisExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODE_CLASSES)


async def comfy_entrypoint() -> PolarisExtension:
    # ComfyUI 0.3.75 calls this once while loading custom nodes (it does not call ComfyExtension.on_load).
    folders.register_model_folders()
    previews.install_example_inputs()
    routes.register()  # the Zoo sidebar's /polaris/... routes
    return PolarisExtension()
