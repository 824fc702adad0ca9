"""Database tables (SQLAlchemy 2). Their schema is created and changed only by Alembic migrations
(portal/migrations); later features add columns here and a migration beside them."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, event,
                        false)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database: SQLite keeps no zone, so store naive UTC and
    hand back aware values, which compare with `utcnow()` on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)  # stored lower-case
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # part of every session id: signing out counts it up, which ends the user's sessions on the server
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True, index=True)  # shown and used for lookup
    key_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CredentialGeneration(Base):
    """One row (id 1) that database triggers count up whenever an API key, or a user's role, state or
    e-mail, changes (migration 0010): the API's verified keys kept in each process hold while it stands
    still (portal.accounts.verified_keys)."""

    __tablename__ = "credential_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, server_default="0")


class SignInThrottle(Base):
    """Failed sign-ins of one account from one client address (portal.accounts.users.authenticate): after
    `lockout_failures` in a row that address is refused for that account, for longer each time, while
    the account's owner still signs in from anywhere else."""

    __tablename__ = "sign_in_throttles"
    __table_args__ = (UniqueConstraint("email", "client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)  # as typed (normalised), known or not
    client: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    """Who did what, when, with what outcome. Never genomic values or passwords."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(254))  # e-mail (or "system") as it was then
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))  # ok, denied, failed
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the HTTP request that did it (portal.request_ids); a background job's: the request that started it
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # the hash chain (portal.accounts.audit_chain): sha256 of the previous entry and of this one
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    n_samples: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int] = mapped_column(Integer)
    stored_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # valid, invalid
    validation: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    # portal.retention: when its stored values were deleted (by the retention policy or an erasure), and why;
    # revised_at: when an erasure last rewrote them (part of the cache keys of whoever read them before)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purge_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)  # a PurgeReason
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the data-use basis (consent) the uploader chose, a DataUseBasis (portal.predictions.consent), and its
    # free-text reference; uploads stored before a basis was recorded hold "unrecorded"
    data_use_basis: Mapped[str] = mapped_column(String(32), default="unrecorded", server_default="unrecorded")
    data_use_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the uploader declared the sample ids pseudonyms, not direct identifiers (migration 0009): only then may
    # an id travel as the subject of a FHIR export (portal.reports.fhir)
    pseudonymous_ids: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PredictionRun(Base):
    __tablename__ = "prediction_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id"), nullable=True)
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int] = mapped_column(Integer)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # an optional name the owner gives
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done, failed, cancelled
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    result_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # portal.retention: as on Upload (its results and figures deleted; revised_at: an erasure rewrote them)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purge_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotebookRun(Base):
    __tablename__ = "notebook_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    notebook: Mapped[str] = mapped_column(String(128), index=True)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    model_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data_checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    package_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    output_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    html_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(nullable=True)
    # portal.retention: when its folder (the executed notebook, its HTML, an input copy) was deleted, and why
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purge_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class RunShare(Base):
    """A prediction run shared, read-only, with one user (`user_id`) or with everyone of a role (`role`):
    exactly one of the two is set. Revoking sets `revoked_at`/`revoked_by`; the row stays as history."""

    __tablename__ = "run_shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("prediction_runs.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    granted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class SampleReview(Base):
    """A reviewer's verdict on one sample of a run, with a short note, signed and dated. Never edited:
    a new review names the one it replaces in `supersedes_id` (unique: a review is replaced at most once),
    so the latest of a reviewer's chain is the one in force and the older ones are its history."""

    __tablename__ = "sample_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("prediction_runs.id"), index=True)
    sample_id: Mapped[str] = mapped_column(String(255))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(20))  # a ReviewVerdict
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("sample_reviews.id"), nullable=True, unique=True)


@event.listens_for(SampleReview, "before_update")
def _reviews_are_never_edited(_mapper, _connection, review) -> None:
    raise ValueError(f"review {review.id} cannot be edited; record a new review that supersedes it")
