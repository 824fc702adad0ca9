"""Requests written by hand answer 4xx in the portal's error shape, never a 500: malformed Dash callback
bodies, unknown Dash assets, the explain figures with an unknown sample or class, every server callback and
every page address with hostile values, NUL characters, model names that are no name; and what is a bug
answers a generic 500 whose trace stays in the server's log. On SQLite and PostgreSQL (PostgreSQL refuses
NUL in text and overflows on large integers, where SQLite does not). Users are the made-up test accounts;
the run holds real held-out TCGA samples; the hostile values are made up."""
from __future__ import annotations

import json
import logging
import re

import dash
import pytest

from engine.registry import IntegrityError, Registry, RegistryError
from portal import nul_guard
from portal.accounts.users import UserError
from portal.notebooks.catalog import ParameterError
from portal.predictions import runs
from tests.helpers import email_of, finished_run, sign_in

HOSTILE = [None, "", "x" * 300, "y" * 100_000, "²", "١٢", "9" * 5000, -1, 0, 10**30, 1.5, True,
           [1, 2], {"a": [1]}, "<img src=x onerror=alert(1)>", "../../etc/passwd",
           {"rowId": "z" * 300, "colId": "run"}, {"startRow": -5, "endRow": 10**12, "sortModel": "x"}]
RUN_STORES = ("run-id.data", "compare-run-a.data", "compare-run-b.data")


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


def _pattern(component_id: str):
    return json.loads(component_id) if component_id.startswith("{") else None


def _concrete(pattern: dict) -> dict:
    return {key: (0 if isinstance(value, list) else value) for key, value in pattern.items()}


def _dependency(declared: dict, value) -> dict | list:
    pattern = _pattern(declared["id"])
    if pattern is None:
        return {"id": declared["id"], "property": declared["property"], "value": value}
    item = {"id": _concrete(pattern), "property": declared["property"], "value": value}
    return [item] if any(v in (["ALL"], ["ALLSMALLER"]) for v in pattern.values()) else item


def callback_body(app, key: str, value, fixed: dict | None = None) -> dict:
    """A well-formed body for the server callback `key` with `value` in every input and state (those
    named in `fixed` get theirs)."""
    spec, fixed = app.callback_map[key], fixed or {}
    outputs = []
    for part in (p for p in key.strip(".").split("...") if p):
        component, prop = part.rsplit(".", 1)
        pattern, prop = _pattern(component), prop.split("@")[0]
        target = {"id": _concrete(pattern) if pattern else component, "property": prop}
        outputs.append([target] if pattern and ["ALL"] in pattern.values() else target)

    def value_of(declared):
        return fixed.get(f"{declared['id']}.{declared['property']}", value)

    return {"output": key, "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [_dependency(d, value_of(d)) for d in spec["inputs"]],
            "state": [_dependency(d, value_of(d)) for d in spec["state"]],
            "changedPropIds": [f"{spec['inputs'][0]['id']}.{spec['inputs'][0]['property']}"]}


def server_callbacks(app) -> list[str]:
    """Every server-side callback but the background jobs (their guard: tests/portal/test_job_ownership.py)."""
    return [key for key, spec in app.callback_map.items() if "callback" in spec and not spec.get("background")]


@pytest.fixture
def run(app, tcga, registry):
    """A finished run of the researcher's, made in a request context of its own: a context held open
    while the test client sends requests would share its flask.g (and its signed-in user) with them."""
    with app.server.test_request_context():
        return finished_run(app.server.extensions["cancer_alpha"], tcga, registry, n=3)


@pytest.fixture
def sample(app, run) -> str:
    with app.server.test_request_context():
        return runs.results(app.server.extensions["cancer_alpha"], run)["sample_id"].iloc[0]


# -- malformed callback bodies ----------------------------------------------------------------------

