"""Sign-in, sign-out, the signed-out guard, cookies, rate limits, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts import signin
from portal.core.models import AuditEvent
from tests.helpers import ADMIN_EMAIL, PASSWORD, make_settings, production_settings, sign_in, sign_out


def test_signed_out_callers_are_kept_out(app):
    client = app.server.test_client()
    health = client.get("/health")
    assert health.status_code == 200 and health.json["database"] is True
    assert health.json == client.get("/api/v1/health").json  # one health check at both addresses
    page = client.get("/performance?model=x")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/performance")
    for route in ("/_dash-layout", "/_dash-dependencies"):
        response = client.get(route)
        assert response.status_code == 401
        assert response.json == {"error": {"code": "unauthenticated", "message": "Sign in first.", "details": []}}
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.get("/assets/bootstrap.min.css").status_code == 200


def test_sign_in_and_out(app, db):
    client = app.server.test_client()
    response = sign_in(client, ADMIN_EMAIL, next_="/models")
    assert response.status_code == 302 and response.headers["Location"] == "/models"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/logout").status_code == 200  # a GET only offers the button: no link signs anyone out
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/logout", data={"csrf": "guess"}).status_code == 400  # a forged post changes nothing
    assert client.get("/_dash-layout").status_code == 200
    assert sign_out(client).status_code == 302
    assert client.get("/_dash-layout").status_code == 401
    with db.session() as session:
        actions = [(e.action, e.outcome) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-3:] == [("sign-in", "ok"), ("sign-out", "failed"), ("sign-out", "ok")]  # the forged post too


def test_a_cookie_replayed_after_sign_out_is_refused(app):
    client, other_browser = app.server.test_client(), app.server.test_client()
    sign_in(client, ADMIN_EMAIL)
    sign_in(other_browser, ADMIN_EMAIL)
    cookie = client.get_cookie("session").value  # what an attacker copied while the user was signed in
    assert sign_out(client).status_code == 302
    replay = app.server.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/_dash-layout").status_code == 401  # the session ended on the server
    assert other_browser.get("/_dash-layout").status_code == 401  # and on every browser of that user
    assert sign_in(client, ADMIN_EMAIL).status_code == 302 and client.get("/_dash-layout").status_code == 200


def test_the_navigation_signs_out_with_a_form_post(app):
    client = app.server.test_client()
    sign_in(client, ADMIN_EMAIL)
    forms = list(_components(client.get("/_dash-layout").json, "Form"))
    assert [(f["props"]["action"], f["props"]["method"]) for f in forms] == [("/logout", "POST")]
    token = client.get("/logout").get_data(as_text=True).split('name="csrf" value="')[1].split('"')[0]
    fields = {c["props"].get("name"): c["props"].get("value") for c in forms[0]["props"]["children"]}
    assert fields["csrf"] == token  # the form carries the session's token


def _components(node, kind: str):
    """The components of type `kind` in a Dash layout (JSON)."""
    if isinstance(node, dict):
        if node.get("type") == kind:
            yield node
        for value in node.get("props", {}).values():
            yield from _components(value, kind)
    elif isinstance(node, list):
        for item in node:
            yield from _components(item, kind)


def test_wrong_password_and_unknown_email_get_the_same_answer(app):
    client = app.server.test_client()
    wrong = sign_in(client, ADMIN_EMAIL, "not the password")
    unknown = sign_in(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail or password is wrong, or the account is locked."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    assert "Traceback" not in wrong.get_data(as_text=True)


def test_lock_out_holds_through_the_web_form(app):
    client = app.server.test_client()
    for _ in range(5):
        assert sign_in(client, "analyst@example.org", "not the password").status_code == 401
    assert sign_in(client, "analyst@example.org", PASSWORD).status_code == 401


def test_open_redirects_and_forged_forms_are_refused(app):
    client = app.server.test_client()
    assert sign_in(client, ADMIN_EMAIL, next_="https://evil.example/").headers["Location"] == "/"
    sign_out(client)
    forged = client.post("/login", data={"email": ADMIN_EMAIL, "password": PASSWORD, "csrf": "guess"})
    assert forged.status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example", "/\\/evil.example",
                                    "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "evil.example"])
def test_a_sign_in_goes_on_to_a_path_of_the_portal_only(target):
    assert signin._safe_next(target) == "/"
    assert signin._safe_next("/runs/abc?tab=2") == "/runs/abc?tab=2"


def test_sign_in_attempts_are_rate_limited(tmp_path, models_root):
    from portal.app import create_app

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", models_root, login_rate_limit="3 per minute")
    client = create_app(settings).server.test_client()
    answers = [sign_in(client, ADMIN_EMAIL, "not the password").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # production refuses SQLite
def test_production_cookies_are_secure(tmp_path, models_root, database_url):
    from portal.app import create_app

    client = create_app(production_settings(tmp_path, database_url, models_root)).server.test_client()
    assert "Secure" in sign_in(client, ADMIN_EMAIL).headers["Set-Cookie"]


def test_password_change_signs_out_other_sessions(app, client_for, db):
    from portal.accounts.users import change_password, find_user

    other = client_for("clinician")
    assert other.get("/_dash-layout").status_code == 200
    change_password(db, find_user(db, "clinician@example.org").id, PASSWORD, "a brand new long password")
    assert other.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("path", ["/no-such-page"])
def test_unknown_pages_are_served_by_dash_404(client_for, path):
    client = client_for("analyst")
    assert client.get(path).status_code == 200  # Dash renders its 404 page in the browser


REDIS_URL = __import__("os").environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_rate_limits_use_redis_when_set(tmp_path, models_root):
    import redis

    from portal.app import create_app

    url = REDIS_URL.rsplit("/", 1)[0] + "/13"  # a database of its own, emptied before and after
    store = redis.Redis.from_url(url)
    store.flushdb()
    try:
        settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", models_root,
                                 redis_url=url, login_rate_limit="2 per minute")
        client = create_app(settings).server.test_client()
        answers = [sign_in(client, ADMIN_EMAIL, "not the password").status_code for _ in range(3)]
        assert answers == [401, 401, 429]
        assert any(b"cancer-alpha" in key for key in store.keys("*"))
    finally:
        store.flushdb()


def test_sign_in_keeps_working_when_redis_is_down(tmp_path, models_root):
    from portal.app import create_app

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", models_root,
                             redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    client = create_app(settings).server.test_client()
    assert sign_in(client, ADMIN_EMAIL).status_code == 302
