"""The ComfyUI test host: locate/import ComfyUI, build random-weight SD1.5 fixtures, run a real server.

ComfyUI 0.3.75 is extracted by scripts/setup_env.sh into .cache/comfyui (never committed).
Fixtures use ComfyUI's own model classes, so its loaders read them exactly like real files.
Run as a script to build a fixture in a separate process (frees the ~4 GB it needs):
    python tests/comfy_host.py sd15 OUT.safetensors
    python tests/comfy_host.py lora CHECKPOINT.safetensors OUT.safetensors NAME [--rank 4] [--base sd15]
    python tests/comfy_host.py lora-formats OUT_DIR   (polaris-FORMAT.safetensors for each of LORA_FORMATS)
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMFYUI_DIR = Path(os.environ.get("POLARIS_COMFYUI", ROOT / ".cache" / "comfyui"))


class ComfyUIMissing(RuntimeError):
    pass


def require_comfyui() -> Path:
    """Return ComfyUI's folder, or fail with the one command that fixes it."""
    if not (COMFYUI_DIR / "main.py").is_file() or not (COMFYUI_DIR / "comfy").is_dir():
        raise ComfyUIMissing(
            f"ComfyUI not found at {COMFYUI_DIR}. Run `bash scripts/setup_env.sh` "
            "(or set POLARIS_COMFYUI to a ComfyUI 0.3.75 checkout)."
        )
    return COMFYUI_DIR


def import_comfyui() -> Path:
    """Make ComfyUI importable in this process, on the CPU, without parsing our argv."""
    comfy_dir = require_comfyui()
    if str(comfy_dir) not in sys.path:
        sys.path.insert(0, str(comfy_dir))
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args

    comfy.cli_args.args.cpu = True
    return comfy_dir


