"""Layout builders for the portal's frame: arguments in, Dash components out. No state, no database."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

RESEARCH_ONLY = "Research use only, not for diagnosis."


def navbar(links: list[tuple[str, str]], user_name: str, user_role: str, csrf: str) -> dbc.Navbar:
    """links: (label, path) of the pages the user may open, in order; csrf: the session's form token,
    which the sign-out form posts (a sign-out is a POST, never a link)."""
    items = [dbc.NavItem(dbc.NavLink(label, href=path, active="exact", id=f"nav-{path.strip('/') or 'home'}"))
             for label, path in links]
    # a plain form beside the menu, not an item in it: a menu closing on the click could drop the post
    sign_out = html.Form([dbc.Input(type="hidden", name="csrf", value=csrf, id="nav-sign-out-csrf"),
                          html.Button("Sign out", type="submit", className="btn btn-outline-light btn-sm",
                                      id="nav-sign-out")],
                         method="POST", action="/logout", className="d-flex align-items-center m-0 ms-lg-2")
    account = dbc.DropdownMenu(
        [dbc.DropdownMenuItem("Account", href="/account")],
        label=f"{user_name} ({user_role})", nav=True, align_end=True, id="nav-user")
    # below Bootstrap's lg breakpoint the links fold behind a toggler (pages/frame.py opens and closes it)
    return dbc.Navbar(dbc.Container([
        dbc.NavbarBrand("Cancer Alpha", href="/"),
        dbc.NavbarToggler(id="nav-toggler", n_clicks=0),
        dbc.Collapse([dbc.Nav(items, navbar=True, className="me-auto"), dbc.Nav([account], navbar=True), sign_out],
                     id="nav-collapse", is_open=False, navbar=True),
    ], fluid=True), color="dark", dark=True, expand="lg", className="mb-0")


def research_banner() -> html.Div:
    return html.Div(RESEARCH_ONLY, className="bg-warning-subtle text-center small py-1", id="research-banner")


def not_allowed(message: str) -> dbc.Alert:
    return dbc.Alert([html.H2("Not allowed", className="h5"), html.P(message, className="mb-0")],
                     color="danger", id="page-not-allowed")


def run_cancelled(prefix: str) -> dbc.Alert:
    """What a page's background run shows once its user cancelled it."""
    return dbc.Alert("Run cancelled.", color="secondary", id=f"{prefix}-cancelled")


def metric_card(title: str, value: str, note: str | None = None, id_: str | None = None) -> dbc.Card:
    body = [html.Div(title, className="text-muted small"), html.Div(value, className="fs-4 fw-semibold")]
    if note:
        body.append(html.Div(note, className="small text-muted"))
    return dbc.Card(dbc.CardBody(body), className="h-100", **({"id": id_} if id_ else {}))
