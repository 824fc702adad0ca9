"""Every kind of security-relevant action leaves exactly one audit entry (issue 12): who, when, action,
target, outcome, client address and request id; never a password, an API key or a genomic value.

Each action is done for real: sign-in and sign-out through the forms, page actions as the browser posts
them to Dash (background jobs included: started, polled and run by Dash's diskcache manager in a process
of their own), the API with real keys, commands through `python -m portal`'s main(). After each, exactly
one new entry must exist, with the action, outcome, actor, target, address and request id expected.
While the actions run, every statement the portal sends to the database is watched: none may change or
delete an audit entry, beyond the append's own write of the entry's hash.

Accounts, passwords, notes and run names are made up; the samples are real held-out TCGA samples."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import event, select

from components.links import explain_href
from portal.accounts import audit_chain
from portal.accounts.users import find_user
from portal.cli import main
from portal.core.models import AuditEvent
from portal.core.states import RunStatus
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, PASSWORD, auth, cohort_csv, email_of, finished_run, user_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # jobs fork this process
LOCAL = "127.0.0.1"  # the test client's address
ANY = object()
NEW_PASSWORD = "a made-up new password for the audit test"
HASH_WRITE = re.compile(r"UPDATE audit_events SET prev_hash=\S+, hash=\S+ WHERE audit_events\.id = \S+")


class Audited:
    """Does actions as the browser, the API or a command does them, and checks the entries each leaves."""

    def __init__(self, app):
        self.app, self.portal = app, app.server.extensions["cancer_alpha"]
        self.db, self.kinds, self.secrets, self.writes = self.portal.db, [], {PASSWORD, NEW_PASSWORD}, []
        self._n, self.seen = 0, 0
        event.listen(self.db.engine, "before_cursor_execute", self._watch)
        self.skip()

    def _watch(self, _connection, _cursor, statement, *_):
        if re.match(r"\s*(UPDATE|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)\s+\"?audit_events", statement, re.I):
            self.writes.append(" ".join(statement.split()))

    def request_id(self) -> str:
        self._n += 1
        return f"audit-kind-{self._n}"

    def _new(self) -> list:
        with self.db.engine.connect() as connection:
            entries = connection.execute(select(AuditEvent).where(AuditEvent.id > self.seen)
                                         .order_by(AuditEvent.id)).all()
        self.seen = entries[-1].id if entries else self.seen
        return entries

    def skip(self) -> None:
        """Set-up done outside the actions counted (signing the test clients in, say)."""
        self._new()

    def one(self, kind: str, action: str, request_id: str | None, *, actor: str, outcome: str = "ok", target=ANY,
            ip: str | None = LOCAL, **details):
        """Exactly one new entry since the last look, and it is what `kind` should leave."""
        entries = self._new()
        assert [(e.action, e.outcome) for e in entries] == [(action, outcome)], kind
        (entry,) = entries
        assert (entry.actor, entry.request_id, entry.ip) == (actor, request_id, ip), kind
        assert target is ANY or entry.target == target, (kind, entry.target)
        assert {name: entry.details.get(name) for name in details} == details, (kind, entry.details)
        assert entry.at is not None and entry.hash
        self.kinds.append(kind)
        return entry

    # -- as the browser does ---------------------------------------------------------------------------

    def _key(self, output: str, trigger: str) -> str:
        for key, spec in self.app.callback_map.items():
            first = key.strip(".").split("...")[0].split("@")[0]
            if first == output and any(f"{i['id']}.{i['property']}" == trigger for i in spec["inputs"]):
                return key
        raise AssertionError(f"no callback of {output} on {trigger}")

    def _body(self, output: str, trigger: str, values: dict) -> dict:
        key = self._key(output, trigger)
        spec = self.app.callback_map[key]

        def item(i):
            name = f"{i['id']}.{i['property']}"
            given = values.get(name)
            return given if isinstance(given, list) and i["id"].startswith("{") else \
                {"id": i["id"], "property": i["property"], "value": given}

        outputs = [dict(zip(("id", "property"), part.split("@")[0].rsplit(".", 1))) for part in
                   key.strip(".").split("...")]
        return {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": [item(i) for i in spec["inputs"]], "state": [item(s) for s in spec["state"]],
                "changedPropIds": [trigger]}

    def callback(self, client, output: str, trigger: str, request_id: str, **values):
        """A callback as the browser posts it (`values` by "id.property"; the trigger's value is 1 unless given)."""
        values = {trigger: 1} | {_prop_id(name): v for name, v in values.items()}
        return client.post("/_dash-update-component", json=self._body(output, trigger, values),
                           headers={"X-Request-Id": request_id})

    def job(self, client, output: str, trigger: str, request_id: str, value) -> dict:
        """A background callback: started by one request, then polled (as the renderer does) until it ends."""
        body = self._body(output, trigger, {trigger: value})
        started = client.post("/_dash-update-component", json=body, headers={"X-Request-Id": request_id})
        assert started.status_code == 200, started.get_data(as_text=True)
        handles = started.get_json()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            polled = client.post("/_dash-update-component?" + urlencode({"cacheKey": handles["cacheKey"],
                                                                          "job": handles["job"]}), json=body)
            if "response" in (polled.get_json() or {}):
                return polled.get_json()["response"]
            time.sleep(0.5)
        raise AssertionError(f"the background job of {output} did not end")

    def page(self, client, path: str, request_id: str, search: str = "") -> str:
        """Dash's page routing for `path`: the layout it answers, as text."""
        values = {"_pages_location.pathname": path, "_pages_location.search": search}
        answer = client.post("/_dash-update-component", headers={"X-Request-Id": request_id},
                             json=self._body("_pages_content.children", "_pages_location.pathname", values))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return json.dumps(answer.get_json())

    # -- the end ---------------------------------------------------------------------------------------

    def check_the_trail(self, feature_names: list[str] = ()) -> None:
        """No entry holds a password, a key or genomic values; no statement changed or deleted one; the
        chain holds."""
        with self.db.engine.connect() as connection:
            entries = connection.execute(select(AuditEvent)).all()
        for entry in entries:
            text = json.dumps([entry.actor, entry.target, entry.details], ensure_ascii=False)
            assert not [s for s in self.secrets if s in text], (entry.action, "holds a password or a key")
            assert not [f for f in feature_names if f in text], (entry.action, "names a feature: a genomic value?")
            assert not [v for v in _values(entry.details) if isinstance(v, list) and len(v) >= 5 and all(
                isinstance(x, (int, float)) for x in v)], (entry.action, "holds a vector of values")
        assert all(HASH_WRITE.fullmatch(write) for write in self.writes), self.writes
        assert audit_chain.verify(self.db.engine).ok
        event.remove(self.db.engine, "before_cursor_execute", self._watch)


def _prop_id(name: str) -> str:
    """A keyword's callback argument: run_id__data is run-id.data (a pattern id's name is given as it is)."""
    if "__" not in name:
        return name
    id_, prop = name.split("__")
    return f"{id_.replace('_', '-')}.{prop}"


def _values(details) -> list:
    if isinstance(details, dict):
        return [v for value in details.values() for v in [value, *_values(value)]]
    return []


def _csrf(client, path: str = "/login") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def _signed_in(app, role: str):
    client = app.server.test_client()
    assert client.post("/login", data={"email": email_of(role), "password": PASSWORD,
                                       "csrf": _csrf(client)}).status_code == 302
    return client


def _upload_contents(data: bytes) -> str:
    return "data:text/csv;base64," + base64.b64encode(data).decode()


@pytest.fixture
def audited(make_portal, database_url, models_root, tmp_path, monkeypatch):
    """A portal over a copy of the session's models (a promotion here changes nobody else's aliases)."""
    for name in ("CANCER_ALPHA_MODELS_DIR", "CANCER_ALPHA_DATA_DIR", "PYTHONPATH"):  # a notebook run sets them
        monkeypatch.setenv(name, os.environ.get(name, ""))
    models = shutil.copytree(models_root, tmp_path / "models")
    return Audited(make_portal(database_url, models_dir=models))


@SQLITE_ONLY
def test_sign_in_sign_out_and_lock_out(audited):
    a, client = audited, audited.app.server.test_client()
    csrf = _csrf(client)

    def attempt(email: str, password: str, request_id: str):
        return client.post("/login", data={"email": email, "password": password, "csrf": csrf},
                           headers={"X-Request-Id": request_id})

    researcher = email_of("researcher")
    assert attempt(researcher, "a wrong made-up password", rid := a.request_id()).status_code == 401
    a.one("sign-in failure: wrong password", "sign-in", rid, actor=researcher, outcome="failed", target=researcher,
          reason="wrong-password")
    assert attempt("nobody@example.org", "whatever it is", rid := a.request_id()).status_code == 401
    a.one("sign-in failure: unknown e-mail", "sign-in", rid, actor="nobody@example.org", outcome="failed",
          reason="unknown")
    clinician, limit = email_of("clinician"), a.portal.settings.lockout_failures
    for n in range(1, limit + 1):  # each failure is one entry; the last one locks this address out
        assert attempt(clinician, f"wrong guess {n}", rid := a.request_id()).status_code == 401
        entry = a.one("sign-in failure: wrong password" if n < limit else "lock-out", "sign-in", rid,
                      actor=clinician, outcome="failed")
        assert entry.details["reason"] == ("wrong-password" if n < limit else "locked")
    assert attempt(clinician, PASSWORD, rid := a.request_id()).status_code == 401  # right, but locked out
    a.one("sign-in refused while locked out", "sign-in", rid, actor=clinician, outcome="failed", reason="locked")

    analyst = email_of("analyst")
    forged = client.post("/login", data={"email": analyst, "password": PASSWORD, "csrf": "forged"},
                         headers={"X-Request-Id": (rid := a.request_id())})
    assert forged.status_code == 400
    a.one("sign-in refused: no valid form token", "sign-in", rid, actor=analyst, outcome="failed", target=analyst,
          reason="form-expired")
    assert attempt(analyst, PASSWORD, rid := a.request_id()).status_code == 302
    a.one("sign-in", "sign-in", rid, actor=analyst, target=None)
    forged = client.post("/logout", data={"csrf": "forged"}, headers={"X-Request-Id": (rid := a.request_id())})
    assert forged.status_code == 400
    a.one("sign-out refused: no valid form token", "sign-out", rid, actor=analyst, outcome="failed",
          reason="form-expired")
    answer = client.post("/logout", data={"csrf": _csrf(client, "/logout")},
                         headers={"X-Request-Id": (rid := a.request_id())})
    assert answer.status_code == 302
    a.one("sign-out", "sign-out", rid, actor=analyst, reason="user")
    a.check_the_trail()
    assert len(a.kinds) == 7 + limit and len(set(a.kinds)) == 8


@SQLITE_ONLY
def test_uploads_predictions_downloads_and_explanations(audited, tcga, registry):
    a = audited
    researcher, clinician = _signed_in(a.app, "researcher"), _signed_in(a.app, "clinician")
    me, other = email_of("researcher"), email_of("clinician")
    a.skip()
    chosen = {"predict-model__value": MODEL, "predict-version__value": 1,
              "predict-data-use__value": DATA_USE["basis"], "predict-data-use-reference__value": DATA_USE["reference"]}
    cohort = cohort_csv(tcga, registry, n=5)

    def upload(data: bytes, request_id: str, **more):
        return a.callback(researcher, "predict-report.children", "predict-upload.contents", request_id,
                          predict_upload__contents=_upload_contents(data), predict_upload__filename="cohort.csv",
                          **(chosen | more))

    answer = upload(cohort, rid := a.request_id())
    upload_id = answer.json["response"]["predict-upload-id"]["data"]
    a.one("upload", "upload", rid, actor=me, target=upload_id, samples=5)
    broken = cohort.decode().replace("hsa.let.7a.1,", "not.a.feature,", 1).encode()
    upload(broken, rid := a.request_id())
    a.one("validation failure", "upload.invalid", rid, actor=me, outcome="failed")
    upload(cohort, rid := a.request_id(), **{"predict-data-use__value": None})
    a.one("upload refused without a data-use basis", "upload.refused", rid, actor=me, outcome="failed")

    answer = a.callback(researcher, "predict-queued.data", "predict-run.n_clicks", rid := a.request_id(),
                        predict_upload_id__data=upload_id)
    run_id = answer.json["response"]["predict-queued"]["data"]
    a.one("prediction queued (web)", "prediction.queue", rid, actor=me, target=run_id)
    finished = a.job(researcher, "predict-finished.data", "predict-queued.data", rid := a.request_id(), run_id)
    assert finished["predict-finished"]["data"] == {"run": run_id, "status": RunStatus.DONE}
    a.one("prediction run (web, its background job)", "prediction.run", rid, actor=me, target=run_id, samples=5)

    answer = a.callback(researcher, "predict-queued.data", "predict-run.n_clicks", rid := a.request_id(),
                        predict_upload_id__data=upload_id)
    cancelled = answer.json["response"]["predict-queued"]["data"]
    a.skip()  # its queue entry: the kind is counted above
    a.callback(researcher, "predict-message.children", "predict-cancel.n_clicks", rid := a.request_id(),
               predict_queued__data=cancelled)
    a.one("prediction cancelled", "prediction.cancel", rid, actor=me, target=cancelled)

    for output, trigger, action in (("predict-template-download.data", "predict-template-button.n_clicks",
                                     "download.template"),
                                    ("predict-example-download.data", "predict-example-button.n_clicks",
                                     "download.example")):
        assert a.callback(researcher, output, trigger, rid := a.request_id(), **chosen).status_code == 200
        a.one(f"download of the {action.split('.')[1]}", action, rid, actor=me, target=f"{MODEL}:1")

    answer = a.callback(researcher, "run-download.data", "run-download-csv.n_clicks", rid := a.request_id(),
                        run_id__data=run_id)
    assert answer.json["response"]["run-download"]["data"]["filename"].endswith(".csv")
    a.one("download of results", "download", rid, actor=me, target=run_id, format="csv", samples=5)
    refused = a.callback(clinician, "run-download.data", "run-download-csv.n_clicks", rid := a.request_id(),
                         run_id__data=run_id)
    assert refused.status_code == 403
    a.one("refusal: another user's run", "run.denied", rid, actor=other, outcome="denied", target=run_id)

    sample = str(runs.results(a.portal, runs.get_run(a.portal, run_id, user_of(a.portal, "researcher").id,
                                                     "researcher"))["sample_id"].iloc[0])
    assert f"Sample {sample}" in a.page(researcher, explain_href(run_id, sample), rid := a.request_id())
    a.one("explanation view (web)", "explanation.view", rid, actor=me, target=f"{run_id}/{sample}")
    answer = a.callback(researcher, "explain-fhir-download.data", "explain-fhir.n_clicks", rid := a.request_id(),
                        explain_ids__data={"run": run_id, "sample": sample})
    served = answer.json["response"]["explain-fhir-download"]["data"]["content"].encode()
    a.one("FHIR export (web)", "report.fhir", rid, actor=me, target=f"{run_id}/{sample}",
          sha256=hashlib.sha256(served).hexdigest(), model=f"{MODEL}:1")
    answer = a.callback(researcher, "explain-pdf-download.data", "explain-pdf.n_clicks", rid := a.request_id(),
                        explain_ids__data={"run": run_id, "sample": sample})
    served = base64.b64decode(answer.json["response"]["explain-pdf-download"]["data"]["content"])
    a.one("PDF report (web)", "report.pdf", rid, actor=me, target=f"{run_id}/{sample}",
          sha256=hashlib.sha256(served).hexdigest(), model=f"{MODEL}:1")

    answer = a.callback(researcher, "run-share-message.children", "run-share-submit.n_clicks", rid := a.request_id(),
                        run_share_emails__value=other, run_id__data=run_id)
    share_id = answer.json["response"]["run-share-revoke-choice"]["options"][0]["value"]
    a.one("run shared", "run.share", rid, actor=me, target=run_id)
    reviewed = a.callback(clinician, "explain-review-message.children", "explain-review-submit.n_clicks",
                          rid := a.request_id(), explain_review_verdict__value="agree",
                          explain_review_note__value="made-up note",
                          explain_ids__data={"run": run_id, "sample": sample})
    assert reviewed.status_code == 200, reviewed.get_data(as_text=True)
    a.one("sample reviewed", "sample.review", rid, actor=other, target=f"{run_id}/{sample}")
    a.callback(researcher, "run-share-message.children", "run-share-revoke.n_clicks", rid := a.request_id(),
               run_share_revoke_choice__value=share_id, run_id__data=run_id)
    a.one("share revoked", "run.unshare", rid, actor=me, target=run_id)

    selected = {"runs-grid__selectedRows": [{"run": cancelled}]}
    a.callback(researcher, "runs-grid.rowData", "runs-rename.n_clicks", rid := a.request_id(),
               runs_rename_name__value="made-up run name", **selected)
    a.one("run renamed", "prediction.rename", rid, actor=me, target=cancelled)
    with a.app.server.test_request_context():
        second = finished_run(a.portal, tcga, registry, n=5)
    a.skip()
    shown = a.page(researcher, "/runs/compare", rid := a.request_id(), search=f"?a={run_id}&b={second.id}")
    assert "Not allowed" not in shown
    a.one("runs compared", "prediction.compare", rid, actor=me, target=f"{run_id}/{second.id}")
    a.callback(researcher, "runs-grid.rowData", "runs-delete.submit_n_clicks", rid := a.request_id(), **selected)
    a.one("run deleted", "prediction.delete", rid, actor=me, target=cancelled)
    a.check_the_trail(tcga.schema.names)
    assert len(set(a.kinds)) == len(a.kinds) == 19


@SQLITE_ONLY
def test_the_api(audited, tcga, registry):
    from portal.accounts import api_keys

    a, client = audited, audited.app.server.test_client()
    keys = {role: api_keys.create_key(a.db, user_of(a.portal, role).id, "audit test")[1]
            for role in ("clinician", "analyst")}
    a.secrets |= set(keys.values()) | {key.split("_", 2)[2] for key in keys.values()}
    a.skip()
    ids = registry.resolve(MODEL).test_ids[:3]
    samples = [{"id": i, "features": {k: float(v) for k, v in tcga.X.loc[i].items()}} for i in ids]
    headers = auth(keys["clinician"]) | {"X-Request-Id": (rid := a.request_id())}
    answer = client.post(f"/api/v1/models/{MODEL}/predict", json={"samples": samples, "data_use": DATA_USE},
                         headers=headers)
    assert answer.status_code == 200 and answer.json["request_id"] == rid
    a.one("prediction (API)", "api.predict", rid, actor=email_of("clinician"), target=f"{MODEL}:1", samples=3)
    headers = auth(keys["clinician"]) | {"X-Request-Id": (rid := a.request_id())}
    answer = client.post(f"/api/v1/models/{MODEL}/explain", json={"sample": samples[0]}, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    a.one("explanation (API)", "api.explain", rid, actor=email_of("clinician"), target=f"{MODEL}:1")
    with a.app.server.test_request_context():
        run = finished_run(a.portal, tcga, registry, n=2, role="clinician")
        sample = str(runs.results(a.portal, run)["sample_id"].iloc[0])
    a.skip()
    headers = auth(keys["clinician"]) | {"X-Request-Id": (rid := a.request_id())}
    answer = client.get(f"/api/v1/runs/{run.id}/samples/{sample}/fhir", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    a.one("FHIR export (API)", "report.fhir", rid, actor=email_of("clinician"), target=f"{run.id}/{sample}",
          sha256=hashlib.sha256(answer.data).hexdigest(), key=api_keys.key_prefix(keys["clinician"]))
    headers = auth(keys["clinician"]) | {"X-Request-Id": (rid := a.request_id())}
    answer = client.get(f"/api/v1/runs/{run.id}/samples/{sample}/report.pdf", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    a.one("PDF report (API)", "report.pdf", rid, actor=email_of("clinician"), target=f"{run.id}/{sample}",
          sha256=hashlib.sha256(answer.data).hexdigest(), key=api_keys.key_prefix(keys["clinician"]))
    a.portal.figure_exporter.close()  # its browser, started by the report
    headers = auth(keys["analyst"]) | {"X-Request-Id": (rid := a.request_id())}
    answer = client.post(f"/api/v1/models/{MODEL}/predict", json={"samples": samples, "data_use": DATA_USE},
                         headers=headers)
    assert answer.status_code == 403
    a.one("refusal: a role without the permission (API)", "api.denied", rid, actor=email_of("analyst"),
          outcome="denied", target="predict")
    revoked = keys["analyst"]
    api_keys.revoke_key(a.db, revoked)
    a.skip()
    for presented, prefix in ((revoked, revoked.split("_")[1]), ("not-a-key", None)):
        headers = auth(presented) | {"X-Request-Id": (rid := a.request_id())}
        assert client.get("/api/v1/models", headers=headers).status_code == 401
        a.one(f"API sign-in failure ({'a revoked key' if prefix else 'no key at all'})", "api.sign-in", rid,
              actor="system", outcome="failed", target=prefix, reason="invalid key")
    a.check_the_trail(tcga.schema.names)
    assert len(set(a.kinds)) == len(a.kinds) == 7


def _notebook_fields(**values) -> list[dict]:
    return [{"id": {"type": "nb-param", "name": name, "role": role}, "property": "value", "value": value}
            for name, (role, value) in values.items()]


@SQLITE_ONLY
def test_notebook_runs(audited):
    a = audited
    analyst, me = _signed_in(a.app, "analyst"), email_of("analyst")
    a.skip()
    fields = _notebook_fields(model=("model", MODEL), version=("version", "production"), seed=("plain", -1))
    answer = a.callback(analyst, "notebooks-queued.data", "notebooks-run.n_clicks", rid := a.request_id(),
                        notebooks_choice__value="model_evaluation",
                        **{'{"name":["ALL"],"role":["ALL"],"type":"nb-param"}.value': fields})
    run_id = answer.json["response"]["notebooks-queued"]["data"]
    a.one("notebook run queued", "notebook.queue", rid, actor=me, target=run_id)
    finished = a.job(analyst, "notebooks-finished.data", "notebooks-queued.data", rid := a.request_id(), run_id)
    assert finished["notebooks-finished"]["data"] == {"run": run_id, "status": RunStatus.DONE}
    a.one("notebook run (its background job)", "notebook.run", rid, actor=me, target=run_id)
    download = analyst.get(f"/notebook-runs/{run_id}/download/ipynb", headers={"X-Request-Id": (rid := a.request_id())})
    assert download.status_code == 200
    a.one("notebook download", "notebook.download", rid, actor=me, target=run_id, file="ipynb")
    a.check_the_trail()
    assert len(set(a.kinds)) == len(a.kinds) == 3


@SQLITE_ONLY
def test_administration_accounts_keys_models_and_refusals(audited):
    a = audited
    admin, researcher = _signed_in(a.app, "admin"), _signed_in(a.app, "researcher")
    boss, me = email_of("admin"), email_of("researcher")
    a.skip()
    new = {"admin-new-email__value": "made-up.user@example.org", "admin-new-name__value": "Made Up",
           "admin-new-role__value": "analyst", "admin-new-password__value": NEW_PASSWORD}
    a.callback(admin, "admin-users-message.children", "admin-create.n_clicks", rid := a.request_id(), **new)
    a.one("user created", "user.create", rid, actor=boss, target="made-up.user@example.org", role="analyst")
    a.callback(admin, "admin-users-message.children", "admin-create.n_clicks", rid := a.request_id(),
               **(new | {"admin-new-email__value": "another@example.org", "admin-new-password__value": "short"}))
    a.one("user not created (a weak password)", "user.create", rid, actor=boss, outcome="failed",
          target="another@example.org")
    made = find_user(a.db, "made-up.user@example.org").id
    for trigger, action, extra in (("admin-set-role.n_clicks", "user.role", {"admin-role__value": "clinician"}),
                                   ("admin-deactivate-confirm.submit_n_clicks", "user.deactivate", {}),
                                   ("admin-reactivate.n_clicks", "user.reactivate", {})):
        a.callback(admin, "admin-users-message.children", trigger, rid := a.request_id(), admin_user__value=made,
                   **extra)
        a.one(f"user changed: {action}", action, rid, actor=boss, target="made-up.user@example.org")
    a.callback(admin, "admin-users-message.children", "admin-set-role.n_clicks", rid := a.request_id(),
               admin_user__value=made, admin_role__value="emperor")
    a.one("role not changed (no such role)", "user.role", rid, actor=boss, outcome="failed", target=f"user {made}")

    answer = a.callback(admin, "models-alias-message.children", "models-alias-confirm.submit_n_clicks",
                        rid := a.request_id(), models_name__value=MODEL, models_alias_version__value=1,
                        models_alias_name__value="staging")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    a.one("model promotion", "model.alias", rid, actor=boss, target=f"{MODEL}@staging", to=1)
    assert admin.get("/admin/audit.csv?action=user.create", headers={"X-Request-Id": (rid := a.request_id())}
                     ).status_code == 200
    a.one("audit export (web)", "audit-export", rid, actor=boss, target="csv", entries=2, via="admin page")

    refused = a.callback(researcher, "admin-users-message.children", "admin-create.n_clicks", rid := a.request_id(),
                         **new)
    assert refused.status_code == 403
    a.one("refusal: a callback the role may not use", "permission.denied", rid, actor=me, outcome="denied",
          target="manage_users")
    assert "may not" in a.page(researcher, "/admin", rid := a.request_id())
    a.one("refusal: a page the role may not open", "page.denied", rid, actor=me, outcome="denied",
          target="manage_users")
    assert researcher.get("/admin/audit.csv", headers={"X-Request-Id": (rid := a.request_id())}).status_code == 403
    a.one("refusal: the audit export", "permission.denied", rid, actor=me, outcome="denied", target="view_audit")

    a.callback(researcher, "account-message.children", "account-change.n_clicks", rid := a.request_id(),
               account_current__value="not my password", account_new__value=NEW_PASSWORD,
               account_repeat__value=NEW_PASSWORD)
    a.one("password not changed (wrong current password)", "password.change", rid, actor=me, outcome="failed")
    a.callback(researcher, "account-message.children", "account-change.n_clicks", rid := a.request_id(),
               account_current__value=PASSWORD, account_new__value=NEW_PASSWORD, account_repeat__value="different")
    a.one("password not changed (the two differ)", "password.change", rid, actor=me, outcome="failed")
    a.callback(researcher, "account-message.children", "account-change.n_clicks", rid := a.request_id(),
               account_current__value=PASSWORD, account_new__value=NEW_PASSWORD, account_repeat__value=NEW_PASSWORD)
    a.one("password changed", "password.change", rid, actor=me)
    answer = a.callback(researcher, "account-keys-message.children", "account-create-key.n_clicks",
                        rid := a.request_id(), account_key_name__value="made-up key")
    key = re.search(r"ca_[0-9a-f]{8}_[A-Za-z0-9_-]+", answer.get_data(as_text=True)).group(0)
    a.secrets |= {key, key.split("_", 2)[2]}
    prefix = key.split("_")[1]
    a.one("API key created", "api-key.create", rid, actor=me, target=prefix, name="made-up key")
    key_id = answer.json["response"]["account-revoke-key"]["options"][0]["value"]
    a.callback(researcher, "account-keys-message.children", "account-revoke-confirm.submit_n_clicks",
               rid := a.request_id(), account_revoke_key__value=key_id)
    a.one("API key revoked", "api-key.revoke", rid, actor=me, target=prefix)
    a.check_the_trail()
    assert len(set(a.kinds)) == len(a.kinds) == 16


@SQLITE_ONLY
def test_commands(audited, monkeypatch, tmp_path, capsys):
    a = audited
    settings = a.portal.settings
    for name, value in (("DATABASE_URL", settings.database_url), ("VAR_DIR", str(settings.var_dir)),
                        ("MODELS_DIR", str(settings.models_dir)), ("SECRET_KEY", settings.secret_key)):
        monkeypatch.setenv(f"CANCER_ALPHA_{name}", value)

    def command(*argv: str, status: int = 0) -> str:
        assert main(list(argv)) == status, capsys.readouterr()
        return capsys.readouterr().out

    command("users", "create", "--email", "cli.user@example.org", "--name", "Cli User", "--role", "researcher",
            "--password", NEW_PASSWORD)
    a.one("user created (command)", "user.create", None, actor="system", ip=None, target="cli.user@example.org",
          via="command line")
    command("users", "create", "--email", "cli.user@example.org", "--name", "Again", "--role", "researcher",
            "--password", NEW_PASSWORD, status=2)
    a.one("user not created (command: the e-mail is taken)", "user.create", None, actor="system", ip=None,
          outcome="failed", target="cli.user@example.org")
    command("users", "set-role", "cli.user@example.org", "clinician")
    a.one("role changed (command)", "user.role", None, actor="system", ip=None, target="cli.user@example.org",
          role="clinician")
    command("users", "deactivate", "cli.user@example.org")
    a.one("user deactivated (command)", "user.deactivate", None, actor="system", ip=None,
          target="cli.user@example.org", active=False)
    printed = command("keys", "create", "--user", email_of("analyst"), "--name", "made-up cli key")
    key = re.search(r"ca_[0-9a-f]{8}_\S+", printed).group(0)
    a.secrets |= {key, key.split("_", 2)[2]}
    a.one("API key created (command)", "api-key.create", None, actor="system", ip=None, target=key.split("_")[1],
          owner=email_of("analyst"))
    command("keys", "revoke", key)  # the whole key typed: the entry holds its prefix only
    a.one("API key revoked (command)", "api-key.revoke", None, actor="system", ip=None, target=key.split("_")[1])
    command("audit", "export", "--action", "user.create", "-o", str(tmp_path / "trail.csv"))
    a.one("audit export (command)", "audit-export", None, actor="system", ip=None, target="csv", entries=2,
          via="command line")
    a.check_the_trail()
    assert len(set(a.kinds)) == len(a.kinds) == 7


@SQLITE_ONLY
def test_erasure_and_purge(audited, monkeypatch, capsys, tcga, registry):
    """`python -m portal erase --sample ID` and `purge`: one entry per stored record each one changes."""
    a = audited
    settings = a.portal.settings
    for name, value in (("DATABASE_URL", settings.database_url), ("VAR_DIR", str(settings.var_dir)),
                        ("MODELS_DIR", str(settings.models_dir)), ("SECRET_KEY", settings.secret_key)):
        monkeypatch.setenv(f"CANCER_ALPHA_{name}", value)
    with a.app.server.test_request_context():
        run = finished_run(a.portal, tcga, registry, n=5)
    sample = str(runs.results(a.portal, run)["sample_id"].iloc[0])
    a.skip()

    def entries_of(action: str) -> dict:
        entries = a._new()
        assert {e.action for e in entries} == {action}
        assert all((e.actor, e.request_id, e.ip) == ("system", None, None) for e in entries)
        a.kinds.append(action)
        return {e.target: e for e in entries}

    assert main(["erase", "--sample", sample]) == 0, capsys.readouterr()
    erased = entries_of("erasure")
    assert set(erased) == {run.upload_id, run.id}  # one entry for each record the sample was removed from
    assert all(e.details["rows"] == 1 and sample not in json.dumps(e.details) for e in erased.values())
    assert main(["purge", "--days", "0"]) == 0, capsys.readouterr()
    purged = entries_of("purge")
    assert set(purged) == {run.upload_id, run.id}  # one entry for each record purged
    a.check_the_trail(tcga.schema.names)
    assert a.kinds == ["erasure", "purge"]


@SQLITE_ONLY
def test_what_if(audited, tcga, registry):
    """A what-if on the explain page: one entry naming the features changed, never their values."""
    a = audited
    researcher = _signed_in(a.app, "researcher")
    with a.app.server.test_request_context():
        run = finished_run(a.portal, tcga, registry, n=3)
    sample = str(runs.results(a.portal, run)["sample_id"].iloc[0])
    a.skip()
    feature = a.portal.registry.load(MODEL).schema.features[0]
    control = {"type": "explain-whatif-value", "feature": feature.name}
    pattern = '{"feature":["ALL"],"type":"explain-whatif-value"}'
    answer = a.callback(researcher, "explain-whatif-result.children", "explain-whatif-apply.n_clicks",
                        rid := a.request_id(), explain_class__value="BRCA",
                        explain_ids__data={"run": run.id, "sample": sample},
                        **{f"{pattern}.value": [{"id": control, "property": "value", "value": feature.maximum}],
                           f"{pattern}.id": [{"id": control, "property": "id", "value": control}]})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    entry = a.one("what-if", "explanation.whatif", rid, actor=email_of("researcher"), target=f"{run.id}/{sample}",
                  features=[feature.name], changes=1)
    assert f"{feature.maximum:g}" not in json.dumps(entry.details)
    a.check_the_trail()  # the entry names a feature (what changed), so no feature names are looked for here
    assert a.kinds == ["what-if"]
