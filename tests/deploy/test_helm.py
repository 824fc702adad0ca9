"""The Helm chart deploy/helm/cancer-alpha, checked offline with Helm's own Go library (helm-python-sdk):
rendered with the default, staging and production values, linted in strict mode, and every rendered object
validated against Kubernetes' schemas (kubernetes-validate, strict) for two Kubernetes versions. Then what the
chart promises: restrictive security contexts, probes, one secret key for every pod, only Secret references,
a migration hook, and a values schema that refuses a broken value."""
from __future__ import annotations

import re
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "cancer-alpha"
ENVIRONMENTS = {"default": None, "staging": "values-staging.yaml", "production": "values-production.yaml"}
KUBERNETES_VERSIONS = ("1.30.0", latest_version())  # the oldest we support and the newest the wheel ships
SECRET_SETTINGS = ("CANCER_ALPHA_SECRET_KEY", "CANCER_ALPHA_STORAGE_KEY", "CANCER_ALPHA_DATABASE_URL",
                   "CANCER_ALPHA_METRICS_TOKEN")


def values_of(environment: str) -> dict:
    name = ENVIRONMENTS[environment]
    return yaml.safe_load((CHART / name).read_text()) if name else {}


@pytest.fixture(scope="module")
def chart():
    return helm.Chart.load(str(CHART))


@pytest.fixture(scope="module", params=list(ENVIRONMENTS))
def rendered(request, chart) -> tuple[str, list[dict]]:
    """(environment, every object the chart renders with that environment's values)."""
    templates = chart.render(values_of(request.param), name="cancer-alpha", namespace="cancer-alpha")
    objects = [document for path, text in templates.items() if path.endswith((".yaml", ".yml")) and text.strip()
               for document in yaml.safe_load_all(text) if document]
    return request.param, objects


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def pod_specs(objects: list[dict]) -> list[tuple[str, dict]]:
    return [(o["metadata"]["name"], o["spec"]["template"]["spec"]) for o in objects if o["kind"] in ("Deployment", "Job")]


@pytest.mark.parametrize("environment", list(ENVIRONMENTS))
@pytest.mark.parametrize("kube_version", ["v1.30.0", "v" + latest_version()])
def test_helm_lint_strict_finds_no_error(environment, kube_version):
    result = helm.lint(str(CHART), values_of(environment), strict=True, kube_version=kube_version)
    assert result["errors"] == [], result
    # severity 1 is Helm's INFO (here only "icon is recommended"); warnings (2) and errors (3) fail
    assert all(message["severity"] < 2 for message in result["messages"]), result["messages"]


@pytest.mark.parametrize("kube_version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(rendered, kube_version):
    _, objects = rendered
    assert len(objects) >= 10
    for obj in objects:
        kubernetes_validate.validate(obj, kube_version, strict=True)  # raises on the first error


def test_the_validation_can_fail(rendered):
    _, objects = rendered
    deployment = of_kind(objects, "Deployment")[0]
    broken = {**deployment, "spec": {**deployment["spec"], "replicass": 2}}  # a misspelt field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_the_parts_of_a_deployment_are_there(rendered):
    environment, objects = rendered
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "Ingress", "PodDisruptionBudget", "ConfigMap", "NetworkPolicy", "Job",
            "PersistentVolumeClaim"} <= kinds or environment == "production"  # production may use existing claims
    names = {o["metadata"]["name"] for o in of_kind(objects, "Deployment")}
    assert {"portal", "worker", "beat"} <= {n.rsplit("-", 1)[-1] for n in names}
    ingress = of_kind(objects, "Ingress")[0]
    assert ingress["spec"]["tls"] and ingress["spec"]["tls"][0]["secretName"]
    if environment == "production":
        assert len(of_kind(objects, "HorizontalPodAutoscaler")) >= 1


def test_every_container_runs_locked_down(rendered):
    _, objects = rendered
    for name, spec in pod_specs(objects):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            assert not container["image"].endswith(":latest"), name
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"


def test_the_portal_is_probed_on_health_and_readiness(rendered):
    _, objects = rendered
    portal = next(o for o in of_kind(objects, "Deployment") if o["metadata"]["name"].endswith("portal"))
    container = portal["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/ready"
    assert container["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]


def test_every_pod_reads_the_same_secret_entries_and_no_secret_is_rendered(rendered):
    _, objects = rendered
    assert of_kind(objects, "Secret") == []
    references = []
    for name, spec in pod_specs(objects):
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        for setting in SECRET_SETTINGS:
            if setting in env:
                references.append((setting, env[setting]["valueFrom"]["secretKeyRef"]["name"],
                                   env[setting]["valueFrom"]["secretKeyRef"]["key"]))
        assert "CANCER_ALPHA_SECRET_KEY" in env or "migration" in name, name
    keys = {setting: {(s, k) for n, s, k in references if n == setting} for setting in SECRET_SETTINGS}
    assert all(len(found) == 1 for found in keys.values()), keys  # one Secret entry per setting, shared
    config = of_kind(objects, "ConfigMap")[0]["data"]
    assert not any(re.search(r"SECRET_KEY|STORAGE_KEY|PASSWORD|TOKEN", key) for key in config), config


def test_migrations_run_as_a_hook_before_a_version_serves(rendered):
    _, objects = rendered
    job = of_kind(objects, "Job")[0]
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert {"pre-install", "pre-upgrade"} <= set(hooks)
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[-4:] == ["-m", "portal", "db", "upgrade"]


def test_only_one_beat_ever_runs(rendered):
    _, objects = rendered
    beat = next(o for o in of_kind(objects, "Deployment") if o["metadata"]["name"].endswith("beat"))
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"]["type"] == "Recreate"


def secret_looking(tree, path=""):
    """(path, value) of every value under a key that names a password, secret, token or key."""
    for key, value in (tree or {}).items():
        where = f"{path}.{key}"
        if isinstance(value, dict):
            yield from secret_looking(value, where)
        elif re.search(r"password|secret|token|key", key, re.I):
            yield where, value


def test_no_values_file_holds_a_secret_value():
    for path in CHART.glob("values*.yaml"):
        found = list(secret_looking(yaml.safe_load(path.read_text())))
        assert found, path.name  # the walk sees the Secret's entry names
        for where, value in found:
            # an entry or Secret name (lower-case words), never a value: no long random strings, no URLs
            assert value in ("", None, []) or re.fullmatch(r"[a-z0-9][a-z0-9.-]{0,62}", str(value)), f"{path.name}{where}"


@pytest.mark.parametrize("broken, field", [
    ({"portal": {"replicaCount": "three"}}, "/portal/replicaCount"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"replicas": 3}, "additional properties 'replicas'"),
])
def test_the_values_schema_refuses_a_broken_value(chart, broken, field):
    with pytest.raises(helm.HelmValuesError) as refused:
        chart.render(broken, name="cancer-alpha", namespace="cancer-alpha")
    assert field in str(refused.value)
