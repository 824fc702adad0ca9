"""Security headers: every page carries a Content-Security-Policy that lets no script run but the site's
own files and, by their sha256, the inline scripts Dash writes into the page; every response stops
sniffing and framing by other sites; HSTS in production. (The browser tests run under this policy:
a script it blocked would be a console error there.)"""
from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.helpers import ADMIN_EMAIL, app_with_test_users, production_settings, sign_in

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


@SQLITE_ONLY
def test_pages_allow_only_the_sites_scripts_and_dashs_own_inline_ones(app):
    client = app.server.test_client()
    assert client.get("/").status_code == 302  # signed out: a redirect first, before Dash sets itself up
    sign_in(client, ADMIN_EMAIL)
    page = client.get("/")
    policy = _directives(page.headers["Content-Security-Policy"])
    html = re.sub(r"<!--.*?-->", "", page.get_data(as_text=True), flags=re.S)  # (Dash's note for old IE)
    inline = [body for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
              if body.strip() and "application/json" not in attributes]
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'" for body in inline}
    assert inline and hashes <= set(policy["script-src"])  # every inline script Dash wrote may run, by its hash
    assert policy["script-src"][0] == "'self'" and not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(
        policy["script-src"])
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["form-action"] == ["'self'"]
    for answer in (page, client.get("/api/v1/health"), client.get("/login")):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in answer.headers["Permissions-Policy"]
        assert "Strict-Transport-Security" not in answer.headers  # development: plain HTTP on loopback
    assert "Content-Security-Policy" in client.get("/login").headers


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # production refuses SQLite
def test_production_adds_hsts(tmp_path, models_root, database_url):
    client = app_with_test_users(production_settings(tmp_path, database_url, models_root)).server.test_client()
    assert client.get("/api/v1/health").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
