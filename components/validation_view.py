"""The validation report of an upload, as a person reads it: errors first (they block the run), then
warnings, each with where it is (row, sample, column) and how many cells or rows it stands for; for an upload
in one file per feature block, a table of the blocks (engine.blocks): each block's file, its samples, the
upload's samples it lacks, its missing features and the ids only it holds."""
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


def _listed(names: list[str], total: int) -> str:
    """A count with the first names: '2: A, B', '25: A, B, C and 22 more', '' for none."""
    if not total:
        return "none"
    shown = ", ".join(str(n) for n in names[:3])
    return f"{total:,}: {shown}" + (f" and {total - min(len(names), 3):,} more" if total > 3 else "")


def blocks_view(blocks: list[dict]) -> html.Div:
    head = html.Thead(html.Tr([html.Th("Block"), html.Th("File"), html.Th("Samples"),
                               html.Th("Upload's samples it lacks"), html.Th("Features missing"),
                               html.Th("Ids in this block only")]))
    rows = [html.Tr([html.Td(b["group"]), html.Td(b["file"] or "no file"),
                     html.Td(f"{b['n_samples']:,}" if b["read"] else "not read"),
                     html.Td(_listed(b["missing_samples"], b["n_missing_samples"])),
                     html.Td(f"{_listed(b['missing_features'], b['n_missing_features'])} (of {b['n_features']:,})"),
                     html.Td(_listed(b["only_here"], b["n_only_here"]))], id=f"report-block-{position}")
            for position, b in enumerate(blocks)]
    return html.Div([html.H3("Feature blocks", className="h6"),
                     dbc.Table([head, html.Tbody(rows)], size="sm", bordered=True, id="report-blocks",
                               className="small")])


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
    if report.get("blocks"):
        parts.append(blocks_view(report["blocks"]))
    return html.Div(parts, id="report")
