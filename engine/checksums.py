"""sha256 of files and bytes: pins datasets, guards model artifacts before unpickling, names uploads."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """sha256 of bytes held in memory (uploads)."""
    return hashlib.sha256(data).hexdigest()
