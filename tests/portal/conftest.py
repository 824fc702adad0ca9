"""Portal fixtures: settings on a temporary SQLite file or a fresh PostgreSQL database, apps built with
the application factory (tests.helpers), and signed-in Flask test clients. Users are made-up test
accounts."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from portal.core.db import Database
from portal.core.settings import Settings
from tests.helpers import email_of, make_settings, sign_in
from tests.local_servers import own_postgres_database


@pytest.fixture(scope="session")
def postgres_database():
    """A database of its own for this test session on the PostgreSQL server, dropped at the end."""
    with own_postgres_database("cancer_alpha_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.db'}"
    url = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as connection:  # each test starts from an empty schema
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def migrated_db(database_url):
    """A database of the parametrized kind, upgraded to the latest migration, with no app around it."""
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path, database_url, models_root) -> Settings:
    return make_settings(tmp_path, database_url, models_root)


@pytest.fixture
def app(make_portal, database_url):
    """A portal with its test users, on SQLite and on PostgreSQL."""
    return make_portal(database_url)


@pytest.fixture
def portal(app):
    """The app's Portal inside a request context (audit entries and access checks need one)."""
    with app.server.test_request_context():
        yield app.server.extensions["cancer_alpha"]


@pytest.fixture
def client_for(app):
    """client_for(role) -> a Flask test client signed in as that role's test user."""
    def make(role: str):
        client = app.server.test_client()
        response = sign_in(client, email_of(role))
        assert response.status_code == 302, response.get_data(as_text=True)
        return client
    return make


@pytest.fixture
def db(app) -> Database:
    return app.server.extensions["cancer_alpha"].db
