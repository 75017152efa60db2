"""Shared helpers for the embed/index/retrieve tests: a small real-catalog subset and its index.

The subset (the first checkpoints and LoRAs of the real Civitai file) is extracted once into
the fixture cache; embeddings go to an embedding cache there too, so only the first run pays
for MiniLM and later builds take about a second.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from polaris_core.zoo.entry import ZooEntry

SUBSET_VERSION = 2  # 2: entries carry their author
SUBSET_CHECKPOINTS = 40
SUBSET_LORAS = 120
CATALOG = Path("zoo") / "civitai-2023-sfw.jsonl.gz"


def catalog_subset(shared_data: Path, fixture_cache: Path) -> list[ZooEntry]:
    """The first SUBSET_CHECKPOINTS checkpoints and SUBSET_LORAS LoRAs of the real catalog."""
    target = fixture_cache / f"zoo-subset-v{SUBSET_VERSION}-{SUBSET_CHECKPOINTS}-{SUBSET_LORAS}.jsonl"
    if not target.is_file():
        from polaris_core.zoo.civitai import iter_catalog

        wanted = {"checkpoint": SUBSET_CHECKPOINTS, "lora": SUBSET_LORAS}
        picked = []
        for entry in iter_catalog(shared_data / CATALOG, kinds=("checkpoint", "lora")):
            if wanted[entry.kind] > 0:
                wanted[entry.kind] -= 1
                picked.append(entry)
            if not any(wanted.values()):
                break
        fd, tmp = tempfile.mkstemp(dir=fixture_cache, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for entry in picked:
                fh.write(json.dumps(entry.to_dict()) + "\n")
        os.replace(tmp, target)
    with open(target, encoding="utf-8") as fh:
        return [ZooEntry.from_dict(json.loads(line)) for line in fh]


def embedding_cache(fixture_cache: Path):
    from polaris_core.embed.cache import EmbeddingCache

    return EmbeddingCache(fixture_cache / "embeddings.sqlite")


def catalog_file(shared_data: Path, fixture_cache: Path, n_models: int = 12, civitai_type: str = "LORA") -> Path:
    """A small .jsonl catalog: the first `n_models` raw lines of one Civitai type (for CLI tests)."""
    import gzip

    target = fixture_cache / f"catalog-{civitai_type.lower()}-{n_models}.jsonl"
    if not target.is_file():
        lines = []
        with gzip.open(shared_data / CATALOG, "rt", encoding="utf-8") as fh:
            for line in fh:
                if f'"type": "{civitai_type}"' in line and json.loads(line).get("type") == civitai_type:
                    lines.append(line if line.endswith("\n") else line + "\n")
                    if len(lines) >= n_models:
                        break
        fd, tmp = tempfile.mkstemp(dir=fixture_cache, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        os.replace(tmp, target)
    return target
