"""A real ComfyUI server (main.py --cpu) shared by the integration tests."""
from __future__ import annotations

import pytest

from comfy_host import ComfyServer, ComfyUIMissing, require_comfyui


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory):
    """A throwaway ComfyUI base directory (models/, input/, output/, custom_nodes/)."""
    return tmp_path_factory.mktemp("comfy-base")


@pytest.fixture(scope="session")
def comfy_server(comfy_base):
    try:
        require_comfyui()
    except ComfyUIMissing as exc:
        pytest.fail(str(exc))
    server = ComfyServer(comfy_base).start()
    yield server
    server.stop()
