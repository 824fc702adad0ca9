"""The validation report of an upload, as a person reads it: errors first (they block the run), then
warnings, each with where it is (row, sample, column) and how many cells or rows it stands for."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def _issue_rows(issues: list[dict]) -> list[html.Tr]:
    return [html.Tr([html.Td(i["message"]), html.Td(i.get("row") or ""), html.Td(i.get("sample") or ""),
                     html.Td(i.get("column") or ""), html.Td(i.get("count", 1))]) for i in issues]


def _table(issues: list[dict], id_: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th("Problem"), html.Th("Row"), html.Th("Sample"), html.Th("Column"),
                               html.Th("Count")]))
    return dbc.Table([head, html.Tbody(_issue_rows(issues))], size="sm", bordered=True, id=id_,
                     className="small")


def validation_report_view(report: dict) -> html.Div:
    issues = report.get("issues", [])
    errors = [i for i in issues if i["severity"] == "error"]
    warnings = [i for i in issues if i["severity"] == "warning"]
    parts = []
    if errors:
        parts.append(dbc.Alert([html.Strong(f"{report['source']}: {len(errors)} error(s); the file cannot be run. "),
                                "Fix these and upload it again."], color="danger", id="report-blocked"))
        parts.append(html.Div(_table(errors, "report-errors"), style={"maxHeight": "320px", "overflowY": "auto"}))
    else:
        parts.append(dbc.Alert(f"{report['source']}: {report['n_samples']} samples passed validation"
                               + (f", with {len(warnings)} warning(s)." if warnings else "."),
                               color="success", id="report-ok"))
    if warnings:
        parts.append(html.H3("Warnings", className="h6"))
        parts.append(html.Div(_table(warnings, "report-warnings"), style={"maxHeight": "320px", "overflowY": "auto"}))
    return html.Div(parts, id="report")
