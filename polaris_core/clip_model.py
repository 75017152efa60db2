"""Load an open_clip model from a local .safetensors file, offline and without unpickling.

Shared by the masker (masked-crop scoring, patch-similarity maps) and the retrieval
image channel. Only open_clip's built-in architecture names are accepted (no
``hf-hub:`` names: those download). Weights must be an open_clip-layout state dict,
e.g. ``open_clip_model.safetensors`` from a LAION/OpenAI open_clip release.
OpenAI's original weights need the ``-quickgelu`` variant of the name
(``ViT-B-32-quickgelu``): the activation is invisible in tensor shapes.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from polaris_core.devices import DeviceManager, load_for_work, module_device
from polaris_core.errors import ConfigError, ModelFileError
from polaris_core.weights import check_weights_file, read_safetensors_shapes

log = logging.getLogger("polaris")

DEFAULT_CLIP_ARCH = "ViT-B-32"
CLIP_PATH_ENV = "POLARIS_CLIP_PATH"
TEXT_CACHE_SIZE = 512


@dataclass
class LoadedClip:
    model: Any                 # open_clip CLIP in eval mode
    preprocess: Any            # PIL image -> normalised CxSxS tensor (open_clip's eval transform)
    tokenizer: Any             # list[str] -> LongTensor [N, context_length]
    arch: str
    path: str = ""             # "" for in-memory (random-weight) models
    image_size: int = 224
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)
    text_cache: dict = field(default_factory=dict, repr=False)  # prompt -> normalised embedding (CPU)
    manager: DeviceManager | None = None  # set by a host that moves the model for its work

    @property
    def device(self) -> str:
        """Where the weights are now (a managed model moves between its offload and compute device)."""
        return module_device(self.model)

    @property
    def mean_rgb_uint8(self) -> tuple[int, int, int]:
        """The normalisation mean as an RGB colour: it becomes 0 after preprocessing (a neutral pixel)."""
        return tuple(int(round(c * 255)) for c in self.mean)  # type: ignore[return-value]


def default_clip_path() -> Path | None:
    """$POLARIS_CLIP_PATH if set, else None (Polaris ships no CLIP weights)."""
    env = os.environ.get(CLIP_PATH_ENV)
    return Path(env) if env else None


def check_clip_arch(arch: str) -> str:
    """Return `arch` if it is one of open_clip's built-in names, else raise ConfigError."""
    import open_clip

    if arch not in open_clip.list_models():
        vits = [m for m in open_clip.list_models() if m.startswith("ViT-")][:8]
        raise ConfigError(
            f"Unknown CLIP architecture {arch!r}. Use an open_clip built-in name such as "
            f"{', '.join(vits)} (OpenAI weights need the '-quickgelu' variant)."
        )
    return arch


def clip_from_model(model: Any, arch: str, *, path: str = "", device: str = "cpu") -> LoadedClip:
    """Wrap an open_clip model (e.g. a random-weight one) with its eval transform and tokenizer."""
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    visual = model.visual
    cfg = PreprocessCfg(**getattr(visual, "preprocess_cfg", {}))
    preprocess = image_transform_v2(cfg, is_train=False)
    size = cfg.size if isinstance(cfg.size, int) else int(cfg.size[0])
    try:
        tokenizer = open_clip.get_tokenizer(arch)
    except Exception as exc:  # HF tokenizers would try to download
        raise ModelFileError(
            f"No offline tokenizer for CLIP architecture {arch!r} ({exc}); use an architecture with "
            "open_clip's built-in tokenizer such as ViT-B-32 or ViT-L-14."
        ) from exc
    model.to(device).eval()
    return LoadedClip(
        model=model, preprocess=preprocess, tokenizer=tokenizer, arch=arch, path=path, image_size=size, mean=tuple(cfg.mean), std=tuple(cfg.std),
    )


def _shape_signature(shapes: dict[str, tuple[int, ...]]) -> dict[str, int] | None:
    """Architecture numbers readable from an open_clip ViT state dict's shapes."""
    conv = shapes.get("visual.conv1.weight")
    pos = shapes.get("visual.positional_embedding")
    text_proj = shapes.get("text_projection")
    if not conv or not pos or not text_proj:
        return None
    grid = int(round((pos[0] - 1) ** 0.5))
    return {
        "width": conv[0],
        "patch_size": conv[-1],
        "image_size": grid * conv[-1],
        "layers": len({k.split(".")[3] for k in shapes if k.startswith("visual.transformer.resblocks.")}),
        "embed_dim": text_proj[1],
        "text_width": text_proj[0],
    }


