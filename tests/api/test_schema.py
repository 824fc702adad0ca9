"""schemathesis against the generated OpenAPI document: whatever it sends, the API never answers 5xx
and never breaks its own schema (status codes, content types, bodies). (Driven with hypothesis
directly: schemathesis's pytest plugin does not run under pytest 9.)"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from portal.accounts import api_keys
from portal.accounts.users import find_user
from tests.helpers import auth, email_of


def test_api_conforms_to_its_schema(make_portal):
    # schemathesis's auth checks send ~140 requests without a key from one address: under the default
    # failure limit per address (portal.api.limits) they would get 429 where the check wants 401
    app = make_portal(api_auth_failure_limit="10000 per minute")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server)
    # a NUL character is refused (400) before any route: tests/portal/test_hostile_requests.py tests that
    schema.config.generation.update(allow_x00=False)
    # 422 answers what a JSON schema cannot say: a reference some data-use bases require, unknown features
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
    db = app.server.extensions["cancer_alpha"].db
    headers = auth(api_keys.create_key(db, find_user(db, email_of("researcher")).id, "schemathesis")[1])
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None, derandomize=True,  # the same cases on every run
                  suppress_health_check=list(HealthCheck))
        def conforms(case):
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text[:500])
            case.validate_response(response, headers=headers)  # lets the auth checks remove our key

        conforms()
        checked.append(operation.label)
    assert len(checked) == 10  # health, readiness, models, a model, predict, explain, a run, its results, and a
    # sample's FHIR bundle and PDF report
