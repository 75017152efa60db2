"""Base-model family: from a catalog label, from kohya/modelspec metadata, or from tensor keys."""
from __future__ import annotations

import re

FAMILIES = ("sd15", "sd2", "sdxl", "sd3", "flux", "cascade", "pixart", "hunyuan", "kolors", "auraflow",
            "svd", "unknown")

# Ordered: the first pattern that matches a lower-cased label wins.
_LABEL_PATTERNS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), f) for p, f in (
    (r"flux", "flux"),
    (r"\bsd\s*3|stable[- ]diffusion[- ]3|sd3", "sd3"),
    (r"sdxl|sd[-_ ]?xl|stable[- ]diffusion[- ]xl|\bxl\b|pony|illustrious|noobai|playground|ssd-?1b", "sdxl"),
    (r"stable[- ]cascade|würstchen|wuerstchen", "cascade"),
    (r"pixart", "pixart"),
    (r"hunyuan", "hunyuan"),
    (r"kolors", "kolors"),
    (r"auraflow", "auraflow"),
    (r"\bsvd\b|stable video", "svd"),
    (r"(sd|stable[- ]diffusion)[-_ v]*2(\.\d)?|\bv2[-_.]?[01]?\b|\b2\.[01]\b|sd2", "sd2"),
    (r"(sd|stable[- ]diffusion)[-_ v]*1(\.\d)?|\bv1[-_.]?[45]\b|\b1\.[45]\b|sd1|sd15", "sd15"),
))


def family_from_label(label: str) -> str:
    """Normalise a base-model label ("SD 1.5", "SD 2.1 768", "SDXL 1.0", "sdxl_base_v1-0",
    "stable-diffusion-xl-v1-base/lora", "Flux.1 D", …) to a family name; "unknown" if unsure."""
    text = str(label or "").strip().lower()
    if not text or text in ("other", "unknown", "none"):
        return "unknown"
    for pattern, family in _LABEL_PATTERNS:
        if pattern.search(text):
            return family
    return "unknown"


# kohya `ss_base_model_version` values and `modelspec.architecture` prefixes → family.
def family_from_metadata(metadata: dict) -> str:
    """Family from safetensors metadata: `modelspec.architecture`, `ss_base_model_version`,
    `ss_v2`, in that order; "unknown" if none is conclusive."""
    for key in ("modelspec.architecture", "ss_base_model_version", "ss_base_model", "base_model"):
        family = family_from_label(str(metadata.get(key) or ""))
        if family != "unknown":
            return family
    v2 = str(metadata.get("ss_v2") or "").strip().lower()
    if v2 == "true":
        return "sd2"
    if v2 == "false" and not metadata.get("ss_base_model_version"):
        return "sd15"  # kohya before SDXL support wrote only ss_v2
    return "unknown"


_CONTEXT_DIMS = {768: "sd15", 1024: "sd2", 2048: "sdxl"}
_CROSS_ATTN_KEY = re.compile(r"attn2[._](?:processor[._])?to_[kv](?:_lora)?[._]")
_TE_LAYER = re.compile(r"lora_te_text_model_encoder_layers_(\d+)_")


def _cross_attention_input_dim(name: str, shape: tuple[int, ...], shapes: dict) -> int | None:
    """Input (context) width of a cross-attention K/V projection, whatever the adapter format."""
    if len(shape) != 2:
        return None
    lower = name.lower()
    if lower.endswith(("lora_down.weight", "lora_a.weight", ".down.weight", "hada_w1_b", "hada_w2_b")) \
            or lower.endswith("to_k.weight") or lower.endswith("to_v.weight"):
        return shape[1]
    if lower.endswith("lokr_w1") or lower.endswith("lokr_w1_b"):
        stem = name.rsplit(".", 1)[0]
        w2 = shapes.get(f"{stem}.lokr_w2") or shapes.get(f"{stem}.lokr_w2_b")
        if w2 is not None and len(w2) >= 2:
            return shape[1] * w2[1]
    return None


def family_from_tensors(shapes: dict[str, tuple[int, ...]]) -> str:
    """Family from tensor names and shapes of a checkpoint, LoRA/LyCORIS/diffusers adapter or
    textual-inversion embedding; "unknown" if nothing conclusive is found."""
    names = list(shapes)
    joined = "\n".join(names).lower()
    if "double_blocks" in joined or "single_transformer_blocks" in joined or "single_blocks" in joined:
        return "flux"
    if "joint_blocks" in joined or ("context_embedder" in joined and "x_embedder" in joined):
        return "sd3"
    if ("conditioner.embedders.1" in joined or "lora_te2_" in joined or "text_encoder_2." in joined
            or "label_emb" in joined or ("clip_g" in shapes and "clip_l" in shapes)):
        return "sdxl"
    votes: dict[str, int] = {}
    for name in names:
        if _CROSS_ATTN_KEY.search(name.lower()):
            family = _CONTEXT_DIMS.get(_cross_attention_input_dim(name, tuple(shapes[name]), shapes) or 0)
            if family:
                votes[family] = votes.get(family, 0) + 1
    if votes:
        return max(votes, key=votes.get)
    if "lora_unet_input_blocks_" in joined or "lora_unet_output_blocks_" in joined:
        return "sdxl"  # kohya names SDXL U-Net blocks the SGM way, SD 1.x/2.x the diffusers way
    if "cond_stage_model.model.transformer.resblocks" in joined:
        return "sd2"
    if "cond_stage_model.transformer.text_model" in joined:
        return "sd15"
    emb = shapes.get("emb_params")
    if emb is not None and len(emb) == 2:
        return {768: "sd15", 1024: "sd2"}.get(emb[1], "unknown")
    te_layers = [int(m.group(1)) for m in map(_TE_LAYER.search, names) if m]
    if te_layers:
        return "sd2" if max(te_layers) >= 12 else "sd15"  # OpenCLIP-H has 24 layers, CLIP-L 12
    return "unknown"


def detect_family(shapes: dict[str, tuple[int, ...]], metadata: dict) -> tuple[str, str]:
    """`(family, source)`: tensor evidence first (it cannot be stale), then metadata."""
    family = family_from_tensors(shapes)
    if family != "unknown":
        return family, "tensors"
    family = family_from_metadata(metadata)
    return (family, "metadata") if family != "unknown" else ("unknown", "")
