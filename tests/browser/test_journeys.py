"""Each role's main journey in headless Chromium, one after the other in one browser on one portal (the
background jobs on diskcache, as in the other browser tests): the researcher shares a finished run with
the clinician by e-mail and with every analyst by role; the clinician finds it on Home and My runs,
opens a sample's explanation and records a review signed with their name, which the researcher then
reads on the explanation and in the run's grid; the analyst runs cohort_report on the shared run and
drift_report on a model's held-out split and reads each verdict. No browser console error on the way.

The run is predicted in-process on real held-out TCGA samples before the browser starts (uploading
through the browser is tests/browser/test_predict.py's)."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from components.links import explain_href, run_href
from tests.helpers import (MODEL, PASSWORD, choose, click, email_of, finished_run, notebook_field_selector,
                           sign_out_browser, submit_sign_in)

NOTE = "Agrees with the histology report."  # made-up review note
NOTEBOOK_TIMEOUT = 180  # papermill on 2 shared cores: tens of seconds, more under load


def switch_user(dash_duo, role: str) -> None:
    """Sign the browser out and in again as another role's test user; lands on Home."""
    sign_out_browser(dash_duo)
    submit_sign_in(dash_duo, email_of(role), PASSWORD)
    dash_duo.wait_for_element("#home-models", timeout=20)


def open_page(dash_duo, path: str) -> None:
    dash_duo.wait_for_page(url=dash_duo.server.url + path)


def researcher_shares(dash_duo, run_id: str) -> None:
    open_page(dash_duo, run_href(run_id))
    dash_duo.wait_for_element("#run-grid .ag-row:not(.ag-row-loading)", timeout=30)
    dash_duo.wait_for_contains_text("#run-share-list", "Not shared", timeout=20)
    dash_duo.find_element("#run-share-emails").send_keys(email_of("clinician"))
    choose(dash_duo, "#run-share-role", value="everyone with role analyst")
    dash_duo.wait_for_contains_text("#run-share-role", "everyone with role analyst", timeout=10)
    dash_duo.find_element("#run-share-submit").click()
    dash_duo.wait_for_contains_text("#run-share-message", "Shared with 1 new user and everyone with role analyst",
                                    timeout=20)
    dash_duo.wait_for_contains_text("#run-share-list", f"Clinician <{email_of('clinician')}>, by Researcher")
    dash_duo.wait_for_contains_text("#run-share-list", "everyone with role analyst, by Researcher")


def clinician_reviews(dash_duo, run_id: str, n_samples: int) -> str:
    """The clinician's journey; returns the id of the sample they reviewed."""
    dash_duo.wait_for_contains_text("#home-shared", "shared by Researcher", timeout=20)
    dash_duo.wait_for_contains_text("#home-waiting", f"Samples awaiting your review ({n_samples})")
    link = dash_duo.find_element("#home-review a")
    sample = link.text.removeprefix("Sample ")
    assert link.get_attribute("href") == dash_duo.server.url + explain_href(run_id, sample)
    link.click()
    dash_duo.wait_for_text_to_equal("#explain-title", f"Sample {sample}", timeout=30)
    dash_duo.wait_for_element("#explain-waterfall .main-svg", timeout=30)
    dash_duo.wait_for_contains_text("#explain-review-list", "No review of this sample yet", timeout=10)

    dash_duo.wait_for_element("#explain-groups .main-svg", timeout=30)  # the last figure: the page stops moving
    click(dash_duo, dash_duo.find_element("#explain-review-verdict").find_element(
        By.XPATH, ".//label[normalize-space()='Agree']"))
    dash_duo.find_element("#explain-review-note").send_keys(NOTE)
    click(dash_duo, dash_duo.find_element("#explain-review-submit"))
    dash_duo.wait_for_contains_text("#explain-review-message", "Review recorded (agree), signed Clinician, ",
                                    timeout=20)
    dash_duo.wait_for_contains_text("#explain-review-list", f"Agree — {NOTE} · Clinician, ")

    open_page(dash_duo, "/runs")  # My runs lists the shared run with its owner; a click opens it
    dash_duo.wait_for_contains_text("#runs-grid", "shared by Researcher", timeout=20)
    dash_duo.find_element("#runs-grid .ag-row").click()
    dash_duo.wait_for_contains_text("#run-shared-note", "Shared with you by Researcher: read-only", timeout=30)
    assert run_id in dash_duo.driver.current_url
    dash_duo.wait_for_contains_text("#run-grid", "agree (Clinician)", timeout=30)
    open_page(dash_duo, "/")  # one sample fewer waits
    dash_duo.wait_for_contains_text("#home-waiting", f"Samples awaiting your review ({n_samples - 1})", timeout=20)
    return sample


