"""Password hashing with argon2id (memory-hard), and the rules a new password must meet: at least 12
characters, more than a few different ones, and not on a published list of common passwords
(data/common-passwords.txt.gz: Django's copy of Royce Williams' list, BSD-3-Clause; data/README.md)."""
from __future__ import annotations

import gzip
import secrets
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 passes: the library's recommended defaults


@cache
def _dummy_hash() -> str:
    """Made on first use, not at import: hashing takes a tenth of a second."""
    return _hasher.hash(secrets.token_urlsafe(16))


MIN_LENGTH = 12
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"


@cache
def common_passwords() -> frozenset[str]:
    """The list (lowercased), read on first use and kept: 19,640 entries, a few MB, 0.2 s to read."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


class WeakPassword(ValueError):
    pass


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when it matches. Unknown users are checked against a dummy hash, so the answer takes as
    long whether or not the account exists."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(set(password)) < 5:
        raise WeakPassword("a password needs more than a few different characters")
    lowered = password.strip().lower()
    if lowered in common_passwords() or "".join(lowered.split()) in common_passwords():
        raise WeakPassword("this password is on a list of common passwords; choose another")


def generate_password() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits
