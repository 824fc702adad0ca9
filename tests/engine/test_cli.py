"""`python -m engine` as an operator runs it: real subprocesses against a copy of the session registry."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def models(tmp_path, models_root):
    root = tmp_path / "models"
    shutil.copytree(models_root, root)
    return root


def run(models, *args):
    env = {**os.environ, "CANCER_ALPHA_MODELS_DIR": str(models)}
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".lock":
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def cohort(tmp_path, tcga, registry):
    """Five real held-out TCGA samples as an upload would carry them."""
    ids = registry.resolve("tcga-mirna-type").metadata["split"]["test_ids"][:5]
    frame = tcga.X.loc[ids].reset_index()
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    return path, ids


def test_models_lists_versions_with_held_out_metrics(models):
    out = run(models, "models")
    assert out.returncode == 0, out.stderr
    assert "tissue-of-origin:1" in out.stdout and "production" in out.stdout and "bal.acc" in out.stdout


def test_predict_writes_one_row_per_sample(models, cohort, tmp_path):
    path, ids = cohort
    output = tmp_path / "predictions.parquet"
    result = run(models, "predict", "tcga-mirna-type@production", str(path), "--output", str(output))
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(output)
    assert frame["sample_id"].tolist() == ids and set(frame["predicted_class"]) <= {"BRCA", "PRAD", "SKCM"}
    to_stdout = run(models, "predict", "tcga-mirna-type:1", str(path))
    assert to_stdout.stdout.splitlines()[0].startswith("sample_id,predicted_class,confidence")


def test_explain_prints_the_top_contributions(models, cohort):
    path, ids = cohort
    result = run(models, "explain", "tcga-mirna-type", str(path), "--sample", ids[0], "--top", "5")
    assert result.returncode == 0, result.stderr
    explanation = json.loads(result.stdout)
    assert explanation["sample"] == ids[0] and len(explanation["top"]) == 5 and explanation["sha256"]
    missing = run(models, "explain", "tcga-mirna-type", str(path), "--sample", "nobody")
    assert missing.returncode == 2 and "no sample with id 'nobody'" in missing.stderr


def test_bad_file_exits_2_naming_file_row_and_column_and_leaves_registry(models, cohort, tmp_path):
    path, ids = cohort
    frame = pd.read_csv(path, dtype=str)
    frame.loc[2, "hsa.let.7a.1"] = "lots"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    before = tree_digest(models)
    result = run(models, "predict", "tcga-mirna-type", str(bad))
    assert result.returncode == 2
    assert "bad.csv" in result.stderr and "row 3" in result.stderr and "hsa.let.7a.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_digest(models) == before


def test_predict_joins_one_file_per_block(models, gdsc, registry, tmp_path):
    """Real held-out GDSC lines as one file per block (mutation, copy number, MSI) predict as the wide file
    does; a block file that lacks a line exits 2 naming the line and its block."""
    from engine.blocks import block_slug, split_frame

    version = registry.resolve("tissue-of-origin")
    ids = version.test_ids[:6]
    wide = gdsc.X.loc[ids, version.schema.names].reset_index()
    wide_path = tmp_path / "wide.csv"
    wide.to_csv(wide_path, index=False)
    paths = []
    for group, frame in split_frame(wide, version.schema).items():
        paths.append(tmp_path / f"{block_slug(group)}.csv")
        frame.to_csv(paths[-1], index=False)
    joined = run(models, "predict", "tissue-of-origin", *map(str, paths))
    assert joined.returncode == 0, joined.stderr
    assert joined.stdout == run(models, "predict", "tissue-of-origin", str(wide_path)).stdout
    assert len(joined.stdout.splitlines()) == len(ids) + 1
    pd.read_csv(paths[1], dtype=str).iloc[1:].to_csv(paths[1], index=False)  # the first line left out of a block
    short = run(models, "predict", "tissue-of-origin", *map(str, paths))
    assert short.returncode == 2 and "Traceback" not in short.stderr
    second_block = list(split_frame(wide, version.schema))[1]
    assert f"1 sample lacks the {second_block} block" in short.stderr
    assert f"'{ids[0]}'" in short.stderr and f"not in {paths[1].name}" in short.stderr


def test_promote_moves_an_alias_and_bad_refs_exit_2(models):
    assert run(models, "promote", "tissue-of-origin", "1", "staging").returncode == 0
    assert "production,staging" in run(models, "models", "tissue-of-origin").stdout
    missing = run(models, "promote", "tissue-of-origin", "7", "production")
    assert missing.returncode == 2 and "no version 7" in missing.stderr
    assert run(models, "predict", "nope", "x.csv").returncode == 2
