"""Settings come from CANCER_ALPHA_* variables with embedded single-machine defaults."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from engine.settings import PROJECT_ROOT
from portal.core.settings import Settings, SettingsError

STORAGE_KEY = Fernet.generate_key().decode()  # made up for these tests


def test_defaults_serve_one_machine(tmp_path):
    settings = Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings.rate_limit_storage == "cancer-alpha-memory://" and settings.redis_url is None
    assert not settings.production and (settings.host, settings.port) == ("127.0.0.1", 8050)


def test_development_secret_is_made_once_and_kept_private(tmp_path):
    first = Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path)})
    second = Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 48 and first.secret_key == second.secret_key
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert "secret" not in repr(first).lower() or first.secret_key not in repr(first)


def test_environment_overrides(tmp_path):
    settings = Settings.from_env({
        "CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production",
        "CANCER_ALPHA_SECRET_KEY": "s" * 40, "CANCER_ALPHA_DATABASE_URL": "postgresql+psycopg2://db/portal",
        "CANCER_ALPHA_STORAGE_KEY": STORAGE_KEY,
        "CANCER_ALPHA_REDIS_URL": "redis://127.0.0.1:6379/1", "CANCER_ALPHA_PORT": "9000",
        "CANCER_ALPHA_ADMIN_EMAIL": " Boss@Example.org ",
    })
    assert settings.production and settings.port == 9000 and settings.admin_email == "boss@example.org"
    assert settings.rate_limit_storage == "redis://127.0.0.1:6379/1"
    assert not (tmp_path / "secret_key").exists()


def test_production_names_everything_it_misses_at_once(tmp_path):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production"})
    message = str(refused.value)
    assert message.startswith("CANCER_ALPHA_ENV=production needs: ")
    for named in ("CANCER_ALPHA_SECRET_KEY", "CANCER_ALPHA_STORAGE_KEY", "CANCER_ALPHA_DATABASE_URL", "not SQLite"):
        assert named in message
    assert not (tmp_path / "secret_key").exists()  # production never makes up a key


@pytest.mark.parametrize("left_out,named", [
    ("CANCER_ALPHA_SECRET_KEY", "SECRET_KEY"), ("CANCER_ALPHA_STORAGE_KEY", "STORAGE_KEY"),
    ("CANCER_ALPHA_DATABASE_URL", "DATABASE_URL"),
])
def test_production_names_the_one_setting_missing(tmp_path, left_out, named):
    complete = {"CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production",
                "CANCER_ALPHA_SECRET_KEY": "s" * 40, "CANCER_ALPHA_STORAGE_KEY": STORAGE_KEY,
                "CANCER_ALPHA_DATABASE_URL": "postgresql+psycopg2://db/portal"}
    assert Settings.from_env(complete).production
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({k: v for k, v in complete.items() if k != left_out})
    assert str(refused.value).count("CANCER_ALPHA_") == 2 and named in str(refused.value)  # ENV and the one


@pytest.mark.parametrize("storage_key", ["derived", f"derived,{STORAGE_KEY}"])
def test_production_refuses_to_encrypt_under_the_derived_key(tmp_path, storage_key):
    """Files written under the key derived from the secret key would go with it: production writes under a
    key of its own ('derived' may follow it, while a rotation moves the old files)."""
    base = {"CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production",
            "CANCER_ALPHA_SECRET_KEY": "s" * 40, "CANCER_ALPHA_DATABASE_URL": "postgresql+psycopg2://db/portal"}
    with pytest.raises(SettingsError, match="STORAGE_KEY"):
        Settings.from_env({**base, "CANCER_ALPHA_STORAGE_KEY": storage_key})
    assert Settings.from_env({**base, "CANCER_ALPHA_STORAGE_KEY": f"{STORAGE_KEY},derived"}).production


def test_production_refuses_sqlite(tmp_path):
    with pytest.raises(SettingsError, match="not SQLite"):
        Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production",
                           "CANCER_ALPHA_SECRET_KEY": "s" * 40, "CANCER_ALPHA_STORAGE_KEY": STORAGE_KEY,
                           "CANCER_ALPHA_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"})


def test_production_refuses_to_start_from_the_command_line(tmp_path):
    env = {"PATH": os.environ["PATH"], "CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production"}
    answer = subprocess.run([sys.executable, "-m", "portal", "db", "upgrade"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert answer.returncode == 2 and "Traceback" not in answer.stderr
    assert "SECRET_KEY" in answer.stderr and "STORAGE_KEY" in answer.stderr and "DATABASE_URL" in answer.stderr


@pytest.mark.parametrize("name,value,message", [
    ("CANCER_ALPHA_PORT", "eighty", "PORT must be a whole number"),
    ("CANCER_ALPHA_ENV", "staging", "ENV must be development or production"),
])
def test_bad_values_are_named(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path), name: value})
