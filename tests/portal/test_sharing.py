"""Sharing runs and reviewing their samples (portal.predictions.sharing and .reviews), on SQLite and
PostgreSQL, with real held-out TCGA samples: who reads a shared run, who may change it, revocation,
the audit trail, and reviews that are superseded, never edited."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.models import AuditEvent, SampleReview
from portal.core.states import ReviewVerdict, RunAccess
from portal.predictions import explanations, reviews, runs, sharing
from tests.helpers import email_of, finished_run
from tests.helpers import user_of as user


@pytest.fixture
def finished(portal, tcga, registry):
    """A finished run of the researcher's on five real held-out samples."""
    return finished_run(portal, tcga, registry, n=5)


def _status(call) -> int:
    with pytest.raises(runs.RunError) as error:
        call()
    return error.value.status


def _audit(portal, action) -> list[AuditEvent]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_owner_shares_with_a_named_user_and_revokes(portal, finished):
    researcher, clinician, analyst = (user(portal, r) for r in ("researcher", "clinician", "analyst"))
    read = lambda who: runs.get_run(portal, finished.id, who.id, who.role, RunAccess.READ)  # noqa: E731
    assert _status(lambda: read(clinician)) == 403  # not shared yet
    (share,) = sharing.share_with_users(portal, finished.id, [email_of("clinician")], researcher.id, "researcher")
    assert read(clinician).id == finished.id
    assert [r.id for r in runs.readable_finished_runs(portal, clinician.id, "clinician")] == [finished.id]
    assert explanations.predict_sample(portal, finished.id, runs.results(portal, finished).iloc[0]["sample_id"],
                                       clinician.id, "clinician").run.id == finished.id
    assert _status(lambda: read(analyst)) == 403  # not a recipient
    # read-only: the recipient may not cancel, share or revoke, nor list the shares
    assert _status(lambda: runs.get_run(portal, finished.id, clinician.id, "clinician")) == 403  # WRITE by default
    assert _status(lambda: runs.cancel_run(portal, finished.id, clinician.id, "clinician")) == 403
    assert _status(lambda: sharing.share_with_role(portal, finished.id, "analyst", clinician.id, "clinician")) == 403
    assert _status(lambda: sharing.revoke(portal, finished.id, share.id, clinician.id, "clinician")) == 403
    assert _status(lambda: sharing.active_shares(portal, finished.id, clinician.id, "clinician")) == 403
    # sharing again changes nothing; the recipient sees the run among theirs, marked with its owner
    assert sharing.share_with_users(portal, finished.id, [email_of("clinician")], researcher.id, "researcher") == []
    assert [(r.id, owner) for r, owner in sharing.visible_runs(portal, clinician.id, "clinician")] == \
        [(finished.id, "Researcher")]
    assert [s.recipient for s in sharing.active_shares(portal, finished.id, researcher.id, "researcher")] == \
        [f"Clinician <{email_of('clinician')}>"]

    sharing.revoke(portal, finished.id, share.id, researcher.id, "researcher")
    assert _status(lambda: read(clinician)) == 403  # 403 again after the revocation
    assert sharing.visible_runs(portal, clinician.id, "clinician") == []
    assert runs.readable_finished_runs(portal, clinician.id, "clinician") == []
    assert _status(lambda: sharing.revoke(portal, finished.id, share.id, researcher.id, "researcher")) == 404
    shared, unshared = _audit(portal, "run.share"), _audit(portal, "run.unshare")
    assert [(e.target, e.details["user"], e.actor) for e in shared] == [(finished.id, clinician.id, email_of("researcher"))]
    assert [(e.target, e.details["share"]) for e in unshared] == [(finished.id, share.id)]


def test_a_share_with_a_role_reaches_everyone_of_it_and_an_admin_may_share(portal, finished):
    admin, clinician, analyst = (user(portal, r) for r in ("admin", "clinician", "analyst"))
    share = sharing.share_with_role(portal, finished.id, "clinician", admin.id, "admin")  # an admin may share
    assert sharing.share_with_role(portal, finished.id, "clinician", admin.id, "admin") is None  # already
    assert runs.get_run(portal, finished.id, clinician.id, "clinician", RunAccess.READ).id == finished.id
    assert [s.run.id for s in sharing.shared_runs(portal, clinician.id, "clinician")] == [finished.id]
    assert _status(lambda: runs.get_run(portal, finished.id, analyst.id, "analyst", RunAccess.READ)) == 403
    sharing.revoke(portal, finished.id, share.id, admin.id, "admin")
    assert _status(lambda: runs.get_run(portal, finished.id, clinician.id, "clinician", RunAccess.READ)) == 403
    assert _audit(portal, "run.share")[0].details == {"share": share.id, "role": "clinician"}


