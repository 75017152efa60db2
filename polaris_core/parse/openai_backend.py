"""OpenAI-compatible HTTP backend (Ollama, llama.cpp server, vLLM, ...), off by default.

Only the standard library talks to the server: one POST to `{base_url}/v1/chat/completions`
asking for schema-constrained output (`response_format={"type": "json_schema", ...}`); a server
that rejects that gets one retry with `{"type": "json_object"}`. The reply is parsed and run
through the shared validator, so a server that ignores the schema still cannot hand back an
invalid intent. The instruction travels as delimited data (see `prompting`).
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from polaris_core.errors import ConfigError, IntentError, ParseError
from polaris_core.intent import Intent, json_object_from_text
from polaris_core.parse.base import InstructionParser, PreparedInstruction, finish_intent
from polaris_core.parse.prompting import chat_messages, response_format_json_schema
from polaris_core.progress import CheckCancel, OnStep

log = logging.getLogger("polaris")

MAX_RESPONSE_BYTES = 1_000_000
MAX_IMAGE_SIDE = 1024
DEFAULT_CONFIDENCE = 0.8  # an API model's answer carries no calibrated probability
_SCHEMA_REJECTED = (400, 404, 415, 422, 501)


class _HTTPStatusError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


class OpenAIParser(InstructionParser):
    """Parse through an OpenAI-compatible chat-completions endpoint the user points at."""

    name = "openai"

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, send_image: bool = True, max_tokens: int = 512) -> None:
        base_url = base_url or os.environ.get("POLARIS_OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError(
                "The openai backend is off by default: give the base URL of an OpenAI-compatible server (the base_url "
                "widget in ComfyUI, --base-url on the command line), e.g. http://127.0.0.1:11434 for Ollama or "
                "http://127.0.0.1:8080 for llama.cpp server."
            )
        parsed = urllib.parse.urlparse(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError(f"Base URL {base_url!r} must be http(s)://host[:port]; e.g. http://127.0.0.1:8000.")
        root = base_url.strip().rstrip("/")
        if root.endswith("/v1"):
            root = root[:-3]
        self.base_url = root
        self.model = model or os.environ.get("POLARIS_OPENAI_MODEL") or None
        self._api_key = api_key or os.environ.get("POLARIS_OPENAI_API_KEY") or None
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}.")
        self.timeout = float(timeout)
        self.send_image = send_image
        self.max_tokens = int(max_tokens)

    # -- HTTP
    def _request(self, path: str, payload: dict | None = None) -> dict:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (user-given URL)
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            detail = exc.read(4000).decode("utf-8", errors="replace") if exc.fp else ""
            raise _HTTPStatusError(exc.code, detail) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectionRefusedError):
                raise ParseError(
                    f"Connection refused by {self.base_url}; start the server or fix the base URL."
                ) from exc
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise ParseError(f"{url} did not answer within {self.timeout:g} s; check the server, or allow it more time.") from exc
            raise ParseError(f"Could not reach {url} ({reason}); check the base URL and the server.") from exc
        except (socket.timeout, TimeoutError) as exc:
            raise ParseError(f"{url} did not answer within {self.timeout:g} s; check the server, or allow it more time.") from exc
        except (ConnectionError, OSError) as exc:
            raise ParseError(f"The connection to {url} failed ({exc}); check the server.") from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise ParseError(f"{url} sent more than {MAX_RESPONSE_BYTES} bytes; is this an OpenAI-compatible server?")
        try:
            value = json.loads(body.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as exc:
            raise ParseError(f"{url} did not return JSON (got {body[:120]!r}); is this an OpenAI-compatible server?") from exc
        if not isinstance(value, dict):
            raise ParseError(f"{url} returned JSON that is not an object; is this an OpenAI-compatible server?")
        return value

    def _model_name(self) -> str:
        if self.model:
            return self.model
        try:
            listing = self._request("/v1/models")
            self.model = str(listing["data"][0]["id"])
        except (_HTTPStatusError, KeyError, IndexError, TypeError) as exc:
            raise ConfigError(f"{self.base_url} does not list its models; give the model name (--api-model).") from exc
        return self.model

    # -- parsing
    def _messages(self, instruction: str, image: Any) -> list[dict]:
        messages = chat_messages(instruction, image is not None)
        if image is not None and self.send_image:
            messages[1]["content"] = [
                {"type": "text", "text": messages[1]["content"]},
                {"type": "image_url", "image_url": {"url": _png_data_url(image)}},
            ]
        return messages

    def _parse(self, prepared: PreparedInstruction, image: Any, on_step: OnStep, check_cancel: CheckCancel) -> Intent:
        payload = {
            "model": self._model_name(),
            "messages": self._messages(prepared.text, image),
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "response_format": response_format_json_schema(),
        }
        notes: list[str] = []
        check_cancel()
        try:
            reply = self._request("/v1/chat/completions", payload)
        except _HTTPStatusError as exc:
            if exc.status not in _SCHEMA_REJECTED:
                raise ParseError(_http_message(exc, self.base_url)) from exc
            log.info("server rejected json_schema output (HTTP %d); retrying with json_object", exc.status)
            payload["response_format"] = {"type": "json_object"}
            notes.append("server does not support json_schema output; used json_object and the validator")
            check_cancel()
            try:
                reply = self._request("/v1/chat/completions", payload)
            except _HTTPStatusError as retry_exc:
                raise ParseError(_http_message(retry_exc, self.base_url)) from retry_exc
        on_step(1, 1)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ParseError(f"Unexpected reply from {self.base_url} (no choices[0].message.content).") from exc
        try:
            data = json_object_from_text(content if isinstance(content, str) else "")
        except IntentError as exc:
            raise IntentError(f"The model behind {self.base_url} did not answer with JSON: {exc}") from exc
        data.setdefault("confidence", DEFAULT_CONFIDENCE)
        data["notes"] = notes
        return finish_intent(data, prepared, backend=self.name)


def _http_message(exc: _HTTPStatusError, base_url: str) -> str:
    hint = {401: "check the API key (POLARIS_OPENAI_API_KEY)", 403: "check the API key and permissions",
            404: "check the base URL (it should serve /v1/chat/completions) and the model name",
            429: "the server is rate-limiting; retry later"}.get(exc.status, "check the server log")
    return f"{base_url} answered HTTP {exc.status}: {exc.body[:300]!r}; {hint}."


def _png_data_url(image: Any) -> str:
    from PIL import Image

    picture = Image.fromarray(image)
    picture.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
