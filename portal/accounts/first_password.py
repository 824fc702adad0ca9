"""The first administrator's made-up password reaches a person, never a log: printed when standard
error is a terminal; otherwise (a service whose output a log collector keeps) written to
var/first-admin-password, mode 0600, and only that file's path is printed."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from portal.core.settings import Settings
from portal.private_files import write_private

FILE_NAME = "first-admin-password"


def hand_over(settings: Settings, password: str, stream: TextIO | None = None) -> Path | None:
    """Tell the first start's operator the password; returns the file it went to, or None (terminal)."""
    stream = stream or sys.stderr
    if _is_terminal(stream):
        print(f"\n  First start: administrator {settings.admin_email} created with password: {password}\n"
              "  (shown only now; change it on the Account page)\n", file=stream, flush=True)
        return None
    path = write_private(Path(settings.var_dir) / FILE_NAME, password + "\n")
    print(f"First start: administrator {settings.admin_email} created; the password is in {path} (mode 0600, "
          "readable by this user only). Sign in, change it on the Account page, and delete the file.",
          file=stream, flush=True)
    return path


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a file
        return False
