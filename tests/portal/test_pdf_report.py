"""The PDF report of one sample (portal/reports/pdf.py): for real finished runs of the default models
(tissue-of-origin on GDSC cell lines, tcga-mirna-type on TCGA tumours) and for the brca-subtype model from a
file, the PDF has two A4 pages that poppler draws as pictures that are not blank, and its text layer holds
the sample, the predicted class, the model version, the artifact sha256, the held-out figures and the
research-use notice, in the DejaVu fonts; weasyprint loads no URL; the API route and the explain page's
download answer each caller as the permission table says, and the audit entry's sha256 is the served file's.
The samples are real held-out samples; the accounts are made up."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from sqlalchemy import select

from portal.accounts import api_keys
from portal.core.models import AuditEvent
from portal.core.states import RunStatus
from portal.predictions import runs
from portal.reports import pdf, sample_facts
from portal.reports.figure_export import FigureExporter
from portal.retention import purge
from tests.helpers import DATA_USE, MODEL, auth, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TISSUE = "tissue-of-origin"
A4_POINTS = (595, 842)


@pytest.fixture(scope="module")
def exporter():
    """One export browser for the module's reports (a portal's own would start one per test)."""
    shared = FigureExporter()
    yield shared
    shared.close()


@pytest.fixture
def reporting(portal, exporter):
    portal.figure_exporter = exporter
    return portal


def _run(portal, dataset, registry, name: str, n: int, role: str = "researcher"):
    """A finished run of the role's user on n real held-out samples of model `name`."""
    version = registry.resolve(name)
    frame = dataset.X.loc[version.test_ids[:n], version.schema.names].reset_index()
    frame.insert(1, runs.LABEL_COLUMN, dataset.y.loc[version.test_ids[:n]].to_numpy())
    owner = user_of(portal, role)
    upload = runs.save_upload(portal, owner.id, "cohort.csv", frame.to_csv(index=False).encode(), name,
                              data_use=DATA_USE).upload
    run = runs.queue_run(portal, upload.id, owner.id, role)
    assert runs.execute_run(portal, run.id) == RunStatus.DONE
    return run


def _pages(content: bytes, tmp_path) -> list[np.ndarray]:
    """The PDF's pages drawn by poppler (pdftoppm), as grey-level arrays."""
    (tmp_path / "report.pdf").write_bytes(content)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
                   check=True, timeout=60)
    return [np.asarray(Image.open(p).convert("L"), dtype=float) for p in sorted(tmp_path.glob("page-*.png"))]


def _text(content: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True,
                          timeout=60)
    return " ".join(done.stdout.decode().split())  # lines joined: a long value may wrap


def _check(content: bytes, facts: sample_facts.SampleFacts, tmp_path) -> str:
    assert content.startswith(b"%PDF-")
    pages = _pages(content, tmp_path)
    assert len(pages) == 2
    for page in pages:
        assert page.std() > 10 and (page < 128).mean() > 0.005  # ink on it, not a blank page
    info = subprocess.run(["pdfinfo", "-"], input=content, capture_output=True, check=True, timeout=60).stdout.decode()
    size = next(line for line in info.splitlines() if line.startswith("Page size"))
    assert [round(float(v)) for v in size.split()[2:5:2]] == list(A4_POINTS), size
    fonts = subprocess.run(["pdffonts", "-"], input=content, capture_output=True, check=True,
                           timeout=60).stdout.decode()
    assert "DejaVu-Sans" in fonts and all("DejaVu" in line for line in fonts.splitlines()[2:]), fonts
    text = _text(content)
    version = facts.version
    for stated in (f"Sample {facts.sample_id}: {facts.predicted}", version.ref, version.sha256, version.dataset_title,
                   version.provenance["data_license"], "Research use only, not for diagnosis.",
                   f"calibrated probability {facts.confidence:.3f}", f"{facts.class_figures.recall:.3f}",
                   f"{facts.class_figures.precision:.3f}", facts.author,
                   "Abstains" if facts.abstain else "Does not abstain",
                   "Out of distribution" if facts.out_of_distribution else "In distribution",
                   f"Why sample {facts.sample_id} is {facts.predicted}"):  # the waterfall's title: the figure's text
        assert stated in text, stated
    if facts.class_figures.accuracy_at_confidence is not None:
        assert f"{facts.class_figures.accuracy_at_confidence:.3f}" in text
    top = facts.explanation.top[0]
    assert f"{top.feature}" in text or "=" in text  # the waterfall's feature bars
    return text


