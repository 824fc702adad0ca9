"""What one upload may hold (`ReadLimits`), the refusals that name the limit, and a stream that stops at a
byte cap. engine.tables checks each limit before the data it guards is in memory:

- the file's size (`max_bytes`), before it is read;
- its width (`max_columns`: the model's features, the sample id and a label, with room for `extra_columns`
  others), from the Parquet metadata or the first line of a text file; a Parquet file's metadata (its
  footer) is parsed only when it takes at most FOOTER_BYTES_PER_COLUMN bytes a column allowed, since
  parsing it holds about 17 times its size (200,000 columns in 29 MB of metadata took 500 MB);
- its rows (`max_rows`) and values (`max_cells`, rows x columns), from the Parquet metadata, or while a text
  file is read (pandas parses at most one row past the limit);
- the bytes it inflates to (`inflated`, INFLATE_FACTOR times the upload limit unless set): a gzip stream,
  the uncompressed size of a Parquet file's pages and the decoded size of its texts (a dictionary-encoded
  text repeated in every row holds gigabytes in a few kilobytes).

So a table the limits admit holds at most `max_cells` values (8 bytes each as numbers) and its texts at most
`inflated` bytes. bench/upload_memory_bench.py measures what one upload costs with the defaults.
"""
from __future__ import annotations

import ctypes
import gzip
import io
import logging
import os
import zlib
from dataclasses import dataclass

import pyarrow as pa

from engine.issues import ERROR, Issue, ValidationReport

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_CELLS = 20_000_000
MAX_BYTES_ENV = "CANCER_ALPHA_MAX_UPLOAD_BYTES"
MAX_ROWS_ENV = "CANCER_ALPHA_MAX_ROWS"
MAX_CELLS_ENV = "CANCER_ALPHA_MAX_CELLS"
INFLATE_FACTOR = 2  # a compressed table may inflate to this many times the upload limit
EXTRA_COLUMNS = 2_000  # columns beyond the model's that a file may carry (ignored): TCGA's miRNA file has 1,882
CHUNK_CELLS = 1_000_000  # values a Parquet file's row batches hold
FOOTER_BYTES_PER_COLUMN = 4096  # of a Parquet footer, a column allowed: ~150 a row group, so ~27 at the widest


class InputError(Exception):
    """An input that cannot be read as a table at all; `.report` holds the one error."""

    def __init__(self, report: ValidationReport):
        super().__init__("; ".join(i.message for i in report.issues))
        self.report = report


def refused(name: str, issue: Issue) -> InputError:
    return InputError(ValidationReport(source=name, issues=[issue], n_samples=0))


def fail(name: str, code: str, message: str) -> InputError:
    return refused(name, Issue(code, message, ERROR))


def size_text(n_bytes: int) -> str:
    return f"{n_bytes / 1024 / 1024:.1f} MB" if n_bytes >= 1024 * 1024 else f"{n_bytes:,} bytes"


# ---------------------------------------------------------------------------------------------
# Limits (defaults read from the environment on each call, so a deployment can change them without code)


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


def max_upload_cells(explicit: int | None = None) -> int:
    return _limit(explicit, MAX_CELLS_ENV, DEFAULT_MAX_CELLS)