MALFORMED = {
    "not JSON": "{not json",
    "nested too deeply": "[" * 100_000 + "]" * 100_000,  # the JSON parser's RecursionError
    "a list": "[]",
    "a number": "1",
    "null": "null",
    "output not text": '{"output": 5}',
    "unknown output": '{"output": "nothing-here.children", "inputs": [], "outputs": {"id": "x", "property": "y"}}',
    "no inputs": '{"output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": "children"}}',
    "inputs not a list": '{"output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": '
                         '"children"}, "inputs": 5, "state": []}',
    "an input too few": '{"output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": '
                        '"children"}, "inputs": [], "state": []}',
    "another input": '{"output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": '
                     '"children"}, "inputs": [{"id": "x", "property": "value", "value": 1}], "state": [{"id": '
                     '"explain-ids", "property": "data", "value": null}]}',
    "outputs wrong": '{"output": "explain-figures.children", "outputs": 7, "inputs": [{"id": "explain-class", '
                     '"property": "value", "value": 1}], "state": [{"id": "explain-ids", "property": "data"}]}',
    "a clientside callback": '{"output": "explain-print.title", "outputs": {"id": "explain-print", "property": '
                             '"title"}, "inputs": [{"id": "explain-print", "property": "n_clicks", "value": 1}]}',
    "changedPropIds wrong": '{"output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": '
                            '"children"}, "inputs": [{"id": "explain-class", "property": "value", "value": 1}], '
                            '"state": [{"id": "explain-ids", "property": "data"}], "changedPropIds": [1]}',
}


def test_malformed_callback_bodies_answer_400(client_for):
    client = client_for("researcher")
    for case, body in MALFORMED.items():  # one portal for all the cases: building one takes seconds
        response = client.post("/_dash-update-component", data=body, content_type="application/json")
        assert response.status_code == 400, case
        assert _error(response, 400)["message"].startswith("This callback request is malformed: "), case


def test_the_multi_output_and_pattern_callbacks_take_their_own_shapes(app, client_for):
    """What the renderer sends passes: a multi-output callback's list of outputs and an ALL pattern's list."""
    key = next(k for k in server_callbacks(app) if '"role":"version"' in k)
    body = callback_body(app, key, None)
    assert client_for("researcher").post("/_dash-update-component", json=body).status_code in (200, 204)
    body["inputs"] = [{"id": {"name": 0, "role": "model", "type": "nb-param"}, "property": "value", "value": 1}]
    assert "must be a list" in _error(client_for("researcher").post("/_dash-update-component", json=body),
                                      400)["message"]


# -- Dash's assets, the explain figures ----------------------------------------------------------------

UNKNOWN_ASSETS = ["/_dash-component-suites/nothing/x.js", "/_dash-component-suites/dash/nothing.js",
                  "/_dash-component-suites/dash/dcc/nothing.v4_4_1m1.js",
                  "/_dash-component-suites/dash_ag_grid/../../etc/passwd",
                  "/_dash-component-suites/dash/deps/" + "x" * 300 + ".js"]


def test_unknown_dash_assets_answer_404(client_for):
    client = client_for("researcher")
    for path in UNKNOWN_ASSETS:
        response = client.get(path)
        assert response.status_code == 404, path
        assert _error(response, 404)["message"] == "No such file."


def test_a_known_dash_asset_is_still_served(app):
    html = app.server.test_client()
    sign_in(html, email_of("researcher"))
    page = html.get("/").get_data(as_text=True)
    asset = re.search(r'src="(/_dash-component-suites/[^"]+\.js)"', page).group(1)
    assert html.get(asset).status_code == 200


def _figures(client, run_id, sample, class_name):
    return client.post("/_dash-update-component", json={
        "output": "explain-figures.children", "outputs": {"id": "explain-figures", "property": "children"},
        "inputs": [{"id": "explain-class", "property": "value", "value": class_name}],
        "state": [{"id": "explain-ids", "property": "data", "value": {"run": run_id, "sample": sample}}],
        "changedPropIds": ["explain-class.value"]})


def test_explain_figures_with_an_unknown_sample_or_class(client_for, run, sample):
    client = client_for("researcher")
    assert _figures(client, run.id, sample, "SKCM").status_code == 200
    assert "has no sample 'nobody'" in _error(_figures(client, run.id, "nobody", "SKCM"), 404)["message"]
    assert "has no class 'NOT-A-CLASS'" in _error(_figures(client, run.id, sample, "NOT-A-CLASS"), 400)["message"]
    for odd in (["SKCM"], {"a": 1}, 10**30, "x" * 300):
        _error(_figures(client, run.id, sample, odd), 400)
    _error(_figures(client, "0" * 32, sample, "SKCM"), 404)
    _error(_figures(client, {"run": 1}, sample, "SKCM"), 400)
    _error(_figures(client_for("clinician"), run.id, sample, "SKCM"), 403)  # not shared with them


