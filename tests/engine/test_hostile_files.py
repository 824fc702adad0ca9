"""Hostile files against engine.tables and engine.validation: too wide, too long, too many values, gzip and
Parquet bombs refused from their metadata, header or stream, before their data is in memory, with errors
naming the file and the limit; then property-based tests (hypothesis) of random bytes, wrong encodings, huge
fields and lines, NaN and infinity texts, ids with control characters and markup, wide and long files: each
gives a report (never an exception), and the reader's memory stays bounded.

Every file here is made up in the test (zeros, or what hypothesis draws), under the made-up schema of
test_validation. The limits are scaled down through validate's arguments so that the files stay small."""
from __future__ import annotations

import gzip
import io
import resource
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import read_limits
from engine.read_limits import EXTRA_COLUMNS, CappedGzip, InputError
from engine.tables import read_table
from engine.validation import validate
from tests.engine.test_validation import HEADER, SCHEMA, make_frame

FEATURES = SCHEMA.names
WIDTH = len(FEATURES) + 2  # the id and label columns validate allows for
MB = 1024 * 1024


def only_error(result):
    assert result.X is None and not result.report.ok
    (issue,) = result.report.issues
    assert issue.severity == "error"
    return issue


def parquet_bytes(table: pa.Table, **options) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def zeros_table(n_rows: int, n_columns: int) -> pa.Table:
    column = pa.array(np.zeros(n_rows))
    names = ["sample_id", *FEATURES, *(f"extra_{k}" for k in range(n_columns - len(FEATURES) - 1))]
    return pa.table([pa.array([f"S{r}" for r in range(n_rows)]), *[column] * (len(names) - 1)], names=names)


def spoil_data_pages(data: bytes) -> bytes:
    """The Parquet file with its data pages overwritten and its metadata (the footer) intact: reading any
    value fails, so a refusal that names a limit came from the metadata alone."""
    footer = int.from_bytes(data[-8:-4], "little")
    body = len(data) - footer - 8
    return data[:4] + b"\xff" * (body - 4) + data[body:]


