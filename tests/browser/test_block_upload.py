"""The multi-omics upload in headless Chromium (background jobs on diskcache): real held-out TCGA-BRCA
patients of the session's brca-subtype model as three block files (mRNA, miRNA, methylation), chosen
together on Predict; the per-block report, a run, one patient's explanation with its sums per omics block first,
its PDF report, FHIR bundle, similar reference samples and a what-if, and the Performance view of each block
alone."""
from __future__ import annotations

from urllib.parse import unquote

import pytest

from engine import blocks
from engine.explain import explain
from tests.browser.explain_steps import fhir_bundle, open_tab, pdf_text, what_if
from tests.helpers import LABEL_COLUMN, choose_data_use, click, click_when_drawn

MODEL = "brca-subtype"
N = 30


@pytest.fixture
def app(make_portal, brca_models_root):
    """A portal over the registry holding brca-subtype alone."""
    return make_portal(models_dir=brca_models_root)


@pytest.fixture
def block_paths(tmp_path, brca, brca_model):
    ids = brca_model.version.test_ids[:N]
    wide = brca.X.loc[ids, brca_model.schema.names].copy().reset_index()
    wide.insert(1, LABEL_COLUMN, brca.y.loc[ids].to_numpy())
    paths = []
    for group, frame in blocks.split_frame(wide, brca_model.schema, LABEL_COLUMN).items():
        paths.append(tmp_path / f"{blocks.block_slug(group)}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def _takes_away(dash_duo, brca, brca_model) -> None:
    """On the patient's explain page: the PDF report, the FHIR bundle, the similar reference samples and a
    what-if on the feature that weighed most (a value typed half-way through its training range)."""
    address = dash_duo.driver.current_url.split("/explain/")[1].split("?")[0]
    run_id, sample = unquote(address).split("/", 1)
    _, text = pdf_text(dash_duo, run_id)
    assert f"Sample {sample}" in text and f"{MODEL}:1" in text
    bundle, report = fhir_bundle(dash_duo, run_id)
    assert len(bundle.entry) == 3 + len(brca_model.version.classes) + 2 and report.subject is None
    open_tab(dash_duo, "Similar reference samples")
    dash_duo.wait_for_contains_text("#explain-neighbours-count", "of its 10 most similar training samples", timeout=30)
    X = brca.X.loc[[sample], brca_model.schema.names].to_numpy(float)
    (explained,) = explain(brca_model.bundle, brca_model.schema, X, [sample], top_k=1)
    top = next(f for f in brca_model.schema.features if f.name == explained.top[0].feature)
    original, changed = what_if(dash_duo, top.name, number=round((top.minimum + top.maximum) / 2, 3))
    assert original != changed


def test_three_block_files_are_joined_run_and_explained(signed_in, block_paths, brca, brca_model):
    dash_duo = signed_in("researcher")
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/predict?model={MODEL}")
    dash_duo.wait_for_contains_text("#predict-version-note", f"{MODEL}:1", timeout=20)
    dash_duo.wait_for_element("#predict-block-example-button", timeout=10)  # offered per block too
    choose_data_use(dash_duo, "public", "TCGA-BRCA open access (test fixture)")
    # first without the methylation file: every patient lacks that block, which the report says per block
    dash_duo.find_element("#predict-upload input[type=file]").send_keys("\n".join(str(p) for p in block_paths[:2]))
    dash_duo.wait_for_contains_text("#report-errors", f"{N} samples lack the methylation block", timeout=60)
    assert "no file" in dash_duo.find_element("#report-blocks").text
    dash_duo.find_element("#predict-upload input[type=file]").send_keys("\n".join(str(p) for p in block_paths))
    dash_duo.wait_for_contains_text("#report-ok", f"{N} samples passed validation", timeout=60)
    table = dash_duo.wait_for_element("#report-blocks", timeout=10).text
    for name in ("mrna.csv", "mirna.csv", "methylation.csv"):
        assert name in table
    assert "no file" not in table
    dash_duo.find_element("#predict-run").click()
    dash_duo.wait_for_element("#run-grid", timeout=60)
    click_when_drawn(dash_duo, "#run-grid .ag-row:not(.ag-row-loading) [col-id='sample_id']")
    dash_duo.wait_for_element("#explain-waterfall .main-svg", timeout=60)
    groups = dash_duo.wait_for_element("#explain-groups .main-svg", timeout=30)
    shown = groups.text
    for block in ("mRNA", "miRNA", "methylation"):
        assert block in shown, shown
    words = dash_duo.find_element("#explain-group-words").text
    assert all(f"{block} " in words for block in ("mRNA", "miRNA", "methylation")), words
    sums_first = dash_duo.driver.execute_script(  # the block sums come before the features that weighed most
        "const [g, w] = ['explain-groups', 'explain-waterfall'].map(i => document.getElementById(i));"
        "return !!(g.compareDocumentPosition(w) & Node.DOCUMENT_POSITION_FOLLOWING);")
    assert sums_first
    _takes_away(dash_duo, brca, brca_model)
    assert dash_duo.get_logs() == []
    dash_duo.wait_for_page(url=dash_duo.server.url + f"/performance?model={MODEL}")  # each block alone
    dash_duo.wait_for_element("#performance-confusion .main-svg", timeout=30)
    tab = "//div[@id='performance-tabs']//*[text()='Each block alone']"
    click(dash_duo, dash_duo.driver.find_element("xpath", tab))
    dash_duo.wait_for_element("#performance-per-block-figure .main-svg", timeout=30)
    assert "all blocks" in dash_duo.wait_for_element("#performance-per-block", timeout=10).text
    assert dash_duo.get_logs() == []
