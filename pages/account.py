"""Account: change one's own password, and make or revoke one's API keys."""
from __future__ import annotations

from datetime import datetime

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html, no_update
from flask_login import current_user, login_user

from pages.frame import page_denied
from portal import browser_values
from portal.accounts import audit
from portal.accounts.api_keys import MAX_ACTIVE_KEYS, MAX_NAME, create_key, list_keys, revoke_key, shown
from portal.accounts.passwords import MIN_LENGTH, WeakPassword
from portal.accounts.permissions import allowed, require
from portal.accounts.signin import SessionUser
from portal.accounts.users import UserError, change_password
from portal.core import context
from portal.core.states import AuditOutcome

dash.register_page(__name__, path="/account", name="Account", order=90, permission="change_own_password",
                   in_nav=False)

KEYS_PERMISSION = "manage_own_api_keys"
MAX_PASSWORD_FIELD = 1024  # characters a password field takes (a request written by hand may send more)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _own_keys() -> list:
    return list_keys(context.get().db, current_user.id)


def key_rows(keys: list) -> list[dict]:
    return [{"name": k.name, "key": shown(k.prefix), "created": _when(k.created_at),
             "last_used": _when(k.last_used_at) or "never",
             "status": f"revoked {_when(k.revoked_at)}" if k.revoked_at else "active"} for k in keys]


def key_options(keys: list) -> list[dict]:
    return [{"label": f"{k.name} ({shown(k.prefix)})", "value": k.id} for k in keys if k.revoked_at is None]


def _password_card() -> dbc.Card:
    return dbc.Card(dbc.CardBody([
        html.H2("Change password", className="h6"),
        dbc.Label("Current password", html_for="account-current"),
        dbc.Input(id="account-current", type="password", autocomplete="current-password"),
        dbc.Label(f"New password (at least {MIN_LENGTH} characters, not a common one)", html_for="account-new", className="mt-2"),
        dbc.Input(id="account-new", type="password", autocomplete="new-password"),
        dbc.Label("New password again", html_for="account-repeat", className="mt-2"),
        dbc.Input(id="account-repeat", type="password", autocomplete="new-password"),
        dbc.Button("Change password", id="account-change", color="primary", className="mt-3"),
        html.Div(id="account-message", className="mt-3"),
    ]), style={"maxWidth": "28rem"})


def _keys_card() -> dbc.Card:
    keys = _own_keys()
    return dbc.Card(dbc.CardBody([
        html.H2("API keys", className="h6"),
        html.P(f"A program holding one of your keys acts as you, with your role. At most {MAX_ACTIVE_KEYS} "
               "active keys; revoke the ones you no longer use.", className="small text-muted"),
        dag.AgGrid(id="account-keys-grid", rowData=key_rows(keys), columnSize="sizeToFit",
                   columnDefs=[{"field": "name", "flex": 2}, {"field": "key"}, {"field": "created"},
                               {"field": "last_used", "headerName": "Last used"}, {"field": "status"}],
                   defaultColDef={"sortable": True, "resizable": True},
                   dashGridOptions={"domLayout": "autoHeight"}),
        dbc.Row([
            dbc.Col([
                dbc.Label("Name of a new key", html_for="account-key-name"),
                dbc.InputGroup([
                    dbc.Input(id="account-key-name", maxLength=MAX_NAME, placeholder="e.g. analysis server"),
                    dbc.Button("Create key", id="account-create-key", color="primary"),
                ]),
            ], md=6),
            dbc.Col([
                dbc.Label("Revoke a key", html_for="account-revoke-key"),
                dbc.InputGroup([
                    html.Div(dcc.Dropdown(id="account-revoke-key", options=key_options(keys),
                                          placeholder="an active key"), style={"flex": "1 1 auto"}),
                    dbc.Button("Revoke", id="account-revoke", color="danger"),
                ]),
                dcc.ConfirmDialog(id="account-revoke-confirm",
                                  message="Revoke this key? Programs using it stop working."),
            ], md=6),
        ], className="g-3 mt-1"),
        html.Div(id="account-keys-message", className="mt-3"),
    ]), className="mt-3", style={"maxWidth": "60rem"})


