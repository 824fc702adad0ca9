"""Sample ids that are awkward in a URL (`/`, `?`, `#`, `%`, spaces, non-ASCII) reach their explain
page: the run grid's click gives a percent-encoded path, the server serves it, and Dash's page routing
(which matches the browser's still-encoded pathname) gives the explain layout of that very sample.
The samples are real held-out TCGA samples; only their ids are made up here, to be awkward."""
from __future__ import annotations

import json

import pytest
from dash._pages import _path_to_page

from components.links import explain_href, segment_value
from portal.core.states import RunStatus
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, held_out_frame
from tests.helpers import user_of as user

ODD_IDS = ["TCGA/A1-07", "what?#1", "50%done", "échantillon-ü", "a b/c?d#e%f"]


@pytest.fixture
def odd_run(app, tcga, registry):
    with app.server.app_context():
        portal = app.server.extensions["cancer_alpha"]
        researcher = user(portal, "researcher")
        frame = held_out_frame(tcga, registry, n=len(ODD_IDS))
        frame.iloc[:, 0] = ODD_IDS  # the real samples under made-up awkward ids
        data = frame.to_csv(index=False).encode()
        upload = runs.save_upload(portal, researcher.id, "odd.csv", data, MODEL, data_use=DATA_USE).upload
        run = runs.queue_run(portal, upload.id, researcher.id, "researcher")
        assert runs.execute_run(portal, run.id) == RunStatus.DONE
        assert list(runs.results(portal, runs.get_run(portal, run.id, researcher.id, "researcher"))["sample_id"]) \
            == ODD_IDS
        return run.id


def _post(client, output: str, inputs: list[dict], state: list[dict] | None = None):
    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1))) for part in output.strip(".").split("...")]
    return client.post("/_dash-update-component", json={
        "output": output, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
        "state": state or [], "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]})


def _open_sample(client, run_id: str, sample: str):
    """The run page's grid click, posted as the browser does."""
    return _post(client, "run-location.pathname",
                 [{"id": "run-grid", "property": "cellClicked", "value": {"rowId": sample, "colId": "sample_id"}}],
                 [{"id": "run-id", "property": "data", "value": run_id}])


def _route(client, pathname: str):
    """Dash's page routing callback with the browser's pathname: the layout it answers."""
    (routing,) = [d for d in client.get("/_dash-dependencies").get_json() if "_pages_content.children" in d["output"]]
    values = {"pathname": pathname, "search": "", "hash": "", "href": f"http://localhost{pathname}"}
    inputs = [{"id": i["id"], "property": i["property"], "value": values.get(i["property"])} for i in routing["inputs"]]
    response = _post(client, routing["output"], inputs)
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_awkward_sample_ids_reach_their_explain_page(app, client_for, odd_run):
    client = client_for("researcher")
    for sample in ODD_IDS:
        response = _open_sample(client, odd_run, sample)
        assert response.status_code == 200
        path = response.get_json()["response"]["run-location"]["pathname"]
        assert path == explain_href(odd_run, sample) and path.count("/") == 3
        assert not set("?# ") & set(path) and path.isascii()
        # the server serves the encoded path (Werkzeug decodes %2F, but only Dash's index answers there) ...
        assert client.get(path).status_code == 200
        # ... and Dash's routing, on the encoded pathname the browser keeps, finds the sample's page
        page, variables = _path_to_page(path.strip("/"))
        assert page["path_template"] == "/explain/<run_id>/<sample_id>"
        assert variables["run_id"] == odd_run and segment_value(variables["sample_id"]) == sample
        shown = _route(client, path)
        assert f"Sample {sample}" in shown and "Not allowed" not in shown, sample
        assert json.dumps({"run": odd_run, "sample": sample}, ensure_ascii=False)[1:-1] in shown  # explain-ids
    # an unencoded '/' is what used to break: it is another path, not this sample's
    raw = f"/explain/{odd_run}/{ODD_IDS[0]}"
    assert f"Sample {ODD_IDS[0]}" not in _route(client, raw)
