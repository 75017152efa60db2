"""The one module that touches ComfyUI's runtime: folders, progress bars, interrupts, previews, ModelPatcher.

Nodes stay thin: they call these helpers and polaris_core, nothing else from ComfyUI's internals.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import comfy.model_management
import comfy.utils
import folder_paths

from polaris_core.errors import ModelFileError, PlanError, UnsafePathError
from polaris_core.weights import refuse_pickle

log = logging.getLogger("polaris")

# Model folder keys Polaris adds. ComfyUI's own `checkpoints` and `loras` keys are reused as they are.
SAM_KEY = "sams"
POLARIS_KEY = "polaris"             # models/polaris: index folders live here
POLARIS_CLIP_KEY = "polaris_clip"   # models/polaris/clip: open_clip .safetensors
POLARIS_LLM_KEY = "polaris_llm"     # models/polaris/llm: transformers folders or .gguf files
WEIGHT_EXTENSIONS = {".safetensors", ".sft", ".gguf"}


def register_model_folders() -> None:
    """Merge Polaris's folders into folder_paths (never overwrite what users or other packs set)."""
    models = Path(folder_paths.models_dir)
    for key, path, exts in (
        (SAM_KEY, models / "sams", {".safetensors", ".sft"}),
        (POLARIS_KEY, models / "polaris", set()),
        (POLARIS_CLIP_KEY, models / "polaris" / "clip", {".safetensors", ".sft"}),
        (POLARIS_LLM_KEY, models / "polaris" / "llm", set()),
    ):
        folder_paths.add_model_folder_path(key, str(path))
        paths, known = folder_paths.folder_names_and_paths[key]
        known.update(exts)


def index_root() -> Path:
    """Where index folders are written: the first `polaris` model folder."""
    return Path(folder_paths.get_folder_paths(POLARIS_KEY)[0]) / "indexes"


def index_folder(name: str) -> Path:
    """An index folder by name, refusing names that would leave models/polaris/indexes."""
    clean = (name or "").strip()
    if not clean or clean in (".", "..") or "/" in clean or "\\" in clean or "\x00" in clean:
        raise UnsafePathError(f"{name!r} is not a valid index name; use a plain folder name such as 'my-zoo'.")
    return index_root() / clean


def index_names() -> list[str]:
    root = index_root()
    if not root.is_dir():
        return []
    from polaris_core.index import is_index_folder

    return sorted(p.name for p in root.iterdir() if is_index_folder(p) and p.name != "demo")


DEFAULT_INDEX = "my-zoo"  # what Build Zoo Index writes by default and the shipped workflows load


def index_choices(demo_label: str) -> list[str]:
    """Load Zoo Index's list: the default index name (built or not yet), every built index, then the demo zoo."""
    built = index_names()
    return [DEFAULT_INDEX, *(n for n in built if n != DEFAULT_INDEX), demo_label]


def check_index_name(name: str) -> bool | str:
    """True when `name` is a built index; otherwise what to do, in ComfyUI's terms."""
    from polaris_core.index import is_index_folder

    try:
        folder = index_folder(name)
    except UnsafePathError as exc:
        return str(exc)
    if is_index_folder(folder):
        return True
    return (f"Load Zoo Index (Polaris): there is no index named '{name}' in models/polaris/indexes yet. Run a "
            f"Build Zoo Index (Polaris) node with index_name '{name}' once (it scans models/checkpoints and "
            "models/loras), then press R to refresh the list.")


def index_fingerprint(name: str) -> str:
    """Changes whenever the index is saved again (its manifest is replaced atomically on every save)."""
    try:
        stat = (index_folder(name) / "vectorstore.json").stat()
    except (OSError, UnsafePathError):
        return f"{name}:missing"
    return f"{name}:{stat.st_mtime_ns}:{stat.st_size}"


def cache_folder() -> Path:
    """Scan and embedding caches: beside the indexes, never inside the pack folder."""
    return index_root().parent / "cache"


def folder_list(key: str) -> list[str]:
    try:
        return folder_paths.get_folder_paths(key)
    except KeyError:
        return []


