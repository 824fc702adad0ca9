"""New passwords: at least 12 characters and not on the shipped list of common passwords (compared
case-insensitively); the Account page's current-password check throttled per account and address, each
failure audited. On SQLite and PostgreSQL."""
from __future__ import annotations

import gzip

import pytest
from sqlalchemy import select

from portal.accounts.passwords import COMMON_PASSWORDS, WeakPassword, check_strength, common_passwords, generate_password
from portal.core.models import AuditEvent, SignInThrottle
from tests.helpers import PASSWORD, email_of, sign_in, user_of


def test_the_shipped_list_is_the_published_one_and_cited():
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert len(lines) == len(common_passwords()) == 19_640  # Django 5.2.8's copy of Royce Williams' list
    assert lines[:4] == ["123456", "123456789", "qwerty", "password"]
    readme = (COMMON_PASSWORDS.parent / "README.md").read_text()
    assert "BSD-3-Clause" in readme and "Royce Williams" in readme
    assert "Redistribution and use" in (COMMON_PASSWORDS.parent / "LICENSE.django").read_text()


@pytest.mark.parametrize("password", ["q1w2e3r4t5y6", "Q1W2E3R4T5Y6", "QwErTy123456", " 1qaz2wsx3edc ",
                                      "qazwsx edcrfv"])
def test_common_passwords_are_refused_whatever_their_case(password):
    with pytest.raises(WeakPassword, match="list of common passwords"):
        check_strength(password)


@pytest.mark.parametrize("password,message", [("short pass", "at least 12"), ("aaaaaaaaaaaaaaaa", "different")])
def test_short_and_monotonous_passwords_are_refused(password, message):
    with pytest.raises(WeakPassword, match=message):
        check_strength(password)


def test_made_up_and_test_passwords_pass():
    for password in [PASSWORD, *(generate_password() for _ in range(200))]:
        check_strength(password)


def _change(client, current, new, repeat=None):
    return client.post("/_dash-update-component", json={
        "output": "account-message.children", "outputs": {"id": "account-message", "property": "children"},
        "inputs": [{"id": "account-change", "property": "n_clicks", "value": 1}],
        "state": [{"id": "account-current", "property": "value", "value": current},
                  {"id": "account-new", "property": "value", "value": new},
                  {"id": "account-repeat", "property": "value", "value": repeat or new}],
        "changedPropIds": ["account-change.n_clicks"]})


def _message(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["response"]["account-message"]["children"])


def test_the_account_page_refuses_a_common_new_password(client_for):
    assert "list of common passwords" in _message(_change(client_for("analyst"), PASSWORD, "Password1234"))


def test_the_current_password_check_is_throttled_and_audited(app, client_for, db):
    client = client_for("analyst")
    answers = [_message(_change(client, f"guess number {n}", "a brand new long password")) for n in range(6)]
    assert all("current password is wrong" in a for a in answers[:4])
    assert all("too many wrong passwords" in a for a in answers[4:])  # the 5th failure refuses the address
    # refused even with the right password now, from this address
    assert "too many wrong passwords" in _message(_change(client, PASSWORD, "a brand new long password"))
    with db.session() as session:
        failures = session.scalars(select(AuditEvent).where(AuditEvent.action == "password.change")).all()
    assert len(failures) == 7 and {e.outcome for e in failures} == {"failed"}
    assert all(e.actor == email_of("analyst") and e.ip == "127.0.0.1" for e in failures)
    assert all(PASSWORD not in str(e.details) and "guess" not in str(e.details) for e in failures)
    # another address (behind a trusted proxy it would be the client's own) is not refused
    other = app.server.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert sign_in(other, email_of("analyst")).status_code == 302
    assert "Password changed" in _message(_change(other, PASSWORD, "a brand new long password"))


def test_a_right_current_password_clears_the_count(client_for, portal):
    client = client_for("clinician")
    for n in range(3):
        assert "current password is wrong" in _message(_change(client, f"guess {n}", "a brand new long password"))
    assert "Password changed" in _message(_change(client, PASSWORD, "a brand new long password"))
    with portal.db.session() as session:
        rows = session.scalars(select(SignInThrottle).where(
            SignInThrottle.email == user_of(portal, "clinician").email)).all()
    assert rows == []
