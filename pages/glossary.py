"""Glossary: every term and metric the portal shows, defined in one line (components.glossary)."""
from __future__ import annotations

import re

import dash
from dash import html

from components.glossary import TERMS
from pages.frame import page_denied

dash.register_page(__name__, path="/glossary", name="Glossary", order=90, permission="view_home")


def _slug(term: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def layout(**_query):
    denied = page_denied("view_home")
    if denied:
        return denied
    items = []
    for term in sorted(TERMS, key=str.casefold):
        items += [html.Dt(term, className="col-sm-3", id=f"glossary-{_slug(term)}"),
                  html.Dd(TERMS[term], className="col-sm-9")]
    return html.Div([
        html.H1("Glossary", className="h4"),
        html.P("The terms and metrics the portal shows. Grid headers carry the same definitions as tooltips.",
               className="small text-muted"),
        html.Dl(items, className="row", id="glossary-terms"),
    ])
