"""API fixtures: a portal on SQLite with made-up test users and their API keys, and real held-out
samples as request bodies."""
from __future__ import annotations

import pytest

from portal.accounts import api_keys
from portal.accounts.users import find_user
from tests.portal.conftest import app_with_test_users, email_of, make_settings

MODEL = "tcga-mirna-type"


@pytest.fixture
def api_app(tmp_path, models_root):
    app = app_with_test_users(make_settings(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", models_root))
    api_keys.clear_cache()
    yield app
    app.server.extensions["cancer_alpha"].db.dispose()


@pytest.fixture
def key_for(api_app):
    db = api_app.server.extensions["cancer_alpha"].db

    def make(role: str) -> str:
        _, key = api_keys.create_key(db, find_user(db, email_of(role)).id, f"{role} test key")
        return key
    return make


@pytest.fixture
def client(api_app):
    return api_app.server.test_client()


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def held_out(tcga, registry):
    """Real held-out TCGA samples as API sample objects."""
    ids = registry.resolve(MODEL).metadata["split"]["test_ids"]
    return [{"id": i, "features": {k: float(v) for k, v in tcga.X.loc[i].items()}} for i in ids]
