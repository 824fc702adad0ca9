"""`python -m portal notebooks list` and `python -m portal notebooks run NAME -p KEY VALUE ...`.

A run from the command line is recorded like one from the portal (the same table, folder and checks),
as the user given with --user, or as "system". It may read a file of samples by path (`-p input_file
PATH`), one of the user's prediction runs (`--input-run RUN_ID`) or a model version's held-out split
(`--input-split MODEL[:VERSION]`, no version: production; the run's model unless `-p model` says
otherwise). A file by path needs its samples' data-use basis (`--data-use BASIS --data-use-reference
TEXT`, portal.predictions.consent), recorded with the run. Exit status: 0 done, 1 the notebook failed
(the failing cell is printed), 2 the parameters were refused (nothing ran)."""
from __future__ import annotations

from engine.caching import BoundedCache
from portal.accounts.users import find_user
from portal.core.context import standalone
from portal.core.settings import Settings
from portal.core.states import DataUseBasis, RunStatus
from portal.notebooks import catalog as notebook_catalog
from portal.notebooks import runs as notebook_runs


def cmd_list(settings: Settings, args) -> int:
    for spec in notebook_catalog.catalog(BoundedCache(1)).values():  # read once, by this command only
        print(f"{spec.name}: {spec.title}. {spec.description}")
        for parameter in spec.parameters:
            print(f"    -p {parameter.name} <{parameter.type}>  default {parameter.default!r}  {parameter.help}")
    return 0


def cmd_run(settings: Settings, args) -> int:
    portal = standalone(settings)
    portal.db.upgrade()
    user = find_user(portal.db, args.user) if args.user else None
    spec = notebook_catalog.get(portal.caches.notebook_catalog, args.name)
    run = notebook_runs.queue(portal, spec, dict(args.parameters or []), user.id if user else None,
                              user.role if user else notebook_runs.ADMIN, input_run=args.input_run,
                              input_split=args.input_split, files_allowed=True,
                              data_use={"basis": args.data_use, "reference": args.data_use_reference})
    print(f"run {run.id}: {spec.name} with {run.parameters}", flush=True)

    def report(done: int, total: int, detail: str | None = None) -> None:
        print(f"  cell {done} of {total}" + (f": {detail}" if detail else ""), flush=True)

    status = notebook_runs.execute(portal, run.id, report if args.progress else None)
    run = notebook_runs.get_run(portal, run.id, None, notebook_runs.ADMIN)
    print(f"{status} in {run.duration_seconds:.1f} s")
    if run.error:
        print(f"error: {run.error}")
    for label, path in (("notebook", run.output_path), ("html", run.html_path)):
        if path:
            print(f"{label}: {path}")
    if run.model_name:
        print(f"model: {run.model_name}:{run.model_version} sha256 {run.artifact_sha256}")
    if run.data_checksum:
        print(f"data: {run.data_checksum}")
    return 0 if status == RunStatus.DONE else 1


def add_commands(sub) -> None:
    notebooks = sub.add_parser("notebooks", help="parameterized notebooks").add_subparsers(
        dest="notebooks_command", required=True)
    notebooks.add_parser("list", help="the notebooks and their parameters").set_defaults(func=cmd_list)
    run = notebooks.add_parser("run", help="run a notebook with papermill and record the run")
    run.add_argument("name", help="a notebook's name, as `notebooks list` prints it")
    run.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", metavar=("KEY", "VALUE"),
                     help="a parameter's value (repeat for several)")
    run.add_argument("--user", help="record the run as this user (e-mail); default: system")
    run.add_argument("--input-run", help="read the samples of this prediction run (instead of -p input_file)")
    run.add_argument("--input-split", metavar="MODEL[:VERSION]",
                     help="read the held-out split of this model version (instead of -p input_file)")
    run.add_argument("--data-use", choices=[basis.value for basis in DataUseBasis.choices()],
                     help="the data-use basis (consent) of the samples in -p input_file (required with it)")
    run.add_argument("--data-use-reference", help="its reference: protocol, consent or source (never personal data)")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="do not print each cell")
    run.set_defaults(func=cmd_run)
