"""API keys on SQLite and PostgreSQL: made once, stored as a hash, verified answers kept in each process while
the credential generation stands still, so that a revocation, a deactivation or a role change, made by the
portal or directly in the database, applies on the next request in every process (two VerifiedKeys on one
database stand for two workers), listed and revoked from the command line and from the Account page."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from portal.accounts.api_keys import KeyOwner, create_key, hash_key, list_keys, revoke_key
from portal.accounts.users import UserError, create_user, find_user, set_active, set_role
from portal.accounts.verified_keys import VerifiedKeys
from portal.app import create_app
from portal.core.models import ApiKey, AuditEvent, User, utcnow
from tests.helpers import PASSWORD, auth, email_of

KEY = re.compile(r"ca_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def verified(keys_db):
    """One process's verified keys (a portal's)."""
    return VerifiedKeys(keys_db)


@pytest.fixture
def keys_db(migrated_db):
    return migrated_db


@pytest.fixture
def owner(keys_db):
    return create_user(keys_db, "owner@example.org", "Owner", "researcher", PASSWORD)


def _row(db, key_id) -> ApiKey:
    with db.session() as session:
        return session.get(ApiKey, key_id)


def test_create_then_authenticate(keys_db, owner, verified):
    row, key = create_key(keys_db, owner.id, "  analysis server  ")
    assert KEY.fullmatch(key) and key.startswith(f"ca_{row.prefix}_")
    assert row.name == "analysis server" and row.user_id == owner.id and row.revoked_at is None
    assert verified.authenticate(key) == KeyOwner(
        user_id=owner.id, email="owner@example.org", role="researcher", key_id=row.id, prefix=row.prefix,
        key_name="analysis server")


def test_only_a_hash_is_stored(keys_db, owner):
    row, key = create_key(keys_db, owner.id, "k")
    secret = key.split("_", 2)[2]
    assert row.key_hash == hash_key(key) != key and len(row.key_hash) == 64
    with keys_db.session() as session:
        stored = session.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": row.id}).mappings().one()
    for value in stored.values():
        assert key not in str(value) and secret not in str(value)


@pytest.mark.parametrize("presented", [
    None, "", 42, "ca_", "ca__", "not a key", "ca_zzzzzzzz_" + "a" * 43, "CA_12345678_" + "a" * 43,
    "ca_1234567_" + "a" * 43, "ca_12345678_" + "a" * 42, "ca_12345678_" + "a" * 44, "ca_12345678_" + "a" * 42 + "!",
    " ca_12345678_" + "a" * 43, "ca_12345678_" + "a" * 43 + "\n", "x" * 10_000,
])
def test_malformed_strings_are_refused(keys_db, owner, verified, presented):
    assert verified.authenticate(presented) is None


def test_wrong_secret_and_unknown_prefix(keys_db, owner, verified):
    row, key = create_key(keys_db, owner.id, "k")
    wrong_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert verified.authenticate(wrong_secret) is None
    unknown_prefix = f"ca_{'0' * 8 if row.prefix != '0' * 8 else '1' * 8}_{key.split('_', 2)[2]}"
    assert verified.authenticate(unknown_prefix) is None
    assert verified.authenticate(key) is not None  # the wrong secret changed nothing
    assert verified.authenticate(wrong_secret) is None  # nor does the right one just before help it


def test_revocation_takes_effect_at_once(keys_db, owner, verified):
    row, key = create_key(keys_db, owner.id, "k")
    other, other_key = create_key(keys_db, owner.id, "other")
    assert verified.authenticate(key) is not None
    revoked = revoke_key(keys_db, row.prefix)
    assert revoked.revoked_at is not None
    assert verified.authenticate(key) is None
    assert verified.authenticate(other_key) is not None
    revoke_key(keys_db, other.id)  # by id works too
    assert verified.authenticate(other_key) is None
    listed = {k.prefix: k for k in list_keys(keys_db, owner.id)}
    assert set(listed) == {row.prefix, other.prefix} and all(k.revoked_at for k in listed.values())


def test_revoke_by_shown_form_and_unknown(keys_db, owner):
    row, key = create_key(keys_db, owner.id, "k")
    assert revoke_key(keys_db, f"ca_{row.prefix}_…").revoked_at is not None
    first = _row(keys_db, row.id).revoked_at
    assert revoke_key(keys_db, key).revoked_at == first  # revoking again keeps the first time
    for unknown in ("00000000" if row.prefix != "00000000" else "11111111", "nonsense", 10_000, None, True, 0, -1,
                    10**30, 2**31):  # ids beyond an INTEGER column are no key, not a database error
        with pytest.raises(UserError, match="no such key"):
            revoke_key(keys_db, unknown)


def test_a_user_can_revoke_only_their_own_keys(keys_db, owner, verified):
    other = create_user(keys_db, "other@example.org", "Other", "analyst", PASSWORD)
    row, key = create_key(keys_db, owner.id, "k")
    for handle in (row.id, row.prefix):
        with pytest.raises(UserError, match="no such key"):
            revoke_key(keys_db, handle, user_id=other.id)
    assert verified.authenticate(key) is not None and _row(keys_db, row.id).revoked_at is None
    assert revoke_key(keys_db, row.id, user_id=owner.id).revoked_at is not None


def test_deactivation_and_role_changes_apply_in_every_process(keys_db, owner):
    first, second = VerifiedKeys(keys_db), VerifiedKeys(keys_db)  # two processes': nothing to clear in either
    row, key = create_key(keys_db, owner.id, "k")
    assert first.authenticate(key).role == second.authenticate(key).role == "researcher"
    set_active(keys_db, owner.id, False)
    assert first.authenticate(key) is None and second.authenticate(key) is None
    set_active(keys_db, owner.id, True)
    set_role(keys_db, owner.id, "analyst")
    assert first.authenticate(key).role == second.authenticate(key).role == "analyst"
    revoke_key(keys_db, row.id)  # as the command line would, in a third process
    assert first.authenticate(key) is None and second.authenticate(key) is None


class LookupCounter:
    """Counts the statements that read a key's row (portal.accounts.api_keys.key_state) on an engine."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)
        self._engine = engine

    def _seen(self, _connection, _cursor, statement, *_):
        self.count += "FROM api_keys JOIN users" in statement

    def close(self):
        event.remove(self._engine, "before_cursor_execute", self._seen)


