"""Notebook runs: queue a run with checked parameters, execute it with papermill (in a background job or
from the command line), keep the executed notebook and its HTML, and record what a rerun needs.

A run's folder is `<var>/notebook-runs/<run id>/` with `<notebook>.ipynb` and `<notebook>.html`. A run
whose input is one of the user's prediction runs gets that upload decrypted into its folder for the
notebook to read, deleted as soon as the notebook ends; a run whose input is a model version's held-out
split (portal/notebooks/inputs.py) gets those samples written there the same way. The record holds the notebook, the parameters,
who, when, how long, the status, the failing cell and its error, the model version and artifact sha256,
the data checksum and the versions of the packages that computed the result.

Who sees a run: its owner and admins always; everyone with `view_notebooks` too, unless the run read a
file of samples (a prediction run's upload or a path given on the command line). A held-out split is the
registry's, not a user's: a run that read one is not private."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable

import nbformat
import papermill
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from sqlalchemy import and_, false, func, or_, select, true, update

from engine import reports
from engine.training import package_versions
from portal.accounts import audit
from portal.accounts.permissions import ADMIN, allowed
from portal.accounts.users import get_user
from portal.core.context import Portal
from portal.core.models import NotebookRun, User, utcnow
from portal.core.settings import PROJECT_ROOT
from portal.core.states import AuditOutcome, RunAccess, RunStatus
from portal.jobs import states
from portal.notebooks import html_export as notebook_html
from portal.notebooks import inputs
from portal.notebooks.catalog import INPUT_FILE, NotebookSpec, ParameterError, check
from portal.notebooks.catalog import get as get_notebook
from portal.predictions import runs
from portal.predictions.runs import RunError
from portal.private_files import private_file

log = logging.getLogger(__name__)

INPUT_RUN, INPUT_SPLIT = inputs.INPUT_RUN, inputs.INPUT_SPLIT  # recorded with the parameters: what was read
DATA_USE = inputs.DATA_USE  # recorded with the parameters: the data-use basis of what was read
RECORD_ONLY = (INPUT_RUN, INPUT_SPLIT, DATA_USE)  # recorded, never handed to the notebook
INPUT_COPY = "input.parquet"
MAX_RUN_ID = 64  # run ids are uuid4 hex (32 characters); a longer text is none
ENGINE = "cancer-alpha"
KERNEL = "python3"  # ipykernel's kernel for the Python running the portal: the same environment
PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "shap", "plotly", "papermill", "nbconvert", "ipykernel")


class ProgressLines:
    """A file-like stdout sink for papermill's client: it receives each stream output of the kernel as it
    arrives, splits it into lines and calls `on_detail(text)` for each progress line
    (engine.reports.PROGRESS_PREFIX: `progress: candidate 2 of 4, fold 3 of 5`)."""

    def __init__(self, on_detail: Callable[[str], None]):
        self.on_detail, self.pending = on_detail, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            detail = reports.progress_detail(line)
            if detail:
                self.on_detail(detail)
        return len(text)

    def flush(self) -> None:
        pass


class ProgressEngine(NBClientEngine):
    """papermill's own engine, which also reports each finished cell, `on_cell(done, total)`, and where a
    running cell is when it prints progress lines, `on_cell(its number, total, detail="candidate 2 of 4,
    fold 3 of 5")`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, **kwargs):
        if on_cell is not None:
            start, complete, running = nb_man.cell_start, nb_man.cell_complete, [0]

            def cell_start(cell, cell_index=None, **more):
                running[0] = cell_index
                start(cell, cell_index, **more)

            def cell_complete(cell, cell_index=None, **more):
                complete(cell, cell_index=cell_index, **more)
                on_cell(cell_index + 1, len(nb_man.nb.cells))

            nb_man.cell_start, nb_man.cell_complete = cell_start, cell_complete
            if kwargs.get("stdout_file") is None:
                kwargs["stdout_file"] = ProgressLines(
                    lambda detail: on_cell(running[0] + 1, len(nb_man.nb.cells), detail=detail))
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register(ENGINE, ProgressEngine)


def shown_parameters(run: NotebookRun) -> dict:
    """The parameters as a person reads them: an input path left empty because a prediction run or a
    held-out split was read instead is not shown."""
    parameters = dict(run.parameters or {})
    if (parameters.get(INPUT_RUN) or parameters.get(INPUT_SPLIT)) and not parameters.get(INPUT_FILE):
        parameters.pop(INPUT_FILE, None)
    if DATA_USE in parameters:
        parameters[DATA_USE] = inputs.data_use_words(parameters[DATA_USE])
    return parameters


def run_folder(portal: Portal, run_id: str) -> Path:
    return portal.settings.notebook_runs_dir / run_id


