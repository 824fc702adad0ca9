"""Export FHIR in headless Chromium, for each default model: a researcher uploads real held-out TCGA samples
on Predict declaring their ids pseudonyms, runs them and downloads a sample's FHIR bundle from its explain
page; the bundle parses as a FHIR R4 Bundle with the sample as its subject. A tissue-of-origin run on real
held-out GDSC cell lines (ids not declared) downloads a bundle without a subject."""
from __future__ import annotations

from components.links import explain_href
from portal.predictions import runs
from tests.browser.explain_steps import fhir_bundle, opened
from tests.helpers import DATA_USE, MODEL, choose_data_use, click, finished_run

TISSUE = "tissue-of-origin"


def _export(dash_duo, run_id: str, sample: str):
    opened(dash_duo, explain_href(run_id, sample))
    return fhir_bundle(dash_duo, run_id)


def _tissue_run(app, gdsc, registry) -> tuple[str, str]:
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        run = finished_run(portal, gdsc, registry, n=3, model=TISSUE)
        return run.id, str(runs.results(portal, run)["sample_id"].iloc[0])


def test_export_fhir_downloads_a_bundle_for_each_default_model(signed_in, app, tmp_path, tcga, gdsc, registry):
    dash_duo = signed_in("researcher")
    cohort = tmp_path / "cohort.csv"
    ids = registry.resolve(MODEL).test_ids[:4]
    tcga.X.loc[ids].reset_index().to_csv(cohort, index=False)
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/predict?model={MODEL}")
    dash_duo.wait_for_contains_text("#predict-version-note", f"{MODEL}:1", timeout=20)
    choose_data_use(dash_duo, DATA_USE["basis"], DATA_USE["reference"])
    click(dash_duo, dash_duo.find_element("#predict-pseudonymous"))  # ticked before the file goes with it
    dash_duo.find_element("#predict-upload input[type=file]").send_keys(str(cohort))
    dash_duo.wait_for_contains_text("#report-ok", "4 samples passed validation", timeout=30)
    dash_duo.find_element("#predict-run").click()
    dash_duo.wait_for_element("#run-grid", timeout=60)
    run_id = dash_duo.driver.current_url.split("/runs/")[1].split("?")[0]
    dash_duo.wait_for_contains_text("#run-pseudonymous", "declared pseudonyms by the uploader", timeout=10)
    bundle, report = _export(dash_duo, run_id, ids[0])
    assert report.subject.identifier.value == ids[0] and report.status in ("final", "preliminary")
    assert len(bundle.entry) == 3 + len(registry.resolve(MODEL).classes) + 2

    run_id, sample = _tissue_run(app, gdsc, registry)
    bundle, report = _export(dash_duo, run_id, sample)
    assert report.subject is None and "No subject is given" in report.text.div
    assert len(bundle.entry) == 3 + len(registry.resolve(TISSUE).classes) + 2
    assert dash_duo.get_logs() == []
