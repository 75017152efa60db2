"""Stage 2 of Polaris: find the region of the image to edit (see masker.py for the method)."""
from polaris_core.mask.image import load_image, to_rgb_uint8
from polaris_core.mask.masker import MaskCandidate, MaskOptions, MaskResult, mask_region
from polaris_core.mask.postprocess import feather, fill_holes, grow, mask_box, postprocess_mask

__all__ = [
    "MaskCandidate", "MaskOptions", "MaskResult", "mask_region", "load_image", "to_rgb_uint8",
    "postprocess_mask", "fill_holes", "grow", "feather", "mask_box",
]
