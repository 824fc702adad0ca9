"""Security headers on every response: a Content-Security-Policy as strict as Dash allows, and the
headers that stop sniffing, framing by other sites, leaking addresses in the referrer, and browser
features the portal never uses; HSTS in production. A route that sets its own policy (the notebook
report, portal.notebooks.files) keeps it.

What Dash needs, and why:
- script-src: Dash's scripts are files of this site, but its index page starts the renderer with an
  inline script, and each clientside callback is an inline script too: those are allowed by their
  sha256 (Dash's own `csp_hashes()`), no other inline script runs;
- style-src 'unsafe-inline': React and plotly.js set style attributes and plotly.js adds <style>
  elements as it draws; no script can come in that way;
- img-src data: plotly.js draws some marks (and the toolbar's icons) from data: URIs."""
from __future__ import annotations

import dash

from portal.core.settings import Settings

HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


def content_security_policy(script_hashes: list[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",  # the portal frames its own notebook reports; no other site frames it
    ])


def install(app: dash.Dash, settings: Settings) -> None:
    """Add the headers to every response of `app`'s server; the policy to the HTML pages (what a browser
    runs). It is worked out again whenever Dash's inline scripts change: Dash adds one (the page title's
    clientside callback) when it sets itself up, on a request that a redirect may already have answered."""
    made: dict[tuple, str] = {}

    def policy() -> str:
        hashes = tuple(app.csp_hashes())
        if hashes not in made:
            made.clear()
            made[hashes] = content_security_policy(list(hashes))
        return made[hashes]

    @app.server.after_request
    def add_headers(response):
        headers = response.headers
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")  # for browsers without frame-ancestors
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", PERMISSIONS)
        if settings.production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
