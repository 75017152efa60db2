"""Apply the selection (checkpoint + LoRAs + trigger words) and inpaint inside the mask."""
from __future__ import annotations

import comfy.samplers
from comfy_api.v0_0_2 import io, ui

from . import types
from .comfy import execution, lora, sampling


FROM_PLAN, UNIFORM, STYLE_LATE_SUBJECT_EARLY = "from plan", "uniform", "style late, subject early"
SCHEDULE_CHOICES = [FROM_PLAN, UNIFORM, STYLE_LATE_SUBJECT_EARLY]


def lora_schedules(plan, choice: str) -> list:
    """The schedule of each of the plan's LoRAs under the widget's choice (None: uniform)."""
    from polaris_core.errors import PlanError
    from polaris_core.schedule import slot_schedule

    if choice == FROM_PLAN:
        return [c.schedule for c in plan.loras]
    if choice == UNIFORM:
        return [None for _ in plan.loras]
    if choice == STYLE_LATE_SUBJECT_EARLY:
        return [slot_schedule(c.slot) for c in plan.loras]
    raise PlanError(f"Apply Plan (Polaris): lora_schedule {choice!r} is not one of {', '.join(SCHEDULE_CHOICES)}.")


class PolarisApplyPlan(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisApplyPlan",
            display_name="Apply Plan (Polaris)",
            category="Polaris/apply",
            description="Loads the plan's checkpoint by name and applies its LoRAs with their weights. Every LoRA is "
                        "checked against the checkpoint from its tensor key names before anything is sampled. The "
                        "prompt (with trigger words) and the chosen names are outputs for core nodes.",
            inputs=[
                types.Plan.Input("plan", tooltip="Output of Tree Rerank (Polaris)."),
                io.String.Input("extra_prompt", default="", multiline=True, optional=True,
                                tooltip="Appended to the plan's prompt (quality words, details)."),
                io.Float.Input("lora_strength_scale", default=1.0, min=0.0, max=2.0, step=0.05, optional=True,
                               tooltip="Multiplies every LoRA weight the plan chose."),
                io.Combo.Input("lora_schedule", options=SCHEDULE_CHOICES, default=FROM_PLAN, optional=True,
                               tooltip="How each LoRA's strength is spread over the sampling steps. 'from plan': "
                                       "the plan's per-LoRA schedule (uniform unless its JSON sets 'schedule', "
                                       "with keyframes and input/middle/output block weights); 'uniform': the "
                                       "same strength at every step and block (LoraLoader's behaviour); 'style "
                                       "late, subject early': the style LoRA at 0.25x until 40% of the steps, "
                                       "the object LoRA at 0.5x from 60%. Scheduled LoRAs reach the model "
                                       "through ComfyUI hooks on the prompts encoded with this node's clip "
                                       "output. Untuned: uniform stays the default."),
            ],
            outputs=[
                io.Model.Output(display_name="model"),
                io.Clip.Output(display_name="clip"),
                io.Vae.Output(display_name="vae"),
                io.String.Output(display_name="prompt"),
                io.String.Output(display_name="negative_prompt"),
                io.String.Output(display_name="checkpoint_name"),
                io.String.Output(display_name="lora_names"),
            ],
        )

    @classmethod
    def execute(cls, plan, extra_prompt: str = "", lora_strength_scale: float = 1.0,
                lora_schedule: str = FROM_PLAN) -> io.NodeOutput:
        from polaris_core.errors import PlanError
        from polaris_core.plan import Plan

        execution.refuse_non_finite(lora.APPLY_NODE, lora_strength_scale=lora_strength_scale)
        plan = Plan.from_value(plan)  # a Plan, or a literal (dict / JSON) from an API graph, validated
        if plan.checkpoint is None:
            raise PlanError("The plan has no checkpoint (the zoo had none that fits); add checkpoints to the index "
                            "or load one with a core checkpoint loader.")
        plan.validate(lora_strength_scale)
        model, clip, vae = sampling.load_checkpoint(plan.checkpoint_name)
        loras = [(name, weight * lora_strength_scale) for name, weight in plan.lora_weights()]
        schedules = lora_schedules(plan, lora_schedule)
        model, clip = lora.apply_loras(model, clip, loras, schedules)
        prompt = ", ".join(p for p in (plan.prompt, extra_prompt.strip()) if p)
        lora_names = ", ".join(f"{name}:{weight:.2f}" for name, weight in loras)
        scheduled = [f"schedule {name}: {s.describe()}" for (name, _), s in zip(loras, schedules)
                     if s is not None and not s.is_uniform]
        summary = "\n".join([f"checkpoint: {plan.checkpoint_name}", f"loras: {lora_names or '(none)'}", *scheduled,
                              f"prompt: {prompt}"])
        return io.NodeOutput(model, clip, vae, prompt, plan.negative_prompt, plan.checkpoint_name, lora_names,
                             ui=ui.PreviewText(summary))


class PolarisInpaintMasked(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisInpaintMasked",
            display_name="Inpaint Masked (Polaris)",
            category="Polaris/apply",
            description="Edits the image inside the mask with ComfyUI's own sampler (VAE Encode for Inpaint + "
                        "KSampler), then composites the result so every pixel outside the mask keeps its source value.",
            inputs=[
                io.Model.Input("model", tooltip="The model, usually from Apply Plan (Polaris)."),
                io.Clip.Input("clip", tooltip="The text encoder that goes with the model."),
                io.Vae.Input("vae", tooltip="The VAE that goes with the model."),
                io.Image.Input("image", tooltip="The image to edit."),
                io.Mask.Input("mask", tooltip="Where to edit (1 = edit, 0 = keep)."),
                io.String.Input("prompt", multiline=True, default="", tooltip="What the masked region should show."),
                io.String.Input("negative_prompt", multiline=True, default="", tooltip="What to avoid."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="The random seed of the noise."),
                io.Int.Input("steps", default=20, min=1, max=200, tooltip="Denoising steps."),
                io.Float.Input("cfg", default=7.0, min=0.0, max=30.0, step=0.1,
                               tooltip="How strongly the prompt steers the result."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                               tooltip="The sampling algorithm."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="normal",
                               tooltip="How noise decreases over the steps."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1.0 repaints the masked region fully; lower keeps more of it."),
                io.Int.Input("grow_mask_by", default=6, min=0, max=64,
                             tooltip="Grow the sampling mask in latent space for seamless edges."),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def execute(cls, model, clip, vae, image, mask, prompt, negative_prompt, seed, steps, cfg, sampler_name,
                scheduler, denoise, grow_mask_by) -> io.NodeOutput:
        execution.refuse_non_finite("Inpaint Masked (Polaris)", cfg=cfg, denoise=denoise)
        edited = sampling.inpaint(model, clip, vae, image, mask, prompt, negative_prompt, seed=seed, steps=steps,
                              cfg=cfg, sampler_name=sampler_name, scheduler=scheduler, denoise=denoise,
                              grow_mask_by=grow_mask_by)
        height, width = edited.shape[1:3]
        covered = float(mask.float().mean())
        summary = (f"inpainted {width}x{height}: {covered:.0%} of the image inside the mask, the rest kept\n"
                   f"{steps} steps, {sampler_name}/{scheduler}, cfg {cfg}, denoise {denoise}, seed {seed}\n"
                   f"prompt: {prompt}")
        return io.NodeOutput(edited, ui=ui.PreviewText(summary))


NODES = [PolarisApplyPlan, PolarisInpaintMasked]
