"""Sign-in and sign-out (Flask-Login), the guard that keeps signed-out callers out, and error pages.

The sign-in page is a plain server-rendered form (no Dash), rate-limited per client address; its
message never says whether an e-mail exists.

A session ends after `session_idle_minutes` without a request, and `session_hours` after its sign-in
whatever happens: the session (a signed cookie) carries its sign-in time and its last-seen time, the
latter refreshed at most once a minute (the cookie is written only then, so a page's concurrent
requests seldom race to write it back). An ended session is audited as `sign-out` with the reason
`idle` or `lifetime` (a press of Sign out: `user`), and the sign-in page says why it ended."""
from __future__ import annotations

import hmac
import secrets
import time
from datetime import timedelta
from urllib.parse import urlparse

import flask
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from markupsafe import Markup, escape

from portal.accounts import audit
from portal.accounts.users import authenticate, end_sessions, get_user
from portal.core import context
from portal.core.errors import json_error
from portal.core.states import AuditOutcome, SignInResult
from portal.http_hardening import is_api_path, is_public

SIGNED_IN_AT, SEEN_AT, ENDED = "signed_in_at", "seen_at", "ended"  # session keys (epoch seconds; a reason)
SEEN_REFRESH_SECONDS = 60
SESSION_ENDED = {"idle": "Your session ended after {idle} without activity. Please sign in again.",
                 "lifetime": "Your session ended {hours} after you signed in. Please sign in again."}
SIGN_IN_FAILED = ("The e-mail or password is wrong, or the account is locked. After {n} failed attempts "
                  "an account is locked for {m} minutes.")

blueprint = flask.Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """What a request knows of its user. The session id includes the password's change time and the
    user's session generation, so a password change signs out every other session, and a sign-out ends
    the user's sessions on the server: a cookie replayed afterwards is refused."""

    def __init__(self, user):
        self.id, self.email, self.name, self.role = user.id, user.email, user.name, user.role
        self._stamp = password_stamp(user)
        self._generation = user.session_generation or 0

    def get_id(self) -> str:
        return f"{self.id}:{self._stamp}:{self._generation}"


def password_stamp(user) -> int:
    """The password's change time in microseconds: part of every session id."""
    return round(user.password_changed_at.timestamp() * 1_000_000)


def load_user(session_id: str):
    try:
        user_id, stamp, generation = (int(part) for part in session_id.split(":"))
    except ValueError:  # not three numbers (an older cookie, or a forged one): signed out
        return None
    user = get_user(context.get().db, user_id)
    if (user is None or not user.active or password_stamp(user) != stamp
            or (user.session_generation or 0) != generation):
        return None
    return SessionUser(user)


def init_login(server: flask.Flask) -> None:
    manager = LoginManager(server)
    manager.user_loader(load_user)
    manager.session_protection = "strong"
    settings = server.extensions[context.EXTENSION].settings
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.production,
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SECURE=settings.production,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        SESSION_REFRESH_EACH_REQUEST=False,  # written when it changes (the last-seen time: once a minute)
    )
    server.before_request(guard)
    server.register_blueprint(blueprint)
    for status in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429):
        server.register_error_handler(status, error_response)


def guard():
    """Signed out: Dash's internal routes answer 401, pages redirect to sign-in. A signed-in session that
    has been idle too long, or lived too long, is ended first. API paths are left to the API's key check:
    it opens no cookie session, and loading the signed-in user there (Flask-Login reads a remember cookie
    too) was a tenth of a millisecond of every API call."""
    if is_api_path(flask.request.path):
        return None
    if current_user.is_authenticated:
        ended = _session_ran_out()
        if ended is None:
            return None
        _end_session(ended)
    if is_public(flask.request.path):
        return None
    if _wants_json():
        return json_error(401, _ended_message(flask.session.get(ENDED)) or "Sign in first.")
    target = flask.request.full_path.rstrip("?")
    return flask.redirect(flask.url_for("auth.login", next=target))


def _session_ran_out() -> str | None:
    """"idle" or "lifetime" when the session has run out; otherwise None, and the last-seen time is
    refreshed (at most once a minute). A session from before these times were kept starts them now."""
    settings, session, now = context.get().settings, flask.session, int(time.time())
    signed_in, seen = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        session[SIGNED_IN_AT] = session[SEEN_AT] = now
        return None
    if now - seen > settings.session_idle_minutes * 60:
        return "idle"
    if now - signed_in > settings.session_hours * 3600:
        return "lifetime"
    if now - seen >= SEEN_REFRESH_SECONDS:
        session[SEEN_AT] = now
    return None


def _end_session(reason: str) -> None:
    audit.record("sign-out", details={"reason": reason})  # while the user is still known
    logout_user()
    flask.session.clear()
    flask.session[ENDED] = reason  # for the sign-in page's notice


def _ended_message(reason: str | None) -> str | None:
    settings = context.get().settings
    template = SESSION_ENDED.get(reason or "")
    if template is None:
        return None
    return template.format(idle=_count(settings.session_idle_minutes, "minute"),
                           hours=_count(settings.session_hours, "hour"))


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def _wants_json() -> bool:
    return flask.request.path.startswith(("/_dash-", "/api/"))


def error_response(error):
    """Dash's internal routes and the API answer in the shared JSON error shape, pages with an HTML page."""
    code = getattr(error, "code", 500)
    message = getattr(error, "description", "")
    if _wants_json():
        return json_error(code, message)
    return _page(f"{code}", f"<h1 class='h4'>{code}</h1><p>{escape(message)}</p><p><a href='/'>Home</a></p>"), code


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a link send a signed-in user anywhere. Browsers
    read a backslash in an address as a slash (`/\\evil.example` is `//evil.example`) and drop tabs and
    line breaks, so a path holding either is refused too."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if (parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(character) < 32 for character in target)):
        return "/"
    return target


