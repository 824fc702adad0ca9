"""Result files for download. CSV cells that a spreadsheet would run as a formula are neutralised
(a leading apostrophe), since sample ids and labels come from uploaded files."""
from __future__ import annotations

import io

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object:
            text = frame[column].astype("string")
            risky = text.str.startswith(FORMULA_STARTS, na=False)
            frame[column] = text.where(~risky, "'" + text)
    return frame


def results_csv(frame: pd.DataFrame) -> str:
    return neutralise_formulas(frame).to_csv(index=False)


def results_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
