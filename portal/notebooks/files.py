"""The files of a notebook run, for signed-in users who may see the run: its HTML report (shown inside
the portal, under notebook_html's content security policy) and downloads of the .ipynb and the HTML."""
from __future__ import annotations

from pathlib import Path

import flask

from portal.accounts import audit
from portal.accounts.permissions import require
from portal.core import context
from portal.notebooks import html_export as notebook_html
from portal.notebooks.access import notebook_run_or_abort
from portal.retention import notice

KINDS = {"ipynb": ("output_path", "application/x-ipynb+json"), "html": ("html_path", "text/html")}


def create_blueprint() -> flask.Blueprint:
    files = flask.Blueprint("notebook_files", __name__, url_prefix="/notebook-runs")

    @files.get("/<run_id>/report")
    def report(run_id: str):
        path = _file(run_id, "html")
        response = flask.send_file(path, mimetype="text/html", max_age=0)
        response.headers["Content-Security-Policy"] = notebook_html.CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @files.get("/<run_id>/download/<kind>")
    def download(run_id: str, kind: str):
        if kind not in KINDS:
            flask.abort(404, description=f"no {kind!r} file; there are {', '.join(KINDS)}")
        path = _file(run_id, kind)
        audit.record("notebook.download", target=run_id, details={"file": kind})
        response = flask.send_file(path, mimetype=KINDS[kind][1], as_attachment=True, download_name=path.name,
                                   max_age=0)
        response.headers["Content-Security-Policy"] = notebook_html.CONTENT_SECURITY_POLICY
        response.headers["Cache-Control"] = "private, no-store"
        return response

    return files


def _file(run_id: str, kind: str) -> Path:
    """The run's file, if the signed-in user may see the run and the file exists inside the runs folder."""
    require("view_notebooks")
    portal = context.get()
    run = notebook_run_or_abort(run_id)
    if run.purged_at is not None:  # retention or an erasure deleted its files; the record stays
        flask.abort(notice.GONE, description=notice.notebook_run_gone(run))
    stored = getattr(run, KINDS[kind][0])
    root = portal.settings.notebook_runs_dir.resolve()
    path = Path(stored).resolve() if stored else None
    if path is None or not path.is_file() or not path.is_relative_to(root):
        flask.abort(404, description=f"notebook run {run_id} has no {kind} file")
    return path
