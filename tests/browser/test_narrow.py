"""The portal on a narrow screen (400 px, a phone held upright): the navigation folds behind its toggler,
and Home, Predict, a run's results and a sample's explanation stay usable: their content shows and no
page is wider than the screen. Real held-out TCGA samples, predicted in-process before the browser starts."""
from __future__ import annotations

from urllib.parse import quote

from portal.predictions import runs
from tests.helpers import finished_run

NARROW = 400


def _finished_run(app, tcga, registry) -> tuple[str, str]:
    with app.server.app_context():
        portal = app.server.extensions["cancer_alpha"]
        run = finished_run(portal, tcga, registry, n=5)
        return run.id, str(runs.results(portal, run).iloc[0]["sample_id"])


def _fits(dash_duo) -> bool:
    return dash_duo.driver.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_narrow_screen_folds_the_navigation_and_keeps_pages_usable(signed_in, app, tcga, registry):
    run_id, sample = _finished_run(app, tcga, registry)
    dash_duo = signed_in("researcher")
    dash_duo.driver.set_window_size(NARROW, 900)
    dash_duo.wait_for_page(url=dash_duo.server.url + "/")
    dash_duo.wait_for_element("#home-models", timeout=20)
    toggler, link = dash_duo.find_element("#nav-toggler"), dash_duo.find_element("#nav-predict")
    assert toggler.is_displayed() and not link.is_displayed()  # folded
    toggler.click()
    dash_duo.wait_for_style_to_equal("#nav-collapse", "display", "block", timeout=10)
    link.click()
    dash_duo.wait_for_element("#predict-upload", timeout=20)
    assert dash_duo.find_element("#predict-upload").is_displayed() and _fits(dash_duo)
    for path, ready in ((f"/runs/{run_id}", "#run-grid .ag-row:not(.ag-row-loading)"),
                        (f"/explain/{run_id}/{quote(sample, safe='')}", "#explain-waterfall .main-svg")):
        dash_duo.wait_for_page(url=dash_duo.server.url + path)
        dash_duo.wait_for_element(ready, timeout=30)
        assert _fits(dash_duo), path
    assert dash_duo.get_logs() == []
