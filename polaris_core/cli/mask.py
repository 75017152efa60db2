"""`polaris mask IMAGE "subject" --out DIR`: find the region to edit and write what was found.

Writes, named after the image: ``<stem>_mask.png`` (the chosen, post-processed mask),
``<stem>_overlay.png`` (the top candidates tinted and ranked), ``<stem>_candidate<k>.png``
(each ranked candidate, so another can be picked) and ``<stem>_candidates.json`` (scores,
boxes, warnings, timings). Every file is written to a temp file first, then renamed.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from polaris_core.atomic import write_atomic, write_text_atomic

log = logging.getLogger("polaris")

TYPE_HELP = "instruction type: 0 replace, 1 add, 2 local style, 3 global style, 4 style reference, 5 remove"


def register(subparsers) -> None:
    from polaris_core.mask.masker import MaskOptions

    defaults = MaskOptions()
    parser = subparsers.add_parser(
        "mask", help="find the region to edit (SAM proposes, CLIP ranks); write the mask and an overlay",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("image", help="input image file")
    parser.add_argument("subject", help='what to edit, e.g. "the red car"; for type 1 the object to add, best with '
                        'where it goes ("a boat on the lake")')
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--type", type=int, default=0, choices=range(6), metavar="N", help=TYPE_HELP)
    parser.add_argument("--sam", default=None, help="SAM .safetensors file (default: $POLARIS_SAM_PATH)")
    parser.add_argument("--sam-arch", default="auto", choices=("auto", "vit_b", "vit_l", "vit_h"))
    parser.add_argument("--clip", default=None, help="open_clip .safetensors file (default: $POLARIS_CLIP_PATH)")
    parser.add_argument("--clip-arch", default="ViT-B-32", help="open_clip architecture name, or 'auto'")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--grow", type=float, default=defaults.grow_px, help="grow (negative: shrink) the mask by N pixels")
    parser.add_argument("--feather", type=float, default=defaults.feather_px, help="soft edge N pixels wide")
    parser.add_argument("--no-fill-holes", action="store_true", help="keep holes inside the mask")
    parser.add_argument("--points-per-side", type=int, default=defaults.points_per_side, help="SAM point grid side")
    parser.add_argument("--pred-iou-thresh", type=float, default=defaults.pred_iou_thresh)
    parser.add_argument("--stability-thresh", type=float, default=defaults.stability_score_thresh)
    parser.add_argument("--top", type=int, default=5, help="candidates drawn in the overlay and written out")
    parser.set_defaults(run=run)


def _save_png(array, target: Path) -> None:
    from PIL import Image

    write_atomic(target, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def _models_for(args):
    """(sam, clip) as needed by the instruction type; SAM is optional for 'add'."""
    from polaris_core.clip_model import load_clip
    from polaris_core.intent import InstructionType
    from polaris_core.sam_model import default_sam_path, load_sam

    kind = InstructionType(args.type)
    if kind in (InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE):
        return None, None
    clip = load_clip(args.clip, arch=args.clip_arch, device=args.device)
    if kind == InstructionType.ADD and args.sam is None and default_sam_path() is None:
        log.info("no SAM weights given: the add-object region uses the CLIP map alone")
        return None, clip
    return load_sam(args.sam, arch=args.sam_arch, device=args.device), clip


def run(args) -> int:
    import numpy as np

    from polaris_core.errors import ConfigError
    from polaris_core.mask import load_image, mask_region, to_rgb_uint8
    from polaris_core.mask.masker import MaskOptions
    from polaris_core.mask.overlay import render_overlay

    if args.top < 1:
        raise ConfigError("--top must be at least 1.")
    image = load_image(args.image)
    sam, clip = _models_for(args)
    options = MaskOptions(
        points_per_side=args.points_per_side, pred_iou_thresh=args.pred_iou_thresh,
        stability_score_thresh=args.stability_thresh, grow_px=args.grow, feather_px=args.feather,
        fill_holes=not args.no_fill_holes, keep_candidates=max(args.top, 1),
    )

    def report(i: int, n: int) -> None:
        log.debug("mask step %d/%d", i, n)

    result = mask_region(image, args.subject, instruction_type=args.type, sam=sam, clip=clip,
                         options=options, on_step=report)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the output folder {out} ({exc}); pick a writable folder.") from exc
    stem = Path(args.image).stem
    written = [out / f"{stem}_mask.png", out / f"{stem}_overlay.png"]
    _save_png(np.clip(np.rint(result.mask * 255), 0, 255).astype(np.uint8), written[0])
    _save_png(render_overlay(to_rgb_uint8(image), result.candidates, top=args.top), written[1])
    for rank, candidate in enumerate(result.candidates[:args.top], start=1):
        written.append(out / f"{stem}_candidate{rank}.png")
        _save_png(candidate.mask.astype(np.uint8) * 255, written[-1])
    summary = json.dumps(result.to_dict(), indent=2)
    written.append(out / f"{stem}_candidates.json")
    write_text_atomic(written[-1], summary + "\n")

    print(f"method: {result.method}")
    for rank, candidate in enumerate(result.candidates[:args.top], start=1):
        marker = "*" if rank - 1 == result.chosen else " "
        print(f"{marker}#{rank} score {candidate.score:+.4f}  box {candidate.box}  area {candidate.area_fraction:.1%}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for path in written:
        print(path)
    return 0
