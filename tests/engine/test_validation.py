"""Tests for engine.tables and engine.validation: reading uploads and checking them against a feature schema."""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.issues import Issue, ValidationReport
from engine.schema import BINARY, CONTINUOUS, Feature, FeatureSchema
from engine.tables import DEFAULT_MAX_ROWS, InputError, read_table
from engine.validation import MAX_ISSUES_PER_CODE, validate

# Made-up fixture, not real data: a tiny schema with binary and continuous features and ranges.
SCHEMA = FeatureSchema(
    features=(
        Feature("TP53_mut", "mutation", BINARY, 0.0, 1.0),
        Feature("NAME1_mut", "mutation", BINARY, 0.0, 1.0),  # a gene whose name starts like "name"
        Feature("gain_cna1", "copy number", BINARY, 0.0, 1.0),
        Feature("mir21", "miRNA", CONTINUOUS, 0.0, 100.0),
        Feature("mir155", "miRNA", CONTINUOUS, 0.5, 50.0),
        Feature("mir_free", "miRNA", CONTINUOUS),  # no training range recorded
    ),
    id_column="sample_id",
)
IDS = ["00123", "906826", "S3", "S4"]
VALUES = np.array([  # made-up values, in schema order, all inside the ranges above
    [1, 0, 0, 10.5, 1.0, -3.0],
    [0, 1, 0, 20.0, 2.5, 0.0],
    [0, 0, 1, 0.0, 50.0, 7.0],
    [1, 1, 1, 99.0, 0.5, 1e6],
])


def make_frame(ids=IDS, values=VALUES, columns=None) -> pd.DataFrame:
    """A valid table (as text, the way a person would write the file) with optional column order."""
    frame = pd.DataFrame(values, columns=SCHEMA.names)
    frame.insert(0, "sample_id", ids)
    return frame[columns] if columns else frame


def write(tmp_path: Path, frame: pd.DataFrame, name: str, sep: str = ",") -> Path:
    path = tmp_path / name
    if name.endswith((".parquet", ".pq")):
        frame.to_parquet(path, index=False)
    else:
        text = frame.to_csv(index=False, sep=sep).encode()
        path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    return path


def csv_bytes(text: str) -> bytes:
    """A CSV from dedented lines; lets a test show the exact file it feeds in."""
    return "\n".join(line.strip() for line in text.strip().splitlines()).encode() + b"\n"


HEADER = "sample_id,TP53_mut,NAME1_mut,gain_cna1,mir21,mir155,mir_free"


def only(report: ValidationReport, code: str) -> Issue:
    found = [i for i in report.issues if i.code == code]
    assert len(found) == 1, f"expected one {code!r} issue, got {report.issues}"
    return found[0]


def codes(report: ValidationReport) -> set[str]:
    return {i.code for i in report.issues}


# ---------------------------------------------------------------------------------------------
# Valid input, formats, ids


def test_valid_file_with_shuffled_columns_gives_X_in_schema_order(tmp_path):
    shuffled = ["mir155", "gain_cna1", "sample_id", "mir_free", "TP53_mut", "mir21", "NAME1_mut"]
    path = write(tmp_path, make_frame(columns=shuffled), "samples.csv")

    result = validate(path, SCHEMA)

    assert result.report.ok, result.report.summary()
    assert result.report.issues == []
    assert result.report.n_samples == 4
    assert result.report.source == "samples.csv"
    assert result.ids == IDS
    assert result.X.dtype == np.float64
    np.testing.assert_array_equal(result.X, VALUES)
    np.testing.assert_array_equal(result.out_of_range, [0, 0, 0, 0])
    assert result.labels is None


@pytest.mark.parametrize("name,sep", [
    ("samples.csv", ","),
    ("samples.tsv", "\t"),
    ("samples.txt", "\t"),
    ("samples.csv.gz", ","),
    ("samples.tsv.gz", "\t"),
    ("samples.parquet", ","),
    ("samples.pq", ","),
])
def test_every_format_reads_to_the_same_matrix(tmp_path, name, sep):
    path = write(tmp_path, make_frame(), name, sep=sep)

    result = validate(path, SCHEMA)

    assert result.report.ok, result.report.summary()
    assert result.ids == IDS
    np.testing.assert_array_equal(result.X, VALUES)


