"""Local transformers LM backend with constrained decoding: the output is always schema-valid.

The model never free-generates JSON. We write the JSON scaffold ourselves and let the model fill
only the value slots, each under a constraint:
- `instruction_type`: label scoring. Each of the six type labels is scored by its log-likelihood
  after the prompt (sum of token log-probabilities); the best label wins, and its share of the
  softmax over the six scores is the confidence.
- `style_transformation`, `contour_compatibility`: label scoring between "0" and "1".
- `subject`: greedy decoding under a token mask that only allows text that
  continues a word span of the instruction (so the subject is always a span the user wrote).
- `generation_prompt`: greedy decoding under a mask of JSON-string-safe tokens (no quote, backslash
  or control character), bounded length, ended by the first token that starts with a quote.
The result goes through `validate_intent` like every backend's.

Any causal LM folder or GGUF file works (`polaris_core.llm.load_llm`); the default is SmolLM2-135M.
A host that already holds a loaded model (ComfyUI's Load LLM node) passes it as `llm`: it is used as
it is, never loaded a second time, and put on its compute device through its manager before each parse.
With an image and a vision-language model (`vision_model_path`, a transformers folder with a
processor, loaded from safetensors only), the image goes through the processor into the first
forward pass and the same constrained steps follow on the KV cache. Without a VLM, a text-only
model is only told that a reference image was supplied.
"""
from __future__ import annotations

import copy
import json
import logging
import re
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from polaris_core.errors import ModelFileError, ParseError
from polaris_core.intent import MAX_SUBJECT_CHARS, InstructionType, Intent, normalize_subject
from polaris_core.parse.base import InstructionParser, PreparedInstruction, finish_intent
from polaris_core.parse.prompting import MAX_LLM_INSTRUCTION_CHARS, chat_messages
from polaris_core.progress import CheckCancel, OnStep

log = logging.getLogger("polaris")
T = InstructionType

# Short labels keep scoring cheap (a one-token label needs no extra forward pass); multi-token
# labels work the same way, scored through the KV cache.
TYPE_LABELS: dict[InstructionType, str] = {
    T.REPLACE: "replace",
    T.ADD: "add",
    T.LOCAL_STYLE: "change",
    T.GLOBAL_STYLE: "style",
    T.STYLE_REFERENCE: "reference",
    T.REMOVE: "remove",
}
_PLACEHOLDER = "\u2063POLARIS_USER_BLOCK\u2063"
MAX_SPAN_WORDS = 6
_WORD = re.compile(r"[^\W_][\w'&-]*", re.UNICODE)


# ----------------------------------------------------------------------------- vocabulary masks
class TokenVocabulary:
    """Decoded text of every token, and the masks the constrained steps use (built once per tokenizer)."""

    _cache: "weakref.WeakKeyDictionary[Any, TokenVocabulary]" = weakref.WeakKeyDictionary()

    def __init__(self, tokenizer: Any, model_vocab_size: int) -> None:
        import torch

        size = max(model_vocab_size, len(tokenizer))
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.strings: list[str] = [""] * size
        self.by_string: dict[str, list[int]] = {}
        self.json_safe = torch.zeros(size, dtype=torch.bool)
        self.quote_end = torch.zeros(size, dtype=torch.bool)
        for token_id, token in enumerate(tokens):
            if token is None or token_id in special:
                continue
            text = tokenizer.convert_tokens_to_string([token])
            if token.startswith("\u2581") and not text.startswith(" "):
                text = " " + text  # sentencepiece drops the word-start space when decoding one token
            if not text or "\ufffd" in text:
                continue  # empty or a partial UTF-8 byte sequence
            self.strings[token_id] = text
            self.by_string.setdefault(text, []).append(token_id)
            if text.startswith('"'):
                self.quote_end[token_id] = True
            elif not any(c in text for c in '"\\') and all(ord(c) >= 32 for c in text):
                self.json_safe[token_id] = True
        self.max_token_chars = max((len(s) for s in self.by_string), default=1)

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, model_vocab_size: int) -> "TokenVocabulary":
        try:
            vocab = cls._cache.get(tokenizer)
        except TypeError:
            vocab = None
        if vocab is None or len(vocab.strings) < model_vocab_size:
            vocab = cls(tokenizer, model_vocab_size)
            try:
                cls._cache[tokenizer] = vocab
            except TypeError:
                pass
        return vocab

    def span_continuations(self, generated: str, spans: list[str]) -> tuple[list[int], bool]:
        """Token ids that keep `generated` a prefix of some span, and whether it is a whole span."""
        allowed: set[int] = set()
        complete = False
        for span in spans:
            if not span.startswith(generated):
                continue
            rest = span[len(generated):]
            if not rest:
                complete = True
                continue
            for k in range(1, min(len(rest), self.max_token_chars) + 1):
                allowed.update(self.by_string.get(rest[:k], ()))
        return sorted(allowed), complete


