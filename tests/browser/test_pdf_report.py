"""Download PDF in headless Chromium, for each default model: a researcher opens the explain page of a sample
of a finished run (real held-out TCGA samples, then real held-out GDSC cell lines), presses Download PDF and
gets a PDF whose text names the sample, its predicted class and the model version, with its sha256 in the
audit trail."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from components.links import explain_href
from portal.core.models import AuditEvent
from portal.predictions import runs
from tests.browser.explain_steps import opened, pdf_text
from tests.helpers import MODEL, finished_run

TISSUE = "tissue-of-origin"


def _run(app, dataset, registry, name: str) -> tuple[str, str, str]:
    """A finished run of the researcher's on 3 real held-out samples: (run id, first sample, its class)."""
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        run = finished_run(portal, dataset, registry, n=3, model=name)
        row = runs.results(portal, run).iloc[0]
    return run.id, str(row["sample_id"]), str(row["predicted_class"])


def test_download_pdf_gives_the_report_for_each_default_model(signed_in, app, tcga, gdsc, registry):
    dash_duo = signed_in("researcher")
    portal = app.server.extensions["cancer_alpha"]
    try:
        for name, dataset in ((MODEL, tcga), (TISSUE, gdsc)):
            run_id, sample, predicted = _run(app, dataset, registry, name)
            opened(dash_duo, explain_href(run_id, sample))
            content, text = pdf_text(dash_duo, run_id)
            assert f"Sample {sample}: {predicted}" in text and f"{name}:1" in text
            with portal.db.session() as session:
                entry = session.scalars(select(AuditEvent).where(AuditEvent.action == "report.pdf")
                                        .order_by(AuditEvent.id.desc())).first()
            assert entry.target == f"{run_id}/{sample}"
            assert entry.details["sha256"] == hashlib.sha256(content).hexdigest()
        assert portal.figure_exporter.starts == 1
        assert dash_duo.get_logs() == []
    finally:
        portal.figure_exporter.close()
