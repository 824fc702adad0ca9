"""Reading an uploaded table of samples: bytes, a path, a file object or a DataFrame in, a DataFrame out.

CSV, TSV (either optionally gzipped) and Parquet are read; the format comes from the file name and,
when the name gives no hint, from the content. Text is decoded as UTF-8, UTF-16 (Excel's "Unicode
text") or Windows-1252. The size and row limits apply while reading, so an oversized upload or a gzip
bomb is refused before it is in memory. A table that cannot be read raises `InputError`, whose report
holds the one issue (engine.issues). `looks_transposed` tells a table whose samples are its columns.
"""
from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from engine.issues import ERROR, Issue, ValidationReport, preview

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
MAX_BYTES_ENV = "CANCER_ALPHA_MAX_UPLOAD_BYTES"
MAX_ROWS_ENV = "CANCER_ALPHA_MAX_ROWS"
GZIP_MAX_EXPANSION = 10  # decompressed data may be this many times the upload limit (gzip bombs)

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
EXCEL_MAGICS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # xlsx (zip) and legacy xls (OLE)


class InputError(Exception):
    """An input that cannot be read as a table at all; `.report` holds the one error."""

    def __init__(self, report: ValidationReport):
        super().__init__("; ".join(i.message for i in report.issues))
        self.report = report


# ---------------------------------------------------------------------------------------------
# Limits (read from the environment on each call, so a deployment can change them without code)