def is_private(run: NotebookRun) -> bool:
    """Whether the run read a user's file of samples (a prediction run's upload, a path): then only its
    owner and admins see it. A held-out split (`input_split`) is the registry's: not private."""
    parameters = run.parameters or {}
    return bool(parameters.get(INPUT_RUN) or parameters.get(INPUT_FILE))


def can_view(run: NotebookRun, user_id: int | None, role: str) -> bool:
    if role == ADMIN or (user_id is not None and run.user_id == user_id):
        return True
    return allowed(role, "view_notebooks") and not is_private(run)


def _parameter_unset(name: str):
    """SQL: the run's parameter `name` is absent, null or empty (the portal stores these as text)."""
    return func.coalesce(NotebookRun.parameters[name].as_string(), "") == ""


def visible_to(user_id: int | None, role: str):
    """can_view as a where clause, so that a query limits the runs the user may see, not all runs (JSON
    paths: SQLite's JSON_EXTRACT, PostgreSQL's ->>)."""
    if role == ADMIN:
        return true()
    own = NotebookRun.user_id == user_id if user_id is not None else false()
    if not allowed(role, "view_notebooks"):
        return own
    return or_(own, and_(_parameter_unset(INPUT_RUN), _parameter_unset(INPUT_FILE)))


def queue(portal: Portal, spec: NotebookSpec, given: dict, user_id: int | None, role: str | None, *,
          input_run: str | None = None, input_split: str | None = None, files_allowed: bool = False,
          data_use=None) -> NotebookRun:
    """A queued run, once the parameters passed their checks (ParameterError otherwise). In the portal
    (`files_allowed` false) a notebook that reads samples reads them from `input_run`, one of the user's
    finished prediction runs, or from `input_split`, the held-out split of a model version ("MODEL" or
    "MODEL:VERSION", recorded with the version's number; its model is the run's model when none is
    given); the command line may give a path instead, with its `data_use` ({"basis", "reference"},
    required then). The samples' data-use basis is recorded with the parameters (inputs.DATA_USE)."""
    if input_run and input_split:
        raise ParameterError(["input: choose a prediction run or a held-out split, not both"])
    if input_split and not spec.takes_input_file:
        raise ParameterError([f"{INPUT_SPLIT}: {spec.name} reads no file of samples"])
    split = inputs.resolve_split(portal, input_split) if input_split else None
    if split is not None and "model" not in given:
        given = {**given, "model": split.name, "version": given.get("version", str(split.version))}
    parameters = check(spec, given, portal.registry, files_allowed=files_allowed and not (input_run or split))
    if spec.takes_input_file and not parameters[INPUT_FILE] and split is not None:
        _check_split_fits(portal, split, parameters)
        parameters[INPUT_SPLIT] = f"{split.name}:{split.version}"
        parameters[DATA_USE] = inputs.split_data_use(split)
    elif spec.takes_input_file and not parameters[INPUT_FILE]:
        if not input_run:
            raise ParameterError([f"{INPUT_FILE}: choose one of your finished prediction runs or a model's "
                                  f"held-out split as the input"])
        if not isinstance(input_run, str):
            raise ParameterError([f"input: {input_run!r} is not a prediction run"])
        source = runs.get_run(portal, input_run, user_id, role, RunAccess.READ)  # owner, admin or shared, else 403/404
        if source.status != RunStatus.DONE:
            raise RunError(f"prediction run {input_run} is {source.status}; choose a finished run", 409)
        if parameters.get("model") not in (None, source.model_name):
            raise ParameterError([f"model: prediction run {input_run} holds samples for {source.model_name}; "
                                  f"choose that model to read them"])
        parameters[INPUT_RUN] = input_run
        parameters[DATA_USE] = inputs.run_data_use(portal, source.upload_id)
    elif spec.takes_input_file:  # a file of samples by path (the command line only)
        parameters[DATA_USE] = inputs.file_data_use(data_use)
    version = _model_version(portal, parameters)
    run = NotebookRun(user_id=user_id, notebook=spec.name, parameters=parameters, status=RunStatus.QUEUED,
                      model_name=version.name if version else None,
                      model_version=version.version if version else None,
                      artifact_sha256=version.sha256 if version else None, package_versions=package_versions(PACKAGES))
    with portal.db.session() as session:
        session.add(run)
    details = {"notebook": spec.name} | ({DATA_USE: parameters[DATA_USE]} if DATA_USE in parameters else {})
    audit.record("notebook.queue", target=run.id, user_id=user_id, actor=states.owner_email(portal, user_id),
                 details=details, db=portal.db)
    return run


