"""A finished run's samples as the results grid asks for them, a block at a time (AG Grid's infinite row
model): sorted and filtered here, on the server, so that a run of 20,000 samples sends the browser the
rows it shows and not the whole table. Every part of a request comes from the browser and is checked:
an unknown column, filter or sort answers RunError 400 naming it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.predictions import reviews, runs

TEXT_FIELDS = ("sample_id", runs.LABEL_COLUMN, "predicted_class", "abstain", "out_of_distribution", "review")
NUMBER_FIELDS = ("confidence", "margin", "ood_score")
FLAGS = ("abstain", "out_of_distribution")  # shown (and filtered) as "yes" / "no"
ROUNDED = 4  # decimals the grid shows, and filters on
MAX_BLOCK = 1_000  # rows one request may ask for
MAX_FILTER_TEXT = 200

TEXT_TESTS = {
    "contains": lambda s, v: s.str.contains(v, regex=False),
    "notContains": lambda s, v: ~s.str.contains(v, regex=False),
    "equals": lambda s, v: s == v, "notEqual": lambda s, v: s != v,
    "startsWith": lambda s, v: s.str.startswith(v), "endsWith": lambda s, v: s.str.endswith(v),
}
NUMBER_TESTS = {
    "equals": lambda s, v, _: s == v, "notEqual": lambda s, v, _: s != v, "lessThan": lambda s, v, _: s < v,
    "lessThanOrEqual": lambda s, v, _: s <= v, "greaterThan": lambda s, v, _: s > v,
    "greaterThanOrEqual": lambda s, v, _: s >= v, "inRange": lambda s, v, to: (s >= v) & (s <= to),
}


def fields(portal: Portal, run: PredictionRun) -> list[str]:
    """The grid's columns for this run (the true class only when its file had one), in order."""
    return [*_cached(portal, run).columns, "review"]


def grid_table(portal: Portal, run: PredictionRun) -> pd.DataFrame:
    """The run's samples as the grid shows them (rounded numbers, yes/no flags, the reviews in force),
    in the upload's order. The results are read once per process; the reviews on every call."""
    shown = _cached(portal, run).copy()
    reviewed = reviews.current_by_sample(portal, run)
    shown["review"] = [reviews.grid_text(reviewed.get(s, [])) for s in shown["sample_id"]] if reviewed else ""
    return shown


def _cached(portal: Portal, run: PredictionRun) -> pd.DataFrame:
    """Kept by run id and revised_at (an erasure rewrites a run's results); a purged run answers 410 first."""
    runs.require_stored(run)
    return portal.caches.run_tables.get_or_create((run.id, run.revised_at), lambda: _shown(runs.results(portal, run)))


def _shown(results: pd.DataFrame) -> pd.DataFrame:
    shown = pd.DataFrame({"sample_id": results["sample_id"].astype(str)})
    if runs.LABEL_COLUMN in results:
        shown[runs.LABEL_COLUMN] = results[runs.LABEL_COLUMN].astype("string").fillna("")
    shown["predicted_class"] = results["predicted_class"].astype(str)
    for name in ("confidence", "margin"):
        shown[name] = results[name].astype(float).round(ROUNDED)
    for name in FLAGS:
        shown[name] = np.where(results[name].astype(bool), "yes", "no")
    shown["ood_score"] = results["ood_score"].astype(float).round(ROUNDED)
    return shown


def block(table: pd.DataFrame, request) -> tuple[list[dict], int]:
    """(rows from startRow to endRow, the number of rows that pass the filters) for an infinite-model
    request {startRow, endRow, sortModel, filterModel}; ties keep the upload's order."""
    if not isinstance(request, dict):
        raise runs.RunError("the grid's request must be an object", 400)
    start, end = _row(request, "startRow"), _row(request, "endRow")
    if not start < end <= start + MAX_BLOCK:
        raise runs.RunError(f"the grid may ask for 1 to {MAX_BLOCK:,} rows at a time", 400)
    kept = table[_filtered(table, request.get("filterModel") or {})]
    kept = _sorted(kept, request.get("sortModel") or [])
    return kept.iloc[start:end].to_dict("records"), len(kept)


def _row(request: dict, key: str) -> int:
    value = request.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise runs.RunError(f"{key} must be a row number", 400)
    return value


def _column(table: pd.DataFrame, field) -> str:
    if not isinstance(field, str) or field not in table:
        raise runs.RunError(f"the results have no column {str(field)[:40]!r}", 400)
    return field


def _sorted(table: pd.DataFrame, sort_model) -> pd.DataFrame:
    if not isinstance(sort_model, list) or not all(isinstance(s, dict) for s in sort_model):
        raise runs.RunError("sortModel must be a list of {colId, sort}", 400)
    if not sort_model:
        return table
    fields = [_column(table, s.get("colId")) for s in sort_model]
    if any(s.get("sort") not in ("asc", "desc") for s in sort_model):
        raise runs.RunError("a sort is 'asc' or 'desc'", 400)
    # mergesort is stable: equal values keep the upload's order, the same on every request
    return table.sort_values(fields, ascending=[s["sort"] == "asc" for s in sort_model], kind="mergesort")


def _filtered(table: pd.DataFrame, filter_model) -> np.ndarray:
    if not isinstance(filter_model, dict):
        raise runs.RunError("filterModel must be an object", 400)
    keep = np.ones(len(table), dtype=bool)
    for field, model in filter_model.items():
        keep &= _passes(table[_column(table, field)], field, model)
    return keep


def _passes(values: pd.Series, field: str, model) -> np.ndarray:
    """One column's filter: a single condition, or two joined by AND / OR."""
    if not isinstance(model, dict):
        raise runs.RunError(f"the filter of {field} must be an object", 400)
    if "conditions" in model:
        conditions = model["conditions"]
        if (not isinstance(conditions, list) or not 1 <= len(conditions) <= 2
                or model.get("operator") not in ("AND", "OR")):
            raise runs.RunError(f"the filter of {field} joins one or two conditions by AND or OR", 400)
        parts = [_condition(values, field, c) for c in conditions]
        return np.logical_and.reduce(parts) if model["operator"] == "AND" else np.logical_or.reduce(parts)
    return _condition(values, field, model)


def _condition(values: pd.Series, field: str, condition) -> np.ndarray:
    if not isinstance(condition, dict):
        raise runs.RunError(f"a condition of the filter of {field} must be an object", 400)
    kind, test = condition.get("filterType"), condition.get("type")
    if test in ("blank", "notBlank"):
        blank = values.isna() | (values.astype(str) == "")
        return (blank if test == "blank" else ~blank).to_numpy()
    if kind == "text" and field in TEXT_FIELDS and test in TEXT_TESTS:
        text = condition.get("filter")
        if not isinstance(text, str) or len(text) > MAX_FILTER_TEXT:
            raise runs.RunError(f"the filter of {field} needs a text of at most {MAX_FILTER_TEXT} characters", 400)
        return TEXT_TESTS[test](values.astype(str).str.casefold(), text.casefold()).to_numpy()
    if kind == "number" and field in NUMBER_FIELDS and test in NUMBER_TESTS:
        low, high = condition.get("filter"), condition.get("filterTo", 0)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
            raise runs.RunError(f"the filter of {field} needs numbers", 400)
        return NUMBER_TESTS[test](values, low, high).to_numpy()
    raise runs.RunError(f"{field} cannot be filtered by {str(kind)[:20]!r} {str(test)[:20]!r}", 400)