def test_a_kept_answer_spares_the_row_until_the_generation_moves(keys_db, owner, verified):
    row, key = create_key(keys_db, owner.id, "k")
    lookups = LookupCounter(keys_db.engine)
    try:
        assert verified.authenticate(key) is not None and lookups.count == 1
        for _ in range(5):
            assert verified.authenticate(key) is not None
        assert verified.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # wrong secret: no read
        assert lookups.count == 1
        with keys_db.session() as session:  # last_used_at, a password: the generation stands still
            session.get(ApiKey, row.id).last_used_at = utcnow() - timedelta(minutes=5)
            session.get(User, owner.id).last_login_at = utcnow()
        assert verified.authenticate(key) is not None and lookups.count == 1
        create_key(keys_db, owner.id, "another")  # a new key moves nothing either
        assert verified.authenticate(key) is not None and lookups.count == 1
        set_role(keys_db, owner.id, "clinician")
        assert verified.authenticate(key).role == "clinician" and lookups.count == 2
    finally:
        lookups.close()


@pytest.mark.parametrize("change", [
    "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP",
    "UPDATE users SET active = false",
    "DELETE FROM api_keys",
    "UPDATE api_keys SET key_hash = 'x'",
])
def test_a_change_made_in_the_database_itself_applies_on_the_next_request(keys_db, owner, change):
    """An operator's statement in the database's own shell, past the portal: the triggers count it."""
    first, second = VerifiedKeys(keys_db), VerifiedKeys(keys_db)
    _, key = create_key(keys_db, owner.id, "k")
    assert first.authenticate(key) is not None and second.authenticate(key) is not None
    with keys_db.engine.begin() as connection:
        connection.execute(text(change))
    assert first.authenticate(key) is None and second.authenticate(key) is None


