"""The parse node wraps the offline parser and exposes the intent's strings for core nodes."""
from __future__ import annotations

import pytest


def test_parse_node_outputs_intent_and_strings(pack):
    node = pack.nodes.parse.PolarisParseInstruction
    out = node.execute("Let's substitute the motorcycle with a lively dog", "rules")
    intent, prompt, subject, kind = out.result
    assert kind == 0 and intent.instruction_type == 0
    assert subject == intent.subject == "motorcycle"
    assert "dog" in prompt
    shown = out.ui.as_dict()["text"][0]
    assert shown.startswith("type: 0 ") and "subject: motorcycle" in shown and "confidence: " in shown, shown
    assert "{" not in shown  # readable fields, not a JSON blob


def test_parse_node_reports_bad_input_clearly(pack, monkeypatch):
    from polaris_core.errors import PolarisError

    monkeypatch.delenv("POLARIS_OPENAI_BASE_URL", raising=False)
    node = pack.nodes.parse.PolarisParseInstruction
    with pytest.raises(PolarisError):
        node.execute("   ", "rules")
    with pytest.raises(PolarisError, match="base_url|URL|url"):
        node.execute("make it watercolor", "openai", base_url="")


class _RecordingServer:
    """A chat-completions server on 127.0.0.1 that records the headers of every request."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.headers: list[dict] = []
        outer = self
        reply = {"instruction_type": 0, "style_transformation": 0, "subject": "dog", "generation_prompt": "a cat",
                 "contour_compatibility": 1}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.headers.append(dict(self.headers))
                body = json.dumps({"choices": [{"message": {"content": json.dumps(reply)}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def operator_server(monkeypatch):
    for name in ("POLARIS_OPENAI_BASE_URL", "POLARIS_OPENAI_API_KEY", "POLARIS_OPENAI_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    configured, elsewhere = _RecordingServer(), _RecordingServer()
    yield configured, elsewhere
    configured.close()
    elsewhere.close()


def test_a_graph_cannot_send_the_operators_key_elsewhere(pack, operator_server, monkeypatch):
    """Whoever queues a graph picks base_url: only the operator's servers are reached, and only they get the key."""
    from polaris_core.errors import ConfigError

    configured, elsewhere = operator_server
    monkeypatch.setenv("POLARIS_OPENAI_BASE_URL", configured.url)
    monkeypatch.setenv("POLARIS_OPENAI_API_KEY", "operator-secret")
    monkeypatch.setenv("POLARIS_OPENAI_MODEL", "m")
    node = pack.nodes.parse.PolarisParseInstruction
    assert node.execute("Replace the dog with a cat", "openai").result[2] == "dog"  # empty widget: the operator's
    node.execute("Replace the dog with a cat", "openai", base_url=configured.url + "/v1")
    assert [h.get("Authorization") for h in configured.headers] == ["Bearer operator-secret"] * 2
    for url in (elsewhere.url, "http://169.254.169.254/latest/meta-data", "http://localhost:1/"):
        with pytest.raises(ConfigError, match="not a server the operator of this ComfyUI allowed.*"
                                              "POLARIS_OPENAI_ALLOWED_HOSTS"):
            node.execute("Replace the dog with a cat", "openai", base_url=url)
    assert elsewhere.headers == []  # refused before any request
    monkeypatch.setenv("POLARIS_OPENAI_ALLOWED_HOSTS", elsewhere.url)
    node.execute("Replace the dog with a cat", "openai", base_url=elsewhere.url)
    assert elsewhere.headers[0]["Authorization"] == "Bearer operator-secret"
