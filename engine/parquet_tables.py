"""Reading a Parquet upload within its ReadLimits (engine.read_limits): the metadata first, then the data.

Before any data is read: the metadata's own size (parsing it costs many times that), then one value per cell
(no list, struct or map columns), the width, the rows, rows x columns, and the pages' uncompressed size are
checked against the limits. Then the row batches are read with every text column kept dictionary-encoded,
and the bytes its texts decode to are counted before they are decoded: a 1 MB text stored once and
referenced by every row would otherwise become gigabytes.
"""
from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.read_limits import CHUNK_CELLS, InputError, ReadLimits, fail, inflates_past, size_text

MAGIC = b"PAR1"


def read(data: bytes, name: str, limits: ReadLimits) -> pd.DataFrame:
    """The table in `data`; InputError when it is not Parquet or passes a limit."""
    try:
        schema, metadata = _checked_metadata(data, name, limits)
        table = _read_batches(data, name, schema, metadata, limits)
        # column by column, each freed once converted: the table and the frame are never both whole in memory
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        pa.default_memory_pool().release_unused()
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - pyarrow raises many types for corrupt files
        raise fail(name, "unreadable", f"{name} is not a valid Parquet file (corrupt or truncated).") from None
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()  # an index saved with the table (often the ids) is a column
    return frame


def _checked_metadata(data: bytes, name: str, limits: ReadLimits) -> tuple[pa.Schema, pq.FileMetaData]:
    _check_footer_size(data, name, limits)
    metadata = pq.read_metadata(io.BytesIO(data))
    schema = metadata.schema.to_arrow_schema()
    nested = next((field for field in schema if pa.types.is_nested(field.type)
                   or pa.types.is_fixed_size_binary(field.type)), None)
    if nested is not None:
        raise fail(name, "unreadable", f"{name}: column '{nested.name[:40]}' holds {nested.type} values, not one "
                                       "number or text per cell; save the table flat.")
    limits.check_shape(name, len(schema), metadata.num_rows)
    pages = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if pages > limits.inflated:
        raise inflates_past(name, limits.inflated)
    return schema, metadata


def _check_footer_size(data: bytes, name: str, limits: ReadLimits) -> None:
    """InputError when the metadata (the footer: its length is in the 4 bytes before the closing magic) is
    larger than a table of at most max_columns columns needs; a corrupt length is left to pyarrow."""
    limit = limits.max_footer_bytes
    footer = int.from_bytes(data[-8:-4], "little") if len(data) >= 12 and data.endswith(MAGIC) else 0
    if limit is not None and limit < footer <= len(data) - 12:
        raise fail(name, "too-large", f"{name}: its Parquet metadata takes {size_text(footer)}, more than the "
                   f"{size_text(limit)} a table of at most {limits.max_columns:,} columns needs: it has too many "
                   "columns or row groups. Save only the model's features, the id and a label, in one row group.")


def _read_batches(data: bytes, name: str, schema: pa.Schema, metadata: pq.FileMetaData,
                  limits: ReadLimits) -> pa.Table:
    texts = [f.name for f in schema if _is_text(f.type)]
    file = pq.ParquetFile(io.BytesIO(data), metadata=metadata, read_dictionary=texts)  # the footer parsed once
    budget = limits.inflated
    batches = []
    for batch in file.iter_batches(batch_size=max(1, CHUNK_CELLS // max(len(schema), 1)), use_pandas_metadata=True):
        decoded, budget = _decoded(batch, budget, name, limits.inflated)
        batches.append(decoded)
    if not batches:
        return schema.empty_table()
    return pa.Table.from_batches(batches).replace_schema_metadata(schema.metadata)


def _decoded(batch: pa.RecordBatch, budget: int, name: str, limit: int) -> tuple[pa.RecordBatch, int]:
    """The batch with its dictionary columns decoded, and what is left of the byte budget of texts."""
    columns = []
    for column in batch.columns:
        if isinstance(column, pa.DictionaryArray):
            if _is_text(column.dictionary.type):
                lengths = pc.binary_length(column.dictionary)
                budget -= pc.sum(pc.take(lengths, column.indices)).as_py() or 0
                if budget < 0:
                    raise inflates_past(name, limit)
            column = column.dictionary_decode()
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=_plain(batch.schema)), budget


def _plain(schema: pa.Schema) -> pa.Schema:
    fields = [field.with_type(field.type.value_type) if pa.types.is_dictionary(field.type) else field
              for field in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _is_text(kind: pa.DataType) -> bool:
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind) or pa.types.is_string_view(kind) or pa.types.is_binary_view(kind))