@pytest.mark.parametrize("name", ["samples.csv.gz", "samples.tsv", "samples.parquet"])
def test_format_is_sniffed_when_the_name_gives_no_hint(tmp_path, name):
    data = write(tmp_path, make_frame(), name, sep="\t" if "tsv" in name else ",").read_bytes()

    from_bytes = validate(data, SCHEMA)
    from_file_object = validate(io.BytesIO(data), SCHEMA)

    for result in (from_bytes, from_file_object):
        assert result.report.ok, result.report.summary()
        assert result.ids == IDS
        np.testing.assert_array_equal(result.X, VALUES)


def test_dataframe_input_with_ids_as_index(tmp_path):
    frame = make_frame().set_index("sample_id")

    result = validate(frame, SCHEMA)

    assert result.report.ok, result.report.summary()
    assert result.report.source == "<dataframe>"
    assert result.ids == IDS
    np.testing.assert_array_equal(result.X, VALUES)


@pytest.mark.parametrize("name,sep", [("samples.csv", ","), ("samples.tsv.gz", "\t")])
def test_ids_keep_leading_zeros_and_stay_text(tmp_path, name, sep):
    ids = ["00123", "906826", "0042", "7"]  # all digits: a reader guessing types would make ints
    path = write(tmp_path, make_frame(ids=ids), name, sep=sep)

    table = read_table(path)
    result = validate(path, SCHEMA)

    assert table["sample_id"].tolist() == ids
    assert result.report.ok, result.report.summary()
    assert result.ids == ids


def test_integer_ids_from_parquet_become_text(tmp_path):
    frame = make_frame(ids=[906826, 906827, 1, 2])
    path = write(tmp_path, frame, "cells.parquet")

    result = validate(path, SCHEMA)

    assert result.report.ok, result.report.summary()
    assert result.ids == ["906826", "906827", "1", "2"]


def test_read_table_returns_a_copy_of_a_dataframe():
    frame = make_frame()
    table = read_table(frame)
    table.loc[0, "sample_id"] = "changed"
    assert frame.loc[0, "sample_id"] == "00123"


# ---------------------------------------------------------------------------------------------
# Unreadable input: clean errors, never a traceback


@pytest.mark.parametrize("name,data,code", [
    ("empty.csv", b"", "empty-file"),
    ("blank.csv", b"\n  \n", "empty-file"),
    ("broken.csv.gz", b"\x1f\x8b\x08\x00 this is not deflate data", "unreadable"),
    ("truncated.csv.gz", gzip.compress(csv_bytes(HEADER + "\nS1,1,0,0,1,1,1"))[:20], "unreadable"),
    ("random.bin", np.random.default_rng(7).bytes(4096), "unreadable"),
    ("random.csv", np.random.default_rng(8).bytes(4096), "unreadable"),
    ("broken.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", "unreadable"),
    ("book.xlsx", b"PK\x03\x04" + b"\x00" * 64, "unreadable"),
    ("ragged.csv", csv_bytes(HEADER + "\nS1,1,0,0,1,1,1\nS2,1,0,0,1,1,1,9,9"), "unreadable"),
])
def test_unreadable_input_gives_one_clean_error(tmp_path, name, data, code):
    path = tmp_path / name
    path.write_bytes(data)

    result = validate(path, SCHEMA)  # must not raise

    assert [i.code for i in result.report.issues] == [code]
    issue = result.report.issues[0]
    assert issue.severity == "error"
    assert name in issue.message
    assert result.X is None and result.out_of_range is None and result.ids == []
    assert not result.report.ok
    with pytest.raises(InputError) as raised:
        read_table(path)
    assert raised.value.report.issues[0].code == code


def test_missing_path_is_an_error_not_a_traceback(tmp_path):
    result = validate(tmp_path / "nowhere.csv", SCHEMA)
    assert only(result.report, "unreadable").severity == "error"


def test_file_without_header_row(tmp_path):
    data = csv_bytes("1,1,0,0,10,1,1\n2,0,1,0,20,2,2")

    result = validate(data, SCHEMA, filename="noheader.csv")

    issue = only(result.report, "no-header")
    assert issue.severity == "error"
    assert "header" in issue.message and "noheader.csv" in issue.message


def test_header_without_rows(tmp_path):
    result = validate(csv_bytes(HEADER), SCHEMA, filename="header.csv")
    assert only(result.report, "no-samples").severity == "error"
    assert result.X is None


# ---------------------------------------------------------------------------------------------
# Limits


