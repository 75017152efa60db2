"""Shared pytest setup: offline mode, fixture cache, paths to the shared data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POLARIS_SHARED_DATA", ROOT.parent / "shared" / "data"))
FIXTURE_CACHE = Path(os.environ.get("POLARIS_FIXTURE_CACHE", ROOT / ".cache" / "fixtures"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def fixture_cache() -> Path:
    """Git-ignored folder where random-weight model fixtures are built once and reused."""
    FIXTURE_CACHE.mkdir(parents=True, exist_ok=True)
    return FIXTURE_CACHE


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (the real Civitai catalog and the dev benchmark splits)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
