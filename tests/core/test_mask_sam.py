"""The full masker with random-weight SAM vit_b and CLIP ViT-B-32.

SAM's image encoder costs tens of seconds on a shared CPU, so every test here uses the
same 256x256 scene (in different encodings and sizes that all normalise to the same working
image) and the encoder must run exactly once for the whole module.
Random SAM weights produce noise masks that fail SAM's quality thresholds, so the thresholds
and box NMS are relaxed to get proposals.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from polaris_core.clip_model import load_clip
from polaris_core.errors import Cancelled, ConfigError, ModelFileError
from polaris_core.mask import MaskOptions, mask_region
from polaris_core.mask.postprocess import mask_box
from polaris_core.sam_model import detect_sam_arch, load_sam
from polaris_core.weights import read_safetensors_shapes

RELAXED = dict(points_per_side=2, points_per_batch=2, pred_iou_thresh=0.0, stability_score_thresh=0.0,
               box_nms_thresh=1.0, max_candidates=3, keep_candidates=3, work_max_side=256)


def _scene() -> np.ndarray:
    """256x256 grey scene, constant on 2x2 blocks so a 2x nearest upscale box-filters back exactly."""
    small = np.full((128, 128), 60, dtype=np.uint8)
    small[20:60, 20:60] = 200
    small[75:115, 50:110] = 120
    return np.kron(small, np.ones((2, 2), dtype=np.uint8))


@pytest.fixture(scope="module")
def models(sam_weights, clip_weights):
    sam = load_sam(sam_weights)
    sam.embedding_cache.clear()  # count this module's encoder passes from zero
    encoder_calls = []
    handle = sam.model.image_encoder.register_forward_hook(lambda *args: encoder_calls.append(1))
    yield sam, load_clip(clip_weights), encoder_calls
    handle.remove()


def test_loader_detects_vit_b_and_refuses_pickles(sam_weights, tmp_path, monkeypatch):
    assert detect_sam_arch(read_safetensors_shapes(sam_weights)) == "vit_b"
    sam = load_sam(sam_weights)
    assert sam.arch == "vit_b" and load_sam(sam_weights, arch="vit_b") is not None
    with pytest.raises(ModelFileError, match="vit_b checkpoint, not vit_h"):
        load_sam(sam_weights, arch="vit_h")
    marker = tmp_path / "unpickled"

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    official = tmp_path / "sam_vit_b_01ec64.pth"
    official.write_bytes(pickle.dumps(Trap()))
    with pytest.raises(ModelFileError, match="weights_only=True"):
        load_sam(official)
    assert not marker.exists()
    monkeypatch.delenv("POLARIS_SAM_PATH", raising=False)
    with pytest.raises(ConfigError, match="POLARIS_SAM_PATH"):
        load_sam()


def test_sam_clip_pipeline(models):
    sam, clip, encoder_calls = models
    steps = []
    result = mask_region(_scene(), "a white square", sam=sam, clip=clip, options=MaskOptions(**RELAXED),
                         on_step=lambda i, n: steps.append((i, n)))
    assert len(encoder_calls) == 1
    assert result.method == "sam_clip" and result.chosen == 0 and not result.warnings
    assert result.mask.shape == (256, 256) and result.mask.dtype == np.float32
    assert set(np.unique(result.mask)) <= {0.0, 1.0} and result.mask.any()
    assert len(result.candidates) == 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    for candidate in result.candidates:
        assert candidate.mask.shape == (256, 256) and candidate.mask.dtype == bool
        assert candidate.box == mask_box(candidate.mask)
        assert np.isclose(candidate.area_fraction, candidate.mask.mean())
        assert candidate.source == "sam" and 0 <= candidate.probability <= 1
    # the winner is the top candidate, holes filled
    from polaris_core.mask.postprocess import fill_holes

    assert np.array_equal(result.mask.astype(bool), fill_holes(result.candidates[0].mask))
    n = steps[0][1]
    assert n == 1 + 1 + 2 + 3 and steps == [(i, n) for i in range(1, n + 1)]
    assert {"prepare", "sam_encoder", "sam_decoder", "clip_text", "clip_scoring", "postprocess", "total"} <= set(result.timings)


def test_embedding_is_reused_for_other_subjects_formats_and_sizes(models):
    sam, clip, encoder_calls = models
    before = len(encoder_calls)
    scene = _scene()
    rgba = np.dstack([scene, scene, scene, np.full_like(scene, 255)])
    variants = [
        Image.fromarray(scene, mode="L"),
        Image.fromarray(rgba, mode="RGBA"),
        np.kron(scene, np.ones((2, 2), dtype=np.uint8)),        # 512x512: downscaled to the same work image
    ]
    for variant in variants:
        result = mask_region(variant, "a grey rectangle", sam=sam, clip=clip,
                             options=MaskOptions(**RELAXED, fill_holes=False, feather_px=6))
        size = 512 if np.asarray(variant).shape[0] == 512 else 256
        assert result.mask.shape == (size, size) and result.work_size == (256, 256)
        assert 0 < result.mask.max() <= 1 and ((result.mask > 0) & (result.mask < 1)).any()  # feathered
        assert all(c.mask.shape == (size, size) for c in result.candidates)
    assert len(encoder_calls) == before


def test_cancel_stops_between_batches(models):
    sam, clip, _ = models
    calls = []

    def cancel_after_three():
        calls.append(1)
        if len(calls) > 3:
            raise Cancelled("stopped by the user")

    with pytest.raises(Cancelled):
        mask_region(_scene(), "a square", sam=sam, clip=clip, options=MaskOptions(**RELAXED),
                    check_cancel=cancel_after_three)
    assert len(calls) == 4


@pytest.mark.parametrize("kind", [3, 4])
def test_full_image_types_skip_sam(models, kind):
    sam, clip, encoder_calls = models
    before = len(encoder_calls)
    result = mask_region(Image.fromarray(_scene()), "", instruction_type=kind, sam=sam, clip=clip)
    assert len(encoder_calls) == before
    assert result.method == "full_image" and result.mask.shape == (256, 256) and (result.mask == 1).all()
    assert len(result.candidates) == 1 and result.candidates[0].box == (0, 0, 256, 256)
    no_models = mask_region(np.zeros((3, 5), np.uint8), "anything", instruction_type=kind)
    assert no_models.mask.shape == (3, 5) and (no_models.mask == 1).all()


def test_add_object_uses_sam_segments(models):
    sam, clip, encoder_calls = models
    before = len(encoder_calls)
    options = MaskOptions(**RELAXED, add_grid=7)
    result = mask_region(_scene(), "a cup on the table", instruction_type=1, sam=sam, clip=clip, options=options)
    assert len(encoder_calls) == before
    assert result.method == "add_object" and result.mask.shape == (256, 256)
    assert result.candidates and {c.source for c in result.candidates} <= {"clip_map", "clip_map+sam"}
    for candidate in result.candidates:
        assert options.add_min_area_fraction <= candidate.area_fraction
    assert "clip_patch_map" in result.timings and "add_region" in result.timings


def test_no_usable_proposals_falls_back_to_the_full_image(models):
    sam, clip, _ = models
    strict = MaskOptions(points_per_side=2, pred_iou_thresh=0.99, work_max_side=256)  # random SAM never passes
    result = mask_region(_scene(), "a square", sam=sam, clip=clip, options=strict)
    assert result.method == "full_image_fallback" and result.chosen == -1
    assert (result.mask == 1).all() and result.candidates == [] and "whole image" in result.warnings[0]
    emptied = mask_region(_scene(), "a square", sam=sam, clip=clip, options=MaskOptions(**RELAXED, grow_px=-10_000))
    assert emptied.method == "full_image_fallback" and (emptied.mask == 1).all()
    assert len(emptied.candidates) == 3 and "empty" in emptied.warnings[0]


def test_cli_writes_mask_overlay_and_candidates(models, sam_weights, clip_weights, tmp_path, capsys):
    import json

    from polaris_core.cli import main

    sam, _, encoder_calls = models
    before = len(encoder_calls)
    image_path = tmp_path / "scene.png"
    Image.fromarray(_scene(), mode="L").save(image_path)
    out = tmp_path / "out"
    code = main(["mask", str(image_path), "a white square", "--out", str(out), "--sam", str(sam_weights),
                 "--clip", str(clip_weights), "--points-per-side", "3", "--pred-iou-thresh", "0",
                 "--stability-thresh", "0", "--top", "2", "--grow", "3"])
    assert code == 0 and len(encoder_calls) == before  # same image: SAM's embedding is reused
    printed = capsys.readouterr().out
    assert "method: sam_clip" in printed and "*#1" in printed
    mask = np.asarray(Image.open(out / "scene_mask.png"))
    assert mask.shape == (256, 256) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    overlay = np.asarray(Image.open(out / "scene_overlay.png"))
    assert overlay.shape == (256, 256, 3)
    summary = json.loads((out / "scene_candidates.json").read_text())
    assert summary["method"] == "sam_clip" and summary["chosen"] == 0
    assert len(summary["candidates"]) == len(list(out.glob("scene_candidate*.png"))) >= 1
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))
