"""Every route the server registers, and every page, asked by a signed-out caller and by each role, and each
answer checked against the permission table (portal/accounts/permissions.py). A route or page added without
an entry here fails the walk; the callbacks behind /_dash-update-component are walked one by one in
test_permissions.py.

Accounts are the made-up test users; the run, its samples and the notebook run are real."""
from __future__ import annotations

import re

import dash
import pytest

from portal.accounts import api_keys
from portal.accounts.permissions import ROLES, allowed
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, auth, email_of, finished_run, render_page, sign_in, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SIGNED_OUT = "signed out"
CALLERS = (SIGNED_OUT, *ROLES)

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # any role (the Dash shell: each page's own permission is walked below)
NETWORK = "network"  # /metrics: callers on the allowed networks, or with the metrics token
CALLBACKS = "callbacks"  # any role; the walk posts an empty body (400), each callback's permission is in
# test_permissions.py
UNKNOWN = "unknown"  # no such resource: 404 for anyone, naming the path (it reveals nothing)

# Each Flask route by endpoint: who may use it. "api:<permission>" routes take an API key of a role with that
# permission (and never a session cookie), "api-own:<permission>" the key of the run's owner or an admin too,
# "api-read:<permission>" as api-own but a run the key's owner may not read answers 404 (as one that is none);
# "<permission>" routes take a session of a role with it.
ROUTE_ACCESS = {
    "/": SIGNED_IN,
    "/<path:path>": SIGNED_IN,
    "/_dash-layout": SIGNED_IN,
    "/_dash-dependencies": SIGNED_IN,
    "/_dash-update-component": CALLBACKS,
    "/_reload-hash": SIGNED_IN,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": PUBLIC,  # the app's scripts
    "/_favicon.ico": PUBLIC,
    "_dash_assets.static": PUBLIC,
    "plotly_bundle": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,  # signed out it only leads to sign-in
    "health": PUBLIC,
    "api.health": PUBLIC,
    "api.ready": PUBLIC,
    "api.openapi_document": PUBLIC,
    "api.docs": PUBLIC,
    "api.models": "api:view_models",
    "api.model": "api:view_models",
    "api.predict": "api:predict",
    "api.explain": "api:explain",
    "api.run": "api-own:predict",
    "api.run_results": "api-own:download",
    "api.run_sample_fhir": "api-read:export_reports",
    "api.run_sample_pdf": "api-read:export_reports",
    "api.not_found": UNKNOWN,
    "metrics": NETWORK,
    "notebook_files.report": "view_notebooks",
    "notebook_files.download": "view_notebooks",
    "audit_export.download": "view_audit",
}
OWNERS = ("researcher", "admin")  # the walk's prediction run is the researcher's, shared with no one


@pytest.fixture
def walk(app, tcga, registry):
    """The portal with a real finished run of the researcher's, a real finished notebook run of the
    analyst's (its report is a route of its own), an API key per role and a signed-in client per role."""
    return _walk(app, tcga, registry, notebook_report=True)


@pytest.fixture
def page_walk(app, tcga, registry):
    """As `walk`, with the notebook run only queued: its page needs the record, not the report."""
    return _walk(app, tcga, registry, notebook_report=False)


def _walk(app, tcga, registry, notebook_report: bool) -> dict:
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        run = finished_run(portal, tcga, registry, n=3)
        other_run = finished_run(portal, tcga, registry, n=2)  # a second, for the comparison page
        sample = str(runs.results(portal, run)["sample_id"].iloc[0])
        spec = notebook_catalog.get(portal.caches.notebook_catalog, "model_evaluation")
        analyst = user_of(portal, "analyst")
        notebook = notebook_runs.queue(portal, spec, {"model": MODEL}, analyst.id, "analyst")
        if notebook_report:
            notebook_runs.execute(portal, notebook.id)
        keys = {role: api_keys.create_key(portal.db, user_of(portal, role).id, "walk")[1] for role in ROLES}
    clients = {SIGNED_OUT: app.server.test_client()}
    for role in ROLES:
        clients[role] = app.server.test_client()
        assert sign_in(clients[role], email_of(role)).status_code == 302
    held_out = tcga.X.loc[registry.resolve(MODEL).test_ids[0]]
    features = {name: float(value) for name, value in held_out.items()}
    api_bodies = {"api.predict": {"samples": [{"id": held_out.name, "features": features}], "data_use": DATA_USE},
                  "api.explain": {"sample": {"id": held_out.name, "features": features}}}
    index = clients["admin"].get("/").get_data(as_text=True)
    script = re.search(r'src="(/_dash-component-suites/[^"]+)"', index).group(1)  # a real script of the app
    return dict(app=app, portal=portal, run=run.id, other_run=other_run.id, sample=sample, notebook=notebook.id,
                keys=keys, clients=clients, api_bodies=api_bodies, script=script)


