"""Admin: users (create, change role, deactivate or reactivate), the audit trail (filter by user, action,
outcome, time and target text; download the filtered entries as CSV, portal.accounts.audit_export), and
the permission table. Every callback checks the permission on the server."""
from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, dcc, html, no_update

from pages.frame import page_denied
from portal.accounts import audit, audit_export
from portal.accounts.passwords import WeakPassword, generate_password
from portal.accounts.permissions import PERMISSIONS, ROLES, require
from portal.accounts.users import UserError, blocked_addresses, create_user, list_users, set_active, set_role
from portal.core import context
from portal.core.states import AuditOutcome

dash.register_page(__name__, path="/admin", name="Admin", order=80, permission="manage_users")

GRID_DEFAULTS = {"sortable": True, "resizable": True, "filter": True}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def user_rows() -> list[dict]:
    db = context.get().db
    refused = blocked_addresses(db)
    return [{"id": u.id, "email": u.email, "name": u.name, "role": u.role,
             "active": "yes" if u.active else "no", "last_sign_in": _when(u.last_login_at),
             "refused_addresses": refused.get(u.email, 0), "created": _when(u.created_at)}
            for u in list_users(db)]


def _user_options() -> list[dict]:
    return [{"label": f"{u.email} ({u.role})", "value": u.id} for u in list_users(context.get().db)]


def permission_rows() -> list[dict]:
    return [{"permission": name, "allows": description, **{role: "yes" if role in roles else "" for role in ROLES}}
            for name, (roles, description) in PERMISSIONS.items()]


def _users_section() -> html.Div:
    return html.Div([
        html.H2("Users", className="h5"),
        dag.AgGrid(id="admin-users-grid", rowData=user_rows(), defaultColDef=GRID_DEFAULTS,
                   columnDefs=[{"field": f} for f in ("email", "name", "role", "active", "last_sign_in",
                                                      "refused_addresses", "created")],
                   columnSize="sizeToFit", dashGridOptions={"domLayout": "autoHeight"}),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H3("New user", className="h6"),
                dbc.Input(id="admin-new-email", placeholder="e-mail", type="email", className="mb-2"),
                dbc.Input(id="admin-new-name", placeholder="name", className="mb-2"),
                dcc.Dropdown(id="admin-new-role", options=list(ROLES), placeholder="role", className="mb-2"),
                dbc.Input(id="admin-new-password", placeholder="password (empty: make one up)", type="password",
                          className="mb-2", autoComplete="new-password"),
                dbc.Button("Create user", id="admin-create", color="primary"),
            ])), md=6),
            dbc.Col(dbc.Card(dbc.CardBody([
                html.H3("Change a user", className="h6"),
                dcc.Dropdown(id="admin-user", options=_user_options(), placeholder="user", className="mb-2"),
                dcc.Dropdown(id="admin-role", options=list(ROLES), placeholder="new role", className="mb-2"),
                dbc.Button("Change role", id="admin-set-role", color="primary", className="me-2"),
                dbc.Button("Deactivate", id="admin-deactivate", color="danger", className="me-2"),
                dbc.Button("Reactivate", id="admin-reactivate", color="secondary"),
                dcc.ConfirmDialog(id="admin-deactivate-confirm",
                                  message="Deactivate this user? They can no longer sign in."),
            ])), md=6),
        ], className="g-3 mt-1"),
        html.Div(id="admin-users-message", className="mt-2"),
    ])


AUDIT_ROWS = 500  # the newest entries the grid shows; the CSV holds every entry that matches
AUDIT_COLUMNS = ("at", "actor", "action", "target", "outcome", "ip", "request_id", "details")


def _audit_filters() -> list:
    return [
        dbc.Row([
            dbc.Col(dcc.Dropdown(id="admin-audit-user", options=_user_options(), placeholder="any user"), md=4),
            dbc.Col(dcc.Dropdown(id="admin-audit-action", options=audit.actions(), placeholder="any action"), md=3),
            dbc.Col(dcc.Dropdown(id="admin-audit-outcome", options=[str(o) for o in AuditOutcome],
                                 placeholder="any outcome"), md=2),
        ], className="g-2 mb-2"),
        dbc.Row([
            dbc.Col(dcc.DatePickerRange(id="admin-audit-dates", display_format="YYYY-MM-DD",
                                        start_date_placeholder_text="from", end_date_placeholder_text="until"),
                    md=5),
            dbc.Col(dbc.Input(id="admin-audit-target", placeholder="target contains…", debounce=True,
                              maxLength=audit_export.MAX_TEXT), md=4),
            dbc.Col(html.A("Download CSV", id="admin-audit-download", href=audit_export.DOWNLOAD_PATH,
                           className="btn btn-outline-primary btn-sm", title="every entry the filters pick"), md=3),
        ], className="g-2 mb-2 align-items-center"),
    ]


def _audit_section() -> html.Div:
    return html.Div([
        html.H2("Audit trail", className="h5 mt-4"),
        *_audit_filters(),
        html.P(f"The newest {AUDIT_ROWS} entries that match; the CSV holds all of them.",
               className="small text-muted mb-1"),
        dag.AgGrid(id="admin-audit-grid", defaultColDef=GRID_DEFAULTS, columnSize="sizeToFit",
                   columnDefs=[{"field": f} for f in AUDIT_COLUMNS],
                   dashGridOptions={"pagination": True, "paginationPageSize": 20}),
    ])


