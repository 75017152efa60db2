"""Zoo indexes under models/polaris/indexes and catalog files: names, folders, labels without server paths,
loading in Load Zoo Index's terms."""
from __future__ import annotations

from pathlib import Path

import folder_paths

from polaris_core.errors import UnsafePathError

from .folders import POLARIS_KEY, folder_label, public_message

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

def cache_folder() -> Path:
    """Scan and embedding caches: beside the indexes, never inside the pack folder."""
    return index_root().parent / "cache"
