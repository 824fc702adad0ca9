"""API keys: a program acts as its owner (with the owner's role) by presenting a key.

A key reads `ca_<prefix>_<secret>`: the prefix is 8 lower-case hex characters, shown in listings and used
to find the key; the secret is 256 random bits (`secrets.token_urlsafe(32)`). The database holds the prefix
and the SHA-256 of the whole key, never the key: it is shown once, when it is made.

A fast hash is right here, unlike for passwords: a 256-bit random secret cannot be guessed, so a slow hash
adds no protection, while argon2 (with the passwords' parameters) on every API request would cost 250 to
900 ms of CPU each (measured: 250 ms, and 870 ms on a busier 2-core machine) and cap throughput.

`key_state` reads the key's row (joined with its owner): one lookup by the unique prefix index; the presented
key's SHA-256 (4 µs) is compared with the stored one. The API does not read the row per request: it keeps
what it verified in each process (portal.accounts.verified_keys) for as long as the credential generation,
one row that database triggers count up on any change to a key or to a user's role, state or e-mail, stands
still. So a revoked
key, a deactivated user's key and a changed role still take effect on the next request in every process
(every gunicorn worker, the Celery worker, after a revoke from the command line or a change made directly in
the database). Only the write of `last_used_at` is spared: at most once per `LAST_USED_INTERVAL` per key
(the caller's `uses` notes this process's last write).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine.caching import BoundedCache
from portal.accounts.users import UserError
from portal.core.db import Database
from portal.core.models import ApiKey, User, utcnow

KEY_PATTERN = re.compile(r"ca_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
PREFIX_PATTERN = re.compile(r"(?:ca_)?([0-9a-f]{8})(?:_.*)?")
MAX_NAME = 100
MAX_ACTIVE_KEYS = 20
MAX_KEY_ID = 2**31 - 1  # ids are INTEGER columns: a larger number from a form is no key, not a database error
LAST_USED_INTERVAL = 60.0  # seconds between two writes of one key's last_used_at


@dataclass(frozen=True)
class KeyOwner:
    """Who a presented key acts for, and which key it was."""

    user_id: int
    email: str
    role: str
    key_id: int
    prefix: str
    key_name: str


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <credential>` header (scheme in any case), or None."""
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def key_prefix(presented: str | None) -> str | None:
    """The public prefix of a well-formed key, or None."""
    match = KEY_PATTERN.fullmatch(presented or "")
    return match.group(1) if match else None


def named_prefix(given: str) -> str | None:
    """The public prefix in what a person typed to name a key (`1a2b3c4d`, `ca_1a2b3c4d_…` or the whole
    key), or None."""
    match = PREFIX_PATTERN.fullmatch(given.strip())
    return match.group(1) if match else None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def shown(prefix: str) -> str:
    """How a key is shown once made: its prefix only."""
    return f"ca_{prefix}_…"


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise UserError("a key needs a name")
    if len(name) > MAX_NAME:
        raise UserError(f"a key's name has at most {MAX_NAME} characters")
    return name


def create_key(db: Database, user_id: int, name: str) -> tuple[ApiKey, str]:
    """Make a key for the user. Returns the stored row and the key itself, which the caller shows once."""
    name = _check_name(name)
    for attempt in range(5):
        prefix = secrets.token_hex(4)
        key = f"ca_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with db.session() as session:
                user = session.scalar(select(User).where(User.id == user_id).with_for_update())
                if user is None:
                    raise UserError(f"no user with id {user_id}")
                if not user.active:
                    raise UserError(f"{user.email} is deactivated")
                active = session.scalar(select(func.count()).select_from(ApiKey).where(
                    ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)))
                if active >= MAX_ACTIVE_KEYS:
                    raise UserError(f"a user may have at most {MAX_ACTIVE_KEYS} active keys; revoke one first")
                row = ApiKey(user_id=user_id, name=name, prefix=prefix, key_hash=hash_key(key), created_at=utcnow())
                session.add(row)
            return row, key
        except IntegrityError:  # the prefix is taken (one in ~4 billion per existing key): draw again
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


