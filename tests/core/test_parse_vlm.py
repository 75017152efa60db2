"""Transformers backend with a vision-language model: a tiny random LLaVA (real architecture, random weights).

The model and its processor are built once under the fixture cache (a few seconds, a few hundred KB).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from polaris_core.errors import ModelFileError
from polaris_core.intent import Intent, InstructionType, validate_intent
from polaris_core.parse.transformers_backend import (
    TYPE_LABELS,
    TransformersParser,
    is_vision_language_model,
    load_vision_language_model,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _build_tiny_llava(folder) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor, PreTrainedTokenizerFast)

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = ["replace the dog with a cat", "remove the red car", '{"instruction_type": "add", "subject": "hat"}',
              "convert an image-editing instruction into a JSON object", "style reference change"]
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", bos_token="<|im_start|>",
                                        unk_token="<|endoftext|>", pad_token="<|endoftext|>",
                                        extra_special_tokens={"image_token": "<image>"})
    tokenizer.chat_template = _TEMPLATE
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer, patch_size=16, vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=_TEMPLATE)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                       image_size=32, patch_size=16, projection_dim=32),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), vision_feature_layer=-1,
        vision_feature_select_strategy="default")
    torch.manual_seed(0)
    LlavaForConditionalGeneration(config).eval().save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_vlm(fixture_cache):
    folder = fixture_cache / "tiny-llava-parser"
    if not (folder / "model.safetensors").is_file() or not (folder / "processor_config.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _build_tiny_llava(folder)
    return folder


def _images():
    rng = np.random.default_rng(0)
    return (rng.integers(0, 255, (20, 30, 3), dtype=np.uint8), np.zeros((40, 24, 3), dtype=np.uint8))


def test_vlm_folder_is_recognised(tiny_vlm, tmp_path):
    assert is_vision_language_model(tiny_vlm)
    assert not is_vision_language_model(tmp_path) and not is_vision_language_model(None)
    with pytest.raises(ModelFileError):
        load_vision_language_model(str(tmp_path))


def test_image_reaches_the_model_and_scores_stay_exact(tiny_vlm):
    parser = TransformersParser(vision_model_path=str(tiny_vlm), max_prompt_tokens=4, max_subject_tokens=6)
    decoder = parser.vision_decoder
    labels = [TYPE_LABELS[t] for t in InstructionType]
    scores = []
    for image in _images():
        inputs = parser.vision_inputs("Make it look like this painting", image)
        assert "pixel_values" in inputs
        state = decoder.start_inputs(inputs)
        _, image_scores = decoder.choose(state, labels)
        scores.append(image_scores)
        # independent log-likelihood: one forward pass over prompt + label, pixels included
        label = decoder.encode(labels[0])
        full = dict(inputs, input_ids=torch.cat([inputs["input_ids"], torch.tensor([label])], dim=1),
                    attention_mask=torch.ones(1, inputs["input_ids"].shape[1] + len(label), dtype=torch.long))
        with torch.no_grad():
            logprobs = torch.log_softmax(decoder.model(**full).logits[0].float(), dim=-1)
        start = inputs["input_ids"].shape[1]
        expected = sum(float(logprobs[start - 1 + k, label[k]]) for k in range(len(label)))
        assert image_scores[0] == pytest.approx(expected, abs=1e-4)
    assert scores[0] != pytest.approx(scores[1], abs=1e-6)  # different pixels, different scores


def test_parse_with_image_is_schema_valid(tiny_vlm):
    parser = TransformersParser(vision_model_path=str(tiny_vlm), max_prompt_tokens=4, max_subject_tokens=6)
    instruction = "Replace the dog with a cat"
    intent = parser.parse(instruction, image=_images()[0])
    assert isinstance(intent, Intent) and intent.backend == "transformers"
    assert any("vision-language model" in n for n in intent.notes)
    data = json.loads(json.dumps(intent.to_dict()))
    assert validate_intent(data, instruction).to_dict() == data


def test_vlm_as_the_only_model_also_parses_text(tiny_vlm):
    parser = TransformersParser(model_path=str(tiny_vlm), max_prompt_tokens=3, max_subject_tokens=4)
    assert parser.vision_model_path == str(tiny_vlm)
    intent = parser.parse("Remove the red car")
    assert 0 <= int(intent.instruction_type) <= 5 and intent.subject


def test_cli_runs_the_transformers_backend(tiny_vlm, capsys):
    from polaris_core.cli import main

    assert main(["parse", "Remove the red car", "--backend", "transformers", "--model", str(tiny_vlm)]) == 0
    intent = json.loads(capsys.readouterr().out)
    assert intent["backend"] == "transformers" and intent["instruction_type"] in range(6)
