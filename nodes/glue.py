"""The one module that touches ComfyUI's runtime: folders, progress bars, interrupts, previews, ModelPatcher.

Nodes stay thin: they call these helpers and polaris_core, nothing else from ComfyUI's internals.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Sequence

import numpy as np
import torch

import comfy.model_management
import comfy.model_patcher
import comfy.utils
import folder_paths

from polaris_core.errors import ConfigError, ModelFileError, PlanError, UnsafePathError
from polaris_core.weights import refuse_pickle, refuse_unless_safetensors

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
    """An index folder by name, refusing names that are not plain folder names (`valid_index_name`: too long,
    hidden, control characters, separators) or that are reserved (`demo`: see `demo_folder`)."""
    from polaris_core.index import valid_index_name

    return index_root() / valid_index_name(name)


def demo_folder() -> Path:
    """Where the shipped demo zoo's index is built (on first use; nothing else may write there)."""
    return index_root() / "demo"


def index_label(name: str) -> str:
    """An index folder as messages that reach the browser name it: relative to ComfyUI's model folders."""
    return f"{folder_label(POLARIS_KEY)}/indexes/{name}"


def index_names() -> list[str]:
    """Built indexes by folder name (the demo zoo and folders whose names the index rule refuses are left out)."""
    root = index_root()
    if not root.is_dir():
        return []
    from polaris_core.errors import UnsafePathError
    from polaris_core.index import is_index_folder, valid_index_name

    names = []
    for path in root.iterdir():
        try:
            if valid_index_name(path.name) == path.name and is_index_folder(path):
                names.append(path.name)
        except UnsafePathError:
            continue
    return sorted(names)


def public_message(text: str) -> str:
    """`text` with the server's absolute folder paths replaced by the names a ComfyUI user knows
    (models/…, input/, output/): messages that reach the browser never show where the server keeps files."""
    replacements: dict[str, str] = {}

    def add(path: str | os.PathLike | None, shown: str) -> None:
        if not path:
            return
        for variant in {str(Path(path)), str(Path(path).resolve())}:
            if len(variant) > 1:
                replacements.setdefault(variant, shown)

    for key, (paths, _) in list(folder_paths.folder_names_and_paths.items()):
        for path in paths:
            add(path, folder_label_of(key, path))
    add(folder_paths.models_dir, "models")
    for getter, shown in (("get_input_directory", "input"), ("get_output_directory", "output"),
                          ("get_temp_directory", "temp")):
        try:
            add(getattr(folder_paths, getter)(), shown)
        except Exception:  # an older ComfyUI without one of these folders
            continue
    add(getattr(folder_paths, "base_path", None), "ComfyUI")
    for path in sorted(replacements, key=len, reverse=True):
        text = text.replace(path, replacements[path])
    return text


def folder_label_of(key: str, path: str) -> str:
    """One configured folder of `key` as a user finds it: relative to ComfyUI's models folder, else models/<key>."""
    try:
        return "models/" + Path(path).resolve().relative_to(Path(folder_paths.models_dir).resolve()).as_posix()
    except (ValueError, OSError):
        return f"models/{key}"


DEFAULT_INDEX = "my-zoo"  # what Build Zoo Index writes by default and the shipped workflows load


def index_choices(demo_label: str) -> list[str]:
    """Load Zoo Index's list: the default index name (built or not yet), every built index, then the demo zoo."""
    built = index_names()
    return [DEFAULT_INDEX, *(n for n in built if n != DEFAULT_INDEX), demo_label]


def check_index_name(name: str, *, missing_ok: bool = False) -> bool | str:
    """True when `name` is a built index (or, with `missing_ok`, a valid name to build); otherwise what to do,
    in ComfyUI's terms."""
    from polaris_core.index import is_index_folder

    try:
        folder = index_folder(name)
    except UnsafePathError as exc:
        return str(exc)
    if missing_ok or is_index_folder(folder):
        return True
    return (f"Load Zoo Index (Polaris): there is no index named '{name}' in models/polaris/indexes yet. Run a "
            f"Build Zoo Index (Polaris) node with index_name '{name}' once (it scans models/checkpoints and "
            "models/loras), then press R to refresh the list.")


