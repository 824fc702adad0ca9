"""Reading an uploaded table of samples: bytes, a path, a file object or a DataFrame in, a DataFrame out.

CSV, TSV (either optionally gzipped) and Parquet are read; the format comes from the file name and,
when the name gives no hint, from the content. Text is decoded as UTF-8, UTF-16 (Excel's "Unicode
text") or Windows-1252. The limits of one upload (engine.read_limits.ReadLimits: bytes, columns, rows,
values, inflated bytes) are checked before the data they guard is in memory: a Parquet file's metadata
first (engine.parquet_tables), a text file's first line, then at most as many rows as the limits allow,
from a gzip stream that stops at its cap. A table that cannot be read, or passes a limit, raises
`InputError`, whose report holds the one issue (engine.issues). `looks_transposed` tells a table whose
samples are its columns.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from engine import parquet_tables
from engine.issues import preview
from engine.read_limits import (DEFAULT_MAX_ROWS, InputError, ReadLimits, fail, gunzip, gunzip_stream, max_upload_bytes,
                                max_upload_cells, size_text)

__all__ = ["DEFAULT_MAX_ROWS", "InputError", "looks_transposed", "read_samples", "read_table", "source_name"]

GZIP_MAGIC = b"\x1f\x8b"
EXCEL_MAGICS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # xlsx (zip) and legacy xls (OLE)
HEAD_BYTES = 4 * 1024 * 1024  # the start of a text file read first: its header and the lines that decide the dialect
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

Opener = Callable[[], io.BufferedIOBase]  # a fresh binary stream of the (decompressed) table at each call


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(source: Any, *, filename: str | None = None, max_bytes: int | None = None) -> pd.DataFrame:
    """The table in `source` (path, bytes, binary file object or DataFrame), every text column
    read as str so that ids keep leading zeros. Raises `InputError` when it cannot be read. Without a
    schema there is no width or row limit, only those of bytes and values."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    name = source_name(source, filename)
    limits = ReadLimits(max_bytes=max_upload_bytes(max_bytes), max_rows=None, max_cells=max_upload_cells())
    return _read_file(source, name, limits, text_columns=None)


def read_samples(source: Any, name: str, *, id_column: str, text_columns: set[str],
                 limits: ReadLimits) -> pd.DataFrame:
    """The table of samples to validate. A file is read with only `text_columns` (ids, labels) as str
    and the rest parsed as numbers by pandas, which is much faster on wide tables; a file past one of
    `limits` is refused while reading. A DataFrame is copied, its ids made a column if they are its
    index and its column names cleaned; its rows are the caller's to count."""
    if isinstance(source, pd.DataFrame):
        return _from_dataframe(source.copy(), id_column)
    return _read_file(source, name, limits, text_columns)


MAX_NAME_CHARS = 120  # of a file name as messages give it: a hostile name must not make every message huge


def source_name(source: Any, filename: str | None = None) -> str:
    """The name messages give the input: the file name without folders (cut in the middle to MAX_NAME_CHARS),
    or `<dataframe>`/`<upload>`."""
    name = _source_name(source, filename)
    if len(name) <= MAX_NAME_CHARS:
        return name
    return name[:MAX_NAME_CHARS - 41] + "…" + name[-40:]  # the end keeps the suffix, which tells the format


def _source_name(source: Any, filename: str | None) -> str:
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


