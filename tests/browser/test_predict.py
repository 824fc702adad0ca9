"""The researcher's and the clinician's workflow in headless Chromium, with background jobs on
diskcache: upload real held-out samples, watch the run, filter, open an explanation, download."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from portal.core.models import AuditEvent
from tests.helpers import (PASSWORD, choose_data_use, click, click_when_drawn, email_of, sign_out_browser,
                           submit_sign_in, upload)


def run_to_results(dash_duo) -> str:
    dash_duo.find_element("#predict-run").click()
    dash_duo.wait_for_element("#run-grid", timeout=60)
    return dash_duo.driver.current_url.split("/runs/")[1].split("?")[0]


def test_upload_run_explore_explain_and_download(signed_in, example_file, tmp_path):
    dash_duo = signed_in("researcher")
    upload(dash_duo, example_file)
    dash_duo.wait_for_contains_text("#report-ok", "442 samples passed validation", timeout=30)
    dash_duo.find_element("#predict-run").click()
    dash_duo.wait_for_element("#predict-cancel:not([disabled])", timeout=30)  # running: cancel offered
    dash_duo.wait_for_element("#run-grid", timeout=60)
    run_id = dash_duo.driver.current_url.split("/runs/")[1].split("?")[0]
    dash_duo.wait_for_contains_text("#run-label-metrics", "442 labelled samples", timeout=30)
    for tab, figure in (("Predicted classes", "run-class-counts"), ("Confidence", "run-confidence"),
                        ("Confidence and distance", "run-confidence-ood"), ("Among the training samples", "run-projection"),
                        ("Against your labels", "run-label-confusion")):
        click(dash_duo, dash_duo.driver.find_element("xpath", f"//div[@id='run-figure-tabs']//*[text()='{tab}']"))
        dash_duo.wait_for_element(f"#{figure} .main-svg", timeout=30)
    # filter the table through its column filter
    ids = pd.read_csv(example_file).iloc[:, 0].astype(str)
    kept = int(ids.str.upper().str.contains("TCGA.A", regex=False).sum())
    dash_duo.find_element("#run-grid .ag-floating-filter input").send_keys("TCGA.A")  # filtered by the server
    dash_duo.wait_for_contains_text("#run-grid .ag-paging-panel", f"of {kept}", timeout=10)
    shown = [e.text for e in dash_duo.find_elements("#run-grid .ag-center-cols-container [col-id='sample_id']")]
    assert shown and all("TCGA.A" in s.upper() for s in shown)
    # a reload finds the run again
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/runs/{run_id}")
    click_when_drawn(dash_duo, "#run-grid .ag-row:not(.ag-row-loading) [col-id='sample_id']")
    dash_duo.wait_for_element("#explain-waterfall .main-svg", timeout=30)
    dash_duo.wait_for_contains_text("#explain-confidence", "calibrated probability", timeout=10)
    dash_duo.wait_for_contains_text("#explain-true-label", "Known class in your file", timeout=10)  # printed too
    dash_duo.wait_for_contains_text("#explain-notice", "Research use only, not for diagnosis.")
    click(dash_duo, dash_duo.driver.find_element(
        "xpath", "//div[@id='explain-tabs']//*[text()='Its values beside the training samples']"))
    dash_duo.wait_for_element("#explain-context .main-svg", timeout=30)
    assert dash_duo.get_logs() == []


def test_a_broken_file_shows_its_errors(signed_in, example_file, tmp_path):
    frame = pd.read_csv(example_file, dtype=str)
    frame.loc[3, "hsa.let.7b"] = "n.d."
    frame = frame.drop(columns=["hsa.let.7c"])
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    dash_duo = signed_in("clinician")
    upload(dash_duo, broken)
    dash_duo.wait_for_contains_text("#report-blocked", "the file cannot be run", timeout=30)
    dash_duo.wait_for_contains_text("#report-errors", "hsa.let.7c")
    dash_duo.wait_for_contains_text("#report-errors", "hsa.let.7b")
    assert dash_duo.find_element("#predict-run").get_attribute("disabled") is not None
    assert "Traceback" not in dash_duo.find_element("body").text
    assert dash_duo.get_logs() == []


def test_another_user_cannot_open_the_run(signed_in, example_file, app, tmp_path):
    dash_duo = signed_in("researcher")
    upload(dash_duo, example_file)
    dash_duo.wait_for_contains_text("#report-ok", "passed validation", timeout=30)
    run_id = run_to_results(dash_duo)
    sign_out_browser(dash_duo)
    submit_sign_in(dash_duo, email_of("clinician"), PASSWORD)
    dash_duo.wait_for_element("#home-models", timeout=20)
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/runs/{run_id}")
    dash_duo.wait_for_contains_text("#page-not-allowed", "belongs to another user", timeout=20)
    client = app.server.test_client()  # and the download callback answers 403
    from tests.helpers import sign_in
    sign_in(client, email_of("clinician"))
    payload = {"output": "run-download.data", "outputs": {"id": "run-download", "property": "data"},
               "inputs": [{"id": "run-download-csv", "property": "n_clicks", "value": 1},
                          {"id": "run-download-parquet", "property": "n_clicks", "value": None}],
               "state": [{"id": "run-id", "property": "data", "value": run_id}],
               "changedPropIds": ["run-download-csv.n_clicks"]}
    assert client.post("/_dash-update-component", json=payload).status_code == 403
    sign_in(client := app.server.test_client(), email_of("researcher"))
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200 and "sample_id" in response.get_data(as_text=True)


def test_an_upload_needs_its_data_use_basis(signed_in, example_file, app):
    """Without a basis the file is refused and nothing is stored; with one (and its reference) the upload
    passes, the run's page shows the basis and the upload's audit entry holds it."""
    dash_duo = signed_in("researcher")
    upload(dash_duo, example_file, basis=None)
    dash_duo.wait_for_contains_text("#predict-upload-refused", "choose the data-use basis", timeout=30)
    assert dash_duo.find_element("#predict-run").get_attribute("disabled") is not None
    choose_data_use(dash_duo, "deidentified-protocol", "")
    dash_duo.wait_for_contains_text("#predict-data-use-reference-label", "IRB or ethics committee approval number "
                                    "(required)", timeout=10)
    dash_duo.find_element("#predict-upload input[type=file]").send_keys(str(example_file))
    dash_duo.wait_for_contains_text("#predict-upload-refused", "the data-use reference is required", timeout=30)
    choose_data_use(dash_duo, "deidentified-protocol", "IRB-2024-0153 (made up)")
    dash_duo.find_element("#predict-upload input[type=file]").send_keys(str(example_file))
    dash_duo.wait_for_contains_text("#report-ok", "442 samples passed validation", timeout=30)
    dash_duo.wait_for_contains_text("#predict-data-use-recorded", "IRB-2024-0153 (made up)")
    run_to_results(dash_duo)
    dash_duo.wait_for_contains_text("#run-data-use", "Data-use basis: De-identified data under an approved research "
                                    "protocol: IRB-2024-0153 (made up).", timeout=10)
    with app.server.extensions["cancer_alpha"].db.session() as session:
        actions = [(e.action, e.details.get("data_use") or e.details.get("field"))
                   for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("upload%"))
                                            .order_by(AuditEvent.id))]
    assert actions == [("upload.refused", "data_use.basis"), ("upload.refused", "data_use.reference"),
                       ("upload", {"basis": "deidentified-protocol", "reference": "IRB-2024-0153 (made up)"})]
    assert dash_duo.get_logs() == []