def load_index(name: str):
    """A built index by name, its load errors said in Load Zoo Index's terms (same error class)."""
    from polaris_core.errors import IndexFolderError
    from polaris_core.index import ZooIndex

    try:
        return ZooIndex.load(index_folder(name))
    except IndexFolderError as exc:
        raise IndexFolderError(public_message(
            f"Load Zoo Index (Polaris): the index '{name}' cannot be used ({exc}) To fix it, run a Build Zoo Index "
            f"(Polaris) node with index_name '{name}'.")) from exc


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


def catalog_roots() -> list[Path]:
    """Where catalog files named in a graph or a request may live: ComfyUI's input folder and models/polaris/catalogs."""
    roots = [Path(folder_paths.get_input_directory())]
    roots += [Path(p) / "catalogs" for p in folder_paths.get_folder_paths(POLARIS_KEY)]
    return roots


def resolve_catalog_paths(text: str) -> list[Path]:
    """Catalog files named one per line (Build Zoo Index's `catalogs`, the sidebar's build request).

    A name resolves inside ComfyUI's input folder or models/polaris/catalogs (links followed, then
    checked); an absolute path must lie inside one of them too. Anything else is refused with the same
    UnsafePathError whether or not the file exists, so a graph cannot probe the server's files.
    """
    paths: list[Path] = []
    roots = [root.resolve() for root in catalog_roots()]
    for line in (text or "").splitlines():
        name = line.strip()
        if not name:
            continue
        found = None
        for root in roots:
            try:
                real = (root / name).resolve()  # an absolute `name` replaces root; checked below
                if real.is_relative_to(root) and real.is_file():
                    found = real
                    break
            except (OSError, ValueError):  # NUL bytes, over-long names, loops: not a catalog here
                continue
        if found is None:
            raise UnsafePathError(
                f"Catalog {name[:200]!r} is not a file in ComfyUI's input folder or in models/polaris/catalogs. "
                "Put catalog files (.jsonl, .jsonl.gz, .json) there and give their names, one per line."
            )
        paths.append(found)
    return paths


def refuse_non_finite(node: str, **values: float) -> None:
    """ConfigError for a FLOAT input that is NaN or infinite. ComfyUI's min/max check lets NaN through (both
    comparisons are false), and a linked value is never range-checked; every Polaris node calls this first
    in `execute` with all its FLOAT inputs."""
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{node}: {name} must be a number, not {str(value)[:40]!r}.") from None
        if not math.isfinite(number):
            raise ConfigError(f"{node}: {name} is {number!r}; give it a finite number within the range the widget "
                              "shows.")


def folder_list(key: str) -> list[str]:
    try:
        return folder_paths.get_folder_paths(key)
    except KeyError:
        return []


# ---------------------------------------------------------------- model files, and what to tell the user
MODEL_KINDS = {  # folder key -> what a user puts in that folder
    SAM_KEY: "a SAM model (.safetensors)",
    POLARIS_CLIP_KEY: "an open_clip CLIP model (.safetensors)",
    POLARIS_LLM_KEY: "a transformers model folder or a .gguf file",
    "checkpoints": "a checkpoint (.safetensors)",
    "loras": "a LoRA (.safetensors)",
}


def folder_label(key: str) -> str:
    """The folder as a user finds it: 'models/sams' under ComfyUI's models folder, else its full path."""
    paths = folder_list(key)
    if not paths:
        return f"models/{key}"
    try:
        return "models/" + Path(paths[0]).resolve().relative_to(Path(folder_paths.models_dir).resolve()).as_posix()
    except ValueError:
        return paths[0]


def fill_folder_hint(key: str) -> str:
    return f"put {MODEL_KINDS.get(key, 'the model file')} in {folder_label(key)} and press R to refresh"


def missing_model_message(node: str, widget: str, key: str, name: str, choices: Sequence[str]) -> str | None:
    """What the node says when `name` is not one of the folder's models (None when it is)."""
    if not choices:
        return f"{node}: there is no model in {folder_label(key)} for {widget}; {fill_folder_hint(key)}."
    if name not in choices:
        return f"{node}: {widget} '{name}' is not in {folder_label(key)}; {fill_folder_hint(key)}."
    return None


