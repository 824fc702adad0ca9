"""sha256 of bytes held in memory (uploads)."""
import hashlib


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
