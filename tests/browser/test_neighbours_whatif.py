"""The explain page's similar reference samples and what-if panel in headless Chromium, for the miRNA and the
tissue model (brca-subtype's in test_block_upload): the neighbours table and map show when their tab is opened,
and a changed feature in the what-if panel (a read count typed, a binary feature toggled) changes the class
probabilities shown beside the stored ones. Real held-out TCGA and GDSC samples, predicted in-process before
the browser starts; the researcher is the made-up test user."""
from __future__ import annotations

from components.links import explain_href
from portal.predictions import explanations, runs
from tests.browser.explain_steps import open_tab, opened, what_if
from tests.helpers import finished_run

TISSUE = "tissue-of-origin"


def _neighbours_show(dash_duo) -> None:
    open_tab(dash_duo, "Similar reference samples")
    dash_duo.wait_for_element("#explain-neighbours-table tbody tr", timeout=30)
    assert len(dash_duo.find_elements("#explain-neighbours-table tbody tr")) == 10
    dash_duo.wait_for_contains_text("#explain-neighbours-count", "of its 10 most similar training samples", timeout=10)
    dash_duo.wait_for_element("#explain-neighbours-map .main-svg", timeout=30)


def _top_feature(portal, run, sample: str) -> str:
    """The feature that weighed most in the sample's call."""
    shown = explanations.predict_sample(portal, run.id, sample, run.user_id, "researcher")
    return explanations.explain_sample(portal, run, sample, shown.predicted).contributions["top"][0]["feature"]


def test_the_neighbours_table_and_map_show(signed_in, app, tcga, registry):
    with app.server.app_context():
        portal = app.server.extensions["cancer_alpha"]
        run = finished_run(portal, tcga, registry, n=3)
        sample = str(runs.results(portal, run).iloc[0]["sample_id"])
    with app.server.test_request_context():
        top = _top_feature(portal, run, sample)
    dash_duo = signed_in("researcher")
    opened(dash_duo, explain_href(run.id, sample))
    _neighbours_show(dash_duo)
    original, changed = what_if(dash_duo, top, number=0)  # its read count typed as 0, within the range
    assert original != changed
    assert dash_duo.get_logs() == []


def test_a_what_if_toggle_changes_the_probabilities(signed_in, app, gdsc, registry):
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        run = finished_run(portal, gdsc, registry, n=3, model=TISSUE)
        sample = str(runs.results(portal, run).iloc[0]["sample_id"])
        shown = explanations.predict_sample(portal, run.id, sample, run.user_id, "researcher")
        top = _top_feature(portal, run, sample)
    dash_duo = signed_in("researcher")
    opened(dash_duo, explain_href(run.id, sample))
    original, changed = what_if(dash_duo, top)
    assert abs(original[shown.predicted] - shown.confidence) < 1e-9
    assert abs(changed[shown.predicted] - original[shown.predicted]) > 1e-4
    dash_duo.wait_for_element("#explain-whatif-waterfall-changed .main-svg", timeout=30)
    _neighbours_show(dash_duo)
    assert dash_duo.get_logs() == []
