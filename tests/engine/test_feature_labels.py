"""Readable feature labels for the real datasets' features, with the raw id always kept."""
from __future__ import annotations

import re

import pytest

from engine import feature_labels as fl
from engine.schema import FeatureSchema

DATASETS = ("gdsc-tissue", "tcga-mirna", "tcga-brca-pam50")


@pytest.fixture(params=DATASETS)
def dataset(request, gdsc, tcga, brca):
    return {"gdsc-tissue": gdsc, "tcga-mirna": tcga, "tcga-brca-pam50": brca}[request.param]


def test_every_feature_gets_a_readable_label_that_keeps_its_raw_id(dataset):
    labels = fl.labels_for(dataset.schema)
    assert list(labels) == dataset.schema.names
    for raw, label in labels.items():
        assert label.id == raw and label.label.strip() and label.description.strip()
        assert label.known, raw  # every real feature follows a documented convention
        assert label.display == f"{label.label} ({raw})" and label.hover == f"{label.label} · {raw}"
        assert fl.label_for(dataset.id, raw) == label  # by dataset id or by schema: the same label
    assert len({label.label for label in labels.values()}) == len(labels)  # no two features look alike


def test_known_gdsc_labels():
    examples = {
        "BRAF_mut": "BRAF mutation",
        "HLA-A_mut": "HLA-A mutation",
        "BCR-ABL_mut": "BCR-ABL fusion",
        "EWSR1-X_mut": "EWSR1 fusion (any partner)",
        "MSI_FACTOR": "microsatellite instability",
        "gain_cnaPANCAN301_(CDK12,ERBB2,MED24)": "copy-number gain of CDK12, ERBB2, MED24 (region 301)",
        "gain_cnaPANCAN411_(BLM,CRTC3,FANCI,IDH2,NR2F2,PCSK6)":
            "copy-number gain of BLM, CRTC3, FANCI and 3 more (region 411)",
        "loss_cnaPANCAN12": "copy-number loss, recurrent region 12",
        "loss_cnaPANCAN38, loss_cnaPANCAN39": "copy-number loss, recurrent regions 38 and 39",
    }
    for raw, expected in examples.items():
        assert fl.label_for("gdsc-tissue", raw).label == expected, raw
    braf = fl.label_for("gdsc-tissue", "BRAF_mut")
    assert braf.display == "BRAF mutation (BRAF_mut)" and braf.hover == "BRAF mutation · BRAF_mut"
    erbb2 = fl.label_for("gdsc-tissue", "gain_cnaPANCAN301_(CDK12,ERBB2,MED24)")
    assert "segment 301" in erbb2.description and "CDK12, ERBB2, MED24" in erbb2.description
    six = fl.label_for("gdsc-tissue", "gain_cnaPANCAN411_(BLM,CRTC3,FANCI,IDH2,NR2F2,PCSK6)")
    assert "BLM, CRTC3, FANCI, IDH2, NR2F2, PCSK6" in six.description  # all genes, in the description


def test_copy_number_genes_come_from_the_pinned_data_file_itself(gdsc):
    """The genes a label names are exactly those inside the real column id, nothing looked up."""
    for raw in gdsc.schema.names:
        if "cnaPANCAN" not in raw:
            continue
        named = re.findall(r"\(([^()]*)\)", raw)
        genes = [g for group in named for g in group.split(",")]
        label = fl.label_for("gdsc-tissue", raw)
        for gene in genes:
            assert gene in label.description, raw
        if not genes:
            assert "names no gene" in label.description and "recurrent region" in label.label
        regions = re.findall(r"cnaPANCAN(\d+)", raw)
        assert all(r in label.label for r in regions)


def test_known_mirna_labels():
    assert fl.label_for("tcga-mirna", "hsa.mir.21").label == "miR-21"
    assert fl.label_for("tcga-mirna", "hsa.mir.21").display == "miR-21 (hsa.mir.21)"
    assert "hsa-mir-21" in fl.label_for("tcga-mirna", "hsa.mir.21").description  # the miRBase name
    assert fl.label_for("tcga-mirna", "hsa.let.7a.1").label == "let-7a-1"
    assert fl.label_for("tcga-mirna", "hsa.mir.196a.2").label == "miR-196a-2"
    assert fl.feature_label("hsa-mir-155", "miRNA").label == "miR-155"  # the miRBase spelling too


def test_known_brca_labels():
    expression = fl.label_for("tcga-brca-pam50", "FOXA1_3169")
    assert expression.display == "FOXA1 expression (FOXA1_3169)" and "Entrez 3169" in expression.description
    assert fl.label_for("tcga-brca-pam50", "hsa_mir_18a").label == "miR-18a"
    assert "log2 RPKM" in fl.label_for("tcga-brca-pam50", "hsa_mir_18a").description
    assert fl.label_for("tcga-brca-pam50", "FOXA1").label == "FOXA1 methylation"
    assert fl.label_for("tcga-brca-pam50", "HLA_E").label == "HLA_E methylation"  # the id as it is, never guessed
    assert not fl.feature_label("hsa_mir.21", "miRNA").known  # mixed separators follow no convention


def test_by_group_and_unrecognised_ids(gdsc):
    # the group a schema gives a feature picks the rule, as a figure that only has the group does
    assert fl.feature_label("TP53_mut", "mutation").label == "TP53 mutation"
    assert fl.feature_label("gain_cnaPANCAN91_(MYC)", "copy number").label == "copy-number gain of MYC (region 91)"
    # an id that does not follow its group's convention, an unknown group or none: the raw id
    for raw, group in (("TP53", "mutation"), ("gain_MYC", "copy number"), ("hsa.mir.21", "mutation"),
                       ("age", "clinical"), ("BRAF_mut", None)):
        label = fl.feature_label(raw, group)
        assert label.label == raw and not label.known and label.display == raw == label.hover
    assert fl.label_for(gdsc.schema, "not-a-feature").label == "not-a-feature"
    with pytest.raises(ValueError, match="no feature labels"):
        fl.label_for("no-such-dataset", "BRAF_mut")
    with pytest.raises(ValueError):
        fl.labels_for("gdsc-tissue")  # a dataset id alone does not list the features


def test_a_label_given_by_the_caller_wins():
    given = {"BRAF_mut": "BRAF V600 mutation", "TP53_mut": fl.FeatureLabel("TP53_mut", "p53", "")}
    assert fl.resolve("BRAF_mut", "mutation", given).hover == "BRAF V600 mutation · BRAF_mut"
    assert fl.resolve("TP53_mut", "mutation", given).label == "p53"
    assert fl.resolve("KRAS_mut", "mutation", given).label == "KRAS mutation"
    schema = FeatureSchema.build(["KRAS_mut"], lambda _: "mutation", lambda _: "binary", id_column="id")
    assert fl.labels_for(schema)["KRAS_mut"].label == "KRAS mutation"
