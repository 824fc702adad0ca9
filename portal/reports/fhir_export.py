"""A sample's FHIR bundle for a caller who may read its run: built from its SampleFacts, audited as
`report.fhir` (target run/sample; details: the model version and the served bundle's sha256, never a value).
The explain page's "Export FHIR" and `GET /api/v1/runs/<run>/samples/<id>/fhir` both come here."""
from __future__ import annotations

from portal.accounts import audit
from portal.core.context import Portal
from portal.reports import fhir, sample_facts


def export_sample(portal: Portal, run_id: str, sample_id: str, user_id: int, role: str, author: str,
                  **details) -> fhir.FhirExport:
    """The bundle of one sample of a finished run the user may read (runs.RunError: 403/404/409/410;
    fhir.FhirError if the bundle is refused: a bug, never sent)."""
    facts = sample_facts.from_run(portal, run_id, sample_id, user_id, role, author)
    exported = fhir.export(facts)
    audit.record("report.fhir", target=f"{facts.run_id}/{sample_id}",
                 details={"model": facts.version.ref, "sha256": exported.sha256,
                          "subject": facts.pseudonymous_id, **details})
    return exported


def filename(run_id: str, exported: fhir.FhirExport) -> str:
    """A download's file name: the run and the bundle's sha256, not the sample id (which may identify)."""
    return f"fhir-{run_id[:8]}-{exported.sha256[:12]}.json"
