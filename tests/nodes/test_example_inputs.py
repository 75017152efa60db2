"""The shipped workflows' example images reach ComfyUI's input folder, and a user's own file is never replaced."""
from __future__ import annotations

from pathlib import Path


def test_example_images_are_copied_once_and_never_overwrite(pack, tmp_path, monkeypatch):
    import folder_paths

    seam = pack.nodes.comfy
    monkeypatch.setattr(folder_paths, "get_input_directory", lambda: str(tmp_path))
    mine = tmp_path / "polaris-reference.png"
    mine.write_bytes(b"the user's own picture")

    copied = seam.previews.install_example_inputs()
    assert copied == ["polaris-example.png"]
    shipped = Path(seam.previews.EXAMPLE_INPUTS) / "polaris-example.png"
    assert (tmp_path / "polaris-example.png").read_bytes() == shipped.read_bytes()
    assert mine.read_bytes() == b"the user's own picture"
    assert not list(tmp_path.glob(".*partial"))
    assert seam.previews.install_example_inputs() == []  # already there: nothing to do
