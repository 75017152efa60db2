"""safetensors header reader, file hashes (SHA256, AutoV1/V2/V3) and base-family detection."""
from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from polaris_core.errors import ModelFileError
from polaris_core.zoo.family import detect_family, family_from_metadata, family_from_tensors
from polaris_core.zoo.hashing import autov3_key, hash_file
from polaris_core.zoo.safetensors_header import parse_header, read_header


def _zeros(*shape, dtype=np.float16):
    return np.zeros(shape, dtype=dtype)


def _raw(header: dict, data: bytes = b"") -> bytes:
    body = json.dumps(header).encode()
    return struct.pack("<Q", len(body)) + body + data


def test_read_header_of_a_real_file(tmp_path):
    path = tmp_path / "lora.safetensors"
    save_file({"a.lora_down.weight": _zeros(4, 768), "b": np.ones(3, dtype=np.float32)}, str(path),
              metadata={"ss_output_name": "mine", "ss_tag_frequency": "{}"})
    header = read_header(path)
    assert header.tensors["a.lora_down.weight"].shape == (4, 768)
    assert header.tensors["a.lora_down.weight"].dtype == "F16"
    assert header.tensors["b"].offsets[1] - header.tensors["b"].offsets[0] == 12
    assert header.metadata == {"ss_output_name": "mine", "ss_tag_frequency": "{}"}
    assert header.data_offset + 4 * 768 * 2 + 12 == path.stat().st_size


