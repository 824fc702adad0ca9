"""The API's view of prediction runs made on the portal: a run's record (`GET /api/v1/runs/{run_id}`) and its
results a block at a time (`GET /api/v1/runs/{run_id}/results?offset=&limit=`), for the key's owner, an
admin, or a user the run is shared with. A run whose results were purged under the retention policy (or
erased) keeps its record, which says when and why; its results answer 410 Gone with that sentence."""
from __future__ import annotations

import pandas as pd

from portal.accounts.api_keys import KeyOwner
from portal.api.errors import ApiError
from portal.api.schemas import ResultRow, RunRecord, RunResults
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunAccess
from portal.predictions import runs

MAX_LIMIT = 1_000  # result rows in one answer


def readable_run(portal: Portal, run_id: str, owner: KeyOwner) -> PredictionRun:
    try:
        return runs.get_run(portal, run_id, owner.user_id, owner.role, RunAccess.READ)
    except runs.RunError as error:
        raise ApiError(error.status, str(error)) from None


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def record(run: PredictionRun) -> dict:
    return RunRecord(id=run.id, name=run.name, status=str(run.status), model=run.model_name,
                     version=run.model_version, sha256=run.artifact_sha256, samples=run.progress_total,
                     created=_iso(run.created_at), finished=_iso(run.finished_at), summary=run.summary or {},
                     purged_at=_iso(run.purged_at), purge_reason=run.purge_reason).model_dump()


def _bound(name: str, text: str | None, default: int, lowest: int, highest: int) -> int:
    if text is None:
        return default
    # ASCII digits, and few: "²" passes isdigit(), and int() refuses more than 4,300 digits
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not lowest <= int(text) <= highest:
        raise ApiError(400, f"{name} must be a whole number from {lowest:,} to {highest:,}, not {text[:20]!r}")
    return int(text)


def results_page(portal: Portal, run: PredictionRun, offset: str | None, limit: str | None) -> dict:
    """Rows [offset, offset + limit) of a finished run's results (410 when they were purged)."""
    start = _bound("offset", offset, 0, 0, 10**9)
    size = _bound("limit", limit, MAX_LIMIT, 1, MAX_LIMIT)
    try:
        frame = runs.results(portal, run)
    except runs.RunError as error:  # purged (410), or not finished (409)
        raise ApiError(error.status, str(error)) from None
    block = frame.iloc[start:start + size]
    classes = [c for c in frame.columns if c.startswith("p_")]
    rows = [ResultRow(sample_id=str(row["sample_id"]), predicted_class=str(row["predicted_class"]),
                      confidence=row["confidence"], margin=row["margin"], entropy=row["entropy"],
                      abstain=bool(row["abstain"]), out_of_distribution=bool(row["out_of_distribution"]),
                      ood_score=row["ood_score"], probabilities={c[2:]: float(row[c]) for c in classes},
                      true_label=_label(row.get(runs.LABEL_COLUMN)))
            for row in block.to_dict("records")]
    return RunResults(run=run.id, offset=start, limit=size, total=len(frame), results=rows).model_dump()


def _label(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
