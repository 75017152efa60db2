"""ZooEntry: one checkpoint, LoRA or embedding, from a catalog or a local file."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

KINDS = ("checkpoint", "lora", "embedding")
ROLES = ("style", "object", "character", "other")


@dataclass
class ZooEntry:
    id: str                      # primary key: tensor-data hash (AutoV3 way) or "civitai:<version_id>"
    kind: str                    # one of KINDS; LyCORIS/LoCon are "lora"
    name: str
    role: str = "other"          # one of ROLES
    base_family: str = "unknown" # e.g. "sd15", "sd2", "sdxl", "flux", "unknown"
    base_model: str = ""         # raw label, e.g. "SD 1.5"
    version_name: str = ""
    civitai_model_id: Optional[int] = None
    civitai_version_id: Optional[int] = None
    sha256: str = ""
    autov2: str = ""
    autov3: str = ""
    trigger_words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    description: str = ""        # HTML stripped, untrusted
    example_prompts: list[str] = field(default_factory=list)
    # Prompts of images posted on OTHER pages whose metadata records this model (by hash or file
    # name): evidence of how it is used; untrusted like all catalog text.
    related_prompts: list[str] = field(default_factory=list)
    preview_paths: list[str] = field(default_factory=list)
    preview_urls: list[str] = field(default_factory=list)
    recommended_weight: Optional[float] = None
    file_name: str = ""          # name relative to ComfyUI's model folder, for local files
    file_path: str = ""          # absolute path, for local files
    downloads: int = 0
    # Who published the model (Civitai creator, `modelspec.author`): authors keep a prompting style
    # and subject area across their models, which retrieval uses (retrieve/fusion.py, retrieve/ranker.py). Untrusted text.
    author: str = ""
    source: str = "catalog"      # "catalog" or "local"
    file_format: str = ""        # local files: "safetensors", or "pickle" (listed by name and hash, never loaded)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ZooEntry":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)