def owner_reads_the_review(dash_duo, run_id: str, sample: str) -> None:
    open_page(dash_duo, explain_href(run_id, sample))
    dash_duo.wait_for_contains_text("#explain-review-list", f"Agree — {NOTE} · Clinician, ", timeout=30)
    assert not dash_duo.find_elements("#explain-review-submit")  # a researcher reads reviews, records none
    open_page(dash_duo, run_href(run_id))
    dash_duo.wait_for_element("#run-grid .ag-row:not(.ag-row-loading)", timeout=30)
    dash_duo.wait_for_text_to_equal(f"#run-grid .ag-row[row-id='{sample}'] [col-id='review']", "agree (Clinician)",
                                    timeout=30)  # the reviewed sample's row, in the Review column


def run_notebook(dash_duo, notebook: str, described: str, input_label: str | None = None,
                 input_index: int | None = None) -> None:
    """Open the notebook's form, choose its input (its model follows), run it to the end and open the run."""
    open_page(dash_duo, f"/notebooks?notebook={notebook}")
    dash_duo.wait_for_contains_text("#notebook-description", described, timeout=20)
    model = notebook_field_selector("model", "model")
    dash_duo.wait_for_contains_text(model, "tissue-of-origin", timeout=20)  # the form's first model
    choose(dash_duo, notebook_field_selector("input_file", "input"), value=input_label, index=input_index)
    dash_duo.wait_for_contains_text(model, MODEL, timeout=10)  # the input's model comes with it
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_contains_text("#notebooks-outcome", "The run ended as done", timeout=NOTEBOOK_TIMEOUT)
    dash_duo.find_element("#notebooks-open-run").click()
    dash_duo.wait_for_element("#notebook-run-verdict", timeout=30)


def analyst_runs_reports(dash_duo, run_id: str, n_samples: int, registry) -> None:
    run_notebook(dash_duo, "cohort_report", "cohort", input_index=0)  # the one run the analyst may read: the shared one
    dash_duo.wait_for_contains_text("#notebook-run-facts", f"input_run = '{run_id}'", timeout=20)
    dash_duo.wait_for_contains_text("#notebook-run-verdict", f"{n_samples} samples predicted with {MODEL} v1.")
    dash_duo.wait_for_contains_text("#notebook-run-verdict", "Against the input's true labels")

    version = registry.resolve(MODEL)
    label = f"held-out split of {MODEL} v{version.version} · {len(version.test_ids):,} samples with known classes"
    run_notebook(dash_duo, "drift_report", "drift", input_label=label)  # the form sends "split:<model>:<version>"
    dash_duo.wait_for_contains_text("#notebook-run-facts", f"input_split = '{MODEL}:{version.version}'", timeout=20)
    dash_duo.wait_for_contains_text("#notebook-run-verdict", "Drift verdict:")
    dash_duo.wait_for_contains_text("#notebook-run-verdict", f"{len(version.test_ids):,} samples of the input")


def test_each_role_walks_its_journey_on_a_shared_run(signed_in, app, tcga, registry):
    n_samples = 5
    with app.server.app_context():
        run_id = finished_run(app.server.extensions["cancer_alpha"], tcga, registry, n=n_samples).id

    dash_duo = signed_in("researcher")
    researcher_shares(dash_duo, run_id)
    assert dash_duo.get_logs() == []

    switch_user(dash_duo, "clinician")
    sample = clinician_reviews(dash_duo, run_id, n_samples)
    assert dash_duo.get_logs() == []

    switch_user(dash_duo, "researcher")
    owner_reads_the_review(dash_duo, run_id, sample)
    assert dash_duo.get_logs() == []

    switch_user(dash_duo, "analyst")
    analyst_runs_reports(dash_duo, run_id, n_samples, registry)
    assert dash_duo.get_logs() == []
