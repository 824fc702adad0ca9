"""Two prediction runs side by side: the samples each predicted per class, how confident each was, and on
the samples both runs hold (matched by sample id) how often they give the same class, with the samples on
which they differ.

The functions on results frames (`class_counts`, `confidence_summary`, `agreement`, `compare`) are pure:
frames as runs.results returns them in (sample_id, predicted_class, confidence, abstain,
out_of_distribution), plain values out. `compare_runs` reads two runs the user may read (runs.get_run with
RunAccess.READ: their own, shared with them, any for an admin) and compares their results. Runs of
different models (or versions) compare too: on sample ids and class names only, so a class one model does
not predict counts zero for it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.registry import RegistryError
from portal.accounts import audit
from portal.core.context import Portal
from portal.core.models import PredictionRun
from portal.core.states import RunAccess
from portal.jobs import states
from portal.predictions import runs
from portal.predictions.runs import RunError


@dataclass(frozen=True)
class ConfidenceSummary:
    """How confident one run was: quartiles of the predicted class's probability, and its flags."""

    n: int
    median: float | None  # None for a run without samples
    q1: float | None
    q3: float | None
    abstained: int  # below the model's abstain threshold
    out_of_distribution: int

    @property
    def abstained_share(self) -> float | None:
        return self.abstained / self.n if self.n else None

    @property
    def out_of_distribution_share(self) -> float | None:
        return self.out_of_distribution / self.n if self.n else None


@dataclass(frozen=True)
class Agreement:
    """The two runs on the samples both hold (by sample id)."""

    shared: int  # samples in both runs
    only_a: int
    only_b: int
    same: int  # shared samples given the same class by both
    disagreements: list[dict]  # sample_id, class_a, class_b, confidence_a, confidence_b; by sample id

    @property
    def fraction(self) -> float | None:
        """The share of shared samples given the same class (None when the runs share none)."""
        return self.same / self.shared if self.shared else None


@dataclass(frozen=True)
class Comparison:
    classes: list[str]  # every class either run may predict or predicted, in a stable order
    counts_a: dict[str, int]  # class -> samples run A predicted as it (0 for none)
    counts_b: dict[str, int]
    confidence_a: ConfidenceSummary
    confidence_b: ConfidenceSummary
    agreement: Agreement


@dataclass(frozen=True)
class RunComparison:
    """Two runs the user may read and the comparison of their results."""

    run_a: PredictionRun
    run_b: PredictionRun
    comparison: Comparison

    @property
    def same_model(self) -> bool:
        return (self.run_a.model_name, self.run_a.model_version) == (self.run_b.model_name, self.run_b.model_version)


def _unique_samples(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per sample id (as text); validation refuses duplicate ids, so this only guards."""
    shown = frame.assign(sample_id=frame["sample_id"].astype(str), predicted_class=frame["predicted_class"].astype(str))
    return shown.drop_duplicates("sample_id", keep="first")


def class_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Samples per predicted class, most frequent first (ties by name)."""
    counts = frame["predicted_class"].astype(str).value_counts()
    return {name: int(counts[name]) for name in sorted(counts.index, key=lambda c: (-counts[c], c))}


def confidence_summary(frame: pd.DataFrame) -> ConfidenceSummary:
    values = frame["confidence"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    q1, median, q3 = (float(v) for v in np.percentile(values, [25, 50, 75])) if len(values) else (None,) * 3
    return ConfidenceSummary(n=int(len(frame)), median=median, q1=q1, q3=q3,
                             abstained=int(frame["abstain"].astype(bool).sum()),
                             out_of_distribution=int(frame["out_of_distribution"].astype(bool).sum()))


def agreement(frame_a: pd.DataFrame, frame_b: pd.DataFrame) -> Agreement:
    a, b = _unique_samples(frame_a), _unique_samples(frame_b)
    both = a[["sample_id", "predicted_class", "confidence"]].merge(
        b[["sample_id", "predicted_class", "confidence"]], on="sample_id", suffixes=("_a", "_b"))
    differ = both[both["predicted_class_a"] != both["predicted_class_b"]].sort_values("sample_id", kind="stable")
    disagreements = [{"sample_id": row.sample_id, "class_a": row.predicted_class_a, "class_b": row.predicted_class_b,
                      "confidence_a": float(row.confidence_a), "confidence_b": float(row.confidence_b)}
                     for row in differ.itertuples(index=False)]
    shared = int(len(both))
    return Agreement(shared=shared, only_a=int(len(a)) - shared, only_b=int(len(b)) - shared,
                     same=shared - len(disagreements), disagreements=disagreements)


def compare(frame_a: pd.DataFrame, frame_b: pd.DataFrame, classes_a: list[str] | None = None,
            classes_b: list[str] | None = None) -> Comparison:
    """Compare two results frames. `classes_a`/`classes_b`: the classes each run's model predicts (so a
    class neither predicted still shows as 0); the classes are A's, then B's others, then any other class
    predicted, in that order."""
    counts_a, counts_b = class_counts(frame_a), class_counts(frame_b)
    ordered = [*(classes_a or []), *(classes_b or []), *sorted(counts_a), *sorted(counts_b)]
    classes = list(dict.fromkeys(str(c) for c in ordered))
    return Comparison(classes=classes, counts_a={c: counts_a.get(c, 0) for c in classes},
                      counts_b={c: counts_b.get(c, 0) for c in classes},
                      confidence_a=confidence_summary(frame_a), confidence_b=confidence_summary(frame_b),
                      agreement=agreement(frame_a, frame_b))


def _classes(portal: Portal, run: PredictionRun) -> list[str]:
    try:
        return portal.registry.get(run.model_name, run.model_version).classes
    except RegistryError:  # the version is gone from the registry: the classes it predicted will do
        return []


def compare_runs(portal: Portal, run_a_id: str, run_b_id: str, user_id: int, role: str) -> RunComparison:
    """Compare two finished runs the user may read. RunError 400 (bad or equal ids), 404, 403 (either is not
    theirs and not shared with them), 409 (either has no results yet). Audited as "prediction.compare"."""
    if run_a_id == run_b_id and isinstance(run_a_id, str):
        raise RunError("choose two different runs to compare", 400)
    run_a = runs.get_run(portal, run_a_id, user_id, role, RunAccess.READ)
    run_b = runs.get_run(portal, run_b_id, user_id, role, RunAccess.READ)
    frame_a, frame_b = runs.results(portal, run_a), runs.results(portal, run_b)
    comparison = compare(frame_a, frame_b, _classes(portal, run_a), _classes(portal, run_b))
    audit.record("prediction.compare", target=f"{run_a.id}/{run_b.id}",
                 details={"shared": comparison.agreement.shared, "same": comparison.agreement.same},
                 user_id=user_id, actor=states.owner_email(portal, user_id))
    return RunComparison(run_a=run_a, run_b=run_b, comparison=comparison)
