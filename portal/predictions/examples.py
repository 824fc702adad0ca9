"""An example upload of a model version: its real held-out samples, with their known classes in the
label column, in the columns the version's template has. They played no part in training, so a user
can try a run and compare its predictions with the truth. A version whose schema has several feature blocks
(engine.blocks) also offers its template and its example as one file per block, in a zip."""
from __future__ import annotations

import io
import zipfile

import pandas as pd

from engine import blocks, datasets
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


def block_files(frame: pd.DataFrame, version, kind: str) -> tuple[bytes, str]:
    """A wide table of the version (its template or its example) as one CSV a feature block, zipped: (the zip's
    bytes, its file name). The label, when there is one, is in the first block's file."""
    stem = f"{version.name}-v{version.version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for group, part in blocks.split_frame(frame, version.schema, LABEL_COLUMN).items():
            archive.writestr(f"{stem}-{blocks.block_slug(group)}-{kind}.csv", part.to_csv(index=False))
    return buffer.getvalue(), f"{stem}-{kind}-per-block.zip"


def template_frame(version) -> pd.DataFrame:
    """The version's blank template: its id column and features, no rows."""
    return pd.DataFrame(columns=[version.schema.id_column, *version.schema.names])