# one indexed row: the key by its unique prefix, with its owner's state
_LOOKUP = (select(ApiKey.id, ApiKey.key_hash, ApiKey.revoked_at, ApiKey.name, User.id.label("user_id"),
                  User.email, User.role, User.active)
           .join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == bindparam("prefix")))


@dataclass(frozen=True)
class KeyState:
    """What the database says now of the key with a prefix."""

    key_hash: str
    owner: KeyOwner | None  # None: the key is revoked or its user deactivated

    def owner_of(self, presented: str) -> KeyOwner | None:
        """The owner if `presented` is this key and it may be used."""
        if not hmac.compare_digest(self.key_hash, hash_key(presented)):
            return None
        return self.owner


def key_state(db: Database, prefix: str) -> KeyState | None:
    """The key with this prefix as the database holds it now, or None when there is none (a Core query on
    a pooled connection: no ORM session to set up)."""
    with db.engine.connect() as connection:
        row = connection.execute(_LOOKUP, {"prefix": prefix}).first()
    if row is None:
        return None
    usable = row.revoked_at is None and row.active
    owner = KeyOwner(user_id=row.user_id, email=row.email, role=row.role, key_id=row.id, prefix=prefix,
                     key_name=row.name) if usable else None
    return KeyState(row.key_hash, owner)


def touch(db: Database, owner: KeyOwner, uses: BoundedCache) -> None:
    """Record the use, at most once per LAST_USED_INTERVAL: a write per request would serialise requests on
    the row. The in-process note spares even the UPDATE when this process wrote recently; the WHERE clause
    keeps other processes from rewriting a fresh value."""
    now_mono = time.monotonic()
    last = uses.get(owner.prefix)
    if last is not None and now_mono - last < LAST_USED_INTERVAL:
        return
    uses.put(owner.prefix, now_mono)
    now = utcnow()
    with db.session() as session:
        session.execute(update(ApiKey).where(
            ApiKey.id == owner.key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - timedelta(seconds=LAST_USED_INTERVAL)),
        ).values(last_used_at=now))


def well_formed_prefix(presented) -> str | None:
    """The prefix of a presented credential that has a key's form, or None."""
    match = KEY_PATTERN.fullmatch(presented) if isinstance(presented, str) else None
    return match.group(1) if match else None


def list_keys(db: Database, user_id: int | None = None) -> list[ApiKey]:
    """One user's keys, or everyone's (None, for operators), newest first; revoked keys included."""
    statement = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if user_id is not None:
        statement = statement.where(ApiKey.user_id == user_id)
    with db.session() as session:
        return list(session.scalars(statement))


def revoke_key(db: Database, key_id_or_prefix: int | str, user_id: int | None = None) -> ApiKey:
    """Revoke a key, by id (an int) or by prefix (a str: `1a2b3c4d`, `ca_1a2b3c4d_…` or the whole key).
    With user_id, only that user's key (else "no such key", whether it exists or not). Takes effect on the
    next request in every process: the credential generation counts the change (portal.accounts.verified_keys)."""
    if isinstance(key_id_or_prefix, int) and not isinstance(key_id_or_prefix, bool):
        if not 0 < key_id_or_prefix <= MAX_KEY_ID:
            raise UserError("no such key")
        condition = ApiKey.id == key_id_or_prefix
    elif isinstance(key_id_or_prefix, str) and (prefix := named_prefix(key_id_or_prefix)):
        condition = ApiKey.prefix == prefix
    else:
        raise UserError("no such key")
    with db.session() as session:
        key = session.scalar(select(ApiKey).where(condition).with_for_update())
        if key is None or (user_id is not None and key.user_id != user_id):
            raise UserError("no such key")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
    return key
