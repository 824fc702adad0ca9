"""An example upload of a model version: its real held-out samples, with their known classes in the
label column, in the columns the version's template has. They played no part in training, so a user
can try a run and compare its predictions with the truth."""
from __future__ import annotations

import pandas as pd

from engine import datasets
from portal.accounts import audit
from portal.core.context import Portal
from portal.predictions.runs import LABEL_COLUMN


def held_out_samples(portal: Portal, name: str, number: int, action: str = "download.example",
                     user_id: int | None = None, actor: str | None = None) -> pd.DataFrame:
    """The id column, the label column and the version's features, one held-out sample a row. Audited as
    `action`: inside a request as the signed-in user, in a job as the `user_id`/`actor` it is done for."""
    version = portal.registry.version_of(name, number)
    dataset = datasets.load(version.dataset_id, portal.settings.data_dir)
    ids = version.test_ids
    frame = dataset.X.loc[ids, version.schema.names].copy()
    frame.index.name = version.schema.id_column
    frame.insert(0, LABEL_COLUMN, dataset.y.loc[ids].to_numpy())
    frame = frame.reset_index()
    audit.record(action, target=version.ref, details={"samples": len(frame)}, user_id=user_id, actor=actor,
                 db=portal.db)
    return frame
