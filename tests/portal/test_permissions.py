"""The server enforces the permission table inside every callback: each protected callback, called
directly as a role that may not use it, answers 403 (401 when signed out)."""
from __future__ import annotations

import pytest

from portal.accounts.permissions import PERMISSIONS, ROLES, allowed, table_markdown

# Each callback of the portal, by its first output, and the permission it needs.
CALLBACK_PERMISSIONS = {
    "account-message.children": "change_own_password",
    "account-keys-message.children": "manage_own_api_keys",  # create, and revoke (allow_duplicate)
    "account-revoke-confirm.displayed": "manage_own_api_keys",
    "models-version.options": "view_models",
    "models-detail.children": "view_models",
    "models-alias-version.options": "manage_models",
    "models-alias-confirm.displayed": "manage_models",
    "models-alias-message.children": "manage_models",
    "performance-version.options": "view_performance",
    "performance-content.children": "view_performance",
    "performance-roc.figure": "view_performance",  # the class picker of the curves
    "admin-users-message.children": "manage_users",
    "admin-deactivate-confirm.displayed": "manage_users",
    "admin-audit-grid.rowData": "view_audit",
    "monitoring-traffic.children": "view_monitoring",
    "monitoring-activity.children": "view_monitoring",
    "monitoring-drift.children": "view_monitoring",  # and the drift banner
    "predict-version.options": "upload",
    "predict-version-note.children": "upload",
    "predict-template-download.data": "upload",
    "predict-example-download.data": "upload",
    "predict-block-files.style": "upload",  # the per-block downloads shown for a version with several blocks
    "predict-block-download.data": "upload",  # templates and examples, one file per block (zip)
    "predict-report.children": "upload",
    "predict-data-use-reference-label.children": "upload",  # the reference's label follows the chosen basis
    "predict-queued.data": "predict",
    "predict-finished.data": "predict",  # a background callback: checked on its request by the guard
    "predict-cancel.id": "predict",  # Dash's own callback that cancels the background job
    "predict-message.children": "predict",
    "predict-location.pathname": "predict",
    "runs-location.pathname": "predict",
    "runs-location.href": "predict",  # compare two runs
    "runs-grid.rowData": "predict",  # delete a run, and rename one (allow_duplicate)
    "compare-location.pathname": "explain",
    "run-progress.value": "predict",
    "run-grid.getRowsResponse": "predict",  # the results grid's rows, paged on the server
    "run-retry-queued.data": "predict",  # retry a run no worker picked up
    "run-retry-finished.data": "predict",  # its background job
    "run-retry-cancel.id": "predict",
    "run-retry-message.children": "predict",
    "run-location.pathname": "explain",
    "run-download.data": "download",
    "run-share-message.children": "share_runs",  # share, and revoke
    "explain-figures.children": "explain",
    "explain-context-holder.children": "explain",  # its second tab
    "explain-fhir-download.data": "export_reports",  # Export FHIR (and the run's read access, in test_fhir_export.py)
    "explain-pdf-download.data": "export_reports",  # Download PDF (and the run's read access, in test_pdf_report.py)
    "explain-neighbours-holder.children": "explain",  # the similar reference samples' tab
    "explain-whatif-holder.children": "whatif",  # the what-if tab, its rows of changes and its result
    "explain-whatif-changes.children": "whatif",
    "explain-whatif-result.children": "whatif",
    "explain-review-message.children": "review",
    "notebooks-form.children": "run_notebooks",
    '{"name":["ALL"],"role":"version","type":"nb-param"}.options': "run_notebooks",  # pattern-matching ids
    '{"name":["ALL"],"role":"model","type":"nb-param"}.value': "run_notebooks",
    '{"name":"seed","role":["ALL"],"type":"nb-param"}.value': "run_notebooks",  # follows the version
    "notebooks-queued.data": "run_notebooks",
    "notebooks-finished.data": "run_notebooks",  # background
    "notebooks-cancel.id": "run_notebooks",  # Dash's cancel callback
    "notebooks-message.children": "run_notebooks",  # cancel, and the end of a run (allow_duplicate)
    "notebooks-history.rowData": "view_notebooks",
    "notebooks-location.pathname": "view_notebooks",
    "notebook-run-content.children": "view_notebooks",
}


def _first_output(key: str) -> str:
    return key.lstrip(".").split("...")[0].split("@")[0]


def _item(id_: str, prop: str, **value):
    """A callback argument as the browser sends it; a pattern-matching id (JSON) with ALL matches nothing."""
    return [] if id_.startswith("{") else {"id": id_, "property": prop, **value}


def _payload(app, key: str) -> dict:
    spec = app.callback_map[key]
    outputs = [_item(o.rsplit(".", 1)[0], o.rsplit(".", 1)[1].split("@")[0]) for o in key.strip(".").split("...") if o]
    return {
        "output": key,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [_item(i["id"], i["property"], value=None) for i in spec["inputs"]],
        "state": [_item(s["id"], s["property"], value=None) for s in spec["state"]],
        "changedPropIds": [f"{spec['inputs'][0]['id']}.{spec['inputs'][0]['property']}"],
    }


def portal_callbacks(app) -> dict[str, str]:
    """Callback keys of the portal's own server-side callbacks (not Dash's page router, not clientside
    callbacks, which never reach the server) -> their first output."""
    return {key: _first_output(key) for key, spec in app.callback_map.items()
            if "_pages_" not in key and "callback" in spec}


def test_every_callback_is_in_the_table(app):
    app.server.test_client().get("/health")  # the first request lets Dash finish its set-up
    outputs = sorted(set(portal_callbacks(app).values()))
    assert outputs == sorted(CALLBACK_PERMISSIONS), "add new callbacks to CALLBACK_PERMISSIONS"


def test_callbacks_refuse_roles_without_the_permission(app, client_for):
    clients = {role: client_for(role) for role in ROLES}
    checked = 0
    for key, output in portal_callbacks(app).items():
        permission = CALLBACK_PERMISSIONS[output]
        for role in ROLES:
            if allowed(role, permission):
                continue
            response = clients[role].post("/_dash-update-component", json=_payload(app, key))
            assert response.status_code == 403, (output, role, response.status_code)
            assert response.json["error"]["code"] == "forbidden"
            checked += 1
    assert checked >= 10  # admin-only callbacks refused to three roles each


def test_callbacks_refuse_signed_out_callers(app):
    client = app.server.test_client()
    for key in portal_callbacks(app):
        assert client.post("/_dash-update-component", json=_payload(app, key)).status_code == 401


def test_allowed_roles_pass_the_check(app, client_for):
    key = next(k for k, out in portal_callbacks(app).items() if out == "admin-audit-grid.rowData")
    response = client_for("admin").post("/_dash-update-component", json=_payload(app, key))
    assert response.status_code == 200 and "sign-in" in response.get_data(as_text=True)


def test_permission_table_is_documented():
    table = table_markdown()
    for name in PERMISSIONS:
        assert f"`{name}`" in table
    with pytest.raises(KeyError):
        allowed("admin", "fly")


def test_documented_table_matches_the_code():
    from pathlib import Path

    documented = (Path(__file__).resolve().parents[2] / "docs" / "permissions.md").read_text()
    assert table_markdown() in documented
