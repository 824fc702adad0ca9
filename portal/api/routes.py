"""REST API v1 (a Flask blueprint under /api/v1): health, models, predict, explain, the OpenAPI document
and its documentation page. Every route but health and the documents needs `Authorization: Bearer <key>`;
the key's owner's role applies; limits are per verified key (portal.api.limits)."""
from __future__ import annotations

import time

import flask
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from portal import request_ids
from portal.accounts import api_keys, audit
from portal.accounts.permissions import PERMISSIONS, allowed
from portal.api import caller, errors, files, openapi
from portal.api import runs as run_views
from portal.api import sample_exports, serializers, service
from portal.api.schemas import ExplainRequest, Health, PredictRequest, Ready
from portal.core import context
from portal.core.states import AuditOutcome
from portal.metrics import METRICS

API_VERSION = "1.0.0"
READINESS = "cancer_alpha_readiness"  # the app's portal.readiness.Readiness
OPEN_ENDPOINTS = {"api.health", "api.ready", "api.openapi_document", "api.docs", "api.not_found"}


def create_blueprint() -> flask.Blueprint:
    api = flask.Blueprint("api", __name__, url_prefix="/api/v1")
    errors.register(api)
    api.before_request(_authenticate)

    @api.get("/health")
    def health():
        portal = context.get()
        try:
            with portal.db.engine.connect() as connection:
                connection.execute(text("select 1"))
            database = True
        except Exception:
            database = False
        body = Health(status="ok" if database else "degraded", version=API_VERSION, database=database,
                      models=portal.registry.models())
        return body.model_dump(), 200 if database else 503

    @api.get("/ready")
    def ready():
        verdict = flask.current_app.extensions[READINESS].check()
        return Ready(status=verdict.status, version=API_VERSION, checks=verdict.checks).model_dump(), verdict.http_status

    @api.get("/models")
    def models():
        registry = context.get().registry
        return {"models": [serializers.model_summary(registry, name) for name in registry.models()]}

    @api.get("/models/<name>")
    def model(name: str):
        registry = context.get().registry
        if name not in registry.models():
            raise errors.ApiError(404, f"no model named {name!r}; known: {', '.join(registry.models())}")
        return serializers.model_detail(registry, name)

    @api.post("/models/<name>/predict")
    def predict(name: str):
        started = time.perf_counter()
        _need("predict")
        if files.is_multipart():
            return _predict_files(name, started)
        body = _parse(PredictRequest, or_else=" or files as 'multipart/form-data'")
        portal = context.get()
        model = service.load_model(portal.registry, name, body.version)
        arrays = service.schema_arrays(model, portal.caches.schema_arrays)
        predictions, hits = service.predict_samples(model, arrays, body.samples, _cache(),
                                                    body.top_k if body.explain else None)
        METRICS.record_predictions(model.version.name, model.version.version, [p["class"] for p in predictions], hits,
                                   len(predictions) - hits)
        _audit("api.predict", model, len(predictions), data_use=body.data_use.model_dump())
        return _meta(model, started) | {"predictions": predictions}

    @api.post("/models/<name>/explain")
    def explain(name: str):
        started = time.perf_counter()
        _need("explain")
        body = _parse(ExplainRequest)
        portal = context.get()
        model = service.load_model(portal.registry, name, body.version)
        arrays = service.schema_arrays(model, portal.caches.schema_arrays)
        explanation = service.explain_sample(model, arrays, body.sample, body.class_name, body.top_k)
        _audit("api.explain", model, 1)
        return _meta(model, started) | {"explanation": explanation}

    @api.get("/runs/<run_id>")
    def run(run_id: str):
        """A prediction run's record (a purged one says when and why: its results answer 410)."""
        _need("predict")
        return run_views.record(run_views.readable_run(context.get(), run_id, flask.g.api_owner))

    @api.get("/runs/<run_id>/results")
    def run_results(run_id: str):
        _need("download")
        portal = context.get()
        found = run_views.readable_run(portal, run_id, flask.g.api_owner)
        page = run_views.results_page(portal, found, flask.request.args.get("offset"), flask.request.args.get("limit"))
        audit.record("download", target=found.id,
                     details={"format": "json", "samples": len(page["results"]), "key": flask.g.api_owner.prefix})
        return page

    @api.get("/runs/<run_id>/samples/<sample_id>/fhir")
    def run_sample_fhir(run_id: str, sample_id: str):
        """One sample's FHIR R4 Bundle (application/fhir+json), audited as report.fhir."""
        _need("export_reports")
        return sample_exports.sample_bundle(context.get(), run_id, sample_id, flask.g.api_owner)

    @api.get("/runs/<run_id>/samples/<sample_id>/report.pdf")
    def run_sample_pdf(run_id: str, sample_id: str):
        """One sample's PDF report (application/pdf), audited as report.pdf with the file's sha256."""
        _need("export_reports")
        return sample_exports.sample_report(context.get(), run_id, sample_id, flask.g.api_owner)

    @api.get("/openapi.json")
    def openapi_document():
        return _document()

    @api.get("/docs")
    def docs():
        return openapi.docs_page(_document())

    @api.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_found(rest: str):
        """Unknown API paths answer in the API's error shape (not with the Dash app's page)."""
        adapter = flask.current_app.url_map.bind_to_environ(flask.request.environ)
        for method in ("GET", "POST"):
            try:
                endpoint, _ = adapter.match(method=method)
            except Exception:
                continue
            if endpoint != "api.not_found":
                raise errors.ApiError(405, f"{flask.request.method} is not allowed here; use {method}.")
        raise errors.ApiError(404, f"no API endpoint at /api/v1/{rest}")

    return api


