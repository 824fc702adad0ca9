"""engine.blocks: an upload in one file per feature block, joined on the sample id. The blocks are real
held-out GDSC cell lines of the session's tissue-of-origin model (blocks: mutation, copy number,
microsatellite instability), split by engine.blocks.split_frame; each error case edits those files."""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine import blocks
from engine.validation import validate

MODEL = "tissue-of-origin"
LABEL = "true_label"
N = 40


@pytest.fixture(scope="module")
def model(registry):
    return registry.load(MODEL)


@pytest.fixture(scope="module")
def wide(gdsc, model):
    ids = model.version.test_ids[:N]
    frame = gdsc.X.loc[ids, model.schema.names].reset_index()
    frame.insert(1, LABEL, gdsc.y.loc[ids].to_numpy())
    return frame


@pytest.fixture(scope="module")
def parts(wide, model):
    return blocks.split_frame(wide, model.schema, LABEL)


def files(parts: dict[str, pd.DataFrame], **replaced) -> list[tuple[str, bytes]]:
    """One CSV a block (named after it), with some blocks' tables replaced (None leaves a block out)."""
    chosen = {**parts, **{k.replace("_", " "): v for k, v in replaced.items()}}
    return [(f"{blocks.block_slug(g)}.csv", frame.to_csv(index=False).encode())
            for g, frame in chosen.items() if frame is not None]


def check(model, given, **options):
    return blocks.validate_files(given, model.schema, label_column=LABEL, model=MODEL, **options)


def codes(checked) -> list[str]:
    return [i.code for i in checked.report.errors]


def test_blocks_join_to_what_one_wide_file_gives(model, wide, parts):
    assert [list(p.columns)[:2] for p in parts.values()][0] == [model.schema.id_column, LABEL]
    assert sorted(parts) == sorted({"mutation", "copy number", "microsatellite instability"})
    joined = check(model, files(parts)[::-1])  # any file order: rows follow the first file's
    one = validate(wide.to_csv(index=False).encode(), model.schema, filename="wide.csv", label_column=LABEL)
    assert joined.report.ok and one.report.ok, joined.report.summary()
    order = [one.ids.index(i) for i in joined.ids]
    assert sorted(joined.ids) == sorted(one.ids) and len(joined.ids) == N
    np.testing.assert_array_equal(joined.X, one.X[order])
    np.testing.assert_array_equal(joined.out_of_range, one.out_of_range[order])
    assert joined.labels.tolist() == one.labels.iloc[order].tolist()
    report = joined.report.to_dict()
    assert [b["group"] for b in report["blocks"]] == list(dict.fromkeys(model.schema.groups))
    assert all(b["n_samples"] == N and b["n_missing_samples"] == 0 and b["n_only_here"] == 0 for b in report["blocks"])
    assert blocks.validate_files([("wide.csv", wide.to_csv(index=False).encode())], model.schema,
                                 label_column=LABEL).report.ok  # one wide file: as today


def test_a_sample_missing_a_block_is_an_error_naming_it_and_the_versions_left(model, parts, registry):
    gone = parts["mutation"].iloc[3][model.schema.id_column]
    alternatives = blocks.alternatives_in(registry, MODEL, model.version.version)
    assert alternatives == []  # no version was trained without a block: none can serve it
    checked = check(model, files(parts, mutation=parts["mutation"].drop(index=3)), alternatives=alternatives)
    (error,) = checked.report.errors
    assert error.code == "missing-block" and error.sample == gone and error.count == 1
    assert "mutation block (mutation: not in mutation.csv)" in error.message and "never imputed" in error.message
    assert error.message.endswith("could serve it without it: none.")
    assert checked.X is None
    found = {b.group: b for b in checked.report.blocks}
    assert found["mutation"].missing_samples == [gone] and found["mutation"].n_samples == N - 1
    assert found["copy number"].only_here == [] and found["copy number"].n_missing_samples == 0


def test_versions_trained_without_a_block_are_named(model, parts):
    """A schema without the copy-number block (made up here: the real schema, that block removed) stands for
    a version trained without it: it may serve the samples whose copy-number file is left out."""
    without = dataclasses.replace(model.schema, features=tuple(f for f in model.schema.features
                                                               if f.group != "copy number"))
    checked = check(model, files(parts, copy_number=None),
                    alternatives=[("tissue-of-origin:9", without), ("tissue-of-origin:8", model.schema)])
    (error,) = checked.report.errors
    assert f"{N} samples lack the copy number block (copy number: no file holds it)" in error.message
    assert error.message.endswith("could serve them without it: tissue-of-origin:9.")
    copy_number = next(b for b in checked.report.to_dict()["blocks"] if b["group"] == "copy number")
    assert copy_number["file"] is None and copy_number["n_missing_samples"] == N


def test_ids_in_one_block_only_and_missing_features_are_reported_per_block(model, parts):
    copy = parts["copy number"]
    extra = copy.iloc[[0]].assign(**{model.schema.id_column: "made-up-line-1"})  # an id no other block has
    dropped = copy.columns[-1]
    checked = check(model, files(parts, copy_number=pd.concat([copy, extra]).drop(columns=[dropped])))
    found = {b.group: b for b in checked.report.blocks}
    assert found["copy number"].only_here == ["made-up-line-1"]
    assert found["copy number"].missing_features == [dropped]
    assert found["mutation"].missing_samples == ["made-up-line-1"]
    assert set(codes(checked)) == {"missing-feature", "missing-block"}
    assert any("copy-number.csv lacks 1 feature column" in i.message for i in checked.report.errors)


