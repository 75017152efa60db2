"""File hashes used as zoo identities, computed in one streaming pass.

- SHA256 of the whole file; AutoV2 = its first 10 hex digits (A1111 / Civitai).
- AutoV1 = first 8 hex of sha256 over the 64 KiB at offset 1 MiB (A1111's old "model hash").
- AutoV3 = sha256 of the tensor data only (the bytes after a safetensors header), as Civitai and
  kohya's `sshs_model_hash` compute it: it survives edits of the metadata.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from polaris_core.errors import ModelFileError
from polaris_core.progress import CheckCancel, no_cancel

AUTOV3_KEY_CHARS = 12  # Civitai shows AutoV3 shortened; ids use a prefix so both forms match
_AUTOV1_OFFSET, _AUTOV1_SIZE = 0x100000, 0x10000
_CHUNK = 4 << 20


def autov3_key(autov3: str) -> str:
    """Entry id for a tensor-data hash: "autov3:<first 12 hex>" (same for full and short forms)."""
    return "autov3:" + autov3.strip().lower()[:AUTOV3_KEY_CHARS]


def sha256_key(sha256: str) -> str:
    """Entry id for a file that has no tensor-data hash (pickles): "sha256:<first 12 hex>"."""
    return "sha256:" + sha256.strip().lower()[:AUTOV3_KEY_CHARS]


@dataclass
class FileHashes:
    sha256: str
    autov1: str
    autov2: str
    autov3: str          # "" when the file has no safetensors data region
    size: int

    @property
    def key(self) -> str:
        """The entry id this file gets: AutoV3 when known, else SHA256; "" if not hashed."""
        if self.autov3:
            return autov3_key(self.autov3)
        return sha256_key(self.sha256) if self.sha256 else ""


def hash_file(path: str | os.PathLike, *, data_offset: Optional[int] = None,
              check_cancel: Optional[CheckCancel] = None) -> FileHashes:
    """Hash a file in one pass. `data_offset` (8 + header length of a valid safetensors file)
    enables AutoV3. Never interprets the bytes otherwise, so it is safe for pickles too."""
    check_cancel = check_cancel or no_cancel
    path = Path(path)
    whole = hashlib.sha256()
    data = hashlib.sha256() if data_offset is not None else None
    v1_bytes = bytearray()
    position = 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as fh:
            while True:
                check_cancel()
                n = fh.readinto(buffer)
                if not n:
                    break
                chunk = view[:n]
                whole.update(chunk)
                end = position + n
                if data is not None and end > data_offset:
                    data.update(chunk[max(0, data_offset - position):])
                if position < _AUTOV1_OFFSET + _AUTOV1_SIZE and end > _AUTOV1_OFFSET:
                    lo = max(0, _AUTOV1_OFFSET - position)
                    hi = min(n, _AUTOV1_OFFSET + _AUTOV1_SIZE - position)
                    v1_bytes += chunk[lo:hi]
                position = end
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path} to hash it: {exc.strerror or exc}. "
                             "Check the file permissions.") from exc
    sha = whole.hexdigest()
    return FileHashes(
        sha256=sha,
        autov1=hashlib.sha256(bytes(v1_bytes)).hexdigest()[:8],
        autov2=sha[:10],
        autov3=data.hexdigest() if data is not None and position >= data_offset else "",
        size=position,
    )
