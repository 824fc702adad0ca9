"""`python -m portal`: serve (development server), `db upgrade`, user administration, API keys,
`audit verify` (the audit trail's hash chain), notebooks (portal.notebooks.cli), and purge, erase and
storage key rotation (portal.retention.cli), and `report` (a sample's PDF and FHIR bundle from a file:
portal.reports.command).

Exit status 2 when a request cannot be met (unknown user, bad role, weak password, a bad notebook
parameter); the message says why."""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from contextlib import contextmanager

from portal import private_files
from portal.accounts import audit, audit_chain, audit_export
from portal.accounts.api_keys import create_key, list_keys, named_prefix, revoke_key, shown
from portal.accounts.passwords import WeakPassword, generate_password
from portal.accounts.permissions import ROLES
from portal.accounts.users import UserError, create_user, find_user, list_users, set_active, set_role
from portal.core.db import Database
from portal.core.settings import Settings, SettingsError
from portal.core.states import AuditOutcome
from portal.notebooks import cli as notebook_cli
from portal.notebooks.catalog import ParameterError
from portal.predictions.runs import RunError
from portal.reports import command as report_command
from portal.retention import cli as retention_cli


def _db(settings: Settings) -> Database:
    db = Database(settings.database_url)
    db.upgrade()
    return db


def cmd_serve(settings: Settings, args) -> None:
    from portal.app import create_app

    app = create_app(settings)
    print(f"Cancer Alpha portal on http://{settings.host}:{settings.port}/ (development server; "
          "production runs portal.wsgi:server under gunicorn)", flush=True)
    app.run(host=settings.host, port=settings.port, debug=False)


def cmd_db_upgrade(settings: Settings, args) -> None:
    db = _db(settings)
    print(f"database {db.engine.url.render_as_string(hide_password=True)} is at the latest migration")


def _new_password(given: str | None) -> tuple[str, bool]:
    """The password to set, and whether it was made up here (then it is printed once)."""
    if given:
        return given, False
    if sys.stdin.isatty():
        typed = getpass.getpass("Password (leave empty to make one up): ")
        if typed:
            return typed, False
    return generate_password(), True


VIA = "command line"


@contextmanager
def _audited(db: Database, action: str, target: str | None):
    """One audit entry for a command's change (as "system": the command line has no signed-in user):
    ok with the details the block fills in, or failed with the reason it was refused."""
    details = {}
    try:
        yield details
    except (UserError, WeakPassword) as error:
        audit.record(action, outcome=AuditOutcome.FAILED, target=target, details={"error": str(error), "via": VIA},
                     db=db)
        raise
    target = details.pop("target", target)
    audit.record(action, target=target, details={**details, "via": VIA}, db=db)


def cmd_users_create(settings: Settings, args) -> None:
    password, made_up = _new_password(args.password)
    db = _db(settings)
    with _audited(db, "user.create", (args.email or "")[:254]) as details:
        user = create_user(db, args.email, args.name, args.role, password)
        details["role"] = user.role
    print(f"created {user.email} ({user.role})")
    if made_up:
        print(f"password (shown only now): {password}")


def cmd_users_list(settings: Settings, args) -> None:
    for user in list_users(_db(settings)):
        state = "active" if user.active else "deactivated"
        print(f"{user.email:<40} {user.role:<11} {state:<12} {user.name}")


def cmd_users_set_role(settings: Settings, args) -> None:
    db = _db(settings)
    with _audited(db, "user.role", args.email[:254]) as details:
        user = set_role(db, find_user(db, args.email).id, args.role)
        details.update(role=user.role, active=user.active)
    print(f"{user.email} is now {user.role}")


def cmd_users_deactivate(settings: Settings, args) -> None:
    db = _db(settings)
    with _audited(db, "user.deactivate", args.email[:254]) as details:
        user = set_active(db, find_user(db, args.email).id, False)
        details.update(role=user.role, active=user.active)
    print(f"{user.email} is deactivated")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def cmd_keys_create(settings: Settings, args) -> None:
    db = _db(settings)
    with _audited(db, "api-key.create", None) as details:
        user = find_user(db, args.user)
        row, key = create_key(db, user.id, args.name)
        details.update(target=row.prefix, owner=user.email, name=row.name)  # never the key
    print(f"created key {shown(row.prefix)} ({row.name}) for {user.email}")
    print(f"API key (shown only now, it cannot be recovered): {key}")


def cmd_keys_list(settings: Settings, args) -> None:
    db = _db(settings)
    emails = {user.id: user.email for user in list_users(db)}
    rows = list_keys(db, find_user(db, args.user).id if args.user else None)
    print(f"{'key':<15} {'owner':<32} {'name':<24} {'created':<20} {'last used':<20} revoked")
    for row in rows:
        print(f"{shown(row.prefix):<15} {emails.get(row.user_id, '?'):<32} {row.name:<24} "
              f"{_when(row.created_at):<20} {_when(row.last_used_at):<20} {_when(row.revoked_at)}")


def cmd_keys_revoke(settings: Settings, args) -> None:
    db = _db(settings)
    with _audited(db, "api-key.revoke", named_prefix(args.prefix)) as details:  # an entry never holds a key
        row = revoke_key(db, args.prefix)
        details["name"] = row.name
    print(f"{shown(row.prefix)} ({row.name}) is revoked since {_when(row.revoked_at)}")