# -- the sweep: every server callback, every page address ----------------------------------------------

@pytest.mark.parametrize("role", ["admin", "researcher"])
def test_no_callback_answers_500_to_hostile_values(app, client_for, run, sample, role):
    fixed = {store: run.id for store in RUN_STORES} | {"explain-ids.data": {"run": run.id, "sample": sample}}
    client, answered = client_for(role), 0
    for key in server_callbacks(app):
        for value in HOSTILE:
            response = client.post("/_dash-update-component", json=callback_body(app, key, value, fixed))
            assert response.status_code < 500, (key, repr(value)[:40], response.get_data(as_text=True)[:300])
            answered += 1
    assert answered >= 50 * len(HOSTILE)


PAGE_QUERIES = ["", "?version=²", "?version=1&version=2", "?version=" + "9" * 5000, "?model=" + "x" * 300,
                "?model=a&model=b", "?rerun=" + "x" * 300, "?rerun=a&rerun=b", "?notebook=a&notebook=b",
                "?x=%3Cimg%20src%3Dx%3E"]
PATH_SEGMENTS = ["x" * 300, "²", "%2e%2e", "a%2Fb", "<img src=x>"]


def _page_paths() -> list[str]:
    paths = set()
    for page in dash.page_registry.values():
        template = page.get("path_template")
        if template:
            paths.update(re.sub(r"<[^>]+>", segment, template) for segment in PATH_SEGMENTS)
        else:
            paths.add(page["path"])
    return sorted(paths)


def _page_routing(app) -> str:
    """Dash's page-routing callback (registered when the app serves its first request)."""
    return next(k for k in app.callback_map if "_pages_content.children" in k)


def test_no_page_answers_500_to_hostile_addresses(app, client_for):
    client, answered = client_for("admin"), 0
    key = _page_routing(app)
    for path in _page_paths():
        for query in PAGE_QUERIES:
            fixed = {"_pages_location.pathname": path, "_pages_location.search": query}
            response = client.post("/_dash-update-component", json=callback_body(app, key, None, fixed))
            assert response.status_code < 500, (path[:40], query[:40], response.get_data(as_text=True)[:300])
            answered += 1
    assert answered > 100


def test_dash_page_routing_takes_only_a_pathname(app, client_for):
    client = client_for("researcher")
    for pathname in (None, 5, "", "no-slash", ["/"]):
        body = callback_body(app, _page_routing(app), None, {"_pages_location.pathname": pathname})
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 400, pathname
        assert "pathname" in _error(response, 400)["message"]


# -- NUL characters: PostgreSQL cannot store them ---------------------------------------------------

def test_nul_characters_are_refused_everywhere(app, client_for, run):
    client = client_for("researcher")
    for path in ("/runs/a%00b", "/notebook-runs/%00/report.html", "/api/v1/runs/%00"):
        assert client.get(path).status_code == 404, path  # an address with NUL names nothing
    assert client.get("/runs?q=%00").status_code == 400
    body = callback_body(app, "run-download.data", 1, {"run-id.data": run.id + "\x00"})
    assert "NUL" in _error(client.post("/_dash-update-component", json=body), 400)["message"]
    for encoding in ("utf-16", "utf-32"):  # JSON the parser reads as well as UTF-8
        response = client.post("/_dash-update-component", data=json.dumps(body).encode(encoding),
                               content_type="application/json")
        assert "NUL" in _error(response, 400)["message"], encoding
    escaped_backslash = callback_body(app, "run-download.data", 1, {"run-id.data": "\\u0000"})  # text, not NUL
    assert client.post("/_dash-update-component", json=escaped_backslash).status_code == 404
    signed_out = app.server.test_client()
    page = signed_out.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert signed_out.post("/login", data={"email": "a\x00@example.org", "password": "x", "csrf": csrf}
                           ).status_code == 400


