"""The API's rate limits on the real `limits` storages, in memory and on Redis: a key's quota is spent only
by requests that key makes (wrong secrets sent with its public prefix spend nothing of it), and failed
authentications are limited per client address (429 with Retry-After) while valid keys, from elsewhere or
from there, keep working; a forged X-Forwarded-For earns no fresh budget. Keys and addresses are made up
(203.0.113.0/24 and 198.51.100.0/24 are documentation networks)."""
from __future__ import annotations

import os

import pytest
import redis

from portal.accounts import api_keys
from portal.accounts.users import find_user
from portal.app import create_app
from tests.helpers import auth, email_of, make_settings

REDIS_URL = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/11"
ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture(params=["memory", "redis"])
def limited(request, tmp_path, models_root):
    """A portal allowing 3 requests a minute per key and 4 failed authentications a minute per address."""
    extra = {}
    if request.param == "redis":
        redis.Redis.from_url(REDIS_URL).flushdb()
        extra["redis_url"] = REDIS_URL
    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'limits.db'}", models_root,
                                   api_rate_limit="3 per minute", api_auth_failure_limit="4 per minute", **extra))
    yield app
    app.server.extensions["cancer_alpha"].db.dispose()
    if request.param == "redis":
        assert redis.Redis.from_url(REDIS_URL).keys("*"), "the limits were counted on Redis"
        redis.Redis.from_url(REDIS_URL).flushdb()


def _key(app, role="admin") -> str:
    db = app.server.extensions["cancer_alpha"].db
    return api_keys.create_key(db, find_user(db, email_of(role)).id, "limits test key")[1]


def _wrong_secret(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _get(client, key: str | None, address: dict):
    return client.get("/api/v1/models", headers=auth(key) if key else {}, environ_base=address)


def test_wrong_secrets_with_a_key_s_prefix_spend_nothing_of_its_quota(limited):
    client, key = limited.server.test_client(), _key(limited)
    for _ in range(3):  # under the failure limit: each is a plain 401
        assert _get(client, _wrong_secret(key), ATTACKER).status_code == 401
    answers = [_get(client, key, ELSEWHERE).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]  # the whole quota of 3 was the owner's


def test_failed_authentications_are_limited_per_address(limited):
    client, key = limited.server.test_client(), _key(limited)
    failures = [_get(client, _wrong_secret(key), ATTACKER).status_code for _ in range(4)]
    assert failures == [401] * 4
    refused = _get(client, _wrong_secret(key), ATTACKER)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"]["code"] == "rate-limited"
    assert "failed API authentications" in refused.json["error"]["message"]
    assert _get(client, None, ATTACKER).status_code == 429  # no key at all: the same address, the same budget
    assert _get(client, "ca_00000000_" + "x" * 43, ATTACKER).status_code == 429
    assert _get(client, key, ELSEWHERE).status_code == 200  # the owner, from elsewhere
    assert _get(client, key, ATTACKER).status_code == 200  # a valid key is limited by its own quota only
    assert _get(client, _wrong_secret(key), ELSEWHERE).status_code == 401  # another address has its budget
    assert client.get("/api/v1/health", environ_base=ATTACKER).status_code == 200  # health is never limited


def test_a_forged_forwarded_for_earns_no_fresh_budget(limited):
    """With no trusted proxy (the default) X-Forwarded-For is not read: the failures stay the sender's."""
    client, key = limited.server.test_client(), _key(limited)
    for n in range(4):
        spoofed = {"X-Forwarded-For": f"192.0.2.{n}", **auth(_wrong_secret(key))}
        assert client.get("/api/v1/models", headers=spoofed, environ_base=ATTACKER).status_code == 401
    spoofed = {"X-Forwarded-For": "192.0.2.200", **auth(_wrong_secret(key))}
    assert client.get("/api/v1/models", headers=spoofed, environ_base=ATTACKER).status_code == 429


def test_successful_requests_do_not_count_as_failures(limited):
    client = limited.server.test_client()
    keys = [_key(limited) for _ in range(3)]
    for key in keys:  # 9 good requests from one address: three keys' quotas, no failure among them
        assert [_get(client, key, ATTACKER).status_code for _ in range(3)] == [200] * 3
    assert [_get(client, None, ATTACKER).status_code for _ in range(5)] == [401] * 4 + [429]
