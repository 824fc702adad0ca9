"""Users, roles, hashed passwords, and sign-in throttled per account and address, on SQLite and
PostgreSQL (the addresses are documentation ranges)."""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.accounts.passwords import WeakPassword
from portal.accounts.users import (UserError, authenticate, blocked_addresses, change_password, create_user,
                                   ensure_admin, find_user, set_active, set_role)
from portal.core.models import SignInThrottle, utcnow
from portal.core.settings import Settings
from tests.helpers import PASSWORD


@pytest.fixture
def db(migrated_db):
    return migrated_db


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(environ={}, var_dir=tmp_path, secret_key="x" * 40)


def test_passwords_are_stored_with_argon2id(db):
    user = create_user(db, "Ada@Example.org", "Ada", "researcher", PASSWORD)
    assert user.email == "ada@example.org"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_creation_rules(db):
    create_user(db, "a@example.org", "A", "analyst", PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        create_user(db, "A@example.org", "A again", "analyst", PASSWORD)
    with pytest.raises(UserError, match="role must be one of"):
        create_user(db, "b@example.org", "B", "superuser", PASSWORD)
    with pytest.raises(UserError, match="not an e-mail"):
        create_user(db, "b-at-example.org", "B", "analyst", PASSWORD)
    with pytest.raises(WeakPassword, match="at least 12"):
        create_user(db, "b@example.org", "B", "analyst", "short")


def test_the_last_admin_cannot_be_demoted_or_deactivated(db):
    admin = create_user(db, "root@example.org", "Root", "admin", PASSWORD)
    with pytest.raises(UserError, match="without an active administrator"):
        set_role(db, admin.id, "analyst")
    with pytest.raises(UserError, match="without an active administrator"):
        set_active(db, admin.id, False)
    other = create_user(db, "second@example.org", "Second", "admin", PASSWORD)
    assert set_role(db, admin.id, "clinician").role == "clinician"
    assert set_active(db, other.id, True).active


def _unblock(db, email: str, client: str) -> None:
    """As if the block ran out."""
    with db.session() as session:
        session.execute(update(SignInThrottle).where(SignInThrottle.email == email, SignInThrottle.client == client)
                        .values(blocked_until=utcnow() - timedelta(seconds=1)))


def _blocked_for(db, email: str, client: str) -> timedelta:
    with db.session() as session:
        until = session.scalar(select(SignInThrottle.blocked_until).where(SignInThrottle.email == email,
                                                                          SignInThrottle.client == client))
    return until - utcnow()


def test_five_failures_refuse_that_address_only_for_longer_each_time(db, settings):
    create_user(db, "c@example.org", "C", "clinician", PASSWORD)
    attacker, owner = "203.0.113.7", "198.51.100.2"  # documentation addresses
    for attempt in range(4):
        assert authenticate(db, settings, "c@example.org", "wrong password!", attacker).reason == "wrong-password"
    assert authenticate(db, settings, "c@example.org", "wrong password!", attacker).reason == "locked"
    assert authenticate(db, settings, "c@example.org", PASSWORD, attacker).reason == "locked"  # even the right one
    assert timedelta(minutes=14) < _blocked_for(db, "c@example.org", attacker) <= timedelta(minutes=15)
    assert authenticate(db, settings, "c@example.org", PASSWORD, owner).reason == "ok"  # no lock-out for everyone
    assert blocked_addresses(db) == {"c@example.org": 1}
    _unblock(db, "c@example.org", attacker)
    assert authenticate(db, settings, "c@example.org", "wrong again!", attacker).reason == "locked"  # at once
    assert timedelta(minutes=29) < _blocked_for(db, "c@example.org", attacker) <= timedelta(minutes=30)  # doubled
    _unblock(db, "c@example.org", attacker)
    assert authenticate(db, settings, "c@example.org", PASSWORD, attacker).reason == "ok"  # and forgotten
    assert authenticate(db, settings, "c@example.org", "wrong password!", attacker).reason == "wrong-password"


def test_unknown_accounts_are_throttled_like_known_ones(db, settings):
    for attempt in range(4):
        assert authenticate(db, settings, "nobody@example.org", "guess", "203.0.113.9").reason == "unknown"
    assert authenticate(db, settings, "nobody@example.org", "guess", "203.0.113.9").reason == "locked"


def test_a_refusal_does_the_same_work_as_a_check(db, settings):
    """A refused address waits for the password hash like anyone: no timing says it was refused."""
    create_user(db, "e@example.org", "E", "analyst", PASSWORD)

    def median_seconds(client: str) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            authenticate(db, settings, "e@example.org", "wrong password!", client)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    for attempt in range(5):
        authenticate(db, settings, "e@example.org", "wrong password!", "203.0.113.1")
    refused, checked = median_seconds("203.0.113.1"), median_seconds("203.0.113.2")
    assert refused > 0.6 * checked  # before: about 60 ms against 300 ms


def test_unknown_and_inactive(db, settings):
    assert authenticate(db, settings, "nobody@example.org", PASSWORD).reason == "unknown"
    user = create_user(db, "d@example.org", "D", "analyst", PASSWORD)
    set_active(db, user.id, False)
    assert authenticate(db, settings, "d@example.org", PASSWORD).reason == "inactive"


def test_change_password(db):
    user = create_user(db, "e@example.org", "E", "analyst", PASSWORD)
    with pytest.raises(UserError, match="current password is wrong"):
        change_password(db, user.id, "not it at all", "another long password")
    changed = change_password(db, user.id, PASSWORD, "another long password")
    assert changed.password_changed_at > user.password_changed_at


def test_first_admin_from_settings_or_made_up(db, tmp_path):
    made_up = ensure_admin(db, Settings.from_env(environ={}, var_dir=tmp_path, secret_key="x" * 40,
                                                 admin_email="first@example.org"))
    assert made_up and len(made_up) >= 20
    assert find_user(db, "first@example.org").role == "admin"
    assert ensure_admin(db, Settings.from_env(environ={}, var_dir=tmp_path, secret_key="x" * 40)) is None


def test_users_cli(database_url, monkeypatch, tmp_path, capsys):
    from portal.cli import main

    monkeypatch.setenv("CANCER_ALPHA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CANCER_ALPHA_DATABASE_URL", database_url)
    assert main(["users", "create", "--email", "f@example.org", "--name", "F", "--role", "researcher"]) == 0
    out = capsys.readouterr().out
    assert "created f@example.org (researcher)" in out and "password (shown only now):" in out
    assert main(["users", "set-role", "f@example.org", "clinician"]) == 0
    assert main(["users", "deactivate", "f@example.org"]) == 0
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "f@example.org" in listing and "clinician" in listing and "deactivated" in listing
    assert main(["users", "set-role", "ghost@example.org", "analyst"]) == 2
    assert "no user with e-mail ghost@example.org" in capsys.readouterr().err
