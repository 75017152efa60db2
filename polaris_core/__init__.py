"""Polaris core: model-zoo retrieval, instruction parsing, masking and LLM reranking.

A plain library: it never imports ComfyUI, so the CLI, scripts and tests use it directly.
"""
import logging

__version__ = "0.1.0"

logging.getLogger("polaris").addHandler(logging.NullHandler())
