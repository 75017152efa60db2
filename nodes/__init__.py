"""Polaris's V3 nodes, one module per stage, registered through `comfy_entrypoint`."""
from __future__ import annotations

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from . import glue, loaders, mask, parse

NODE_CLASSES: list[type[io.ComfyNode]] = [
    *loaders.NODES,
    *parse.NODES,
    *mask.NODES,
]


class PolarisExtension(ComfyExtension):
    @override
    async def on_load(self) -> None:
        glue.register_model_folders()

    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODE_CLASSES)


async def comfy_entrypoint() -> PolarisExtension:
    return PolarisExtension()
