"""Region mask node: SAM proposes, CLIP ranks; the ranked candidates are previewed and selectable."""
from __future__ import annotations

from comfy_api.v0_0_2 import io, ui

from . import types
from .comfy import execution, tensors


class PolarisMaskRegion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisMaskRegion",
            display_name="Mask Region (Polaris)",
            category="Polaris/mask",
            description="Finds the region to edit: Segment Anything proposes masks and CLIP ranks them against the "
                        "subject. Add-object edits get a plausible insertion region; global and reference styles get "
                        "the full image. The preview shows the ranked candidates; pick another with 'candidate'.",
            inputs=[
                io.Image.Input("image", tooltip="The image to edit."),
                types.Intent.Input("intent", tooltip="The parsed instruction: its subject and edit type drive the mask."),
                types.ClipModel.Input("clip", optional=True, tooltip="open_clip model that ranks the regions."),
                types.SamModel.Input("sam", optional=True, tooltip="Segment Anything model that proposes regions."),
                io.String.Input("subject_override", default="", optional=True,
                                tooltip="Look for this instead of the intent's subject (leave empty to keep it)."),
                io.Int.Input("candidate", default=0, min=0, max=7, optional=True,
                             tooltip="0 takes the best-scoring region; 1, 2… take the next ones when the first is wrong."),
                io.Float.Input("grow_px", default=8.0, min=-256.0, max=256.0, step=1.0, optional=True,
                               tooltip="Grow (or with a negative value shrink) the mask by this many pixels."),
                io.Float.Input("feather_px", default=4.0, min=0.0, max=256.0, step=1.0, optional=True,
                               tooltip="Width of the soft edge, in pixels."),
                io.Int.Input("points_per_side", default=16, min=2, max=64, optional=True,
                             tooltip="SAM's prompt grid: more points find smaller objects but take longer."),
                io.Float.Input("min_predicted_iou", default=0.86, min=0.0, max=1.0, step=0.01, optional=True,
                               tooltip="Drop SAM proposals whose own quality estimate is below this."),
                io.Float.Input("min_stability", default=0.92, min=0.0, max=1.0, step=0.01, optional=True,
                               tooltip="Drop SAM proposals whose shape is unstable under threshold changes."),
                io.Float.Input("max_overlap", default=0.7, min=0.0, max=1.0, step=0.01, optional=True,
                               tooltip="Drop a proposal whose box overlaps a better one by more than this IoU; "
                                       "1.0 keeps them all."),
            ],
            outputs=[io.Mask.Output(display_name="mask"), types.MaskResult.Output(display_name="candidates")],
        )

    @classmethod
    def execute(cls, image, intent, clip=None, sam=None, subject_override="", candidate=0, grow_px=8.0,
                feather_px=4.0, points_per_side=16, min_predicted_iou=0.86, min_stability=0.92, max_overlap=0.7) -> io.NodeOutput:
        from polaris_core.mask import MaskOptions, mask_region
        from polaris_core.mask.overlay import render_overlay
        from polaris_core.report import mask_summary

        execution.refuse_non_finite("Mask Region (Polaris)", grow_px=grow_px, feather_px=feather_px,
                               min_predicted_iou=min_predicted_iou, min_stability=min_stability,
                               max_overlap=max_overlap)
        rgb = tensors.image_to_numpy(image)
        on_step, check_cancel = execution.callbacks()
        options = MaskOptions(points_per_side=points_per_side, grow_px=grow_px, feather_px=feather_px,
                              pred_iou_thresh=min_predicted_iou, stability_score_thresh=min_stability,
                              box_nms_thresh=max_overlap, candidate=candidate)
        result = mask_region(rgb, subject_override.strip() or intent.subject, instruction_type=intent.instruction_type,
                             contour_compatibility=intent.contour_compatibility,
                             sam=sam, clip=clip, options=options, on_step=on_step, check_cancel=check_cancel)
        preview = tensors.numpy_to_image(render_overlay(rgb, result.candidates, top=5))
        shown = {**ui.PreviewImage(preview, cls=cls).as_dict(), "text": (mask_summary(result),)}
        return io.NodeOutput(tensors.mask_to_tensor(result.mask), result, ui=shown)


NODES = [PolarisMaskRegion]