def test_file_over_the_byte_limit(tmp_path, monkeypatch):
    path = write(tmp_path, make_frame(), "samples.csv")
    size = path.stat().st_size

    explicit = validate(path, SCHEMA, max_bytes=size - 1)
    monkeypatch.setenv("CANCER_ALPHA_MAX_UPLOAD_BYTES", str(size - 1))
    from_env = validate(path, SCHEMA)
    from_stream = validate(io.BytesIO(path.read_bytes()), SCHEMA, filename="samples.csv")
    monkeypatch.setenv("CANCER_ALPHA_MAX_UPLOAD_BYTES", str(size))
    at_limit = validate(path, SCHEMA)

    for result in (explicit, from_env, from_stream):
        issue = only(result.report, "too-large")
        assert issue.severity == "error" and "samples.csv" in issue.message
    assert at_limit.report.ok


def test_gzip_that_expands_past_the_limit_is_refused(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(HEADER.encode() + b"\n" + b"0" * 200_000))

    result = validate(path, SCHEMA, max_bytes=10_000)

    assert path.stat().st_size < 10_000
    assert only(result.report, "too-large").severity == "error"


@pytest.mark.parametrize("name", ["samples.csv", "samples.parquet"])
def test_env_lowers_the_row_limit(tmp_path, monkeypatch, name):
    path = write(tmp_path, make_frame(), name)
    monkeypatch.setenv("CANCER_ALPHA_MAX_ROWS", "3")

    result = validate(path, SCHEMA)
    as_frame = validate(make_frame(), SCHEMA)
    monkeypatch.setenv("CANCER_ALPHA_MAX_ROWS", "4")
    at_limit = validate(path, SCHEMA)

    for rejected in (result, as_frame):
        issue = only(rejected.report, "too-many-rows")
        assert issue.severity == "error" and "3" in issue.message
        assert rejected.X is None
    assert at_limit.report.ok


def test_explicit_row_limit_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CANCER_ALPHA_MAX_ROWS", "2")
    assert validate(make_frame(), SCHEMA, max_rows=10).report.ok
    monkeypatch.setenv("CANCER_ALPHA_MAX_ROWS", "not a number")  # ignored: the default applies
    assert validate(make_frame(), SCHEMA).report.ok
    assert DEFAULT_MAX_ROWS == 100_000


# ---------------------------------------------------------------------------------------------
# Table shape and ids


def test_transposed_file_is_detected(tmp_path):
    transposed = make_frame().set_index("sample_id").T.rename_axis("feature").reset_index()
    path = write(tmp_path, transposed, "transposed.csv")

    result = validate(path, SCHEMA)

    issue = only(result.report, "transposed")
    assert issue.severity == "error"
    assert "transpose the file so each row is a sample" in issue.message
    assert issue.column == "feature"
    assert codes(result.report) == {"transposed"}  # not also "missing id column" etc.
    assert result.X is None


def test_missing_id_column(tmp_path):
    frame = make_frame().rename(columns={"sample_id": "Sample_ID"})

    result = validate(frame, SCHEMA)

    issue = only(result.report, "missing-id-column")
    assert issue.severity == "error" and issue.column == "sample_id"
    assert "Sample_ID" in issue.message  # points at the near miss
    assert result.X is None


def test_empty_sample_ids(tmp_path):
    data = csv_bytes(f"""
        {HEADER}
        S1,1,0,0,10,1,1
        ,0,1,0,20,2,2
        S3,0,0,1,30,3,3
        ,0,0,1,30,3,3
    """)

    result = validate(data, SCHEMA, filename="ids.csv")

    issue = only(result.report, "empty-id")
    assert (issue.severity, issue.row, issue.column, issue.count) == ("error", 2, "sample_id", 2)
    assert "rows 2, 4" in issue.message and "ids.csv" in issue.message
    assert result.X is None


def test_duplicate_sample_ids_list_their_rows(tmp_path):
    data = csv_bytes(f"""
        {HEADER}
        S1,1,0,0,10,1,1
        S2,0,1,0,20,2,2
        S1,0,0,1,30,3,3
    """)

    result = validate(data, SCHEMA, filename="dups.csv")

    issue = only(result.report, "duplicate-id")
    assert (issue.severity, issue.row, issue.sample, issue.column, issue.count) == (
        "error", 1, "S1", "sample_id", 2)
    assert "rows 1, 3" in issue.message
    assert result.X is None


