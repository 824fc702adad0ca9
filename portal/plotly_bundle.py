"""The plotly.js the portal's pages load: a partial bundle of the trace types its figures draw
(portal/static/plotly-portal.min.js, about 1.2 MB against the full bundle's 4.8 MB, built from
portal/static/plotly-bundle by `make plotly-bundle`). Dash's graphs load plotly.js, when the first graph
of a page appears, from the address below; the portal answers that address with its own bundle, so a
page without a graph loads none and a page with one parses a quarter of the code. Should a Dash release
move the address, the full bundle is served again: slower pages, nothing broken."""
from __future__ import annotations

from pathlib import Path

import flask

BUNDLE = Path(__file__).resolve().parent / "static" / "plotly-portal.min.js"
DASH_PLOTLY_PATH = "/_dash-component-suites/plotly/package_data/plotly.min.js"
TRACES = ("scatter", "bar", "box", "heatmap", "waterfall")  # what the bundle holds (its first line says so)
CACHE_SECONDS = 24 * 3600


def install(server: flask.Flask) -> None:
    """Answer Dash's plotly.js address with the portal's bundle (a static rule wins over Dash's
    /_dash-component-suites/<package>/<path> rule)."""
    def plotly_js():
        return flask.send_file(BUNDLE, mimetype="application/javascript", max_age=CACHE_SECONDS, conditional=True)

    server.add_url_rule(DASH_PLOTLY_PATH, "plotly_bundle", plotly_js)
