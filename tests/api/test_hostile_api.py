"""The API answers hostile requests with a 4xx in its error shape, never a 500 and never an echo of a huge
value: versions that pass str.isdigit() but not int() ("²"), model names of 300 characters or that are
paths, feature names of 100,000 characters, NUL characters, numbers of 5,000 digits, and a sweep of made-up
hostile values through every field of the predict and explain bodies. Samples are real held-out TCGA ones."""
from __future__ import annotations

import copy
import json

import pytest

from tests.helpers import DATA_USE, MODEL, auth, finished_run, user_of

HOSTILE = [None, "", "x" * 300, "²", "9" * 5000, -1, 10**30, 1.5, True, [1, 2], {"a": [1]}, "<img src=x onerror=1>",
           "../../etc/passwd"]


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:400]
    assert set(response.json) == {"error"} and response.json["error"]["message"]
    assert len(response.get_data()) < 20_000  # nothing large is echoed back
    return response.json["error"]


def test_versions_that_are_not_ascii_digits_are_unknown_aliases(client, key_for, held_out):
    key = key_for("researcher")
    for version in ("²", "١٢", "٣", "9" * 20, "0" * 30, "-1", "1.0", " 1e3 "):  # "²".isdigit() is True
        response = client.post(f"/api/v1/models/{MODEL}/predict", headers=auth(key),
                               json={"samples": held_out[:1], "data_use": DATA_USE, "version": version})
        assert response.status_code == 404, version
        assert "has no alias" in _error(response, 404)["message"]


def test_model_names_that_are_no_name_answer_404(client, key_for, held_out):
    key = key_for("researcher")
    for name in ("a" * 300, "A", "-x", "x" * 65, "a%20b", "%C2%B2"):
        for response in (client.get(f"/api/v1/models/{name}", headers=auth(key)),
                         client.post(f"/api/v1/models/{name}/predict", headers=auth(key),
                                     json={"samples": held_out[:1], "data_use": DATA_USE}),
                         client.post(f"/api/v1/models/{name}/explain", headers=auth(key),
                                     json={"sample": held_out[0]})):
            assert response.status_code == 404, name
            assert "no model named" in _error(response, 404)["message"]


def test_a_huge_feature_name_is_refused_without_being_echoed(client, key_for, held_out):
    sample = copy.deepcopy(held_out[0])
    sample["features"]["f" * 100_000] = 1.0
    response = client.post(f"/api/v1/models/{MODEL}/predict", headers=auth(key_for("researcher")),
                           json={"samples": [sample], "data_use": DATA_USE})
    details = _error(response, 422)["details"]
    assert any("at most 200 characters" in d["problem"] for d in details)


def test_nul_characters_never_reach_the_database(client, key_for, held_out):
    """The API reads NUL in a sample id and answers it; the one stored text, the data-use reference, refuses
    control characters; an address with NUL names nothing."""
    headers = {**auth(key_for("researcher")), "Content-Type": "application/json"}
    url = f"/api/v1/models/{MODEL}/predict"
    sample = {**held_out[0], "id": "TCGA\u0000x"}
    answered = client.post(url, headers=headers, data=json.dumps({"samples": [sample], "data_use": DATA_USE}))
    assert answered.status_code == 200 and answered.json["predictions"][0]["id"] == "TCGA\u0000x"
    refused = client.post(url, headers=headers, data=json.dumps(
        {"samples": held_out[:1], "data_use": {"basis": "public", "reference": "TCGA\u0000release"}}))
    assert "control character" in json.dumps(_error(refused, 422)["details"])
    assert _error(client.get("/api/v1/models/a%00b", headers=headers), 404)


def test_result_pages_take_only_small_ascii_numbers(app, client, key_for, tcga, registry):
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        run = finished_run(portal, tcga, registry, n=2)
    key = key_for("researcher")
    assert run.user_id == user_of(portal, "researcher").id
    assert client.get(f"/api/v1/runs/{run.id}/results?offset=1&limit=1", headers=auth(key)).status_code == 200
    for path in ("/api/v1/runs/" + "Ω" * 300, "/api/v1/runs/" + "x" * 65 + "/results"):  # names no run
        assert "no prediction run" in _error(client.get(path, headers=auth(key)), 404)["message"]
    for query in ("offset=²", "offset=" + "9" * 5000, "offset=-1", "limit=0", "limit=1.5", "limit=10000000000",
                  "offset=%EF%BC%91"):  # int() refuses more than 4,300 digits; "１" (fullwidth) passes isdigit()
        response = client.get(f"/api/v1/runs/{run.id}/results?{query}", headers=auth(key))
        assert response.status_code == 400, query[:30]
        assert "whole number" in _error(response, 400)["message"]


def _set(body: dict, path: tuple, value) -> dict:
    body = copy.deepcopy(body)
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


PREDICT_FIELDS = [("samples",), ("samples", 0), ("samples", 0, "id"), ("samples", 0, "features"), ("version",),
                  ("explain",), ("top_k",), ("data_use",), ("data_use", "basis"), ("data_use", "reference")]
EXPLAIN_FIELDS = [("sample",), ("sample", "id"), ("sample", "features"), ("class_name",), ("version",), ("top_k",)]


@pytest.mark.parametrize("endpoint", ["predict", "explain"])
def test_no_field_of_a_body_answers_500(client, key_for, held_out, endpoint):
    key = key_for("clinician")
    base = ({"samples": held_out[:1], "data_use": DATA_USE} if endpoint == "predict"
            else {"sample": held_out[0], "class_name": None})
    answered = 0
    for path in PREDICT_FIELDS if endpoint == "predict" else EXPLAIN_FIELDS:
        for value in HOSTILE:
            response = client.post(f"/api/v1/models/{MODEL}/{endpoint}", json=_set(base, path, value),
                                   headers=auth(key))
            assert response.status_code < 500, (path, repr(value)[:30], response.get_data(as_text=True)[:300])
            if response.status_code >= 400:
                _error(response, response.status_code)
            answered += 1
    assert answered >= 6 * len(HOSTILE)
