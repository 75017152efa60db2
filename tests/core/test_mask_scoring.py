"""CLIP ranking of candidate masks, checked against scores computed independently with open_clip."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from polaris_core.clip_model import load_clip
from polaris_core.mask import MaskOptions, mask_region
from polaris_core.mask.add_object import patch_similarity_map
from polaris_core.mask.masker import rank_proposals
from polaris_core.mask.proposals import Proposal
from polaris_core.mask.scoring import score_masks, subject_embedding

MARGIN = 0.2


@pytest.fixture(scope="module")
def clip(clip_weights):
    return load_clip(clip_weights)


def _scene() -> tuple[np.ndarray, list[np.ndarray]]:
    """A 96x128 image with four differently coloured/textured regions and their masks."""
    rng = np.random.default_rng(3)
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    image[:] = (40, 90, 160)
    ys, xs = np.mgrid[0:96, 0:128]
    masks = [
        (ys - 30) ** 2 + (xs - 30) ** 2 <= 18 ** 2,          # a disk
        (ys >= 55) & (ys < 90) & (xs >= 10) & (xs < 60),     # a wide box
        (ys >= 8) & (ys < 80) & (xs >= 75) & (xs < 95),      # a tall bar
        (ys >= 60) & (xs >= 100),                            # a corner touching the border
    ]
    image[masks[0]] = (220, 30, 30)
    image[masks[1]] = rng.integers(0, 256, size=(int(masks[1].sum()), 3))
    image[masks[2]] = (250, 240, 60)
    image[masks[3]] = (20, 200, 60)
    return image, masks


def _independent_crop(image, mask, fill):
    """The masked-crop recipe written out again: box + margin, outside = fill, pad to square."""
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    pad = int(round(MARGIN * max(x1 - x0, y1 - y0)))
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(image.shape[1], x1 + pad), min(image.shape[0], y1 + pad)
    crop = np.where(mask[y0:y1, x0:x1, None], image[y0:y1, x0:x1], np.array(fill, dtype=np.uint8))
    side = max(crop.shape[:2])
    square = np.full((side, side, 3), fill, dtype=np.uint8)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    return square


def _independent_scores(clip, image, masks, text):
    model, fill = clip.model, clip.mean_rgb_uint8
    with torch.no_grad():
        text_feature = model.encode_text(clip.tokenizer([text]))[0]
        text_feature = text_feature / text_feature.norm()
        scores = []
        for mask in masks:  # one image at a time, through open_clip's own transform
            pixels = clip.preprocess(Image.fromarray(_independent_crop(image, mask, fill)))[None]
            feature = model.encode_image(pixels)[0]
            scores.append(float(feature @ text_feature / feature.norm()))
    return np.array(scores)


def _boxes(masks):
    from polaris_core.mask.postprocess import mask_box

    return [mask_box(m) for m in masks]


def test_ranking_follows_independently_computed_clip_scores(clip):
    image, masks = _scene()
    text = "a red ball"
    expected = _independent_scores(clip, image, masks, text)
    assert np.min(np.abs(np.subtract.outer(expected, expected))[~np.eye(4, dtype=bool)]) > 1e-4  # no ties

    text_embedding = subject_embedding(clip, text, ("{}",))
    proposals = [Proposal(mask=m, box=b, predicted_iou=0.9, stability=0.95, area=int(m.sum()))
                 for m, b in zip(masks, _boxes(masks))]
    options = MaskOptions(crop_margin=MARGIN, prompt_templates=("{}",))
    ranked = rank_proposals(clip, image, text_embedding, proposals, options)  # scores all four in one batch
    order = [next(i for i, m in enumerate(masks) if m is mask) for mask, _ in ranked]
    assert order == list(np.argsort(-expected))
    scores = np.array([info["score"] for _, info in ranked])
    assert np.allclose(scores, np.sort(expected)[::-1], atol=1e-4)
    probabilities = np.array([info["probability"] for _, info in ranked])
    assert np.isclose(probabilities.sum(), 1.0, atol=1e-5) and (np.diff(probabilities) <= 0).all()


def test_all_candidates_go_through_one_batched_forward(clip):
    image, masks = _scene()
    calls = []
    handle = clip.model.visual.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape[0]))
    try:
        cosines, probabilities = score_masks(clip, image, masks, _boxes(masks), subject_embedding(clip, "x", ("{}",)), MARGIN)
    finally:
        handle.remove()
    assert calls == [4]
    assert cosines.shape == probabilities.shape == (4,) and cosines.dtype == probabilities.dtype == np.float32


def test_patch_tokens_match_open_clip_forward_at_the_native_grid(clip):
    from polaris_core.mask.add_object import _patch_tokens

    visual = clip.model.visual
    pixels = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mine = visual.ln_post(_patch_tokens(visual, pixels, grid=7, features="tokens"))
        visual.output_tokens = True
        try:
            _, tokens = visual(pixels)
        finally:
            visual.output_tokens = False
    assert mine.shape == tokens.shape == (1, 49, 768)
    assert torch.allclose(mine, tokens, atol=1e-4)


@pytest.mark.parametrize("features", ["value", "tokens"])
def test_patch_similarity_map_shape(clip, features):
    image, _ = _scene()
    text_embedding = subject_embedding(clip, "a cat", ("{}",))
    similarity = patch_similarity_map(clip, image, text_embedding, grid=7, features=features)
    assert similarity.shape == image.shape[:2] and similarity.dtype == np.float32
    assert np.isfinite(similarity).all() and np.abs(similarity).max() <= 1.0 + 1e-5
    assert similarity.std() > 0  # the map varies across the image


def test_add_object_without_sam_on_a_huge_thin_image(clip):
    huge = np.zeros((200, 9000, 3), dtype=np.uint8)  # over 8k on a side
    huge[:, 4000:5000] = (200, 40, 40)
    steps = []
    result = mask_region(huge, "a small boat", instruction_type=1, clip=clip,
                         options=MaskOptions(add_grid=7), on_step=lambda i, n: steps.append((i, n)))
    assert result.method == "add_object" and result.work_size == (23, 1024)
    assert result.mask.shape == (200, 9000) and result.mask.dtype == np.float32
    assert set(np.unique(result.mask)) <= {0.0, 1.0} and result.mask.any()
    assert 1 <= len(result.candidates) <= 3 and all(c.source == "clip_map" for c in result.candidates)
    assert all(c.mask.shape == (200, 9000) and c.mask.dtype == bool for c in result.candidates)
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert steps[-1][0] == steps[-1][1] and [i for i, _ in steps] == sorted(i for i, _ in steps)


def test_tiny_and_subjectless_inputs(clip):
    from polaris_core.errors import ConfigError, MaskError

    one_pixel = mask_region(np.array([[[5, 6, 7]]], dtype=np.uint8), "a cat", instruction_type=1, clip=clip)
    assert one_pixel.method == "full_image_fallback" and one_pixel.warnings and one_pixel.mask.shape == (1, 1)
    assert one_pixel.mask[0, 0] == 1.0
    with pytest.raises(MaskError, match="subject is empty"):
        mask_region(np.zeros((16, 16, 3), np.uint8), "   ", clip=clip)
    with pytest.raises(ConfigError, match="SAM model is needed"):
        mask_region(np.zeros((16, 16, 3), np.uint8), "a cat", instruction_type=0, clip=clip)
    with pytest.raises(ConfigError, match="CLIP model is needed"):
        mask_region(np.zeros((16, 16, 3), np.uint8), "a cat", instruction_type=5)
    with pytest.raises(ConfigError, match="instruction type"):
        mask_region(np.zeros((16, 16, 3), np.uint8), "a cat", instruction_type=9, clip=clip)
