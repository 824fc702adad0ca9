"""The uploader's declaration that a file's sample ids are pseudonyms, not direct identifiers (Upload.
pseudonymous_ids, chosen on Predict; false unless declared, and for uploads stored before migration 0009).
Only a declared pseudonym travels as the subject of a FHIR export (portal.reports.fhir)."""
from __future__ import annotations

from portal.core.context import Portal
from portal.core.models import Upload

DECLARATION = "The sample ids are pseudonyms, not direct identifiers (names, record numbers...)"


def of_upload(portal: Portal, upload_id: str | None) -> bool:
    """Whether the upload declared its sample ids pseudonyms (False for none, or an upload from before)."""
    if not upload_id:
        return False
    with portal.db.session() as session:
        upload = session.get(Upload, upload_id)
        return bool(upload and upload.pseudonymous_ids)


def words(declared: bool) -> str:
    """What the run page says of its sample ids."""
    if declared:
        return "declared pseudonyms by the uploader (they may be sent as a FHIR report's subject)"
    return "not declared pseudonyms (FHIR reports leave the subject for the record system to fill)"
