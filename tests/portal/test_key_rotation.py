"""Storage key rotation (portal.core.storage, portal.core.key_rotation) on the stored files of real
prediction runs (real held-out TCGA samples): several keys newest first, `storage rotate-key` moving every
file to the newest, the old key then dropped and every file still read; a rotation killed with SIGKILL
halfway loses no file and a second run finishes it. The keys are made up here, for the test."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from cryptography.fernet import Fernet, InvalidToken

from components import run_figures
from engine.settings import PROJECT_ROOT
from portal.cli import main
from portal.core import key_rotation
from portal.core.context import Portal
from portal.core.settings import SettingsError
from portal.core.storage import Rewrap, Storage, StorageError
from portal.predictions import figure_store, runs
from tests.helpers import finished_run, make_settings

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def stored(make_portal, database_url, tcga, registry):
    """A portal whose storage key is OLD, with a finished run on 6 real samples and its figures stored:
    its upload, results and figures (three encrypted files)."""
    app = make_portal(database_url, storage_key=OLD)
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        run = finished_run(portal, tcga, registry, n=6)
        figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw)
    return portal, run


def _with_keys(portal: Portal, keys: str) -> Portal:
    """The same database and registry with CANCER_ALPHA_STORAGE_KEY set to `keys`."""
    settings = make_settings(portal.settings.var_dir, portal.settings.database_url, portal.settings.models_dir,
                             storage_key=keys)
    return Portal(settings=settings, db=portal.db, registry=portal.registry)


def _under(key: str, path) -> bool:
    try:
        Fernet(key.encode()).decrypt(path.read_bytes())
        return True
    except InvalidToken:
        return False


def test_the_setting_takes_several_keys_and_names_a_bad_one_by_position(tmp_path, models_root):
    settings = make_settings(tmp_path, "sqlite://", models_root, storage_key=f" {NEW} ,{OLD},derived")
    storage = Storage(settings)
    written_under_old = Storage(make_settings(tmp_path, "sqlite://", models_root, storage_key=OLD))
    written_under_old.put("a/b", b"made-up bytes")
    assert storage.get("a/b") == b"made-up bytes"  # read under the second key
    storage.put("a/c", b"more")
    assert _under(NEW, storage.root / "a/c")  # written under the first
    derived = Storage(make_settings(tmp_path, "sqlite://", models_root))  # no setting: the derived key
    derived.put("a/d", b"derived")
    assert storage.get("a/d") == b"derived"
    with pytest.raises(SettingsError, match="key 2 of 2 is not a Fernet key") as error:
        Storage(make_settings(tmp_path, "sqlite://", models_root, storage_key=f"{NEW},not-a-key"))
    assert "not-a-key" not in str(error.value)  # a key, even a broken one, is never echoed


def test_rotate_key_moves_a_real_runs_files_to_the_new_key(stored, monkeypatch, capsys):
    portal, run = stored
    names = sorted(portal.storage.names())
    assert names == sorted([f"uploads/{run.upload_id}/input.parquet", f"runs/{run.id}/results.parquet",
                            f"runs/{run.id}/figures.json"])
    before = runs.results(portal, run)
    figures = figure_store.figures(portal, run, run_figures.FORMAT, run_figures.draw)
    for name, value in (("VAR_DIR", str(portal.settings.var_dir)), ("DATABASE_URL", portal.settings.database_url),
                        ("SECRET_KEY", portal.settings.secret_key), ("STORAGE_KEY", f"{NEW},{OLD}")):
        monkeypatch.setenv(f"CANCER_ALPHA_{name}", value)
    assert main(["storage", "rotate-key"]) == 0
    assert "3 rotated, 0 already under the newest key, 0 unreadable" in capsys.readouterr().out
    assert all(_under(NEW, portal.storage.root / name) for name in names)
    assert main(["storage", "rotate-key"]) == 0  # a second run rewrites nothing
    assert "0 rotated, 3 already under the newest key" in capsys.readouterr().out

    only_new = _with_keys(portal, NEW)  # the old key dropped from the setting: everything still reads
    assert runs.results(only_new, run).equals(before)
    assert figure_store.figures(only_new, run, run_figures.FORMAT, _must_not_draw) == figures
    assert len(only_new.storage.get_frame(f"uploads/{run.upload_id}/input.parquet")) == 6
    with pytest.raises(StorageError, match="cannot be decrypted"):
        _with_keys(portal, OLD).storage.get(names[0])


def _must_not_draw(_inputs):
    raise AssertionError("the stored figures should have been read")


def test_new_key_prints_a_fresh_key(capsys):
    assert main(["storage", "new-key"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["storage", "new-key"]) == 0
    assert Fernet(first.encode()) and capsys.readouterr().out.strip() != first


def test_unreadable_files_are_reported_and_left_and_stale_temporaries_removed(stored, capsys):
    portal, run = stored
    foreign = Fernet.generate_key().decode()  # a key the portal was never given
    _with_keys(portal, foreign).storage.put("runs/stray/results.parquet", b"written under another key")
    stale = portal.storage.root / "runs" / run.id / ".incoming-killed"
    stale.write_bytes(b"half a token")
    os.utime(stale, (time.time() - 2 * key_rotation.STALE_SECONDS,) * 2)
    fresh = portal.storage.root / "runs" / run.id / ".incoming-under-way"
    fresh.write_bytes(b"a write still going")
    report = key_rotation.rotate(_with_keys(portal, f"{NEW},{OLD}").storage)
    assert (report.rotated, report.current, report.unreadable, report.temporary_removed) == (
        3, 0, ["runs/stray/results.parquet"], 1)
    assert not stale.exists() and fresh.exists()  # a write under way is left alone
    assert _under(foreign, portal.storage.root / "runs/stray/results.parquet")  # left as it was


def _copies(portal: Portal, run, count: int) -> list[str]:
    """`count` more stored files holding the real run's results (as many runs of it would)."""
    data = portal.storage.get(f"runs/{run.id}/results.parquet")
    names = [f"runs/{uuid.uuid4().hex}/results.parquet" for _ in range(count)]
    for name in names:
        portal.storage.put(name, data)
    return names