def test_duplicate_column(tmp_path):
    data = csv_bytes(f"""
        {HEADER},mir21
        S1,1,0,0,10,1,1,11
    """)

    result = validate(data, SCHEMA, filename="cols.csv")

    issue = only(result.report, "duplicate-column")
    assert (issue.severity, issue.column, issue.count) == ("error", "mir21", 2)


# ---------------------------------------------------------------------------------------------
# Personal identifiers


@pytest.mark.parametrize("column", ["patient_name", "Date of Birth", "E-mail", "MRN", "zip", "Surname"])
def test_personal_identifier_column_rejects_the_file(tmp_path, column):
    frame = make_frame()
    frame[column] = ["x"] * len(frame)
    path = write(tmp_path, frame, "pii.csv")

    result = validate(path, SCHEMA)

    issue = only(result.report, "personal-identifier")
    assert (issue.severity, issue.column) == ("error", column)
    assert "extra-column" not in codes(result.report)
    assert result.X is None and result.labels is None


def test_names_containing_pii_words_are_not_flagged(tmp_path):
    frame = make_frame()
    frame["gene_name"] = "TP53"  # not a whole PII name: only an extra column
    path = write(tmp_path, frame, "ok.csv")

    result = validate(path, SCHEMA)

    assert "personal-identifier" not in codes(result.report)
    assert result.report.ok  # NAME1_mut (a schema feature) is fine too
    assert only(result.report, "extra-column").column == "gene_name"


def test_pii_word_that_is_a_schema_feature_is_not_flagged():
    schema = FeatureSchema(features=SCHEMA.features + (Feature("zip", "odd", CONTINUOUS),),
                           id_column="sample_id")
    frame = make_frame()
    frame["zip"] = 1.0

    result = validate(frame, schema)

    assert result.report.ok, result.report.summary()


# ---------------------------------------------------------------------------------------------
# Columns


def test_missing_features_are_an_error_never_zero_filled(tmp_path):
    frame = make_frame().drop(columns=["mir155", "gain_cna1"])
    path = write(tmp_path, frame, "short.csv")

    result = validate(path, SCHEMA)

    issue = only(result.report, "missing-feature")
    assert (issue.severity, issue.count, issue.column) == ("error", 2, None)
    assert "'gain_cna1'" in issue.message and "'mir155'" in issue.message
    assert result.X is None


def test_extra_columns_are_a_warning_and_the_label_column_is_not_extra(tmp_path):
    frame = make_frame()
    frame["tissue"] = ["lung", "breast", "skin", "lung"]
    frame["batch"] = 1
    frame["notes"] = "x"
    path = write(tmp_path, frame, "extra.csv")

    result = validate(path, SCHEMA, label_column="tissue")

    issue = only(result.report, "extra-column")
    assert (issue.severity, issue.count) == ("warning", 2)
    assert "'batch'" in issue.message and "'notes'" in issue.message and "tissue" not in issue.message
    assert result.report.ok
    assert result.labels.tolist() == ["lung", "breast", "skin", "lung"]
    assert result.labels.index.tolist() == IDS


def test_absent_label_column_is_a_warning():
    result = validate(make_frame(), SCHEMA, label_column="tissue")
    issue = only(result.report, "missing-label-column")
    assert (issue.severity, issue.column) == ("warning", "tissue")
    assert result.labels is None and result.X is not None


# ---------------------------------------------------------------------------------------------
# Cells


def test_non_numeric_cells_grouped_per_column(tmp_path):
    data = csv_bytes(f"""
        {HEADER}
        S1,1,0,0,10,1,1
        S2,0,1,0,high,2,2
        S3,0,0,1,30,3,inf
        S4,0,0,1,n.d.,3,3
    """)
    path = tmp_path / "text.csv"
    path.write_bytes(data)

    result = validate(path, SCHEMA)

    issues = [i for i in result.report.issues if i.code == "non-numeric"]
    assert [(i.column, i.row, i.sample, i.count) for i in issues] == [
        ("mir21", 2, "S2", 2), ("mir_free", 3, "S3", 1)]
    assert all(i.severity == "error" for i in issues)
    assert "'high'" in issues[0].message and "rows 2, 4" in issues[0].message
    assert "text.csv" in issues[0].message
    assert result.X is None


