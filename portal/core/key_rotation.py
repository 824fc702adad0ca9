"""Storage key rotation: `python -m portal storage rotate-key` re-encrypts every stored file (uploads,
results, figures: everything under settings.storage_dir, the only place the portal keeps encrypted files)
under the newest storage key.

How to rotate: make a key (`python -m portal storage new-key`), put it first in CANCER_ALPHA_STORAGE_KEY
on every process (`NEW,OLD`: files are then written under NEW and read under either), run rotate-key,
then drop OLD from the setting. Each file is replaced atomically (Storage.rewrap), so a rotation killed
halfway loses nothing: every file is under NEW or still under OLD, and running it again finishes the job
(files already under NEW are read, not rewritten)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from portal.core.storage import Rewrap, Storage, StorageError

STALE_SECONDS = 3600  # a temporary file older than this was left by a killed write, not one under way


@dataclass
class RotationReport:
    rotated: int = 0  # re-encrypted under the newest key
    current: int = 0  # already under it
    gone: int = 0  # deleted while the rotation ran
    unreadable: list[str] = field(default_factory=list)  # no configured key reads them: left untouched
    temporary_removed: int = 0  # stale half-written files of killed writes, removed

    @property
    def ok(self) -> bool:
        return not self.unreadable


def rotate(storage: Storage, pause: float = 0.0) -> RotationReport:
    """Re-encrypt every stored file under the newest key, one at a time (`pause` seconds between two
    rewritten files spares a busy disk)."""
    report = RotationReport(temporary_removed=_remove_stale_temporaries(storage))
    for name in storage.names():
        try:
            outcome = storage.rewrap(name)
        except StorageError:
            report.unreadable.append(name)
            continue
        setattr(report, outcome.value, getattr(report, outcome.value) + 1)
        if pause and outcome == Rewrap.ROTATED:
            time.sleep(pause)
    return report


def _remove_stale_temporaries(storage: Storage) -> int:
    removed, now = 0, time.time()
    for path in storage.temporary_files():
        try:
            if now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # its write just finished
            pass
    return removed