def model_path(key: str, name: str) -> str:
    """Full path of a model chosen by name, refusing names that escape the model folders."""
    if not name or ".." in Path(name).parts or os.path.isabs(name):
        raise UnsafePathError(f"{name!r} is not a model name inside models/{key}; pick one from the list.")
    try:
        return folder_paths.get_full_path_or_raise(key, name)
    except FileNotFoundError as exc:
        raise ModelFileError(
            f"{name} is not in models/{key} (the index or plan names it, but the file is gone); rebuild the "
            "index with Build Zoo Index, or put the file back."
        ) from exc


def model_list(key: str) -> list[str]:
    try:
        return folder_paths.get_filename_list(key)
    except KeyError:
        return []


def callbacks(node_id: str | None = None) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """(on_step, check_cancel) for core calls: a ComfyUI progress bar and the UI's interrupt."""
    bar: list[comfy.utils.ProgressBar] = []

    def on_step(i: int, n: int) -> None:
        if not bar:
            bar.append(comfy.utils.ProgressBar(max(n, 1), node_id=node_id))
        bar[0].update_absolute(i, max(n, 1))

    return on_step, comfy.model_management.throw_exception_if_processing_interrupted


def image_to_numpy(image: torch.Tensor, index: int = 0) -> np.ndarray:
    """ComfyUI IMAGE (B,H,W,C float 0..1) → H×W×3 uint8 for the core."""
    frame = image[min(index, image.shape[0] - 1)].detach().cpu().float().clamp(0, 1).numpy()
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    return (frame[..., :3] * 255.0 + 0.5).astype(np.uint8)


