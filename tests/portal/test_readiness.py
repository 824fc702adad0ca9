"""/api/v1/ready on a real portal (SQLite and PostgreSQL), and its checks one by one: a database that does not
answer, a production model whose artifact changed on disk, and a Redis that is not there (the portal is then
degraded, still serving, and says so once in the log)."""
from __future__ import annotations

import json
import logging
import shutil
import socket

from engine.registry import Registry
from portal.core.db import Database
from portal.readiness import DEGRADED, NOT_READY, READY, Readiness
from tests.helpers import MODEL


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_a_portal_with_its_database_and_models_is_ready(app):
    answer = app.server.test_client().get("/api/v1/ready")  # no key needed, like /health
    body = answer.get_json()
    assert answer.status_code == 200 and body["status"] == READY
    assert body["checks"]["database"] == "ok" and body["checks"][f"model:{MODEL}"] == "ok"
    assert "redis" not in body["checks"]  # none is set


def test_a_changed_model_artifact_makes_the_portal_not_ready(tmp_path, models_root, make_portal):
    copy = tmp_path / "models"
    shutil.copytree(models_root, copy)
    version = Registry(copy).resolve(MODEL)
    with open(version.path / version.artifact_file, "ab") as artifact:
        artifact.write(b"tampered")
    answer = make_portal(models_dir=copy).server.test_client().get("/api/v1/ready")
    body = answer.get_json()
    assert answer.status_code == 503 and body["status"] == NOT_READY
    assert body["checks"][f"model:{MODEL}"].startswith("version 1 does not load (IntegrityError)")
    assert body["checks"]["model:tissue-of-origin"] == "ok"
    assert str(copy) not in json.dumps(body)  # no path, no trace


def test_a_database_that_does_not_answer_is_not_ready(models_root):
    unreachable = Database(f"postgresql+psycopg2://postgres:not-a-password@127.0.0.1:{closed_port()}/portal")
    verdict = Readiness(unreachable, Registry(models_root), None).check()
    assert verdict.status == NOT_READY and verdict.http_status == 503
    assert verdict.checks["database"] == "unreachable" and "not-a-password" not in json.dumps(verdict.checks)
    unreachable.dispose()


def test_a_redis_that_is_down_degrades_without_taking_the_portal_out(tmp_path, models_root, caplog):
    database = Database(f"sqlite:///{tmp_path / 'ready.db'}")
    readiness = Readiness(database, Registry(models_root), f"redis://:secret-word@127.0.0.1:{closed_port()}/0")
    with caplog.at_level(logging.WARNING, logger="portal.readiness"):
        verdicts = [readiness.check() for _ in range(3)]
    assert all(v.status == DEGRADED and v.http_status == 200 for v in verdicts)
    assert verdicts[0].checks["redis"].startswith("down:") and "secret-word" not in json.dumps(verdicts[0].checks)
    assert sum("Redis is down" in record.getMessage() for record in caplog.records) == 1  # once, not per probe
    database.dispose()


def test_the_openapi_document_lists_readiness(app):
    document = app.server.test_client().get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/ready"]["get"]
    assert "security" not in operation and {"200", "503"} <= set(operation["responses"])
