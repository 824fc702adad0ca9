"""The analyst's notebook workflow in headless Chromium, with the background job on diskcache: fill a
notebook's form, refuse a bad parameter, run it to the end with progress, open its HTML report inside
the portal (figures drawn under the report's content security policy) and rerun it."""
from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser.conftest import TRAINING_SEED, notebook_field, set_parameter


def test_run_a_notebook_open_its_report_and_rerun(signed_in):
    dash_duo = signed_in("analyst")
    dash_duo.wait_for_page(url=dash_duo.server.url + "/notebooks?notebook=model_evaluation")
    dash_duo.wait_for_contains_text("#notebook-description", "held-out metrics", timeout=20)

    set_parameter(dash_duo, "seed", "-3")  # checked before any run: a clear message and no run
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_contains_text("#notebooks-parameter-error", "seed must be at least 0", timeout=20)

    set_parameter(dash_duo, "seed", str(TRAINING_SEED))
    dash_duo.find_element("#notebooks-run").click()
    dash_duo.wait_for_element("#notebooks-cancel:not([disabled])", timeout=30)  # running: cancel offered
    dash_duo.wait_for_contains_text("#notebooks-progress-label", "cell", timeout=60)
    dash_duo.wait_for_contains_text("#notebooks-outcome", "The run ended as done", timeout=180)
    dash_duo.wait_for_contains_text("#notebooks-history", "model_evaluation", timeout=20)

    dash_duo.find_element("#notebooks-open-run").click()
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