def _report(portal, run, sample: str, role: str = "researcher"):
    facts = sample_facts.from_run(portal, run.id, sample, user_of(portal, role).id, role, "researcher@example.org")
    return facts, pdf.render_pdf(facts, portal.figure_exporter)


@SQLITE_ONLY
@pytest.mark.parametrize("name", [MODEL, TISSUE])
def test_the_report_of_a_run_sample_holds_the_facts_on_two_a4_pages(reporting, tcga, gdsc, registry, name, tmp_path):
    run = _run(reporting, tcga if name == MODEL else gdsc, registry, name, n=3)
    sample = registry.resolve(name).test_ids[0]
    facts, report = _report(reporting, run, sample)
    text = _check(report.content, facts, tmp_path)
    assert report.report_id in text and f"run {run.id}" in text
    assert f"Known class in the uploaded file {facts.true_label}" in text


def test_the_brca_report_from_a_file_names_each_omics_block(brca_model, brca, exporter, tmp_path):
    sample = brca_model.version.test_ids[0]
    X = brca.X.loc[[sample], brca_model.schema.names].to_numpy(float)
    facts = sample_facts.from_input(brca_model, X, sample, 0, author="command line")
    text = _check(pdf.render_pdf(facts, exporter).content, facts, tmp_path)
    for block in ("mRNA", "miRNA", "methylation"):
        assert f"{block} {facts.explanation.group_sums[block]:+.4g} (summed SHAP value" in text


def test_uploaded_markup_in_a_sample_id_is_text_and_no_url_is_loaded(registry, tcga, exporter, tmp_path):
    model = registry.load(f"{MODEL}@production")
    real = model.version.test_ids[0]
    planted = '<img src="http://127.0.0.1:9/x.png"><a href="file:///etc/passwd">x</a>'  # made up
    X = tcga.X.loc[[real], model.schema.names].to_numpy(float)
    facts = sample_facts.from_input(model, X, planted, 0, author="command line")
    page = pdf.render_html(facts, exporter, "id")
    assert "<img" not in page.split("<body>")[1].split('<div class="figures">')[0]  # escaped in the text
    text = _text(pdf.render_pdf(facts, exporter).content)
    assert 'Sample <img src="http://127.0.0.1:9/x.png"><a href=' in text  # shown as the text it is
    assert 'Why sample <img src="http://127.0.0.1:9/x.png">' in text  # in the figure's title too
    with pytest.raises(pdf.UrlRefused, match="a report loads no URL"):
        pdf.write_pdf('<p>made up</p><img src="file:///etc/hostname">')


def test_an_export_browser_that_died_is_replaced_and_a_closed_one_is_gone():
    exporter = FigureExporter()
    figure = go.Figure(go.Bar(x=[1, 2], y=[2, 1]))  # made up: only the browser is under test
    try:
        assert exporter.svg(figure, 300, 200).startswith("<svg")
        browser = exporter._kaleido.subprocess  # the chromium this exporter started
        browser.kill()
        browser.wait(10)
        assert exporter.svg(figure, 300, 200).startswith("<svg") and exporter.starts == 2
    finally:
        exporter.close()
    assert not exporter.running and exporter._kaleido is None


def _pdf_audits(portal) -> list:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "report.pdf")))


