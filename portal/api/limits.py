"""The API's rate limits, on the `limits` library (the one under Flask-Limiter): memory on one machine
(portal.rate_limit_storage), Redis when a Redis URL is set.

- a verified caller gets `api_rate_limit` per API key, counted by the key's prefix only once the key was
  verified: wrong secrets sent with someone's prefix never touch that key's quota;
- a request without a valid key spends nothing of anyone's quota; each one refused with 401 counts against
  its client address under `api_auth_failure_limit`, and once an address is past it, its requests without
  a valid key are answered 429 with Retry-After until the window frees a place, while valid keys, from
  there or elsewhere, keep working (limits follow the verified key only). Telling a valid key from another
  costs a kept answer or one indexed row read and a SHA-256 (portal.accounts.verified_keys), so refusing early
  would save little and would let one client lock out every key behind its address.

The client address is `request.remote_addr`, which ProxyFix sets from trusted proxies only
(portal.http_hardening), so a forged X-Forwarded-For does not earn a fresh failure budget.

Checked by the API's first before-request hook, not through Flask-Limiter: Flask-Limiter works out which limits
apply to each request anew (the blueprint's, the exemptions, the limit strings parsed again), 8% of an API
call's CPU; here the two limits are parsed once. Answers carry X-RateLimit-Limit, -Remaining and -Reset for the
key's limit. When Redis fails the limits are counted in this process's memory for RETRY_SECONDS, then Redis is
tried again (a limit per process rather than none; the outage is logged once)."""
from __future__ import annotations

import logging
import math
import time

import flask
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from portal.api import caller
from portal.api.errors import ApiError
from portal.core.outage import Outage
from portal.core.settings import Settings
from portal.rate_limit_storage import SweptMemoryStorage

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0
EXEMPT = {"api.health", "api.ready", "api.openapi_document", "api.docs"}  # probes and documents
_COUNTED = "cancer_alpha.api_limit"  # the key's limit this request counted against (WSGI environ)


class ApiLimits:
    def __init__(self, settings: Settings):
        self.per_key, self.per_address = parse(settings.api_rate_limit), parse(settings.api_auth_failure_limit)
        self._key_text, self._address_text = settings.api_rate_limit, settings.api_auth_failure_limit
        self._shared = FixedWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self._local = FixedWindowRateLimiter(SweptMemoryStorage()) if settings.redis_url else self._shared
        self._outage = Outage(log, "rate-limit storage unavailable (%s): limits counted in this process's memory, "
                                   "retried every %.0f s", "rate limits are counted on the shared storage again",
                              RETRY_SECONDS)

    def install(self, blueprint: flask.Blueprint) -> None:
        """First among the API's before-request hooks: a caller past a limit is answered 429 before anything."""
        blueprint.before_request_funcs.setdefault(None, []).insert(0, self._check)
        blueprint.after_request(self._count_refusal)

    def _check(self) -> None:
        if flask.request.endpoint in EXEMPT:
            return
        owner = caller.verified()
        if owner is None:
            if not self._call("test", self.per_address, _address_key()):
                raise self._refused(self.per_address, _address_key(),
                                    f"Too many failed API authentications from your address ({self._address_text}); "
                                    f"send a valid key after the seconds in Retry-After.")
            return
        key = f"cancer-alpha:api-key:{owner.prefix}"
        if not self._call("hit", self.per_key, key):
            raise self._refused(self.per_key, key, f"This API key's limit ({self._key_text}) is reached; send again "
                                                   f"after the seconds in Retry-After.")
        flask.request.environ[_COUNTED] = key

    def _count_refusal(self, response: flask.Response) -> flask.Response:
        """A failed authentication (401 for a missing, malformed, wrong or revoked key) counts against its
        address; a counted call gets its key's limit headers."""
        if response.status_code == 401:
            self._call("hit", self.per_address, _address_key())
        key = flask.request.environ.get(_COUNTED)
        if key is not None:
            reset, remaining = self._call("get_window_stats", self.per_key, key)
            response.headers["X-RateLimit-Limit"] = str(self.per_key.amount)
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Reset"] = str(math.ceil(reset))
        return response

    def _refused(self, limit, key: str, message: str) -> ApiError:
        reset, _ = self._call("get_window_stats", limit, key)
        return ApiError(429, message, headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))})

    def _call(self, method: str, limit, key: str):
        """The shared storage's answer, or this process's memory's while the shared one is failing."""
        limiter = self._shared if self._outage.available else self._local
        try:
            answer = getattr(limiter, method)(limit, key)
        except Exception as error:  # Redis down: counted in memory, never a failed request
            if limiter is self._local:
                raise
            self._outage.failed(error)
            return getattr(self._local, method)(limit, key)
        if limiter is self._shared:
            self._outage.answered()
        return answer


def _address_key() -> str:
    return f"cancer-alpha:api-auth-failure:{flask.request.remote_addr}"
