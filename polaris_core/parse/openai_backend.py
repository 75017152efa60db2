"""OpenAI-compatible HTTP backend (Ollama, llama.cpp server, vLLM, ...), off by default.

Only the standard library talks to the server: one POST to `{base_url}/v1/chat/completions`
asking for schema-constrained output (`response_format={"type": "json_schema", ...}`); a server
that rejects that gets one retry with `{"type": "json_object"}`. The reply is parsed and run
through the shared validator, so a server that ignores the schema still cannot hand back an
invalid intent. The instruction travels as delimited data (see `prompting`).

The operator's API key (POLARIS_OPENAI_API_KEY) goes only to servers the operator named: the origin of
POLARIS_OPENAI_BASE_URL, or a host listed in POLARIS_OPENAI_ALLOWED_HOSTS (`operator_allows`). Any other
base URL (a graph's widget, a command-line flag) gets no key. Redirects are never followed (urllib would
carry the Authorization header to the new host), and no error quotes what a server sent back: a message
reaches whoever queued the graph, and the server may be an internal endpoint.
"""
from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
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

BASE_URL_ENV = "POLARIS_OPENAI_BASE_URL"
API_KEY_ENV = "POLARIS_OPENAI_API_KEY"
ALLOWED_HOSTS_ENV = "POLARIS_OPENAI_ALLOWED_HOSTS"
MAX_RESPONSE_BYTES = 1_000_000
MAX_IMAGE_SIDE = 1024
DEFAULT_CONFIDENCE = 0.8  # an API model's answer carries no calibrated probability
_SCHEMA_REJECTED = (400, 404, 415, 422, 501)


class _HTTPStatusError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, the default port filled in; None when it is not one."""
    try:
        parsed = urllib.parse.urlsplit(url.strip())
        port = parsed.port
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        return None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    return parsed.scheme, parsed.hostname.lower(), port or (443 if parsed.scheme == "https" else 80)


def allowed_hosts() -> list[str]:
    """The operator's allow-list, POLARIS_OPENAI_ALLOWED_HOSTS: entries separated by commas or spaces."""
    return [e for e in re.split(r"[,\s]+", os.environ.get(ALLOWED_HOSTS_ENV, "")) if e]


def _entry_matches(entry: str, origin: tuple[str, str, int]) -> bool:
    """An allow-list entry against an origin: `https://host:port` (exactly that), `https://host` (default
    port), `host:port` (http or https on that port) or `host` (any port)."""
    if "://" in entry:
        return _origin(entry) == origin
    try:
        parsed = urllib.parse.urlsplit("//" + entry)
        port = parsed.port
    except ValueError:
        return False
    if not parsed.hostname or parsed.hostname.lower() != origin[1]:
        return False
    return port is None or port == origin[2]


def operator_allows(base_url: str) -> bool:
    """True when the operator configured this server: the origin of POLARIS_OPENAI_BASE_URL, or a host in
    POLARIS_OPENAI_ALLOWED_HOSTS. Only such servers get the operator's API key, or are reachable from a graph."""
    origin = _origin(base_url or "")
    if origin is None:
        return False
    configured = os.environ.get(BASE_URL_ENV, "")
    if configured and _origin(configured) == origin:
        return True
    return any(_entry_matches(entry, origin) for entry in allowed_hosts())


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """An API server does not redirect; following one would send the request (and its key) elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's signature)
        raise urllib.error.HTTPError(req.full_url, code, f"redirect refused ({msg})", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirects)


class OpenAIParser(InstructionParser):
    """Parse through an OpenAI-compatible chat-completions endpoint the user points at."""

    name = "openai"

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, send_image: bool = True, max_tokens: int = 512) -> None:
        base_url = base_url or os.environ.get(BASE_URL_ENV)
        if not base_url:
            raise ConfigError(
                "The openai backend is off by default: give the base URL of an OpenAI-compatible server "
                f"(--base-url on the command line; in ComfyUI the operator sets {BASE_URL_ENV}, or lists servers "
                f"in {ALLOWED_HOSTS_ENV} for the base_url widget), e.g. http://127.0.0.1:11434 for Ollama or "
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
        # A key the caller passes goes where the caller points; the operator's key only to the operator's servers.
        self._api_key = api_key or None
        operator_key = os.environ.get(API_KEY_ENV) or None
        if self._api_key is None and operator_key:
            if operator_allows(self.base_url):
                self._api_key = operator_key
            else:
                log.info("%s is not sent to %s: it is neither %s nor listed in %s", API_KEY_ENV, self.base_url,
                         BASE_URL_ENV, ALLOWED_HOSTS_ENV)
        self.key_withheld = self._api_key is None and operator_key is not None
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
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            # The body stays in the server log at debug level only: errors reach whoever queued the graph.
            detail = exc.read(4000).decode("utf-8", errors="replace") if exc.fp else ""
            log.debug("%s answered HTTP %d: %r", url, exc.code, detail[:300])
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
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ParseError(f"{url} did not return JSON; is this an OpenAI-compatible server?") from exc
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
                raise ParseError(_http_message(exc, self.base_url, self.key_withheld)) from exc
            log.info("server rejected json_schema output (HTTP %d); retrying with json_object", exc.status)
            payload["response_format"] = {"type": "json_object"}
            notes.append("server does not support json_schema output; used json_object and the validator")
            check_cancel()
            try:
                reply = self._request("/v1/chat/completions", payload)
            except _HTTPStatusError as retry_exc:
                raise ParseError(_http_message(retry_exc, self.base_url, self.key_withheld)) from retry_exc
        on_step(1, 1)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ParseError(f"Unexpected reply from {self.base_url} (no choices[0].message.content).") from exc
        try:
            data = json_object_from_text(content if isinstance(content, str) else "")
        except IntentError as exc:
            log.debug("reply of %s is not a JSON object: %s", self.base_url, exc)
            raise IntentError(f"The model behind {self.base_url} did not answer with one JSON object; check that "
                              "it follows JSON output instructions, or pick another model.") from exc
        data.setdefault("confidence", DEFAULT_CONFIDENCE)
        data["notes"] = notes
        try:
            return finish_intent(data, prepared, backend=self.name)
        except IntentError as exc:
            log.debug("reply of %s is not a valid intent: %s", self.base_url, exc)
            raise IntentError(f"The model behind {self.base_url} answered with an invalid {_bad_field(exc)}; check "
                              "that it follows JSON schemas, or pick another model.") from exc


def _bad_field(exc: IntentError) -> str:
    """The intent field a validation error names (its message also quotes the model's value: not repeated)."""
    first = str(exc).split(" ", 1)[0]
    return first if first in Intent.__dataclass_fields__ else "intent"


def _http_message(exc: _HTTPStatusError, base_url: str, key_withheld: bool = False) -> str:
    key_hint = (f"the operator's key ({API_KEY_ENV}) goes only to {BASE_URL_ENV} or a host in {ALLOWED_HOSTS_ENV}"
                if key_withheld else f"check the API key ({API_KEY_ENV})")
    hint = {401: key_hint, 403: key_hint + " and its permissions",
            404: "check the base URL (it should serve /v1/chat/completions) and the model name",
            429: "the server is rate-limiting; retry later"}.get(exc.status, "check the server's own log")
    if 300 <= exc.status < 400:
        hint = "Polaris does not follow redirects; give the URL the server answers on"
    return f"{base_url} answered HTTP {exc.status}; {hint}."


def _png_data_url(image: Any) -> str:
    from PIL import Image

    picture = Image.fromarray(image)
    picture.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
