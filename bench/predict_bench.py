"""Upload-to-results time in a real browser, and the explain page's server time: prints figures.

    python bench/predict_bench.py           (or: make bench)

A portal (new SQLite database, diskcache background jobs, the registry of `make run`) serves on a free
loopback port; headless Chromium signs in, uploads a CSV of N samples to the tissue-of-origin model,
clicks Run and waits until the results table shows. The samples are the model's real held-out samples,
repeated (ids suffixed #k) up to N. Target (issue 4): 10,000 samples predicted and shown within 15 s.
"""
from __future__ import annotations

import logging
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from browser import browser, free_port, sign_in  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from timing import median_ms  # noqa: E402

from engine import datasets  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.core.settings import Settings  # noqa: E402

MODEL = "tissue-of-origin"
EMAIL, PASSWORD = "bench@example.org", "benchmark password 2026"  # throw-away account, throw-away database


def cohort(path: Path, version, n: int) -> None:
    dataset = datasets.load(version.dataset_id)
    ids = version.test_ids
    frame = dataset.X.loc[ids, version.schema.names]
    rows = np.arange(n) % len(ids)
    out = frame.iloc[rows].copy()
    out.insert(0, version.schema.id_column, [f"{ids[r]}#{k}" for k, r in enumerate(rows)])
    out.to_csv(path, index=False)


def upload_to_results(driver, base: str, path: Path) -> float:
    driver.get(f"{base}/predict?model={MODEL}")
    wait = WebDriverWait(driver, 120)
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "predict-version-note"), f"{MODEL}:"))
    driver.find_element(By.CSS_SELECTOR, "#predict-data-use input[value='public']").click()  # the samples are GDSC's
    driver.find_element(By.ID, "predict-data-use-reference").send_keys("GDSC public release (benchmark)")
    start = time.perf_counter()
    driver.find_element(By.CSS_SELECTOR, "#predict-upload input[type=file]").send_keys(str(path))
    wait.until(expected_conditions.presence_of_element_located((By.ID, "report-ok")))
    driver.find_element(By.ID, "predict-run").click()
    wait.until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, "#run-grid .ag-row:not(.ag-row-loading)")))
    return time.perf_counter() - start


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log between the figures
    var = Path(tempfile.mkdtemp(prefix="cancer-alpha-bench-"))
    settings = Settings.from_env(var_dir=var, database_url=f"sqlite:///{var / 'portal.db'}", admin_email=EMAIL,
                                 admin_password=PASSWORD)
    app = create_app(settings)
    version = app.server.extensions["cancer_alpha"].registry.resolve(MODEL)
    port = free_port()
    threading.Thread(target=lambda: app.run(host="127.0.0.1", port=port, debug=False), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    time.sleep(2)
    driver = browser()
    try:
        sign_in(driver, base, EMAIL, PASSWORD)
        for n in (1_000, 10_000):
            path = var / f"cohort-{n}.csv"
            cohort(path, version, n)
            seconds = upload_to_results(driver, base, path)
            print(f"{MODEL}: {n:,} samples ({path.stat().st_size / 1e6:.1f} MB CSV) from upload to results "
                  f"table in the browser: {seconds:.1f} s (target for 10,000: < 15 s)")
        run_id = driver.current_url.split("/runs/")[1].split("?")[0]
    finally:
        driver.quit()

    client = app.server.test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf": csrf})
    sample = f"{version.test_ids[0]}#0"
    payload = {"output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": "children"},
               "inputs": [{"id": "explain-class", "property": "value", "value": version.classes[0]}],
               "state": [{"id": "explain-ids", "property": "data", "value": {"run": run_id, "sample": sample}}],
               "changedPropIds": ["explain-class.value"]}
    assert client.post("/_dash-update-component", json=payload).status_code == 200
    ms = median_ms(lambda: client.post("/_dash-update-component", json=payload), repeat=10)
    print(f"explain page figures (SHAP waterfall and groups) server time: {ms:.0f} ms")


if __name__ == "__main__":
    main()
