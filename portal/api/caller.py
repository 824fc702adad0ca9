"""Who calls the API: the verified owner of the request's API key, worked out once per request.

The rate limits (portal.api.limits) need the caller before the route's own check runs (Flask-Limiter
checks in its before_request hook), so both ask `verified()`, which authenticates the key the first time
and keeps the answer with the request (its WSGI environ: flask.g belongs to the application context, which
a test's or a script's pushed context shares between requests)."""
from __future__ import annotations

import flask

from portal.accounts import api_keys
from portal.accounts.api_keys import KeyOwner
from portal.core import context

_ENVIRON_KEY = "cancer_alpha.api_caller"


def presented_key() -> str | None:
    """The credential of the request's `Authorization: Bearer` header, or None."""
    return api_keys.bearer_token(flask.request.headers.get("Authorization"))


def verified() -> KeyOwner | None:
    """The owner of the request's key when the key is valid now (portal.accounts.verified_keys), else None
    (no key, a malformed, unknown, wrong or revoked key, a deactivated user)."""
    environ = flask.request.environ
    if _ENVIRON_KEY not in environ:
        key = presented_key()
        environ[_ENVIRON_KEY] = context.get().verified_keys.authenticate(key) if key else None
    return environ[_ENVIRON_KEY]
