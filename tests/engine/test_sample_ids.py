"""Sample ids that look like personal data are refused (engine.sample_ids, engine.validation), with the row
named and the id never repeated; TCGA barcodes, COSMIC ids and every id of the real datasets pass.

The personal-looking ids are made up (example.org addresses, the reserved 555 and Ofcom drama numbers, the
SSA's example 123-45-6789, the NHS's published example 943 476 5919)."""
from __future__ import annotations

import pytest

from engine.sample_ids import (DATE_KIND, EMAIL, EMAIL_KIND, NHS_KIND, PHONE_KIND, SSN_KIND, nhs_check_digit_ok,
                               personal_id_kind)
from engine.validation import PERSONAL_ID, validate
from tests.engine.test_validation import HEADER, SCHEMA, csv_bytes, only

PERSONAL = {
    "jane.doe@example.org": EMAIL_KIND,
    "sample_jane@example.org": EMAIL_KIND,
    "1970-01-31": DATE_KIND,
    "31/01/1970": DATE_KIND,
    "01/31/1970": DATE_KIND,
    "31.01.1970": DATE_KIND,
    "31 Jan 1970": DATE_KIND,
    "January 31, 1970": DATE_KIND,
    "P7_1970-01-31": DATE_KIND,
    "123-45-6789": SSN_KIND,
    "ssn 123-45-6789": SSN_KIND,
    "9434765919": NHS_KIND,
    "943 476 5919": NHS_KIND,
    "943-476-5919": NHS_KIND,
    "+44 20 7946 0958": PHONE_KIND,
    "+15555550123": PHONE_KIND,
    "0044 20 7946 0958": PHONE_KIND,
    "(555) 555-0123": PHONE_KIND,
    "555-555-0123": PHONE_KIND,
    "07700 900123": PHONE_KIND,
    "07700900123": PHONE_KIND,
    "tel +44 7700 900123": PHONE_KIND,
}
DE_IDENTIFIED = ["TCGA-A1-A0SB-01", "TCGA-A1-A0SB", "TCGA-E2-A1L7-01A-11R-A143-13", "TCGA.E2.A1L7.01A.11R.A143.13",
                 "TCGA-AB-2001-03", "TCGA-06-0125-01A-01D-1490-08", "683665", "906826", "COSMIC_906826",
                 "COSMIC-683665", "S001", "00123", "patient 17", "9434765918",  # 10 digits, wrong NHS check digit
                 "5555550123", "2021-13-45", "S-2021-001-1234", "1970", "v1.2.3", "BRCA_0042_T"]


@pytest.mark.parametrize("sample_id,kind", PERSONAL.items())
def test_ids_that_look_like_personal_data_are_named_by_kind(sample_id, kind):
    assert personal_id_kind(sample_id) == kind


@pytest.mark.parametrize("sample_id", DE_IDENTIFIED)
def test_de_identified_ids_pass(sample_id):
    assert personal_id_kind(sample_id) is None


def test_an_address_is_matched_from_the_start_of_its_run_only():
    """A match tried at every character of a long id would take quadratic time (an id of 8,000 letters, an '@'
    and 8,000 more took 5 s); one that begins only where a run of address characters begins reads it once."""
    assert EMAIL.match("jane.doe@example.org", 1) is None and EMAIL.match("x jane@example.org", 2)
    long_id = "a" * 100_000 + "@" + "b" * 100_000
    assert personal_id_kind(long_id) is None and personal_id_kind(long_id + ".org") == EMAIL_KIND


def test_the_nhs_check_digit():
    assert nhs_check_digit_ok("9434765919") and not nhs_check_digit_ok("9434765918")
    assert not nhs_check_digit_ok("1234567890")  # its check comes to 10, which no NHS number has


@pytest.mark.parametrize("name", ["gdsc", "tcga"])
def test_every_id_of_the_real_datasets_passes(request, name):
    dataset = request.getfixturevalue(name)
    ids = [str(i) for i in dataset.X.index]
    assert ids and [i for i in ids if personal_id_kind(i) is not None] == []
    cohort = dataset.X.iloc[:50].reset_index()
    checked = validate(cohort.to_csv(index=False).encode(), dataset.schema, filename="real.csv")
    assert checked.report.ok and PERSONAL_ID not in {i.code for i in checked.report.issues}


def test_an_upload_with_personal_ids_is_refused_naming_rows_and_kinds_never_the_ids():
    data = csv_bytes(f"""
        {HEADER}
        S1,1,0,0,10,1,1
        jane.doe@example.org,0,1,0,20,2,2
        1970-01-31,0,0,1,30,3,3
        31/01/1970,0,0,1,30,3,3
        943 476 5919,0,0,1,30,3,3
        S6,0,0,1,30,3,3
        123-45-6789,0,0,1,30,3,3
        +44 20 7946 0958,0,0,1,30,3,3
        TCGA-A1-A0SB-01,0,0,1,30,3,3
        683665,0,0,1,30,3,3
    """)
    checked = validate(data, SCHEMA, filename="ids.csv")
    assert not checked.report.ok and checked.X is None
    assert {i.code for i in checked.report.issues} == {PERSONAL_ID}  # nothing else is read or quoted
    by_kind = {kind: issue for issue in checked.report.issues for kind in
               (EMAIL_KIND, DATE_KIND, SSN_KIND, NHS_KIND, PHONE_KIND) if kind in issue.message}
    assert set(by_kind) == {EMAIL_KIND, DATE_KIND, SSN_KIND, NHS_KIND, PHONE_KIND} and len(checked.report.issues) == 5
    date = by_kind[DATE_KIND]
    assert (date.row, date.count, date.column, date.sample) == (3, 2, "sample_id", None)
    assert "ids.csv: 2 sample ids in 'sample_id' look like a date" in date.message and "rows 3, 4" in date.message
    assert by_kind[EMAIL_KIND].message.startswith("ids.csv: 1 sample id in 'sample_id' looks like an e-mail "
                                                  "address (row 2), which is personal data")
    text = " ".join(i.message for i in checked.report.issues) + repr([i.to_dict() for i in checked.report.issues])
    for shown in ("jane", "example.org", "1970", "476", "6789", "7946"):
        assert shown not in text


def test_personal_ids_are_checked_in_dataframes_too():
    import pandas as pd

    frame = pd.DataFrame({"sample_id": ["S1", "jane@example.org"], **{f: [0, 1] for f in SCHEMA.names}})
    issue = only(validate(frame, SCHEMA).report, PERSONAL_ID)
    assert issue.row == 2 and "e-mail" in issue.message
