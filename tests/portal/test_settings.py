"""Settings come from CANCER_ALPHA_* variables with embedded single-machine defaults."""
from __future__ import annotations

import stat

import pytest

from portal.core.settings import Settings, SettingsError


def test_defaults_serve_one_machine(tmp_path):
    settings = Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings.rate_limit_storage == "memory://" and settings.redis_url is None
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
        "CANCER_ALPHA_REDIS_URL": "redis://127.0.0.1:6379/1", "CANCER_ALPHA_PORT": "9000",
        "CANCER_ALPHA_ADMIN_EMAIL": " Boss@Example.org ",
    })
    assert settings.production and settings.port == 9000 and settings.admin_email == "boss@example.org"
    assert settings.rate_limit_storage == "redis://127.0.0.1:6379/1"
    assert not (tmp_path / "secret_key").exists()


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path), "CANCER_ALPHA_ENV": "production"})


@pytest.mark.parametrize("name,value,message", [
    ("CANCER_ALPHA_PORT", "eighty", "PORT must be a whole number"),
    ("CANCER_ALPHA_ENV", "staging", "ENV must be development or production"),
])
def test_bad_values_are_named(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"CANCER_ALPHA_VAR_DIR": str(tmp_path), name: value})
