"""A sample's PDF report for a caller who may read its run: built from its SampleFacts with the portal's figure
exporter, audited as `report.pdf` (target run/sample; details: the model version, the served file's sha256 and
the report id printed on it, never a value), so a copy can be checked against the trail. The explain page's
"Download PDF" and `GET /api/v1/runs/<run>/samples/<id>/report.pdf` both come here."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from portal.accounts import audit
from portal.core.context import Portal
from portal.reports import pdf, sample_facts

MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True)
class PdfExport:
    content: bytes
    sha256: str
    report_id: str


def export_sample(portal: Portal, run_id: str, sample_id: str, user_id: int, role: str, author: str,
                  **details) -> PdfExport:
    """The report of one sample of a finished run the user may read (runs.RunError: 403/404/409/410;
    figure_export.ExportUnavailable when the figure export's browser cannot be started)."""
    facts = sample_facts.from_run(portal, run_id, sample_id, user_id, role, author)
    report = pdf.render_pdf(facts, portal.figure_exporter)
    digest = hashlib.sha256(report.content).hexdigest()
    audit.record("report.pdf", target=f"{facts.run_id}/{sample_id}",
                 details={"model": facts.version.ref, "sha256": digest, "report": report.report_id, **details})
    return PdfExport(content=report.content, sha256=digest, report_id=report.report_id)


def filename(run_id: str, exported: PdfExport) -> str:
    """A download's file name: the run and the report's sha256, not the sample id (which may identify)."""
    return f"report-{run_id[:8]}-{exported.sha256[:12]}.pdf"
