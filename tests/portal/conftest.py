"""Portal fixtures: settings on a temporary SQLite file or a fresh PostgreSQL database, apps built with
the application factory, and signed-in Flask test clients. Users here are made-up test accounts."""
from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text

from portal.app import create_app
from portal.core.db import Database
from portal.accounts.permissions import ROLES
from portal.core.settings import Settings
from portal.accounts.users import create_user

ADMIN_EMAIL = "admin@example.org"
PASSWORD = "correct horse battery staple"  # made-up test password
POSTGRES_URL = os.environ.get("CANCER_ALPHA_TEST_DATABASE_URL",
                              "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_database():
    """A database of its own for this test session on the PostgreSQL server, dropped at the end."""
    name = f"cancer_alpha_test_{uuid.uuid4().hex[:10]}"
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


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


def make_settings(tmp_path, database_url, models_root, **overrides) -> Settings:
    values = dict(var_dir=tmp_path, database_url=database_url, models_dir=models_root,
                  secret_key="test-secret-key-not-for-production", admin_email=ADMIN_EMAIL,
                  admin_password=PASSWORD)
    values.update(overrides)
    return Settings.from_env(environ={}, **values)


@pytest.fixture
def settings(tmp_path, database_url, models_root) -> Settings:
    return make_settings(tmp_path, database_url, models_root)


def app_with_test_users(settings: Settings):
    """A portal whose database holds the first admin and one made-up test user per other role."""
    dash_app = create_app(settings)
    db = dash_app.server.extensions["cancer_alpha"].db
    for role in ROLES:
        if role != "admin":
            create_user(db, email_of(role), role.title(), role, PASSWORD)
    return dash_app


@pytest.fixture
def app(settings):
    dash_app = app_with_test_users(settings)
    yield dash_app
    dash_app.server.extensions["cancer_alpha"].db.dispose()


def sign_in(client, email: str, password: str = PASSWORD, next_: str | None = None):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password, "csrf": csrf})


def email_of(role: str) -> str:
    return ADMIN_EMAIL if role == "admin" else f"{role}@example.org"


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
