"""Per-feature drift of a batch of samples against a reference (a model version's training samples).

For each feature the non-missing values of the two samples are compared:

- continuous features: the two-sample Kolmogorov-Smirnov test (`scipy.stats.ks_2samp`) and the
  population stability index (PSI) over bins cut at the reference's deciles;
- binary (0/1) features: the chi-square test of the 2 x 2 table of zeros and ones (Yates' continuity
  correction; the p-value comes from Fisher's exact test instead when an expected count is below
  `MIN_EXPECTED`, the statistic stays the chi-square one), and the PSI over the two values.

Missing values (NaN) are left out of the tests and counted per side (`missing_reference`,
`missing_current`: shares). A feature with fewer than `MIN_VALUES` non-missing values on either side is
not tested (`note` says why) and never counts as drifted. A feature constant on both sides with the same
value has a statistic of 0, a p-value of 1 and a PSI of 0.

PSI = sum over bins of (c - r) * ln(c / r), where r and c are the reference's and the current sample's
shares of the bin, each smoothed by adding half a sample to every bin ((count + 0.5) / (n + 0.5 * bins))
so that a bin empty on one side gives a finite value; bins empty on both sides are left out. Identical
samples, and two samples of one same constant, give exactly 0. The PSI of a small sample is
noisy (its expected value under no drift is about (bins - 1) * (1 / n_reference + 1 / n_current)), which
is why the verdict also asks for statistical significance.

Verdict rule (the constants below):
- the p-values of all tested features are adjusted together with the Benjamini-Hochberg procedure (false
  discovery rate); a feature **drifts** when its adjusted p-value is below `ALPHA` **and** its PSI is at
  least `PSI_MODERATE`: a shift that is both unlikely to be chance and large enough to matter (large
  samples make tiny, harmless shifts significant; small samples make the PSI noisy);
- the batch shows **no drift** when no feature drifts, **major drift** when at least
  `MAJOR_DRIFT_SHARE` of the features drift, and **some drift** in between.

Everything here is deterministic: no sampling, no random state.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from engine.schema import BINARY, CONTINUOUS

PSI_BINS = 10  # reference deciles
PSI_SMOOTHING = 0.5  # samples added to every bin before taking shares
PSI_MODERATE = 0.1  # conventional reading of the PSI: < 0.1 stable, 0.1-0.2 moderate shift
PSI_MAJOR = 0.2  # > 0.2 major shift (shown in tables; the verdict uses PSI_MODERATE with the p-value)
ALPHA = 0.01  # Benjamini-Hochberg adjusted p-value below which a shift is significant
MIN_VALUES = 5  # non-missing values needed on each side to test a feature
MIN_EXPECTED = 5  # below this expected count in the 2 x 2 table, Fisher's exact test replaces chi-square
MAJOR_DRIFT_SHARE = 0.2  # share of drifted features from which the verdict is "major drift"

NO_DRIFT, SOME_DRIFT, MAJOR_DRIFT = "no drift", "some drift", "major drift"
KS, CHI_SQUARE, FISHER = "kolmogorov-smirnov", "chi-square", "fisher-exact"
COLUMNS = ["feature", "group", "kind", "test", "n_reference", "n_current", "missing_reference",
           "missing_current", "statistic", "p_value", "p_adjusted", "psi", "drifted", "note"]


def _values(x) -> np.ndarray:
    """A 1-D float array without its missing values."""
    x = np.asarray(x, dtype=float).ravel()
    return x[~np.isnan(x)]


def _shares(counts: np.ndarray) -> np.ndarray:
    return (counts + PSI_SMOOTHING) / (counts.sum() + PSI_SMOOTHING * len(counts))


def _psi_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    used = (reference_counts + current_counts) > 0  # a bin empty on both sides says nothing
    r, c = _shares(reference_counts[used].astype(float)), _shares(current_counts[used].astype(float))
    return float(np.sum((c - r) * np.log(c / r)))


def psi(reference, current, bins: int = PSI_BINS) -> float:
    """Population stability index of a continuous feature: bins cut at the reference's quantiles
    (1/bins, 2/bins, ...; repeated edges, from ties, merged), open-ended at both ends, so values of the
    current sample beyond the reference's range fall in the outer bins. NaN values are left out; NaN is
    returned when either side has no value."""
    ref, cur = _values(reference), _values(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.arange(1, bins) / bins))
    # bin i holds edges[i-1] < x <= edges[i]; the last bin everything above the last edge
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=len(edges) + 1)
    return _psi_from_counts(ref_counts, cur_counts)


def _binary_counts(x: np.ndarray, what: str) -> np.ndarray:
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError(f"{what}: a binary feature holds values other than 0 and 1")
    ones = int(x.sum())
    return np.array([len(x) - ones, ones])


def binary_psi(reference, current) -> float:
    """Population stability index of a 0/1 feature over its two values (NaN left out)."""
    ref, cur = _values(reference), _values(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan")
    return _psi_from_counts(_binary_counts(ref, "reference"), _binary_counts(cur, "current"))


def ks_test(reference, current) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (NaN left out; NaN, NaN without values)."""
    ref, cur = _values(reference), _values(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan")
    if np.ptp(np.concatenate([ref, cur])) == 0:  # one value on both sides: nothing differs
        return 0.0, 1.0
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def chi_square_test(reference, current) -> tuple[float, float, str]:
    """Chi-square statistic (Yates-corrected) and p-value of the 2 x 2 table of zeros and ones of a
    binary feature, and the test used: Fisher's exact test gives the p-value when an expected count is
    below MIN_EXPECTED. A feature with one value on both sides gives (0, 1)."""
    ref, cur = _values(reference), _values(current)
    if len(ref) == 0 or len(cur) == 0:
        return float("nan"), float("nan"), CHI_SQUARE
    table = np.vstack([_binary_counts(ref, "reference"), _binary_counts(cur, "current")])
    if (table.sum(axis=0) == 0).any():  # all zeros or all ones on both sides
        return 0.0, 1.0, CHI_SQUARE
    statistic, p_value, _, expected = stats.chi2_contingency(table, correction=True)
    if expected.min() < MIN_EXPECTED:
        return float(statistic), float(stats.fisher_exact(table).pvalue), FISHER
    return float(statistic), float(p_value), CHI_SQUARE


def adjust_p_values(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN (untested features) stay NaN and do not count."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        adjusted[tested] = stats.false_discovery_control(p[tested], method="bh")
    return adjusted


def feature_drift(reference: np.ndarray, current: np.ndarray, names: Sequence[str], kinds: Sequence[str],
                  groups: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per feature (in the given order) with the columns of COLUMNS.

    `reference` and `current`: 2-D float arrays (samples, features) with NaN for missing values, the
    columns in the order of `names` and `kinds` (engine.schema.BINARY or CONTINUOUS)."""
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    n_features = len(names)
    if reference.ndim != 2 or current.ndim != 2:
        raise ValueError("reference and current must be 2-D arrays (samples, features)")
    if reference.shape[1] != n_features or current.shape[1] != n_features or len(kinds) != n_features:
        raise ValueError(f"{n_features} feature names for reference {reference.shape}, current {current.shape} "
                         f"and {len(kinds)} kinds")
    unknown = sorted(set(kinds) - {BINARY, CONTINUOUS})
    if unknown:
        raise ValueError(f"unknown feature kind {unknown[0]!r}; expected {BINARY!r} or {CONTINUOUS!r}")
    rows = []
    for j, (name, kind) in enumerate(zip(names, kinds)):
        ref, cur = reference[:, j], current[:, j]
        ref_values, cur_values = _values(ref), _values(cur)
        row = {
            "feature": str(name), "group": None if groups is None else str(groups[j]), "kind": kind,
            "test": KS if kind == CONTINUOUS else CHI_SQUARE,
            "n_reference": len(ref_values), "n_current": len(cur_values),
            "missing_reference": float(1 - len(ref_values) / len(ref)) if len(ref) else float("nan"),
            "missing_current": float(1 - len(cur_values) / len(cur)) if len(cur) else float("nan"),
            "statistic": float("nan"), "p_value": float("nan"), "psi": float("nan"), "note": "",
        }
        if min(len(ref_values), len(cur_values)) < MIN_VALUES:
            row["note"] = f"not tested: fewer than {MIN_VALUES} non-missing values on one side"
        elif kind == CONTINUOUS:
            row["statistic"], row["p_value"] = ks_test(ref_values, cur_values)
            row["psi"] = psi(ref_values, cur_values)
        else:
            row["statistic"], row["p_value"], row["test"] = chi_square_test(ref_values, cur_values)
            row["psi"] = binary_psi(ref_values, cur_values)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("p_adjusted", "drifted")])
    frame["p_adjusted"] = adjust_p_values(frame["p_value"].to_numpy())
    frame["drifted"] = (frame["p_adjusted"] < ALPHA) & (frame["psi"] >= PSI_MODERATE)  # NaN compares False
    return frame[COLUMNS]


def verdict(frame: pd.DataFrame) -> str:
    """"no drift", "some drift" or "major drift" from the share of drifted features (see the module)."""
    n, drifted = len(frame), int(frame["drifted"].sum())
    if drifted == 0:
        return NO_DRIFT
    return MAJOR_DRIFT if drifted / n >= MAJOR_DRIFT_SHARE else SOME_DRIFT


def most_drifted(frame: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The top_n features, drifted ones first, then by PSI and by adjusted p-value (ties by name)."""
    order = frame.assign(_psi=frame["psi"].fillna(-1.0), _p=frame["p_adjusted"].fillna(2.0))
    order = order.sort_values(["drifted", "_psi", "_p", "feature"], ascending=[False, False, True, True],
                              kind="mergesort")
    return order.drop(columns=["_psi", "_p"]).head(top_n).reset_index(drop=True)


def summary(frame: pd.DataFrame) -> dict:
    """The verdict with the counts it rests on."""
    return {"verdict": verdict(frame), "drifted_features": int(frame["drifted"].sum()),
            "features": int(len(frame)), "tested_features": int(frame["p_value"].notna().sum())}