@pytest.mark.parametrize("blob, why", [
    (b"", "shorter"),
    (b"\x05\x00", "shorter"),
    (struct.pack("<Q", 5 * 2**30) + b"{}", "claims"),                # 8-byte length claiming gigabytes
    (struct.pack("<Q", 100) + b"{}", "past the end"),                # truncated
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "UTF-8"),
    (struct.pack("<Q", 5) + b"{oops", "not valid JSON"),
    (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    (_raw({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}), "outside the data region"),
    (_raw({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, b"\0" * 16), "does not match"),
    (_raw({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}), "invalid shape"),
    (_raw({"t": [1, 2]}), "not an object"),
    (_raw({"__metadata__": [1]}), "__metadata__"),
    (struct.pack("<Q", 100005) + b'{"a":' + b"[" * 100000, "not valid JSON"),  # deep nesting
])
def test_bad_headers_raise_model_file_error(blob, why):
    with pytest.raises(ModelFileError, match=why):
        parse_header(blob, len(blob), "x.safetensors")


def test_oversized_header_is_rejected_without_reading_it(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(ModelFileError, match="claims"):
        read_header(path)
    with pytest.raises(ModelFileError, match="Cannot read"):
        read_header(tmp_path / "missing.safetensors")


def test_hashes_and_autov3_survive_metadata_edits(tmp_path):
    tensors = {"w": np.arange(400_000, dtype=np.float32).reshape(1000, 400)}  # 1.6 MB: AutoV1 reads at 1 MiB
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file(tensors, str(first), metadata={"note": "one"})
    save_file(tensors, str(second), metadata={"note": "two, edited"})
    h1 = hash_file(first, data_offset=read_header(first).data_offset)
    h2 = hash_file(second, data_offset=read_header(second).data_offset)
    raw = first.read_bytes()
    assert h1.sha256 == hashlib.sha256(raw).hexdigest() and h1.autov2 == h1.sha256[:10]
    assert h1.autov1 == hashlib.sha256(raw[0x100000:0x110000]).hexdigest()[:8]
    assert h1.autov3 == hashlib.sha256(raw[read_header(first).data_offset:]).hexdigest()
    assert h1.sha256 != h2.sha256 and h1.autov3 == h2.autov3
    assert h1.key == autov3_key(h1.autov3) == "autov3:" + h1.autov3[:12]
    assert h1.size == len(raw)


def test_hash_of_a_pickle_never_parses_it(tmp_path):
    path = tmp_path / "x.ckpt"
    path.write_bytes(b"\x80\x04cos\nsystem\n")  # a pickle that would run code if loaded
    hashes = hash_file(path)
    assert hashes.autov3 == "" and hashes.key.startswith("sha256:")
    assert hashes.autov1 == hashlib.sha256(b"").hexdigest()[:8]  # A1111 reads past the end of small files


def _kohya_unet(prefix: str, ctx: int) -> dict:
    return {f"{prefix}_attn2_to_k.lora_down.weight": (8, ctx), f"{prefix}_attn2_to_k.lora_up.weight": (320, 8)}


@pytest.mark.parametrize("shapes, family", [
    (_kohya_unet("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0", 768), "sd15"),
    (_kohya_unet("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0", 1024), "sd2"),
    (_kohya_unet("lora_unet_input_blocks_4_1_transformer_blocks_0", 2048), "sdxl"),
    ({"lora_unet_input_blocks_4_1_proj_in.lora_down.weight": (8, 640)}, "sdxl"),
    ({"lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (8, 768),
      "lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (8, 1280)}, "sdxl"),
    ({"lora_te_text_model_encoder_layers_11_mlp_fc1.lora_down.weight": (8, 768)}, "sd15"),
    ({"lora_te_text_model_encoder_layers_22_mlp_fc1.lora_down.weight": (8, 1024)}, "sd2"),
    ({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v.hada_w1_b": (4, 768),
      "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v.hada_w1_a": (320, 4)}, "sd15"),
    ({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lokr_w1": (4, 16),
      "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lokr_w2": (80, 64)}, "sd2"),
    ({"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": (4, 2048)}, "sdxl"),
    ({"unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight": (4, 768)},
     "sd15"),
    ({"text_encoder_2.text_model.encoder.layers.0.self_attn.k_proj.lora_A.weight": (4, 1280)}, "sdxl"),
    ({"lora_unet_double_blocks_0_img_attn_proj.lora_down.weight": (16, 3072)}, "flux"),
    ({"transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": (16, 3072)}, "flux"),
    ({"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": (4608, 1536)}, "sd3"),
    ({"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
      "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (49408, 768)}, "sd15"),
    ({"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024)}, "sd2"),
    ({"conditioner.embedders.1.model.ln_final.weight": (1280,), "model.diffusion_model.label_emb.0.0.weight":
      (1280, 2816)}, "sdxl"),
    ({"emb_params": (4, 768)}, "sd15"),
    ({"emb_params": (4, 1024)}, "sd2"),
    ({"clip_l": (4, 768), "clip_g": (4, 1280)}, "sdxl"),
    ({"something.else": (3, 3)}, "unknown"),
])
def test_family_from_tensor_names_and_shapes(shapes, family):
    assert family_from_tensors(shapes) == family


def test_family_from_metadata_and_precedence():
    assert family_from_metadata({"ss_base_model_version": "sdxl_base_v1-0"}) == "sdxl"
    assert family_from_metadata({"modelspec.architecture": "stable-diffusion-v1/lora"}) == "sd15"
    assert family_from_metadata({"modelspec.architecture": "flux-1-dev/lora"}) == "flux"
    assert family_from_metadata({"ss_v2": "True"}) == "sd2"
    assert family_from_metadata({"ss_v2": "False", "ss_network_module": "networks.lora"}) == "sd15"
    assert family_from_metadata({}) == "unknown"
    # Tensor evidence wins over (possibly stale) metadata; metadata fills in when tensors say nothing.
    sdxl = _kohya_unet("lora_unet_input_blocks_4_1_transformer_blocks_0", 2048)
    assert detect_family(sdxl, {"ss_base_model_version": "sd_v1"}) == ("sdxl", "tensors")
    assert detect_family({"x": (1,)}, {"ss_base_model_version": "sd_v1"}) == ("sd15", "metadata")
    assert detect_family({"x": (1,)}, {}) == ("unknown", "")