@SQLITE_ONLY
def test_a_rotation_killed_halfway_loses_nothing_and_a_second_run_finishes_it(stored):
    portal, run = stored
    _copies(portal, run, 57)
    names = list(portal.storage.names())
    paths = [portal.storage.root / name for name in names]
    assert len(names) == 60
    env = {**os.environ, "CANCER_ALPHA_VAR_DIR": str(portal.settings.var_dir),
           "CANCER_ALPHA_DATABASE_URL": portal.settings.database_url,
           "CANCER_ALPHA_SECRET_KEY": portal.settings.secret_key, "CANCER_ALPHA_STORAGE_KEY": f"{NEW},{OLD}"}
    process = subprocess.Popen([sys.executable, "-m", "portal", "storage", "rotate-key", "--pause", "0.05"],
                               cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while sum(_under(NEW, path) for path in paths) < 5:  # some files done, most not yet
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the rotation did not start"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    both = _with_keys(portal, f"{NEW},{OLD}")
    done = sum(_under(NEW, path) for path in paths)
    assert 5 <= done < 60, done  # killed halfway
    assert sorted(both.storage.names()) == sorted(names)  # no file lost (a temporary file may be left)
    for name in names:  # and every one reads, under the new key or still under the old
        read = both.storage.get(name)
        assert len(both.storage.get_frame(name)) == 6 if name.endswith(".parquet") else read.startswith(b"{")
    second = key_rotation.rotate(both.storage)
    assert (second.rotated, second.current, second.unreadable) == (60 - done, done, [])
    only_new = _with_keys(portal, NEW)
    assert all(only_new.storage.get(name) == both.storage.get(name) for name in names)
    assert len(runs.results(only_new, run)) == 6
    print(f"\nkilled after {done} of 60 files; the second run rotated {second.rotated}")


def test_rewrap_says_what_it_did(stored):
    portal, run = stored
    both = _with_keys(portal, f"{NEW},{OLD}").storage
    name = f"runs/{run.id}/results.parquet"
    assert (both.rewrap(name), both.rewrap(name)) == (Rewrap.ROTATED, Rewrap.CURRENT)
    portal.storage.delete(name)
    assert both.rewrap(name) == Rewrap.GONE