def model_path(key: str, name: str, *, node: str, widget: str) -> str:
    """Full path of a model a widget chose, refusing names that escape the model folders."""
    if not name or "\x00" in name or ".." in Path(name).parts or os.path.isabs(name):
        raise UnsafePathError(f"{node}: {widget} {name!r} is not a model name inside {folder_label(key)}; "
                              "pick one from the list.")
    path = folder_paths.get_full_path(key, name)
    if path is None:  # removed while the server runs, or never there
        raise ModelFileError(missing_model_message(node, widget, key, name, model_list(key))
                             or f"{node}: {widget} '{name}' is gone from {folder_label(key)}; "
                                f"{fill_folder_hint(key)}.")
    return path


PLANNED_KINDS = {"checkpoints": "checkpoint", "loras": "LoRA"}


def planned_model_path(key: str, name: str, *, node: str) -> str:
    """Full path of a checkpoint or LoRA a plan names (the index found it; the file may be gone since)."""
    if not name or "\x00" in name or ".." in Path(name).parts or os.path.isabs(name):
        raise UnsafePathError(f"{node}: the plan names {name!r}, which is not a file inside {folder_label(key)}; "
                              "rebuild the plan from a zoo index of this server.")
    path = folder_paths.get_full_path(key, name)
    if path is None:
        raise ModelFileError(
            f"{node}: the plan names the {PLANNED_KINDS.get(key, 'model')} '{name}', which is not "
            f"in {folder_label(key)} (moved or deleted?); put it back, or run Build Zoo Index (Polaris) so the "
            "index forgets it, then queue the workflow again."
        )
    return path


def model_list(key: str) -> list[str]:
    try:
        return folder_paths.get_filename_list(key)
    except KeyError:
        return []


def file_fingerprint(path: str | None) -> str:
    """Changes when a file (or a model folder's files) is replaced or removed, so ComfyUI re-runs the loader."""
    if not path:
        return "missing"
    try:
        target = Path(path)
        files = sorted(f for f in target.iterdir() if f.is_file()) if target.is_dir() else [target]
        return ";".join(f"{f.name}:{f.stat().st_mtime_ns}:{f.stat().st_size}" for f in files)
    except OSError:
        return "missing"


def model_fingerprint(key: str, name: str | None) -> str:
    return file_fingerprint(folder_paths.get_full_path(key, name) if name else None)


@contextlib.contextmanager
def node_errors(node: str, widget: str, name: str):
    """Prefix the core's loading errors with the node and widget they belong to (same error class)."""
    from polaris_core.errors import PolarisError

    try:
        yield
    except PolarisError as exc:
        prefix = f"{node}: "
        if str(exc).startswith(prefix):
            raise
        raise type(exc)(public_message(f"{prefix}{widget} '{name}': {exc}")) from exc


def llm_names() -> list[str]:
    """What Load LLM lists: .gguf files and transformers folders (a config.json) in models/polaris/llm."""
    names = set()
    for name in model_list(POLARIS_LLM_KEY):
        posix = PurePosixPath(name.replace(os.sep, "/"))
        if posix.suffix.lower() == ".gguf":
            names.add(name)
        elif posix.name == "config.json" and str(posix.parent) != ".":
            names.add(posix.parent.as_posix())
    return sorted(names)


def llm_path(name: str, *, node: str, widget: str) -> str:
    """A .gguf file or a transformers folder chosen from llm_names()."""
    message = missing_model_message(node, widget, POLARIS_LLM_KEY, name, llm_names())
    if message:
        raise ModelFileError(message)
    if name.lower().endswith(".gguf"):
        return model_path(POLARIS_LLM_KEY, name, node=node, widget=widget)
    return str(Path(model_path(POLARIS_LLM_KEY, f"{name}/config.json", node=node, widget=widget)).parent)


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


