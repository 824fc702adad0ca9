"""Reading and validating an uploaded table of samples against a model's feature schema.

`read_table` turns a CSV, TSV (either optionally gzipped) or Parquet file into a DataFrame and
raises `InputError` with a one-issue report when it cannot. `validate` never raises for bad input:
every problem becomes an `Issue` (a stable code, a sentence naming file, row, sample and column,
and a severity). Errors reject the file; warnings are told to the user but do not stop prediction.

Cell-level problems are grouped per column (one issue per column, listing its first few rows) and
at most `MAX_ISSUES_PER_CODE` issues of one code are kept, so a badly broken 10,000-row file gives
a readable report rather than millions of lines. All cell checks are vectorised numpy/pandas.
"""
from __future__ import annotations

import csv
import gzip
import io
import logging
import os
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.schema import BINARY, FeatureSchema

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
MAX_BYTES_ENV = "CANCER_ALPHA_MAX_UPLOAD_BYTES"
MAX_ROWS_ENV = "CANCER_ALPHA_MAX_ROWS"

MAX_ISSUES_PER_CODE = 50  # then one summary issue "and N more ..."
LIST_FIRST = 5  # rows, names or ids spelled out in one message
GZIP_MAX_EXPANSION = 10  # decompressed data may be this many times the upload limit (gzip bombs)

ERROR = "error"
WARNING = "warning"

# Column names (normalised: lower case, runs of non-alphanumerics -> "_") that identify a person.
PII_NAMES = frozenset({
    "name", "full_name", "patient_name", "first_name", "given_name", "middle_name", "last_name",
    "family_name", "surname", "dob", "date_of_birth", "birth_date", "birthdate", "birthday",
    "mrn", "medical_record_number", "address", "home_address", "street", "street_address",
    "postcode", "post_code", "postal_code", "zip", "zipcode", "zip_code", "phone", "phone_number",
    "telephone", "telephone_number", "mobile", "mobile_number", "email", "e_mail", "email_address",
    "ssn", "social_security", "social_security_number", "nhs_number",
})

# Cell texts that mean "no value" (pandas reads most of these as NA already; DataFrames may not).
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>"})

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
EXCEL_MAGICS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # xlsx (zip) and legacy xls (OLE)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Issue:
    """One problem found in an input. `row` is 1-based over data rows (first sample = row 1)."""

    code: str
    message: str
    severity: str
    row: int | None = None
    sample: str | None = None
    column: str | None = None
    count: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ValidationReport:
    source: str
    issues: list[Issue] = field(default_factory=list)
    n_samples: int = 0

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "n_samples": self.n_samples,
            "ok": self.ok,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "issues": [i.to_dict() for i in self.issues],
        }

    def summary(self) -> str:
        n_err, n_warn = len(self.errors), len(self.warnings)
        head = f"{self.source}: {_plural(self.n_samples, 'sample')}; "
        if not self.issues:
            return head + "no problems found."
        lines = [head + f"{_plural(n_err, 'error')}, {_plural(n_warn, 'warning')}."]
        lines += [f"  {i.severity}: {i.message}" for i in self.errors + self.warnings]
        return "\n".join(lines)


@dataclass
class ValidatedInput:
    """The validated table. `X`, `out_of_range` and `labels` are None when the report has errors."""

    report: ValidationReport
    ids: list[str]
    X: np.ndarray | None = None
    out_of_range: np.ndarray | None = None
    labels: pd.Series | None = None


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


def max_rows(explicit: int | None = None) -> int:
    return _limit(explicit, MAX_ROWS_ENV, DEFAULT_MAX_ROWS)


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(source: Any, *, filename: str | None = None, max_bytes: int | None = None) -> pd.DataFrame:
    """The table in `source` (path, bytes, binary file object or DataFrame), every text column
    read as str so that ids keep leading zeros. Raises `InputError` when it cannot be read."""
    name = _source_name(source, filename)
    return _read(source, name, max_upload_bytes(max_bytes), row_limit=None, text_columns=None)