def numpy_to_image(array: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 (or float 0..1) → ComfyUI IMAGE (1,H,W,3)."""
    data = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(data))[None]


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """H×W float 0..1 → ComfyUI MASK (1,H,W)."""
    return torch.from_numpy(np.ascontiguousarray(mask.astype(np.float32)))[None]


def torch_device() -> torch.device:
    return comfy.model_management.get_torch_device()


# ---------------------------------------------------------------- apply the selection
_LORA_SUFFIX = re.compile(
    r"\.(lora_(?:up|down|mid|A|B)|hada_\w+|lokr_\w+|alpha|dora_scale|diff(?:_b)?|w_norm|b_norm|on_input|"
    r"reshape_weight|set_weight)(?:\.weight|\.default\.weight)?$"
)


def safe_weights_path(key: str, name: str) -> str:
    """Resolve a checkpoint/LoRA name and refuse pickles before anything is read."""
    path = model_path(key, name)
    refuse_pickle(path)
    return path


def lora_fit(lora_path: str, model, clip) -> tuple[int, list[str]]:
    """(matched modules, unmatched module names) of a LoRA against a loaded model, from its key names only."""
    from safetensors import safe_open

    import comfy.lora

    key_map: dict = {}
    if model is not None:
        key_map = comfy.lora.model_lora_keys_unet(model.model, key_map)
    if clip is not None:
        key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    try:
        with safe_open(lora_path, framework="pt") as handle:
            keys = list(handle.keys())
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(f"{Path(lora_path).name} is not a readable .safetensors LoRA ({exc}).") from exc
    modules = {_LORA_SUFFIX.sub("", k) for k in keys if _LORA_SUFFIX.search(k)}
    unmatched = sorted(m for m in modules if m not in key_map)
    return len(modules) - len(unmatched), unmatched


def load_checkpoint(name: str):
    """(MODEL, CLIP, VAE) of a checkpoint in models/checkpoints, as CheckpointLoaderSimple loads it."""
    import comfy.sd

    path = safe_weights_path("checkpoints", name)
    out = comfy.sd.load_checkpoint_guess_config(
        path, output_vae=True, output_clip=True, embedding_directory=folder_paths.get_folder_paths("embeddings")
    )
    if out[0] is None:
        raise ModelFileError(f"{name} holds no diffusion model ComfyUI recognises; choose another checkpoint.")
    return out[:3]


def apply_loras(model, clip, loras: list[tuple[str, float]]):
    """Check every LoRA against the model from its key names first, then patch them all in."""
    import comfy.sd

    checked = []
    for name, weight in loras:
        path = safe_weights_path("loras", name)
        matched, unmatched = lora_fit(path, model, clip)
        if matched == 0 or unmatched:
            raise PlanError(
                f"LoRA {name} does not fit this checkpoint: {len(unmatched)} of {matched + len(unmatched)} of its "
                f"layers are missing (e.g. {', '.join(unmatched[:3])}). It was probably trained for another base "
                "model; pick a LoRA of the checkpoint's family."
            )
        checked.append((path, weight))
    for path, weight in checked:
        lora = comfy.utils.load_torch_file(path, safe_load=True)
        model, clip = comfy.sd.load_lora_for_models(model, clip, lora, weight, weight)
    return model, clip


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


# ---------------------------------------------------------------- previews of what was chosen
PREVIEW_TILE = 128


def _preview_file(entry) -> Path | None:
    from polaris_core.demo import resolve_demo_url

    for path in entry.preview_paths:
        if Path(path).is_file():
            return Path(path)
    for url in entry.preview_urls:
        try:
            local = resolve_demo_url(url)
        except Exception:  # an odd demo:// URL is just not previewed
            local = None
        if local is not None and local.is_file():
            return local
    return None


def candidate_preview(candidates, text: str, limit: int = 8) -> dict:
    """UI payload: the ranked table as text plus the candidates' preview images (when the zoo has them)."""
    from PIL import Image
    from comfy_api.latest import ui

    tiles = []
    for slot in ("checkpoint", "style_lora", "object_lora"):
        for candidate in candidates.slot(slot)[:3]:
            path = _preview_file(candidate.entry)
            if path is None or len(tiles) >= limit:
                continue
            try:
                with Image.open(path) as img:
                    tile = img.convert("RGB").resize((PREVIEW_TILE, PREVIEW_TILE), Image.Resampling.BICUBIC)
            except (OSError, ValueError):
                log.debug("preview %s unreadable", path)
                continue
            tiles.append(np.asarray(tile))
    payload = {"text": (text,)}
    if tiles:
        batch = torch.from_numpy(np.stack(tiles).astype(np.float32) / 255.0)
        payload.update(ui.PreviewImage(batch).as_dict())
    return payload


# ---------------------------------------------------------------- example inputs for the shipped workflows
EXAMPLE_INPUTS = Path(__file__).resolve().parents[1] / "workflows" / "inputs"


def install_example_inputs() -> list[str]:
    """Copy the shipped workflows' example images into ComfyUI's input folder when they are not there yet.

    Never overwrites a user's file of the same name; writes through a temporary name so a crash leaves nothing
    half-written.
    """
    import shutil

    target = Path(folder_paths.get_input_directory())
    copied = []
    for source in sorted(EXAMPLE_INPUTS.glob("*.png")):
        destination = target / source.name
        if destination.exists():
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(f".{destination.name}.polaris-partial")
            shutil.copyfile(source, partial)
            os.replace(partial, destination)
            copied.append(source.name)
        except OSError as exc:
            log.warning("could not copy the example image %s into %s: %s", source.name, target, exc)
    return copied


# Folder keys must exist before any schema lists their files (ComfyUI may ask before on_load).
register_model_folders()


# ---------------------------------------------------------------- catalogs the index builders accept
CATALOG_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")


def catalog_roots() -> list[Path]:
    """Where catalog files may be read from: ComfyUI's input folder and models/polaris/catalogs."""
    return [Path(folder_paths.get_input_directory()), index_root().parent / "catalogs"]


def resolve_catalog_paths(text: str) -> list[Path]:
    """Catalog paths, one per line, each inside ComfyUI's input folder or models/polaris/catalogs.

    A relative line is looked up in those folders; an absolute one must resolve (symlinks followed)
    inside one of them. Anything else raises UnsafePathError; a missing file raises ModelFileError.
    """
    roots = [root.resolve() for root in catalog_roots()]
    found: list[Path] = []
    for line in (text or "").splitlines():
        name = line.strip()
        if not name:
            continue
        if "\x00" in name or not name.lower().endswith(CATALOG_SUFFIXES):
            raise UnsafePathError(f"{name[:200]!r} is not a catalog file (.jsonl, .jsonl.gz or .json).")
        raw = Path(name)
        options = [raw] if raw.is_absolute() else [root / raw for root in roots]
        for option in options:
            real = option.resolve()
            inside = any(real == root or root in real.parents for root in roots)
            if not inside:
                raise UnsafePathError(
                    f"{name[:200]!r} is outside ComfyUI's input folder and models/polaris/catalogs; put catalog "
                    "files there.")
            if real.is_file():
                found.append(real)
                break
        else:
            raise ModelFileError(f"Catalog {name[:200]!r} was not found in ComfyUI's input folder or "
                                 "models/polaris/catalogs.")
    return found
