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
