"""The learned query map of the dense channel: a plain-array file (never a pickle) that refuses
damage, applies only to the encoder it was fitted for, learns what it is shown, and is what search
and ranker training both use."""
from __future__ import annotations

import numpy as np
import pytest

from polaris_core.errors import ModelFileError
from polaris_core.retrieve.query_map import MAP_PATH, QueryMap, fit_query_map, map_for


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_a_saved_map_loads_as_it_was_and_damage_is_refused(tmp_path):
    weights = np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32)
    path = QueryMap(weights, "enc-a").save(tmp_path / "map.npz")
    loaded = QueryMap.load(path)
    assert loaded.encoder_id == "enc-a" and np.array_equal(loaded.weights, weights)
    bad = weights.copy()
    bad[2, 3] = np.nan
    np.savez(tmp_path / "nan.npz", weights=bad, encoder_id=np.array("enc-a"))
    with pytest.raises(ModelFileError, match="not a finite square matrix"):
        QueryMap.load(tmp_path / "nan.npz")
    np.savez(tmp_path / "pickled.npz", weights=np.array([object()], dtype=object), encoder_id=np.array("enc-a"))
    with pytest.raises(ModelFileError, match="unreadable"):
        QueryMap.load(tmp_path / "pickled.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="retrain it"):
        QueryMap.load(tmp_path / "junk.npz")


def test_a_map_applies_only_to_its_encoder_and_dimension():
    mapping = QueryMap(np.eye(4, dtype=np.float32) * 2, "enc-a")
    assert map_for("enc-a", 4, mapping) is mapping
    assert map_for("enc-b", 4, mapping) is None
    assert map_for("enc-a", 8, mapping) is None
    out = mapping.apply(np.array([3.0, 0, 4, 0], np.float32))
    np.testing.assert_allclose(out, [0.6, 0, 0.8, 0], rtol=1e-6)


def test_fitting_learns_to_ignore_a_direction_shared_by_every_model():
    # Every model's chunks share one strong nuisance direction (the "masterpiece, best quality" of
    # prompts) at a per-chunk strength; what tells models apart is a weak per-model direction. Raw
    # cosine is dominated by the nuisance, and the fitted map must learn to discount it.
    rng = np.random.default_rng(1)
    dim, n_models, per_model = 24, 40, 4
    nuisance = np.zeros(dim, np.float32)
    nuisance[0] = 1.0
    centres = _unit(rng.normal(size=(n_models, dim)) * (np.arange(dim) > 0))

    def sample(model: np.ndarray) -> np.ndarray:
        strength = rng.uniform(0.0, 3.0, size=(len(model), 1))
        return _unit(centres[model] * 0.6 + strength * nuisance + rng.normal(scale=0.15, size=(len(model), dim)))

    chunk_models = np.repeat(np.arange(n_models), per_model)
    chunks = sample(chunk_models)
    train_models = rng.integers(0, n_models, 2000)
    test_models = rng.integers(0, n_models, 300)
    fitted = fit_query_map(sample(train_models), train_models, np.full(2000, -1), chunks, chunk_models, "enc",
                           epochs=40)
    queries = sample(test_models)

    def top1(vectors: np.ndarray) -> float:
        best = chunk_models[np.argmax(vectors @ chunks.T, axis=1)]
        return float(np.mean(best == test_models))

    assert top1(fitted.apply(queries)) > top1(queries) + 0.1


def test_fitting_is_deterministic_and_leaves_a_querys_own_chunk_out():
    rng = np.random.default_rng(2)
    chunks = _unit(rng.normal(size=(30, 8)))
    models = np.repeat(np.arange(10), 3)
    own = np.arange(30)
    a = fit_query_map(chunks, models, own, chunks, models, "enc", epochs=2)
    b = fit_query_map(chunks, models, own, chunks, models, "enc", epochs=2)
    assert np.array_equal(a.weights, b.weights)
    # With only its own chunk as a positive, a query teaches nothing: the map stays the identity.
    lonely = np.arange(30)
    unchanged = fit_query_map(chunks, lonely, own, chunks, lonely, "enc", epochs=2)
    np.testing.assert_array_equal(unchanged.weights, np.eye(8, dtype=np.float32))


def test_the_shipped_map_is_plain_arrays_for_the_default_encoder():
    from polaris_core.embed.text import text_encoder_id

    raw = MAP_PATH.read_bytes()
    assert raw[:2] == b"PK" and len(raw) < 1_000_000, "an .npz of plain arrays, under 1 MB"
    shipped = QueryMap.load(MAP_PATH)
    assert shipped.weights.shape == (384, 384)
    assert shipped.encoder_id == text_encoder_id()
    assert map_for(text_encoder_id(), 384) is not None
