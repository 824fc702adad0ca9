"""A run's life on My runs (portal.predictions.lifecycle), on SQLite and PostgreSQL, with real held-out
TCGA samples: listed with its file name, named, and deleted by its owner or an admin only, with its shares,
reviews and stored files, in one audited step; nothing is lost when a deletion is refused."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts.users import create_user
from portal.core.models import AuditEvent, PredictionRun, RunShare, SampleReview, Upload
from portal.core.states import RunStatus
from portal.predictions import lifecycle, reviews, runs, sharing
from tests.helpers import DATA_USE, MODEL, cohort_csv, email_of, finished_run
from tests.helpers import user_of as user


@pytest.fixture
def finished(portal, tcga, registry):
    """A finished run of the researcher's on four real held-out samples."""
    return finished_run(portal, tcga, registry, n=4)


def _status(call) -> int:
    with pytest.raises(runs.RunError) as error:
        call()
    return error.value.status


def _count(portal, model, *where) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _audit(portal, action) -> list[AuditEvent]:
    with portal.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _stored(portal, name: str) -> bool:
    return (portal.storage.root / name).exists()


def _shared_and_reviewed(portal, run):
    """Share the run with the clinician (by name) and with analysts (by role, then revoked); the clinician
    reviews one sample twice (the second supersedes the first)."""
    researcher = user(portal, "researcher")
    clinician = user(portal, "clinician")
    sharing.share_with_users(portal, run.id, [email_of("clinician")], researcher.id, "researcher")
    role_share = sharing.share_with_role(portal, run.id, "analyst", researcher.id, "researcher")
    sharing.revoke(portal, run.id, role_share.id, researcher.id, "researcher")
    sample = str(runs.results(portal, run).iloc[0]["sample_id"])
    reviews.record(portal, run.id, sample, "agree", "first look", clinician.id, "clinician")
    reviews.record(portal, run.id, sample, "disagree", "second look", clinician.id, "clinician")


def test_the_owner_deletes_a_run_with_its_shares_reviews_and_files(portal, finished):
    researcher = user(portal, "researcher")
    _shared_and_reviewed(portal, finished)
    results, upload = f"runs/{finished.id}/results.parquet", f"uploads/{finished.upload_id}/input.parquet"
    assert _stored(portal, results) and _stored(portal, upload)

    deleted = lifecycle.delete_run(portal, finished.id, researcher.id, "researcher")
    assert (deleted.shares, deleted.reviews, deleted.upload_removed, deleted.files_removed) == (2, 2, True, 2)
    assert _count(portal, PredictionRun, PredictionRun.id == finished.id) == 0
    assert _count(portal, RunShare, RunShare.run_id == finished.id) == 0
    assert _count(portal, SampleReview, SampleReview.run_id == finished.id) == 0
    assert _count(portal, Upload, Upload.id == finished.upload_id) == 0  # no other run used it
    assert not _stored(portal, results) and not _stored(portal, upload)
    assert not (portal.storage.root / "runs" / finished.id).exists()
    (event,) = _audit(portal, "prediction.delete")
    assert (event.target, event.user_id, event.actor) == (finished.id, researcher.id, email_of("researcher"))
    assert event.details == {"model": f"{MODEL}:1", "owner": researcher.id, "samples": 4, "status": "done",
                             "shares": 2, "reviews": 2, "upload_removed": True, "files_removed": 2}
    assert _status(lambda: lifecycle.delete_run(portal, finished.id, researcher.id, "researcher")) == 404
    assert sharing.visible_runs(portal, user(portal, "clinician").id, "clinician") == []


