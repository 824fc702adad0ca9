"""Encrypted file storage for uploads and results: genomic data never rests on disk in clear.

Files are Fernet tokens (AES-128-CBC with HMAC-SHA256) under settings.storage_dir, written atomically.
The key is CANCER_ALPHA_STORAGE_KEY, or derived from the secret key with HKDF."""
from __future__ import annotations

import base64
import io
import os
import tempfile
from pathlib import Path

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal.core.settings import Settings


class StorageError(Exception):
    """A stored file is missing or cannot be decrypted."""


def storage_key(settings: Settings) -> bytes:
    if settings.storage_key:
        return settings.storage_key.encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cancer-alpha-storage",
                   info=b"fernet").derive(settings.secret_key.encode())
    return base64.urlsafe_b64encode(derived)


class Storage:
    def __init__(self, settings: Settings):
        self.root = settings.storage_dir
        self._fernet = Fernet(storage_key(settings))

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"{name!r} is outside the storage folder")
        return path

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._fernet.encrypt(data))
        os.replace(tmp, path)

    def get(self, name: str) -> bytes:
        path = self._path(name)
        if not path.exists():
            raise StorageError(f"stored file {name} is missing")
        try:
            return self._fernet.decrypt(path.read_bytes())
        except InvalidToken:
            raise StorageError(f"stored file {name} cannot be decrypted with this storage key") from None

    def delete(self, name: str) -> bool:
        """Remove a stored file (and its folder once empty); False if there was none."""
        path = self._path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        if path.parent != self.root.resolve():
            try:
                path.parent.rmdir()
            except OSError:  # other files are left in it
                pass
        return True

    def put_frame(self, name: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.put(name, buffer.getvalue())

    def get_frame(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(self.get(name)))