def _check_split_fits(portal: Portal, split, parameters: dict) -> None:
    """A held-out split is read with a version of its own model whose features are the split's."""
    if parameters.get("model") != split.name:
        raise ParameterError([f"model: the held-out split of {split.ref} holds samples for {split.name}; "
                              f"choose that model to read them"])
    chosen = reports.resolve_version(parameters["model"], parameters.get("version", "production"), portal.registry)
    if chosen.schema.names != split.schema.names:
        raise ParameterError([f"version: {chosen.ref} does not take the features of {split.ref}'s held-out "
                              f"split; choose version {split.version}"])


def _model_version(portal: Portal, parameters: dict):
    """The version a run reads (none for training, whose version exists only once it has run)."""
    if "dataset" in parameters or "model" not in parameters:
        return None
    return reports.resolve_version(parameters["model"], parameters.get("version", "production"), portal.registry)


def execute(portal: Portal, run_id: str, progress: Callable[..., None] | None = None) -> str:
    """Run a queued notebook to its end; returns the final status. Only a queued run starts, once.
    `progress(done, total)` after each cell; `progress(cell, total, detail=...)` when the running cell
    says where it is (train_model's training cell: "candidate 2 of 4, fold 3 of 5")."""
    claimed, run = states.claim(portal, NotebookRun, run_id)
    if not claimed:
        return run.status if run else RunStatus.FAILED
    started = time.perf_counter()
    folder = run_folder(portal, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    output, html = folder / f"{run.notebook}.ipynb", folder / f"{run.notebook}.html"
    status, error, summary, executed = RunStatus.FAILED, None, {}, None
    try:
        parameters = {k: v for k, v in run.parameters.items() if k not in RECORD_ONLY}
        if run.parameters.get(INPUT_RUN):
            parameters[INPUT_FILE] = str(_write_input(portal, run, folder))
        elif run.parameters.get(INPUT_SPLIT):
            parameters[INPUT_FILE] = str(inputs.write_split(portal, run.parameters[INPUT_SPLIT], folder / INPUT_COPY,
                                                            run.user_id, states.owner_email(portal, run.user_id)))
        _point_engine_at(portal)
        notebook = get_notebook(portal.caches.notebook_catalog, run.notebook)
        with _terminate_raises():
            executed = papermill.execute_notebook(
                str(notebook.path), str(output), parameters=parameters, engine_name=ENGINE,
                kernel_name=KERNEL, progress_bar=False, cwd=str(folder), on_cell=progress)
        summary = reports.read_summary(executed)
        status = RunStatus.DONE
    except PapermillExecutionError as failure:  # the notebook raised: name the cell, keep what it wrote
        error = f"cell {failure.cell_index + 1} (In [{failure.exec_count}]): {failure.ename}: {failure.evalue}"
    except Exception as failure:  # the trace goes to the log; the record says what, in one line
        log.exception("notebook run %s failed", run_id)
        error = f"{type(failure).__name__}: {failure}"
    finally:
        (folder / INPUT_COPY).unlink(missing_ok=True)
    owner = states.owner_email(portal, run.user_id)
    if executed is None and output.exists():  # papermill stopped at a failing cell and saved what it had
        executed = nbformat.read(str(output), as_version=4)
    if executed is not None:
        _stamp(executed, {"run": run_id, "notebook": run.notebook, "parameters": run.parameters, "status": status,
                          "error": error, "by": owner, "summary": summary, "packages": run.package_versions})
        nbformat.write(executed, str(output))
    has_html = executed is not None and _export_html(executed, html)
    _finish(portal, run, status, error=error, summary=summary, duration=time.perf_counter() - started,
            output=output if executed is not None else None, html=html if has_html else None)
    audit.record("notebook.run", outcome=AuditOutcome.OK if status == RunStatus.DONE else AuditOutcome.FAILED,
                 target=run_id, user_id=run.user_id, actor=owner, details={"notebook": run.notebook, "status": status},
                 db=portal.db)
    return status


def _write_input(portal: Portal, run: NotebookRun, folder: Path) -> Path:
    """The prediction run's upload as a Parquet file of samples, for the notebook to read."""
    source = runs.get_run(portal, run.parameters[INPUT_RUN], run.user_id, _role(portal, run.user_id), RunAccess.READ)
    schema = portal.registry.get(source.model_name, source.model_version).schema
    path = folder / INPUT_COPY
    runs.upload_table(portal, source, schema.id_column).to_parquet(private_file(path), index=False)  # 0600
    return path


def _point_engine_at(portal: Portal) -> None:
    """The kernel inherits this process's environment: point its engine at the portal's registry and
    data, and put the checkout on its path (the kernel works in the run's folder). Runs happen in job
    processes or on the command line, never in a web worker."""
    os.environ["CANCER_ALPHA_MODELS_DIR"] = str(portal.settings.models_dir)
    os.environ["CANCER_ALPHA_DATA_DIR"] = str(portal.settings.data_dir)
    path = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(PROJECT_ROOT) not in path:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, path)])


