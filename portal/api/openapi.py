"""The OpenAPI 3.1 document, generated from the pydantic models (never written by hand), and a
documentation page served by the portal itself (no CDN). The document is built once per portal: the
routes keep it in the portal's caches (PortalCaches.api_document)."""
from __future__ import annotations

import flask
from pydantic.json_schema import models_json_schema

from portal.api import sample_exports, schemas
from portal.core.states import DataUseBasis

ERRORS = {"400": "Not valid JSON", "401": "No valid API key", "403": "The key's role may not do this",
          "404": "No such model or version", "413": "Body too large", "415": "Not JSON",
          "422": "The body does not match the schema (a missing or refused data_use among others) or the model's "
                 "features", "429": "Rate limit reached"}

ROUTES = [
    ("get", "/api/v1/health", "Service health (no key needed)", None, schemas.Health, False, ()),
    ("get", "/api/v1/ready", "Readiness: database, production models, Redis (no key needed)", None, schemas.Ready,
     False, ()),
    ("get", "/api/v1/models", "Models, versions, aliases and held-out metrics", None, schemas.ModelList, True, ()),
    ("get", "/api/v1/models/{name}", "One model: versions, feature schema, model card", None, schemas.ModelDetail,
     True, ("name",)),
    ("post", "/api/v1/models/{name}/predict", "Predict up to 1,000 samples", schemas.PredictRequest,
     schemas.PredictResponse, True, ("name",)),
    ("post", "/api/v1/models/{name}/explain", "Explain one sample's prediction for a class", schemas.ExplainRequest,
     schemas.ExplainResponse, True, ("name",)),
    ("get", "/api/v1/runs/{run_id}", "A prediction run's record (a purged run's says when and why)", None,
     schemas.RunRecord, True, ("run_id",)),
    ("get", "/api/v1/runs/{run_id}/results", "A finished run's results, at most 1,000 rows a request "
     "(?offset=N&limit=M)", None, schemas.RunResults, True, ("run_id",)),
]


FILES_SUMMARY = (" as JSON, or as files (multipart/form-data): one wide file, or one file per feature block of "
                 "the model (mRNA, miRNA, methylation; mutation, copy number...) joined on the sample id, each file's "
                 "block told from its columns; the answer adds their validation report, per block")
FILES_FORM = {
    "schema": {
        "type": "object", "required": ["file", "data_use.basis"], "additionalProperties": False,  # others: 422
        "properties": {
            "file": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "string", "format": "binary"},
                     "description": "CSV, TSV (also gzipped) or Parquet, one sample a row with the model's id column: "
                                    "one wide file, or one file per feature block (send the field once a file)"},
            "data_use.basis": {"type": "string", "enum": [b.value for b in DataUseBasis.choices()],
                               "description": "The samples' data-use basis, as in DataUse"},
            "data_use.reference": {"type": "string", "maxLength": 200, "description": "Its reference, as in DataUse"},
            "version": {"type": "string", "maxLength": 64, "description": "A version number or an alias"},
            "explain": {"type": "boolean", "description": "Add each sample's top SHAP contributions"},
            "top_k": {"type": "integer", "minimum": 1, "maximum": 100},
        },
    },
    "encoding": {"file": {"contentType": "text/csv, text/tab-separated-values, application/gzip, "
                                         "application/vnd.apache.parquet, application/octet-stream"}},
}


