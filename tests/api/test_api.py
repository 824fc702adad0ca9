"""REST API v1: endpoints, every error case, keys and revocation, the result cache, audit, metrics."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from portal.accounts import api_keys
from portal.core.models import AuditEvent
from tests.helpers import DATA_USE, MODEL, auth, finished_run, user_of


def _body(samples, **more) -> dict:
    """A predict request body: the samples, with the tests' data-use basis."""
    return {"samples": samples, "data_use": DATA_USE, **more}


def test_health_needs_no_key(client):
    body = client.get("/api/v1/health").json
    assert body["status"] == "ok" and body["database"] and body["models"] == ["tcga-mirna-type", "tissue-of-origin"]


def test_models_and_model(client, key_for, registry):
    key = key_for("analyst")
    listing = client.get("/api/v1/models", headers=auth(key)).json["models"]
    assert {m["name"] for m in listing} == {"tcga-mirna-type", "tissue-of-origin"}
    version = listing[0]["versions"][0]
    assert version["aliases"] == ["production"] and len(version["sha256"]) == 64 and "balanced_accuracy" in version["metrics"]
    stored = registry.version_of(listing[0]["name"], version["version"])
    assert version["metrics"] == {**stored.headline_metrics, "abstain_threshold": stored.abstain_threshold}
    assert "coverage" in version["metrics"]  # the share kept at the abstain threshold
    detail = client.get(f"/api/v1/models/{MODEL}", headers=auth(key)).json
    assert detail["id_column"] == "sample_id" and len(detail["features"]) == 298
    assert detail["model_card"]["intended_use"] == "Research use only, not for diagnosis."


def test_predict_returns_calibrated_predictions_with_metadata(client, key_for, held_out, registry, tcga):
    response = client.post(f"/api/v1/models/{MODEL}/predict", json=_body(held_out[:20]),
                           headers=auth(key_for("researcher")))
    assert response.status_code == 200
    body = response.json
    version = registry.resolve(MODEL)
    assert (body["model"], body["version"], body["sha256"]) == (MODEL, 1, version.sha256)
    assert len(body["request_id"]) == 32 and body["elapsed_ms"] > 0
    predictions = body["predictions"]
    assert [p["id"] for p in predictions] == [s["id"] for s in held_out[:20]]
    for p in predictions:
        assert sum(p["probabilities"].values()) == pytest.approx(1.0)
        assert p["class"] == max(p["probabilities"], key=p["probabilities"].get)
        assert p["confidence"] == pytest.approx(max(p["probabilities"].values()))
    truth = tcga.y.loc[[s["id"] for s in held_out[:20]]].tolist()
    assert sum(p["class"] == t for p, t in zip(predictions, truth)) >= 18


def test_explain_option_and_endpoint(client, key_for, held_out):
    key = key_for("clinician")
    body = client.post(f"/api/v1/models/{MODEL}/predict", json=_body(held_out[:2], explain=True, top_k=4),
                       headers=auth(key)).json
    assert all(len(p["contributions"]) == 4 for p in body["predictions"])
    explanation = client.post(f"/api/v1/models/{MODEL}/explain",
                              json={"sample": held_out[0], "class_name": "SKCM", "top_k": 5}, headers=auth(key)).json
    e = explanation["explanation"]
    assert e["class"] == "SKCM" and len(e["top"]) == 5
    assert e["base_value"] + sum(c["shap"] for c in e["top"]) + e["rest"] == pytest.approx(e["output"], abs=1e-9)


def test_versions_and_aliases_can_be_asked_for(client, key_for, held_out):
    key = key_for("researcher")
    for version in ("1", "production"):
        body = client.post(f"/api/v1/models/{MODEL}/predict", json=_body(held_out[:1], version=version),
                           headers=auth(key)).json
        assert body["version"] == 1
    missing = client.post(f"/api/v1/models/{MODEL}/predict", json=_body(held_out[:1], version="7"),
                          headers=auth(key))
    assert missing.status_code == 404 and "no version 7" in missing.json["error"]["message"]


def _error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    return body["error"]