def csrf_token() -> str:
    """The session's token for the portal's own forms (sign-in, sign-out): a post without it is refused."""
    token = flask.session.get("form_csrf")
    if not token:
        token = flask.session["form_csrf"] = secrets.token_urlsafe(24)
    return token


def _csrf_ok(form) -> bool:
    return hmac.compare_digest(form.get("csrf", ""), flask.session.get("form_csrf", "") or "-")


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    settings = context.get().settings
    if flask.request.method == "GET":
        if current_user.is_authenticated:
            return flask.redirect(_safe_next(flask.request.args.get("next")))
        return _login_page(notice=_ended_message(flask.session.pop(ENDED, None)))
    form = flask.request.form
    email = form.get("email", "")
    claimed = email.strip().lower()[:254]  # who the form says it is, for the audit trail
    if not _csrf_ok(form):  # a failed sign-in all the same (a forged post, or a stale page)
        audit.record("sign-in", outcome=AuditOutcome.FAILED, target=claimed or None,
                     details={"reason": "form-expired"}, actor=claimed or None)
        return _login_page("The form expired; please sign in again."), 400
    outcome = authenticate(context.get().db, settings, email, form.get("password", ""), flask.request.remote_addr)
    if outcome.reason != SignInResult.OK:
        audit.record("sign-in", outcome=AuditOutcome.FAILED, target=claimed, details={"reason": outcome.reason},
                     user_id=outcome.user.id if outcome.user else None, actor=claimed)
        message = SIGN_IN_FAILED.format(n=settings.lockout_failures, m=settings.lockout_minutes)
        return _login_page(message, email=email), 401
    flask.session.clear()  # a fresh session on sign-in (no fixation)
    login_user(SessionUser(outcome.user))
    flask.session.permanent = True
    flask.session[SIGNED_IN_AT] = flask.session[SEEN_AT] = int(time.time())
    # the form token now, with the sign-in's cookie: made later, by one of a page's concurrent requests,
    # it could be lost to another that writes the session back without it
    csrf_token()
    audit.record("sign-in")
    return flask.redirect(_safe_next(flask.request.args.get("next")))


@blueprint.route("/logout", methods=["GET", "POST"])
def logout():
    """A POST with the session's form token signs out, and ends the user's sessions on the server (every
    browser they are signed in on). A GET changes nothing: it shows the button, so that no link or image
    elsewhere can sign a user out."""
    if not current_user.is_authenticated:
        return flask.redirect(flask.url_for("auth.login"))
    if flask.request.method == "GET":
        return _page("Sign out", flask.render_template_string(LOGOUT_FORM, csrf=csrf_token()))
    if not _csrf_ok(flask.request.form):  # a forged post, or a stale page: the session goes on
        audit.record("sign-out", outcome=AuditOutcome.FAILED, details={"reason": "form-expired"})
        return _page("Sign out", flask.render_template_string(
            LOGOUT_FORM, csrf=csrf_token(), error="The form expired; press Sign out again.")), 400
    end_sessions(context.get().db, current_user.id)
    audit.record("sign-out", details={"reason": "user"})
    logout_user()
    flask.session.clear()
    return flask.redirect(flask.url_for("auth.login"))


def _page(title: str, body: str):
    # trusted markup (bandit B704): callers build body with an autoescaping template or escape()
    return flask.render_template_string(PAGE, title=title, body=Markup(body))  # nosec


def _login_page(error: str | None = None, email: str = "", notice: str | None = None):
    return _page("Sign in", flask.render_template_string(
        LOGIN_FORM, error=error, notice=notice, email=email, csrf=csrf_token(),
        action=flask.url_for("auth.login", next=flask.request.args.get("next") or None)))


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Cancer Alpha</title><link rel="stylesheet" href="/assets/bootstrap.min.css"></head>
<body class="bg-light"><main class="container py-5" style="max-width: 28rem">
<p class="text-muted small mb-1">Cancer Alpha portal · research use only, not for diagnosis</p>
{{ body }}</main></body></html>"""

LOGOUT_FORM = """<h1 class="h4 mb-3">Sign out</h1>
{% if error %}<div id="logout-error" class="alert alert-warning" role="alert">{{ error }}</div>{% endif %}
<form method="post" action="/logout" class="card card-body">
<input type="hidden" name="csrf" value="{{ csrf }}">
<p>This ends your session in every browser you are signed in on.</p>
<button class="btn btn-primary" id="logout-submit" type="submit">Sign out</button>
</form>"""

LOGIN_FORM = """<h1 class="h4 mb-3">Sign in</h1>
{% if notice %}<div id="login-notice" class="alert alert-info" role="status">{{ notice }}</div>{% endif %}
{% if error %}<div id="login-error" class="alert alert-danger" role="alert">{{ error }}</div>{% endif %}
<form method="post" action="{{ action }}" class="card card-body">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label class="form-label" for="login-email">E-mail</label>
<input class="form-control mb-3" id="login-email" name="email" type="email" autocomplete="username" value="{{ email }}" required autofocus>
<label class="form-label" for="login-password">Password</label>
<input class="form-control mb-3" id="login-password" name="password" type="password" autocomplete="current-password" required>
<button class="btn btn-primary" id="login-submit" type="submit">Sign in</button>
</form>"""
