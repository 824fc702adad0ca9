"""Admin: users (create, change role, deactivate or reactivate), the audit trail (filter by user,
action and time), and the permission table. Every callback checks the permission on the server."""
from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from pages.frame import page_denied
from portal.accounts import audit
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


def _audit_section() -> html.Div:
    return html.Div([
        html.H2("Audit trail", className="h5 mt-4"),
        dbc.Row([
            dbc.Col(dcc.Dropdown(id="admin-audit-user", options=_user_options(), placeholder="any user"), md=4),
            dbc.Col(dcc.Dropdown(id="admin-audit-action", options=audit.actions(), placeholder="any action"), md=3),
            dbc.Col(dcc.DatePickerRange(id="admin-audit-dates", display_format="YYYY-MM-DD",
                                        start_date_placeholder_text="from", end_date_placeholder_text="until"),
                    md=5),
        ], className="g-2 mb-2"),
        dag.AgGrid(id="admin-audit-grid", defaultColDef=GRID_DEFAULTS, columnSize="sizeToFit",
                   columnDefs=[{"field": f} for f in ("at", "actor", "action", "target", "outcome", "ip", "details")],
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


def _day_bound(value: str | None, end: bool) -> datetime | None:
    if not value:
        return None
    day = datetime.fromisoformat(value[:10]).date()
    moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return moment + timedelta(days=1) if end else moment


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("admin-users-message", "children"), Output("admin-users-grid", "rowData"),
                  Output("admin-user", "options"),
                  Input("admin-create", "n_clicks"), State("admin-new-email", "value"),
                  State("admin-new-name", "value"), State("admin-new-role", "value"),
                  State("admin-new-password", "value"), prevent_initial_call=True)
    def create(_clicks, email, name, role, password):
        require("manage_users")
        made_up = not password
        password = password or generate_password()
        try:
            user = create_user(context.get().db, email or "", name or "", role or "", password)
        except (UserError, WeakPassword) as error:
            audit.record("user.create", outcome=AuditOutcome.FAILED, target=(email or "")[:254],
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
        if user_id is None:
            return dbc.Alert("Choose a user first.", color="warning"), no_update
        trigger = dash.ctx.triggered_id
        db = context.get().db
        try:
            if trigger == "admin-set-role":
                user = set_role(db, user_id, role or "")
                action, done = "user.role", f"{user.email} is now {user.role}."
            else:
                user = set_active(db, user_id, trigger == "admin-reactivate")
                action = "user.reactivate" if user.active else "user.deactivate"
                done = f"{user.email} is {'active' if user.active else 'deactivated'}."
        except UserError as error:
            audit.record("user.change", outcome=AuditOutcome.FAILED, target=str(user_id), details={"error": str(error)})
            return dbc.Alert(f"Not changed: {error}.", color="danger"), no_update
        audit.record(action, target=user.email, details={"role": user.role, "active": user.active})
        return dbc.Alert(done, color="success", id="admin-changed"), user_rows()

    @app.callback(Output("admin-audit-grid", "rowData"), Input("admin-audit-user", "value"),
                  Input("admin-audit-action", "value"), Input("admin-audit-dates", "start_date"),
                  Input("admin-audit-dates", "end_date"), Input("admin-users-grid", "rowData"))
    def audit_trail(user_id, action, start, end, _users):
        require("view_audit")
        events = audit.query(user_id=user_id, action=action, since=_day_bound(start, end=False),
                             until=_day_bound(end, end=True))
        return [{"at": _when(e.at), "actor": e.actor, "action": e.action, "target": e.target or "",
                 "outcome": e.outcome, "ip": e.ip or "", "details": json.dumps(e.details, sort_keys=True)}
                for e in events]