# ---------------------------------------------------------------- helper models under ComfyUI's memory manager
class PolarisHelperModel(torch.nn.Module):
    """What ModelPatcher wraps: it writes bookkeeping attributes (`device`, ...) on its module, and SAM and
    transformers models have a read-only `device` property of their own."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner


class ComfyDeviceManager:
    """polaris_core's DeviceManager backed by comfy.model_management, the way comfy/clip_vision.py does it.

    The model waits on its offload device; `load` goes through `load_models_gpu`, so ComfyUI frees memory
    for it, counts it among its loaded models, and unloads it again when sampling needs the room.
    """

    def __init__(self, module: torch.nn.Module, load_device: torch.device, offload_device: torch.device) -> None:
        self.patcher = comfy.model_patcher.ModelPatcher(PolarisHelperModel(module), load_device=load_device,
                                                        offload_device=offload_device)

    def load(self, together: Sequence["ComfyDeviceManager"]) -> None:
        # A full load: these are plain torch modules, which ComfyUI's low-VRAM mode cannot split across devices.
        comfy.model_management.load_models_gpu([m.patcher for m in together], force_full_load=True)


HELPER_DEVICES = {  # helper kind -> (compute device, offload device) getters, as ComfyUI places its own models
    "llm": (comfy.model_management.get_torch_device, comfy.model_management.text_encoder_offload_device),
    "clip": (comfy.model_management.get_torch_device, comfy.model_management.text_encoder_offload_device),
    "sam": (comfy.model_management.get_torch_device, comfy.model_management.unet_offload_device),
}


def offload_device(kind: str) -> str:
    """Where a helper model is loaded and waits between its uses (the CPU unless ComfyUI keeps all on the GPU)."""
    return str(HELPER_DEVICES[kind][1]())


def managed(loaded: Any, kind: str) -> Any:
    """Hand a loaded LLM, CLIP or SAM to ComfyUI's memory manager; core code then loads it for its own work."""
    compute, offload = (get() for get in HELPER_DEVICES[kind])
    loaded.manager = ComfyDeviceManager(loaded.model, compute, offload)
    return loaded


# ---------------------------------------------------------------- apply the selection
def safe_weights_path(key: str, name: str, *, node: str, widget: str) -> str:
    """Resolve a model a widget chose and refuse pickles before anything is read."""
    path = model_path(key, name, node=node, widget=widget)
    refuse_pickle(path)
    return path


APPLY_NODE = "Apply Plan (Polaris)"
_NOT_LOADED = "lora key not loaded: "
# What comfy.lora.calculate_weight logs, instead of raising, when a patch cannot be computed for a layer:
# the layer is then left as it was, which LoraLoader reports nowhere but the log.
_WEIGHT_FAILURES = ("ERROR ", "WARNING SHAPE MISMATCH", "Calculate Weight Failed", "patch type not recognized")


