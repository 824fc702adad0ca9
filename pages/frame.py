"""The frame around every page: navigation (only the pages the role may open), the research-use
banner, and the page container. The layout is a function, built per request for the signed-in user."""
from __future__ import annotations

import dash
from dash import dcc, html
from flask_login import current_user

from components.layout import navbar, not_allowed, research_banner
from portal.accounts import audit
from portal.accounts.permissions import PERMISSIONS, allowed
from portal.accounts.signin import csrf_token
from portal.core.states import AuditOutcome


def visible_pages(role: str | None) -> list[dict]:
    pages = sorted(dash.page_registry.values(), key=lambda p: p.get("order") or 0)
    return [p for p in pages if p.get("in_nav", True) and p.get("permission") and allowed(role, p["permission"])]


def layout():
    if not current_user.is_authenticated:  # the guard redirects first; this is a second lock
        return html.Div()
    links = [(p["name"], p["path"]) for p in visible_pages(current_user.role)]
    return html.Div([
        navbar(links, current_user.name, current_user.role, csrf_token()),
        research_banner(),
        html.Main(page_loading(dash.page_container), className="container-fluid py-3 px-4"),
    ])


LOADING_AFTER_MS = 300  # a page that takes longer than this shows a spinner over what was there


def page_loading(container) -> dcc.Loading:
    """A spinner while a page's content is on its way, shown only when it takes longer than
    LOADING_AFTER_MS (a faster page never flickers), and only for the page itself: the callbacks inside
    a page have their own indicators."""
    return dcc.Loading(container, id="page-loading", delay_show=LOADING_AFTER_MS, type="circle",
                       target_components={"_pages_content": "children"},
                       overlay_style={"visibility": "visible", "opacity": 0.4})


def register_callbacks(app: dash.Dash) -> None:
    # in the browser: opening the folded navigation needs no server
    app.clientside_callback("function(n, open) { return n ? !open : open; }",
                            dash.Output("nav-collapse", "is_open"), dash.Input("nav-toggler", "n_clicks"),
                            dash.State("nav-collapse", "is_open"), prevent_initial_call=True)


def page_denied(permission: str):
    """For a page's layout(): None when the user may open it, else the message to show (audited)."""
    if current_user.is_authenticated and allowed(current_user.role, permission):
        return None
    audit.record("page.denied", outcome=AuditOutcome.DENIED, target=permission)
    return not_allowed(f"Your role may not {PERMISSIONS[permission][1]}.")
