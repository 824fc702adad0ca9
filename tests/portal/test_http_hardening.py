"""HTTP hardening on real portals (SQLite; nothing here depends on the database kind): the client's
address behind trusted proxies only (real Flask-Limiter on memory), CORS closed unless origins are named
and then only for the API, signed-out paths matched exactly, and a token checked by every form post
outside Dash. Addresses are from the documentation ranges (RFC 5737)."""
from __future__ import annotations

import re

import flask
import pytest
from sqlalchemy import select

from portal.accounts.api_keys import create_key
from portal.core.models import AuditEvent, SignInThrottle
from portal.http_hardening import is_api_path, is_public
from tests.helpers import ADMIN_EMAIL, MODEL, auth, sign_in, user_of

LAB = "https://lab.example.org"


def _token(client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def _failed_sign_in(client, forwarded_for: str):
    return client.post("/login", data={"email": ADMIN_EMAIL, "password": "not the password", "csrf": _token(client)},
                       headers={"X-Forwarded-For": forwarded_for}).status_code


def _sign_in_events(app) -> list[AuditEvent]:
    with app.server.extensions["cancer_alpha"].db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "sign-in")))


# -- behind a proxy ---------------------------------------------------------------------------------

def test_without_trusted_proxies_a_spoofed_forwarded_for_gets_no_fresh_limit(make_portal):
    app = make_portal(login_rate_limit="3 per minute", trusted_proxy_hops=0)
    client = app.server.test_client()
    answers = [_failed_sign_in(client, f"203.0.113.{n}") for n in range(1, 5)]
    assert answers == [401, 401, 401, 429]
    assert {e.ip for e in _sign_in_events(app)} == {"127.0.0.1"}  # the socket's address, never the header's


def test_behind_one_proxy_the_rightmost_address_is_the_client(make_portal):
    app = make_portal(login_rate_limit="3 per minute", trusted_proxy_hops=1)
    client = app.server.test_client()  # the proxy connects from 127.0.0.1 and appends the client's address
    spoofed = [_failed_sign_in(client, f"198.51.100.{n}, 203.0.113.7") for n in range(1, 5)]
    assert spoofed == [401, 401, 401, 429]  # what the client wrote before the proxy's entry changes nothing
    assert [_failed_sign_in(client, "203.0.113.8") for _ in range(2)] == [401, 401]  # another client: its own limit
    assert [e.ip for e in _sign_in_events(app)] == ["203.0.113.7"] * 3 + ["203.0.113.8"] * 2
    with app.server.extensions["cancer_alpha"].db.session() as session:
        throttled = {(t.client, t.failures) for t in session.scalars(select(SignInThrottle))}
    assert throttled == {("203.0.113.7", 3), ("203.0.113.8", 2)}  # the sign-in throttle sees the client too


def test_behind_one_proxy_the_scheme_and_host_are_the_proxys(make_portal):
    app = make_portal(trusted_proxy_hops=1)
    seen = {}

    @app.server.after_request  # made up for this test: notes what the app saw
    def note(response):
        seen.update(scheme=flask.request.scheme, host=flask.request.host, address=flask.request.remote_addr)
        return response

    app.server.test_client().get("/login", headers={
        "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "portal.example.org"})
    assert seen == {"scheme": "https", "host": "portal.example.org", "address": "203.0.113.9"}


# -- CORS -------------------------------------------------------------------------------------------

def _preflight(client, path: str, origin: str = LAB):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "authorization, content-type"})


def test_cors_is_closed_by_default(make_portal):
    client = make_portal().server.test_client()
    for answer in (_preflight(client, f"/api/v1/models/{MODEL}/predict"),
                   client.get("/api/v1/health", headers={"Origin": LAB})):
        assert "Access-Control-Allow-Origin" not in answer.headers


