"""The device hook: core code asks a loaded model's manager to load it before its own work, and the transformers
parser uses a connected LLM as it is (no second copy). No ComfyUI here: a recording manager stands in for the host."""
from __future__ import annotations

import pytest
import torch

from polaris_core.devices import load_for_work


class RecordingManager:
    """A host's manager that only records what it was asked to load (the model stays on the CPU)."""

    def __init__(self, log: list) -> None:
        self.log = log

    def load(self, together) -> None:
        self.log.append([id(m) for m in together])


@pytest.fixture(scope="module")
def llm(smollm2_folder):
    from polaris_core.llm import load_llm

    torch.set_num_threads(1)
    return load_llm(smollm2_folder, cache=False)


def test_load_for_work_loads_managed_models_together_and_skips_plain_ones():
    class Model:
        manager = None

    calls: list = []
    first, second, plain = Model(), Model(), Model()
    first.manager, second.manager = RecordingManager(calls), RecordingManager(calls)
    load_for_work(first, None, plain, second)
    assert calls == [[id(first.manager), id(second.manager)]]  # one call: neither evicts the other
    load_for_work(plain, None)
    assert len(calls) == 1


def test_uncached_loads_are_separate_models(smollm2_folder, llm):
    from polaris_core import llm as llm_module

    before = llm_module._load_cached.cache_info().currsize
    again = llm_module.load_llm(smollm2_folder, cache=False)
    assert again.model is not llm.model and llm_module._load_cached.cache_info().currsize == before
    assert llm.device == "cpu" and llm.manager is None


def test_transformers_parser_uses_the_connected_llm_and_asks_for_its_device(llm):
    from polaris_core.parse import parse
    from polaris_core.parse.transformers_backend import TransformersParser

    calls: list = []
    llm.manager = RecordingManager(calls)
    try:
        parser = TransformersParser(llm=llm, max_prompt_tokens=3, max_subject_tokens=3)
        assert parser.decoder.model is llm.model and parser.decoder.tokenizer is llm.tokenizer
        intent = parser.parse("Turn the dog into a corgi")
        assert intent.backend == "transformers" and calls == [[id(llm.manager)]]
        via_options = parse("Turn the dog into a corgi", backend="transformers", llm=llm, max_prompt_tokens=3,
                            max_subject_tokens=3)
        assert via_options.to_dict() == intent.to_dict() and len(calls) == 2
    finally:
        llm.manager = None


def test_transformers_parser_refuses_something_that_is_not_a_loaded_llm():
    from polaris_core.errors import ParseError
    from polaris_core.parse.transformers_backend import TransformersParser

    with pytest.raises(ParseError, match="loaded LLM"):
        TransformersParser(llm=object())
