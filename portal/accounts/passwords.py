"""Password hashing with argon2id (memory-hard), and the rules a new password must meet."""
from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, 64 MiB, 3 passes: the library's recommended defaults


@cache
def _dummy_hash() -> str:
    """Made on first use, not at import: hashing takes a tenth of a second."""
    return _hasher.hash(secrets.token_urlsafe(16))

MIN_LENGTH = 12


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


def generate_password() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 bits