def layout(**_query):
    denied = page_denied("manage_users")
    if denied:
        return denied
    return html.Div([
        html.H1("Administration", className="h4"),
        _users_section(),
        _audit_section(),
        html.H2("Permissions", className="h5 mt-4"),
        dag.AgGrid(id="admin-permissions-grid", rowData=permission_rows(), columnSize="sizeToFit",
                   columnDefs=[{"field": "permission"}, {"field": "allows", "flex": 3}] +
                              [{"field": role, "width": 110} for role in ROLES],
                   dashGridOptions={"domLayout": "autoHeight"}),
    ])


def audit_filters(user_id, action, outcome, start, end, target) -> tuple[audit.Filters, dict]:
    """The chosen filters, and the download's query string for the same ones; a forged value is a 400."""
    given = {"user": user_id, "action": action, "outcome": outcome, "since": start, "until": end, "target": target}
    given = {name: value for name, value in given.items() if value not in (None, "")}
    if any(not isinstance(value, (str, int)) or isinstance(value, bool) for value in given.values()):
        flask.abort(400, description="Not filtered: a filter is text or a user id.")
    # the date picker's days (it may add a time of day to them)
    given = {name: str(value)[:10] if name in ("since", "until") else str(value) for name, value in given.items()}
    try:
        return audit_export.query_filters(given), given
    except audit_export.FilterError as error:
        flask.abort(400, description=f"Not filtered: {error}.")


def audit_rows(chosen: audit.Filters) -> list[dict]:
    return [{"at": _when(e.at), "actor": e.actor, "action": e.action, "target": e.target or "",
             "outcome": e.outcome, "ip": e.ip or "", "request_id": e.request_id or "",
             "details": json.dumps(e.details, sort_keys=True)} for e in audit.latest(chosen, AUDIT_ROWS)]


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("admin-users-message", "children"), Output("admin-users-grid", "rowData"),
                  Output("admin-user", "options"),
                  Input("admin-create", "n_clicks"), State("admin-new-email", "value"),
                  State("admin-new-name", "value"), State("admin-new-role", "value"),
                  State("admin-new-password", "value"), prevent_initial_call=True)
    def create(_clicks, email, name, role, password):
        require("manage_users")
        email, name, role, password = (v if isinstance(v, str) else "" for v in (email, name, role, password))
        made_up = not password
        password = password or generate_password()
        try:
            user = create_user(context.get().db, email, name, role, password)
        except (UserError, WeakPassword) as error:
            audit.record("user.create", outcome=AuditOutcome.FAILED, target=email[:254],
                         details={"error": str(error)})
            return dbc.Alert(f"Not created: {error}.", color="danger"), no_update, no_update
        audit.record("user.create", target=user.email, details={"role": user.role})
        shown = [" Their password, shown only now: ", html.Code(password, id="admin-new-password-shown")] if made_up else []
        return (dbc.Alert([f"Created {user.email} ({user.role}).", *shown], color="success", id="admin-created"),
                user_rows(), _user_options())

    @app.callback(Output("admin-deactivate-confirm", "displayed"), Input("admin-deactivate", "n_clicks"),
                  State("admin-user", "value"), prevent_initial_call=True)
    def confirm_deactivate(_clicks, user_id):
        require("manage_users")
        return user_id is not None

    @app.callback(Output("admin-users-message", "children", allow_duplicate=True),
                  Output("admin-users-grid", "rowData", allow_duplicate=True),
                  Input("admin-set-role", "n_clicks"), Input("admin-deactivate-confirm", "submit_n_clicks"),
                  Input("admin-reactivate", "n_clicks"), State("admin-user", "value"), State("admin-role", "value"),
                  prevent_initial_call=True)
    def change(_role_clicks, _deactivate, _reactivate, user_id, role):
        require("manage_users")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return dbc.Alert("Choose a user first.", color="warning"), no_update
        trigger = dash.ctx.triggered_id
        action = {"admin-set-role": "user.role", "admin-reactivate": "user.reactivate"}.get(trigger, "user.deactivate")
        db = context.get().db
        try:
            if action == "user.role":
                user = set_role(db, user_id, role if isinstance(role, str) else "")
                done = f"{user.email} is now {user.role}."
            else:
                user = set_active(db, user_id, action == "user.reactivate")
                done = f"{user.email} is {'active' if user.active else 'deactivated'}."
        except UserError as error:  # the same action as a success would record, failed
            audit.record(action, outcome=AuditOutcome.FAILED, target=f"user {user_id}", details={"error": str(error)})
            return dbc.Alert(f"Not changed: {error}.", color="danger"), no_update
        audit.record(action, target=user.email, details={"role": user.role, "active": user.active})
        return dbc.Alert(done, color="success", id="admin-changed"), user_rows()

    @app.callback(Output("admin-audit-grid", "rowData"), Output("admin-audit-download", "href"),
                  Input("admin-audit-user", "value"), Input("admin-audit-action", "value"),
                  Input("admin-audit-outcome", "value"), Input("admin-audit-dates", "start_date"),
                  Input("admin-audit-dates", "end_date"), Input("admin-audit-target", "value"),
                  Input("admin-users-grid", "rowData"))
    def audit_trail(user_id, action, outcome, start, end, target, _users):
        require(audit_export.PERMISSION)
        chosen, query = audit_filters(user_id, action, outcome, start, end, target)
        return audit_rows(chosen), audit_export.DOWNLOAD_PATH + (f"?{urlencode(query)}" if query else "")
