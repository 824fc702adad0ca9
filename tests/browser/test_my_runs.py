"""My runs in headless Chromium: a researcher reads each run's file and name, changes the grid's page
size (and it stays while rows are ticked), compares two runs side by side, and deletes one after
confirming. The runs are predicted in-process on real held-out TCGA samples before the browser starts."""
from __future__ import annotations

from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, cohort_csv, finished_run, user_of

QUEUED = 10  # runs that never start (no job picks them up): enough rows for a second page of 10


def _make_runs(app, tcga, registry) -> tuple[str, str]:
    with app.server.test_request_context():
        portal = app.server.extensions["cancer_alpha"]
        owner = user_of(portal, "researcher")
        upload = runs.save_upload(portal, owner.id, "second-cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                                  data_use=DATA_USE).upload
        for _ in range(QUEUED):
            runs.queue_run(portal, upload.id, owner.id, "researcher")
        named = runs.queue_run(portal, upload.id, owner.id, "researcher", name="second batch")
        runs.execute_run(portal, named.id)
        first = finished_run(portal, tcga, registry, n=4)  # the newest: listed first, from "cohort.csv"
    return first.id, named.id


def _tick(dash_duo, run_id: str) -> None:
    dash_duo.find_element(f"#runs-grid .ag-row[row-id='{run_id}'] .ag-selection-checkbox input").click()


def _page_summary(dash_duo, text: str) -> None:
    dash_duo.wait_for_contains_text("#runs-grid .ag-paging-row-summary-panel", text, timeout=10)


def test_my_runs_names_files_pages_compares_and_deletes(signed_in, app, tcga, registry):
    first, named = _make_runs(app, tcga, registry)
    dash_duo = signed_in("researcher")
    dash_duo.wait_for_page(url=dash_duo.server.url + "/runs")
    dash_duo.wait_for_contains_text("#runs-grid", "second batch", timeout=20)
    assert "cohort.csv" in dash_duo.find_element("#runs-grid").text
    assert "second-cohort.csv" in dash_duo.find_element("#runs-grid").text
    _page_summary(dash_duo, f"1 to {QUEUED + 2} of {QUEUED + 2}")

    dash_duo.find_element("#runs-grid .ag-paging-page-size .ag-picker-field-wrapper").click()  # the page-size box
    next(e for e in dash_duo.find_elements(".ag-select-list .ag-list-item") if e.text.strip() == "10").click()
    _page_summary(dash_duo, f"1 to 10 of {QUEUED + 2}")
    _tick(dash_duo, first)
    _tick(dash_duo, named)
    dash_duo.wait_for_element("#runs-compare:not([disabled])", timeout=10)
    _page_summary(dash_duo, f"1 to 10 of {QUEUED + 2}")  # the chosen page size stays while rows are ticked

    dash_duo.find_element("#runs-compare").click()
    dash_duo.wait_for_contains_text("#compare-agreement", "3 samples are in both runs (1 only in A, 0 only in B)",
                                    timeout=30)
    dash_duo.wait_for_contains_text("#compare-agreement", "agreement 100.0%")
    dash_duo.wait_for_element("#compare-class-counts .main-svg", timeout=20)
    dash_duo.wait_for_contains_text("#compare-confidence", "Median confidence")

    dash_duo.wait_for_page(url=dash_duo.server.url + "/runs")
    dash_duo.wait_for_contains_text("#runs-grid", "second batch", timeout=20)
    _tick(dash_duo, named)
    dash_duo.wait_for_element("#runs-delete-button:not([disabled])", timeout=10).click()
    alert = WebDriverWait(dash_duo.driver, 10).until(expected_conditions.alert_is_present())
    assert 'Delete "second batch" (second-cohort.csv)?' in alert.text
    alert.accept()
    dash_duo.wait_for_contains_text("#runs-message", 'Deleted "second batch"', timeout=20)
    _page_summary(dash_duo, f"of {QUEUED + 1}")
    dash_duo.wait_for_no_elements(f'#runs-grid .ag-row[row-id="{named}"]', timeout=10)  # once its fade-out ends
    assert "second batch" not in dash_duo.find_element("#runs-grid").text
    assert dash_duo.get_logs() == []
