"""Sessions end after `session_idle_minutes` without a request and `session_hours` after their sign-in,
audited as sign-out with the reason; the sign-in page says why. Real portals (SQLite: the times live in
the signed session cookie, not in the database); a session made old by editing its times through the
test client's session_transaction."""
from __future__ import annotations

import time

from sqlalchemy import select

from portal.accounts.signin import SEEN_AT, SIGNED_IN_AT
from portal.core.models import AuditEvent
from tests.helpers import ADMIN_EMAIL, sign_in


def _signed_in(app):
    client = app.server.test_client()
    assert sign_in(client, ADMIN_EMAIL).status_code == 302
    return client


def _age(client, key: str, seconds: int) -> None:
    with client.session_transaction() as session:
        session[key] = session[key] - seconds


def _last_event(app):
    with app.server.extensions["cancer_alpha"].db.session() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()


def test_an_idle_session_is_ended_and_the_sign_in_page_says_so(make_portal):
    app = make_portal(session_idle_minutes=1)
    client = _signed_in(app)
    _age(client, SEEN_AT, 59)
    assert client.get("/_dash-layout").status_code == 200  # not idle yet
    _age(client, SEEN_AT, 61)
    answer = client.get("/models")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login?next=/models"
    event = _last_event(app)
    assert (event.action, event.actor, event.details) == ("sign-out", ADMIN_EMAIL, {"reason": "idle"})
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Your session ended after 1 minute without activity" in page
    assert client.get("/_dash-layout").status_code == 401  # signed out on every route
    assert sign_in(client, ADMIN_EMAIL).status_code == 302 and client.get("/_dash-layout").status_code == 200


def test_dash_routes_of_an_idle_session_answer_401_saying_why(make_portal):
    app = make_portal(session_idle_minutes=30)
    client = _signed_in(app)
    _age(client, SEEN_AT, 30 * 60 + 1)
    answer = client.get("/_dash-layout")
    assert answer.status_code == 401
    assert answer.json["error"]["message"].startswith("Your session ended after 30 minutes without activity")


def test_a_session_ends_at_its_lifetime_however_busy(make_portal):
    app = make_portal(session_hours=2)
    client = _signed_in(app)
    _age(client, SIGNED_IN_AT, 2 * 3600 + 1)  # last seen just now
    answer = client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert _last_event(app).details == {"reason": "lifetime"}
    assert "Your session ended 2 hours after you signed in" in client.get("/login").get_data(as_text=True)


def test_last_seen_is_written_at_most_once_a_minute(make_portal):
    client = _signed_in(make_portal())
    with client.session_transaction() as session:
        first = session[SEEN_AT]
    quiet = client.get("/_dash-layout")
    assert quiet.status_code == 200 and "Set-Cookie" not in quiet.headers  # nothing to write back
    _age(client, SEEN_AT, 61)
    refreshed = client.get("/_dash-layout")
    assert refreshed.status_code == 200 and "Set-Cookie" in refreshed.headers
    with client.session_transaction() as session:
        assert session[SEEN_AT] >= first and abs(session[SEEN_AT] - time.time()) < 5


def test_a_copied_cookie_goes_idle_while_its_owner_carries_on(make_portal):
    app = make_portal(session_idle_minutes=1)
    owner = _signed_in(app)
    copy = app.server.test_client()  # a cookie copied now, then left unused
    copy.set_cookie("session", owner.get_cookie("session").value)
    _age(copy, SEEN_AT, 61)
    assert copy.get("/_dash-layout").status_code == 401
    assert owner.get("/_dash-layout").status_code == 200