def test_a_recipient_and_another_researcher_get_403_and_nothing_is_lost(portal, finished):
    _shared_and_reviewed(portal, finished)
    clinician = user(portal, "clinician")
    assert _status(lambda: lifecycle.delete_run(portal, finished.id, clinician.id, "clinician")) == 403  # recipient
    other = create_user(portal.db, "second.researcher@example.org", "Second Researcher", "researcher",
                        "another made-up test password")
    assert _status(lambda: lifecycle.delete_run(portal, finished.id, other.id, "researcher")) == 403
    assert _status(lambda: lifecycle.rename_run(portal, finished.id, "mine now", clinician.id, "clinician")) == 403
    assert _count(portal, PredictionRun, PredictionRun.id == finished.id) == 1
    assert _count(portal, RunShare, RunShare.run_id == finished.id) == 2
    assert _count(portal, SampleReview, SampleReview.run_id == finished.id) == 2
    assert _stored(portal, f"runs/{finished.id}/results.parquet")
    assert _audit(portal, "prediction.delete") == []
    assert [e.target for e in _audit(portal, "run.denied")] == [finished.id] * 3  # audited by runs.get_run
    admin = user(portal, "admin")  # an admin may delete anyone's run
    assert lifecycle.delete_run(portal, finished.id, admin.id, "admin").shares == 2
    assert _audit(portal, "prediction.delete")[0].actor == email_of("admin")


def test_an_active_run_is_refused_and_a_shared_upload_stays(portal, tcga, registry):
    researcher = user(portal, "researcher")
    saved = runs.save_upload(portal, researcher.id, "cohort.csv", cohort_csv(tcga, registry, n=3), MODEL,
                             data_use=DATA_USE).upload
    queued = runs.queue_run(portal, saved.id, researcher.id, "researcher")
    assert _status(lambda: lifecycle.delete_run(portal, queued.id, researcher.id, "researcher")) == 409
    assert _count(portal, PredictionRun, PredictionRun.id == queued.id) == 1
    assert _audit(portal, "prediction.delete") == []
    runs.cancel_run(portal, queued.id, researcher.id, "researcher")  # cancelled first: then it goes
    second = runs.queue_run(portal, saved.id, researcher.id, "researcher")  # a second run of the same upload
    assert runs.execute_run(portal, second.id) == RunStatus.DONE
    deleted = lifecycle.delete_run(portal, queued.id, researcher.id, "researcher")
    assert (deleted.upload_removed, deleted.files_removed) == (False, 0)  # cancelled before it stored results
    assert _count(portal, Upload, Upload.id == saved.id) == 1 and _stored(portal, f"uploads/{saved.id}/input.parquet")
    assert len(runs.results(portal, runs.get_run(portal, second.id, researcher.id, "researcher"))) == 3
    assert lifecycle.delete_run(portal, second.id, researcher.id, "researcher").upload_removed  # the last user


def test_runs_are_listed_with_their_file_and_named_by_their_owner(portal, tcga, registry):
    researcher = user(portal, "researcher")
    saved = runs.save_upload(portal, researcher.id, "cohort #3/b.csv", cohort_csv(tcga, registry, n=3), MODEL,
                             data_use=DATA_USE).upload
    run = runs.queue_run(portal, saved.id, researcher.id, "researcher", name="  second batch  ")
    assert run.name == "second batch"
    assert runs.queue_run(portal, saved.id, researcher.id, "researcher", name="   ").name is None
    assert _status(lambda: runs.queue_run(portal, saved.id, researcher.id, "researcher", name="x" * 201)) == 400
    assert runs.queue_run(portal, saved.id, researcher.id, "researcher", name="x" * 200).name == "x" * 200
    listed = {row.run.id: row for row in lifecycle.listed_runs(portal, researcher.id, "researcher")}
    assert (listed[run.id].filename, listed[run.id].owner, listed[run.id].shared_by, listed[run.id].writable) == \
        ("cohort #3/b.csv", "Researcher", None, True)
    assert lifecycle.rename_run(portal, run.id, " first batch ", researcher.id, "researcher").name == "first batch"
    assert lifecycle.rename_run(portal, run.id, "", researcher.id, "researcher").name is None
    assert _status(lambda: lifecycle.rename_run(portal, run.id, "y" * 201, researcher.id, "researcher")) == 400
    assert _status(lambda: lifecycle.rename_run(portal, run.id, ["x"], researcher.id, "researcher")) == 400
    assert [e.details for e in _audit(portal, "prediction.rename")] == [{"characters": 11}, {"characters": 0}]
    sharing.share_with_role(portal, run.id, "clinician", researcher.id, "researcher")
    (shared,) = lifecycle.listed_runs(portal, user(portal, "clinician").id, "clinician")
    assert (shared.run.id, shared.filename, shared.shared_by, shared.writable) == (run.id, "cohort #3/b.csv",
                                                                                    "Researcher", False)
