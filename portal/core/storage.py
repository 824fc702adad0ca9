"""Encrypted file storage for uploads and results: genomic data never rests on disk in clear.

Files are Fernet tokens (AES-128-CBC with HMAC-SHA256) under settings.storage_dir, written atomically (a
temporary file in the same folder, flushed to disk, then os.replace). The keys are CANCER_ALPHA_STORAGE_KEY:
one key, or several separated by commas, newest first (MultiFernet: files are written under the first and
read under any, so a new key is put in front and `python -m portal storage rotate-key` moves every file to
it, portal.core.key_rotation). The word `derived` in that list, or an empty setting, stands for the key
derived from the secret key with HKDF.

Writers, deleters and the key rotation take one lock (an flock on `<storage>/.lock`) around the moment a
file is replaced or removed, so that a rotation never brings back a file that was deleted meanwhile, nor
overwrites one that was rewritten meanwhile."""
from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import io
import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Iterator

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from portal.core.settings import DERIVED_STORAGE_KEY, PREFIX, Settings, SettingsError

TEMPORARY_PREFIX = ".incoming-"  # a file being written; never read as a stored file
LOCK_NAME = ".lock"


class StorageError(Exception):
    """A stored file is missing or cannot be decrypted."""


class Rewrap(StrEnum):
    """What re-encrypting one stored file under the newest key did (Storage.rewrap)."""

    ROTATED = "rotated"  # it was under an older key and is now under the newest
    CURRENT = "current"  # it was already under the newest key: left as it was
    GONE = "gone"  # it was deleted meanwhile


def derived_key(settings: Settings) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cancer-alpha-storage",
                   info=b"fernet").derive(settings.secret_key.encode())
    return base64.urlsafe_b64encode(derived)


def storage_keys(settings: Settings) -> list[bytes]:
    """The storage keys, newest first (SettingsError naming the position of a malformed one, never its value)."""
    listed = [part.strip() for part in settings.storage_key.split(",") if part.strip()] or [DERIVED_STORAGE_KEY]
    keys = []
    for position, text in enumerate(listed, 1):
        key = derived_key(settings) if text == DERIVED_STORAGE_KEY else text.encode()
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            raise SettingsError(f"{PREFIX}STORAGE_KEY: key {position} of {len(listed)} is not a Fernet key "
                                f"(urlsafe base64 of 32 bytes); make one with `python -m portal storage new-key`"
                                ) from None
        keys.append(key)
    return keys


class Storage:
    def __init__(self, settings: Settings):
        self.root = settings.storage_dir
        keys = [Fernet(key) for key in storage_keys(settings)]
        self._newest, self._fernet = keys[0], MultiFernet(keys)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"{name!r} is outside the storage folder")
        return path

    @contextlib.contextmanager
    def _locked(self):
        """The storage folder's lock, held while a file is replaced or removed (a few milliseconds)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, path: Path, token: bytes) -> None:
        """Replace `path` by `token` atomically: a reader (or a kill) sees the old file or the new, never half."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(token)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        token = self._fernet.encrypt(data)  # under the newest key
        with self._locked():
            self._write(path, token)

    def get(self, name: str) -> bytes:
        path = self._path(name)
        if not path.exists():
            raise StorageError(f"stored file {name} is missing")
        try:
            return self._fernet.decrypt(path.read_bytes())
        except InvalidToken:
            raise StorageError(f"stored file {name} cannot be decrypted with the configured storage keys") from None

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def delete(self, name: str) -> bool:
        """Remove a stored file (and its folder once empty); False if there was none."""
        path = self._path(name)
        with self._locked():
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

    def names(self) -> Iterator[str]:
        """Every stored file, as the name `get` takes (files being written and the lock are not stored files)."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(self.root).as_posix()

    def temporary_files(self) -> list[Path]:
        """Files left half written by a write that was killed (the file they were to replace is intact)."""
        return sorted(self.root.rglob(TEMPORARY_PREFIX + "*")) if self.root.is_dir() else []

    def rewrap(self, name: str) -> Rewrap:
        """Re-encrypt one stored file under the newest key, atomically (StorageError if no key reads it)."""
        path = self._path(name)
        with self._locked():
            try:
                token = path.read_bytes()
            except FileNotFoundError:
                return Rewrap.GONE
            try:
                self._newest.extract_timestamp(token)  # checks the token's HMAC under the newest key, decrypts nothing
                return Rewrap.CURRENT
            except InvalidToken:
                pass
            try:
                rotated = self._fernet.rotate(token)
            except InvalidToken:
                raise StorageError(f"stored file {name} cannot be decrypted with the configured storage keys") from None
            self._write(path, rotated)
        return Rewrap.ROTATED

    def put_frame(self, name: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        self.put(name, buffer.getvalue())

    def get_frame(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """A stored Parquet file as a frame (only `columns`, when given)."""
        return pd.read_parquet(io.BytesIO(self.get(name)), columns=columns)
