"""`polaris bench mask`: seconds per masking stage, for a 512x512 and a 1024x1024 image.

By default the models are the real architectures with random weights (SAM vit_b,
open_clip ViT-B-32), so the figures are speed only, never quality. Random SAM
weights make junk proposals that the usual quality thresholds would drop; the
benchmark turns the thresholds and NMS off so that exactly ``--candidates`` masks reach
CLIP, which is the workload a real image gives. Runs per size:

- cold: a new image: SAM's image encoder, the point-grid decoder, CLIP text + one
  batched CLIP forward over all candidates, post-processing;
- warm: the same image with another subject: the cached SAM embedding is reused;
- add: instruction type 1 on the same image (CLIP patch map + SAM snapping);
- full: instruction type 3 (no model runs at all).
"""
from __future__ import annotations

import argparse
import time

STAGES = ("prepare", "sam_encoder", "sam_decoder", "clip_text", "clip_scoring", "clip_patch_map",
          "add_region", "postprocess", "total")


def register(bench_subparsers) -> None:
    parser = bench_subparsers.add_parser(
        "mask", help="time each masking stage (random-weight SAM vit_b + CLIP ViT-B-32 by default)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="square image sides")
    parser.add_argument("--points-per-side", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=32, help="masks scored by CLIP in one batch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--sam", default=None, help="real SAM .safetensors instead of random weights")
    parser.add_argument("--clip", default=None, help="real open_clip .safetensors instead of random weights")
    parser.set_defaults(run=run)


def synthetic_image(side: int, seed: int = 0):
    """A deterministic test scene: a gradient background with a few flat shapes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side] / max(side - 1, 1)
    image = np.stack([xs * 120 + 60, ys * 120 + 60, (1 - xs) * 80 + 90], axis=-1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.05, 0.15)
        disk = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
        image[disk] = rng.integers(0, 256, size=3)
    return np.clip(image, 0, 255).astype(np.uint8)


def _models(args):
    import torch

    from polaris_core.clip_model import clip_from_model, load_clip
    from polaris_core.sam_model import load_sam, sam_from_model

    if args.sam:
        sam = load_sam(args.sam, device=args.device)
    else:
        from segment_anything import sam_model_registry

        torch.manual_seed(0)
        sam = sam_from_model(sam_model_registry["vit_b"](checkpoint=None), "vit_b", device=args.device)
    if args.clip:
        clip = load_clip(args.clip, device=args.device)
    else:
        import open_clip

        torch.manual_seed(0)
        clip = clip_from_model(open_clip.create_model("ViT-B-32", pretrained=None), "ViT-B-32", device=args.device)
    return sam, clip


def run(args) -> int:
    import torch

    from polaris_core.mask import MaskOptions, mask_region

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    sam, clip = _models(args)
    print(f"models ready in {time.perf_counter() - started:.1f}s: SAM {sam.arch}, CLIP {clip.arch}, "
          f"device {args.device}, {torch.get_num_threads()} CPU threads")
    random_weights = not (args.sam and args.clip)
    options = MaskOptions(
        points_per_side=args.points_per_side, max_candidates=args.candidates, keep_candidates=args.candidates,
        pred_iou_thresh=0.0 if random_weights else MaskOptions.pred_iou_thresh,
        stability_score_thresh=0.0 if random_weights else MaskOptions.stability_score_thresh,
        box_nms_thresh=1.0 if random_weights else MaskOptions.box_nms_thresh,
    )
    header = f"{'size':>5} {'run':<5} {'cands':>5} " + " ".join(f"{s:>14}" for s in STAGES)
    print(header)
    runs = (("cold", 0, "a red ball"), ("warm", 0, "a blue box"), ("add", 1, "a cat"), ("full", 3, ""))
    for side in args.sizes:
        image = synthetic_image(side)
        encoder_runs = sam.encoder_runs
        for name, kind, subject in runs:
            result = mask_region(image, subject, instruction_type=kind, sam=sam, clip=clip, options=options)
            cells = " ".join(
                f"{result.timings[s]:>14.3f}" if s in result.timings else f"{'-':>14}" for s in STAGES
            )
            print(f"{side:>5} {name:<5} {len(result.candidates):>5} {cells}")
        print(f"{side:>5} SAM image-encoder passes for 3 model runs on one image: {sam.encoder_runs - encoder_runs}")
    return 0
