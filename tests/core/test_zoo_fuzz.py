"""Fuzz the header and sidecar parsers: 10,000+ mutated inputs each may only return a result or raise
the documented PolarisError subclass (ModelFileError for headers, ZooError for sidecars)."""
from __future__ import annotations

import copy
import json
import random

import numpy as np
from safetensors.numpy import save

from polaris_core.errors import ModelFileError, ZooError
from polaris_core.zoo.family import detect_family
from polaris_core.zoo.local import SidecarInfo, metadata_fields, parse_sidecar
from polaris_core.zoo.safetensors_header import SafetensorsHeader, parse_header

N_HEADERS = 10_000
N_SIDECARS = 10_000

HEADER_SEEDS = [
    save({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight":
          np.zeros((2, 768), np.float16), "x.alpha": np.ones((), np.float32)},
         metadata={"ss_output_name": "a", "ss_base_model_version": "sd_v1", "ss_v2": "False",
                   "ss_tag_frequency": json.dumps({"10_abc girl": {"1girl": 3, "red": 1}}),
                   "ss_dataset_dirs": json.dumps({"10_abc girl": {"n_repeats": 10}}),
                   "modelspec.title": "T", "modelspec.trigger_phrase": "abc, def"}),
    save({"emb_params": np.zeros((2, 1024), np.float32)}),
    save({"clip_l": np.zeros((1, 768), np.float16), "clip_g": np.zeros((1, 1280), np.float16)},
         metadata={"modelspec.architecture": "stable-diffusion-xl-v1-base/textual-inversion"}),
]

SIDECAR_SEEDS = {
    ".civitai.info": {"id": 5, "modelId": 6, "name": "v1", "baseModel": "SD 1.5", "trainedWords": ["a, b"],
                      "description": "<p>weight 0.5-0.7</p>", "model": {"name": "M", "type": "LORA"},
                      "files": [{"name": "m.safetensors", "primary": True, "hashes": {"SHA256": "ab" * 32}}],
                      "images": [{"url": "u", "nsfw": "None",
                                  "meta": {"prompt": "p <lora:m:0.6>", "resources": [
                                      {"name": "m", "type": "lora", "weight": 0.6}]}}]},
    ".metadata.json": {"model_name": "M", "base_model": "SDXL 1.0", "tags": ["style"], "notes": "n",
                       "modelDescription": "<b>d</b>", "usage_tips": "{\"strength\": 0.8}",
                       "civitai": {"id": 1, "trainedWords": ["w"], "images": [{"meta": {"prompt": "q"}}]}},
    ".rgthree-info.json": {"name": "R", "baseModel": "SD 1.5", "strengthMin": 0.2, "strengthMax": 1,
                           "trainedWords": [{"word": "w"}, "x"], "images": [{"url": "http://u", "positive": "p"}],
                           "raw": {"civitai": {"id": 2, "model": {"name": "RC"}}}},
    ".json": {"description": "d", "activation text": "a, b", "preferred weight": 0.7, "sd version": "SD1",
              "notes": "n"},
    ".txt": "word one, word two\nword three",
}

WEIRD_VALUES = [None, True, 0, -1, 2 ** 70, 1e308, float("nan"), "", "x" * 5000, "\x00\ud800", [], {}, [[[]]],
                {"a": {"b": [1, "c"]}}, ["<lora:z:abc>", 3], "<script>x</script>", "1e999", "\u202e\u200b"]


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2:
            del buf[pos:pos + rng.randint(1, 16)]
        elif op == 3:
            buf = buf[:pos]
        elif op == 4 and len(buf) >= 8:  # rewrite the length prefix (headers) or the first bytes
            buf[0:8] = rng.choice([rng.randrange(2 ** 64), rng.randrange(64), len(buf), 2 ** 63]).to_bytes(8, "little")
        elif op == 5:
            buf[pos:pos] = rng.choice([b'"', b"{", b"}", b"[", b"]", b",", b":", b"\\u0000", b"\xc3", b"-1", b"1e999"])
        elif op == 6 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start:start + rng.randint(1, 32)]
    return bytes(buf)


def _mutate_json(rng: random.Random, obj):
    """Replace a random value somewhere in the structure with a value of a random type."""
    obj = copy.deepcopy(obj)
    for _ in range(rng.randint(1, 3)):
        node, path = obj, []
        while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            return copy.deepcopy(rng.choice(WEIRD_VALUES))
        parent, key = path[-1]
        parent[key] = copy.deepcopy(rng.choice(WEIRD_VALUES))
    return obj


def _header_blob(rng: random.Random) -> bytes:
    seed = rng.choice(HEADER_SEEDS)
    if rng.random() < 0.5:
        return _mutate_bytes(rng, seed)
    n = int.from_bytes(seed[:8], "little")
    header = _mutate_json(rng, json.loads(seed[8:8 + n]))
    body = json.dumps(header, allow_nan=True).encode("utf-8", "surrogatepass")
    return len(body).to_bytes(8, "little") + body + seed[8 + n:]


def test_fuzz_safetensors_headers():
    rng = random.Random(1234)
    parsed = rejected = 0
    for _ in range(N_HEADERS):
        blob = _header_blob(rng)
        try:
            header = parse_header(blob, len(blob), "fuzz.safetensors")
        except ModelFileError:
            rejected += 1
            continue
        assert isinstance(header, SafetensorsHeader)
        assert all(isinstance(v, str) for v in header.metadata.values())
        # Everything downstream of a valid header must cope with whatever the metadata says.
        detect_family({k: t.shape for k, t in header.tensors.items()}, header.metadata)
        assert isinstance(metadata_fields(header.metadata), SidecarInfo)
        parsed += 1
    assert parsed > 1000 and rejected > 1000  # both paths were exercised


def test_fuzz_sidecars():
    rng = random.Random(99)
    suffixes = list(SIDECAR_SEEDS)
    parsed = rejected = 0
    for i in range(N_SIDECARS):
        suffix = suffixes[i % len(suffixes)]
        seed = SIDECAR_SEEDS[suffix]
        if isinstance(seed, str) or rng.random() < 0.5:
            raw = seed.encode() if isinstance(seed, str) else json.dumps(seed).encode()
            data = _mutate_bytes(rng, raw)
        else:
            data = json.dumps(_mutate_json(rng, seed), allow_nan=True).encode("utf-8", "surrogatepass")
        try:
            info = parse_sidecar(suffix, data)
        except ZooError:
            rejected += 1
            continue
        assert isinstance(info, SidecarInfo)
        assert info.recommended_weight is None or 0.05 <= info.recommended_weight <= 2
        assert all(isinstance(w, str) for w in info.trigger_words + info.tags + info.example_prompts)
        parsed += 1
    assert parsed > 1000 and rejected > 1000