@SQLITE_ONLY
def test_the_api_answers_each_caller_and_audits_the_file_served(app, reporting, tcga, registry):
    portal = reporting
    run = _run(portal, tcga, registry, MODEL, n=2)
    sample = registry.resolve(MODEL).test_ids[0]
    keys = {role: api_keys.create_key(portal.db, user_of(portal, role).id, "pdf test")[1]
            for role in ("researcher", "clinician", "analyst", "admin")}
    client = app.server.test_client()

    def get(role, run_id=run.id, sample_id=sample):
        return client.get(f"/api/v1/runs/{run_id}/samples/{sample_id}/report.pdf", headers=auth(keys[role]))

    for role in ("researcher", "admin"):  # the owner, and an admin
        answer = get(role)
        assert answer.status_code == 200 and answer.mimetype == "application/pdf"
        assert answer.headers["Content-Disposition"].endswith('.pdf"') and sample not in answer.headers[
            "Content-Disposition"]
        assert answer.data.startswith(b"%PDF-") and MODEL in _text(answer.data)
    entries = _pdf_audits(portal)
    assert [e.target for e in entries] == [f"{run.id}/{sample}"] * 2
    assert entries[-1].details["sha256"] == hashlib.sha256(answer.data).hexdigest()
    assert entries[-1].details["report"] in _text(answer.data)
    assert entries[-1].details["model"] == f"{MODEL}:1" and sample not in json.dumps(entries[-1].details)
    assert get("analyst").status_code == 403  # a role without export_reports
    for role, run_id, sample_id in (("clinician", run.id, sample), ("researcher", "0" * 32, sample),
                                    ("researcher", run.id, "no-such-sample"), ("researcher", run.id, "x" * 300)):
        refused = get(role, run_id, sample_id)
        assert refused.status_code == 404 and refused.json["error"]["message"], (role, run_id, sample_id)
    portal.figure_exporter = FigureExporter(browser_path="/nonexistent/chromium")  # a server without its browser
    unavailable = get("researcher")
    assert unavailable.status_code == 503 and "PDF reports are unavailable" in unavailable.json["error"]["message"]
    assert len(_pdf_audits(portal)) == 2  # refusals serve nothing
    purge.purge(portal, days=0)
    gone = get("researcher")
    assert gone.status_code == 410 and "purged" in gone.json["error"]["message"]
    document = client.get("/api/v1/openapi.json").json
    route = document["paths"]["/api/v1/runs/{run_id}/samples/{sample_id}/report.pdf"]["get"]
    assert "application/pdf" in route["responses"]["200"]["content"] and "403" in route["responses"]


def _download_callback(client, run_id: str, sample):
    return client.post("/_dash-update-component", json={
        "output": "explain-pdf-download.data", "outputs": {"id": "explain-pdf-download", "property": "data"},
        "inputs": [{"id": "explain-pdf", "property": "n_clicks", "value": 1}],
        "state": [{"id": "explain-ids", "property": "data", "value": {"run": run_id, "sample": sample}}],
        "changedPropIds": ["explain-pdf.n_clicks"]})


@SQLITE_ONLY
def test_the_explain_page_download_checks_the_caller_on_the_server(app, exporter, tcga, registry, client_for):
    portal = app.server.extensions["cancer_alpha"]
    portal.figure_exporter = exporter
    with app.server.test_request_context():  # its own: the signed-in clients' requests must not share it
        run = _run(portal, tcga, registry, MODEL, n=2)
    sample = registry.resolve(MODEL).test_ids[0]
    answer = _download_callback(client_for("researcher"), run.id, sample)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    download = answer.json["response"]["explain-pdf-download"]["data"]
    assert download["type"] == "application/pdf" and download["filename"].endswith(".pdf") and download["base64"]
    content = base64.b64decode(download["content"])
    assert content.startswith(b"%PDF-") and f"Sample {sample}" in _text(content)
    assert _pdf_audits(portal)[-1].details["sha256"] == hashlib.sha256(content).hexdigest()
    assert _download_callback(client_for("analyst"), run.id, sample).status_code == 403  # no export_reports
    assert _download_callback(client_for("clinician"), run.id, sample).status_code == 403  # not shared with them
    assert _download_callback(client_for("researcher"), run.id, {"forged": 1}).status_code == 400
    assert len(_pdf_audits(portal)) == 1
    assert exporter.starts == 1 and exporter.running  # one browser served every report of the module