def test_non_binary_values_in_binary_features(tmp_path):
    data = csv_bytes(f"""
        {HEADER}
        S1,1,0,0,10,1,1
        S2,2,1,0,20,2,2
        S3,0,0,0.5,30,3,3
    """)

    result = validate(data, SCHEMA, filename="bin.csv")

    issues = [i for i in result.report.issues if i.code == "non-binary"]
    assert [(i.column, i.row, i.sample, i.count, i.severity) for i in issues] == [
        ("TP53_mut", 2, "S2", 1, "error"), ("gain_cna1", 3, "S3", 1, "error")]
    assert "out-of-range" not in codes(result.report)  # already an error, not also a warning
    assert result.X is None


def test_missing_values_are_a_warning_and_NaN_in_X(tmp_path):
    data = csv_bytes(f"""
        {HEADER}
        S1,1,0,0,10,1,1
        S2,0,,0,NA,2,2
        S3,0,,1,30,3,3
    """)

    result = validate(data, SCHEMA, filename="gaps.csv")

    issues = {i.column: i for i in result.report.issues if i.code == "missing-value"}
    assert set(issues) == {"NAME1_mut", "mir21"}
    assert (issues["NAME1_mut"].severity, issues["NAME1_mut"].row, issues["NAME1_mut"].sample,
            issues["NAME1_mut"].count) == ("warning", 2, "S2", 2)
    assert "training median" in issues["NAME1_mut"].message
    assert result.report.ok
    assert np.isnan(result.X[1, 1]) and np.isnan(result.X[2, 1]) and np.isnan(result.X[1, 3])
    assert np.isnan(result.X).sum() == 3


def test_missing_value_texts_in_a_dataframe_count_as_missing():
    frame = make_frame().astype(str)
    frame.loc[1, "mir21"] = ""
    frame.loc[2, "mir21"] = "NA"

    result = validate(frame, SCHEMA)

    assert only(result.report, "missing-value").count == 2
    assert result.report.ok


def test_values_outside_the_training_range(tmp_path):
    values = VALUES.copy()
    values[0, 3] = 150.0   # mir21 above 100
    values[2, 3] = -1.0    # mir21 below 0 (a negative count is just out of range)
    values[2, 4] = 0.1     # mir155 below 0.5
    values[3, 5] = -1e9    # mir_free has no range: never out of range
    path = write(tmp_path, make_frame(values=values), "range.tsv", sep="\t")

    result = validate(path, SCHEMA)

    issues = {i.column: i for i in result.report.issues if i.code == "out-of-range"}
    assert set(issues) == {"mir21", "mir155"}
    assert (issues["mir21"].severity, issues["mir21"].row, issues["mir21"].sample,
            issues["mir21"].count) == ("warning", 1, "00123", 2)
    assert "[0, 100]" in issues["mir21"].message
    assert result.report.ok
    np.testing.assert_array_equal(result.out_of_range, [1, 0, 2, 0])
    assert result.X[0, 3] == 150.0  # kept as is: a warning does not change values


def test_issues_of_one_code_are_bounded():
    names = [f"m{i}" for i in range(MAX_ISSUES_PER_CODE + 20)]
    schema = FeatureSchema(features=tuple(Feature(n, "miRNA", CONTINUOUS) for n in names),
                           id_column="sample_id")
    frame = pd.DataFrame("bad", index=range(3), columns=names)
    frame.insert(0, "sample_id", ["a", "b", "c"])

    result = validate(frame, schema)

    issues = [i for i in result.report.issues if i.code == "non-numeric"]
    assert len(issues) == MAX_ISSUES_PER_CODE + 1
    assert "and 20 more columns" in issues[-1].message
    assert issues[-1].count == 60  # 20 columns x 3 cells


# ---------------------------------------------------------------------------------------------
# Report


def test_report_serialises_and_summarises(tmp_path):
    data = csv_bytes(f"""
        {HEADER},batch
        S1,1,0,0,10,1,1,x
        S1,0,1,0,20,2,2,y
    """)

    report = validate(data, SCHEMA, filename="r.csv").report
    as_dict = report.to_dict()

    assert as_dict["source"] == "r.csv" and as_dict["n_samples"] == 2 and as_dict["ok"] is False
    assert (as_dict["n_errors"], as_dict["n_warnings"]) == (1, 1)
    assert {i["code"] for i in as_dict["issues"]} == {"duplicate-id", "extra-column"}
    assert json.loads(json.dumps(as_dict)) == as_dict  # plain types only, ready for an API
    lines = report.summary().splitlines()
    assert lines[0] == "r.csv: 2 samples; 1 error, 1 warning."
    assert lines[1].startswith("  error:") and lines[2].startswith("  warning:")
