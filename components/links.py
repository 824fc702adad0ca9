"""Paths of the portal's pages that carry ids, built in one place. Every id is percent-encoded as one
path segment (`/`, `?`, `#`, `%`, spaces and non-ASCII characters included), so any sample id an upload
holds reaches its page: the browser keeps `%2F` encoded in `location.pathname`, which is what Dash's page
routing matches (the server-side Werkzeug decoding only serves the same index page), and the page
decodes its segment once with `segment_value`."""
from __future__ import annotations

from urllib.parse import quote, unquote


def segment(value: str) -> str:
    """One path segment holding `value` exactly."""
    return quote(str(value), safe="")


def segment_value(raw: str | None) -> str:
    """The value of a segment built by `segment` (as Dash passes it to a page's layout)."""
    return unquote(raw or "")


def run_href(run_id: str) -> str:
    return f"/runs/{segment(run_id)}"


def explain_href(run_id: str, sample_id: str) -> str:
    """The explain page of one sample of a run."""
    return f"/explain/{segment(run_id)}/{segment(sample_id)}"
