"""The API's rate limits, on Flask-Limiter (memory on one machine, Redis when a Redis URL is set):

- a verified caller gets `api_rate_limit` per API key, counted by the key's prefix only once the key was
  verified: wrong secrets sent with someone's prefix never touch that key's quota;
- a request without a valid key spends nothing of anyone's quota; each one refused with 401 counts against
  its client address under `api_auth_failure_limit`, and once an address is past it, its requests without
  a valid key are answered 429 with Retry-After until the window frees a place, while valid keys, from
  there or elsewhere, keep working (limits follow the verified key only). Telling a valid key from another
  costs one indexed row read and a SHA-256 (portal.accounts.api_keys), so refusing early would save little
  and would let one client lock out every key behind its address.

The client address is `request.remote_addr`, which ProxyFix sets from trusted proxies only
(portal.http_hardening), so a forged X-Forwarded-For does not earn a fresh failure budget."""
from __future__ import annotations

import flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from portal.api import caller
from portal.core.settings import Settings


def apply(blueprint: flask.Blueprint, limiter: Limiter, settings: Settings) -> None:
    limiter.limit(settings.api_rate_limit, key_func=_per_key, exempt_when=_unverified,
                  error_message=f"This API key's limit ({settings.api_rate_limit}) is reached; send again after "
                                f"the seconds in Retry-After.")(blueprint)
    limiter.limit(settings.api_auth_failure_limit, key_func=_per_address, exempt_when=_verified, deduct_when=_refused,
                  error_message=f"Too many failed API authentications from your address "
                                f"({settings.api_auth_failure_limit}); send a valid key after the seconds in "
                                f"Retry-After.")(blueprint)


def _verified() -> bool:
    return caller.verified() is not None


def _unverified() -> bool:
    return caller.verified() is None


def _per_key() -> str:
    return f"api-key:{caller.verified().prefix}"


def _per_address() -> str:
    return f"api-auth-failure:{get_remote_address()}"


def _refused(response: flask.Response) -> bool:
    """A failed authentication: the API answers 401 for a missing, malformed, wrong or revoked key."""
    return response.status_code == 401
