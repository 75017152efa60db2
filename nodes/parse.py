"""Parse node: the user's instruction (and optional image) becomes a validated Polaris intent."""
from __future__ import annotations

import os

from comfy_api.v0_0_2 import io, ui

from . import types
from .comfy import tensors


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
                                tooltip="OpenAI-compatible endpoint for the openai backend. Empty: the server's "
                                        "POLARIS_OPENAI_BASE_URL. Another URL must be on the operator's "
                                        "POLARIS_OPENAI_ALLOWED_HOSTS list."),
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
            options["base_url"] = _operator_base_url(base_url)
        picture = tensors.image_to_numpy(image) if image is not None else None
        intent = parse(instruction, picture, backend, **options)
        summary = describe_intent(intent)
        return io.NodeOutput(intent, intent.generation_prompt, intent.subject, int(intent.instruction_type),
                             ui=ui.PreviewText(summary))


def _operator_base_url(base_url: str) -> str:
    """The server a graph may reach: the operator's POLARIS_OPENAI_BASE_URL when the widget is empty, else a
    URL whose host the operator allowed. Anyone who can queue a graph could otherwise point the request (and
    the operator's API key) at any host, internal ones included."""
    from polaris_core.errors import ConfigError
    from polaris_core.parse.openai_backend import ALLOWED_HOSTS_ENV, BASE_URL_ENV, operator_allows

    chosen = (base_url or "").strip()
    if not chosen:
        if not os.environ.get(BASE_URL_ENV):
            raise ConfigError(f"Parse Instruction (Polaris): the openai backend has no server. The operator of this "
                              f"ComfyUI sets {BASE_URL_ENV} (and POLARIS_OPENAI_API_KEY if the server needs a key) "
                              "before starting it; or pick the rules backend.")
        return os.environ[BASE_URL_ENV]
    if not operator_allows(chosen):
        raise ConfigError(f"Parse Instruction (Polaris): base_url {chosen[:200]!r} is not a server the operator "
                          f"of this ComfyUI allowed. Leave base_url empty to use {BASE_URL_ENV}, or the operator "
                          f"adds the host to {ALLOWED_HOSTS_ENV} and restarts ComfyUI.")
    return chosen


NODES = [PolarisParseInstruction]
