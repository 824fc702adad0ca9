"""The analyst's notebook workflow in headless Chromium, with the background job on diskcache: fill a
notebook's form, refuse a bad parameter, run it to the end with progress, open its HTML report inside
the portal (figures drawn under the report's content security policy) and rerun it; a cohort report on
one of the user's prediction runs."""
from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.helpers import MODEL, TRAINING_SEED, choose, notebook_field, notebook_field_selector, set_parameter, upload


def test_run_a_notebook_open_its_report_and_rerun(signed_in):
    dash_duo = signed_in("analyst")
    dash_duo.wait_for_page(url=dash_duo.server.url + "/notebooks?notebook=model_evaluation")
    dash_duo.wait_for_contains_text("#notebook-description", "held-out metrics", timeout=20)

    # the seed field shows the chosen version's own training seed
    dash_duo.wait_for_element(notebook_field_selector("seed"), timeout=20)
    # React keeps an input's value as a property, not as the HTML attribute a CSS selector would match
    WebDriverWait(dash_duo.driver, 20).until(
        lambda _: notebook_field(dash_duo, "seed").get_attribute("value") == str(TRAINING_SEED))
    set_parameter(dash_duo, "seed", "-3")  # checked before any run: a clear message and no run
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_contains_text("#notebooks-parameter-error", "seed must be at least -1", timeout=20)

    set_parameter(dash_duo, "seed", str(TRAINING_SEED))
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_element("#notebooks-cancel:not([disabled])", timeout=30)  # running: cancel offered
    dash_duo.wait_for_contains_text("#notebooks-progress-label", "cell", timeout=60)
    dash_duo.wait_for_contains_text("#notebooks-outcome", "The run ended as done", timeout=180)
    dash_duo.wait_for_contains_text("#notebooks-history", "model_evaluation", timeout=20)

    dash_duo.find_element("#notebooks-open-run").click()
    dash_duo.wait_for_contains_text("#notebook-run-verdict", "were reproduced", timeout=20)
    dash_duo.wait_for_contains_text("#notebook-run-facts", "tissue-of-origin:1", timeout=20)
    dash_duo.wait_for_contains_text("#notebook-run-facts", f"seed = {TRAINING_SEED}")
    frame = dash_duo.wait_for_element("#notebook-run-report", timeout=20)
    dash_duo.driver.switch_to.frame(frame)
    dash_duo.wait_for_element(".plotly-graph-div .main-svg", timeout=60)  # plotly.js ran in the sandbox
    assert "Model evaluation" in dash_duo.driver.find_element(By.TAG_NAME, "body").text
    dash_duo.driver.switch_to.default_content()

    dash_duo.find_element("#notebook-run-rerun").click()  # the form again, with the run's parameters
    dash_duo.wait_for_contains_text("#notebook-description", "held-out metrics", timeout=20)
    assert notebook_field(dash_duo, "seed").get_attribute("value") == str(TRAINING_SEED)
    assert dash_duo.get_logs() == []


def test_a_cohort_report_on_a_prediction_run(signed_in, example_file):
    dash_duo = signed_in("researcher")
    upload(dash_duo, example_file)
    dash_duo.wait_for_contains_text("#report-ok", "passed validation", timeout=30)
    dash_duo.find_element("#predict-run").click()
    dash_duo.wait_for_element("#run-grid", timeout=60)

    dash_duo.wait_for_page(url=dash_duo.server.url + "/notebooks?notebook=cohort_report")
    dash_duo.wait_for_contains_text("#notebook-description", "cohort", timeout=20)
    model = notebook_field_selector("model", "model")
    dash_duo.wait_for_contains_text(model, "tissue-of-origin")
    choose(dash_duo, notebook_field_selector("input_file", "input"), index=0)
    dash_duo.wait_for_contains_text(model, MODEL, timeout=10)  # the run's model comes with its samples
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_contains_text("#notebooks-outcome", "The run ended as done", timeout=180)
    dash_duo.find_element("#notebooks-open-run").click()
    dash_duo.wait_for_contains_text("#notebook-run-facts", "input_run", timeout=20)
    dash_duo.driver.switch_to.frame(dash_duo.wait_for_element("#notebook-run-report", timeout=20))
    dash_duo.wait_for_element(".plotly-graph-div .main-svg", timeout=60)
    assert "442" in dash_duo.driver.find_element(By.TAG_NAME, "body").text  # every sample of the run
    dash_duo.driver.switch_to.default_content()
    assert dash_duo.get_logs() == []



def test_an_analyst_runs_a_drift_report_on_a_held_out_split(signed_in):
    dash_duo = signed_in("analyst")  # no upload permission: the held-out splits are the inputs offered
    dash_duo.wait_for_page(url=dash_duo.server.url + "/notebooks?notebook=drift_report")
    dash_duo.wait_for_contains_text("#notebook-description", "drift", timeout=20)
    model = notebook_field_selector("model", "model")
    choose(dash_duo, notebook_field_selector("input_file", "input"), index=0)  # tcga-mirna-type v1, then tissue-of-origin
    dash_duo.wait_for_contains_text(model, MODEL, timeout=10)  # the split's model comes with it
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_contains_text("#notebooks-outcome", "The run ended as done", timeout=180)
    dash_duo.find_element("#notebooks-open-run").click()
    dash_duo.wait_for_contains_text("#notebook-run-verdict", "Drift verdict:", timeout=20)
    dash_duo.wait_for_contains_text("#notebook-run-facts", f"input_split = '{MODEL}:1'", timeout=20)
    assert dash_duo.get_logs() == []