def _read(source: Any, name: str, byte_limit: int, row_limit: int | None,
          text_columns: set[str] | None) -> pd.DataFrame:
    """`text_columns=None` reads every column as str; otherwise only those (ids, labels) are str
    and the rest are parsed as numbers by pandas, which is much faster on wide tables."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
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
            raise _too_many_rows(name, row_limit, exact=n_rows)
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
    first_line = text.split("\n", 1)[0]
    sep = _delimiter(first_line, kind)
    try:
        # Header first, without NA parsing, so that names are kept exactly and never de-duplicated.
        header = pd.read_csv(io.StringIO(text), sep=sep, header=None, nrows=1, dtype=str,
                             keep_default_na=False).iloc[0].tolist()
        names = _clean_names(header)
        if len(names) > 1 and all(_is_number(n) for n in names):
            raise _fail(name, "no-header", f"{name} has no header row: its first line "
                        f"({_preview(names)}) holds numbers, not column names. Add a first line "
                        "naming the columns (the sample id column and the features).")
        if text_columns is None:
            dtype: Any = str
        else:
            dtype = {i: str for i, n in enumerate(names) if n in text_columns}
        frame = pd.read_csv(io.StringIO(text), sep=sep, header=None, skiprows=1,
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
        raise _too_many_rows(name, row_limit)
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


def _too_many_rows(name: str, limit: int, exact: int | None = None) -> InputError:
    has = f"{exact:,} rows" if exact is not None else f"more than {limit:,} rows"
    return _fail(name, "too-many-rows", f"{name} has {has}; at most {limit:,} samples are accepted "
                                        "at once. Split the file into smaller ones.")


def _fail(name: str, code: str, message: str) -> InputError:
    return InputError(ValidationReport(source=name, issues=[Issue(code, message, ERROR)], n_samples=0))


# ---------------------------------------------------------------------------------------------
# Validation


def validate(source: Any, schema: FeatureSchema, *, filename: str | None = None,
             label_column: str | None = None, max_rows: int | None = None,
             max_bytes: int | None = None) -> ValidatedInput:
    """Read `source` and check it against `schema`. Never raises for bad input."""
    name = _source_name(source, filename)
    row_limit = _limit(max_rows, MAX_ROWS_ENV, DEFAULT_MAX_ROWS)
    text_columns = {schema.id_column} | ({label_column} if label_column else set())
    try:
        frame = _read(source, name, max_upload_bytes(max_bytes), row_limit, text_columns)
    except InputError as exc:
        return ValidatedInput(report=exc.report, ids=[])
    if isinstance(source, pd.DataFrame):
        frame = _prepare_dataframe(frame, schema.id_column)
    return _Validation(frame, schema, name, label_column, row_limit).run()


def _prepare_dataframe(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    if id_column not in frame.columns and id_column in frame.index.names:
        frame = frame.reset_index()  # ids kept as the index, as the engine's own frames do
    frame.columns = _clean_names(frame.columns)
    return frame


class _Validation:
    """One validation run: the checks share the frame, the ids and the issue list."""

    def __init__(self, frame: pd.DataFrame, schema: FeatureSchema, name: str,
                 label_column: str | None, row_limit: int):
        self.frame = frame
        self.schema = schema
        self.name = name
        self.label_column = label_column
        self.row_limit = row_limit
        self.issues: list[Issue] = []
        self.ids: list[str] | None = None
        self.n_samples = len(frame)

    def run(self) -> ValidatedInput:
        n = len(self.frame)
        if n > self.row_limit:  # DataFrames skip the reader's check
            return self._rejected(_too_many_rows(self.name, self.row_limit, exact=n).report.issues[0])
        if self._check_transposed():
            self.n_samples = 0  # its rows are features, not samples
            return self._result()
        if n == 0:
            return self._rejected(Issue("no-samples", f"{self.name} has a header but no sample rows.", ERROR))
        self._check_duplicate_columns()
        self.frame = self.frame.loc[:, ~self.frame.columns.duplicated()]
        self._check_id_column()
        pii = self._check_personal_identifiers()
        self._check_missing_features()
        self._check_extra_columns(pii)
        self._check_label_column()
        if pii:
            return self._result()  # rejected unread: no cell of a file with personal data is looked at
        self._check_ids()
        X, out_of_range = self._check_cells()
        return self._result(X, out_of_range)

    # -- results ----------------------------------------------------------------------------

    def _report(self) -> ValidationReport:
        return ValidationReport(source=self.name, issues=self.issues, n_samples=self.n_samples)

    def _rejected(self, issue: Issue) -> ValidatedInput:
        self.issues.append(issue)
        return self._result()

    def _result(self, X: np.ndarray | None = None, out_of_range: np.ndarray | None = None) -> ValidatedInput:
        report = self._report()
        ids = self.ids or []
        if not report.ok:
            return ValidatedInput(report=report, ids=ids)
        return ValidatedInput(report=report, ids=ids, X=X, out_of_range=out_of_range, labels=self._labels())

    def _labels(self) -> pd.Series | None:
        if not self.label_column or self.label_column not in self.frame.columns:
            return None
        values = self.frame[self.label_column]
        labels = values.astype(str).str.strip().where(values.notna())
        return pd.Series(labels.to_numpy(), index=pd.Index(self.ids, name=self.schema.id_column),
                         name=self.label_column)

    def _add(self, issues: list[Issue], what: str, unit: str = "cell") -> None:
        """Add issues of one code, keeping the first MAX_ISSUES_PER_CODE and summarising the rest."""
        self.issues.extend(issues[:MAX_ISSUES_PER_CODE])
        rest = issues[MAX_ISSUES_PER_CODE:]
        if rest:
            count = sum(i.count for i in rest)
            self.issues.append(Issue(rest[0].code, f"{self.name}: and {len(rest)} more {what} "
                                     f"({_plural(count, unit)}).",
                                     rest[0].severity, count=count))

    def _sample(self, row: int) -> str | None:
        return (self.ids[row] or None) if self.ids else None

    def _where(self, row: int) -> str:
        sample = self._sample(row)
        return f"row {row + 1}" + (f" (sample '{sample}')" if sample else "")

    # -- table shape ------------------------------------------------------------------------

    def _check_transposed(self) -> bool:
        """Samples as columns and features as rows: the first column holds feature names."""
        names = set(self.schema.names)
        in_header = sum(1 for c in self.frame.columns if c in names)
        if self.frame.shape[1] == 0 or in_header >= 0.5 * len(names):
            return False
        first = self.frame.iloc[:, 0].dropna().astype(str).str.strip()
        hits = int(first.isin(names).sum())
        if hits < 2 or (hits < 20 and hits < 0.5 * len(first)):
            return False
        self.issues.append(Issue(
            "transposed",
            f"{self.name}: samples appear to be columns and features rows ({hits} feature names such "
            f"as '{first[first.isin(names)].iloc[0]}' are in the first column, {in_header} in the header); "
            "transpose the file so each row is a sample.",
            ERROR, column=str(self.frame.columns[0]), count=hits))
        return True

    def _check_duplicate_columns(self) -> None:
        columns = pd.Series(self.frame.columns)
        duplicated = columns[columns.duplicated()].unique().tolist()
        self._add([Issue("duplicate-column", f"{self.name}: column '{c}' appears "
                         f"{int((columns == c).sum())} times; each column must appear once.", ERROR,
                         column=c, count=int((columns == c).sum())) for c in duplicated],
                  "duplicated columns", unit="column")

    def _check_id_column(self) -> None:
        id_column = self.schema.id_column
        if id_column in self.frame.columns:
            self.ids = _id_strings(self.frame[id_column])
            return
        near = [c for c in self.frame.columns if c.lower() == id_column.lower()]
        hint = f" A column '{near[0]}' exists: rename it to '{id_column}'." if near else ""
        self.issues.append(Issue(
            "missing-id-column",
            f"{self.name} has no '{id_column}' column; every row must carry its sample id in a column "
            f"named '{id_column}'.{hint}", ERROR, column=id_column))

    def _check_personal_identifiers(self) -> list[str]:
        allowed = set(self.schema.names) | {self.schema.id_column}
        found = [c for c in self.frame.columns if c not in allowed and _normalise(c) in PII_NAMES]
        self._add([Issue("personal-identifier",
                         f"{self.name}: column '{c}' looks like a personal identifier; files with "
                         "names, birth dates, record numbers or contact details are rejected. Remove "
                         "the column and upload de-identified data.", ERROR, column=c) for c in found],
                  "columns with personal identifiers", unit="column")
        return found

    def _check_missing_features(self) -> None:
        present = set(self.frame.columns)
        missing = [f for f in self.schema.names if f not in present]
        if not missing:
            return
        self.issues.append(Issue(
            "missing-feature",
            f"{self.name} lacks {_plural(len(missing), 'feature column')} the model needs "
            f"({_preview(missing)}); missing features are never filled in.", ERROR,
            column=missing[0] if len(missing) == 1 else None, count=len(missing)))

    def _check_extra_columns(self, pii: list[str]) -> None:
        known = set(self.schema.names) | {self.schema.id_column, self.label_column} | set(pii)
        extra = [c for c in self.frame.columns if c not in known]
        if not extra:
            return
        self.issues.append(Issue(
            "extra-column",
            f"{self.name} has {_plural(len(extra), 'column')} the model does not use, ignored: "
            f"{_preview(extra)}.", WARNING, column=extra[0] if len(extra) == 1 else None,
            count=len(extra)))

    def _check_label_column(self) -> None:
        if self.label_column and self.label_column not in self.frame.columns:
            self.issues.append(Issue(
                "missing-label-column", f"{self.name} has no '{self.label_column}' column, so the "
                "predictions cannot be compared with known labels.", WARNING, column=self.label_column))

    # -- ids --------------------------------------------------------------------------------

    def _check_ids(self) -> None:
        if self.ids is None:
            return
        ids = pd.Series(self.ids)
        empty = np.flatnonzero((ids == "").to_numpy())
        if len(empty):
            self.issues.append(Issue(
                "empty-id", f"{self.name}: {_plural(len(empty), 'row')} without a sample id in "
                f"'{self.schema.id_column}' ({_rows(empty)}).", ERROR, row=int(empty[0]) + 1,
                column=self.schema.id_column, count=len(empty)))
        repeated = ids[ids.duplicated(keep=False) & (ids != "")]
        issues = []
        for sample, positions in repeated.groupby(repeated, sort=False).indices.items():
            rows = repeated.index.to_numpy()[positions]
            issues.append(Issue(
                "duplicate-id", f"{self.name}: sample id '{sample}' appears {len(rows)} times "
                f"({_rows(rows)}); each sample must appear once.", ERROR, row=int(rows[0]) + 1,
                sample=str(sample), column=self.schema.id_column, count=len(rows)))
        self._add(issues, "duplicated sample ids", unit="row")

    # -- cells ------------------------------------------------------------------------------

    def _check_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Feature values as numbers (schema order, NaN where missing) and out-of-range counts."""
        present = set(self.frame.columns)
        features = [f for f in self.schema.features if f.name in present]
        columns = [f.name for f in features]
        values, bad = _to_numbers(self.frame, columns)
        missing = np.isnan(values) & ~bad
        is_binary = np.array([f.kind == BINARY for f in features], dtype=bool)
        with np.errstate(invalid="ignore"):
            non_binary = is_binary & ~np.isnan(values) & (values != 0) & (values != 1)
            lo = np.array([np.nan if f.minimum is None else f.minimum for f in features], dtype=float)
            hi = np.array([np.nan if f.maximum is None else f.maximum for f in features], dtype=float)
            outside = ((values < lo) | (values > hi)) & ~non_binary  # NaN bounds compare False

        self._per_column(bad, columns, "non-numeric", ERROR, "columns with non-numeric values",
                         lambda c, r: f"has {_plural(len(r), 'value')} that {'is' if len(r) == 1 else 'are'} "
                         f"not a finite number ({_rows(r)}); first in {self._where(r[0])}: "
                         f"{_cell(self.frame[c].iloc[r[0]])}. Feature values must be numbers.")
        self._per_column(non_binary, columns, "non-binary", ERROR,
                         "binary columns with values other than 0/1",
                         lambda c, r: f"is a binary feature but has {_plural(len(r), 'value')} other than "
                         f"0 or 1 ({_rows(r)}); first in {self._where(r[0])}: "
                         f"{_number(values[r[0], columns.index(c)])}.")
        self._per_column(missing, columns, "missing-value", WARNING, "columns with missing values",
                         lambda c, r: f"has {_plural(len(r), 'missing value')} ({_rows(r)}); "
                         f"{'it is' if len(r) == 1 else 'they are'} imputed as the model's pipeline "
                         "does (training median).")
        self._per_column(outside, columns, "out-of-range", WARNING,
                         "columns with values outside the training range",
                         lambda c, r: f"has {_plural(len(r), 'value')} outside the training range "
                         f"[{_number(lo[columns.index(c)])}, {_number(hi[columns.index(c)])}] ({_rows(r)}); "
                         f"first in {self._where(r[0])}: {_number(values[r[0], columns.index(c)])}. "
                         "Predictions for these samples are less certain.")
        return values, outside.sum(axis=1).astype(np.int64)

    def _per_column(self, mask: np.ndarray, columns: list[str], code: str, severity: str,
                    what: str, describe) -> None:
        """One issue per column with any True cell: first row and sample, count, first rows."""
        issues = []
        for j in np.flatnonzero(mask.any(axis=0)):
            rows = np.flatnonzero(mask[:, j])
            column = columns[j]
            issues.append(Issue(code, f"{self.name}: column '{column}' {describe(column, rows)}", severity,
                                row=int(rows[0]) + 1, sample=self._sample(int(rows[0])), column=column,
                                count=len(rows)))
        self._add(issues, what)


