"""Preprocessing steps that live inside each model's scikit-learn Pipeline, so inference applies
exactly what training did. Functions here are pickled by reference: keep their names stable."""
from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import FunctionTransformer, StandardScaler

BINARY_FEATURES = "binary"
READ_COUNTS = "read-counts"
# Continuous omics already on a log-like scale (log2 expression, M-values): no transform but the
# imputation and, for linear models, the standardisation every kind gets.
LOG_OMICS = "log-omics"


def library_size_log(X: np.ndarray) -> np.ndarray:
    """log2 counts per million: divides each sample by its library size (the sum of its counts over the
    model's features), so sequencing depth does not masquerade as biology; log tames the heavy tail."""
    X = np.asarray(X, dtype=float)
    totals = X.sum(axis=1, keepdims=True)
    totals[totals <= 0] = 1.0
    return np.log2(X / totals * 1e6 + 1.0)


def preprocessing_steps(kind: str, scale: bool) -> list[tuple[str, object]]:
    """The steps before the classifier. Missing values are imputed with the training median (for 0/1
    features the median is the majority value, so imputed values stay binary)."""
    steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if kind == READ_COUNTS:
        steps.append(("log_cpm", FunctionTransformer(library_size_log, validate=False)))
    elif kind not in (BINARY_FEATURES, LOG_OMICS):
        raise ValueError(f"unknown preprocessing kind {kind!r}")
    if scale:
        steps.append(("scale", StandardScaler()))
    return steps


def transform_step(step, X: np.ndarray) -> np.ndarray:
    """One fitted step of `preprocessing_steps` applied with numpy: the same values as
    `step.transform(X)`, without scikit-learn's input checks, which cost ten times the arithmetic for
    one row. Steps of other kinds go through their own transform."""
    if (isinstance(step, SimpleImputer) and step.strategy == "median" and _nan_is_missing(step.missing_values)
            and not step.add_indicator and not np.isnan(step.statistics_).any()):
        return np.where(np.isnan(X), step.statistics_, X)
    if isinstance(step, FunctionTransformer) and step.func is not None and not step.validate and not step.kw_args:
        return step.func(X)
    if isinstance(step, StandardScaler):
        Z = X - step.mean_ if step.with_mean else X
        return Z / step.scale_ if step.with_std else Z
    return step.transform(X)


def _nan_is_missing(value) -> bool:
    return isinstance(value, float) and np.isnan(value)
