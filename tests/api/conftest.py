"""API fixtures: a portal on SQLite (the root conftest's `app`) with made-up test users and their API
keys, and real held-out samples as request bodies."""
from __future__ import annotations

import pytest

from portal.accounts import api_keys
from portal.accounts.users import find_user
from tests.helpers import MODEL, email_of


@pytest.fixture
def key_for(app):
    db = app.server.extensions["cancer_alpha"].db

    def make(role: str) -> str:
        _, key = api_keys.create_key(db, find_user(db, email_of(role)).id, f"{role} test key")
        return key
    return make


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def held_out(tcga, registry):
    """Real held-out TCGA samples as API sample objects."""
    return [{"id": i, "features": {k: float(v) for k, v in tcga.X.loc[i].items()}}
            for i in registry.resolve(MODEL).test_ids]