@pytest.mark.parametrize("disposition", [
    'form-data; name="data_use.basis',  # an unclosed quote: werkzeug keys the part None
    'form-data; filename="a.csv"',  # a file part without a name
    "form-data",
])
def test_a_form_part_without_a_readable_name_is_a_400(app, disposition):
    """Found by schemathesis as a 500 of the API's multipart predict; the sign-in form read it the same way."""
    body = b"--B\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\npublic\r\n--B--\r\n"
    multipart = "multipart/form-data; boundary=B"
    client = app.server.test_client()
    api = client.post("/api/v1/models/tissue-of-origin/predict", data=body, content_type=multipart)
    assert "no readable name" in _error(api, 400)["message"]
    assert client.post("/login", data=body, content_type=multipart).status_code == 400


NUL_ESCAPES = [(b'"a\\u0000"', True), (b'"a\\\\u0000"', False), (b'"\\\\\\u0000"', True), (b'["\\\\", "u0000"]', False),
               (b'"u0000"', False), (b"\xef\xbb\xbf" + b'"\\u0000"', True), (json.dumps("\x00").encode("utf-16"), True),
               (json.dumps("\\u0000").encode("utf-32"), False), (b"\\" * 1_000_000, False),
               (b"\\\\u0000" * 100_000, False)]


def test_a_nul_escape_is_told_from_an_escaped_backslash():
    # a million backslashes: answered at once (a backtracking pattern took seconds for 20 kB, before sign-in)
    for raw, nul in NUL_ESCAPES:
        assert nul_guard.json_has_nul(raw) is nul, raw[:40]


# -- the registry: a name from a request is never a path ---------------------------------------------

@pytest.mark.parametrize("name", [None, 5, ["a"], {"a": 1}, "", "x" * 300, "..", "../models", "a/b", "A", "a\n",
                                  "-leading"])
def test_registry_reads_refuse_what_is_not_a_model_name(models_root, name):
    registry = Registry(models_root)
    for read in (registry.versions, registry.aliases, registry.default_version, registry.version_of,
                 lambda n: registry.get(n, 1)):
        with pytest.raises(RegistryError, match="no model named"):
            read(name)


@pytest.mark.parametrize("version", [None, "1", 1.0, True, 0, -1, 10**9, [1]])
def test_registry_versions_are_whole_numbers(models_root, version):
    with pytest.raises(RegistryError, match="has no version"):
        Registry(models_root).get("tcga-mirna-type", version)


# -- the error handlers --------------------------------------------------------------------------------

RAISED = {
    "/test-raise/bug": (RuntimeError("secret detail of the bug"), 500),
    "/test-raise/run": (runs.RunError("no prediction run abc", 404), 404),
    "/test-raise/gone": (runs.RunError("purged under retention", 410), 410),
    "/test-raise/parameters": (ParameterError(["seed: must be a whole number"]), 400),
    "/test-raise/registry": (RegistryError("no model named 'x'"), 404),
    "/test-raise/integrity": (IntegrityError("artifact sha256 does not match"), 500),
    "/test-raise/user": (UserError("a user with e-mail a@example.org exists already"), 400),
}


@pytest.fixture
def raising_app(make_portal, database_url):
    """A portal with made-up routes that raise, added before its first request (Flask's rule)."""
    app = make_portal(database_url)
    for path, (error, _status) in RAISED.items():
        def view(error=error):
            raise error
        app.server.add_url_rule(path, path, view)
        app.server.add_url_rule("/_dash-" + path.strip("/").replace("/", "-"), "dash" + path, view)
    return app


@pytest.mark.parametrize("path", RAISED)
def test_errors_answer_their_status_and_bugs_a_generic_500(raising_app, path, caplog):
    error, status = RAISED[path]
    client = raising_app.server.test_client()
    sign_in(client, email_of("researcher"))
    with caplog.at_level(logging.ERROR, logger="portal.http_errors"):
        as_json = client.get("/_dash-" + path.strip("/").replace("/", "-"))  # Dash's routes: JSON
        as_page = client.get(path)  # a page: HTML
    message = _error(as_json, status)["message"]
    assert as_page.status_code == status and "Traceback" not in as_page.get_data(as_text=True)
    if status == 500:
        request_id = as_json.headers["X-Request-Id"]
        assert message == f"The server failed to answer this request; the error is logged (request id {request_id})."
        assert str(error) not in as_json.get_data(as_text=True) + as_page.get_data(as_text=True)
        logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is error]
        assert len(logged) == 2 and request_id in logged[0].getMessage()
    else:
        assert str(error).split(":")[0] in message
        assert not [r for r in caplog.records if r.exc_info]  # what a person caused is no bug to log