@dataclass(frozen=True)
class ReadLimits:
    """What one upload may hold. `schema_columns` (the model's features, the id and a label column) sets
    the width limit with `extra_columns`; None (a table read without a schema) leaves only the cell limit."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_rows: int | None = DEFAULT_MAX_ROWS
    max_cells: int = DEFAULT_MAX_CELLS
    schema_columns: int | None = None
    extra_columns: int = EXTRA_COLUMNS
    max_inflated_bytes: int | None = None

    @classmethod
    def from_env(cls, max_bytes: int | None = None, max_rows: int | None = None, max_cells: int | None = None,
                 **fields) -> "ReadLimits":
        """Explicit values win over CANCER_ALPHA_MAX_UPLOAD_BYTES, _MAX_ROWS and _MAX_CELLS, which win over
        the defaults."""
        return cls(max_bytes=max_upload_bytes(max_bytes), max_rows=max_upload_rows(max_rows),
                   max_cells=max_upload_cells(max_cells), **fields)

    @property
    def max_columns(self) -> int | None:
        return None if self.schema_columns is None else self.schema_columns + self.extra_columns

    @property
    def max_footer_bytes(self) -> int | None:
        return None if self.max_columns is None else self.max_columns * FOOTER_BYTES_PER_COLUMN

    @property
    def inflated(self) -> int:
        return self.max_inflated_bytes or INFLATE_FACTOR * self.max_bytes

    def rows_for(self, width: int) -> int:
        """The most rows a table of `width` columns may have: the row limit or the cell limit, the lower."""
        by_cells = self.max_cells // max(width, 1)
        return by_cells if self.max_rows is None else min(self.max_rows, by_cells)

    def check_shape(self, name: str, width: int, rows: int | None = None) -> None:
        """InputError when `width` columns (and `rows`, when known) pass a limit: width first."""
        if self.max_columns is not None and width > self.max_columns:
            raise refused(name, too_many_columns(name, width, self))
        if rows is not None and rows > self.rows_for(width):
            raise self.too_long(name, width, rows)

    def too_long(self, name: str, width: int, rows: int | None = None) -> InputError:
        """The refusal of a table longer than rows_for(width): `rows` exact, or None (more than allowed)."""
        if self.max_rows is not None and self.max_rows <= self.max_cells // max(width, 1):
            return refused(name, too_many_rows(name, self.max_rows, exact=rows))
        return refused(name, too_many_cells(name, width, self, rows))


# ---------------------------------------------------------------------------------------------
# Refusals


def too_many_rows(name: str, limit: int, exact: int | None = None) -> Issue:
    has = f"{exact:,} rows" if exact is not None else f"more than {limit:,} rows"
    return Issue("too-many-rows", f"{name} has {has}; at most {limit:,} samples are accepted "
                                  "at once. Split the file into smaller ones.", ERROR)


def too_many_cells(name: str, width: int, limits: ReadLimits, rows: int | None = None) -> Issue:
    allowed = limits.rows_for(width)
    has = f"{rows:,} rows" if rows is not None else f"more than {allowed:,} rows"
    return Issue("too-many-cells", f"{name} has {width:,} columns and {has}: more than the {limits.max_cells:,} "
                 f"values (rows x columns) one upload may hold, which at this width is {allowed:,} rows. "
                 "Split the file, or drop the columns the model does not use.", ERROR)


def too_many_columns(name: str, width: int, limits: ReadLimits) -> Issue:
    return Issue("too-many-columns", f"{name} has {width:,} columns; at most {limits.max_columns:,} are accepted "
                 f"(the model's features, the sample id and a label: {limits.schema_columns:,}, and up to "
                 f"{limits.extra_columns:,} others). Drop the columns the model does not use; if the samples "
                 "are its columns, transpose it so each row is a sample.", ERROR)


def inflates_past(name: str, limit: int) -> InputError:
    return fail(name, "too-large", f"{name}: the file inflates past {size_text(limit)} once decompressed, "
                                   "more than one upload may hold; split it into smaller files.")


# ---------------------------------------------------------------------------------------------
# Bounded decompression


class CappedGzip(io.RawIOBase):
    """A gzip stream that raises InputError (`inflates_past`) once more than `limit` bytes come out of it,
    and for a corrupt or truncated file; read in pieces, so a bomb is stopped at the limit."""

    def __init__(self, data: bytes, name: str, limit: int):
        self._inner = gzip.GzipFile(fileobj=io.BytesIO(data))
        self._name, self._limit, self._count = name, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self._limit + 1 - self._count)
        try:
            piece = self._inner.read(max(want, 1))
        except (OSError, EOFError, zlib.error):
            raise fail(self._name, "unreadable",
                       f"{self._name} is not a valid gzip file (corrupt or truncated).") from None
        self._count += len(piece)
        if self._count > self._limit:
            raise inflates_past(self._name, self._limit)
        buffer[:len(piece)] = piece
        return len(piece)


def gunzip_stream(data: bytes, name: str, limit: int) -> io.BufferedReader:
    return io.BufferedReader(CappedGzip(data, name, limit), buffer_size=1024 * 1024)


def gunzip(data: bytes, name: str, limit: int) -> bytes:
    """All of a gzip file (Parquet needs it whole), at most `limit` bytes of it."""
    return gunzip_stream(data, name, limit).read()


# ---------------------------------------------------------------------------------------------
# Memory


def release_memory() -> None:
    """Give memory freed after a large read back to the system: Arrow's pool keeps what it allocated, and
    glibc keeps freed heap pages (pandas' parser allocates a column at a time), so an upload's read would stay
    resident and the next step's peak (storing, encrypting) would stack on it."""
    pa.default_memory_pool().release_unused()
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; other C libraries have none
    if trim is not None:
        trim(0)
