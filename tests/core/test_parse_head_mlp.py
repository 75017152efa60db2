"""The type head's pooled features and its one-hidden-layer form: what it reads at parse time is what it was trained
on, its JSON holds plain arrays that are checked on load, and its numpy training is deterministic."""
from __future__ import annotations

import json

import numpy as np
import pytest

from polaris_core.errors import ConfigError
from polaris_core.parse.base import prepare_instruction
from polaris_core.parse.compose import read_instruction
from polaris_core.parse.head import (
    HEAD_FILE,
    N_TYPES,
    TypeHead,
    frame_confidences,
    load_head,
    pool_states,
)
from polaris_core.parse.head_training import HeadConfig, fit_config, fit_logreg, fit_mlp, read_rules


def _xor_data():
    """Two features whose type is the quadrant's XOR: no linear boundary separates them, one hidden layer does."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, size=(400, 2)).astype(np.float32)
    x = x[np.abs(x).min(1) > 0.15]
    labels = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64) * 3  # types 0 and 3
    return x, labels


def test_hidden_layer_learns_what_a_linear_head_cannot_and_is_deterministic():
    x, labels = _xor_data()
    linear = TypeHead(*fit_logreg(x, labels, iterations=200))
    first = fit_mlp(x, labels, hidden=16, iterations=400, learning_rate=0.02, seed=3)
    second = fit_mlp(x, labels, hidden=16, iterations=400, learning_rate=0.02, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    weights, bias, mean, scale, w1, b1 = first
    mlp = TypeHead(weights, bias, mean, scale, hidden_weights=w1, hidden_bias=b1)
    assert np.mean(linear.probabilities(x).argmax(1) == labels) < 0.75
    assert np.mean(mlp.probabilities(x).argmax(1) == labels) > 0.95
    other_seed = fit_mlp(x, labels, hidden=16, iterations=400, learning_rate=0.02, seed=4)
    assert not np.array_equal(other_seed[4], w1)


def test_hidden_head_round_trips_through_json_and_bad_arrays_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    width = 768 + 12
    x = rng.normal(size=(60, width)).astype(np.float32)
    labels = np.arange(60) % N_TYPES
    config = HeadConfig(pooling="mean+max", rule_frames=True, hidden=8, iterations=5)
    head = TypeHead(**fit_config(x, labels, config), temperature=1.3)
    path = tmp_path / "head.json"
    head.save(path)
    loaded = load_head(path)
    assert (loaded.pooling, loaded.rule_frames, loaded.hidden_weights.shape) == ("mean+max", True, (8, width))
    assert np.allclose(loaded.probabilities(x), head.probabilities(x), atol=1e-4)
    data = json.loads(path.read_text())
    assert data["format"] == "polaris-type-head-2"
    for key, value in [("hidden_bias", [0.0] * 7), ("pooling", "median"), ("temperature", -1.0)]:
        broken = dict(data, **{key: value})
        path.write_text(json.dumps(broken))
        with pytest.raises(ConfigError, match="train_parse_head"):
            load_head(path)
    data["hidden_weights"][0][0] = float("nan")
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError):
        load_head(path)


def test_pooling_is_the_encoders_embedding_then_the_word_pieces_maximum():
    from polaris_core.embed.text import load_text_encoder
    from polaris_core.parse.span_tagger import token_states

    encoder = load_text_encoder()
    text = "swap the kettle for a teapot"
    states = token_states(encoder, [text])[0]
    pooled = pool_states(states.hidden, "mean+max")
    assert pooled.shape == (768,)
    assert float(pooled[:384] @ encoder.encode_one(text)) > 0.999
    assert np.allclose(pooled[384:], states.hidden[1:-1].max(0))  # [CLS] and [SEP] are not word pieces
    assert np.array_equal(pool_states(states.hidden, "mean"), pooled[:384])


def test_rule_frame_features_are_every_types_best_frame():
    reading = read_instruction(prepare_instruction("replace the cup with a glass"), all_frames=True)
    best = frame_confidences(reading.frames)
    assert best.shape == (N_TYPES,) and best[int(reading.frame.itype)] == pytest.approx(reading.frame.confidence)
    assert np.array_equal(read_rules(["replace the cup with a glass"]).frames[0], best)


def test_shipped_head_reads_what_its_config_says():
    head = load_head(HEAD_FILE)
    assert head.meta["pooling"] == head.pooling and head.meta["hidden"] == (
        0 if head.hidden_weights is None else head.hidden_weights.shape[0])
    assert head.mean.shape == (head.width,)
