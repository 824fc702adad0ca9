"""Alembic migrations upgrade an empty database, on SQLite and on PostgreSQL."""
from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from portal.core.db import Database, alembic_config
from portal.core.models import Base

TABLES = {"users", "api_keys", "audit_events", "uploads", "prediction_runs", "notebook_runs", "run_shares",
          "sample_reviews"}


def test_upgrade_from_empty_creates_every_table(database_url):
    db = Database(database_url)
    db.upgrade()
    tables = set(inspect(db.engine).get_table_names())
    assert TABLES <= tables and "alembic_version" in tables
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    with db.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == head
    # the migrations create what the models describe, column for column
    for table in Base.metadata.sorted_tables:
        assert {c["name"] for c in inspect(db.engine).get_columns(table.name)} == set(table.columns.keys())
    db.upgrade()  # a second upgrade is a no-op
    with db.engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert not TABLES & set(inspect(db.engine).get_table_names())
    db.dispose()


def test_cli_upgrade(database_url, monkeypatch, tmp_path, capsys):
    from portal.cli import main

    monkeypatch.setenv("CANCER_ALPHA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CANCER_ALPHA_DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 0
    assert "latest migration" in capsys.readouterr().out
    assert TABLES <= set(inspect(Database(database_url).engine).get_table_names())
