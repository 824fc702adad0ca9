"""`python -m portal purge [--days N] [--dry-run]`, `python -m portal erase --sample ID` (or `--upload ID`)
and `python -m portal storage rotate-key | new-key` (portal.core.key_rotation).

Exit status: 0 done; 1 a rotation left files that no configured key reads (named); 2 a request that
cannot be met (an unknown user, a run still going: the message says why; nothing was changed)."""
from __future__ import annotations

import argparse
import sys

from cryptography.fernet import Fernet

from portal.accounts.permissions import ADMIN
from portal.accounts.users import find_user
from portal.core import key_rotation
from portal.core.context import standalone
from portal.core.settings import Settings
from portal.core.storage import Storage
from portal.retention import erasure, purge


def _portal(settings: Settings):
    portal = standalone(settings)
    portal.db.upgrade()
    return portal


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def cmd_purge(settings: Settings, args) -> int:
    report = purge.purge(_portal(settings), days=args.days, dry_run=args.dry_run)
    verb = "would purge" if report.dry_run else "purged"
    print(f"older than {report.cutoff:%Y-%m-%d %H:%M} UTC ({_plural(report.days, 'day')}): {verb} "
          f"{_plural(len(report.uploads), 'upload')}, {_plural(len(report.runs), 'prediction run')}, "
          f"{_plural(len(report.notebook_runs), 'notebook run')}"
          + ("" if report.dry_run else f"; {_plural(report.files_removed, 'file')} removed"))
    for kind, ids in (("upload", report.uploads), ("run", report.runs), ("notebook run", report.notebook_runs)):
        for record_id in ids:
            print(f"  {kind} {record_id}")
    for run_id in report.left_active:
        print(f"  run {run_id} is still going: it and its upload are left for the next purge")
    return 0


def _operator(portal, email: str | None) -> tuple[int | None, str | None]:
    if not email:
        return None, None
    user = find_user(portal.db, email)
    return user.id, user.email


def cmd_erase(settings: Settings, args) -> int:
    portal = _portal(settings)
    user_id, actor = _operator(portal, args.by)
    if args.upload:
        deleted = erasure.delete_upload(portal, args.upload, user_id, ADMIN)
        print(f"deleted upload {deleted.upload_id} with {_plural(len(deleted.runs), 'run')} "
              f"({_plural(deleted.files_removed, 'stored file')} removed)")
        return 0
    report = erasure.erase_sample(portal, args.sample, user_id, actor)
    _print_erasure(report)
    return 0


def _print_erasure(report: erasure.ErasureReport) -> None:
    rows = sum(report.uploads.values()) + sum(report.runs.values())
    if not report.touched:
        print(f"sample (sha256 {report.sample_sha256[:16]}…) is held by no stored upload or result: nothing "
              f"changed (the request is audited)")
        return
    print(f"erased sample (sha256 {report.sample_sha256[:16]}…): {_plural(len(report.uploads), 'upload')}, "
          f"{_plural(len(report.runs), 'prediction run')}, {_plural(rows, 'row')} removed")
    emptied = " (no sample left: file deleted, record marked erased)"
    for kind, counts in (("upload", report.uploads), ("run", report.runs)):
        for record_id, removed in counts.items():
            print(f"  {kind} {record_id}: {_plural(removed, 'row')} removed"
                  + (emptied if record_id in report.emptied else ", the rest re-encrypted"))
    for run_id in report.notebook_runs:
        print(f"  notebook run {run_id}: its files deleted (computed from the sample), record marked erased")
    for upload_id in report.reports:
        print(f"  upload {upload_id}: validation messages naming the sample removed")
    if report.reviews:
        print(f"  {_plural(report.reviews, 'review')} of the sample removed")


def cmd_rotate_key(settings: Settings, args) -> int:
    storage = Storage(settings)
    report = key_rotation.rotate(storage, pause=args.pause)
    print(f"storage {storage.root}: {report.rotated:,} rotated, {report.current:,} already under the newest key, "
          f"{len(report.unreadable):,} unreadable" + (f", {report.gone:,} deleted meanwhile" if report.gone else "")
          + (f"; {report.temporary_removed:,} stale temporary files removed" if report.temporary_removed else ""))
    for name in report.unreadable:
        print(f"  unreadable with the configured keys (left as it is): {name}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_new_key(settings: Settings, args) -> int:
    print(Fernet.generate_key().decode())
    return 0


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--days takes a whole number of days, not {text!r}") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"--days must be 0 or more, not {days}")
    return days


def add_commands(sub) -> None:
    purge_parser = sub.add_parser("purge", help="delete uploads, results and notebook files older than the "
                                                "retention policy (records stay, marked purged)")
    purge_parser.add_argument("--days", type=_days, help="keep this many days instead of CANCER_ALPHA_RETENTION_DAYS")
    purge_parser.add_argument("--dry-run", action="store_true", help="only list what would be purged")
    purge_parser.set_defaults(func=cmd_purge)

    erase = sub.add_parser("erase", help="erase one sample from every stored upload and result, or delete an upload")
    what = erase.add_mutually_exclusive_group(required=True)
    what.add_argument("--sample", help="the sample id, as it appears in the uploaded files")
    what.add_argument("--upload", help="an upload's id: delete it with every run of it")
    erase.add_argument("--by", metavar="EMAIL", help="record the erasure as this user (default: system)")
    erase.set_defaults(func=cmd_erase)

    storage = sub.add_parser("storage", help="the encrypted file storage").add_subparsers(
        dest="storage_command", required=True)
    rotate = storage.add_parser("rotate-key", help="re-encrypt every stored file under the first key of "
                                                   "CANCER_ALPHA_STORAGE_KEY")
    rotate.add_argument("--pause", type=float, default=0.0, metavar="SECONDS",
                        help="pause between two rewritten files, to spare a busy disk")
    rotate.set_defaults(func=cmd_rotate_key)
    storage.add_parser("new-key", help="print a fresh storage key").set_defaults(func=cmd_new_key)
