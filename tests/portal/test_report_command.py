"""`python -m portal report`: one sample of a file of real held-out TCGA samples (the session's miRNA model),
its neighbours printed, its PDF and FHIR bundle written, with no server; bad input exits 2 as `predict` does."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from portal.cli import main

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tcga-mirna-type"


@pytest.fixture
def env(tmp_path, models_root):
    shutil.copytree(models_root, tmp_path / "models")
    return {**os.environ, "CANCER_ALPHA_MODELS_DIR": str(tmp_path / "models"), "CANCER_ALPHA_VAR_DIR": str(tmp_path / "var")}


@pytest.fixture
def cohort(tmp_path, tcga, registry):
    ids = registry.resolve(MODEL).test_ids[:3]
    path = tmp_path / "cohort.csv"
    tcga.X.loc[ids].reset_index().to_csv(path, index=False)
    return path, ids


def report(env, *args):
    return subprocess.run([sys.executable, "-m", "portal", "report", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_report_from_a_file_without_a_server(env, cohort, tmp_path, registry):
    path, ids = cohort
    pdf, bundle = tmp_path / "out.pdf", tmp_path / "out.json"
    done = report(env, MODEL, path, "--sample", ids[0], "--neighbours", "4", "--pdf", pdf, "--fhir", bundle)
    assert done.returncode == 0, done.stderr
    version = registry.resolve(MODEL)
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{ids[0]}: ") and version.sha256 in lines[0]
    assert lines[1].startswith("nearest 4 training samples") and len(lines) == 6
    held_out = set(version.test_ids)
    assert all(line.split()[0] not in held_out for line in lines[2:])  # neighbours are training samples
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"Sample {ids[0]}" in text and version.sha256[:16] in text.replace("\n", "")
    parsed = Bundle.model_validate_json(bundle.read_text())
    assert parsed.type == "collection" and "subject" not in json.loads(bundle.read_text())["entry"][0]["resource"]
    assert "Traceback" not in done.stderr


def test_an_unknown_sample_or_a_bad_file_exits_2(env, cohort, tmp_path, monkeypatch, capsys):
    """In this process (portal.cli.main), as the shell would call it."""
    for key in ("CANCER_ALPHA_MODELS_DIR", "CANCER_ALPHA_VAR_DIR"):
        monkeypatch.setenv(key, env[key])
    path, ids = cohort
    bad = tmp_path / "bad.csv"
    bad.write_text("sample_id,hsa.let.7a.1\nx,not-a-number\n")
    for args, words in (([MODEL, path, "--sample", "no-such-sample"], "no sample with id 'no-such-sample'"),
                        ([MODEL, bad, "--sample", "x"], "bad.csv"),
                        ([MODEL, path, "--sample", ids[0], "--neighbours", "0"], "from 1 to 100"),
                        (["no-such-model", path, "--sample", ids[0]], "no-such-model")):
        assert main(["report", *map(str, args)]) == 2, args
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err
