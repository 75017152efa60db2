"""The pack loads in a real ComfyUI server and every Polaris node is listed by /object_info."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def declared_node_ids() -> set[str]:
    ids = set()
    for path in (ROOT / "nodes").glob("*.py"):
        ids.update(re.findall(r'node_id="(Polaris\w+)"', path.read_text(encoding="utf-8")))
    return ids


def test_every_polaris_node_is_listed(comfy_server):
    expected = declared_node_ids()
    assert expected, "no Polaris nodes declared"
    info = comfy_server.get("/object_info")
    listed = {name for name in info if name.startswith("Polaris")}
    assert listed == expected
    for name in expected:
        node = info[name]
        assert node["display_name"].endswith("(Polaris)")
        assert node["category"].startswith("Polaris/")
        assert node["description"]
        for section in ("required", "optional"):
            for input_name, spec in node["input"].get(section, {}).items():
                options = spec[1] if len(spec) > 1 else {}
                assert options.get("tooltip"), f"{name}.{input_name} has no tooltip"


def test_pack_imported_without_error(comfy_server):
    log = comfy_server.log()
    timing = re.findall(r"^\s*[\d.]+ seconds(.*): .*comfyui-polaris\s*$", log, flags=re.MULTILINE)
    assert timing == [""], log[-3000:]  # listed once, without "(IMPORT FAILED)"
    assert "polaris" not in "".join(re.findall(r"Traceback[\s\S]*?\n\S[^\n]*", log)).lower(), log[-3000:]