def layout(**_query):
    denied = page_denied("change_own_password")
    if denied:
        return denied
    return html.Div([
        html.H1("Account", className="h4"),
        html.P(f"{current_user.name} · {current_user.email} · role {current_user.role}", id="account-who"),
        _password_card(),
        _keys_card() if allowed(current_user.role, KEYS_PERMISSION) else html.Div(),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("account-message", "children"), Input("account-change", "n_clicks"),
                  State("account-current", "value"), State("account-new", "value"),
                  State("account-repeat", "value"), prevent_initial_call=True)
    def change(_clicks, current, new, repeat):
        require("change_own_password")
        current, new, repeat = (browser_values.text(value, field, MAX_PASSWORD_FIELD) for value, field in
                                ((current, "account-current"), (new, "account-new"), (repeat, "account-repeat")))
        if not new or new != repeat:  # refused before any check, but a failed change all the same
            audit.record("password.change", outcome=AuditOutcome.FAILED, details={"reason": "the new passwords differ"})
            return dbc.Alert("The two new passwords differ.", color="danger")
        portal = context.get()
        try:  # throttled per (account, address) like a sign-in: the page is no oracle for the password
            user = change_password(portal.db, current_user.id, current or "", new, settings=portal.settings,
                                   client=flask.request.remote_addr)
        except (UserError, WeakPassword) as error:
            audit.record("password.change", outcome=AuditOutcome.FAILED, details={"reason": str(error)})
            return dbc.Alert(f"Not changed: {error}.", color="danger")
        audit.record("password.change")
        login_user(SessionUser(user))  # this session carries on; every other one is signed out
        return dbc.Alert("Password changed. Your other sessions are signed out.",
                         color="success", id="account-changed")

    @app.callback(Output("account-keys-message", "children"), Output("account-keys-grid", "rowData"),
                  Output("account-revoke-key", "options"), Output("account-key-name", "value"),
                  Input("account-create-key", "n_clicks"), State("account-key-name", "value"),
                  prevent_initial_call=True)
    def create(_clicks, name):
        require(KEYS_PERMISSION)
        try:
            row, key = create_key(context.get().db, current_user.id, name if isinstance(name, str) else "")
        except UserError as error:
            audit.record("api-key.create", outcome=AuditOutcome.FAILED, details={"reason": str(error)})
            return dbc.Alert(f"No key made: {error}.", color="danger"), no_update, no_update, no_update
        audit.record("api-key.create", target=row.prefix, details={"name": row.name})  # never the key
        keys = _own_keys()
        alert = dbc.Alert([
            html.Div(f"Key “{row.name}” made. Copy it now: it is not shown again.", className="mb-2"),
            html.Code(key, id="account-new-key-text", className="user-select-all"),
            dcc.Clipboard(target_id="account-new-key-text", title="copy", className="d-inline-block ms-2"),
        ], color="success", id="account-new-key", dismissable=True)
        return alert, key_rows(keys), key_options(keys), ""

    @app.callback(Output("account-revoke-confirm", "displayed"), Input("account-revoke", "n_clicks"),
                  State("account-revoke-key", "value"), prevent_initial_call=True)
    def confirm_revoke(_clicks, key_id):
        require(KEYS_PERMISSION)
        return key_id is not None

    @app.callback(Output("account-keys-message", "children", allow_duplicate=True),
                  Output("account-keys-grid", "rowData", allow_duplicate=True),
                  Output("account-revoke-key", "options", allow_duplicate=True),
                  Output("account-revoke-key", "value"),
                  Input("account-revoke-confirm", "submit_n_clicks"), State("account-revoke-key", "value"),
                  prevent_initial_call=True)
    def revoke(_submitted, key_id):
        require(KEYS_PERMISSION)
        if not isinstance(key_id, int) or isinstance(key_id, bool):
            return dbc.Alert("Choose a key first.", color="warning"), no_update, no_update, no_update
        try:  # only the signed-in user's own keys: anyone else's is "no such key"
            row = revoke_key(context.get().db, key_id, user_id=current_user.id)
        except UserError as error:
            audit.record("api-key.revoke", outcome=AuditOutcome.FAILED, target=f"id {key_id}",
                         details={"reason": str(error)})
            return dbc.Alert(f"Not revoked: {error}.", color="danger"), no_update, no_update, no_update
        audit.record("api-key.revoke", target=row.prefix)
        keys = _own_keys()
        return (dbc.Alert(f"Key “{row.name}” ({shown(row.prefix)}) is revoked.", color="success",
                          id="account-key-revoked"), key_rows(keys), key_options(keys), None)
