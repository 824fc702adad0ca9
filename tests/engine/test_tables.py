"""Reading semicolon- and tab-separated files and decimal commas (engine.tables). The files are made
up in the tests from real samples: real GDSC and TCGA rows written as a spreadsheet in a
decimal-comma locale would save them (semicolons, decimal commas)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.issues import NAME_CHARS, preview
from engine.tables import InputError, read_table
from engine.validation import validate


def real_rows(dataset, n=6):
    return dataset.X.iloc[:n].reset_index()


@pytest.mark.parametrize("name", ["tcga", "gdsc"])
@pytest.mark.parametrize("decimal", [".", ","])
@pytest.mark.parametrize("filename", ["cohort.csv", "cohort.txt", "cohort"])
def test_a_semicolon_file_reads_as_its_comma_twin(request, name, decimal, filename):
    """GDSC's header holds names with commas ('gain_cnaPANCAN27_(GATA3,KLF6,...)'): the semicolon
    still is the delimiter, as every line says; TCGA's counts with decimal commas become numbers."""
    dataset = request.getfixturevalue(name)
    frame = real_rows(dataset)
    reference = validate(frame.to_csv(index=False).encode(), dataset.schema, filename="reference.csv")
    semicolons = frame.to_csv(sep=";", index=False, decimal=decimal).encode()  # made up here, from real rows
    checked = validate(semicolons, dataset.schema, filename=filename)
    assert checked.report.ok and not checked.report.issues, [i.message for i in checked.report.issues]
    assert checked.ids == reference.ids
    assert np.allclose(checked.X, reference.X, equal_nan=True, rtol=0, atol=0)


def test_a_tab_file_with_decimal_commas(tcga):
    frame = real_rows(tcga)
    data = frame.to_csv(sep="\t", index=False, decimal=",").encode()  # made up here, from real rows
    checked = validate(data, tcga.schema, filename="cohort.tsv")
    reference = validate(frame.to_csv(index=False).encode(), tcga.schema, filename="reference.csv")
    assert checked.report.ok and np.array_equal(checked.X, reference.X)


def test_both_decimal_marks_are_refused_in_one_sentence(tcga):
    frame = real_rows(tcga)
    lines = frame.to_csv(sep=";", index=False, decimal=",").splitlines()
    lines[2] = lines[2].replace(",", ".")  # one row saved with decimal points, the others with commas
    with pytest.raises(InputError) as caught:
        read_table("\n".join(lines).encode(), filename="mixed.csv")
    (issue,) = caught.value.report.issues
    assert issue.code == "unreadable" and issue.message.count(".") <= 3
    assert "separates its columns with semicolons" in issue.message and "one decimal mark" in issue.message


def test_no_message_quotes_a_whole_header(gdsc):
    """A file whose header is one long name (its delimiter is none of comma, semicolon and tab):
    messages cut names, and lists stop after a few names."""
    frame = real_rows(gdsc)
    data = frame.to_csv(sep="|", index=False).encode()  # made up here, from real rows
    report = validate(data, gdsc.schema, filename="pipes.csv").report
    assert not report.ok
    for issue in report.issues:
        assert len(issue.message) < 400, issue.message
    names = [f"feature_{k}" for k in range(100)] + ["x" * 500]
    text = preview(names)
    assert text.endswith("and 96 more") and len(text) < 200
    assert len(preview(["y" * 500])) == NAME_CHARS + 2
