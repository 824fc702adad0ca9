"""Users, roles, hashed passwords, and sign-in with lock-out, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from portal.accounts.passwords import WeakPassword
from portal.accounts.users import (UserError, authenticate, change_password, create_user, ensure_admin, find_user,
                                   set_active, set_role)
from portal.core.models import utcnow
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


def test_lock_out_after_five_failures(db, settings):
    create_user(db, "c@example.org", "C", "clinician", PASSWORD)
    for attempt in range(4):
        assert authenticate(db, settings, "c@example.org", "wrong password!").reason == "wrong-password"
    assert authenticate(db, settings, "c@example.org", "wrong password!").reason == "locked"
    assert authenticate(db, settings, "c@example.org", PASSWORD).reason == "locked"  # even the right one
    user = find_user(db, "c@example.org")
    assert user.locked_until - utcnow() > timedelta(minutes=14)
    with db.session() as session:  # fifteen minutes later
        session.get(type(user), user.id).locked_until = utcnow() - timedelta(seconds=1)
    assert authenticate(db, settings, "c@example.org", PASSWORD).reason == "ok"


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
