"""Reviews of samples: a reviewer (the `review` permission) reads a sample of a run shared with them (an
admin: of any run) and records a verdict (ReviewVerdict: agree, disagree, needs more data) with a short
note, signed with their name and the time. A review is never edited: a new one by the same reviewer of
the same sample supersedes the previous (`supersedes_id`), so each reviewer's latest review is the one
in force and the older ones remain as its history. Every review is audited ("sample.review": the verdict,
the review ids and the note's length; the note's text stays in the database, never in the audit trail
or the logs, and reviews never hold genomic values).

Awaiting my review (Home): the samples of finished runs shared with me that I have not reviewed, those
flagged (below the abstain threshold or out of distribution) first."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.accounts import audit
from portal.accounts.permissions import ADMIN, allowed
from portal.core.context import Portal
from portal.core.models import PredictionRun, SampleReview, User, utcnow
from portal.core.states import ReviewVerdict, RunAccess, RunStatus
from portal.jobs import states
from portal.predictions import runs, sharing
from portal.predictions.runs import RunError

NOTE_MAX = 500  # characters in a review's note
SHARED_RUNS_SCANNED = 20  # newest shared runs whose samples Home lists as awaiting review


@dataclass(frozen=True)
class Review:
    """A review as pages show it."""

    id: int
    run_id: str
    sample_id: str
    reviewer_id: int
    reviewer: str  # the reviewer's name
    verdict: ReviewVerdict
    note: str
    created_at: datetime
    supersedes_id: int | None
    current: bool  # the reviewer's latest review of the sample (not superseded)

    @property
    def signature(self) -> str:
        return f"{self.reviewer}, {self.created_at:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class AwaitingSample:
    run_id: str
    sample_id: str
    owner: str
    predicted: str
    flags: tuple[str, ...]  # "abstain", "out of distribution"


def check_verdict(verdict) -> ReviewVerdict:
    try:
        return ReviewVerdict(verdict)
    except ValueError:
        raise RunError(f"the verdict must be one of {', '.join(v.words for v in ReviewVerdict)}", 400) from None


def check_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise RunError("the note must be text", 400)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise RunError(f"the note is {len(note)} characters long; keep it to {NOTE_MAX}", 400)
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in note):
        raise RunError("the note holds control characters; write plain text", 400)
    return note


def may_review(portal: Portal, run: PredictionRun, user_id: int, role: str) -> bool:
    """A reviewer reviews runs shared with them; an admin any run."""
    if not allowed(role, "review"):
        return False
    return role == ADMIN or sharing.is_recipient(portal, run.id, user_id, role)


def _superseded_ids():
    return select(SampleReview.supersedes_id).where(SampleReview.supersedes_id.is_not(None))


def record(portal: Portal, run_id: str, sample_id: str, verdict, note, user_id: int, role: str) -> SampleReview:
    """Record a review of one sample (RunError: 400 bad verdict or note, 403 not a reviewer of this run,
    404 no such run or sample, 409 the run is not finished or another review was recorded meanwhile)."""
    run = runs.get_run(portal, run_id, user_id, role, RunAccess.READ)
    if not may_review(portal, run, user_id, role):
        raise RunError("you may review only the samples of runs shared with you", 403)
    if run.status != RunStatus.DONE:
        raise RunError(f"run {run.id} is {run.status}; only a finished run's samples are reviewed", 409)
    if not isinstance(sample_id, str) or sample_id not in set(runs.results(portal, run)["sample_id"].astype(str)):
        raise RunError(f"run {run.id} has no sample {sample_id!r}", 404)
    verdict, note = check_verdict(verdict), check_note(note)
    try:
        with portal.db.session() as session:
            previous = session.scalar(
                select(SampleReview.id).where(SampleReview.run_id == run.id, SampleReview.sample_id == sample_id,
                                              SampleReview.reviewer_id == user_id,
                                              SampleReview.id.not_in(_superseded_ids())))
            review = SampleReview(run_id=run.id, sample_id=sample_id, reviewer_id=user_id, verdict=verdict,
                                  note=note, created_at=utcnow(), supersedes_id=previous)
            session.add(review)
    except IntegrityError:  # another review of this reviewer superseded the same one first
        raise RunError("your review of this sample changed meanwhile; reload the page and review again", 409) from None
    audit.record("sample.review", target=f"{run.id}/{sample_id}"[:255],
                 details={"review": review.id, "verdict": str(verdict), "supersedes": previous,
                          "note_chars": len(note)},
                 user_id=user_id, actor=states.owner_email(portal, user_id))
    return review


def _views(session, rows) -> list[Review]:
    superseded = {r.supersedes_id for r in rows if r.supersedes_id is not None}
    ids = {r.reviewer_id for r in rows}
    names = {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return [Review(id=r.id, run_id=r.run_id, sample_id=r.sample_id, reviewer_id=r.reviewer_id,
                   reviewer=names.get(r.reviewer_id, str(r.reviewer_id)), verdict=ReviewVerdict(r.verdict),
                   note=r.note, created_at=r.created_at, supersedes_id=r.supersedes_id, current=r.id not in superseded)
            for r in rows]


def of_sample(portal: Portal, run: PredictionRun, sample_id: str) -> list[Review]:
    """Every review of a sample of `run` (one the caller may read), newest first, superseded ones too."""
    with portal.db.session() as session:
        rows = list(session.scalars(select(SampleReview).where(SampleReview.run_id == run.id,
                                                               SampleReview.sample_id == sample_id)
                                    .order_by(SampleReview.created_at.desc(), SampleReview.id.desc())))
        return _views(session, rows)


def current_by_sample(portal: Portal, run: PredictionRun) -> dict[str, list[Review]]:
    """The reviews in force of each reviewed sample of `run` (one the caller may read), newest first."""
    with portal.db.session() as session:
        rows = list(session.scalars(select(SampleReview).where(SampleReview.run_id == run.id)
                                    .order_by(SampleReview.created_at.desc(), SampleReview.id.desc())))
        views = _views(session, rows)
    out: dict[str, list[Review]] = {}
    for view in views:
        if view.current:
            out.setdefault(view.sample_id, []).append(view)
    return out


def grid_text(reviews: list[Review]) -> str:
    """A sample's reviews in force, in one cell of the run's grid."""
    return "; ".join(f"{r.verdict.words} ({r.reviewer})" for r in reviews)


def awaiting(portal: Portal, user_id: int, role: str, limit: int = 20) -> tuple[list[AwaitingSample], int]:
    """The samples waiting for this reviewer (see the module's docstring), at most `limit`, and how many
    wait in all (over the newest SHARED_RUNS_SCANNED shared runs). Nothing for a role without `review`."""
    if not allowed(role, "review"):
        return [], 0
    shared = [s for s in sharing.shared_runs(portal, user_id, role, SHARED_RUNS_SCANNED)
              if s.run.status == RunStatus.DONE]
    if not shared:
        return [], 0
    with portal.db.session() as session:
        reviewed = set(session.execute(
            select(SampleReview.run_id, SampleReview.sample_id)
            .where(SampleReview.reviewer_id == user_id,
                   SampleReview.run_id.in_([s.run.id for s in shared]))).all())
    waiting: list[tuple[int, AwaitingSample]] = []
    for order, item in enumerate(shared):
        frame = runs.results(portal, item.run)
        for row in frame[["sample_id", "predicted_class", "abstain", "out_of_distribution"]].itertuples(index=False):
            sample = str(row.sample_id)
            if (item.run.id, sample) in reviewed:
                continue
            flags = tuple(name for name, on in (("abstain", row.abstain), ("out of distribution",
                                                                            row.out_of_distribution)) if on)
            waiting.append((order, AwaitingSample(run_id=item.run.id, sample_id=sample, owner=item.owner,
                                                  predicted=str(row.predicted_class), flags=flags)))
    waiting.sort(key=lambda pair: (not pair[1].flags, pair[0]))  # flagged first, then the newest share
    return [sample for _, sample in waiting[:limit]], len(waiting)