def gzip_bomb(inflated: int, line: bytes = b"0,0,0,0,0,0,0\n") -> bytes:
    """A gzip of the schema's header and rows of zeros inflating to about `inflated` bytes, made a
    megabyte at a time (the inflated text is never in the test's memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    out = [packer.compress(HEADER.encode() + b"\n")]
    block = line * (MB // len(line))
    for _ in range(max(1, inflated // len(block))):
        out.append(packer.compress(block))
    return b"".join(out) + packer.flush()


# ---------------------------------------------------------------------------------------------
# Width, rows and values, from the metadata or the header


def test_a_wide_parquet_is_refused_from_its_metadata():
    width = WIDTH + EXTRA_COLUMNS + 1
    data = spoil_data_pages(parquet_bytes(zeros_table(50, width)))
    issue = only_error(validate(data, SCHEMA, filename="wide.parquet"))
    assert issue.code == "too-many-columns"
    assert f"wide.parquet has {width:,} columns" in issue.message
    assert f"at most {WIDTH + EXTRA_COLUMNS:,} are accepted" in issue.message


def test_the_spoiled_parquet_of_these_tests_is_unreadable_once_its_data_is_read():
    """The check the metadata tests stand on: a file within the limits whose pages are spoiled fails
    when its data is read."""
    data = spoil_data_pages(parquet_bytes(zeros_table(50, WIDTH)))
    assert only_error(validate(data, SCHEMA, filename="spoiled.parquet")).code == "unreadable"


def test_a_parquet_with_too_many_values_is_refused_from_its_metadata():
    data = spoil_data_pages(parquet_bytes(zeros_table(400, 50)))
    issue = only_error(validate(data, SCHEMA, filename="long.parquet", max_cells=10_000))
    assert issue.code == "too-many-cells"
    assert "long.parquet has 50 columns and 400 rows" in issue.message
    assert "the 10,000 values (rows x columns)" in issue.message and "200 rows" in issue.message


def test_a_parquet_with_too_many_rows_is_refused_from_its_metadata():
    data = spoil_data_pages(parquet_bytes(zeros_table(30, WIDTH)))
    issue = only_error(validate(data, SCHEMA, filename="rows.parquet", max_rows=20))
    assert issue.code == "too-many-rows" and "rows.parquet has 30 rows; at most 20" in issue.message


def test_a_wide_csv_is_refused_from_its_first_line():
    width = WIDTH + EXTRA_COLUMNS + 5
    header = ",".join(["sample_id", *FEATURES, *(f"x{k}" for k in range(width - len(FEATURES) - 1))])
    data = (header + "\n" + "S1,1\nthis row is ragged,,,\n").encode()  # rows that would fail if they were read
    issue = only_error(validate(data, SCHEMA, filename="wide.csv"))
    assert issue.code == "too-many-columns" and f"wide.csv has {width:,} columns" in issue.message


def test_a_long_csv_is_refused_past_the_cell_limit_without_reading_the_rest():
    rows = "".join(f"S{r},1,0,0,1,1,1\n" for r in range(40))
    data = (HEADER + "\n" + rows + "garbage,\"unterminated\n").encode()  # never parsed: reading stops before
    issue = only_error(validate(data, SCHEMA, filename="long.csv", max_cells=7 * 30))
    assert issue.code == "too-many-cells"
    assert "long.csv has 7 columns and more than 30 rows" in issue.message and "210 values" in issue.message
    assert validate((HEADER + "\n" + rows).encode(), SCHEMA, filename="ok.csv", max_cells=7 * 40).report.ok


def test_the_row_limit_names_rows_when_it_binds_before_the_cell_limit():
    rows = "".join(f"S{r},1,0,0,1,1,1\n" for r in range(12))
    issue = only_error(validate((HEADER + "\n" + rows).encode(), SCHEMA, filename="rows.csv", max_rows=10))
    assert issue.code == "too-many-rows" and "more than 10 rows" in issue.message


def test_a_first_line_longer_than_the_head_is_refused():
    data = b"sample_id," + b"x" * (4 * MB + 10)
    issue = only_error(validate(data, SCHEMA, filename="one-line.csv", max_bytes=8 * MB))
    assert issue.code == "unreadable" and "first line is longer than 4.0 MB" in issue.message


# ---------------------------------------------------------------------------------------------
# Bombs: gzip and Parquet


def test_a_gzip_bomb_is_refused_with_the_limit_it_passed():
    bomb = gzip_bomb(20 * MB)
    assert len(bomb) < 100_000
    issue = only_error(validate(bomb, SCHEMA, filename="bomb.csv.gz", max_bytes=MB, max_cells=10**9))
    assert issue.code == "too-large"
    assert issue.message == ("bomb.csv.gz: the file inflates past 2.0 MB once decompressed, more than one upload "
                             "may hold; split it into smaller files.")


def test_a_gzip_is_inflated_only_up_to_its_cap():
    stream = CappedGzip(gzip_bomb(50 * MB), "bomb.csv.gz", limit=MB)
    buffer, read = bytearray(256 * 1024), 0
    with pytest.raises(InputError, match="inflates past 1.0 MB"):
        while True:
            n = stream.readinto(buffer)
            if n == 0:
                break
            read += n
    assert read <= MB  # what came out before the refusal


def test_a_gzip_within_the_cap_reads_like_its_content():
    frame = make_frame()
    data = gzip.compress(frame.to_csv(index=False).encode())
    assert validate(data, SCHEMA, filename="samples.csv.gz", max_bytes=len(data)).report.ok


def test_a_corrupt_gzip_stream_is_unreadable():
    data = gzip.compress((HEADER + "\n" + "S1,1,0,0,1,1,1\n" * 5000).encode())
    spoiled = data[:200] + bytes(b ^ 0x55 for b in data[200:400]) + data[400:]
    issue = only_error(validate(spoiled, SCHEMA, filename="spoiled.csv.gz"))
    assert issue.code == "unreadable" and "spoiled.csv.gz is not a valid gzip file" in issue.message


def test_a_parquet_whose_texts_decode_past_the_cap_is_refused():
    """One 100 KB text stored once (dictionary-encoded) and used by 1,000 rows: 100 MB once decoded."""
    n = 1000
    texts = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array(["x" * 100_000]))
    table = pa.table({"sample_id": texts, **{f: np.zeros(n) for f in FEATURES}})
    data = parquet_bytes(table)
    assert len(data) < 200_000
    issue = only_error(validate(data, SCHEMA, filename="texts.parquet", max_bytes=MB))
    assert issue.code == "too-large" and "texts.parquet: the file inflates past 2.0 MB" in issue.message


def test_a_parquet_whose_pages_inflate_past_the_cap_is_refused_from_its_metadata():
    n = 40_000
    table = pa.table({"sample_id": np.arange(n), **{f: np.zeros(n) for f in FEATURES}})
    data = spoil_data_pages(parquet_bytes(table, use_dictionary=False, compression="zstd"))
    assert len(data) < MB
    issue = only_error(validate(data, SCHEMA, filename="pages.parquet", max_bytes=MB))
    assert issue.code == "too-large" and "inflates past 2.0 MB" in issue.message


def test_a_parquet_with_nested_values_is_refused_in_words():
    table = pa.table({"sample_id": ["S1"], "TP53_mut": pa.array([[0.0] * 1000])})
    issue = only_error(validate(parquet_bytes(table), SCHEMA, filename="nested.parquet"))
    assert issue.code == "unreadable" and "column 'TP53_mut' holds list<element: double> values" in issue.message


def test_a_parquet_within_the_limits_reads_as_before(tmp_path):
    frame = make_frame()
    data = parquet_bytes(pa.Table.from_pandas(frame.astype({"sample_id": "category"}), preserve_index=False))
    checked = validate(data, SCHEMA, filename="cats.parquet")
    assert checked.report.ok and checked.ids == frame["sample_id"].tolist()
    indexed = io.BytesIO()
    frame.set_index("sample_id").to_parquet(indexed)
    assert validate(indexed.getvalue(), SCHEMA, filename="indexed.parquet").ids == frame["sample_id"].tolist()
    empty = parquet_bytes(pa.Table.from_pandas(frame.iloc[:0], preserve_index=False))
    assert only_error(validate(empty, SCHEMA, filename="empty.parquet")).code == "no-samples"


def test_a_read_table_without_a_schema_has_only_the_cell_limit():
    table = zeros_table(3, WIDTH + EXTRA_COLUMNS + 10)
    assert read_table(parquet_bytes(table), filename="wide.parquet").shape == (3, WIDTH + EXTRA_COLUMNS + 10)


def test_a_read_table_without_a_schema_has_no_row_limit(monkeypatch):
    monkeypatch.setenv("CANCER_ALPHA_MAX_ROWS", "10")
    assert read_table(b"a,b\n" + b"1,2\n" * 50, filename="long.csv").shape == (50, 2)


def test_a_parquet_whose_metadata_is_larger_than_its_width_needs_is_refused_before_it_is_parsed(monkeypatch):
    """Parsing a footer holds about 17 times its size before the width it declares is known (200,000
    columns in 29 MB took 500 MB): its size is checked first, against FOOTER_BYTES_PER_COLUMN (scaled down
    here) for each column allowed. Many row groups make a large footer in a small file as well."""
    monkeypatch.setattr(read_limits, "FOOTER_BYTES_PER_COLUMN", 16)
    data = spoil_data_pages(parquet_bytes(zeros_table(40, WIDTH), row_group_size=1))
    issue = only_error(validate(data, SCHEMA, filename="groups.parquet"))
    assert issue.code == "too-large" and issue.message.startswith("groups.parquet: its Parquet metadata takes")
    assert f"more than the {(WIDTH + EXTRA_COLUMNS) * 16:,} bytes a table of at most" in issue.message
    assert validate(parquet_bytes(zeros_table(40, WIDTH)), SCHEMA, filename="one-group.parquet").report.ok


@pytest.mark.parametrize("odd", [float("inf"), -float("inf"), 1e300, -1e20])
def test_float_ids_no_integer_holds_give_a_report(odd):
    frame = make_frame()
    frame["sample_id"] = [float(k) for k in range(len(frame) - 1)] + [odd]
    for source in (frame, parquet_bytes(pa.Table.from_pandas(frame, preserve_index=False))):
        checked = validate(source, SCHEMA, filename="float-ids.parquet")
        assert checked.ids[-1] == str(odd) and checked.ids[0] == "0.0"


def test_long_file_names_are_cut_in_messages_and_keep_their_suffix():
    name = "n" * 500 + ".csv.gz"
    issue = only_error(validate(gzip_bomb(5 * MB), SCHEMA, filename=name, max_bytes=MB, max_cells=10**9))
    assert issue.code == "too-large" and len(issue.message) < 300 and "nnn.csv.gz: the file inflates" in issue.message


# ---------------------------------------------------------------------------------------------
# Property-based: whatever the bytes, a report and never an exception; memory bounded

# Every issue code the reader and the validator give; anything else is a new kind of problem to name.
CODES = {"empty-file", "unreadable", "too-large", "no-header", "too-many-rows", "too-many-cells", "too-many-columns",
         "transposed", "no-samples", "duplicate-column", "missing-id-column", "personal-identifier",
         "missing-feature", "extra-column", "missing-label-column", "personal-sample-id", "empty-id",
         "duplicate-id", "non-numeric", "non-binary", "missing-value", "out-of-range"}
MEMORY_BOUND_MB = 256  # the most a property test may raise the process's peak resident memory
LIMITS = dict(max_bytes=2 * MB, max_cells=50_000, max_rows=5_000)  # scaled down: files stay small, limits bite


def fuzz(examples: int) -> settings:
    """Hypothesis settings of these tests: reproducible (derandomized, no example database), no deadline."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