def guess_clip_arch(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """open_clip built-in ViT names whose shapes match this state dict (quickgelu variants last)."""
    import open_clip

    sig = _shape_signature(shapes)
    if sig is None:
        return []
    matches = []
    for name in open_clip.list_models():
        cfg = open_clip.get_model_config(name) or {}
        vision, text = cfg.get("vision_cfg", {}), cfg.get("text_cfg", {})
        if vision.get("timm_model_name") or text.get("hf_model_name") or "width" not in vision:
            continue
        image_size = vision.get("image_size", 224)
        image_size = image_size if isinstance(image_size, int) else image_size[0]
        if (
            vision.get("width") == sig["width"] and vision.get("patch_size") == sig["patch_size"]
            and vision.get("layers") == sig["layers"] and image_size == sig["image_size"]
            and cfg.get("embed_dim") == sig["embed_dim"] and text.get("width") == sig["text_width"]
        ):
            matches.append(name)
    return sorted(matches, key=lambda n: ("quickgelu" in n, len(n), n))


def _describe_foreign_layout(shapes: dict[str, tuple[int, ...]]) -> str | None:
    names = list(shapes)
    if any(n.startswith(("vision_model.", "text_model.")) for n in names):
        return (
            "it is a Hugging Face transformers CLIP file (e.g. a ComfyUI clip_vision model); Polaris needs "
            "an open_clip checkpoint such as open_clip_model.safetensors from laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
        )
    if not any(n.startswith("visual.") for n in names):
        return "it holds no open_clip image tower ('visual.*' tensors); give an open_clip CLIP checkpoint"
    return None


def load_clip(path: str | os.PathLike | None = None, arch: str = DEFAULT_CLIP_ARCH, device: str = "cpu", *,
              cache: bool = True) -> LoadedClip:
    """Load open_clip `arch` with weights from a .safetensors file (default: $POLARIS_CLIP_PATH).

    `arch="auto"` picks the architecture from the tensor shapes. With `cache=True` loaded models are
    cached by path, modification time, architecture and device; a host that keeps its own loaded
    objects (ComfyUI's node cache) passes False.
    """
    chosen = path if path is not None else default_clip_path()
    if chosen is None:
        raise ConfigError(f"No CLIP weights given; pass an open_clip .safetensors file or set {CLIP_PATH_ENV}.")
    p = check_weights_file(chosen, "CLIP", CLIP_PATH_ENV)
    stat = p.stat()
    loader = _load_clip_cached if cache else _load_clip
    return loader(str(p.resolve()), stat.st_mtime_ns, stat.st_size, arch, str(device))


def _load_clip(path: str, mtime_ns: int, size: int, arch: str, device: str) -> LoadedClip:
    import open_clip
    from open_clip.factory import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed
    from safetensors.torch import load_file

    shapes = read_safetensors_shapes(path)
    foreign = _describe_foreign_layout(shapes)
    if foreign:
        raise ModelFileError(f"{Path(path).name} cannot be used as CLIP: {foreign}.")
    guesses = guess_clip_arch(shapes)
    if arch == "auto":
        if not guesses:
            raise ModelFileError(
                f"Could not tell the CLIP architecture of {Path(path).name} from its shapes; pass it explicitly."
            )
        arch = guesses[0]
    check_clip_arch(arch)
    if guesses and arch not in guesses:
        raise ModelFileError(
            f"{Path(path).name} does not fit CLIP architecture {arch}: its shapes match "
            f"{', '.join(guesses[:3])}; pass that as the architecture."
        )

    state_dict = {k: v.float() if v.is_floating_point() else v for k, v in load_file(path, device="cpu").items()}
    if next(iter(state_dict)).startswith("module."):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    model = open_clip.create_model(arch, pretrained=None, device="cpu")
    try:
        if "positional_embedding" in state_dict and not hasattr(model, "positional_embedding"):
            state_dict = convert_to_custom_text_state_dict(state_dict)
        if "logit_scale" in state_dict and model.logit_scale.ndim != state_dict["logit_scale"].ndim:
            state_dict["logit_scale"] = state_dict["logit_scale"].reshape(model.logit_scale.shape)
        resize_pos_embed(state_dict, model)
        resize_text_pos_embed(state_dict, model)
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, ValueError, KeyError) as exc:
        details = " ".join(str(exc).strip().splitlines()[:3])[:300]
        raise ModelFileError(f"{Path(path).name} does not fit CLIP architecture {arch} (details: {details}).") from exc
    model = model.float()
    log.info("loaded CLIP %s from %s on %s", arch, Path(path).name, device)
    return clip_from_model(model, arch, path=path, device=device)


_load_clip_cached = lru_cache(maxsize=2)(_load_clip)


def encode_texts(clip: LoadedClip, texts: list[str]) -> Any:
    """L2-normalised text embeddings [N, D] (float32, on CPU), cached per prompt."""
    import torch

    known = {t: clip.text_cache[t] for t in dict.fromkeys(texts) if t in clip.text_cache}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        load_for_work(clip)
        with torch.no_grad():
            tokens = clip.tokenizer(missing).to(clip.device)
            feats = clip.model.encode_text(tokens).float()
            feats = torch.nn.functional.normalize(feats, dim=-1).cpu()
        known.update(zip(missing, feats))
        if len(clip.text_cache) + len(missing) > TEXT_CACHE_SIZE:
            clip.text_cache.clear()
        clip.text_cache.update(zip(missing, feats))
    return torch.stack([known[t] for t in texts])
