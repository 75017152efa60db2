"""Parse node: the user's instruction (and optional image) becomes a validated Polaris intent."""
from __future__ import annotations

from comfy_api.v0_0_2 import io, ui

from . import glue, types


class PolarisParseInstruction(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="PolarisParseInstruction",
            display_name="Parse Instruction (Polaris)",
            category="Polaris/parse",
            description="Turns an editing instruction into a structured intent: edit type (replace, add, local style, "
                        "global style, style from reference, remove), subject, a clean generation prompt and the "
                        "query modality for each retrieval step. The offline rules parser needs no model.",
            inputs=[
                io.String.Input("instruction", multiline=True, default="Turn the dog into a corgi",
                                tooltip="What to do to the image, in plain words."),
                io.Combo.Input("backend", options=["rules", "transformers", "openai"], default="rules",
                               tooltip="rules: offline and instant. transformers: the connected local LLM with "
                                       "constrained JSON decoding. openai: an OpenAI-compatible server at base_url."),
                io.Image.Input("image", optional=True,
                               tooltip="The image being edited or the style reference; helps tell reference styles apart."),
                types.LanguageModel.Input("llm", optional=True, tooltip="Needed by the transformers backend."),
                io.String.Input("base_url", default="", optional=True,
                                tooltip="OpenAI-compatible endpoint for the openai backend, e.g. http://127.0.0.1:11434."),
            ],
            outputs=[
                types.Intent.Output(display_name="intent"),
                io.String.Output(display_name="generation_prompt"),
                io.String.Output(display_name="subject"),
                io.Int.Output(display_name="instruction_type"),
            ],
        )

    @classmethod
    def execute(cls, instruction: str, backend: str, image=None, llm=None, base_url: str = "") -> io.NodeOutput:
        from polaris_core.parse import parse
        from polaris_core.intent import describe_intent

        options = {}
        if backend == "transformers":
            if llm is None:
                from polaris_core.errors import ConfigError

                raise ConfigError("Parse Instruction (Polaris): the transformers backend needs a language model; "
                                  "connect a Load LLM (Polaris) node to the llm input, or pick the rules backend.")
            options["llm"] = llm  # the loaded model itself, managed by ComfyUI: never a second copy
        elif backend == "openai":
            options["base_url"] = base_url
        picture = glue.image_to_numpy(image) if image is not None else None
        intent = parse(instruction, picture, backend, **options)
        summary = describe_intent(intent)
        return io.NodeOutput(intent, intent.generation_prompt, intent.subject, int(intent.instruction_type),
                             ui=ui.PreviewText(summary))


NODES = [PolarisParseInstruction]