def cmd_audit_verify(settings: Settings, args) -> int:
    """Exit 0 when the chain holds, 1 (naming the first broken entry) when it does not."""
    verdict = audit_chain.verify(_db(settings).engine)
    if verdict.ok:
        print(f"the audit trail holds: {verdict.entries:,} entries, each linked to the one before it; "
              f"newest hash {verdict.head}")
        return 0
    print(f"the audit trail is broken at {verdict.broken} ({verdict.entries:,} entries read)", file=sys.stderr)
    return 1


def cmd_audit_export(settings: Settings, args) -> int:
    """The entries the options pick, as CSV (portal.accounts.audit_export), to a 0600 file or stdout."""
    db = _db(settings)
    email = args.user.strip().lower() if args.user else None
    try:
        chosen = audit_export.filters(user_id=_user_id(db, email), actor=email, action=args.action,
                                      outcome=args.outcome, since=args.since, until=args.until, target=args.target)
    except audit_export.FilterError as error:
        audit.record(audit_export.ACTION, outcome=AuditOutcome.FAILED, target="csv",
                     details={"error": str(error), "via": VIA}, db=db)
        raise
    try:
        target = open(_private_file(args.output), "w", encoding="utf-8", newline="") if args.output else None
    except OSError as error:  # nothing read, nothing written: not an export
        print(f"error: cannot write {args.output}: {error.strerror}", file=sys.stderr)
        return 2
    up_to = audit_export.newest_id(db.engine)
    if target:
        with target:
            entries = audit_export.write(target, db.engine, chosen, up_to)
        print(f"wrote {entries:,} entries to {args.output}", file=sys.stderr)
    else:
        entries = audit_export.write(sys.stdout, db.engine, chosen, up_to)
    audit_export.record_export(chosen, entries, via=VIA, db=db)
    return 0


def _private_file(path: str) -> int:
    """A file descriptor of `path`, readable and writable by its owner only: the trail names people and
    addresses."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file that was there keeps its mode otherwise
    return descriptor


def _user_id(db: Database, email: str | None) -> int | None:
    """The user's id, or None for an e-mail no account has (its failed sign-ins still name it)."""
    try:
        return find_user(db, email).id if email else None
    except UserError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m portal", description="The Cancer Alpha portal.")
    parser.set_defaults(func=cmd_serve)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the development server (the default)").set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply every migration").set_defaults(func=cmd_db_upgrade)

    users = sub.add_parser("users", help="user administration").add_subparsers(dest="users_command", required=True)
    create = users.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--password", help="omit to type it, or to have a strong one made up and printed once")
    create.set_defaults(func=cmd_users_create)
    users.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
    role = users.add_parser("set-role", help="change a user's role")
    role.add_argument("email")
    role.add_argument("role", choices=ROLES)
    role.set_defaults(func=cmd_users_set_role)
    deactivate = users.add_parser("deactivate", help="deactivate a user (they can no longer sign in)")
    deactivate.add_argument("email")
    deactivate.set_defaults(func=cmd_users_deactivate)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    key_create = keys.add_parser("create", help="make an API key for a user (printed once)")
    key_create.add_argument("--user", required=True, help="the owner's e-mail")
    key_create.add_argument("--name", required=True, help="what the key is for (at most 100 characters)")
    key_create.set_defaults(func=cmd_keys_create)
    key_list = keys.add_parser("list", help="list API keys (revoked ones too)")
    key_list.add_argument("--user", help="only this user's keys (e-mail)")
    key_list.set_defaults(func=cmd_keys_list)
    key_revoke = keys.add_parser("revoke", help="revoke an API key")
    key_revoke.add_argument("prefix", help="the key's prefix: 1a2b3c4d or ca_1a2b3c4d_…")
    key_revoke.set_defaults(func=cmd_keys_revoke)
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="check the hash chain; names the first entry changed, deleted or inserted"
                     ).set_defaults(func=cmd_audit_verify)
    export = audit.add_parser("export", help="write the audit trail (or the entries the options pick) as CSV")
    export.add_argument("--since", help="from this date (YYYY-MM-DD) or ISO date and time, UTC")
    export.add_argument("--until", help="up to this date (through that whole day) or ISO date and time, UTC")
    export.add_argument("--action", help="one action, as the trail names it (sign-in, upload, ...)")
    export.add_argument("--user", help="the entries of this user (e-mail), and those naming the e-mail as actor")
    export.add_argument("--outcome", choices=[str(outcome) for outcome in AuditOutcome])
    export.add_argument("--target", help="entries whose target contains this text (any case)")
    export.add_argument("-o", "--output", help="the CSV file to write (made readable by its owner only); "
                        "default: standard output")
    export.set_defaults(func=cmd_audit_export)
    notebook_cli.add_commands(sub)
    retention_cli.add_commands(sub)  # purge, erase, storage rotate-key / new-key
    report_command.add_commands(sub)  # report: a sample's PDF and FHIR bundle from a file
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        private_files.restrict(settings)  # var/ 0700 and what is written there 0600, as in the portal itself
        return args.func(settings, args) or 0
    except (UserError, WeakPassword, SettingsError, ParameterError, RunError, audit_export.FilterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
