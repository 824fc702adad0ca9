"""schemathesis against the generated OpenAPI document: whatever it sends, the API never answers 5xx
and never breaks its own schema (status codes, content types, bodies). (Driven with hypothesis
directly: schemathesis's pytest plugin does not run under pytest 9.)"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import auth


def test_api_conforms_to_its_schema(app, key_for):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server)
    headers = auth(key_for("researcher"))
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def conforms(case):
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text[:500])
            case.validate_response(response, headers=headers)  # lets the auth checks remove our key

        conforms()
        checked.append(operation.label)
    assert len(checked) == 7  # health, models, a model, predict, explain, a run, its results
