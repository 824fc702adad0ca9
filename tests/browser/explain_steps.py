"""Steps on the explain page that several browser tests take: open a tab, download the PDF report or the
FHIR bundle, and change features in the what-if panel. Each starts on a page that `opened` has waited for
(its waterfall drawn: the app's callbacks answer); the tabs hold one pane at a time."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from selenium.webdriver.common.keys import Keys

from tests.helpers import click


def opened(dash_duo, href: str) -> None:
    """Open an explain page and wait until its first tab's waterfall is drawn."""
    dash_duo.wait_for_page(url=dash_duo.server.url + href)
    dash_duo.wait_for_element("#explain-waterfall .main-svg", timeout=60)


def open_tab(dash_duo, label: str) -> None:
    click(dash_duo, dash_duo.driver.find_element("xpath", f"//div[@id='explain-tabs']//*[text()='{label}']"))


def downloaded(folder: Path, pattern: str, timeout: float = 60) -> bytes:
    """The bytes of the first non-empty file matching `pattern` the browser saves into `folder`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in folder.glob(pattern) if p.stat().st_size]
        if found:
            time.sleep(0.3)  # the browser renames the file once it is whole
            return found[0].read_bytes()
        time.sleep(0.2)
    raise AssertionError(f"nothing matching {pattern} was downloaded into {folder}")


def pdf_text(dash_duo, run_id: str) -> tuple[bytes, str]:
    """Press Download PDF: the report's bytes and its text layer (pdftotext)."""
    click(dash_duo, dash_duo.find_element("#explain-pdf"))
    content = downloaded(Path(dash_duo.download_path), f"report-{run_id[:8]}-*.pdf")
    assert content.startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True, timeout=60)
    return content, text.stdout.decode()


def fhir_bundle(dash_duo, run_id: str):
    """Press Export FHIR: the bundle parsed by fhir.resources (R4B), and its DiagnosticReport."""
    from fhir.resources.R4B.bundle import Bundle

    click(dash_duo, dash_duo.find_element("#explain-fhir"))
    bundle = Bundle.model_validate_json(downloaded(Path(dash_duo.download_path), f"fhir-{run_id[:8]}-*.json"))
    (report,) = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "DiagnosticReport"]
    return bundle, report


def what_if(dash_duo, feature: str, number: float | None = None) -> tuple[dict, dict]:
    """Change one feature in the What if tab (toggle a binary one, or type `number` into a continuous one)
    and show it: the class probabilities as stored and as changed, from the figure the page draws."""
    open_tab(dash_duo, "What if")
    dash_duo.wait_for_element("#explain-whatif-features", timeout=30)
    click(dash_duo, dash_duo.find_element("#explain-whatif-features"))
    dash_duo.driver.switch_to.active_element.send_keys(feature)  # the search box: the raw id is in each label
    dash_duo.wait_for_contains_text(".dash-dropdown-options", feature, timeout=10)
    click(dash_duo, dash_duo.find_element(".dash-dropdown-options .dash-dropdown-option"))
    dash_duo.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    if number is None:
        switch = "#explain-whatif-rows input[type='checkbox']"
        dash_duo.wait_for_contains_text("#explain-whatif-rows", "training range [0, 1]", timeout=20)
        click(dash_duo, dash_duo.find_element(switch))
    else:
        box = dash_duo.wait_for_element("#explain-whatif-rows input[type='number']", timeout=20)
        box.clear()
        box.send_keys(str(number), Keys.TAB)  # the input is debounced: its value goes on leaving it
    dash_duo.wait_for_element("#explain-whatif-apply:not([disabled])", timeout=10)
    click(dash_duo, dash_duo.find_element("#explain-whatif-apply"))
    dash_duo.wait_for_element("#explain-whatif-probabilities .main-svg", timeout=30)
    dash_duo.wait_for_contains_text("#explain-whatif-summary", "With 1 feature changed", timeout=10)
    original, changed = dash_duo.driver.execute_script(
        "return document.querySelector('#explain-whatif-probabilities .js-plotly-plot').data"
        ".map(t => Object.fromEntries(t.y.map((c, i) => [c, t.x[i]])));")
    return original, changed