@contextlib.contextmanager
def _terminate_raises():
    """Celery cancels a job with SIGTERM: turn it into an exception so papermill shuts its kernel down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signal, _frame):
        raise SystemExit("cancelled")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def summary_of(run: NotebookRun) -> dict:
    """The summary of a finished run (its notebook's summary line, as stamped into the executed
    notebook's metadata), or {} when it has none (failed, cancelled, not run yet, file gone)."""
    if run.status != RunStatus.DONE or not run.output_path:
        return {}
    try:
        with open(run.output_path, encoding="utf-8") as file:
            notebook = nbformat.read(file, as_version=4)
    except (OSError, ValueError):
        log.warning("notebook run %s: cannot read %s", run.id, run.output_path)
        return {}
    summary = notebook.metadata.get("cancer_alpha_run", {}).get("summary") or {}
    return dict(summary) if isinstance(summary, dict) else {}


def _stamp(executed, record: dict) -> None:
    """The run's record inside the executed notebook's metadata (beside papermill's own), so a downloaded
    .ipynb says what ran, for whom, and how it ended."""
    executed.metadata["cancer_alpha_run"] = record


def _export_html(executed, html: Path) -> bool:
    try:
        html.write_text(notebook_html.to_html(executed), encoding="utf-8")
        return True
    except Exception:
        log.exception("could not convert %s to HTML", html.name)
        return False


def _finish(portal: Portal, run: NotebookRun, status: RunStatus, *, error, summary: dict, duration: float,
            output: Path | None, html: Path | None) -> None:
    values = dict(status=status, finished_at=utcnow(), duration_seconds=round(duration, 3), error=error,
                  output_path=str(output) if output else None, html_path=str(html) if html else None)
    if summary:
        values.update(model_name=summary["model"], model_version=summary["version"],
                      artifact_sha256=summary["sha256"], data_checksum=summary["data_checksum"])
    with portal.db.session() as session:  # a run cancelled meanwhile stays cancelled
        session.execute(update(NotebookRun)
                        .where(NotebookRun.id == run.id, NotebookRun.status == RunStatus.RUNNING).values(**values))


def cancel(portal: Portal, run_id: str, user_id: int, role: str) -> None:
    own_run(portal, run_id, user_id, role)
    states.mark_cancelled(portal, NotebookRun, run_id)
    (run_folder(portal, run_id) / INPUT_COPY).unlink(missing_ok=True)
    audit.record("notebook.cancel", target=run_id)


def get_run(portal: Portal, run_id: str, user_id: int | None, role: str) -> NotebookRun:
    if not isinstance(run_id, str) or not run_id:  # a browser's request written by hand
        raise RunError("a notebook run id is a non-empty text", 400)
    if len(run_id) > MAX_RUN_ID:  # from a URL too: names no run (and is never echoed whole)
        raise RunError(f"no notebook run {run_id[:MAX_RUN_ID]}…", 404)
    with portal.db.session() as session:
        run = session.get(NotebookRun, run_id)
    if run is None:
        raise RunError(f"no notebook run {run_id}", 404)
    if not can_view(run, user_id, role):
        audit.record("notebook.denied", outcome=AuditOutcome.DENIED, target=run_id)
        raise RunError("this notebook run read another user's samples", 403)
    return run


def own_run(portal: Portal, run_id: str, user_id: int | None, role: str) -> NotebookRun:
    """The run if the user may start or cancel it: its owner or an admin (RunError 404, or 403 audited
    once as notebook.denied)."""
    run = get_run(portal, run_id, user_id, role)
    if role != ADMIN and (user_id is None or run.user_id != user_id):
        audit.record("notebook.denied", outcome=AuditOutcome.DENIED, target=run_id)
        raise RunError("only the run's owner or an admin may start or cancel it", 403)
    return run


def list_runs(portal: Portal, user_id: int, role: str, *, notebook: str | None = None, owner: int | None = None,
              status: str | None = None, limit: int = 500) -> list[NotebookRun]:
    """The runs the user may see, newest first, filtered by notebook, owner and status: at most `limit`."""
    statement = (select(NotebookRun).where(visible_to(user_id, role))
                 .order_by(NotebookRun.created_at.desc()).limit(limit))
    if notebook:
        statement = statement.where(NotebookRun.notebook == notebook)
    if owner is not None:
        statement = statement.where(NotebookRun.user_id == owner)
    if status:
        statement = statement.where(NotebookRun.status == status)
    with portal.db.session() as session:
        return list(session.scalars(statement))


def owners(portal: Portal, user_ids) -> dict[int, str]:
    """E-mail addresses of the given users, for tables and filters."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    with portal.db.session() as session:
        return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _role(portal: Portal, user_id: int | None) -> str:
    if user_id is None:
        return ADMIN  # the command line's operator
    user = get_user(portal.db, user_id)
    return user.role if user else ""