def _url(rule, walk) -> str:
    values = {"run_id": walk["run"] if rule.endpoint.startswith("api.run") else walk["notebook"], "kind": "html",
              "name": MODEL, "path": "models", "rest": "nowhere", "filename": "print.css", "sample_id": walk["sample"]}
    if rule.endpoint == "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>":
        return walk["script"]
    if rule.endpoint == "plotly_bundle":
        return rule.rule
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)


def _request(walk, rule, url: str, caller: str):
    client = walk["clients"][caller]
    headers = {}
    access = ROUTE_ACCESS[rule.endpoint]
    if access.startswith("api") and caller != SIGNED_OUT:
        headers = auth(walk["keys"][caller])
    if "POST" in rule.methods and "GET" not in rule.methods:
        body = walk["api_bodies"][rule.endpoint] if access.startswith("api") else {}
        return client.post(url, json=body, headers=headers)
    return client.get(url, headers=headers)


def _expected(access: str, caller: str, path: str) -> set[int]:
    json_route = path.startswith(("/_dash-", "/api/"))
    signed_out = {401} if json_route else {302}
    if access == PUBLIC:
        return {200, 302}
    if access == UNKNOWN:
        return {404}
    if access == NETWORK:
        return {200}  # the test client calls from 127.0.0.1, an allowed network
    if caller == SIGNED_OUT:
        return {401} if access.startswith("api") else signed_out
    if access == SIGNED_IN:
        return {200}
    if access == CALLBACKS:
        return {400}
    permission = access.split(":")[-1]
    if not allowed(caller, permission):
        return {403}
    if access.startswith("api-own:") and caller not in OWNERS:
        return {403}  # another user's run, not shared with the caller
    if access.startswith("api-read:") and caller not in OWNERS:
        return {404}  # another user's run, not shared with the caller: as none
    return {200}


@SQLITE_ONLY
def test_every_route_answers_each_caller_as_the_permission_table_says(walk):
    server = walk["app"].server
    server.test_client().get("/health")  # Dash finishes its set-up on the first request
    rules = [rule for rule in server.url_map.iter_rules()]
    assert sorted({rule.endpoint for rule in rules}) == sorted(ROUTE_ACCESS), "add new routes to ROUTE_ACCESS"
    checked = []
    for rule in rules:
        url = _url(rule, walk)
        for caller in CALLERS:
            response = _request(walk, rule, url, caller)
            expected = _expected(ROUTE_ACCESS[rule.endpoint], caller, url)
            assert response.status_code in expected, (rule.rule, caller, response.status_code,
                                                      response.get_data(as_text=True)[:300])
            if response.status_code == 302 and caller == SIGNED_OUT and ROUTE_ACCESS[rule.endpoint] != PUBLIC:
                assert "/login" in response.headers["Location"]
            checked.append((rule.endpoint, caller))
    print(f"\n{len(rules)} routes x {len(CALLERS)} callers = {len(checked)} answers checked")
    assert len(checked) == len(rules) * len(CALLERS)


def _page_arguments(page, walk) -> dict:
    """A page's path parameters (and the comparison page's query) filled with the walk's real ids."""
    if page["path"] == "/runs/compare":
        return {"a": walk["run"], "b": walk["other_run"]}
    template = page.get("path_template") or ""
    return {name: {"run_id": walk["notebook"] if "notebooks" in template else walk["run"],
                   "sample_id": walk["sample"]}[name] for name in re.findall(r"<([a-z_]+)>", template)}


@SQLITE_ONLY
def test_every_page_answers_each_role_as_the_permission_table_says(page_walk):
    walk = page_walk
    app, portal = walk["app"], walk["portal"]
    app.server.test_client().get("/health")
    checked = 0
    for page in dash.page_registry.values():
        path = page.get("path_template") or page["path"]
        permission = page.get("permission")
        arguments = _page_arguments(page, walk)
        shown_path = re.sub(r"<([a-z_]+)>", lambda m: arguments[m.group(1)], path)
        if page["path"] == "/runs/compare":
            shown_path += f"?a={walk['run']}&b={walk['other_run']}"
        signed_out = walk["clients"][SIGNED_OUT].get(shown_path)
        assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"], shown_path
        checked += 1
        for role in ROLES:
            text = render_page(app, portal, role, path, **arguments)
            denied = "page-not-allowed" in text
            may = permission is None or allowed(role, permission)
            if may and ("<run_id>" in path and "notebooks" not in path or path == "/runs/compare"):
                may = role in OWNERS
            assert denied != may, (path, role, text[:300])
            checked += 1
    print(f"\n{len(dash.page_registry)} pages x {len(CALLERS)} callers = {checked} answers checked")
    assert checked == len(dash.page_registry) * len(CALLERS)
