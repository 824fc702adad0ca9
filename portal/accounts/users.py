"""Users: creation, roles, deactivation, passwords, and sign-in (and the Account page's password check)
throttled per account and client address."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.accounts.passwords import generate_password, hash_password, verify_password
from portal.accounts.permissions import ADMIN, ROLES
from portal.core.db import Database
from portal.core.models import SignInThrottle, User, utcnow
from portal.core.settings import Settings
from portal.core.states import SignInResult

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class UserError(ValueError):
    """A request about users that cannot be met; the message is safe to show."""


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise UserError(f"{email!r} is not an e-mail address")
    return email


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def create_user(db: Database, email: str, name: str, role: str, password: str) -> User:
    email, role = normalise_email(email), _check_role(role)
    if not (name or "").strip():
        raise UserError("a user needs a name")
    password_hash = hash_password(password)
    with db.session() as session:
        if session.scalar(select(User).where(User.email == email)):
            raise UserError(f"a user with e-mail {email} exists already")
        user = User(email=email, name=name.strip(), role=role, password_hash=password_hash, active=True)
        session.add(user)
    return user


def get_user(db: Database, user_id: int) -> User | None:
    with db.session() as session:
        return session.get(User, user_id)


def find_user(db: Database, email: str) -> User:
    with db.session() as session:
        user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise UserError(f"no user with e-mail {email}")
    return user


def list_users(db: Database) -> list[User]:
    with db.session() as session:
        return list(session.scalars(select(User).order_by(User.email)))


def _update(db: Database, user_id: int, **values) -> User:
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise UserError(f"no user with id {user_id}")
        for key, value in values.items():
            setattr(user, key, value)
    return user


def _keep_an_admin(db: Database, user_id: int) -> None:
    """Refuse a change to an active administrator that would leave none."""
    with db.session() as session:
        target = session.get(User, user_id)
        if target is None or target.role != ADMIN or not target.active:
            return
        admins = session.scalar(select(func.count()).select_from(User).where(
            User.role == ADMIN, User.active.is_(True), User.id != user_id))
    if admins == 0:
        raise UserError("this would leave the portal without an active administrator")


def set_role(db: Database, user_id: int, role: str) -> User:
    _check_role(role)
    if role != ADMIN:
        _keep_an_admin(db, user_id)
    return _update(db, user_id, role=role)


def end_sessions(db: Database, user_id: int) -> None:
    """End every session of the user on the server (portal.accounts.signin: the generation is part of
    each session id): counted up in the database, so every worker refuses the old cookies at once."""
    with db.session() as session:
        session.execute(update(User).where(User.id == user_id)
                        .values(session_generation=User.session_generation + 1))


def set_active(db: Database, user_id: int, active: bool) -> User:
    if not active:
        _keep_an_admin(db, user_id)
    return _update(db, user_id, active=active)


TOO_MANY = "too many wrong passwords from this address; try again later"


def change_password(db: Database, user_id: int, current: str, new: str, settings: Settings | None = None,
                    client: str | None = None) -> User:
    """Set a new password once the current one is checked. With `settings` (the Account page) the check
    is throttled like a sign-in, per (account, client address): `lockout_failures` wrong current
    passwords refuse that address, with the same back-off, and a refused check says so."""
    user = get_user(db, user_id)
    if user is None:
        raise UserError("the current password is wrong")
    if settings is not None:
        _check_current_throttled(db, settings, user, current, client)
    elif not verify_password(user.password_hash, current):
        raise UserError("the current password is wrong")
    if new == current:
        raise UserError("the new password must differ from the current one")
    return _update(db, user_id, password_hash=hash_password(new), password_changed_at=utcnow())


def _check_current_throttled(db: Database, settings: Settings, user: User, current: str, client: str | None) -> None:
    now, refusal = utcnow(), None
    with db.session() as session:  # the count is committed before a refusal is raised
        throttle = _throttle(session, user.email, (client or "unknown")[:64])
        right = verify_password(user.password_hash, current)  # on every path, as at sign-in
        if _refused(throttle, now):
            refusal = TOO_MANY
        elif not right:
            refusal = TOO_MANY if _count_failure(throttle, settings, now) else "the current password is wrong"
        else:
            session.delete(throttle)
    if refusal:
        raise UserError(refusal)


@dataclass
class SignIn:
    user: User | None
    reason: SignInResult


MAX_BLOCK = timedelta(hours=24)


def authenticate(db: Database, settings: Settings, email: str, password: str, client: str | None = None) -> SignIn:
    """Check a sign-in from a client address. `lockout_failures` wrong passwords in a row for one account
    from one address refuse that address for `lockout_minutes`, doubled at each further failure (at most
    a day); the account's owner still signs in from another address, so nobody can lock them out. Every
    path hashes the password once: a refusal takes as long as a check, and tells nothing."""
    client = (client or "unknown")[:64]
    try:
        email = normalise_email(email)
    except UserError:
        verify_password(None, password)
        return SignIn(None, SignInResult.UNKNOWN)
    now = utcnow()
    with db.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        throttle = _throttle(session, email, client)
        right = verify_password(user.password_hash if user else None, password)  # on every path
        if _refused(throttle, now):
            return SignIn(user, SignInResult.LOCKED)
        if user is None or not right:
            if _count_failure(throttle, settings, now):
                return SignIn(user, SignInResult.LOCKED)
            return SignIn(user, SignInResult.UNKNOWN if user is None else SignInResult.WRONG_PASSWORD)
        if not user.active:
            return SignIn(user, SignInResult.INACTIVE)
        session.delete(throttle)
        user.last_login_at = now
        return SignIn(user, SignInResult.OK)


def _refused(throttle: SignInThrottle, now) -> bool:
    return throttle.blocked_until is not None and throttle.blocked_until > now


def _count_failure(throttle: SignInThrottle, settings: Settings, now) -> bool:
    """Count one wrong password for the (account, address); True when that address is now refused."""
    throttle.failures += 1
    throttle.last_failure_at = now
    beyond = throttle.failures - settings.lockout_failures
    if beyond < 0:
        return False
    throttle.blocked_until = now + min(timedelta(minutes=settings.lockout_minutes) * 2 ** min(beyond, 16), MAX_BLOCK)
    return True


def blocked_addresses(db: Database) -> dict[str, int]:
    """Per account e-mail, how many client addresses are refused now after failed sign-ins."""
    with db.session() as session:
        rows = session.execute(select(SignInThrottle.email, func.count()).where(SignInThrottle.blocked_until > utcnow())
                               .group_by(SignInThrottle.email)).all()
    return {email: count for email, count in rows}


def _throttle(session, email: str, client: str) -> SignInThrottle:
    """The (account, address) row, locked for this transaction; made when missing (another request may
    make it at the same moment: then theirs is used)."""
    query = select(SignInThrottle).where(SignInThrottle.email == email, SignInThrottle.client == client)
    found = session.scalar(query.with_for_update())
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(SignInThrottle(email=email, client=client, failures=0, last_failure_at=utcnow()))
    except IntegrityError:
        pass
    return session.scalar(query.with_for_update())


def ensure_admin(db: Database, settings: Settings) -> str | None:
    """On first start (no users at all) create the administrator. Returns the password when it was
    made up here, so the caller prints it once; None otherwise."""
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
    password = settings.admin_password or generate_password()
    try:
        create_user(db, settings.admin_email, "Administrator", ADMIN, password)
    except (UserError, IntegrityError):  # another worker created it a moment ago
        return None
    return None if settings.admin_password else password

