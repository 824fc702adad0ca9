"""Per-feature drift statistics (engine.drift), on real samples of the two datasets wherever a real
sample shows the case; the edge cases (missing values, constant columns, tiny samples) on small made-up
arrays, said so in each test."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from engine import drift
from engine.schema import BINARY, CONTINUOUS


def _kinds(dataset):
    return [f.kind for f in dataset.schema.features]


def test_identical_samples_do_not_drift(tcga):
    X = tcga.X.to_numpy(float)
    frame = drift.feature_drift(X, X.copy(), tcga.schema.names, _kinds(tcga), tcga.schema.groups)
    assert list(frame.columns) == drift.COLUMNS
    assert len(frame) == X.shape[1] and frame["group"].eq("miRNA").all()
    assert (frame["psi"] == 0).all() and (frame["statistic"] == 0).all() and (frame["p_value"] == 1).all()
    assert not frame["drifted"].any()
    assert drift.summary(frame) == {"verdict": drift.NO_DRIFT, "drifted_features": 0, "features": X.shape[1],
                                    "tested_features": X.shape[1]}


def test_identical_binary_samples_do_not_drift(gdsc):
    X = gdsc.X.to_numpy(float)
    frame = drift.feature_drift(X, X.copy(), gdsc.schema.names, _kinds(gdsc))
    assert (frame["psi"] == 0).all() and (frame["p_value"] == 1).all()
    assert drift.verdict(frame) == drift.NO_DRIFT


def test_a_clearly_shifted_real_feature_drifts(tcga):
    """The miRNA whose median differs most between breast (BRCA) and prostate (PRAD) tumours: one sample
    of each, compared feature by feature."""
    brca = tcga.X[tcga.y == "BRCA"]
    prad = tcga.X[tcga.y == "PRAD"]
    shift = (np.log2(brca.median() + 1) - np.log2(prad.median() + 1)).abs()
    name = shift.idxmax()
    assert shift[name] > 2  # a fourfold change of the median
    frame = drift.feature_drift(brca[[name]].to_numpy(float), prad[[name]].to_numpy(float), [name], [CONTINUOUS])
    row = frame.iloc[0]
    assert row["test"] == drift.KS
    assert row["psi"] > drift.PSI_MAJOR and row["p_value"] < 1e-10 and row["drifted"]
    expected = stats.ks_2samp(brca[name].to_numpy(float), prad[name].to_numpy(float))
    assert row["statistic"] == pytest.approx(expected.statistic) and row["p_value"] == pytest.approx(expected.pvalue)


def test_one_cancer_type_against_all_three_is_major_drift(tcga):
    """Melanoma (SKCM) samples alone against the whole dataset: most miRNAs shift."""
    X = tcga.X.to_numpy(float)
    skcm = tcga.X[tcga.y == "SKCM"].to_numpy(float)
    frame = drift.feature_drift(X, skcm, tcga.schema.names, _kinds(tcga))
    assert drift.verdict(frame) == drift.MAJOR_DRIFT
    assert frame["drifted"].mean() >= drift.MAJOR_DRIFT_SHARE
    top = drift.most_drifted(frame, 5)
    assert len(top) == 5 and top["drifted"].all() and top["psi"].is_monotonic_decreasing


def test_binary_feature_chi_square(gdsc):
    """BRAF mutations: common in skin (melanoma) cell lines, rare elsewhere."""
    skin = gdsc.X.loc[gdsc.y == "skin", "BRAF_mut"].to_numpy(float)
    other = gdsc.X.loc[gdsc.y != "skin", "BRAF_mut"].to_numpy(float)
    frame = drift.feature_drift(other[:, None], skin[:, None], ["BRAF_mut"], [BINARY])
    row = frame.iloc[0]
    table = np.array([[(other == 0).sum(), (other == 1).sum()], [(skin == 0).sum(), (skin == 1).sum()]])
    expected = stats.chi2_contingency(table, correction=True)
    assert row["test"] == drift.CHI_SQUARE
    assert row["statistic"] == pytest.approx(expected.statistic) and row["p_value"] == pytest.approx(expected.pvalue)
    assert row["drifted"] and row["psi"] > drift.PSI_MAJOR


def test_small_binary_counts_use_fisher_exact(gdsc):
    """The first 12 skin lines against the other lines: expected counts under 5 in the 2 x 2 table."""
    skin = gdsc.X.loc[gdsc.y == "skin", "BRAF_mut"].to_numpy(float)[:12]
    other = gdsc.X.loc[gdsc.y != "skin", "BRAF_mut"].to_numpy(float)
    statistic, p_value, test = drift.chi_square_test(other, skin)
    table = np.array([[(other == 0).sum(), (other == 1).sum()], [(skin == 0).sum(), (skin == 1).sum()]])
    assert test == drift.FISHER
    assert p_value == pytest.approx(stats.fisher_exact(table).pvalue)


def test_binary_values_other_than_zero_and_one_are_refused():
    """Made-up values: 2 is not a binary value."""
    with pytest.raises(ValueError, match="other than 0 and 1"):
        drift.chi_square_test(np.array([0, 1, 1, 0, 1.0]), np.array([0, 1, 2, 0, 1.0]))


def test_missing_values_are_left_out_and_counted(tcga):
    """A real miRNA column against itself with 25 missing cells added (NaN rows)."""
    x = tcga.X.iloc[:, 0].to_numpy(float)
    with_missing = np.concatenate([x, np.full(25, np.nan)])
    frame = drift.feature_drift(x[:, None], with_missing[:, None], ["m"], [CONTINUOUS])
    row = frame.iloc[0]
    assert row["n_current"] == len(x) and row["missing_current"] == pytest.approx(25 / (len(x) + 25))
    assert row["missing_reference"] == 0
    assert row["psi"] == 0 and row["p_value"] == 1 and not row["drifted"]
    assert drift.psi(x, with_missing) == 0 and drift.ks_test(x, with_missing) == (0.0, 1.0)


def test_all_missing_and_tiny_samples_are_not_tested():
    """Made-up columns: one all missing, one with 3 values on the current side."""
    reference = np.column_stack([np.arange(20.0), np.arange(20.0)])
    current = np.column_stack([np.full(10, np.nan), [1.0, 2.0, 50.0] + [np.nan] * 7])
    frame = drift.feature_drift(reference, current, ["empty", "tiny"], [CONTINUOUS, CONTINUOUS])
    assert frame["p_value"].isna().all() and frame["p_adjusted"].isna().all() and frame["psi"].isna().all()
    assert not frame["drifted"].any()
    assert frame["note"].str.contains(f"fewer than {drift.MIN_VALUES}").all()
    assert frame.loc[0, "missing_current"] == 1.0
    assert drift.summary(frame)["tested_features"] == 0 and drift.verdict(frame) == drift.NO_DRIFT
    assert np.isnan(drift.psi([], [1.0])) and np.isnan(drift.ks_test([np.nan], [1.0])[1])


def test_constant_columns():
    """Made-up constant columns: equal constants do not drift; a column constant at another value does."""
    zeros, ones = np.zeros((40, 1)), np.ones((30, 1))
    same = drift.feature_drift(np.hstack([zeros, zeros]), np.hstack([zeros[:30], zeros[:30]]),
                               ["binary", "continuous"], [BINARY, CONTINUOUS])
    assert (same["statistic"] == 0).all() and (same["p_value"] == 1).all() and (same["psi"] == 0).all()
    assert not same["drifted"].any()
    moved = drift.feature_drift(np.hstack([zeros, zeros]), np.hstack([ones, ones * 7]),
                                ["binary", "continuous"], [BINARY, CONTINUOUS])
    assert moved["drifted"].all() and (moved["psi"] > drift.PSI_MAJOR).all()
    # a constant reference: values above it fall in the open top bin
    assert drift.psi(np.zeros(40), np.full(30, 7.0)) == pytest.approx(drift.psi(np.zeros(40), np.full(30, 3.0)))


def test_psi_bins_at_the_reference_deciles(tcga):
    """The PSI of a sample against itself shifted by one decile is the smoothed formula by hand."""
    x = np.sort(tcga.X.iloc[:, 5].to_numpy(float))
    edges = np.unique(np.quantile(x, np.arange(1, 10) / 10))
    half = x[len(x) // 2:]
    r = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
    c = np.bincount(np.searchsorted(edges, half, side="left"), minlength=len(edges) + 1)
    assert (r > 0).all()  # every bin is used, none is left out
    r, c = r + drift.PSI_SMOOTHING, c + drift.PSI_SMOOTHING
    r, c = r / r.sum(), c / c.sum()
    assert drift.psi(x, half) == pytest.approx(float(np.sum((c - r) * np.log(c / r))))
    assert drift.psi(x, half) > 0


def test_benjamini_hochberg_adjustment():
    """Made-up p-values, adjusted by hand: p_(i) * m / i, made monotone from the largest down."""
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5])
    adjusted = drift.adjust_p_values(p)
    assert np.isnan(adjusted[1])
    # sorted: 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.06, 0.0533, 0.5 -> monotone: 0.04, 0.0533, 0.0533, 0.5
    assert adjusted[[0, 2, 3, 4]] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(drift.adjust_p_values([np.nan])).all()


def test_verdict_by_share_of_drifted_features():
    """Made-up frames: the verdict reads only the drifted column."""
    def frame(drifted: int, n: int = 100) -> pd.DataFrame:
        return pd.DataFrame({"drifted": [True] * drifted + [False] * (n - drifted)})
    assert drift.verdict(frame(0)) == drift.NO_DRIFT
    assert drift.verdict(frame(1)) == drift.SOME_DRIFT
    assert drift.verdict(frame(int(drift.MAJOR_DRIFT_SHARE * 100) - 1)) == drift.SOME_DRIFT
    assert drift.verdict(frame(int(drift.MAJOR_DRIFT_SHARE * 100))) == drift.MAJOR_DRIFT


def test_deterministic_and_checked_inputs(gdsc):
    X = gdsc.X.to_numpy(float)
    a = drift.feature_drift(X[:500], X[500:], gdsc.schema.names, _kinds(gdsc))
    b = drift.feature_drift(X[:500], X[500:], gdsc.schema.names, _kinds(gdsc))
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="feature names"):
        drift.feature_drift(X, X, gdsc.schema.names[:3], _kinds(gdsc)[:3])
    with pytest.raises(ValueError, match="unknown feature kind"):
        drift.feature_drift(X[:, :1], X[:, :1], ["a"], ["ordinal"])