def _from_dataframe(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    if id_column not in frame.columns and id_column in frame.index.names:
        frame = frame.reset_index()  # ids kept as the index, as the engine's own frames do
    frame.columns = _clean_names(frame.columns)
    return frame


def _read_file(source: Any, name: str, limits: ReadLimits, text_columns: set[str] | None) -> pd.DataFrame:
    """`text_columns=None` reads every column as str; otherwise only those are str."""
    data = _load_bytes(source, name, limits.max_bytes)
    if not data.strip():
        raise fail(name, "empty-file", f"{name} is empty.")
    suffix_gz, kind = _format_from_name(name)
    compressed = suffix_gz or data.startswith(GZIP_MAGIC)
    if compressed:
        opener = lambda: gunzip_stream(data, name, limits.inflated)  # noqa: E731 - a fresh stream per call
    else:
        opener = lambda: io.BytesIO(data)  # noqa: E731
    head = opener().read(HEAD_BYTES + 1)
    if not head.strip():
        raise fail(name, "empty-file", f"{name} is empty once decompressed.")
    if head.startswith(EXCEL_MAGICS) or name.lower().endswith((".xlsx", ".xls")):
        raise fail(name, "unreadable", f"{name} looks like an Excel workbook, which is not read; "
                                       "save the sheet as CSV and upload that.")
    if kind == "parquet" or head.startswith(parquet_tables.MAGIC):
        whole = gunzip(data, name, limits.inflated) if compressed else data
        frame = parquet_tables.read(whole, name, limits)
        frame.columns = _clean_names(frame.columns)
        return frame
    return _parse_text(opener, head, name, kind, limits, text_columns)


def _load_bytes(source: Any, name: str, limit: int) -> bytes:
    too_large = f"{name} is larger than the upload limit of {size_text(limit)}."
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > limit:
                raise fail(name, "too-large", too_large)
            data = path.read_bytes()
        except OSError as exc:
            raise fail(name, "unreadable", f"{name} could not be opened: {exc.strerror or exc}.") from None
    elif hasattr(source, "read"):
        try:
            data = source.read(limit + 1)  # never pull more than the limit into memory
        except Exception as exc:  # noqa: BLE001 - any failure of a foreign stream is "unreadable"
            raise fail(name, "unreadable", f"{name} could not be read: {exc}.") from None
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        raise fail(name, "unreadable", f"{name}: cannot read a table from a {type(source).__name__}.")
    if len(data) > limit:
        raise fail(name, "too-large", too_large)
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


# ---------------------------------------------------------------------------------------------
# Text


def _parse_text(opener: Opener, head: bytes, name: str, kind: str | None, limits: ReadLimits,
                text_columns: set[str] | None) -> pd.DataFrame:
    """The table, read as the first encoding that decodes all of it does (UTF-16 when it starts with a
    byte-order mark; else UTF-8, then Windows-1252, in which every byte means something)."""
    if head.startswith(UTF16_BOMS):
        try:
            return _parse_decoded(opener, head, "utf-16", name, kind, limits, text_columns)
        except UnicodeError:
            pass
    if _looks_binary(head[:65536]):
        raise fail(name, "unreadable", f"{name} is not a text table (it holds binary data); "
                                       "upload CSV, TSV or Parquet.")
    try:
        return _parse_decoded(opener, head, "utf-8-sig", name, kind, limits, text_columns)
    except UnicodeError:
        return _parse_decoded(opener, head, "cp1252", name, kind, limits, text_columns)  # saved on Windows


def _parse_decoded(opener: Opener, head: bytes, encoding: str, name: str, kind: str | None, limits: ReadLimits,
                   text_columns: set[str] | None) -> pd.DataFrame:
    text, blank_lines = _head_lines(head, encoding, name)
    sep, decimal = _dialect(text, name, kind)
    names = _header(text, sep, name)
    limits.check_shape(name, len(names))
    if text_columns is None:
        dtype: Any = str
    else:
        dtype = {i: str for i, n in enumerate(names) if n in text_columns}
    options = dict(sep=sep, decimal=decimal, dtype=dtype, skiprows=blank_lines + 1, encoding=encoding,
                   encoding_errors="replace" if encoding == "cp1252" else "strict")
    frame = _read_rows(opener, names, name, limits, options)
    frame.columns = names
    return frame


def _head_lines(head: bytes, encoding: str, name: str) -> tuple[str, int]:
    """(the whole lines of the file's start from its header on, the blank lines before the header);
    UnicodeError when `head` is not in `encoding`."""
    more = len(head) > HEAD_BYTES
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace" if encoding == "cp1252" else "strict")
    text = decoder.decode(head[:HEAD_BYTES], final=not more)
    leading = re.match(r"(?:[ \t]*(?:\r\n|\r|\n))*", text).group(0)  # blank lines would shift the header
    text = text[len(leading):]
    if more:
        end = max(text.rfind("\n"), text.rfind("\r"))
        if end < 0:
            raise fail(name, "unreadable", f"{name}: its first line is longer than {size_text(HEAD_BYTES)}; "
                                           "the first line must name the columns, one name per column.")
        text = text[:end + 1]
    return text, len(LINE_BREAK.findall(leading))


def _header(text: str, sep: str, name: str) -> list[str]:
    """The column names of the first line, kept exactly (no NA parsing, never de-duplicated)."""
    try:
        header = pd.read_csv(io.StringIO(text), sep=sep, header=None, nrows=1, dtype=str,
                             keep_default_na=False).iloc[0].tolist()
    except pd.errors.EmptyDataError:
        raise fail(name, "empty-file", f"{name} is empty.") from None
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise _unreadable(name, exc) from None
    names = _clean_names(header)
    if len(names) > 1 and all(_is_number(n) for n in names):
        raise fail(name, "no-header", f"{name} has no header row: its first line "
                   f"({preview(names)}) holds numbers, not column names. Add a first line "
                   "naming the columns (the sample id column and the features).")
    return names


def _read_rows(opener: Opener, names: list[str], name: str, limits: ReadLimits, options: dict) -> pd.DataFrame:
    """The rows after the header, refused past the row or cell limit: pandas parses at most one row more than
    that (its tokenizer works through the text in chunks, and builds each column once, so the frame is the
    only copy of the values)."""
    width = len(names)
    allowed = limits.rows_for(width)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)  # numbers and text in a column: validation says so
            frame = pd.read_csv(opener(), header=None, names=list(range(width)), index_col=False, nrows=allowed + 1,
                                **options)
        if any("Length of header" in str(w.message) for w in caught):  # pandas dropped the extra fields
            raise fail(name, "unreadable", f"{name}: its rows have more fields than the {width:,} columns its first "
                       "line names, so values would land under the wrong names; a value may hold the delimiter "
                       "unquoted, or the header may lack a name (for row names). Give each row one field a column.")
    except (InputError, UnicodeError):
        raise
    except pd.errors.EmptyDataError:
        raise fail(name, "empty-file", f"{name} is empty.") from None
    except (pd.errors.ParserError, ValueError, csv.Error, OverflowError) as exc:
        raise _unreadable(name, exc) from None
    if len(frame) > allowed:
        raise limits.too_long(name, width)
    return frame


def _unreadable(name: str, exc: Exception) -> InputError:
    detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
    return fail(name, "unreadable", f"{name} could not be read as a table: {detail[:300]}.")


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    control = sum(head.count(bytes([b])) for b in (*range(0, 9), 11, *range(14, 32), 127))
    return control > 0.05 * max(len(head), 1)


DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
SNIFF_LINES = 50  # lines (the header and the first rows) that decide the delimiter
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the line ends pandas' parser knows
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
    lines = [line for line in LINE_BREAK.split(text, SNIFF_LINES)[:SNIFF_LINES] if line.strip()]
    lines = lines or [LINE_BREAK.split(text, 1)[0]]
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
    try:
        cells = [cell.strip() for row in csv.reader(lines[1:], delimiter=sep) for cell in row[1:]]
    except csv.Error:  # a quoted field across lines: these lines decide nothing (pandas reads or names it)
        cells = []
    commas = sum(1 for c in cells if DECIMAL_COMMA.match(c))
    points = sum(1 for c in cells if DECIMAL_POINT.match(c))
    if commas and points:
        raise fail(name, "unreadable", f"{name} separates its columns with {DELIMITERS[sep]} and writes "
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
