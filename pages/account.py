"""Account: change one's own password."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, html
from flask_login import current_user, login_user

from portal import audit, context
from portal.auth import SessionUser
from portal.passwords import MIN_LENGTH, WeakPassword
from portal.permissions import require
from portal.shell import page_denied
from portal.users import UserError, change_password

dash.register_page(__name__, path="/account", name="Account", order=90, permission="change_own_password",
                   in_nav=False)


def layout(**_query):
    denied = page_denied("change_own_password")
    if denied:
        return denied
    return html.Div([
        html.H1("Account", className="h4"),
        html.P(f"{current_user.name} · {current_user.email} · role {current_user.role}", id="account-who"),
        dbc.Card(dbc.CardBody([
            html.H2("Change password", className="h6"),
            dbc.Label("Current password", html_for="account-current"),
            dbc.Input(id="account-current", type="password", autocomplete="current-password"),
            dbc.Label(f"New password (at least {MIN_LENGTH} characters)", html_for="account-new", className="mt-2"),
            dbc.Input(id="account-new", type="password", autocomplete="new-password"),
            dbc.Label("New password again", html_for="account-repeat", className="mt-2"),
            dbc.Input(id="account-repeat", type="password", autocomplete="new-password"),
            dbc.Button("Change password", id="account-change", color="primary", className="mt-3"),
            html.Div(id="account-message", className="mt-3"),
        ]), style={"maxWidth": "28rem"}),
    ])


def register_callbacks(app: dash.Dash) -> None:
    @app.callback(Output("account-message", "children"), Input("account-change", "n_clicks"),
                  State("account-current", "value"), State("account-new", "value"),
                  State("account-repeat", "value"), prevent_initial_call=True)
    def change(_clicks, current, new, repeat):
        require("change_own_password")
        if not new or new != repeat:
            return dbc.Alert("The two new passwords differ.", color="danger")
        try:
            user = change_password(context.get().db, current_user.id, current or "", new)
        except (UserError, WeakPassword) as error:
            audit.record("password.change", outcome=audit.FAILED, details={"reason": str(error)})
            return dbc.Alert(f"Not changed: {error}.", color="danger")
        audit.record("password.change")
        login_user(SessionUser(user))  # this session carries on; every other one is signed out
        return dbc.Alert("Password changed. Your other sessions are signed out.",
                         color="success", id="account-changed")