def complete_span(text: str, spans: list[str]) -> str:
    """`text` if it is a span, else the longest span it starts with (decoding can stop mid-span)."""
    if text in spans:
        return text
    best = ""
    for span in spans:
        if len(span) > len(best) and text.startswith(span) and (len(text) == len(span) or not text[len(span)].isalnum()):
            best = span
    return best


def instruction_spans(instruction: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Every run of 1..max_words consecutive words of the instruction, as written and lower-cased."""
    words = _WORD.findall(instruction[:MAX_LLM_INSTRUCTION_CHARS])
    spans: dict[str, None] = {}
    for i in range(len(words)):
        for j in range(i + 1, min(len(words), i + max_words) + 1):
            span = " ".join(words[i:j])
            if len(span) <= MAX_SUBJECT_CHARS:
                spans[span] = None
                spans[span.lower()] = None
    return list(spans)


# ----------------------------------------------------------------------------- incremental decoding
@dataclass
class DecodeState:
    """A token prefix already run through the model: its KV cache and next-token logits."""

    cache: Any
    next_logits: Any  # 1-D float tensor over the model vocabulary
    length: int


class ConstrainedDecoder:
    """Label scoring and masked greedy decoding on top of a KV cache."""

    def __init__(self, model: Any, tokenizer: Any, processor: Any = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.processor = processor  # set for a vision-language model
        self.vocab = TokenVocabulary.for_tokenizer(tokenizer, _output_vocab_size(model))

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @property
    def device(self) -> Any:
        """Where the model's weights are now: inputs go there (a managed model may have moved)."""
        return next(self.model.parameters()).device

    def _ids(self, ids: list[int]) -> Any:
        import torch

        return torch.tensor([ids], device=self.device)

    def start(self, ids: list[int]) -> DecodeState:
        return self.start_inputs({"input_ids": self._ids(ids)})

    def start_inputs(self, inputs: dict) -> DecodeState:
        """Run a prompt given as model inputs (input_ids, plus pixel_values etc. for a VLM)."""
        import torch

        with torch.no_grad():
            out = self.model(**inputs, use_cache=True)
        return DecodeState(out.past_key_values, out.logits[0, -1].float().cpu(), int(inputs["input_ids"].shape[1]))

    def extend(self, state: DecodeState, ids: list[int]) -> DecodeState:
        """Append tokens (mutates and returns `state`)."""
        import torch

        if not ids:
            return state
        with torch.no_grad():
            out = self.model(input_ids=self._ids(ids), past_key_values=state.cache, use_cache=True)
        state.cache = out.past_key_values
        state.next_logits = out.logits[0, -1].float().cpu()  # the vocabulary masks live on the CPU
        state.length += len(ids)
        return state

    def fork(self, state: DecodeState) -> DecodeState:
        return DecodeState(copy.deepcopy(state.cache), state.next_logits.clone(), state.length)

    def score(self, state: DecodeState, continuation: list[int]) -> float:
        """log P(continuation | prefix): the sum of its tokens' log-probabilities."""
        import torch

        total = float(torch.log_softmax(state.next_logits, dim=-1)[continuation[0]])
        if len(continuation) > 1:
            branch = self.fork(state)
            with torch.no_grad():
                out = self.model(input_ids=self._ids(continuation[:-1]), past_key_values=branch.cache,
                                 use_cache=True)
            logprobs = torch.log_softmax(out.logits[0].float().cpu(), dim=-1)
            total += float(logprobs[torch.arange(len(continuation) - 1), torch.tensor(continuation[1:])].sum())
        return total

    def choose(self, state: DecodeState, options: list[str]) -> tuple[int, list[float]]:
        """Index of the most likely option (each scored as a continuation), and all scores."""
        scores = [self.score(state, self.encode(option)) for option in options]
        return max(range(len(options)), key=scores.__getitem__), scores

    def decode(self, state: DecodeState, allowed: Callable[[str], tuple[Any, bool]], max_tokens: int,
               check_cancel: CheckCancel) -> str:
        """Greedy decoding under a mask; stops at a quote-starting token, a dead end or `max_tokens`.

        `allowed(text_so_far)` returns (token ids or a bool mask of allowed content tokens,
        whether the value may end here). The state is extended with the content tokens only.
        """
        import torch

        text = ""
        for _ in range(max_tokens):
            check_cancel()
            content, may_end = allowed(text)
            logits = state.next_logits
            mask = torch.zeros_like(logits, dtype=torch.bool)
            if isinstance(content, torch.Tensor):
                mask[: content.shape[0]] = content
            elif content:
                mask[torch.tensor(content)] = True
            if may_end:
                mask[: self.vocab.quote_end.shape[0]] |= self.vocab.quote_end
            if not mask.any():
                break
            token = int(torch.where(mask, logits, torch.full_like(logits, float("-inf"))).argmax())
            if self.vocab.quote_end[token] if token < self.vocab.quote_end.shape[0] else False:
                break
            text += self.vocab.strings[token]
            self.extend(state, [token])
        return text


def _output_vocab_size(model: Any) -> int:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None and getattr(head, "weight", None) is not None:
        return int(head.weight.shape[0])
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(config.vocab_size)


def is_vision_language_model(path: str | Path | None) -> bool:
    """A transformers folder whose config has a vision part."""
    if not path or not Path(path).is_dir():
        return False
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "vision_config" in config


@lru_cache(maxsize=2)
def load_vision_language_model(path: str, dtype: str = "float32", device: str = "cpu") -> ConstrainedDecoder:
    """Processor + image-text-to-text model from a local folder (safetensors only, never downloads)."""
    import os

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path(path)
    if not is_vision_language_model(folder):
        raise ModelFileError(f"{folder} is not a vision-language model folder (config.json with a vision_config).")
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ModelFileError(f"Unknown dtype {dtype!r}; use float32, float16 or bfloat16.")
    try:
        processor = AutoProcessor.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(str(folder), dtype=torch_dtype, local_files_only=True,
                                                            use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"Could not load the vision-language model from {folder}: {exc}") from exc
    model.to(device).eval()
    log.info("loaded vision-language model %s", folder.name)
    return ConstrainedDecoder(model, processor.tokenizer, processor)


# ----------------------------------------------------------------------------- the backend
class TransformersParser(InstructionParser):
    """Parse with a local causal LM under constrained decoding (see module docstring)."""

    name = "transformers"

    def __init__(self, model_path: str | None = None, dtype: str = "float32", device: str = "cpu",
                 max_prompt_tokens: int = 16, max_subject_tokens: int = 8,
                 vision_model_path: str | None = None, llm: Any = None) -> None:
        if llm is not None and (getattr(llm, "model", None) is None or getattr(llm, "tokenizer", None) is None):
            raise ParseError("The transformers parser needs a loaded LLM with .model and .tokenizer "
                             "(see polaris_core.llm.load_llm).")
        self.llm = llm
        model_path = model_path or (getattr(llm, "path", None) if llm is not None else None)
        self.model_path = model_path
        self.vision_model_path = vision_model_path or (model_path if is_vision_language_model(model_path) else None)
        self.dtype = dtype
        self.device = device
        self.max_prompt_tokens = max(1, int(max_prompt_tokens))
        self.max_subject_tokens = max(1, int(max_subject_tokens))
        self._decoder: ConstrainedDecoder | None = None
        self._prefix_ids: list[int] = []
        self._prefix_state: DecodeState | None = None

    @property
    def decoder(self) -> ConstrainedDecoder:
        """The text decoder (the VLM itself when `model_path` is a vision-language model)."""
        if self._decoder is None:
            if self.llm is not None:
                self._decoder = ConstrainedDecoder(self.llm.model, self.llm.tokenizer)
            elif is_vision_language_model(self.model_path):
                self._decoder = self.vision_decoder
            else:
                from polaris_core.llm import load_llm

                llm = load_llm(self.model_path, dtype=self.dtype, device=self.device)
                self._decoder = ConstrainedDecoder(llm.model, llm.tokenizer)
        return self._decoder

    @property
    def vision_decoder(self) -> ConstrainedDecoder:
        if not self.vision_model_path:
            raise ModelFileError("No vision-language model configured; give vision_model_path.")
        return load_vision_language_model(str(self.vision_model_path), self.dtype, self.device)

    def vision_inputs(self, instruction: str, image: Any) -> dict:
        """Processor inputs (token ids + pixels) for the prompt up to the type slot."""
        from PIL import Image

        processor = self.vision_decoder.processor
        messages = chat_messages(instruction, image_given=True)
        messages = [
            {"role": "system", "content": [{"type": "text", "text": messages[0]["content"]}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": messages[1]["content"]}]},
        ]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=text + '{"instruction_type": "', images=[Image.fromarray(image)], return_tensors="pt")
        device = self.vision_decoder.device
        return {k: v.to(device) if hasattr(v, "to") else v for k, v in inputs.items()}

    def _prompt_parts(self, instruction: str, image_given: bool) -> tuple[str, str]:
        """(fixed text before the user block, the rest up to the type slot of the JSON scaffold)."""
        tokenizer = self.decoder.tokenizer
        messages = chat_messages(instruction, image_given)
        block = messages[1]["content"]
        messages[1]["content"] = _PLACEHOLDER
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = f"{messages[0]['content']}\n\n{_PLACEHOLDER}\n\nJSON: "
        head, tail = text.split(_PLACEHOLDER, 1)
        return head, block + tail + '{"instruction_type": "'

    def prompt_ids(self, instruction: str, image_given: bool = False) -> list[int]:
        """The exact token ids the model reads before the type label (shared prefix + instruction part)."""
        head, rest = self._prompt_parts(instruction, image_given)
        if not self._prefix_ids:
            self._prefix_ids = self.decoder.encode(head)
        return self._prefix_ids + self.decoder.encode(rest)

    def _start(self, instruction: str, image_given: bool) -> DecodeState:
        """Run the prompt, reusing the cached KV state of the fixed system prefix."""
        ids = self.prompt_ids(instruction, image_given)
        prefix = self._prefix_ids
        if self._prefix_state is None:
            self._prefix_state = self.decoder.start(prefix)
        return self.decoder.extend(self.decoder.fork(self._prefix_state), ids[len(prefix):])

    def _parse(self, prepared: PreparedInstruction, image: Any, on_step: OnStep, check_cancel: CheckCancel) -> Intent:
        import torch

        instruction = prepared.text
        notes: list[str] = []
        if len(instruction) > MAX_LLM_INSTRUCTION_CHARS:
            notes.append(f"only the first {MAX_LLM_INSTRUCTION_CHARS} characters were shown to the model")
        use_vision = image is not None and bool(self.vision_model_path)
        if image is not None and not use_vision:
            notes.append("text-only model: the image was used only as a reference-image cue")
        steps = 5
        if self.llm is not None and not use_vision:
            from polaris_core.devices import load_for_work

            load_for_work(self.llm)
        try:
            if use_vision:
                decoder = self.vision_decoder
                state = decoder.start_inputs(self.vision_inputs(instruction, image))
                notes.append("the image was shown to the vision-language model")
            else:
                decoder = self.decoder
                state = self._start(instruction, image is not None)
        except (RuntimeError, ValueError) as exc:
            raise ParseError(f"The language model failed on this instruction ({exc}); try the rules backend.") from exc
        on_step(1, steps)

        types = list(TYPE_LABELS)
        best, scores = decoder.choose(state, [TYPE_LABELS[t] for t in types])
        itype = types[best]
        confidence = float(torch.softmax(torch.tensor(scores), dim=0)[best])
        decoder.extend(state, decoder.encode(TYPE_LABELS[itype] + '", "subject": "'))
        check_cancel()
        on_step(2, steps)

        spans = instruction_spans(instruction)
        if itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE):
            subject = "image"
            decoder.extend(state, decoder.encode(subject))
        else:
            subject = complete_span(decoder.decode(
                state, lambda text: decoder.vocab.span_continuations(text, spans), self.max_subject_tokens,
                check_cancel), spans).strip()
        if not normalize_subject(subject):
            subject = "object"
            notes.append("the model produced no usable subject span; used 'object'")
        on_step(3, steps)

        decoder.extend(state, decoder.encode('", "generation_prompt": "'))
        json_safe = decoder.vocab.json_safe
        prompt = " ".join(decoder.decode(state, lambda text: (json_safe, bool(text.strip())),
                                         self.max_prompt_tokens, check_cancel).split())
        on_step(4, steps)

        decoder.extend(state, decoder.encode('", "style_transformation": '))
        if itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE):
            style = 1
        else:
            style, _ = decoder.choose(state, ["0", "1"])
        decoder.extend(state, decoder.encode(f'{style}, "contour_compatibility": '))
        contour, _ = decoder.choose(state, ["0", "1"])
        on_step(5, steps)

        data = {
            "instruction_type": int(itype),
            "style_transformation": style,
            "subject": subject,
            "generation_prompt": prompt,
            "contour_compatibility": contour,
            "confidence": confidence,
            "notes": notes,
        }
        return finish_intent(data, prepared, backend=self.name)
