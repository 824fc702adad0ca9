"""The feature schema: what a model version expects as input. Travels with every version."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Iterable

import numpy as np
import pandas as pd

BINARY = "binary"
CONTINUOUS = "continuous"


@dataclass(frozen=True)
class Feature:
    """One input column. `minimum`/`maximum` are the range seen in the training split."""

    name: str
    group: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered features, the id column an upload must carry, and the feature groups' names."""

    features: tuple[Feature, ...]
    id_column: str

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def groups(self) -> list[str]:
        return [f.group for f in self.features]

    def group_counts(self) -> dict[str, int]:
        return pd.Series(self.groups).value_counts().to_dict()

    def binary_mask(self) -> np.ndarray:
        return np.array([f.kind == BINARY for f in self.features])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Training minimum and maximum per feature, as arrays in schema order."""
        lo = np.array([np.nan if f.minimum is None else f.minimum for f in self.features], dtype=float)
        hi = np.array([np.nan if f.maximum is None else f.maximum for f in self.features], dtype=float)
        return lo, hi

    def with_training_range(self, X: np.ndarray) -> "FeatureSchema":
        """A copy whose ranges are those of `X` (rows: training samples, columns: schema order)."""
        lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        features = tuple(
            replace(f, minimum=float(a), maximum=float(b)) for f, a, b in zip(self.features, lo, hi)
        )
        return replace(self, features=features)

    def to_dict(self) -> dict:
        return {"id_column": self.id_column, "features": [asdict(f) for f in self.features]}

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureSchema":
        return cls(features=tuple(Feature(**f) for f in data["features"]), id_column=data["id_column"])

    @classmethod
    def build(cls, names: Iterable[str], group_of, kind_of, id_column: str) -> "FeatureSchema":
        """Schema from column names and two functions name -> group and name -> kind."""
        return cls(
            features=tuple(Feature(name=n, group=group_of(n), kind=kind_of(n)) for n in names),
            id_column=id_column,
        )