def test_bad_share_requests_get_clear_messages(portal, finished):
    researcher = user(portal, "researcher")
    with pytest.raises(runs.RunError, match="role must be one of") as error:
        sharing.share_with_role(portal, finished.id, "surgeon", researcher.id, "researcher")
    assert error.value.status == 400
    with pytest.raises(runs.RunError, match="nobody@example.org") as error:
        sharing.share_with_users(portal, finished.id, ["nobody@example.org"], researcher.id, "researcher")
    assert error.value.status == 404
    assert _status(lambda: sharing.share_with_users(portal, finished.id, [email_of("researcher")], researcher.id,
                                                    "researcher")) == 400  # the owner
    assert _status(lambda: sharing.parse_emails("not-an-address")) == 400
    assert _status(lambda: sharing.parse_emails(["x"])) == 400
    assert sharing.parse_emails(" A@example.org; b@example.org\na@example.org ") == ["a@example.org", "b@example.org"]
    assert _status(lambda: sharing.revoke(portal, finished.id, "1", researcher.id, "researcher")) == 400
    assert _status(lambda: runs.get_run(portal, {"id": 1}, researcher.id, "researcher", RunAccess.READ)) == 400
    assert _status(lambda: sharing.share_with_role(portal, "nope", "clinician", researcher.id, "researcher")) == 404


def test_a_review_is_signed_superseded_and_never_edited(portal, finished):
    researcher, clinician = user(portal, "researcher"), user(portal, "clinician")
    sample = str(runs.results(portal, finished).iloc[0]["sample_id"])
    review = lambda verdict, note="": reviews.record(portal, finished.id, sample, verdict, note,  # noqa: E731
                                                     clinician.id, "clinician")
    assert _status(lambda: review("agree")) == 403  # not shared with the clinician yet
    sharing.share_with_users(portal, finished.id, [email_of("clinician")], researcher.id, "researcher")
    assert _status(lambda: reviews.record(portal, finished.id, sample, "agree", "", researcher.id,
                                          "researcher")) == 403  # the owner is no reviewer
    waiting, total = reviews.awaiting(portal, clinician.id, "clinician")
    assert total == 5 and {w.sample_id for w in waiting} == set(runs.results(portal, finished)["sample_id"])

    first = review("agree", "  Fits the histology.  ")
    assert (first.verdict, first.note, first.supersedes_id) == ("agree", "Fits the histology.", None)
    second = review(ReviewVerdict.NEEDS_MORE_DATA, "Ask for the methylation panel.")
    assert second.supersedes_id == first.id
    shown = reviews.of_sample(portal, finished, sample)
    assert [(r.id, r.current) for r in shown] == [(second.id, True), (first.id, False)]
    assert shown[1].verdict == ReviewVerdict.AGREE and shown[1].note == "Fits the histology."  # kept as it was
    assert shown[0].signature.startswith("Clinician, ")
    assert reviews.grid_text(reviews.current_by_sample(portal, finished)[sample]) == "needs more data (Clinician)"
    assert reviews.awaiting(portal, clinician.id, "clinician")[1] == 4

    with pytest.raises(ValueError, match="cannot be edited"):  # a review row is never updated in place
        with portal.db.session() as session:
            session.get(SampleReview, first.id).verdict = "disagree"
    assert reviews.of_sample(portal, finished, sample)[1].verdict == ReviewVerdict.AGREE
    events = _audit(portal, "sample.review")
    assert [e.details for e in events] == [
        {"review": first.id, "verdict": "agree", "supersedes": None, "note_chars": 19},
        {"review": second.id, "verdict": "needs-more-data", "supersedes": first.id, "note_chars": 30}]
    assert all("histology" not in str(e.details) for e in events)  # the note stays out of the audit trail


def test_bad_reviews_get_clear_messages(portal, finished):
    researcher, clinician, analyst = (user(portal, r) for r in ("researcher", "clinician", "analyst"))
    sharing.share_with_role(portal, finished.id, "clinician", researcher.id, "researcher")
    sharing.share_with_role(portal, finished.id, "analyst", researcher.id, "researcher")
    sample = str(runs.results(portal, finished).iloc[0]["sample_id"])
    with pytest.raises(runs.RunError, match="keep it to 500") as error:
        reviews.record(portal, finished.id, sample, "agree", "x" * 501, clinician.id, "clinician")
    assert error.value.status == 400
    with pytest.raises(runs.RunError, match="verdict must be one of") as error:
        reviews.record(portal, finished.id, sample, "maybe", "", clinician.id, "clinician")
    assert error.value.status == 400
    assert _status(lambda: reviews.record(portal, finished.id, sample, "agree", "a\x00b", clinician.id,
                                          "clinician")) == 400
    assert _status(lambda: reviews.record(portal, finished.id, sample, "agree", ["x"], clinician.id,
                                          "clinician")) == 400
    assert _status(lambda: reviews.record(portal, finished.id, "no-such-sample", "agree", "", clinician.id,
                                          "clinician")) == 404
    assert _status(lambda: reviews.record(portal, finished.id, sample, "agree", "", analyst.id,
                                          "analyst")) == 403  # a recipient without `review`
    assert reviews.awaiting(portal, analyst.id, "analyst") == ([], 0)
    with portal.db.session() as session:
        assert session.scalars(select(SampleReview)).all() == []
