"""The samples a notebook that takes an input file (cohort_report, drift_report) may read in the portal:
(a) a finished prediction run the user may read (its upload), or (b) the held-out split of a model
version: real samples the registry already knows (`ModelVersion.test_ids` of its dataset, with their
true classes), which every role that runs notebooks may read: they are the registry's, not a user's.

A run records its input in its parameters: `input_run: "<run id>"` or `input_split: "<model>:<version>"`,
with the data-use basis of the samples read (`data_use: {"basis", "reference"}`): the one recorded with
the prediction run's upload, or, for a held-out split, public data with its data set as the source.
The form sends one value for both: a run id, or `split:<model>:<version>`. Anything else, or a model or
version the registry does not know, is a ParameterError with a message that says so."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from engine import reports
from engine.registry import ModelVersion
from portal.accounts.permissions import ADMIN
from portal.core.context import Portal
from portal.core.models import Upload, User
from portal.core.states import DataUseBasis
from portal.notebooks.catalog import ParameterError
from portal.predictions import consent, examples
from portal.predictions import runs as prediction_runs
from portal.private_files import private_file

INPUT_RUN = "input_run"  # recorded with the parameters: the prediction run whose upload was the input
INPUT_SPLIT = "input_split"  # recorded with the parameters: "<model>:<version>" whose held-out split was read
DATA_USE = "data_use"  # recorded with the parameters: the data-use basis of the samples read
SPLIT_PREFIX = "split:"  # a form value naming a held-out split: "split:<model>:<version>"


@dataclass(frozen=True)
class InputChoice:
    """One input a user may choose: `value` is what the form sends back, `label` what it shows."""

    value: str
    label: str
    model: str  # the model whose schema the samples fit


def split_value(name: str, number: int) -> str:
    return f"{SPLIT_PREFIX}{name}:{number}"


def choices(portal: Portal, user_id: int | None, role: str) -> list[InputChoice]:
    """The user's readable finished prediction runs (newest first; for admins labelled with the owner),
    each labelled with what it holds, then the held-out split of every model version."""
    found = prediction_runs.readable_finished_runs(portal, user_id, role)
    files = _file_names(portal, [r.upload_id for r in found])
    emails = _emails(portal, [r.user_id for r in found]) if role == ADMIN else {}
    options = []
    for run in found:
        parts = [files.get(run.upload_id, "upload"), f"{run.model_name} v{run.model_version}",
                 f"{run.progress_total:,} samples", f"{run.created_at:%Y-%m-%d %H:%M}", f"run {run.id[:8]}"]
        if role == ADMIN:
            parts.append(f"by {emails.get(run.user_id, 'system')}")
        options.append(InputChoice(run.id, " · ".join(parts), run.model_name))
    registry = portal.registry
    for name in registry.models():
        for version in reversed(registry.versions(name)):
            if version.test_ids:
                options.append(InputChoice(split_value(name, version.version),
                                           f"held-out split of {name} v{version.version} · "
                                           f"{len(version.test_ids):,} samples with known classes", name))
    return options


def parse_choice(value) -> tuple[str | None, str | None]:
    """(input_run, input_split) from the form's input value; ParameterError for what is neither."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise ParameterError([f"input: {value!r} is neither a prediction run nor a held-out split"])
    if value.startswith(SPLIT_PREFIX):
        return None, value[len(SPLIT_PREFIX):]
    return value, None


def choice_of(parameters: dict) -> str | None:
    """The form value of a recorded run's input (for a rerun)."""
    if parameters.get(INPUT_SPLIT):
        return SPLIT_PREFIX + str(parameters[INPUT_SPLIT])
    return parameters.get(INPUT_RUN)


def resolve_split(portal: Portal, text) -> ModelVersion:
    """The version named by `MODEL[:VERSION]` (a version number or an alias; no version: production)
    whose held-out split is read; ParameterError naming what the registry lacks."""
    if not isinstance(text, str) or not text.strip():
        raise ParameterError([f"{INPUT_SPLIT}: give MODEL or MODEL:VERSION, got {text!r}"])
    name, _, version = text.strip().partition(":")
    try:
        found = reports.resolve_version(name, version or "production", portal.registry)
    except ValueError as error:
        raise ParameterError([f"{INPUT_SPLIT} {text.strip()!r}: {error}"]) from None
    if not found.test_ids:
        raise ParameterError([f"{INPUT_SPLIT} {text.strip()!r}: {found.ref} stores no held-out split"])
    return found


def split_data_use(split: ModelVersion) -> dict:
    """A held-out split's data-use basis: public research data, its data set named as the source."""
    source = f"{split.dataset_title} ({split.dataset_id}), held-out split of {split.ref}"
    return consent.DataUse(DataUseBasis.PUBLIC, source[:consent.MAX_REFERENCE]).to_dict()


def run_data_use(portal: Portal, upload_id: str | None) -> dict:
    """A prediction run's samples' data-use basis: the one recorded with its upload."""
    return consent.of_upload(portal, upload_id).to_dict()


def file_data_use(data_use) -> dict:
    """The data-use basis given for a file of samples read by path (the command line); ParameterError
    naming the field when there is none or it is refused."""
    try:
        return consent.parse(data_use).to_dict()
    except consent.ConsentError as error:
        raise ParameterError([f"{DATA_USE}.{error.field}: {error.message}"]) from None


def data_use_words(recorded: dict | None) -> str:
    """A recorded data-use basis in words (a run's parameters)."""
    recorded = recorded if isinstance(recorded, dict) else {}
    return consent.recorded(recorded.get("basis"), recorded.get("reference")).words


def write_split(portal: Portal, ref: str, path: Path, user_id: int | None, actor: str | None) -> Path:
    """The held-out split recorded as "<model>:<version>" as a Parquet file of samples (id column, true
    label, the version's features), for the notebook to read; audited as the run owner's notebook input."""
    name, _, number = ref.rpartition(":")
    examples.held_out_samples(portal, name, int(number), action="notebook.input.split", user_id=user_id,
                              actor=actor).to_parquet(private_file(path), index=False)  # clear samples: 0600
    return path


def _file_names(portal: Portal, upload_ids) -> dict[str, str]:
    ids = {i for i in upload_ids if i}
    if not ids:
        return {}
    with portal.db.session() as session:
        return dict(session.execute(select(Upload.id, Upload.filename).where(Upload.id.in_(ids))).all())


def _emails(portal: Portal, user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    with portal.db.session() as session:
        return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