def test_cors_opens_the_api_to_the_named_origins_only(make_portal):
    app = make_portal(cors_origins=(LAB,))
    client = app.server.test_client()
    with app.server.test_request_context():
        _, key = create_key(app.server.extensions["cancer_alpha"].db,
                            user_of(app.server.extensions["cancer_alpha"], "researcher").id, "browser app")
    preflight = _preflight(client, f"/api/v1/models/{MODEL}/predict")
    assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == LAB
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers  # keys, never cookies
    listed = client.get("/api/v1/models", headers={"Origin": LAB, **auth(key)})
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == LAB
    refused = client.get("/api/v1/models", headers={"Origin": LAB})  # no key: the error is readable there
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == LAB
    for answer in (_preflight(client, f"/api/v1/models/{MODEL}/predict", "https://evil.example"),
                   client.get("/api/v1/models", headers={"Origin": "https://evil.example", **auth(key)})):
        assert "Access-Control-Allow-Origin" not in answer.headers
    for path in ("/login", "/", "/_dash-layout", "/_dash-update-component", "/assets/bootstrap.min.css"):
        assert "Access-Control-Allow-Origin" not in _preflight(client, path).headers, path
        assert "Access-Control-Allow-Origin" not in client.get(path, headers={"Origin": LAB}).headers, path


# -- signed-out paths -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/loginX", "/healthX", "/login/../admin", "/logoutX", "/metricsX",
                                  "/assets/../admin", "/api/v1/../../admin", "/_favicon.icoX"])
def test_public_paths_are_matched_exactly(make_portal, path):
    assert not is_public(path) and not is_api_path(path)  # the sign-in guard skips API paths only
    answer = make_portal().server.test_client().get(path)
    if path.startswith("/api/"):  # the guard answers what looks like the API in JSON
        assert answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    else:
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next="), path


def test_the_public_paths_stay_reachable(make_portal):
    client = make_portal().server.test_client()
    assert client.get("/login").status_code == 200 and client.get("/health").status_code == 200
    assert client.get("/assets/bootstrap.min.css").status_code == 200
    assert client.get("/api/v1/health").status_code == 200 and client.get("/api/v1/models").status_code == 401


# -- CSRF -------------------------------------------------------------------------------------------

FORM_POSTS = {"/login", "/logout"}  # the portal's own server-rendered forms, each with the session's token
DASH_CALLBACKS = "/_dash-update-component"


def _post_routes(app) -> set[str]:
    return {rule.rule for rule in app.server.url_map.iter_rules() if "POST" in rule.methods}


def test_every_post_route_is_a_form_with_a_token_the_api_or_dash(make_portal):
    routes = _post_routes(make_portal())
    api = {route for route in routes if route.startswith("/api/v1/")}
    assert routes == FORM_POSTS | api | {DASH_CALLBACKS}, "a new POST route: check a token there, and list it here"


@pytest.mark.parametrize("path", sorted(FORM_POSTS))
@pytest.mark.parametrize("token", [None, "a-wrong-token"])
def test_form_posts_without_the_sessions_token_are_refused(make_portal, path, token):
    app = make_portal()
    client = app.server.test_client()
    assert sign_in(client, ADMIN_EMAIL).status_code == 302
    data = {"email": ADMIN_EMAIL, "password": "correct horse battery staple"} | ({"csrf": token} if token else {})
    assert client.post(path, data=data).status_code == 400
    assert client.get("/_dash-layout").status_code == 200  # still signed in: the post changed nothing


def test_api_posts_take_no_authority_from_the_session_cookie(make_portal):
    app = make_portal()
    client = app.server.test_client()
    assert sign_in(client, ADMIN_EMAIL).status_code == 302
    api = sorted(route for route in _post_routes(app) if route.startswith("/api/v1/"))
    for route in api:
        path = route.replace("<name>", MODEL).replace("<path:rest>", "no-such-endpoint")
        answer = client.post(path, json={"samples": [], "sample": {}})
        assert answer.status_code in (401, 404), (route, answer.status_code)  # only a bearer key counts


def test_dash_callbacks_take_json_from_the_portals_own_pages_only(make_portal):
    client = make_portal().server.test_client()
    assert sign_in(client, ADMIN_EMAIL).status_code == 302
    form = client.post(DASH_CALLBACKS, data={"output": "account-message.children"})  # what a forged form sends
    assert form.status_code == 415
    text = client.post(DASH_CALLBACKS, data="{}", content_type="text/plain")
    assert text.status_code == 415
    cross_site = client.post(DASH_CALLBACKS, json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    same_site = client.post(DASH_CALLBACKS, json={}, headers={"Sec-Fetch-Site": "same-site"})
    assert same_site.status_code == 403
    own = client.post(DASH_CALLBACKS, json={}, headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code not in (403, 415)  # reaches Dash (which answers the empty body as it does)
