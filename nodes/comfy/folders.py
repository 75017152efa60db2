"""ComfyUI's model folders: Polaris's folder keys merged into folder_paths, model lists, paths and
fingerprints of the files a loader names, and errors in the loaders' terms."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath
from typing import Sequence

import folder_paths

from polaris_core.errors import ModelFileError, UnsafePathError
from polaris_core.weights import refuse_pickle

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


def _full_path(key: str, name: str, *, unsafe: str, missing) -> str:
    """Full path of `name` in folder `key`, refusing names that escape the model folders; `missing()` words the
    error for a file that is not there (removed while the server runs, or never there)."""
    if not name or "\x00" in name or ".." in Path(name).parts or os.path.isabs(name):
        raise UnsafePathError(unsafe)
    path = folder_paths.get_full_path(key, name)
    if path is None:
        raise ModelFileError(missing())
    return path


def model_path(key: str, name: str, *, node: str, widget: str) -> str:
    """Full path of a model a widget chose, refusing names that escape the model folders."""
    return _full_path(key, name,
                      unsafe=f"{node}: {widget} {name!r} is not a model name inside {folder_label(key)}; "
                             "pick one from the list.",
                      missing=lambda: missing_model_message(node, widget, key, name, model_list(key))
                      or f"{node}: {widget} '{name}' is gone from {folder_label(key)}; {fill_folder_hint(key)}.")


PLANNED_KINDS = {"checkpoints": "checkpoint", "loras": "LoRA"}


def planned_model_path(key: str, name: str, *, node: str) -> str:
    """Full path of a checkpoint or LoRA a plan names (the index found it; the file may be gone since)."""
    return _full_path(key, name,
                      unsafe=f"{node}: the plan names {name!r}, which is not a file inside {folder_label(key)}; "
                             "rebuild the plan from a zoo index of this server.",
                      missing=lambda: f"{node}: the plan names the {PLANNED_KINDS.get(key, 'model')} '{name}', which "
                                      f"is not in {folder_label(key)} (moved or deleted?); put it back, or run Build "
                                      "Zoo Index (Polaris) so the index forgets it, then queue the workflow again.")


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


# ---------------------------------------------------------------- apply the selection
def safe_weights_path(key: str, name: str, *, node: str, widget: str) -> str:
    """Resolve a model a widget chose and refuse pickles before anything is read."""
    path = model_path(key, name, node=node, widget=widget)
    refuse_pickle(path)
    return path