def test_a_role_changed_in_the_database_itself_applies_on_the_next_request(keys_db, owner, verified):
    _, key = create_key(keys_db, owner.id, "k")
    assert verified.authenticate(key).role == "researcher"
    with keys_db.engine.begin() as connection:
        connection.execute(text("UPDATE users SET role = 'analyst'"))
    assert verified.authenticate(key).role == "analyst"


def test_an_unreadable_generation_reads_the_row_every_time(keys_db, owner, verified):
    """With the generation's row gone (nothing to trust), every request reads the key again: still right."""
    row, key = create_key(keys_db, owner.id, "k")
    with keys_db.engine.begin() as connection:
        connection.execute(text("DELETE FROM credential_generation"))
    assert verified.generation() is None
    assert verified.authenticate(key) is not None
    revoke_key(keys_db, row.id)
    assert verified.authenticate(key) is None


def test_last_used_is_written_at_most_once_a_minute(keys_db, owner, verified):
    row, key = create_key(keys_db, owner.id, "k")
    assert _row(keys_db, row.id).last_used_at is None
    before = utcnow()
    verified.authenticate(key)
    first = _row(keys_db, row.id).last_used_at
    assert first is not None and first >= before - timedelta(seconds=1)
    verified.authenticate(key)
    assert _row(keys_db, row.id).last_used_at == first
    VerifiedKeys(keys_db).authenticate(key)  # another process: the UPDATE's condition spares a fresh value
    assert _row(keys_db, row.id).last_used_at == first
    with keys_db.session() as session:  # two minutes later
        session.get(ApiKey, row.id).last_used_at = first - timedelta(minutes=2)
    VerifiedKeys(keys_db).authenticate(key)
    assert _row(keys_db, row.id).last_used_at > first - timedelta(minutes=2)


def test_names_and_the_active_key_limit(keys_db, owner):
    for bad in ("", "   ", None, "x" * 101):
        with pytest.raises(UserError):
            create_key(keys_db, owner.id, bad)
    assert create_key(keys_db, owner.id, "x" * 100)[0].name == "x" * 100
    made = [create_key(keys_db, owner.id, f"key {n}")[0] for n in range(19)]
    with pytest.raises(UserError, match="at most 20 active keys"):
        create_key(keys_db, owner.id, "one too many")
    revoke_key(keys_db, made[0].id)
    create_key(keys_db, owner.id, "room again")
    assert len(list_keys(keys_db, owner.id)) == 21
    other = create_user(keys_db, "other@example.org", "Other", "analyst", PASSWORD)
    create_key(keys_db, other.id, "theirs")  # the limit is per user
    assert len(list_keys(keys_db)) == 22 and len(list_keys(keys_db, other.id)) == 1
    with pytest.raises(UserError, match="no user"):
        create_key(keys_db, 999_999, "k")
    set_active(keys_db, other.id, False)
    with pytest.raises(UserError, match="deactivated"):
        create_key(keys_db, other.id, "k")


def test_keys_cli(keys_db, owner, database_url, monkeypatch, tmp_path, capsys, verified):
    import logging

    from portal.cli import main

    monkeypatch.setattr(logging, "basicConfig", lambda **_: None)  # no handler left on capsys's stream
    monkeypatch.setenv("CANCER_ALPHA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CANCER_ALPHA_DATABASE_URL", database_url)
    assert main(["keys", "create", "--user", "Owner@example.org", "--name", "nightly job"]) == 0
    out = capsys.readouterr().out
    keys = KEY.findall(out)
    assert len(keys) == 1 and "shown only now" in out
    key = keys[0]
    prefix = key[3:11]
    assert verified.authenticate(key).email == "owner@example.org"

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"ca_{prefix}_…" in listing and "owner@example.org" in listing and "nightly job" in listing
    assert key not in listing and key[12:] not in listing
    assert main(["keys", "list", "--user", "owner@example.org"]) == 0
    assert prefix in capsys.readouterr().out

    assert main(["keys", "revoke", prefix]) == 0
    assert "revoked" in capsys.readouterr().out
    # the command line is another process: a portal refuses the key as soon as it reads it again
    assert VerifiedKeys(keys_db).authenticate(key) is None
    assert main(["keys", "list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if prefix in line)
    assert line.rstrip().endswith("UTC")  # the revoked column is filled

    assert main(["keys", "create", "--user", "ghost@example.org", "--name", "x"]) == 2
    assert "no user with e-mail ghost@example.org" in capsys.readouterr().err
    assert main(["keys", "create", "--user", "owner@example.org", "--name", " "]) == 2
    assert "needs a name" in capsys.readouterr().err
    assert main(["keys", "revoke", "ffffffff" if prefix != "ffffffff" else "eeeeeeee"]) == 2
    assert "no such key" in capsys.readouterr().err


# The Account page, over HTTP as the browser calls its callbacks.

def _callback(app, first_output: str) -> str:
    return next(key for key in app.callback_map if key.lstrip(".").startswith(first_output))


def _post(app, client, first_output: str, inputs: list, state: list):
    key = _callback(app, first_output)
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]}
               for o in key.strip(".").split("...") if o]
    payload = {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
               "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
               "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
               "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"]}
    return client.post("/_dash-update-component", json=payload)


