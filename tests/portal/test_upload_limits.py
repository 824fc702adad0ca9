"""The portal's upload limits reach the reader (settings max_upload_bytes, max_rows, max_cells): a wide Parquet, a
gzip bomb and a file past the cell limit are recorded as invalid uploads with errors naming the file and the
limit, nothing is stored, and the refusal is audited; sample ids that look like personal data are refused
without being written anywhere. Limits are scaled down so the files stay small; the hostile files are made
up here (zeros and made-up ids), the cohorts are real held-out TCGA samples."""
from __future__ import annotations

import io
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from portal.core.models import AuditEvent, Upload
from portal.predictions import runs
from tests.helpers import DATA_USE, MODEL, cohort_csv
from tests.helpers import user_of as user

MB = 1024 * 1024


@pytest.fixture
def portal(make_portal):
    app = make_portal(max_upload_bytes=MB, max_cells=10_000)
    with app.server.app_context():
        yield app.server.extensions["cancer_alpha"]


def upload(portal, filename: str, content: bytes):
    return runs.save_upload(portal, user(portal, "researcher").id, filename, content, MODEL, data_use=DATA_USE)


def refused(portal, outcome, code: str) -> dict:
    """The one error of a refused upload, after checking that nothing was stored and the refusal audited."""
    assert outcome.upload.status == "invalid"
    errors = [i for i in outcome.report["issues"] if i["severity"] == "error"]
    assert [e["code"] for e in errors] == [code]
    assert not (portal.settings.storage_dir / f"uploads/{outcome.upload.id}").exists()
    with portal.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.target == outcome.upload.id)).one()
    assert (event.action, event.outcome) == ("upload.invalid", "failed")
    return errors[0]


def test_a_wide_parquet_is_refused_naming_the_file_and_the_width_allowed(portal, registry):
    width = len(registry.resolve(MODEL).schema.names) + 2 + 2_000 + 1
    column = pa.array(np.zeros(20))
    buffer = io.BytesIO()
    pq.write_table(pa.table([column] * width, names=[f"f{k}" for k in range(width)]), buffer)
    error = refused(portal, upload(portal, "wide.parquet", buffer.getvalue()), "too-many-columns")
    assert error["message"].startswith(f"wide.parquet has {width:,} columns; at most {width - 1:,} are accepted")


def test_a_gzip_bomb_is_refused_naming_the_file_and_what_it_may_inflate_to(portal):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b"sample_id,x\n") + b"".join(packer.compress(b"0" * MB) for _ in range(30)) + packer.flush()
    assert len(bomb) < 100_000
    error = refused(portal, upload(portal, "bomb.csv.gz", bomb), "too-large")
    assert error["message"] == ("bomb.csv.gz: the file inflates past 2.0 MB once decompressed, more than one upload "
                                "may hold; split it into smaller files.")


def test_the_cell_limit_comes_from_the_settings(portal, make_portal, tmp_path, tcga, registry):
    content = cohort_csv(tcga, registry, n=40)  # 40 real samples x 300 columns: 12,000 values
    error = refused(portal, upload(portal, "cohort.csv", content), "too-many-cells")
    assert "more than the 10,000 values (rows x columns) one upload may hold" in error["message"]
    assert "cohort.csv has 300 columns" in error["message"]
    roomy = make_portal(f"sqlite:///{tmp_path / 'roomy.db'}", max_cells=20_000).server
    with roomy.app_context():
        assert upload(roomy.extensions["cancer_alpha"], "cohort.csv", content).upload.status == "valid"


def test_personal_sample_ids_are_refused_and_written_nowhere(portal, tcga, registry):
    lines = cohort_csv(tcga, registry, n=3).decode().splitlines()
    made_up = "jane.doe@example.org"
    lines[2] = made_up + lines[2][lines[2].index(","):]
    outcome = upload(portal, "cohort.csv", ("\n".join(lines) + "\n").encode())
    error = refused(portal, outcome, "personal-sample-id")
    assert error["row"] == 2 and "an e-mail address" in error["message"]
    with portal.db.session() as session:
        stored = [repr(u.validation) for u in session.scalars(select(Upload))]
        audited = [repr(e.details) for e in session.scalars(select(AuditEvent))]
    assert stored and not any(made_up in text or "jane" in text for text in stored + audited)