def _randomise_(module, seed: int) -> None:
    """ComfyUI builds layers without initialising them; give every tensor small random values."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point():
                continue
            if tensor.dim() == 1 and name.endswith(".weight"):  # norm scales
                tensor.fill_(1.0)
            elif name.endswith(".bias"):
                tensor.zero_()
            else:
                fan_in = tensor[0].numel() if tensor.dim() > 1 else tensor.numel()
                std = min(0.02, 1.0 / max(fan_in, 1) ** 0.5)
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * std)


SD15_UNET = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
    "adm_in_channels": None, "in_channels": 4, "model_channels": 320, "num_res_blocks": [2, 2, 2, 2],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1,
    "use_linear_in_transformer": False, "context_dim": 768, "num_heads": 8,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "use_temporal_attention": False, "use_temporal_resblock": False,
}
SD_VAE = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
          "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}


def build_sd15_checkpoint(out_path: Path, seed: int = 0) -> Path:
    """Write a random-weight SD1.5 checkpoint (UNet, CLIP-L, VAE) as fp16 safetensors via ComfyUI's classes."""
    import_comfyui()
    import torch
    import comfy.model_detection
    import comfy.model_patcher
    import comfy.sd
    import comfy.utils
    from comfy.ldm.models.autoencoder import AutoencoderKL

    model_config = comfy.model_detection.model_config_from_unet_config(dict(SD15_UNET))
    model = model_config.get_model({})
    _randomise_(model, seed)
    clip = comfy.sd.CLIP(target=model_config.clip_target(), model_options={"dtype": torch.float32})
    _randomise_(clip.cond_stage_model, seed + 1)
    vae_module = AutoencoderKL(ddconfig=dict(SD_VAE), embed_dim=4)
    _randomise_(vae_module, seed + 2)
    vae = comfy.sd.VAE(sd=vae_module.state_dict())

    state = model.state_dict_for_saving(clip.get_sd(), vae.get_sd(), None)
    state = {k: (v.to(torch.float16) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    comfy.utils.save_torch_file(state, str(tmp), metadata={"modelspec.architecture": "stable-diffusion-v1",
                                                             "modelspec.title": "Polaris random SD1.5 fixture"})
    os.replace(tmp, out_path)
    return out_path


def build_lora(checkpoint: Path, out_path: Path, name: str, *, rank: int = 4, seed: int = 0,
               trigger_words: tuple[str, ...] = (), unet_blocks: int = 8) -> Path:
    """Write a kohya-format LoRA whose keys target real layers of `checkpoint` (ss_*/modelspec.* metadata)."""
    import_comfyui()
    import torch
    import comfy.utils
    from safetensors import safe_open

    with safe_open(str(checkpoint), framework="pt") as f:
        ckpt_keys = set(f.keys())
        shapes = {k: f.get_slice(k).get_shape() for k in ckpt_keys}
    gen = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    targets = []
    for key in sorted(ckpt_keys):
        if not key.endswith(".weight") or len(shapes[key]) != 2:
            continue
        if key.startswith("model.diffusion_model.") and (".attn1.to_" in key or ".attn2.to_" in key):
            kohya = "lora_unet_" + key[len("model.diffusion_model."):-len(".weight")].replace(".", "_")
            targets.append((kohya, shapes[key]))
        elif key.startswith("cond_stage_model.transformer.text_model.encoder.layers.") and ".self_attn." in key:
            inner = key[len("cond_stage_model.transformer.text_model."):-len(".weight")]
            targets.append(("lora_te_text_model_" + inner.replace(".", "_"), shapes[key]))
    unet = [t for t in targets if t[0].startswith("lora_unet_")][: unet_blocks * 4]
    te = [t for t in targets if t[0].startswith("lora_te_")][:8]
    for kohya, (out_f, in_f) in unet + te:
        tensors[f"{kohya}.lora_down.weight"] = (torch.randn(rank, in_f, generator=gen) * 0.01).half()
        tensors[f"{kohya}.lora_up.weight"] = (torch.randn(out_f, rank, generator=gen) * 0.01).half()
        tensors[f"{kohya}.alpha"] = torch.tensor(float(rank)).half()
    tag_freq = {f"10_{name}": {w: 20 for w in trigger_words} | {"1girl": 5, "outdoors": 3}}
    metadata = {
        "ss_network_module": "networks.lora", "ss_network_dim": str(rank), "ss_network_alpha": str(rank),
        "ss_base_model_version": "sd_v1", "ss_output_name": name, "ss_tag_frequency": json.dumps(tag_freq),
        "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors",
        "modelspec.architecture": "stable-diffusion-v1/lora", "modelspec.title": name,
        "modelspec.trigger_phrase": ", ".join(trigger_words),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    comfy.utils.save_torch_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, out_path)
    return out_path


# Layers of the SD1.5 fixture that the format fixtures patch: (CompVis key without "model.", shape).
FORMAT_TARGETS = {
    "unet_q": ("diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q", (320, 320)),
    "unet_k2": ("diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k", (320, 768)),
    "unet_ff": ("diffusion_model.output_blocks.11.1.transformer_blocks.0.ff.net.2", (320, 1280)),
    "unet_conv": ("diffusion_model.input_blocks.1.0.in_layers.2", (320, 320, 3, 3)),
    "te_q": ("cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj", (768, 768)),
    "te_fc1": ("cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc1", (3072, 768)),
}
LORA_FORMATS = ("diffusers", "peft", "locon", "loha", "lokr", "oft", "sdxl")


def _kohya_name(target: str) -> str:
    if target.startswith("diffusion_model."):
        return "lora_unet_" + target[len("diffusion_model."):].replace(".", "_")
    return "lora_te_" + target[len("cond_stage_model.transformer."):].replace(".", "_")


def _diffusers_unet_name(target: str) -> str:
    """The diffusers name of a CompVis UNet layer of the SD1.5 fixture, as ComfyUI maps it."""
    import comfy.utils

    compvis = target[len("diffusion_model."):] + ".weight"
    for diffusers, their in comfy.utils.unet_to_diffusers(dict(SD15_UNET)).items():
        if their == compvis:
            return diffusers[:-len(".weight")]
    raise KeyError(target)


def format_lora_tensors(fmt: str, *, rank: int = 2, seed: int = 0) -> dict:
    """Tensors of a small LoRA in one of the formats ComfyUI's LoRA loader reads, for the SD1.5 fixture.

    diffusers: attention-processor keys (`..._lora.up`, `.lora.up`) and `lora_linear_layer` text-encoder
    keys; peft: `lora_A`/`lora_B`; locon: kohya names with a 3x3 conv layer; loha: `hada_*`; lokr: `lokr_*`
    (Kronecker factors); oft: `oft_blocks`. sdxl: kohya keys of SDXL-only layers (second text encoder,
    deeper transformer blocks) plus a first-encoder layer SD1.5 shares: a real misfit.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.randn(*shape, generator=gen) * 0.05).half()

    out: dict = {}
    T = FORMAT_TARGETS
    if fmt == "diffusers":
        for key in ("unet_q", "unet_k2"):
            target, (o, i) = T[key]
            name = _diffusers_unet_name(target).replace(".to_", ".processor.to_")
            if key == "unet_q":  # diffusers' save_attn_procs layout
                out[f"{name}_lora.down.weight"], out[f"{name}_lora.up.weight"] = rand(rank, i), rand(o, rank)
            else:
                out[f"unet.{name}.lora.down.weight"], out[f"unet.{name}.lora.up.weight"] = rand(rank, i), rand(o, rank)
        target, (o, i) = T["te_q"]
        name = "text_encoder." + target[len("cond_stage_model.transformer."):]
        out[f"{name}.lora_linear_layer.down.weight"] = rand(rank, i)
        out[f"{name}.lora_linear_layer.up.weight"] = rand(o, rank)
    elif fmt == "peft":
        for key in ("unet_q", "unet_ff", "te_fc1"):
            target, (o, i) = T[key]
            if key.startswith("te_"):
                name = "text_encoder." + target[len("cond_stage_model.transformer."):]
            else:
                name = "unet." + _diffusers_unet_name(target).replace(".to_", ".processor.to_")
            out[f"{name}.lora_A.weight"], out[f"{name}.lora_B.weight"] = rand(rank, i), rand(o, rank)
    elif fmt == "locon":
        for key in ("unet_conv", "unet_q", "te_q"):
            target, shape = T[key]
            name = _kohya_name(target)
            out[f"{name}.lora_down.weight"] = rand(rank, *shape[1:])
            out[f"{name}.lora_up.weight"] = rand(shape[0], rank, *([1, 1] if len(shape) == 4 else []))
            out[f"{name}.alpha"] = torch.tensor(float(rank)).half()
    elif fmt == "loha":
        for key in ("unet_q", "unet_k2", "te_q"):
            target, (o, i) = T[key]
            name = _kohya_name(target)
            out[f"{name}.hada_w1_a"], out[f"{name}.hada_w1_b"] = rand(o, rank), rand(rank, i)
            out[f"{name}.hada_w2_a"], out[f"{name}.hada_w2_b"] = rand(o, rank), rand(rank, i)
            out[f"{name}.alpha"] = torch.tensor(float(rank)).half()
    elif fmt == "lokr":
        for key in ("unet_q", "unet_k2", "te_q"):
            target, (o, i) = T[key]
            name = _kohya_name(target)
            out[f"{name}.lokr_w1"] = rand(4, 4)  # kron(w1, w2) has the layer's shape
            out[f"{name}.lokr_w2_a"], out[f"{name}.lokr_w2_b"] = rand(o // 4, rank), rand(rank, i // 4)
            out[f"{name}.alpha"] = torch.tensor(float(rank)).half()
    elif fmt == "oft":
        for key in ("unet_q", "unet_ff", "te_q"):
            target, (o, i) = T[key]
            # 16-wide blocks, as LyCORIS trains them (torch's multithreaded batched inverse fails on CPU for
            # blocks of about 192 and up, which ComfyUI's OFT math would then log and skip).
            out[f"{_kohya_name(target)}.oft_blocks"] = rand(o // 16, 16, 16)
    elif fmt == "sdxl":
        for name, (o, i) in {
            "lora_te1_text_model_encoder_layers_0_self_attn_q_proj": (768, 768),
            "lora_te2_text_model_encoder_layers_0_self_attn_q_proj": (1280, 1280),
            "lora_unet_input_blocks_4_1_transformer_blocks_1_attn1_to_q": (640, 640),
            "lora_unet_middle_block_1_transformer_blocks_9_attn2_to_k": (1280, 2048),
        }.items():
            out[f"{name}.lora_down.weight"], out[f"{name}.lora_up.weight"] = rand(rank, i), rand(o, rank)
            out[f"{name}.alpha"] = torch.tensor(float(rank)).half()
    else:
        raise ValueError(f"unknown LoRA format {fmt!r}; use one of {LORA_FORMATS}")
    return out


def build_format_lora(out_path: Path, fmt: str, *, rank: int = 2) -> Path:
    """Write `format_lora_tensors(fmt)` as a .safetensors LoRA (a few layers, rank 2: kilobytes to a few MB)."""
    import_comfyui()
    import comfy.utils

    tensors = format_lora_tensors(fmt, rank=rank, seed=zlib.crc32(fmt.encode()))
    base = "sdxl" if fmt == "sdxl" else "sd_v1"
    metadata = {"ss_base_model_version": base, "ss_output_name": f"polaris-{fmt}", "modelspec.title": f"polaris-{fmt}"}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp")
    comfy.utils.save_torch_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, out_path)
    return out_path


# ---------------------------------------------------------------- a real server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """A real `main.py --cpu` on 127.0.0.1 with the pack linked into custom_nodes/."""

    def __init__(self, base_dir: Path, *, python: str = sys.executable, extra_args: tuple[str, ...] = (),
                 log_name: str = "server.log"):
        self.comfy_dir = require_comfyui()
        self.base_dir = base_dir
        self.python = python
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base_dir / log_name
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> "ComfyServer":
        custom = self.base_dir / "custom_nodes"
        custom.mkdir(parents=True, exist_ok=True)
        link = custom / "comfyui-polaris"
        if not link.exists():
            link.symlink_to(ROOT, target_is_directory=True)
        for sub in ("models", "input", "output", "temp", "user"):
            (self.base_dir / sub).mkdir(exist_ok=True)
        cmd = [self.python, str(self.comfy_dir / "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(self.port), "--base-directory", str(self.base_dir),
               "--disable-auto-launch", "--database-url", "sqlite:///:memory:", *self.extra_args]
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, cwd=str(self.comfy_dir), stdout=open(self.log_path, "wb"),
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                self.get("/object_info/CheckpointLoaderSimple", timeout=2)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"ComfyUI did not answer within {timeout:.0f}s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, timeout: float = 30.0):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def post(self, path: str, payload: dict, timeout: float = 30.0):
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = resp.read()
                return json.loads(body) if body.strip() else None
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"POST {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from exc

    def run_prompt(self, prompt: dict, timeout: float = 600.0) -> dict:
        """POST an API-format workflow to /prompt and wait for its /history entry."""
        prompt_id = self.post("/prompt", {"prompt": prompt, "client_id": "polaris-tests"})["prompt_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                history = self.get(f"/history/{prompt_id}")
            except TimeoutError:  # a CPU-starved server answers late while it samples: ask again
                continue
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                return history[prompt_id]
            if prompt_id in history and history[prompt_id].get("status", {}).get("status_str") == "error":
                return history[prompt_id]
            time.sleep(0.5)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {timeout:.0f}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "sd15":
        build_sd15_checkpoint(Path(sys.argv[2]))
    elif what == "lora-formats":
        for fmt in LORA_FORMATS:
            build_format_lora(Path(sys.argv[2]) / f"polaris-{fmt}.safetensors", fmt)
    elif what == "lora":
        # Each name gets its own random tensors, so content hashes differ as they would for real LoRAs.
        build_lora(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], seed=zlib.crc32(sys.argv[4].encode()),
                   trigger_words=tuple(w for w in sys.argv[5:]))
    else:
        raise SystemExit(__doc__)
