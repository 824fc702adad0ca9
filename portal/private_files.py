"""The portal's own files are its user's alone: var/ (settings.var_dir) is 0700, and what the portal
writes there (the SQLite database, the development secret key, encrypted storage, the decrypted input a
notebook reads, notebook runs, the diskcache folder of jobs) is 0600 and
its folders 0700.

Done two ways: `restrict` sets the process's umask to 0o077 when a portal starts (create_app, the
command line), so every file and folder made afterwards, by this process and the job processes and
notebook kernels it starts, is private whatever library makes it; and the files that hold clear data
or keys are created 0600 explicitly (`private_file`), so they stay private in a process that did not
call `restrict`."""
from __future__ import annotations

import os
from pathlib import Path

from portal.core.settings import Settings

UMASK = 0o077
FOLDER_MODE, FILE_MODE = 0o700, 0o600


def restrict(settings: Settings) -> None:
    """Make var/ private (created 0700 if missing, its mode set to 0700 if the portal's user owns it)
    and set the umask; a SQLite database that is already there becomes 0600 with its journal files."""
    os.umask(UMASK)
    var_dir = Path(settings.var_dir)
    var_dir.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    _chmod_own(var_dir, FOLDER_MODE)
    database = sqlite_path(settings.database_url)
    if database is not None:
        for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            _chmod_own(path, FILE_MODE)


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 (or make an existing one 0600), ready to be written over: a
    writer that opens it again (pandas, pyarrow) truncates it and keeps the mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
    return path


def write_private(path: Path, text: str) -> Path:
    private_file(path).write_text(text, encoding="utf-8")
    return path


def _chmod_own(path: Path, mode: int) -> None:
    """chmod when the file exists and this user owns it (a folder given by the deployment may not be)."""
    try:
        if path.stat().st_uid == os.getuid():
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