SUFFIXES = ["samples.csv", "samples.tsv", "samples.txt", "samples.csv.gz", "samples.parquet", "samples", "book.xlsx"]


@pytest.fixture
def bounded_memory():
    """Fails the test if the process's peak resident memory rose by MEMORY_BOUND_MB or more during it."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    yield
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert grown < MEMORY_BOUND_MB, f"peak memory grew by {grown:.0f} MB"


def check(result, name: str) -> None:
    """What every validation must give: known codes, messages that name the file and stay readable, and
    values only when there is no error (finite numbers or NaN, one row per sample)."""
    report = result.report
    for issue in report.issues:
        assert issue.code in CODES, issue
        assert issue.severity in ("error", "warning")
        assert name in issue.message, issue.message
        assert len(issue.message) < 1500, issue.message
    if report.ok:
        assert result.X.shape == (report.n_samples, len(FEATURES)) and not np.isinf(result.X).any()
        assert len(result.ids) == report.n_samples == len(result.out_of_range)
    else:
        assert result.X is None and result.out_of_range is None


@fuzz(300)
@given(data=st.binary(max_size=20_000), filename=st.sampled_from(SUFFIXES), gzipped=st.booleans())
def test_random_bytes_give_a_report(bounded_memory, data, filename, gzipped):
    if gzipped:
        data = gzip.compress(data)
    check(validate(data, SCHEMA, filename=filename, **LIMITS), filename)


MARKUP = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "=cmd|' /C calc'!A0", "\"quoted, text\""]
NUMBERS = ["0", "1", "0.5", "-3", "1e6", "1e309", "-1e309", "1,5", "0x1F", "1_000"]
SPECIAL = ["NaN", "nan", "NA", "", "null", "inf", "-inf", "Infinity", "-Infinity", "+inf", "INF", "None", "True"]
cells = st.one_of(st.sampled_from(NUMBERS + SPECIAL + MARKUP),
                  st.text(max_size=12),  # any character: control characters, surrogates cannot be encoded
                  st.integers(1, 100_000).map(lambda n: "x" * n))  # huge fields
ids = st.one_of(st.sampled_from(["S1", "TCGA-A1-A0SB-01", "683665", "COSMIC_906826", "john@example.org",
                                 "1970-01-31", "123-45-6789", "943 476 5919", "+44 20 7946 0958"] + MARKUP),
                st.text(min_size=1, max_size=30), st.text(alphabet=st.characters(max_codepoint=31), max_size=5))


@st.composite
def tables(draw):
    """A text table: the schema's header (shuffled, cut, widened or with a column twice), then rows of an
    id and cells, joined by a delimiter, with line ends of any kind."""
    names = ["sample_id", *FEATURES]
    names = draw(st.permutations(names))
    names = names[:draw(st.integers(1, len(names)))] + draw(st.lists(st.sampled_from(
        ["true_label", "TP53_mut", "name", "extra", ""]), max_size=3))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = draw(st.lists(st.lists(cells, min_size=len(names) - 1, max_size=len(names)), max_size=20))
    lines = [sep.join(names)] + [sep.join([draw(ids), *row]) for row in rows]
    return end.join(lines) + draw(st.sampled_from(["", end, end * 3]))


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]


@fuzz(300)
@given(text=tables(), encoding=st.sampled_from(ENCODINGS), gzipped=st.booleans(),
       filename=st.sampled_from(SUFFIXES[:3] + ["samples"]))
def test_text_tables_in_any_encoding_give_a_report(bounded_memory, text, encoding, gzipped, filename):
    data = text.encode(encoding, errors="replace")  # utf-16 writes its byte-order mark
    if gzipped:
        data, filename = gzip.compress(data), filename + ".gz"
    check(validate(data, SCHEMA, filename=filename, label_column="true_label", **LIMITS), filename)


@fuzz(40)
@given(width=st.integers(1, WIDTH + EXTRA_COLUMNS + 200), rows=st.integers(0, 3_000),
       kind=st.sampled_from(["csv", "parquet"]))
def test_wide_and_long_tables_are_read_or_refused_by_their_limit(bounded_memory, width, rows, kind):
    names = ["sample_id", *FEATURES, *(f"extra_{k}" for k in range(width))][:width]
    if kind == "csv":
        line = ",".join(["S"] + ["0"] * (width - 1)) + "\n"
        data, filename = (",".join(names) + "\n" + line * rows).encode(), "big.csv"
    else:
        column = pa.array(np.zeros(rows))
        table = pa.table([pa.array([f"S{r}" for r in range(rows)]), *[column] * (width - 1)], names=names)
        data, filename = parquet_bytes(table), "big.parquet"
    result = validate(data, SCHEMA, filename=filename, max_bytes=50 * MB, max_cells=50_000, max_rows=5_000)
    check(result, filename)
    codes = {i.code for i in result.report.errors}
    if width > WIDTH + EXTRA_COLUMNS:
        assert codes == {"too-many-columns"}
    elif rows > min(5_000, 50_000 // width):
        assert codes <= {"too-many-cells", "too-many-rows"} and codes


@fuzz(12)
@given(inflated_mb=st.integers(1, 40), line=st.sampled_from([b"0,0,0,0,0,0,0\n", b"\n", b",,,,,,\n", b"x" * 1000]))
def test_gzip_bombs_stop_at_the_cap(bounded_memory, inflated_mb, line):
    bomb = gzip_bomb(inflated_mb * MB, line)
    result = validate(bomb, SCHEMA, filename="bomb.csv.gz", max_bytes=MB, max_cells=10**9, max_rows=10**9)
    check(result, "bomb.csv.gz")
    if inflated_mb > 2:
        assert "inflates past 2.0 MB" in only_error(result).message


column_values = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
    st.lists(st.integers(-2**63, 2**63 - 1), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.lists(st.one_of(st.none(), cells), min_size=3, max_size=3),
)


@fuzz(150)
@given(columns=st.dictionaries(st.sampled_from(["sample_id", *FEATURES, "true_label", "dob", "other"]),
                               column_values, min_size=1),
       categorical=st.booleans(), index=st.booleans())
def test_parquet_tables_of_any_types_give_a_report(bounded_memory, columns, categorical, index):
    frame = pd.DataFrame(columns)
    if categorical:
        frame = frame.astype({c: "category" for c in frame.columns if frame[c].dtype == object})
    if index and "sample_id" in frame.columns:
        frame = frame.set_index("sample_id")
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer)
    except (pa.ArrowException, ValueError, TypeError):  # a frame Arrow cannot store is no upload
        return
    check(validate(buffer.getvalue(), SCHEMA, filename="typed.parquet", label_column="true_label"), "typed.parquet")


def test_rows_with_more_fields_than_the_header_are_refused_not_shifted():
    """pandas keeps the first fields of a row longer than the header and drops the rest: values would sit
    under the wrong names (an unquoted comma in an id, row names without a header name)."""
    data = (HEADER + "\nSmith, J,1,0,0,1,1,1\nDoe, A,0,1,0,1,1,1\n").encode()
    issue = only_error(validate(data, SCHEMA, filename="shifted.csv"))
    assert issue.code == "unreadable" and "more fields than the 7 columns its first line names" in issue.message
