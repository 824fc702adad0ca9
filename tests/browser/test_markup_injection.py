"""Markup planted where users type or upload text never runs: in sample ids, a file name, a run name, a user's
name and a failed sign-in's e-mail, shown by My runs, the results grid, the explain page, the navigation bar,
the Admin page's users and audit trail, and a notebook's HTML report. Each page must show the markup as text:
no element is made from it and its handler never runs.

The planted strings and the account are made up; the samples' values are real held-out TCGA samples."""
from __future__ import annotations

from components.links import explain_href
from portal.accounts.users import create_user
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, PASSWORD, held_out_frame, sign_out_browser, submit_sign_in

MARKUP = '<img src=x class=planted onerror="window.__planted=(window.__planted||0)+1">'
PLANTER = "planter@example.org"


def _planted_run(app, tcga, registry) -> tuple[str, str, str]:
    """A finished run of the planter's whose file name, run name and first two sample ids are markup, and a
    finished cohort report over it: (run id, first planted sample id, notebook run id)."""
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        planter = create_user(portal.db, PLANTER, MARKUP, "researcher", PASSWORD)
        frame = held_out_frame(tcga, registry, 6)
        frame.iloc[:2, 0] = [f"{MARKUP}-{n}" for n in (1, 2)]
        saved = runs.save_upload(portal, planter.id, f"{MARKUP}.csv", frame.to_csv(index=False).encode(), MODEL,
                                 data_use=DATA_USE)
        assert saved.upload.status == "valid", saved.upload.validation
        run = runs.queue_run(portal, saved.upload.id, planter.id, "researcher", name=MARKUP[:120])
        runs.execute_run(portal, run.id)
        spec = notebook_catalog.get(portal.caches.notebook_catalog, "cohort_report")
        report = notebook_runs.queue(portal, spec, {"model": MODEL}, planter.id, "researcher", input_run=run.id)
        notebook_runs.execute(portal, report.id)
    return run.id, f"{MARKUP}-1", report.id


def _nothing_ran(dash_duo, where: str, shown: bool = True) -> None:
    driver = dash_duo.driver
    assert driver.execute_script("return window.__planted || 0") == 0, f"planted markup ran on {where}"
    assert driver.find_elements("css selector", "img.planted") == [], f"planted markup became an element on {where}"
    if shown:
        assert "onerror" in driver.find_element("css selector", "body").text, f"{where} does not show the markup"


def test_planted_markup_is_shown_as_text_and_never_runs(dash_duo, app, tcga, registry):
    run_id, sample_id, report_id = _planted_run(app, tcga, registry)
    dash_duo.start_server(app, navigate=False)
    dash_duo.driver.set_window_size(1400, 1000)
    submit_sign_in(dash_duo, MARKUP, "wrong password, planted in the audit trail")  # a failed sign-in's e-mail
    submit_sign_in(dash_duo, PLANTER, PASSWORD)
    dash_duo.wait_for_element("#home-models", timeout=20)
    _nothing_ran(dash_duo, "Home (the user's name in the navigation bar)")

    base = dash_duo.server.url
    dash_duo.driver.get(f"{base}/runs")
    dash_duo.wait_for_contains_text("#runs-grid", "onerror", timeout=20)
    _nothing_ran(dash_duo, "My runs")

    dash_duo.driver.get(f"{base}/runs/{run_id}")
    dash_duo.wait_for_element("#run-grid .ag-row:not(.ag-row-loading)", timeout=30)
    dash_duo.wait_for_contains_text("#run-grid", "onerror", timeout=20)
    _nothing_ran(dash_duo, "the results grid")

    dash_duo.driver.get(base + explain_href(run_id, sample_id))
    dash_duo.wait_for_contains_text("#explain-title", "onerror", timeout=30)
    _nothing_ran(dash_duo, "the explain page")

    dash_duo.driver.get(f"{base}/notebook-runs/{report_id}/report")
    dash_duo.wait_for_element("body", timeout=20)
    dash_duo.wait_for_contains_text("body", "Cohort report", timeout=20)
    _nothing_ran(dash_duo, "the notebook's HTML report", shown=False)  # it summarises the cohort, naming no sample

    dash_duo.driver.get(base + "/")
    sign_out_browser(dash_duo)
    submit_sign_in(dash_duo, "admin@example.org", PASSWORD)
    dash_duo.wait_for_element("#home-models", timeout=20)
    dash_duo.driver.get(f"{base}/admin")
    dash_duo.wait_for_contains_text("#admin-users-grid", "onerror", timeout=20)
    dash_duo.wait_for_contains_text("#admin-audit-grid", "onerror", timeout=20)
    _nothing_ran(dash_duo, "the Admin page")
