#!/usr/bin/env python3
"""Queue Polaris's local-edit workflow on a running ComfyUI in API mode, then save the result.

Standard library only. Example:

    python scripts/api_example.py --server http://127.0.0.1:8188 \
        --image photo.png --instruction "Turn the dog into a corgi" --out edited.png

`--set CLASS.INPUT=VALUE` overrides any input of the workflow's nodes of that class, e.g.
`--set KSampler.steps=30` or `--set PolarisMaskRegion.points_per_side=8` (values are JSON, else strings).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKFLOW = ROOT / "workflows" / "api" / "polaris-local-edit.json"


def _request(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 60.0) -> bytes:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{url} answered {exc.code}: {exc.read().decode(errors='replace')[:2000]}") from exc
    except urllib.error.URLError as exc:
        raise SystemExit(f"cannot reach ComfyUI at {url}: {exc.reason}. Is the server running?") from exc


def upload_image(server: str, path: Path) -> str:
    """POST the image to /upload/image (multipart) and return the name ComfyUI stored it under."""
    boundary = uuid.uuid4().hex
    body = b"".join([
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{path.name}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode(), path.read_bytes(), b"\r\n",
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"overwrite\"\r\n\r\ntrue\r\n".encode(),
        f"--{boundary}--\r\n".encode(),
    ])
    answer = json.loads(_request(f"{server}/upload/image", body,
                                 {"Content-Type": f"multipart/form-data; boundary={boundary}"}))
    return f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]


def apply_overrides(prompt: dict, overrides: list[str]) -> None:
    for item in overrides:
        target, _, raw = item.partition("=")
        class_type, _, name = target.partition(".")
        if not (class_type and name and _):
            raise SystemExit(f"--set {item!r}: use CLASS.INPUT=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        hits = [node for node in prompt.values() if node["class_type"] == class_type]
        if not hits:
            raise SystemExit(f"--set {item!r}: the workflow has no {class_type} node")
        for node in hits:
            node["inputs"][name] = value


def run(server: str, workflow: Path, image: Path, instruction: str, out: Path, overrides: list[str],
        timeout: float) -> Path:
    prompt = json.loads(workflow.read_text(encoding="utf-8"))
    stored = upload_image(server, image)
    for node in prompt.values():
        if node["class_type"] == "LoadImage":
            node["inputs"]["image"] = stored
        if node["class_type"] == "PolarisParseInstruction":
            node["inputs"]["instruction"] = instruction
    apply_overrides(prompt, overrides)
    client_id = uuid.uuid4().hex
    queued = json.loads(_request(f"{server}/prompt", json.dumps({"prompt": prompt, "client_id": client_id}).encode(),
                                 {"Content-Type": "application/json"}))
    prompt_id = queued["prompt_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = json.loads(_request(f"{server}/history/{prompt_id}"))
        entry = history.get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None:
            break
        time.sleep(1.0)
    else:
        raise SystemExit(f"the workflow did not finish within {timeout:.0f}s")
    if entry["status"].get("status_str") != "success":
        messages = [m for m in entry["status"].get("messages", []) if m[0] == "execution_error"]
        raise SystemExit(f"the workflow failed: {json.dumps(messages)[:3000]}")
    for node_id, node in prompt.items():  # the edited image, not the mask preview
        if node["class_type"] == "SaveImage" and node["inputs"].get("filename_prefix") != "polaris/mask":
            image_ref = entry["outputs"][node_id]["images"][0]
            query = urllib.parse.urlencode(image_ref)
            out.write_bytes(_request(f"{server}/view?{query}"))
            return out
    raise SystemExit("the workflow saved no image")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="http://127.0.0.1:8188", help="ComfyUI's address")
    parser.add_argument("--workflow", type=Path, default=DEFAULT_WORKFLOW, help="an API-format workflow")
    parser.add_argument("--image", type=Path, required=True, help="the image to edit")
    parser.add_argument("--instruction", required=True, help="what to change")
    parser.add_argument("--out", type=Path, default=Path("polaris-edit.png"), help="where to save the result")
    parser.add_argument("--set", action="append", default=[], metavar="CLASS.INPUT=VALUE", help="override an input")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the result")
    args = parser.parse_args(argv)
    saved = run(args.server.rstrip("/"), args.workflow, args.image, args.instruction, args.out, args.set, args.timeout)
    sys.stdout.write(f"saved {saved}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
