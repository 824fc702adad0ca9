"""The frame around every page: navigation (only the pages the role may open), the research-use
banner, and the page container. The layout is a function, built per request for the signed-in user."""
from __future__ import annotations

import dash
from dash import html
from flask_login import current_user

from components.layout import navbar, research_banner, not_allowed
from engine.registry import PRODUCTION_ALIAS
from portal.accounts import audit
from portal.core import context
from portal.accounts.permissions import PERMISSIONS, allowed


def visible_pages(role: str | None) -> list[dict]:
    pages = sorted(dash.page_registry.values(), key=lambda p: p.get("order") or 0)
    return [p for p in pages if p.get("in_nav", True) and p.get("permission") and allowed(role, p["permission"])]


def layout():
    if not current_user.is_authenticated:  # the guard redirects first; this is a second lock
        return html.Div()
    links = [(p["name"], p["path"]) for p in visible_pages(current_user.role)]
    return html.Div([
        navbar(links, current_user.name, current_user.role),
        research_banner(),
        html.Main(dash.page_container, className="container-fluid py-3 px-4"),
    ])


def page_denied(permission: str):
    """For a page's layout(): None when the user may open it, else the message to show (audited)."""
    if current_user.is_authenticated and allowed(current_user.role, permission):
        return None
    audit.record("page.denied", outcome=audit.DENIED, target=permission)
    return not_allowed(f"Your role may not {PERMISSIONS[permission][1]}.")



EMPTY_REGISTRY = "The registry is empty: run `make run` or `python -m engine bootstrap`."


def model_names_and_choice(wanted: str | None) -> tuple[list[str], str | None]:
    """The registry's model names and the one a page opens with (the `?model=` asked for, else the first)."""
    names = context.get().registry.models()
    return names, (wanted if wanted in names else (names[0] if names else None))


def version_options(versions) -> list[dict]:
    """Dropdown options for a model's versions, each labelled with its aliases."""
    return [{"label": f"{v.version} ({', '.join(v.aliases)})" if v.aliases else str(v.version), "value": v.version}
            for v in versions]


def default_version(name: str, numbers: list[int], wanted: int | None = None) -> int | None:
    """The version a page shows: `wanted` if it exists, else the production alias's, else the newest."""
    if wanted in numbers:
        return wanted
    return context.get().registry.aliases(name).get(PRODUCTION_ALIAS, numbers[-1] if numbers else None)
