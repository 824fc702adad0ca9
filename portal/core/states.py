"""Every state the portal stores, in one place: of prediction and notebook runs, of uploads, and of
audit outcomes. StrEnums, so they compare equal to (and are stored as) their text."""
from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A prediction run's or a notebook run's state: queued -> running -> done, failed or cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def active(cls) -> tuple["RunStatus", ...]:
        """States of a run that has not ended (it may still be cancelled)."""
        return cls.QUEUED, cls.RUNNING


class UploadStatus(StrEnum):
    VALID = "valid"  # passed validation: its values are stored and it may be predicted
    INVALID = "invalid"  # refused: only the report is kept


class PurgeReason(StrEnum):
    """Why a record's stored files were deleted while the record stays (portal.retention)."""

    RETENTION = "retention"  # older than the retention policy allows (python -m portal purge)
    ERASURE = "erasure"  # every sample it held was erased at a data subject's request (python -m portal erase)


class DataUseBasis(StrEnum):
    """The ground on which an upload's samples may be used (consent), recorded with every upload and API
    prediction (portal.predictions.consent). Some need a free-text reference (protocol, consent or source).
    UNRECORDED is never chosen: it marks the uploads stored before a basis was recorded."""

    DEIDENTIFIED_PROTOCOL = "deidentified-protocol"
    CONSENTED = "consented"
    PUBLIC = "public"
    SYNTHETIC = "synthetic"
    UNRECORDED = "unrecorded"

    @classmethod
    def choices(cls) -> tuple["DataUseBasis", ...]:
        """The bases a person may choose (every one but UNRECORDED)."""
        return tuple(basis for basis in cls if basis != cls.UNRECORDED)

    @property
    def words(self) -> str:
        return _BASIS_WORDS[self][0]

    @property
    def reference_label(self) -> str:
        """What the reference names for this basis."""
        return _BASIS_WORDS[self][1]

    @property
    def reference_required(self) -> bool:
        return self in (self.DEIDENTIFIED_PROTOCOL, self.CONSENTED, self.PUBLIC)


_BASIS_WORDS = {  # (the basis in words, what its reference names)
    DataUseBasis.DEIDENTIFIED_PROTOCOL: ("De-identified data under an approved research protocol",
                                         "IRB or ethics committee approval number"),
    DataUseBasis.CONSENTED: ("Patient consent for research on file", "Consent or biobank reference"),
    DataUseBasis.PUBLIC: ("Public or controlled-access research data (such as TCGA or GDSC)",
                          "Source (data set, release or accession)"),
    DataUseBasis.SYNTHETIC: ("Synthetic or test data, no patient data", "Note"),
    DataUseBasis.UNRECORDED: ("not recorded (uploaded before consent was recorded)", "Reference"),
}


class AuditOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"  # refused for lack of permission or ownership
    FAILED = "failed"  # tried and failed (a wrong password, a bad file, a crashed run)


class SignInResult(StrEnum):
    """How a sign-in attempt ended (kept in the audit entry of a failed one)."""

    OK = "ok"
    UNKNOWN = "unknown"  # no such e-mail (answered like a wrong password)
    WRONG_PASSWORD = "wrong-password"
    LOCKED = "locked"
    INACTIVE = "inactive"


class RunAccess(StrEnum):
    """What a caller means to do with a prediction run: read it (its owner, an admin, or a recipient of
    an active share) or change it (cancel, share, revoke a share: its owner or an admin only)."""

    READ = "read"
    WRITE = "write"


class ReviewVerdict(StrEnum):
    """A reviewer's verdict on one sample's prediction."""

    AGREE = "agree"
    DISAGREE = "disagree"
    NEEDS_MORE_DATA = "needs-more-data"

    @property
    def words(self) -> str:
        return {"agree": "agree", "disagree": "disagree", "needs-more-data": "needs more data"}[self.value]