def test_error_cases(client, key_for, held_out, app):
    key = key_for("researcher")
    url = f"/api/v1/models/{MODEL}/predict"
    _error(client.post(url, json=_body(held_out[:1])), 401, "unauthenticated")
    _error(client.post(url, json=_body(held_out[:1]), headers=auth("ca_00000000_" + "x" * 43)), 401,
           "unauthenticated")
    _error(client.post(url, json=_body(held_out[:1]), headers=auth(key_for("analyst"))), 403, "forbidden")
    _error(client.post("/api/v1/models/nope/predict", json=_body(held_out[:1]), headers=auth(key)), 404,
           "not-found")
    _error(client.post(url, data="{not json", headers={**auth(key), "Content-Type": "application/json"}), 400,
           "bad-request")
    unsupported = _error(client.post(url, data="samples=1", headers={**auth(key), "Content-Type": "text/plain"}),
                         415, "unsupported-media-type")
    assert "multipart/form-data" in unsupported["message"]  # predict also takes files
    _error(client.post(url, json=_body(held_out[:1] * 1001), headers=auth(key)), 422, "invalid")
    _error(client.post(url, json=_body([]), headers=auth(key)), 422, "invalid")
    _error(client.get(url, headers=auth(key)), 405, "method-not-allowed")
    _error(client.get("/api/v1/nothing", headers=auth(key)), 404, "not-found")
    app.server.config["MAX_CONTENT_LENGTH"] = 1000
    _error(client.post(url, json=_body(held_out[:5]), headers=auth(key)), 413, "too-large")


def test_feature_problems_name_the_sample_and_feature(client, key_for, held_out):
    key = key_for("researcher")
    url = f"/api/v1/models/{MODEL}/predict"
    missing = copy.deepcopy(held_out[:2])
    del missing[1]["features"]["hsa.let.7b"]
    missing[0]["features"]["NOT_A_MIRNA"] = 1.0
    details = _error(client.post(url, json=_body(missing), headers=auth(key)), 422, "invalid")["details"]
    assert {"sample": held_out[1]["id"], "feature": "hsa.let.7b",
            "problem": "missing: every feature of the model is needed"} in details
    assert {"sample": held_out[0]["id"], "feature": "NOT_A_MIRNA", "problem": "not a feature of this model"} in details
    typed = copy.deepcopy(held_out[:1])
    typed[0]["features"]["hsa.let.7c"] = "12"  # a string, not a number
    details = _error(client.post(url, json=_body(typed), headers=auth(key)), 422, "invalid")["details"]
    assert any(d["feature"] == "hsa.let.7c" and d["sample"] == "#0" for d in details)
    twice = [held_out[0], held_out[0]]
    details = _error(client.post(url, json=_body(twice), headers=auth(key)), 422, "invalid")["details"]
    assert details == [{"sample": held_out[0]["id"], "feature": None, "problem": "duplicate sample id"}]


def test_binary_features_must_be_0_or_1(client, key_for, gdsc, registry):
    sample_id = registry.resolve("tissue-of-origin").test_ids[0]
    features = {k: int(v) for k, v in gdsc.X.loc[sample_id].items()}
    features["TP53_mut"] = 2
    details = _error(client.post("/api/v1/models/tissue-of-origin/predict",
                                 json=_body([{"id": "x", "features": features}]),
                                 headers=auth(key_for("researcher"))), 422, "invalid")["details"]
    assert details == [{"sample": "x", "feature": "TP53_mut", "problem": "must be 0 or 1"}]


def test_the_portal_keeps_the_document_and_each_version_s_schema_arrays(client, key_for, held_out, app, registry):
    caches = app.server.extensions["cancer_alpha"].caches
    document = client.get("/api/v1/openapi.json").json
    assert client.get("/api/v1/openapi.json").json == document and len(caches.api_document) == 1
    client.post(f"/api/v1/models/{MODEL}/predict", json=_body(held_out[:1]), headers=auth(key_for("researcher")))
    version = registry.resolve(MODEL)
    assert (version.ref, version.sha256) in caches.schema_arrays


def test_revoked_keys_stop_working_at_once(client, key_for, held_out, app):
    key = key_for("researcher")
    url = f"/api/v1/models/{MODEL}/predict"
    assert client.post(url, json=_body(held_out[:1]), headers=auth(key)).status_code == 200
    portal = app.server.extensions["cancer_alpha"]
    api_keys.revoke_key(portal.db, key.split("_")[1])
    _error(client.post(url, json=_body(held_out[:1]), headers=auth(key)), 401, "unauthenticated")


