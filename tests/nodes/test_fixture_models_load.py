"""The random-weight fixtures load through ComfyUI's own loaders exactly like real files."""
from __future__ import annotations

import logging
import shutil


def test_checkpoint_and_loras_load_with_no_unloaded_keys(comfy, pack, sd15_checkpoint, lora_files, caplog):
    import folder_paths
    import nodes as comfy_nodes

    ckpt_dir = comfy / "models" / "checkpoints"
    lora_dir = comfy / "models" / "loras"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    lora_dir.mkdir(parents=True, exist_ok=True)
    if not (ckpt_dir / sd15_checkpoint.name).exists():
        (ckpt_dir / sd15_checkpoint.name).symlink_to(sd15_checkpoint)
    for path in lora_files.values():
        shutil.copy(path, lora_dir / path.name)
    folder_paths.add_model_folder_path("checkpoints", str(ckpt_dir), is_default=True)
    folder_paths.add_model_folder_path("loras", str(lora_dir), is_default=True)

    model, clip, vae = comfy_nodes.CheckpointLoaderSimple().load_checkpoint(sd15_checkpoint.name)
    assert type(model.model.model_config).__name__ == "SD15"
    assert vae.latent_channels == 4
    with caplog.at_level(logging.WARNING):
        for path in lora_files.values():
            patched_model, patched_clip = comfy_nodes.LoraLoader().load_lora(model, clip, path.name, 0.8, 0.8)
            assert len(patched_model.patches) > 0 and len(patched_clip.patcher.patches) > 0
    assert not [r for r in caplog.records if "not loaded" in r.getMessage()]