def _authenticate():
    if flask.request.endpoint in OPEN_ENDPOINTS:
        return None
    if caller.presented_key() is None:
        raise errors.ApiError(401, "Send an API key: 'Authorization: Bearer <key>'. Create one on your Account page.")
    owner = caller.verified()  # already worked out if a rate limit asked first
    if owner is None:  # a failed sign-in by key: audited with the key's public prefix, never the key
        audit.record("api.sign-in", outcome=AuditOutcome.FAILED, target=api_keys.key_prefix(caller.presented_key()),
                     details={"reason": "invalid key"})
        raise errors.ApiError(401, "This API key is not valid (unknown, revoked, or its user is deactivated).")
    flask.g.api_owner = owner
    audit.act_for(owner.user_id, owner.email)  # every entry of this request is the key's owner's
    return None


def _need(permission: str) -> None:
    owner = flask.g.api_owner
    if not allowed(owner.role, permission):
        audit.record("api.denied", outcome=AuditOutcome.DENIED, target=permission, details={"key": owner.prefix})
        raise errors.ApiError(403, f"The role {owner.role} may not {PERMISSIONS[permission][1]}.")


def _predict_files(name: str, started: float) -> dict:
    """POST /models/<name>/predict as multipart/form-data: one wide file, or one file per feature block."""
    form = files.form()
    portal = context.get()
    model = service.load_model(portal.registry, name, form.version)
    sent = files.files(portal.settings.max_upload_bytes)
    checked = files.validated(model, sent, portal.registry, portal.settings)
    predictions, hits = service.predict_matrix(model, checked.X, checked.ids, checked.out_of_range, _cache(),
                                               form.top_k if form.explain else None)
    METRICS.record_predictions(model.version.name, model.version.version, [p["class"] for p in predictions], hits,
                               len(predictions) - hits)
    _audit("api.predict", model, len(predictions), data_use=form.data_use.model_dump(), files=len(sent))
    return _meta(model, started) | {"predictions": predictions, "validation": checked.report.to_dict()}


def _parse(model: type[BaseModel], or_else: str = "") -> BaseModel:
    """The JSON body as `model`; `or_else` names what else the route takes, for the 415."""
    if not flask.request.is_json:
        raise errors.ApiError(415, f"Send JSON with 'Content-Type: application/json'{or_else}.")
    try:
        # pydantic parses and validates the JSON text in one pass: three times faster than json.loads
        # followed by validation for a 678-feature sample
        return model.model_validate_json(flask.request.get_data())
    except ValidationError as error:
        if any(problem["type"] == "json_invalid" for problem in error.errors()):
            raise errors.ApiError(400, "The body is not valid JSON.") from None
        raise errors.ApiError(422, "The request body does not match the schema.", _details(error)) from None


def _details(error: ValidationError) -> list[dict]:
    details = []
    for problem in error.errors()[: service.MAX_DETAILS]:
        where = tuple(_cut(part) for part in problem["loc"])  # a key of the body may be long: never echoed whole
        sample = feature = None
        if len(where) >= 2 and where[0] == "samples" and isinstance(where[1], int):
            sample = f"#{where[1]}"
            feature = str(where[3]) if len(where) >= 4 and where[2] == "features" else None
        field = ".".join(str(p) for p in where)
        details.append({"sample": sample, "feature": feature, "problem": f"{field}: {problem['msg']}"})
    return details


def _cut(part):
    return part[:77] + "..." if isinstance(part, str) and len(part) > 80 else part


def _cache():
    return flask.current_app.extensions["cancer_alpha_api_cache"]


def _document() -> dict:
    """The OpenAPI document, generated once per portal (pydantic's schema generation takes a while)."""
    return context.get().caches.api_document.get_or_create(API_VERSION, lambda: openapi.document(API_VERSION))


def _meta(model, started: float) -> dict:
    return {"model": model.version.name, "version": model.version.version, "sha256": model.version.sha256,
            "request_id": request_ids.current(),  # the X-Request-Id header's, and the audit entry's
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3)}


def _audit(action: str, model, samples: int, **more) -> None:
    audit.record(action, target=model.version.ref, details={"key": flask.g.api_owner.prefix, "samples": samples,
                                                            "sha256": model.version.sha256[:16], **more})


