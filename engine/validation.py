"""Checking a table of samples against a model's feature schema.

`validate` reads the input (engine.tables) and never raises for bad input: every problem becomes an
`Issue` (engine.issues: a stable code, a sentence naming file, row, sample and column, and a
severity). Errors reject the file; warnings are told to the user but do not stop prediction.

Cell-level problems are grouped per column (one issue per column, listing its first few rows) and
at most `MAX_ISSUES_PER_CODE` issues of one code are kept, so a badly broken 10,000-row file gives
a readable report rather than millions of lines. All cell checks are vectorised numpy/pandas.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engine.issues import ERROR, LIST_FIRST, WARNING, Issue, ValidationReport, plural, preview, short
from engine.read_limits import InputError, ReadLimits, max_upload_rows, release_memory, too_many_rows
from engine.sample_ids import personal_id_kind
from engine.schema import BINARY, FeatureSchema
from engine.tables import looks_transposed, read_samples, source_name

MAX_ISSUES_PER_CODE = 50  # then one summary issue "and N more ..."
RELEASE_AFTER_CELLS = 1_000_000  # a table read this large gives its memory back once validated
SLAB_COLUMNS = 64  # feature columns converted to numbers at a time

# Column names (normalised: lower case, runs of non-alphanumerics -> "_") that identify a person.
PII_NAMES = frozenset({
    "name", "full_name", "patient_name", "first_name", "given_name", "middle_name", "last_name",
    "family_name", "surname", "dob", "date_of_birth", "birth_date", "birthdate", "birthday",
    "mrn", "medical_record_number", "address", "home_address", "street", "street_address",
    "postcode", "post_code", "postal_code", "zip", "zipcode", "zip_code", "phone", "phone_number",
    "telephone", "telephone_number", "mobile", "mobile_number", "email", "e_mail", "email_address",
    "ssn", "social_security", "social_security_number", "nhs_number",
})

PERSONAL_ID = "personal-sample-id"  # the code of a sample id that looks like personal data

# A number as Arrow's cast reads one (decimal point, exponent, inf, infinity, nan; ASCII digits only).
NUMBER_TEXT = r"^[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|inf|infinity|nan)$"

# Cell texts that mean "no value" (pandas reads most of these as NA already; DataFrames may not).
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>"})


# ---------------------------------------------------------------------------------------------
# Validation


@dataclass
class ValidatedInput:
    """The validated table. `X`, `out_of_range` and `labels` are None when the report has errors."""

    report: ValidationReport
    ids: list[str]
    X: np.ndarray | None = None
    out_of_range: np.ndarray | None = None
    labels: pd.Series | None = None


def validate(source: Any, schema: FeatureSchema, *, filename: str | None = None,
             label_column: str | None = None, max_rows: int | None = None,
             max_bytes: int | None = None, max_cells: int | None = None) -> ValidatedInput:
    """Read `source` and check it against `schema`. Never raises for bad input. The limits of one upload
    (engine.read_limits) are the arguments given, else the environment's, else the defaults; a file may be
    as wide as the schema, its id and label columns and EXTRA_COLUMNS more."""
    name = source_name(source, filename)
    text_columns = {schema.id_column} | ({label_column} if label_column else set())
    limits = ReadLimits.from_env(max_bytes=max_bytes, max_rows=max_rows, max_cells=max_cells,
                                 schema_columns=len(schema.names) + 2)  # the id and a label
    try:
        frame = read_samples(source, name, id_column=schema.id_column, text_columns=text_columns, limits=limits)
    except InputError as exc:
        return ValidatedInput(report=exc.report, ids=[])
    checked = _Validation(frame, schema, name, label_column, limits.max_rows).run()
    large = frame.size > RELEASE_AFTER_CELLS
    del frame
    if large:
        release_memory()  # the table read is gone; only the values checked stay
    return checked


def validate_frame(frame: pd.DataFrame, schema: FeatureSchema, *, name: str, label_column: str | None = None,
                   max_rows: int | None = None) -> ValidatedInput:
    """Check a table engine.tables.read_samples has already read within its limits (engine.blocks reads each
    block file once, then checks it against its block's part of the schema). The frame is not copied."""
    return _Validation(frame, schema, name, label_column, max_upload_rows(max_rows)).run()


def looks_personal(column: str) -> bool:
    """A column name that identifies a person (its values are never looked at)."""
    return _normalise(column) in PII_NAMES


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
            return self._rejected(too_many_rows(self.name, self.row_limit, exact=n))
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
        if pii or self._check_personal_ids():
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
                                     f"({plural(count, unit)}).",
                                     rest[0].severity, count=count))

    def _sample(self, row: int) -> str | None:
        return (self.ids[row] or None) if self.ids else None

    def _where(self, row: int) -> str:
        sample = self._sample(row)
        return f"row {row + 1}" + (f" (sample '{short(sample)}')" if sample else "")

    # -- table shape ------------------------------------------------------------------------

    def _check_transposed(self) -> bool:
        """Samples as columns and features as rows: the first column holds feature names."""
        found = looks_transposed(self.frame, self.schema.names)
        if found is None:
            return False
        self.issues.append(Issue(
            "transposed",
            f"{self.name}: samples appear to be columns and features rows ({found.hits} feature names such "
            f"as '{found.example}' are in the first column, {found.in_header} in the header); "
            "transpose the file so each row is a sample.",
            ERROR, column=found.first_column, count=found.hits))
        return True

    def _check_duplicate_columns(self) -> None:
        columns = pd.Series(self.frame.columns)
        duplicated = columns[columns.duplicated()].unique().tolist()
        self._add([Issue("duplicate-column", f"{self.name}: column '{short(c)}' appears "
                         f"{int((columns == c).sum())} times; each column must appear once.", ERROR,
                         column=c, count=int((columns == c).sum())) for c in duplicated],
                  "duplicated columns", unit="column")

    def _check_id_column(self) -> None:
        id_column = self.schema.id_column
        if id_column in self.frame.columns:
            self.ids = _id_strings(self.frame[id_column])
            return
        near = [c for c in self.frame.columns if c.lower() == id_column.lower()]
        hint = f" A column '{short(near[0])}' exists: rename it to '{id_column}'." if near else ""
        self.issues.append(Issue(
            "missing-id-column",
            f"{self.name} has no '{id_column}' column; every row must carry its sample id in a column "
            f"named '{id_column}'.{hint}", ERROR, column=id_column))

    def _check_personal_identifiers(self) -> list[str]:
        allowed = set(self.schema.names) | {self.schema.id_column}
        found = [c for c in self.frame.columns if c not in allowed and _normalise(c) in PII_NAMES]
        self._add([Issue("personal-identifier",
                         f"{self.name}: column '{short(c)}' looks like a personal identifier; files with "
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
            f"{self.name} lacks {plural(len(missing), 'feature column')} the model needs "
            f"({preview(missing)}); missing features are never filled in.{self._whole_blocks_hint(missing)}",
            ERROR, column=missing[0] if len(missing) == 1 else None, count=len(missing)))

    def _whole_blocks_hint(self, missing: list[str]) -> str:
        """When what is missing is exactly some whole feature blocks, the file is one block of several:
        say so, and how to send the others (engine.blocks joins one file per block)."""
        members: dict[str, set[str]] = {}
        for feature in self.schema.features:
            members.setdefault(feature.group, set()).add(feature.name)
        lacking = [g for g, names in members.items() if names <= set(missing)]
        whole = set().union(*(members[g] for g in lacking))
        if len(members) < 2 or len(lacking) == len(members) or whole != set(missing):
            return ""
        held = [g for g in members if g not in lacking]
        return (f" It holds the {' and '.join(held)} {'block' if len(held) == 1 else 'blocks'} only: send the "
                f"{' and '.join(lacking)} {'file' if len(lacking) == 1 else 'files'} with it (one file per block), "
                "or one wide file.")

    def _check_extra_columns(self, pii: list[str]) -> None:
        known = set(self.schema.names) | {self.schema.id_column, self.label_column} | set(pii)
        extra = [c for c in self.frame.columns if c not in known]
        if not extra:
            return
        self.issues.append(Issue(
            "extra-column",
            f"{self.name} has {plural(len(extra), 'column')} the model does not use, ignored: "
            f"{preview(extra)}.", WARNING, column=extra[0] if len(extra) == 1 else None,
            count=len(extra)))

    def _check_label_column(self) -> None:
        if self.label_column and self.label_column not in self.frame.columns:
            self.issues.append(Issue(
                "missing-label-column", f"{self.name} has no '{self.label_column}' column, so the "
                "predictions cannot be compared with known labels.", WARNING, column=self.label_column))

    # -- ids --------------------------------------------------------------------------------

    def _check_personal_ids(self) -> bool:
        """Ids that look like personal data (engine.sample_ids), one issue per kind naming the rows, never
        the ids themselves (they may be personal data): True when there are any."""
        if not self.ids:
            return False
        rows_by_kind: dict[str, list[int]] = {}
        for row, sample in enumerate(self.ids):
            kind = personal_id_kind(sample)
            if kind is not None:
                rows_by_kind.setdefault(kind, []).append(row)
        for kind, rows in rows_by_kind.items():
            positions = np.array(rows)
            self.issues.append(Issue(
                PERSONAL_ID, f"{self.name}: {plural(len(rows), 'sample id')} in '{self.schema.id_column}' "
                f"{'looks' if len(rows) == 1 else 'look'} like {kind} ({_rows(positions)}), which is personal "
                "data: replace the ids with de-identified ones (a study code, a TCGA barcode, a COSMIC id). "
                "The ids are not repeated here.", ERROR, row=rows[0] + 1, column=self.schema.id_column,
                count=len(rows)))
        return bool(rows_by_kind)

    def _check_ids(self) -> None:
        if self.ids is None:
            return
        ids = pd.Series(self.ids)
        empty = np.flatnonzero((ids == "").to_numpy())
        if len(empty):
            self.issues.append(Issue(
                "empty-id", f"{self.name}: {plural(len(empty), 'row')} without a sample id in "
                f"'{self.schema.id_column}' ({_rows(empty)}).", ERROR, row=int(empty[0]) + 1,
                column=self.schema.id_column, count=len(empty)))
        repeated = ids[ids.duplicated(keep=False) & (ids != "")]
        issues = []
        for sample, positions in repeated.groupby(repeated, sort=False).indices.items():
            rows = repeated.index.to_numpy()[positions]
            issues.append(Issue(
                "duplicate-id", f"{self.name}: sample id '{short(sample)}' appears {len(rows)} times "
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
                         lambda c, r: f"has {plural(len(r), 'value')} that {'is' if len(r) == 1 else 'are'} "
                         f"not a finite number ({_rows(r)}); first in {self._where(r[0])}: "
                         f"{_cell(self.frame[c].iloc[r[0]])}. Feature values must be numbers.")
        self._per_column(non_binary, columns, "non-binary", ERROR,
                         "binary columns with values other than 0/1",
                         lambda c, r: f"is a binary feature but has {plural(len(r), 'value')} other than "
                         f"0 or 1 ({_rows(r)}); first in {self._where(r[0])}: "
                         f"{_number(values[r[0], columns.index(c)])}.")
        self._per_column(missing, columns, "missing-value", WARNING, "columns with missing values",
                         lambda c, r: f"has {plural(len(r), 'missing value')} ({_rows(r)}); "
                         f"{'it is' if len(r) == 1 else 'they are'} imputed as the model's pipeline "
                         "does (training median).")
        self._per_column(outside, columns, "out-of-range", WARNING,
                         "columns with values outside the training range",
                         lambda c, r: f"has {plural(len(r), 'value')} outside the training range "
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
    values = np.empty((len(frame), len(columns)))
    bad = np.zeros(values.shape, dtype=bool)
    for start in range(0, len(columns), SLAB_COLUMNS):  # a slab at a time: no temporary copy of the whole table
        part = columns[start:start + SLAB_COLUMNS]
        if all(_is_number_column(frame[c]) for c in part):  # the common case, converted as one block
            values[:, start:start + len(part)] = frame[part].to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        for j, column in enumerate(part, start):
            if _is_number_column(frame[column]):
                values[:, j] = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                values[:, j], bad[:, j] = _text_to_numbers(frame[column])
    infinite = np.isinf(values)
    bad |= infinite
    values[infinite] = np.nan
    return values, bad


def _is_number_column(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _text_to_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if pd.api.types.is_bool_dtype(column):  # True/False is not 0/1: say so rather than guess
        return np.full(len(column), np.nan), column.notna().to_numpy()
    try:  # Arrow's cast is 10 to 100 times faster than to_numeric, which took 24 s on a 20-million-cell text file
        values = _arrow_numbers(pa.array(column.astype("string"), type=pa.string(), from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    present = column.notna().to_numpy().copy()
    candidates = np.flatnonzero(present & np.isnan(values))
    if len(candidates):  # texts such as "NA" or "" are missing values, not bad ones
        texts = column.iloc[candidates].astype(str).str.strip().str.lower()
        present[candidates[texts.isin(NA_TOKENS).to_numpy()]] = False
    return values, present & np.isnan(values)


def _arrow_numbers(texts: pa.Array) -> np.ndarray:
    """The texts as numbers, NaN where a text is no number (as pd.to_numeric(errors="coerce") reads them)."""
    try:
        numbers = pc.cast(texts, pa.float64())
    except pa.ArrowInvalid:  # some texts are no numbers: cast only those that look like one
        trimmed = pc.utf8_trim_whitespace(texts)
        looks = pc.match_substring_regex(trimmed, NUMBER_TEXT, ignore_case=True)
        numbers = pc.cast(pc.if_else(looks, trimmed, pa.scalar(None, pa.string())), pa.float64())
    return numbers.to_numpy(zero_copy_only=False).astype(np.float64)


def _id_strings(column: pd.Series) -> list[str]:
    """Ids as text; whole-number floats (ids read from Parquet with gaps) lose their '.0' (those an int64
    holds: an infinity or 1e300 stays as it is written)."""
    if pd.api.types.is_float_dtype(column):
        finite = column.dropna()
        if ((finite == finite.round()) & (finite.abs() < 2.0 ** 63)).all():
            column = column.astype("Int64")
    texts = column.astype(str).str.strip().where(column.notna(), "")
    return [("" if t.lower() in NA_TOKENS else t) for t in texts.tolist()]


# ---------------------------------------------------------------------------------------------
# Formatting


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


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