def _limit(explicit: int | None, env_name: str, default: int) -> int:
    if explicit is not None:
        return int(explicit)
    raw = os.environ.get(env_name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("ignoring %s=%r: not a positive integer; using %d", env_name, raw, default)
        return default
    return value


def max_upload_bytes(explicit: int | None = None) -> int:
    return _limit(explicit, MAX_BYTES_ENV, DEFAULT_MAX_BYTES)


def max_upload_rows(explicit: int | None = None) -> int:
    return _limit(explicit, MAX_ROWS_ENV, DEFAULT_MAX_ROWS)


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(source: Any, *, filename: str | None = None, max_bytes: int | None = None) -> pd.DataFrame:
    """The table in `source` (path, bytes, binary file object or DataFrame), every text column
    read as str so that ids keep leading zeros. Raises `InputError` when it cannot be read."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    name = source_name(source, filename)
    return _read_file(source, name, max_upload_bytes(max_bytes), row_limit=None, text_columns=None)


def read_samples(source: Any, name: str, *, id_column: str, text_columns: set[str], byte_limit: int,
                 row_limit: int) -> pd.DataFrame:
    """The table of samples to validate. A file is read with only `text_columns` (ids, labels) as str
    and the rest parsed as numbers by pandas, which is much faster on wide tables; more than
    `row_limit` rows are refused while reading. A DataFrame is copied, its ids made a column if they
    are its index and its column names cleaned; its rows are the caller's to count."""
    if isinstance(source, pd.DataFrame):
        return _from_dataframe(source.copy(), id_column)
    return _read_file(source, name, byte_limit, row_limit, text_columns)


def source_name(source: Any, filename: str | None = None) -> str:
    """The name messages give the input: the file name without folders, or `<dataframe>`/`<upload>`."""
    if filename:
        return Path(str(filename)).name
    if isinstance(source, pd.DataFrame):
        return "<dataframe>"
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    for attribute in ("filename", "name"):  # uploaded file objects and open files
        value = getattr(source, attribute, None)
        if isinstance(value, (str, os.PathLike)) and str(value):
            return Path(value).name
    return "<upload>"


def too_many_rows(name: str, limit: int, exact: int | None = None) -> Issue:
    has = f"{exact:,} rows" if exact is not None else f"more than {limit:,} rows"
    return Issue("too-many-rows", f"{name} has {has}; at most {limit:,} samples are accepted "
                                  "at once. Split the file into smaller ones.", ERROR)


def _from_dataframe(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    if id_column not in frame.columns and id_column in frame.index.names:
        frame = frame.reset_index()  # ids kept as the index, as the engine's own frames do
    frame.columns = _clean_names(frame.columns)
    return frame


def _read_file(source: Any, name: str, byte_limit: int, row_limit: int | None,
               text_columns: set[str] | None) -> pd.DataFrame:
    """`text_columns=None` reads every column as str; otherwise only those are str."""
    data = _load_bytes(source, name, byte_limit)
    if not data.strip():
        raise _fail(name, "empty-file", f"{name} is empty.")
    compressed, kind = _format_from_name(name)
    if compressed or data.startswith(GZIP_MAGIC):
        data = _gunzip(data, name, byte_limit * GZIP_MAX_EXPANSION)
        if not data.strip():
            raise _fail(name, "empty-file", f"{name} is empty once decompressed.")
    if data.startswith(EXCEL_MAGICS) or name.lower().endswith((".xlsx", ".xls")):
        raise _fail(name, "unreadable", f"{name} looks like an Excel workbook, which is not read; "
                                        "save the sheet as CSV and upload that.")
    if kind == "parquet" or data.startswith(PARQUET_MAGIC):
        return _parse_parquet(data, name, row_limit)
    return _parse_text(data, name, kind, row_limit, text_columns)


def _load_bytes(source: Any, name: str, limit: int) -> bytes:
    too_large = f"{name} is larger than the upload limit of {_size(limit)}."
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > limit:
                raise _fail(name, "too-large", too_large)
            data = path.read_bytes()
        except OSError as exc:
            raise _fail(name, "unreadable", f"{name} could not be opened: {exc.strerror or exc}.") from None
    elif hasattr(source, "read"):
        try:
            data = source.read(limit + 1)  # never pull more than the limit into memory
        except Exception as exc:  # noqa: BLE001 - any failure of a foreign stream is "unreadable"
            raise _fail(name, "unreadable", f"{name} could not be read: {exc}.") from None
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        raise _fail(name, "unreadable", f"{name}: cannot read a table from a {type(source).__name__}.")
    if len(data) > limit:
        raise _fail(name, "too-large", too_large)
    return data


def _format_from_name(name: str) -> tuple[bool, str | None]:
    """(gzip-compressed?, "csv" | "tsv" | "text" | "parquet" | None) from the file name suffix."""
    lower = name.lower()
    compressed = lower.endswith(".gz")
    if compressed:
        lower = lower[:-3]
    for suffixes, kind in (((".csv",), "csv"), ((".tsv", ".tab"), "tsv"), ((".txt",), "text"),
                           ((".parquet", ".pq"), "parquet")):
        if lower.endswith(suffixes):
            return compressed, kind
    return compressed, None


def _gunzip(data: bytes, name: str, limit: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(limit + 1)  # bounded: a small gzip can expand enormously
    except (OSError, EOFError, zlib.error):
        raise _fail(name, "unreadable", f"{name} is not a valid gzip file (corrupt or truncated).") from None
    if len(out) > limit:
        raise _fail(name, "too-large", f"{name} decompresses to more than {_size(limit)}.")
    return out


def _parse_parquet(data: bytes, name: str, row_limit: int | None) -> pd.DataFrame:
    try:
        n_rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        if row_limit is not None and n_rows > row_limit:
            raise _refused(name, too_many_rows(name, row_limit, exact=n_rows))
        frame = pd.read_parquet(io.BytesIO(data))
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - pyarrow raises many types for corrupt files
        raise _fail(name, "unreadable",
                    f"{name} is not a valid Parquet file (corrupt or truncated).") from None
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()  # an index saved with the table (often the ids) is a column
    frame.columns = _clean_names(frame.columns)
    return frame


def _parse_text(data: bytes, name: str, kind: str | None, row_limit: int | None,
                text_columns: set[str] | None) -> pd.DataFrame:
    text = _decode(data, name)
    text = re.sub(r"\A(?:[ \t]*\r?\n)+", "", text)  # leading blank lines would shift the header
    sep, decimal = _dialect(text, name, kind)
    try:
        # Header first, without NA parsing, so that names are kept exactly and never de-duplicated.
        header = pd.read_csv(io.StringIO(text), sep=sep, header=None, nrows=1, dtype=str,
                             keep_default_na=False).iloc[0].tolist()
        names = _clean_names(header)
        if len(names) > 1 and all(_is_number(n) for n in names):
            raise _fail(name, "no-header", f"{name} has no header row: its first line "
                        f"({preview(names)}) holds numbers, not column names. Add a first line "
                        "naming the columns (the sample id column and the features).")
        if text_columns is None:
            dtype: Any = str
        else:
            dtype = {i: str for i, n in enumerate(names) if n in text_columns}
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, skiprows=1, decimal=decimal,
                            names=list(range(len(names))), index_col=False, dtype=dtype,
                            low_memory=False,  # whole-column type inference, no mixed chunks
                            nrows=None if row_limit is None else row_limit + 1)
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise _fail(name, "empty-file", f"{name} is empty.") from None
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        raise _fail(name, "unreadable", f"{name} could not be read as a table: {detail}.") from None
    if row_limit is not None and len(frame) > row_limit:
        raise _refused(name, too_many_rows(name, row_limit))
    frame.columns = names
    return frame


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, as Excel's "Unicode text" saves
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if _looks_binary(data[:65536]):
        raise _fail(name, "unreadable", f"{name} is not a text table (it holds binary data); "
                                        "upload CSV, TSV or Parquet.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # spreadsheets saved on Windows


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    control = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, *range(14, 32), 127))
    return control > 0.05 * max(len(head), 1)


DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
SNIFF_LINES = 50  # lines (the header and the first rows) that decide the delimiter
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+(?:[eE][+-]?\d+)?$")
DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+(?:[eE][+-]?\d+)?$")


def _fields(lines: list[str], sep: str) -> list[int]:
    try:
        return [len(row) for row in csv.reader(lines, delimiter=sep)]
    except csv.Error:  # a quoted field across lines: this sample of lines decides nothing
        return [0]


def _dialect(text: str, name: str, kind: str | None) -> tuple[str, str]:
    """(delimiter, decimal mark) from the header and the first rows: the delimiter that splits every
    sampled line into the header's number of fields (more than one); decimal commas when a file that
    is not comma-separated writes its numbers with them and never with a point. When no delimiter
    fits every line, the header decides (pandas then names the first line that differs); numbers
    written with both marks are refused in one sentence."""
    # the first SNIFF_LINES lines are whole (the split's last part holds the rest of the file)
    lines = [line.rstrip("\r") for line in text.split("\n", SNIFF_LINES)[:SNIFF_LINES] if line.strip()]
    lines = lines or [text.split("\n", 1)[0]]
    expected = {"csv": ",", "tsv": "\t"}.get(kind or "")
    fitting = {}
    for sep in DELIMITERS:
        counts = _fields(lines, sep)
        if counts[0] > 1 and all(c == counts[0] for c in counts):
            fitting[sep] = counts[0]
    if fitting:
        sep = expected if expected in fitting else max(fitting, key=lambda d: fitting[d])
    else:
        sep = _delimiter(lines[0], kind)
    if sep == "," or len(lines) < 2:
        return sep, "."
    cells = [cell.strip() for row in csv.reader(lines[1:], delimiter=sep) for cell in row[1:]]
    commas = sum(1 for c in cells if DECIMAL_COMMA.match(c))
    points = sum(1 for c in cells if DECIMAL_POINT.match(c))
    if commas and points:
        raise _fail(name, "unreadable", f"{name} separates its columns with {DELIMITERS[sep]} and writes "
                    f"numbers with both decimal commas (such as '{next(c for c in cells if DECIMAL_COMMA.match(c))}') "
                    "and decimal points; save it again with one decimal mark, a point, throughout.")
    return sep, "," if commas else "."


def _delimiter(first_line: str, kind: str | None) -> str:
    """The suffix's delimiter unless the header plainly uses another; else the most used one."""
    counts = {sep: first_line.count(sep) for sep in (",", "\t", ";")}
    expected = {"csv": ",", "tsv": "\t"}.get(kind or "")
    if expected and counts[expected] > 0:
        return expected
    best = max(counts, key=lambda sep: counts[sep])  # ties keep the comma (dict order)
    return best if counts[best] > 0 else (expected or ",")


def _clean_names(names: Iterable[Any]) -> list[str]:
    """Column names as stripped text; a blank one becomes 'unnamed_<position>' (1-based)."""
    out = []
    for position, value in enumerate(names, start=1):
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        out.append(text or f"unnamed_{position}")
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1024 / 1024:.1f} MB" if n_bytes >= 1024 * 1024 else f"{n_bytes:,} bytes"


def _refused(name: str, issue: Issue) -> InputError:
    return InputError(ValidationReport(source=name, issues=[issue], n_samples=0))


def _fail(name: str, code: str, message: str) -> InputError:
    return _refused(name, Issue(code, message, ERROR))


# ---------------------------------------------------------------------------------------------
# Orientation


@dataclass(frozen=True)
class Transposed:
    """Why a table looks like samples as columns and features as rows."""

    first_column: str  # its name: the column that holds feature names
    hits: int  # feature names found in the first column
    example: str  # one of them
    in_header: int  # feature names found in the header


def looks_transposed(frame: pd.DataFrame, feature_names: Iterable[str]) -> Transposed | None:
    """The evidence when the first column holds feature names and the header few of them, else None."""
    names = set(feature_names)
    in_header = sum(1 for c in frame.columns if c in names)
    if frame.shape[1] == 0 or in_header >= 0.5 * len(names):
        return None
    first = frame.iloc[:, 0].dropna().astype(str).str.strip()
    hits = int(first.isin(names).sum())
    if hits < 2 or (hits < 20 and hits < 0.5 * len(first)):
        return None
    return Transposed(first_column=str(frame.columns[0]), hits=hits, example=first[first.isin(names)].iloc[0],
                      in_header=in_header)