def _create(app, client, name):
    return _post(app, client, "account-keys-message.children", [("account-create-key", "n_clicks", 1)],
                 [("account-key-name", "value", name)])


def _revoke(app, client, key_id):
    key = next(k for k in app.callback_map if k.lstrip(".").startswith("account-keys-message.children@"))
    assert "account-revoke-confirm.submit_n_clicks" in {f"{i['id']}.{i['property']}"
                                                        for i in app.callback_map[key]["inputs"]}
    return _post(app, client, "account-keys-message.children@", [("account-revoke-confirm", "submit_n_clicks", 1)],
                 [("account-revoke-key", "value", key_id)])


def test_account_page_creates_and_revokes_own_keys(app, client_for, db):
    verified = app.server.extensions["cancer_alpha"].verified_keys
    researcher = client_for("researcher")
    app.server.test_client().get("/health")
    response = _create(app, researcher, "laptop")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    keys = KEY.findall(body)
    assert len(keys) == 1 and "Copy it now: it is not shown again" in body and "account-new-key" in body
    key = keys[0]
    owner = verified.authenticate(key)
    assert owner.email == "researcher@example.org" and owner.role == "researcher" and owner.key_name == "laptop"
    grid = response.json["response"]["account-keys-grid"]["rowData"]
    assert grid == [{"name": "laptop", "key": f"ca_{owner.prefix}_…", "created": grid[0]["created"],
                     "last_used": grid[0]["last_used"], "status": "active"}]
    assert response.json["response"]["account-revoke-key"]["options"] == [
        {"label": f"laptop (ca_{owner.prefix}_…)", "value": owner.key_id}]

    # another user cannot revoke it: their call changes nothing
    refused = _revoke(app, client_for("clinician"), owner.key_id)
    assert refused.status_code == 200 and "no such key" in refused.get_data(as_text=True)
    assert verified.authenticate(key) is not None and _row(db, owner.key_id).revoked_at is None

    done = _revoke(app, researcher, owner.key_id)
    assert done.status_code == 200 and "is revoked" in done.get_data(as_text=True)
    assert verified.authenticate(key) is None
    assert done.json["response"]["account-revoke-key"]["options"] == []
    assert done.json["response"]["account-keys-grid"]["rowData"][0]["status"].startswith("revoked ")

    with db.session() as session:  # audited by prefix, and the key itself nowhere in the trail
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.like("api-key.%"))))
    seen = {(e.action, e.outcome, e.actor) for e in events}
    assert ("api-key.create", "ok", "researcher@example.org") in seen
    assert ("api-key.revoke", "ok", "researcher@example.org") in seen
    assert ("api-key.revoke", "failed", "clinician@example.org") in seen
    assert all(key not in repr((e.target, e.details)) for e in events)
    assert {e.target for e in events if e.outcome == "ok"} == {owner.prefix}


def test_account_page_create_errors_and_confirm(app, client_for, db):
    analyst = client_for("analyst")
    app.server.test_client().get("/health")
    response = _create(app, analyst, "   ")
    assert response.status_code == 200 and "needs a name" in response.get_data(as_text=True)
    assert not KEY.search(response.get_data(as_text=True))
    assert list_keys(db, find_user(db, "analyst@example.org").id) == []
    confirm = _post(app, analyst, "account-revoke-confirm.displayed", [("account-revoke", "n_clicks", 1)],
                    [("account-revoke-key", "value", None)])
    assert confirm.json["response"]["account-revoke-confirm"]["displayed"] is False
    nothing = _revoke(app, analyst, None)
    assert "Choose a key first" in nothing.get_data(as_text=True)


