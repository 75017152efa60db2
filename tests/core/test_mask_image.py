"""Image input for the masker: every odd format becomes HxWx3 uint8, or a clear ImageError."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from polaris_core.errors import ImageError
from polaris_core.mask.image import downscale_to_max_side, load_image, resize_mask, to_rgb_uint8


def _assert_rgb(out: np.ndarray, shape: tuple[int, int]) -> None:
    assert out.dtype == np.uint8 and out.shape == (*shape, 3) and out.flags.c_contiguous


def test_grayscale_array_and_pil_become_equal_rgb():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    for image in (gray, gray[:, :, None], Image.fromarray(gray, mode="L")):
        out = to_rgb_uint8(image)
        _assert_rgb(out, (3, 4))
        assert (out == gray[:, :, None]).all()


def test_alpha_is_composited_over_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[0, 0, 3] = 255   # opaque red-ish
    rgba[0, 1, 3] = 0     # transparent -> white
    rgba[1, :, 3] = 128   # half transparent
    out = to_rgb_uint8(Image.fromarray(rgba, mode="RGBA"))
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[0, 1]) == (255, 255, 255)
    a = 128 / 255
    expected = np.rint(np.array([200, 0, 0]) * a + 255 * (1 - a))
    assert np.array_equal(out[1, 0], expected.astype(np.uint8))
    la = to_rgb_uint8(Image.fromarray(rgba[..., [0, 3]], mode="LA"))
    assert tuple(la[0, 1]) == (255, 255, 255) and tuple(la[0, 0]) == (200, 200, 200)


def test_palette_with_transparency():
    image = Image.new("P", (3, 1))
    image.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    image.putdata([0, 1, 0])
    image.info["transparency"] = 1
    out = to_rgb_uint8(image)
    assert tuple(out[0, 0]) == (10, 20, 30) and tuple(out[0, 1]) == (255, 255, 255)


def test_sixteen_bit_inputs_scale_to_eight_bit():
    values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    for image in (values, Image.fromarray(values)):
        out = to_rgb_uint8(image)
        assert list(out[0, :, 0]) == [0, 100, 255]
    wide = np.array([[0, 70000]], dtype=np.int64)
    with pytest.raises(ImageError, match="out of range"):
        to_rgb_uint8(wide)


def test_float_bool_and_tensor_inputs():
    import torch

    unit = np.array([[0.0, 0.5, 1.0, np.nan]], dtype=np.float32)
    assert list(to_rgb_uint8(unit)[0, :, 1]) == [0, 128, 255, 0]
    assert list(to_rgb_uint8(np.array([[0.0, 255.0]]))[0, :, 2]) == [0, 255]
    assert list(to_rgb_uint8(np.array([[True, False]]))[0, :, 0]) == [255, 0]
    comfy_image = torch.full((1, 5, 7, 3), 0.25)  # ComfyUI IMAGE layout: batch of one, float 0..1
    out = to_rgb_uint8(comfy_image)
    _assert_rgb(out, (5, 7))
    assert (out == 64).all()


def test_one_pixel_image():
    _assert_rgb(to_rgb_uint8(np.array([[7]], dtype=np.uint8)), (1, 1))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 8, 8), dtype=np.uint8), "transpose"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "empty"),
        (np.zeros((2, 4, 4, 3), dtype=np.uint8), "one image at a time"),
        (np.zeros((4,), dtype=np.uint8), "HxW"),
        (np.array([[-1, 3]]), "negative"),
        (np.array([["a"]]), "Unsupported"),
        ("not an image", "Expected a PIL image"),
    ],
)
def test_bad_arrays_get_clear_errors(bad, message):
    with pytest.raises(ImageError, match=message):
        to_rgb_uint8(bad)


def test_load_image_errors_and_sixteen_bit_png(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_image(text)
    good = tmp_path / "good.png"
    Image.fromarray(np.full((20, 30, 3), 9, dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    with pytest.raises(ImageError):
        load_image(truncated)
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 6), 257 * 200, dtype=np.uint16)).save(deep)
    assert (to_rgb_uint8(load_image(deep)) == 200).all()


def test_downscale_keeps_aspect_and_small_images():
    huge = np.zeros((120, 9000, 3), dtype=np.uint8)  # over 8k on a side
    work = downscale_to_max_side(huge, 1024)
    assert work.shape == (14, 1024, 3)
    small = np.zeros((10, 20, 3), dtype=np.uint8)
    assert downscale_to_max_side(small, 1024) is small


def test_resize_mask_binary_and_soft():
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :2] = True
    up = resize_mask(mask, (8, 8), binary=True)
    assert up.dtype == bool and up[:4, :4].all() and not up[4:, :].any() and not up[:, 4:].any()
    soft = resize_mask(mask.astype(np.float32), (8, 8), binary=False)
    assert soft.dtype == np.float32 and 0 <= soft.min() and soft.max() <= 1
    assert 0 < soft[3, 4] < 1  # the edge is interpolated
