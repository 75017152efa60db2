"""The pack imports ComfyUI's node API from the versioned `comfy_api.v0_0_2`, public names only.

`comfy_api.latest` is marked unstable upstream and its private modules (`_io`, `_ui`, ...) move between
releases; a pack pinned to the versioned module keeps loading when `latest` changes.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONED = "comfy_api.v0_0_2"
PACK_FILES = sorted([ROOT / "__init__.py", *(ROOT / "nodes").rglob("*.py")])


def comfy_api_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every import of a comfy_api module in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "comfy_api":
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names
                      if alias.name.split(".")[0] == "comfy_api"]
    return found


def private_api_attributes(path: Path, api_names: set[str]) -> list[tuple[int, str]]:
    """`io._X` / `ui._X` style uses of private names on the imported API modules."""
    return [(node.lineno, f"{node.value.id}.{node.attr}")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in api_names and node.attr.startswith("_")]


def test_pack_imports_only_public_names_of_the_versioned_api():
    problems = []
    for path in PACK_FILES:
        rel = path.relative_to(ROOT)
        imports = comfy_api_imports(path)
        for line, module, names in imports:
            if module != VERSIONED:
                problems.append(f"{rel}:{line} imports {module}; import from {VERSIONED}")
            problems += [f"{rel}:{line} imports the private name {name} from {module}"
                         for name in names if name.startswith("_")]
        api_names = {name for _, _, names in imports for name in names}
        problems += [f"{rel}:{line} uses the private {attr}" for line, attr in private_api_attributes(path, api_names)]
    assert not problems, "\n".join(problems)


def test_the_checker_sees_latest_and_private_names(tmp_path):
    """The checks above would catch the imports they forbid (so they cannot pass vacuously)."""
    sample = tmp_path / "sample.py"
    sample.write_text("from comfy_api.latest import io\nfrom comfy_api.v0_0_2 import _io\nimport comfy_api.latest\n"
                      "x = io._UIOutput\n", encoding="utf-8")
    imports = comfy_api_imports(sample)
    assert [(module, names) for _, module, names in imports] == [
        ("comfy_api.latest", ["io"]), ("comfy_api.v0_0_2", ["_io"]), ("comfy_api.latest", [])]
    assert private_api_attributes(sample, {"io"}) == [(4, "io._UIOutput")]
    assert sum(len(comfy_api_imports(p)) for p in PACK_FILES) >= 5  # the pack's own imports were found


def test_every_imported_name_exists_in_the_versioned_api(comfy):
    api = importlib.import_module(VERSIONED)
    missing = sorted({(name, str(path.relative_to(ROOT))) for path in PACK_FILES
                      for _, module, names in comfy_api_imports(path) if module == VERSIONED
                      for name in names if not hasattr(api, name)})
    assert not missing, f"names not in {VERSIONED}: {missing}"