@pytest.mark.parametrize("case, code, words", [
    ("mixed", "mixed-blocks", "mutation.csv holds features of 2 blocks"),
    ("unknown", "unknown-column", "mutation.csv holds 2 columns that tissue-of-origin does not know ('assay'"),
    ("duplicate", "duplicate-block", "and mutation.csv both hold the mutation block"),
    ("nothing", "no-block-features", "notes.csv holds no feature column of tissue-of-origin"),
    ("labels", "label-mismatch", "give 1 sample different 'true_label' values"),
])
def test_a_file_that_is_no_one_block_is_an_error_naming_file_and_columns(model, parts, case, code, words):
    mutation, copy = parts["mutation"], parts["copy number"]
    ids = mutation[[model.schema.id_column]]
    given = {
        "mixed": files(parts, mutation=mutation.join(copy.iloc[:, -3:])),
        "unknown": files(parts, mutation=mutation.assign(assay="x", batch=1)),  # made-up extra columns
        "duplicate": files(parts) + [("mutation.csv", mutation.to_csv(index=False).encode())],
        "nothing": files(parts) + [("notes.csv", ids.assign(note="x").to_csv(index=False).encode())],
        "labels": files(parts, mutation=mutation.assign(**{LABEL: parts["microsatellite instability"][LABEL]})
                        .pipe(lambda f: f.assign(**{LABEL: f[LABEL].where(f.index != 2, "made-up tissue")}))),
    }[case]
    checked = check(model, given)
    assert code in codes(checked) and checked.X is None
    issue = next(i for i in checked.report.errors if i.code == code)
    assert words in issue.message, issue.message
    if case == "mixed":
        assert issue.column == copy.columns[-3] and "copy number: 3 columns" in issue.message
    if case == "labels":
        assert issue.sample == mutation.iloc[2][model.schema.id_column]


def test_a_bad_cell_names_its_block_file_row_and_column(model, parts):
    mutation = parts["mutation"].astype(str)
    column = mutation.columns[10]
    mutation.loc[4, column] = "n.d."
    (error,) = check(model, files(parts, mutation=mutation)).report.errors
    assert error.code == "non-numeric" and error.row == 5 and error.column == column
    assert error.message.startswith(f"mutation.csv: column '{column}'") and "row 5" in error.message


def test_personal_ids_are_refused_and_never_repeated(model, parts):
    msi = parts["microsatellite instability"].copy()
    msi.loc[0, model.schema.id_column] = "jane.doe@example.org"  # made up
    checked = check(model, files(parts, microsatellite_instability=msi))
    assert "personal-sample-id" in codes(checked)
    assert "jane.doe" not in str(checked.report.to_dict())


def test_the_files_share_one_uploads_limits(model, parts):
    given = files(parts)
    total = sum(len(data) for _, data in given)
    too_big = check(model, given, max_bytes=total - 1)
    assert codes(too_big) == ["too-large"] and "the files of one upload share" in too_big.report.errors[0].message
    cells = sum(p.size for p in parts.values())
    too_many = check(model, given, max_cells=cells - 1)
    assert "too-many-cells" in codes(too_many)
    assert any("share its limit" in i.message for i in too_many.report.errors)
    assert check(model, given, max_cells=cells, max_bytes=total).report.ok


def test_brca_patients_in_three_omics_files_join_as_the_wide_file(brca, brca_model, tmp_path):
    """Real held-out TCGA-BRCA patients of the session's brca-subtype model, as rna, mirna and methylation files
    (the issue's `python -m engine predict brca-subtype rna.csv mirna.csv methylation.csv`)."""
    schema = brca_model.schema
    ids = brca_model.version.test_ids[:10]
    wide = brca.X.loc[ids, schema.names].copy().reset_index()  # one block of memory first
    parts = blocks.split_frame(wide, schema)
    assert list(parts) == ["mRNA", "miRNA", "methylation"]
    paths = []
    for group, frame in parts.items():
        paths.append(tmp_path / f"{blocks.block_slug(group)}.csv")
        frame.to_csv(paths[-1], index=False)
    joined = blocks.validate_files([(p.name, p) for p in paths], schema, model="brca-subtype")
    one = validate(wide, schema)
    assert joined.report.ok and joined.ids == ids
    np.testing.assert_array_equal(joined.X, one.X)
    models = shutil.copytree(brca_model.version.path.parents[1], tmp_path / "models")
    out = subprocess.run([sys.executable, "-m", "engine", "predict", "brca-subtype", *map(str, paths)],
                         cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CANCER_ALPHA_MODELS_DIR": str(models)})
    assert out.returncode == 0, out.stderr
    assert [line.split(",")[0] for line in out.stdout.splitlines()[1:]] == ids


def test_one_block_sent_alone_is_told_to_bring_the_others(brca, brca_model):
    schema = brca_model.schema
    wide = brca.X.loc[brca_model.version.test_ids[:5], schema.names].copy().reset_index()
    mrna = blocks.split_frame(wide, schema)["mRNA"]
    (issue,) = [i for i in blocks.validate_files([("mrna.csv", mrna)], schema).report.errors
                if i.code == "missing-feature"]
    assert issue.message.endswith("It holds the mRNA block only: send the miRNA and methylation files with it "
                                  "(one file per block), or one wide file.")
    partial = wide.drop(columns=schema.names[:3])  # three mRNA features missing: no block is whole
    (issue,) = [i for i in validate(partial, schema).report.errors if i.code == "missing-feature"]
    assert "block" not in issue.message
