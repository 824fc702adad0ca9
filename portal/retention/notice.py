"""How a record whose stored files are gone says so: the words the pages, the downloads and the API show
in place of what was deleted (410 Gone), so that a purged run's page explains itself instead of failing.
Imports nothing of the features that show it."""
from __future__ import annotations

from datetime import datetime

from portal.core.states import PurgeReason

GONE = 410  # the HTTP status of a record whose stored files were purged or erased


def words(reason: str | None, at: datetime) -> str:
    """`purged on 2026-01-02 under the retention policy` (or erased, at a data subject's request)."""
    if reason == PurgeReason.ERASURE:
        return f"erased on {at:%Y-%m-%d} at a data subject's request (every sample it held was erased)"
    return f"purged on {at:%Y-%m-%d} under the retention policy"


def run_gone(run) -> str:
    """What a prediction run whose results were purged says in place of them."""
    return (f"Run {run.id[:8]}'s results and uploaded values were {words(run.purge_reason, run.purged_at)}; "
            f"its record stays.")


def upload_gone(upload) -> str:
    return f"Upload {upload.id[:8]}'s stored values were {words(upload.purge_reason, upload.purged_at)}."


def notebook_run_gone(run) -> str:
    return (f"Notebook run {run.id[:8]}'s report and files were {words(run.purge_reason, run.purged_at)}; "
            f"its record stays.")