# ---------------------------------------------------------------------------------------------
# Cell conversion


def _to_numbers(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(values, bad): float64 values with NaN where missing or not a number, and the mask of cells
    that hold something which is not a finite number (text, booleans, infinities)."""
    values = np.full((len(frame), len(columns)), np.nan)
    bad = np.zeros(values.shape, dtype=bool)
    numeric = [j for j, c in enumerate(columns)
               if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    if numeric:  # one block conversion for the common, already numeric case
        values[:, numeric] = frame[[columns[j] for j in numeric]].to_numpy(dtype=np.float64, na_value=np.nan)
    for j in sorted(set(range(len(columns))) - set(numeric)):
        values[:, j], bad[:, j] = _text_to_numbers(frame[columns[j]])
    infinite = np.isinf(values)
    bad |= infinite
    values[infinite] = np.nan
    return values, bad


def _text_to_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_bool_dtype(column):  # True/False is not 0/1: say so rather than guess
        return np.full(len(column), np.nan), column.notna().to_numpy()
    try:  # Arrow's strict cast is ~10x faster than to_numeric on clean text columns
        numbers = pc.cast(pa.array(column, type=pa.string(), from_pandas=True), pa.float64())
        values = numbers.to_numpy(zero_copy_only=False).astype(np.float64)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = column.notna().to_numpy().copy()
    candidates = np.flatnonzero(present & np.isnan(values))
    if len(candidates):  # texts such as "NA" or "" are missing values, not bad ones
        texts = column.iloc[candidates].astype(str).str.strip().str.lower()
        present[candidates[texts.isin(NA_TOKENS).to_numpy()]] = False
    return values, present & np.isnan(values)


def _id_strings(column: pd.Series) -> list[str]:
    """Ids as text; whole-number floats (ids read from Parquet with gaps) lose their '.0'."""
    if pd.api.types.is_float_dtype(column):
        finite = column.dropna()
        if (finite == finite.round()).all():
            column = column.astype("Int64")
    texts = column.astype(str).str.strip().where(column.notna(), "")
    return [("" if t.lower() in NA_TOKENS else t) for t in texts.tolist()]


# ---------------------------------------------------------------------------------------------
# Formatting


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _preview(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:LIST_FIRST])
    more = len(names) - LIST_FIRST
    return shown + (f" and {more:,} more" if more > 0 else "")


def _rows(rows: np.ndarray) -> str:
    """'row 3' or 'rows 3, 8, 9 and 12 more' from 0-based positions."""
    shown = ", ".join(str(int(r) + 1) for r in rows[:LIST_FIRST])
    more = len(rows) - LIST_FIRST
    return ("row " if len(rows) == 1 else "rows ") + shown + (f" and {more:,} more" if more > 0 else "")


def _cell(value: Any) -> str:
    text = str(value)
    return repr(text[:40] + "..." if len(text) > 40 else text)


def _number(value: float) -> str:
    return f"{value:g}"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1024 / 1024:.1f} MB" if n_bytes >= 1024 * 1024 else f"{n_bytes:,} bytes"
