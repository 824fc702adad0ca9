"""The portal's files are its user's alone: var/ 0700, the files it writes there 0600 (the database,
keys, stored data, the decrypted input a notebook reads, diskcache folders), whatever umask the process
started with; the first administrator's made-up password goes to a terminal or to a 0600 file, never
to a log. Real portals on SQLite (the database file is what is checked)."""
from __future__ import annotations

import os
import stat
import types

import pytest

from portal.accounts import first_password
from portal.accounts.first_password import FILE_NAME
from portal.app import create_app
from portal.notebooks import inputs as notebook_inputs
from portal.notebooks import runs as notebook_runs
from portal.predictions import runs
from portal.private_files import private_file, restrict
from tests.helpers import (ADMIN_EMAIL, DATA_USE, MODEL, PASSWORD, cohort_csv, finished_run, make_settings, sign_in,
                           user_of)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """Start as a shell usually does (umask 022: files 0644), and put the test process's umask back."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_new_portal_keeps_var_and_its_files_private(open_umask, tmp_path, models_root, tcga):
    var = tmp_path / "var"
    app = create_app(make_settings(var, f"sqlite:///{var / 'portal.db'}", models_root, secret_key=""))
    assert mode(var) == 0o700
    for name in ("portal.db", "secret_key"):
        assert mode(var / name) == 0o600, name
    for folder in (var / "jobs",):
        assert mode(folder) == 0o700 and all(mode(p) in (0o600, 0o700) for p in folder.rglob("*")), folder
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        stored = runs.save_upload(portal, user_of(portal, "admin").id, "cohort.csv",
                                  cohort_csv(tcga, portal.registry, n=3), MODEL, data_use=DATA_USE)
    files = [p for p in portal.settings.storage_dir.rglob("*") if p.is_file()]
    assert files and all(mode(p) == 0o600 for p in files) and stored.upload.id
    assert all(mode(p) == 0o700 for p in portal.settings.storage_dir.rglob("*") if p.is_dir())


def test_an_existing_database_and_var_are_made_private(open_umask, tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    os.chmod(var, 0o755)
    (var / "portal.db").write_bytes(b"")
    os.chmod(var / "portal.db", 0o644)
    restrict(make_settings(var, f"sqlite:///{var / 'portal.db'}", tmp_path))
    assert mode(var) == 0o700 and mode(var / "portal.db") == 0o600


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_decrypted_notebook_inputs_are_0600_whatever_the_umask(open_umask, app, tmp_path, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    os.umask(0o022)  # as if no portal had set it (create_app does): the files say 0600 themselves
    with app.server.test_request_context():
        split = notebook_inputs.write_split(portal, f"{MODEL}:1", tmp_path / "split.parquet", None, None)
        prediction = finished_run(portal, tcga, registry, n=3)
        folder = tmp_path / "run"
        folder.mkdir()
        owner = user_of(portal, "researcher")
        copied = notebook_runs._write_input(portal, types.SimpleNamespace(
            parameters={notebook_inputs.INPUT_RUN: prediction.id}, user_id=owner.id), folder)
    assert mode(split) == 0o600 and split.stat().st_size > 0
    assert mode(copied) == 0o600 and copied.stat().st_size > 0


def test_private_file_makes_an_existing_file_private(open_umask, tmp_path):
    path = tmp_path / "clear.parquet"
    path.write_text("old")
    os.chmod(path, 0o644)
    assert mode(private_file(path)) == 0o600 and path.read_text() == ""


# -- the first administrator's password -------------------------------------------------------------

def test_without_a_terminal_the_first_password_goes_to_a_private_file(open_umask, tmp_path, models_root, capfd):
    var = tmp_path / "var"
    app = create_app(make_settings(var, f"sqlite:///{var / 'portal.db'}", models_root, admin_password=None))
    out, err = capfd.readouterr()
    path = var / FILE_NAME
    made_up = path.read_text().strip()
    assert mode(path) == 0o600 and len(made_up) >= 20
    assert made_up not in out + err and str(path) in err  # only the path is printed
    client = app.server.test_client()
    assert sign_in(client, ADMIN_EMAIL, made_up).status_code == 302


def test_on_a_terminal_the_first_password_is_printed_and_no_file_made(tmp_path, models_root):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", models_root)
    leader, follower = os.openpty()  # a real terminal device
    with open(follower, "w") as terminal:
        assert terminal.isatty()
        assert first_password.hand_over(settings, "made-up password for this test", terminal) is None
    shown = os.read(leader, 4096).decode()
    os.close(leader)
    assert "made-up password for this test" in shown and ADMIN_EMAIL in shown
    assert not (tmp_path / FILE_NAME).exists()


def test_a_given_first_password_is_neither_printed_nor_written(tmp_path, models_root, capfd):
    var = tmp_path / "var"
    create_app(make_settings(var, f"sqlite:///{var / 'portal.db'}", models_root))  # CANCER_ALPHA_ADMIN_PASSWORD
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err and not (var / FILE_NAME).exists()
