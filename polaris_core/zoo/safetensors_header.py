"""Read only the JSON header of a `.safetensors` file, with a bounded size, and validate it.

Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the tensor data. The
header maps tensor names to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative
to the data region) plus an optional `"__metadata__"` object of strings. Tensors are never loaded.
"""
from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from polaris_core.errors import ModelFileError

MAX_HEADER_BYTES = 100 * 1024 * 1024
# Bytes per element; sub-byte and exotic types are accepted without the size check.
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E4M3FN": 1, "F8_E8M0": 1,
               "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8,
               "U64": 8, "C64": 8}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    offsets: tuple[int, int]  # [begin, end) within the data region


@dataclass
class SafetensorsHeader:
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    header_bytes: int = 0      # N, the JSON length
    file_size: int = 0

    @property
    def data_offset(self) -> int:
        """Where the tensor data starts: 8 + N."""
        return 8 + self.header_bytes


def _bad(name: str, why: str) -> ModelFileError:
    return ModelFileError(f"{name} is not a valid .safetensors file: {why}. Re-download or re-save it.")


def parse_header(prefix: bytes, file_size: int, name: str = "file",
                 max_header_bytes: int = MAX_HEADER_BYTES) -> SafetensorsHeader:
    """Validate a header from the first bytes of a file (`prefix` must hold at least 8 + N bytes)."""
    if file_size < 8 or len(prefix) < 8:
        raise _bad(name, f"only {file_size} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n < 2:
        raise _bad(name, f"header length {n} is too small")
    if n > max_header_bytes:
        raise _bad(name, f"header length claims {n:,} bytes (limit {max_header_bytes:,})")
    if 8 + n > file_size:
        raise _bad(name, f"header length {n:,} runs past the end of the {file_size:,}-byte file (truncated?)")
    if len(prefix) < 8 + n:
        raise _bad(name, "header is truncated")
    raw = prefix[8:8 + n]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(name, f"header is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.lstrip().startswith("{"):
        raise _bad(name, "header is not a JSON object")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _bad(name, f"header is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(obj, dict):
        raise _bad(name, "header is not a JSON object")
    data_size = file_size - 8 - n
    header = SafetensorsHeader(header_bytes=n, file_size=file_size)
    for key, value in obj.items():
        if key == "__metadata__":
            header.metadata = _metadata(value, name)
            continue
        header.tensors[key] = _tensor(key, value, data_size, name)
    return header


def _metadata(value, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(name, "__metadata__ is not an object")
    # The format says string → string; some writers store numbers or objects, so keep them as JSON text.
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)[:1_000_000]
            for k, v in value.items()}


def _tensor(key: str, value, data_size: int, name: str) -> TensorInfo:
    if not isinstance(value, dict):
        raise _bad(name, f"entry {key[:80]!r} is not an object")
    dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
    if not isinstance(dtype, str) or not dtype or len(dtype) > 16:
        raise _bad(name, f"tensor {key[:80]!r} has no valid dtype")
    if not isinstance(shape, list) or len(shape) > 16 or \
            not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2 ** 48 for d in shape):
        raise _bad(name, f"tensor {key[:80]!r} has an invalid shape")
    if not isinstance(offsets, list) or len(offsets) != 2 or \
            not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
        raise _bad(name, f"tensor {key[:80]!r} has invalid data_offsets")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise _bad(name, f"tensor {key[:80]!r} lies outside the data region (truncated file?)")
    width = DTYPE_BYTES.get(dtype.upper())
    if width is not None and math.prod(shape) * width != end - begin:
        raise _bad(name, f"tensor {key[:80]!r} size does not match its dtype and shape")
    return TensorInfo(dtype=dtype, shape=tuple(shape), offsets=(begin, end))


def read_header_from(fh: BinaryIO, file_size: int, name: str = "file",
                     max_header_bytes: int = MAX_HEADER_BYTES) -> SafetensorsHeader:
    """Read and validate the header from an open binary file positioned at its start."""
    first = fh.read(8)
    if len(first) < 8:
        raise _bad(name, f"only {len(first)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", first)
    if n > max_header_bytes or 8 + n > file_size:
        return parse_header(first, file_size, name, max_header_bytes)  # raises with the reason
    rest = fh.read(n)
    return parse_header(first + rest, file_size, name, max_header_bytes)


def read_header(path: str | os.PathLike, max_header_bytes: int = MAX_HEADER_BYTES) -> SafetensorsHeader:
    """Header of a `.safetensors` file; ModelFileError if it is unreadable, truncated or invalid."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            return read_header_from(fh, size, path.name, max_header_bytes)
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path}: {exc.strerror or exc}. Check the file permissions.") from exc
