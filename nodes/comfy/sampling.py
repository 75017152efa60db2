"""Checkpoint loading, prompt encoding and inpaint sampling with ComfyUI's own nodes' code paths."""
from __future__ import annotations


import torch

import folder_paths

from polaris_core.errors import ModelFileError
from polaris_core.weights import refuse_unless_safetensors

from .folders import node_errors, planned_model_path
from .lora import APPLY_NODE

def load_checkpoint(name: str):
    """(MODEL, CLIP, VAE) of a checkpoint in models/checkpoints, as CheckpointLoaderSimple loads it."""
    import comfy.sd

    path = planned_model_path("checkpoints", name, node=APPLY_NODE)
    with node_errors(APPLY_NODE, "the plan's checkpoint", name):
        refuse_unless_safetensors(path)
    out = comfy.sd.load_checkpoint_guess_config(
        path, output_vae=True, output_clip=True, embedding_directory=folder_paths.get_folder_paths("embeddings")
    )
    if out[0] is None:
        raise ModelFileError(f"{APPLY_NODE}: {name} holds no diffusion model ComfyUI recognises; pick another "
                             "checkpoint.")
    return out[:3]


# ---------------------------------------------------------------- masked inpaint
def encode_prompt(clip, text: str):
    tokens = clip.tokenize(text)
    return clip.encode_from_tokens_scheduled(tokens)


def inpaint(model, clip, vae, image: torch.Tensor, mask: torch.Tensor, prompt: str, negative: str, *, seed: int,
            steps: int, cfg: float, sampler_name: str, scheduler: str, denoise: float, grow_mask_by: int):
    """Sample inside the mask with ComfyUI's own sampler, then composite so outside pixels keep the source."""
    import nodes as comfy_nodes

    if mask.dim() == 2:
        mask = mask[None]
    mask = torch.nn.functional.interpolate(mask[:, None].float(), size=image.shape[1:3], mode="bilinear")[:, 0]
    latent = comfy_nodes.VAEEncodeForInpaint().encode(vae, image, mask, grow_mask_by)[0]
    positive, negative_cond = encode_prompt(clip, prompt), encode_prompt(clip, negative)
    sampled = comfy_nodes.common_ksampler(model, seed, steps, cfg, sampler_name, scheduler, positive, negative_cond,
                                          latent, denoise=denoise)[0]
    decoded = vae.decode(sampled["samples"]).float()
    if decoded.shape[1:3] != image.shape[1:3]:
        decoded = torch.nn.functional.interpolate(decoded.movedim(-1, 1), size=image.shape[1:3],
                                                  mode="bilinear").movedim(1, -1)
    keep = mask.clamp(0, 1)[..., None]  # soft edges from a feathered mask; exactly 0 outside
    return image * (1.0 - keep) + decoded[..., :3].clamp(0, 1) * keep