class _ComfyLogCollector(logging.Filter):
    """Collects (and keeps off the console) root-logger messages of ComfyUI's LoRA code that start with one of
    `prefixes`; everything else passes."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.prefixes):
            self.messages.append(message)
            return False
        return True


@contextlib.contextmanager
def _collect_comfy_log(prefixes: tuple[str, ...]):
    collector = _ComfyLogCollector(prefixes)
    root = logging.getLogger()
    root.addFilter(collector)
    try:
        yield collector.messages
    finally:
        root.removeFilter(collector)


@contextlib.contextmanager
def _collect_not_loaded_keys():
    with _collect_comfy_log((_NOT_LOADED,)) as messages:
        keys: list[str] = []
        yield keys
    keys.extend(m[len(_NOT_LOADED):] for m in messages)


def lora_patches(lora: dict, model, clip) -> tuple[dict, list[str]]:
    """(patches ComfyUI would apply, keys of the file it could not place), judged by ComfyUI's own LoRA code.

    The key maps and the adapters (LoRA, LoHa, LoKr, OFT, BOFT, GLoRA, diffs) are exactly what
    LoraLoader uses, so a LoRA fits here if and only if ComfyUI loads all of it into this model.
    """
    import comfy.lora
    import comfy.lora_convert

    key_map: dict = {}
    if model is not None:
        key_map = comfy.lora.model_lora_keys_unet(model.model, key_map)
    if clip is not None:
        key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    with _collect_not_loaded_keys() as not_loaded:
        patches = comfy.lora.load_lora(comfy.lora_convert.convert_lora(lora), key_map, log_missing=True)
    return patches, sorted(not_loaded)


# Largest magnitude a LoRA tensor may hold. Trained LoRA factors stay well under 10 and alpha is at most the
# rank (a few hundred); ComfyUI adds the product of two factors into fp16 weights (largest value 65504), so a
# factor past 1e4 overflows to inf, or swamps the layer, as soon as the other factor is past ~6: a black image.
MAX_LORA_VALUE = 1e4
_AMINMAX_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_lora_values(name: str, lora: dict) -> None:
    """PlanError naming the first tensor (in key order) that holds NaN, an infinity or a value past
    MAX_LORA_VALUE: ComfyUI would add it into the model as it is."""
    for key in sorted(lora):
        tensor = lora[key]
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        values = tensor.detach()
        if values.dtype not in _AMINMAX_DTYPES:  # fp8 and the like: no aminmax kernel
            values = values.float()
        low, high = (float(v) for v in torch.aminmax(values))  # one pass; NaN and infinities propagate
        if not (math.isfinite(low) and math.isfinite(high)):
            raise PlanError(f"{APPLY_NODE}: LoRA {name} is damaged: its tensor {key} holds NaN or infinite values, "
                            "which would turn the image black. Nothing was applied; replace the file in models/loras.")
        peak = max(-low, high)
        if peak > MAX_LORA_VALUE:
            raise PlanError(f"{APPLY_NODE}: LoRA {name} is damaged: its tensor {key} holds {peak:.3g}, past the "
                            f"{MAX_LORA_VALUE:g} no trained LoRA comes near (it would overflow the model's weights). "
                            "Nothing was applied; replace the file in models/loras.")


def _patch_failures(patch, key: str, shape: torch.Size, offset, function, device: str) -> list[str]:
    """What comfy.lora.calculate_weight logs when it applies `patch` to a weight of `shape` on `device`."""
    import comfy.lora

    if device == "meta":  # shapes only, no arithmetic: a meta tensor runs the same code at no cost
        target = torch.empty(shape, dtype=torch.float32, device="meta")
    else:
        target = torch.zeros(shape, dtype=torch.float32)
    with _collect_comfy_log(_WEIGHT_FAILURES) as failures:
        try:
            comfy.lora.calculate_weight([(1.0, patch, 1.0, offset, function)], target, key)
        except Exception as exc:  # calculate_weight catches its adapters' errors; this is anything else
            failures.append(f"{type(exc).__name__}: {exc}")
    return failures


def _file_keys(lora_keys: Sequence[str], prefixes: Sequence[str]) -> list[str]:
    """The file's tensors behind one patch: those named by a key-map prefix of its layer. (An adapter's own
    `loaded_keys` is the set load_lora shares among all of them, so it cannot say.)"""
    return sorted(k for k in lora_keys if any(k.startswith(p + ".") for p in prefixes))


def check_lora_shapes(name: str, lora: dict, patches: dict, model, clip) -> None:
    """PlanError naming the first layer whose patch ComfyUI's weight calculation cannot apply (up/down shapes
    or ranks that do not match each other or the model's weight): ComfyUI would log it and skip the layer
    while the LoRA counts as loaded. Each patch runs through comfy.lora.calculate_weight itself, on a meta
    tensor of the weight's shape (no arithmetic), and again on real zeros when the meta run fails (an
    operation without a meta kernel), so only a layer ComfyUI itself cannot patch is refused."""
    import comfy.lora

    weights: dict = {}
    key_map: dict = {}
    if model is not None:
        weights.update(model.model.state_dict())
        key_map = comfy.lora.model_lora_keys_unet(model.model, key_map)
    if clip is not None:
        weights.update(clip.cond_stage_model.state_dict())
        key_map = comfy.lora.model_lora_keys_clip(clip.cond_stage_model, key_map)
    prefixes_of: dict = {}
    for prefix, target in key_map.items():
        prefixes_of.setdefault(target, []).append(prefix)
    for patch_key in sorted(patches, key=str):
        key, offset, function = (patch_key, None, None) if isinstance(patch_key, str) else \
            (patch_key[0], patch_key[1], patch_key[2] if len(patch_key) > 2 else None)
        patch = patches[patch_key]
        if key not in weights:
            tensors = ", ".join(_file_keys(list(lora), prefixes_of.get(patch_key, []))[:3]) or key
            raise PlanError(f"{APPLY_NODE}: LoRA {name} does not fit this checkpoint: its tensor {tensors} targets "
                            f"{key}, which this model does not have. Nothing was applied; pick a LoRA made for the "
                            "checkpoint's base model.")
        shape = weights[key].shape
        if _patch_failures(patch, key, shape, offset, function, "meta"):
            failures = _patch_failures(patch, key, shape, offset, function, "cpu")
            if failures:
                tensors = ", ".join(_file_keys(list(lora), prefixes_of.get(patch_key, []))[:3]) or key
                raise PlanError(
                    f"{APPLY_NODE}: LoRA {name} does not fit this checkpoint: its tensor {tensors} cannot be applied "
                    f"to {key} (shape {list(shape)}): ComfyUI says {failures[0][:300]!r}. Its ranks or shapes do "
                    "not match this model, so ComfyUI would skip that layer. Nothing was applied; pick a LoRA made "
                    "for the checkpoint's base model, or replace the damaged file."
                )


def read_lora(path: str) -> dict:
    with node_errors(APPLY_NODE, "the plan's LoRA", Path(path).name):
        refuse_unless_safetensors(path)  # load_torch_file would torch.load any other name
    try:
        return comfy.utils.load_torch_file(path, safe_load=True)
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{APPLY_NODE}: {Path(path).name} is not a readable .safetensors LoRA ({exc}); "
                             "replace the file in models/loras.") from exc


def lora_fit(lora_path: str, model, clip) -> tuple[int, list[str]]:
    """(layers ComfyUI patches, keys of the file it could not place) of a LoRA against a loaded model."""
    patches, not_loaded = lora_patches(read_lora(lora_path), model, clip)
    return len(patches), not_loaded


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


def apply_loras(model, clip, loras: list[tuple[str, float]], schedules: Sequence | None = None):
    """Check every LoRA against the model first (ComfyUI's own loader places every tensor, its weight
    calculation accepts every layer's shapes, every value is finite and sane), then patch them all in.

    `schedules` (polaris_core.schedule.LoraSchedule or None per LoRA) spread a LoRA's strength over the steps and
    block groups (nodes/comfy_hooks.py); None or uniform is LoraLoader's plain patch."""
    import comfy.sd

    checked = []
    for name, weight in loras:
        path = planned_model_path("loras", name, node=APPLY_NODE)
        with node_errors(APPLY_NODE, "the plan's LoRA", name):
            refuse_unless_safetensors(path)
        lora = read_lora(path)
        check_lora_values(name, lora)
        try:
            patches, not_loaded = lora_patches(lora, model, clip)
        except Exception as exc:  # e.g. an alpha that is not one number: ComfyUI's loader raises on its own
            raise PlanError(f"{APPLY_NODE}: LoRA {name} cannot be read by ComfyUI's LoRA loader ({type(exc).__name__}: "
                            f"{str(exc)[:200]}); replace the file in models/loras.") from exc
        if not patches or not_loaded:
            raise PlanError(
                f"{APPLY_NODE}: LoRA {name} does not fit this checkpoint: ComfyUI places {len(patches)} of its "
                f"layers and cannot place {len(not_loaded)} of its tensors (e.g. {', '.join(not_loaded[:3])}). "
                "It was probably trained for another base model; pick a LoRA of the checkpoint's family."
            )
        check_lora_shapes(name, lora, patches, model, clip)
        checked.append((lora, weight))
    hooks = []
    for (lora, weight), schedule in zip(checked, schedules or [None] * len(checked)):
        if schedule is None or schedule.is_uniform:
            model, clip = comfy.sd.load_lora_for_models(model, clip, lora, weight, weight)
            continue
        from . import comfy_hooks

        model, clip, lora_hooks = comfy_hooks.apply_scheduled_lora(model, clip, lora, weight, schedule)
        hooks += [lora_hooks] if lora_hooks is not None else []
    if hooks:
        from . import comfy_hooks

        clip = comfy_hooks.attach_hooks_to_conds(clip, hooks)
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
    from comfy_api.v0_0_2 import ui

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
