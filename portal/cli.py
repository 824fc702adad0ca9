"""`python -m portal`: serve (development server), `db upgrade`, user administration, API keys,
`audit verify` (the audit trail's hash chain) and notebooks (portal.notebooks.cli).

Exit status 2 when a request cannot be met (unknown user, bad role, weak password, a bad notebook
parameter); the message says why."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys

from portal.accounts import audit_chain
from portal.accounts.api_keys import create_key, list_keys, revoke_key, shown
from portal.accounts.passwords import WeakPassword, generate_password
from portal.accounts.permissions import ROLES
from portal.accounts.users import UserError, create_user, find_user, list_users, set_active, set_role
from portal.core.db import Database
from portal.core.settings import Settings, SettingsError
from portal.notebooks import cli as notebook_cli
from portal.notebooks.catalog import ParameterError
from portal.predictions.runs import RunError


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


def cmd_users_create(settings: Settings, args) -> None:
    password, made_up = _new_password(args.password)
    user = create_user(_db(settings), args.email, args.name, args.role, password)
    print(f"created {user.email} ({user.role})")
    if made_up:
        print(f"password (shown only now): {password}")


def cmd_users_list(settings: Settings, args) -> None:
    for user in list_users(_db(settings)):
        state = "active" if user.active else "deactivated"
        print(f"{user.email:<40} {user.role:<11} {state:<12} {user.name}")


def cmd_users_set_role(settings: Settings, args) -> None:
    db = _db(settings)
    user = set_role(db, find_user(db, args.email).id, args.role)
    print(f"{user.email} is now {user.role}")


def cmd_users_deactivate(settings: Settings, args) -> None:
    db = _db(settings)
    user = set_active(db, find_user(db, args.email).id, False)
    print(f"{user.email} is deactivated")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def cmd_keys_create(settings: Settings, args) -> None:
    db = _db(settings)
    user = find_user(db, args.user)
    row, key = create_key(db, user.id, args.name)
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
    row = revoke_key(_db(settings), args.prefix)
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
    notebook_cli.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(Settings.from_env(), args) or 0
    except (UserError, WeakPassword, SettingsError, ParameterError, RunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