def test_same_sample_is_answered_from_the_cache(client, key_for, held_out):
    key = key_for("researcher")
    url = f"/api/v1/models/{MODEL}/predict"
    first = client.post(url, json=_body(held_out[:3]), headers=auth(key)).json
    renamed = [{**s, "id": f"again-{s['id']}"} for s in held_out[:3]]
    second = client.post(url, json=_body(renamed), headers=auth(key)).json
    for a, b in zip(first["predictions"], second["predictions"]):
        assert b["id"] == f"again-{a['id']}" and {k: v for k, v in a.items() if k != "id"} == \
            {k: v for k, v in b.items() if k != "id"}
    metrics = client.get("/metrics").get_data(as_text=True)  # the test client comes from 127.0.0.1
    hits = [line for line in metrics.splitlines() if line.startswith('cancer_alpha_result_cache_total{outcome="hit"}')]
    assert hits and float(hits[0].split()[-1]) >= 3


def test_every_prediction_is_audited_without_values(client, key_for, held_out, app):
    key = key_for("researcher")
    client.post(f"/api/v1/models/{MODEL}/predict", json=_body(held_out[:4]), headers=auth(key))
    with app.server.extensions["cancer_alpha"].db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api.predict")).one()
    assert event.actor == "researcher@example.org" and event.details["samples"] == 4
    assert event.details["key"] == key.split("_")[1] and key not in str(event.details)
    assert "hsa" not in str(event.details)


def test_a_refusal_in_a_shared_check_is_audited_as_the_key_s_owner(client, key_for, app, tcga, registry):
    """The run check (portal.predictions.runs) audits its own refusal; under an API key it is the key's
    owner who was refused, not "system"."""
    portal = app.server.extensions["cancer_alpha"]
    with app.server.test_request_context():
        run = finished_run(portal, tcga, registry, n=2)  # the researcher's
    clinician = user_of(portal, "clinician")
    assert client.get(f"/api/v1/runs/{run.id}/results", headers=auth(key_for("clinician"))).status_code == 403
    with portal.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "run.denied")).one()
    assert (event.user_id, event.actor, event.target) == (clinician.id, clinician.email, run.id)


def test_metrics_need_the_token_or_an_allowed_network(tmp_path, models_root):
    from portal.app import create_app
    from tests.helpers import make_settings

    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", models_root,
                                   metrics_allow="10.0.0.0/8", metrics_token="s3cret-token"))
    client = app.server.test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    scraped = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    text = scraped.get_data(as_text=True)
    assert scraped.status_code == 200 and "cancer_alpha_http_requests_total" in text
    assert 'cancer_alpha_background_jobs{state="done"}' in text


def _limited_app(tmp_path, models_root, **overrides):
    from portal.app import create_app
    from tests.helpers import make_settings

    return create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'limits.db'}", models_root,
                                    api_rate_limit="3 per minute", **overrides))


def _keys(app, n=2):
    from portal.accounts.users import find_user
    from tests.helpers import ADMIN_EMAIL

    db = app.server.extensions["cancer_alpha"].db
    return [api_keys.create_key(db, find_user(db, ADMIN_EMAIL).id, f"k{i}")[1] for i in range(n)]


def _answers(client, key, n):
    return [client.get("/api/v1/models", headers=auth(key)) for _ in range(n)]


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_rate_limits_per_key(tmp_path, models_root, storage):
    import os

    import redis

    url = os.environ.get("CANCER_ALPHA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/12"
    if storage == "redis":
        redis.Redis.from_url(url).flushdb()
    app = _limited_app(tmp_path, models_root, **({"redis_url": url} if storage == "redis" else {}))
    client = app.server.test_client()
    first, second = _keys(app)
    answers = _answers(client, first, 4)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.json["error"]["code"] == "rate-limited" and int(refused.headers["Retry-After"]) > 0
    assert _answers(client, second, 1)[0].status_code == 200  # limits are per key
    assert client.get("/api/v1/health").status_code == 200  # health is never limited
    if storage == "redis":
        assert any(b"api-key" in k for k in redis.Redis.from_url(url).keys("*"))
        redis.Redis.from_url(url).flushdb()


def test_api_keeps_answering_when_redis_is_down(tmp_path, models_root, caplog):
    app = _limited_app(tmp_path, models_root, redis_url="redis://127.0.0.1:1/0")
    client = app.server.test_client()
    (key,) = _keys(app, 1)
    with caplog.at_level("WARNING"):
        codes = [a.status_code for a in _answers(client, key, 4)]
    assert codes == [200, 200, 200, 429]  # the in-memory fallback still limits
    assert any("memory" in r.getMessage().lower() or "unreachable" in r.getMessage().lower() for r in caplog.records)