def test_account_page_lists_only_own_keys(app, db):
    import dash
    from flask_login import login_user

    from portal.accounts.signin import SessionUser

    # the page module as Dash loaded it (importing pages.account again would register the page twice)
    layout = next(page["layout"] for page in dash.page_registry.values() if page["path"] == "/account")

    researcher = find_user(db, "researcher@example.org")
    clinician = find_user(db, "clinician@example.org")
    mine, _ = create_key(db, researcher.id, "mine")
    create_key(db, clinician.id, "theirs")
    with app.server.test_request_context("/account"):
        login_user(SessionUser(researcher))
        rendered = str(layout())
    assert f"ca_{mine.prefix}_…" in rendered and "mine" in rendered and "theirs" not in rendered


# Two portals on one database: two workers. A change made through one applies on the other's next request.

def _admin_change(app, client, trigger: str, user_id: int, role: str | None = None):
    """The Admin page's user change (role, deactivation, reactivation) as the browser posts it."""
    key = next(k for k in app.callback_map if k.startswith("..admin-users-message.children@"))
    inputs = [{"id": d["id"], "property": d["property"], "value": 1 if d["id"] == trigger else None}
              for d in app.callback_map[key]["inputs"]]
    prop = next(d["property"] for d in app.callback_map[key]["inputs"] if d["id"] == trigger)
    return client.post("/_dash-update-component", json={
        "output": key, "inputs": inputs, "changedPropIds": [f"{trigger}.{prop}"],
        "outputs": [{"id": "admin-users-message", "property": "children"},
                    {"id": "admin-users-grid", "property": "rowData"}],
        "state": [{"id": "admin-user", "property": "value", "value": user_id},
                  {"id": "admin-role", "property": "value", "value": role}]})


@pytest.fixture
def second_worker(app):
    """Another portal on the same database and settings, as a second gunicorn worker would be."""
    other = create_app(app.server.extensions["cancer_alpha"].settings)
    yield other.server.test_client()
    other.server.extensions["cancer_alpha"].db.dispose()


def test_a_revocation_on_one_worker_applies_on_the_next_request_of_another(app, client_for, db, second_worker):
    researcher = client_for("researcher")
    key = KEY.findall(_create(app, researcher, "laptop").get_data(as_text=True))[0]
    assert second_worker.get("/api/v1/models", headers=auth(key)).status_code == 200  # read there once
    key_id = list_keys(db, find_user(db, email_of("researcher")).id)[0].id
    assert "is revoked" in _revoke(app, researcher, key_id).get_data(as_text=True)
    refused = second_worker.get("/api/v1/models", headers=auth(key))
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthenticated"


def test_deactivation_and_role_changes_from_the_admin_page_reach_every_worker(app, client_for, db, second_worker):
    clinician = find_user(db, email_of("clinician"))
    _, key = create_key(db, clinician.id, "clinic server")
    url = "/api/v1/models/tcga-mirna-type/explain"
    admin = client_for("admin")
    assert second_worker.get("/api/v1/models", headers=auth(key)).status_code == 200

    assert "deactivated" in _admin_change(app, admin, "admin-deactivate-confirm", clinician.id).get_data(as_text=True)
    assert second_worker.get("/api/v1/models", headers=auth(key)).status_code == 401
    _admin_change(app, admin, "admin-reactivate", clinician.id)
    assert second_worker.get("/api/v1/models", headers=auth(key)).status_code == 200

    assert second_worker.post(url, json={}, headers=auth(key)).status_code == 422  # a clinician may explain
    assert "now analyst" in _admin_change(app, admin, "admin-set-role", clinician.id, "analyst").get_data(as_text=True)
    refused = second_worker.post(url, json={}, headers=auth(key))  # an analyst may not
    assert refused.status_code == 403 and "analyst" in refused.json["error"]["message"]