def document(version: str) -> dict:
    models = [schemas.ErrorResponse] + [m for route in ROUTES for m in route[3:5] if m is not None]
    keyed, definitions = models_json_schema([(m, "validation" if m in (schemas.PredictRequest, schemas.ExplainRequest)
                                              else "serialization") for m in models],
                                            ref_template="#/components/schemas/{model}")
    ref = {model: keyed[(model, mode)] for (model, mode) in keyed}
    paths: dict = {}
    for method, path, summary, request, response, secured, params in ROUTES:
        operation = {
            "summary": summary,
            "operationId": f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref[response]}}},
                          **{code: {"description": text, "content": {"application/json": {
                              "schema": ref[schemas.ErrorResponse]}}}
                             for code, text in ERRORS.items() if secured or code == "429"}},
        }
        if path.startswith("/api/v1/runs/"):
            operation["responses"]["404"]["description"] = "No such run"
            operation["responses"]["409"] = {"description": "The run has not finished", "content": {
                "application/json": {"schema": ref[schemas.ErrorResponse]}}}
            operation["responses"]["410"] = {"description": "Its results were purged (retention) or erased",
                                             "content": {"application/json": {"schema": ref[schemas.ErrorResponse]}}}
        if path.endswith("/health"):
            operation["responses"]["503"] = {"description": "Database unreachable", "content": {
                "application/json": {"schema": ref[schemas.Health]}}}
        if path.endswith("/ready"):
            operation["responses"]["503"] = {"description": "Not ready: the database or a production model", "content": {
                "application/json": {"schema": ref[schemas.Ready]}}}
        if request is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref[request]}}}
        if request is schemas.PredictRequest:
            operation["requestBody"]["content"]["multipart/form-data"] = FILES_FORM
            operation["summary"] += FILES_SUMMARY
        if secured:
            operation["security"] = [{"apiKey": []}]
        paths.setdefault(path, {})[method] = operation
    paths.update(sample_exports.openapi_paths(ref[schemas.ErrorResponse]))  # answer files, not API models
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cancer Alpha API", "version": version,
                 "description": "Cancer classifiers on genomic data. Research use only, not for diagnosis."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": definitions.get("$defs", {}),
                       "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                                      "description": "An API key from your Account page"}}},
    }


DOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cancer Alpha API</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css"></head><body><main class="container py-4">
<h1 class="h3">{{ doc.info.title }} {{ doc.info.version }}</h1><p>{{ doc.info.description }}</p>
<p>Send <code>Authorization: Bearer &lt;key&gt;</code> (create a key on your Account page). The machine-readable
document is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>. Errors share one shape:
<code>{"error": {"code", "message", "details": [{"sample", "feature", "problem"}]}}</code>.</p>
<p>A prediction names the samples' data-use basis (consent) in <code>data_use</code>: <code>{"basis", "reference"}</code>
(see <code>DataUse</code> below); without it the answer is 422, and the basis is kept in the audit trail.</p>
<pre class="bg-light p-2 small">curl -s -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
  -d '{"samples": [{"id": "s1", "features": {"FEATURE": 0, "...": 1}}],
       "data_use": {"basis": "deidentified-protocol", "reference": "IRB-2024-0153"}}' \\
  http://127.0.0.1:8050/api/v1/models/tissue-of-origin/predict</pre>
<p>Or send files (<code>multipart/form-data</code>): one wide file, or one file per feature block of the model,
joined on the sample id; the answer adds their validation report, per block.</p>
<pre class="bg-light p-2 small">curl -s -H "Authorization: Bearer $KEY" -F file=@mutation.csv -F file=@copy-number.csv \
  -F file=@microsatellite-instability.csv -F data_use.basis=public -F "data_use.reference=GDSC release 8.4" \
  http://127.0.0.1:8050/api/v1/models/tissue-of-origin/predict</pre>
{% for path, operations in doc.paths.items() %}{% for method, op in operations.items() %}
<section class="card mb-3"><div class="card-body"><h2 class="h5"><span class="badge bg-secondary">{{ method|upper }}</span>
<code>{{ path }}</code></h2><p>{{ op.summary }}</p>
{% if op.requestBody %}<p class="small mb-1">Body: {{ op.requestBody.content["application/json"].schema["$ref"].split("/")[-1] }}</p>{% endif %}
<p class="small mb-0">Answers: {% for code, r in op.responses.items() %}<code>{{ code }}</code> {{ r.description }}{% if not loop.last %}; {% endif %}{% endfor %}</p>
</div></section>{% endfor %}{% endfor %}
<h2 class="h4">Schemas</h2>{% for name, schema in doc.components.schemas.items() %}
<h3 class="h6"><code>{{ name }}</code></h3><ul class="small">{% for field, spec in (schema.properties or {}).items() %}
<li><code>{{ field }}</code>{% if field in (schema.required or []) %} (required){% endif %}{% if spec.description %}: {{ spec.description }}{% endif %}</li>{% endfor %}</ul>
{% endfor %}</main></body></html>"""


def docs_page(doc: dict) -> str:
    return flask.render_template_string(DOCS, doc=doc)
