"""How long each page takes to become usable in a real browser, and how much of that is the server:
prints figures.

    python bench/page_bench.py [--repeat N]      (or: make bench)

A portal (new SQLite database, the registry of `make run`) serves on a free loopback port. Runs of
1,000 and 20,000 samples of the tissue-of-origin model (its real held-out samples, repeated with ids
suffixed #k up to N: a load, not patients) are predicted in-process first. Headless Chromium then signs
in and opens each page in two ways: by a link inside the portal (how a signed-in user moves between
pages: the scripts are loaded once) and by a full load of its address (a bookmark, a link in an e-mail:
the browser loads and starts every script again). A page counts as usable when Dash has no callback in
flight, every graph on it is drawn and its main element is there (the results grid's rows, the explain
page's waterfall). For each page it prints the median over N loads of:
- in the app: from clicking a link inside the portal to usable;
- full load: from entering the address to usable, and of that
  - server: the time the browser waited for the server's answers (layout and callbacks, from the
    Resource Timing entries of Dash's requests);
  - browser: the rest (parsing scripts, laying out, drawing figures).
Targets (issue 11): every page usable within 1 s for a run of 1,000 samples, the results of a 20,000-sample
run within 3 s, a loading indicator for anything slower than 300 ms.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from browser import browser, free_port, sign_in  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from components import run_figures  # noqa: E402
from engine import datasets  # noqa: E402
from portal.accounts.users import find_user  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.core.settings import Settings  # noqa: E402
from portal.predictions import figure_store, runs  # noqa: E402

MODEL = "tissue-of-origin"
EMAIL, PASSWORD = "bench@example.org", "benchmark password 2026"  # throw-away account, throw-away database
RUN_SIZES = (1_000, 20_000)
DATA_USE = {"basis": "public", "reference": "GDSC public release (benchmark)"}  # the samples are GDSC's
RESULTS_ROW = "#run-grid .ag-row:not(.ag-row-loading)"  # a row the server sent (not the grid's placeholder)

# Usable: Dash idle, every graph drawn, and the page's own element present (CSS selector or None).
USABLE = """
const selector = arguments[0];
if (!document.querySelector('#_dash-app-content, ._dash-undo-redo, #react-entry-point')) return false;
if (document.querySelector('[data-dash-is-loading="true"]')) return false;
const graphs = document.querySelectorAll('.dash-graph');
for (const graph of graphs) { if (!graph.querySelector('.main-svg')) return false; }
return selector ? document.querySelector(selector) !== null : true;
"""
# A link inside the portal: what dcc.Link does (a history entry, then Dash's router reads it).
FOLLOW_LINK = """
window.history.pushState({}, '', arguments[0]);
window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));
"""
SERVER_MS = """
return performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/_dash-layout') || e.name.includes('/_dash-update-component')
               || e.name.includes('/_dash-dependencies'))
  .reduce((sum, e) => sum + (e.responseEnd - e.requestStart), 0);
"""


def cohort(path: Path, version, n: int) -> None:
    dataset = datasets.load(version.dataset_id)
    ids = version.test_ids
    rows = np.arange(n) % len(ids)
    frame = dataset.X.loc[ids, version.schema.names].iloc[rows].copy()
    frame.insert(0, version.schema.id_column, [f"{ids[r]}#{k}" for k, r in enumerate(rows)])
    frame.to_csv(path, index=False)


def predicted_run(app, var: Path, version, n: int) -> str:
    """A finished run of n samples, made in-process (the upload path is predict_bench's to time)."""
    path = var / f"cohort-{n}.csv"
    cohort(path, version, n)
    portal = app.server.extensions["cancer_alpha"]
    with app.server.app_context():
        owner = find_user(portal.db, EMAIL)
        upload = runs.save_upload(portal, owner.id, path.name, path.read_bytes(), MODEL, data_use=DATA_USE).upload
        run = runs.queue_run(portal, upload.id, owner.id, owner.role)
        figure_store.predict_and_draw(run_figures.FORMAT, run_figures.draw)(portal, run.id)  # as the job does
    return run.id


def load(driver, url: str, selector: str | None) -> tuple[float, float]:
    """(usable seconds, server milliseconds) of one navigation to `url`."""
    driver.get("about:blank")
    start = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, 180, poll_frequency=0.02).until(lambda d: d.execute_script(USABLE, selector))
    usable = time.perf_counter() - start
    return usable, driver.execute_script(SERVER_MS)


def follow_link(driver, path: str, selector: str | None) -> float:
    """Seconds from following a link to `path` inside the portal (from the Glossary, a page without
    callbacks) to usable."""
    driver.execute_script(FOLLOW_LINK, "/glossary")
    WebDriverWait(driver, 60, poll_frequency=0.02).until(lambda d: d.execute_script(USABLE, "#glossary-terms"))
    time.sleep(0.2)  # what the previous page left running settles
    start = time.perf_counter()
    driver.execute_script(FOLLOW_LINK, path)
    WebDriverWait(driver, 180, poll_frequency=0.02).until(lambda d: d.execute_script(USABLE, selector))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="loads per page (the median is printed)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    var = Path(tempfile.mkdtemp(prefix="cancer-alpha-page-bench-"))
    settings = Settings.from_env(var_dir=var, database_url=f"sqlite:///{var / 'portal.db'}", admin_email=EMAIL,
                                 admin_password=PASSWORD)
    app = create_app(settings)
    version = app.server.extensions["cancer_alpha"].registry.resolve(MODEL)
    run_ids = {n: predicted_run(app, var, version, n) for n in RUN_SIZES}
    port = free_port()
    threading.Thread(target=lambda: app.run(host="127.0.0.1", port=port, debug=False, threaded=True),
                     daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    time.sleep(2)
    sample = f"{version.test_ids[0]}#0"
    pages = [
        ("Home", "/", "#home-models"),
        ("Predict", f"/predict?model={MODEL}", "#predict-upload"),
        ("Performance (23 classes)", f"/performance?model={MODEL}", "#performance-content .dash-graph .main-svg"),
        ("My runs", "/runs", "#runs-grid .ag-row"),
        (f"results, {RUN_SIZES[0]:,} samples", f"/runs/{run_ids[RUN_SIZES[0]]}", RESULTS_ROW),
        (f"results, {RUN_SIZES[1]:,} samples", f"/runs/{run_ids[RUN_SIZES[1]]}", RESULTS_ROW),
        ("explain one sample", f"/explain/{run_ids[RUN_SIZES[0]]}/{quote(sample, safe='')}",
         "#explain-waterfall .main-svg"),
    ]
    driver = browser()
    try:
        sign_in(driver, base, EMAIL, PASSWORD)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(USABLE, "#home-models"))
        print(f"page usable in headless Chromium, seconds (median of {args.repeat}); target 1 s, 3 s for the "
              f"20,000-sample results")
        print(f"  {'page':<28} {'in the app':>10}   {'full load':>9} = {'server':>6} + {'browser':>7}")
        for name, path, selector in pages:
            load(driver, base + path, selector)  # warm-up: the server's caches, the browser's script cache
            timings = [load(driver, base + path, selector) for _ in range(args.repeat)]
            usable = statistics.median(t[0] for t in timings)
            server = statistics.median(t[1] for t in timings) / 1000
            in_app = statistics.median(follow_link(driver, path, selector) for _ in range(args.repeat))
            print(f"  {name:<28} {in_app:10.2f}   {usable:9.2f} = {server:6.2f} + {usable - server:7.2f}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
