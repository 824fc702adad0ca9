"""Dash's address for plotly.js answers with the portal's partial bundle, built from the plotly.js
version that the installed plotly package ships (so an upgrade of plotly asks for `make plotly-bundle`)."""
from __future__ import annotations

import re

import pytest
from plotly.offline import get_plotlyjs_version

from portal.plotly_bundle import DASH_PLOTLY_PATH, TRACES

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_the_pages_load_the_portals_plotly_bundle(app):
    client = app.server.test_client()  # signed out: scripts are public, like Dash's own
    answer = client.get(DASH_PLOTLY_PATH)
    assert answer.status_code == 200 and answer.mimetype == "application/javascript"
    body = answer.get_data()
    banner = re.match(rb"/\* plotly\.js (\S+) \(MIT[^)]*\); traces: ([a-z, ]+) \*/", body)
    assert banner, body[:120]
    assert banner.group(1).decode() == get_plotlyjs_version(), "plotly was upgraded: run `make plotly-bundle`"
    assert tuple(banner.group(2).decode().split(", ")) == TRACES
    assert 1_000_000 < len(body) < 2_000_000  # a quarter of the full bundle's 4.8 MB
    assert "max-age=86400" in answer.headers["Cache-Control"]
    again = client.get(DASH_PLOTLY_PATH, headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304
