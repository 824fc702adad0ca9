"""The predict request's required `data_use` object (issue 12): without it, or with a basis or reference
that is refused, a 422 in the API's error shape naming the field; with it, the basis and reference in the
api.predict audit entry; the OpenAPI document describes it. Real held-out TCGA samples; made-up
references."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.models import AuditEvent
from tests.helpers import MODEL, auth

URL = f"/api/v1/models/{MODEL}/predict"


def _refused(response) -> list[str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.json["error"]
    assert set(response.json) == {"error"} and error["code"] == "invalid" and error["message"]
    return [d["problem"] for d in error["details"]]


@pytest.mark.parametrize("data_use, field, words", [
    (None, "data_use", "Field required"),
    ({}, "data_use.basis", "Field required"),
    ({"basis": "irb-approved"}, "data_use.basis", "'deidentified-protocol', 'consented', 'public' or 'synthetic'"),
    ({"basis": "unrecorded"}, "data_use.basis", "Input should be"),
    ({"basis": "deidentified-protocol"}, "data_use.reference", "the data-use reference is required"),
    ({"basis": "consented", "reference": "   "}, "data_use.reference", "the data-use reference is required"),
    ({"basis": "public", "reference": "x" * 201}, "data_use.reference", "at most 200 characters"),
    ({"basis": "public", "reference": "TCGA\u0007"}, "data_use.reference", "control character (U+0007"),
    ({"basis": "consented", "reference": "ask dr.who@clinic.example"}, "data_use.reference", "personal data"),
    ({"basis": "public", "reference": 38}, "data_use.reference", "valid string"),
    ({"basis": "public", "reference": "TCGA", "patient": "x"}, "data_use.patient", "Extra inputs"),
    ("public", "data_use", "Input should be an object"),
])
def test_a_prediction_without_a_valid_data_use_is_refused_naming_the_field(client, key_for, held_out, data_use,
                                                                           field, words):
    body = {"samples": held_out[:1]} | ({} if data_use is None else {"data_use": data_use})
    problems = _refused(client.post(URL, json=body, headers=auth(key_for("researcher"))))
    assert any(p.startswith(f"{field}: ") and words in p for p in problems), problems


def test_the_basis_and_reference_are_audited_with_the_prediction(client, key_for, held_out, app):
    data_use = {"basis": "deidentified-protocol", "reference": "  IRB-2024-0153 (made up) "}
    response = client.post(URL, json={"samples": held_out[:2], "data_use": data_use},
                           headers=auth(key_for("researcher")))
    assert response.status_code == 200, response.get_data(as_text=True)
    synthetic = client.post(URL, json={"samples": held_out[:1], "data_use": {"basis": "synthetic"}},
                            headers=auth(key_for("researcher")))
    assert synthetic.status_code == 200  # a synthetic sample needs no reference
    with app.server.extensions["cancer_alpha"].db.session() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "api.predict")
                                      .order_by(AuditEvent.id)))
    assert [e.details["data_use"] for e in events] == [
        {"basis": "deidentified-protocol", "reference": "IRB-2024-0153 (made up)"},
        {"basis": "synthetic", "reference": None}]


def test_a_refused_data_use_leaves_no_prediction_entry(client, key_for, held_out, app):
    _refused(client.post(URL, json={"samples": held_out[:1]}, headers=auth(key_for("researcher"))))
    with app.server.extensions["cancer_alpha"].db.session() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "api.predict")).all() == []


def test_the_openapi_document_describes_data_use(client):
    document = client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    assert "data_use" in schemas["PredictRequest"]["required"]
    data_use = schemas["DataUse"]
    assert data_use["required"] == ["basis"]
    assert data_use["properties"]["basis"]["enum"] == ["deidentified-protocol", "consented", "public", "synthetic"]
    assert "IRB or ethics committee approval number" in data_use["properties"]["basis"]["description"]
    reference = data_use["properties"]["reference"]
    assert {"maxLength": 200, "type": "string"} in reference["anyOf"] and "e-mail" in reference["description"]
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "data_use" in page and "deidentified-protocol" in page
