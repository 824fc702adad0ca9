"""Peak memory of one upload, hostile and largest-admitted files alike: prints figures, asserts nothing.

    python bench/upload_memory_bench.py [--models DIR] [--only NAME ...]

Every file here is made up by this script (zeros, random 0/1 or random counts under the real models'
feature names), written to a temporary folder. Each is fed, in a fresh Python process, through the path a
web upload takes: `portal.predictions.runs.save_upload` (read, validate against the model version's
schema, record, store encrypted, audit) in a portal built by `create_app` on a new SQLite database. The
child prints its peak resident memory (resource.getrusage ru_maxrss) before the upload (imports, app, model
loaded, the file's bytes in memory) and after it, and what the upload came to (valid, or the first error).

The hostile files are those issue 12 reports (a Parquet of 100,000 rows x 20,000 zero columns; a gzip
inflating to 500 MB) and their kin; the admitted ones are the largest the default limits let through for
each model: max_cells / (schema width + id + label) rows (29,411 for the 678-feature tissue model).
Uses the registry of `make run` (models/) when it holds both default models, else trains them (logistic
regression, three folds) into a temporary registry first.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from engine.read_limits import DEFAULT_MAX_CELLS, ReadLimits  # noqa: E402

MB = 1024 * 1024
MODELS = {"gdsc": ("tissue-of-origin", "gdsc-tissue"), "tcga": ("tcga-mirna-type", "tcga-mirna")}
INFLATED = ReadLimits().inflated  # what a compressed upload may inflate to by default (twice the upload limit)
LABEL = "true_label"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# -- the made-up files ----------------------------------------------------------------------------

def header(schema) -> list[str]:
    return [schema.id_column, *schema.names, LABEL]


def header_line(schema) -> bytes:
    """The CSV header, quoted where a name holds a comma (GDSC's copy-number regions do)."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(header(schema))
    return text.getvalue().encode()


def admitted_rows(schema) -> int:
    return DEFAULT_MAX_CELLS // len(header(schema))


def write_rows(stream, schema, n_rows: int, cell) -> None:
    """`n_rows` CSV rows: id, one feature value per feature (`cell(rng, n)` gives a row's texts), label."""
    rng = np.random.default_rng(12)
    stream.write(header_line(schema))
    width = len(schema.names)
    for start in range(0, n_rows, 1000):
        lines = [f"S{r}," + ",".join(cell(rng, width)) + ",x\n" for r in range(start, min(start + 1000, n_rows))]
        stream.write("".join(lines).encode())


def zeros(rng, n):
    return ["0"] * n


def bits(rng, n):
    return np.where(rng.random(n) < 0.5, "0", "1").tolist()


def counts(rng, n):
    return rng.integers(0, 1000, n).astype(str).tolist()


def distinct(rng, n):
    return rng.integers(10_000, 100_000, n).astype(str).tolist()


def letters(rng, n):
    return ["x"] * n


def wide_parquet(path: Path, schema) -> None:
    """Issue 12's file: 100,000 rows x 20,000 zero columns (one array shared by every column)."""
    column = pa.array(np.zeros(100_000, dtype=np.int64))
    names = [schema.id_column] + [f"f{k}" for k in range(19_999)]
    pq.write_table(pa.table([column] * len(names), names=names), path)


def long_parquet(path: Path, schema) -> None:
    """5,000,000 rows of two columns: many more rows than allowed, in 30 MB."""
    n = 5_000_000
    pq.write_table(pa.table({schema.id_column: pa.array(np.arange(n)), schema.names[0]: np.zeros(n)}), path)


def dictionary_parquet(path: Path, schema) -> None:
    """A Parquet 'bomb': one 1 MB text, dictionary-encoded, repeated in 20,000 rows (20 GB once decoded)."""
    text = pa.array(["x" * MB]).dictionary_encode()
    ids = pa.DictionaryArray.from_arrays(pa.array(np.zeros(20_000, dtype=np.int32)), text.dictionary)
    values = {name: np.zeros(20_000) for name in schema.names}
    pq.write_table(pa.table({schema.id_column: ids, **values}), path)


def gzip_bomb(path: Path, schema) -> None:
    """A CSV under the model's header whose rows are zeros, inflating to 500 MB."""
    line = (",".join(["0"] * len(header(schema))) + "\n").encode()
    with gzip.open(path, "wb", compresslevel=9) as stream:
        stream.write(header_line(schema))
        block = line * (MB // len(line))
        for _ in range(500):
            stream.write(block)


def wide_csv(path: Path, schema) -> None:
    with path.open("wb") as stream:
        stream.write((",".join([schema.id_column] + [f"f{k}" for k in range(19_999)]) + "\n").encode())
        stream.write(("S1" + ",0" * 19_999 + "\n").encode() * 100)


def admitted_csv(cell, gzipped: bool = False, cell_bytes: int | None = None):
    """The most rows the cell limit admits, or (`cell_bytes` a value with its comma) the inflate limit."""
    def build(path: Path, schema) -> None:
        rows = admitted_rows(schema)
        if cell_bytes:
            rows = min(rows, INFLATED // (len(header(schema)) * cell_bytes))
        opener = gzip.open if gzipped else open
        with opener(path, "wb") as stream:
            write_rows(stream, schema, rows, cell)
    return build


def admitted_parquet(cell_dtype: str, rows: int | None = None):
    """The most rows the cell limit admits (or `rows`) of random 0/1, counts, or incompressible floats."""
    def build(path: Path, schema) -> None:
        n = rows or admitted_rows(schema)
        rng = np.random.default_rng(12)
        draw = {"bits": lambda: rng.integers(0, 2, n).astype(np.float64),
                "counts": lambda: rng.integers(0, 1000, n).astype(np.float64),
                "floats": lambda: rng.random(n) * 1000}[cell_dtype]
        values = {name: draw() for name in schema.names}
        table = pa.table({schema.id_column: [f"S{r}" for r in range(n)], **values, LABEL: ["x"] * n})
        pq.write_table(table, path)
    return build


CASES = {  # name: (model key, file name, builder, what it is)
    "wide-parquet": ("gdsc", "wide.parquet", wide_parquet, "hostile: 100,000 x 20,000 zero columns"),
    "gzip-bomb": ("gdsc", "bomb.csv.gz", gzip_bomb, "hostile: zeros inflating to 500 MB"),
    "wide-csv": ("gdsc", "wide.csv", wide_csv, "hostile: a 20,000-column header"),
    "long-parquet": ("gdsc", "long.parquet", long_parquet, "hostile: 5,000,000 rows"),
    "dictionary-parquet": ("gdsc", "dictionary.parquet", dictionary_parquet,
                           "hostile: a 1 MB id repeated 20,000 times"),
    "max-csv-gdsc": ("gdsc", "max.csv", admitted_csv(bits), "largest admitted CSV, random 0/1"),
    "max-parquet-gdsc": ("gdsc", "max.parquet", admitted_parquet("bits"), "largest admitted Parquet, 0/1"),
    "max-text-gdsc": ("gdsc", "text.csv", admitted_csv(letters), "largest admitted CSV, every cell text"),
    "max-parquet-tcga": ("tcga", "max-tcga.parquet", admitted_parquet("counts"),
                         "largest admitted Parquet, random counts"),
    "max-random-parquet-tcga": ("tcga", "random-tcga.parquet", admitted_parquet("floats", rows=17_000),
                                "Parquet near the 50 MB limit of incompressible random floats"),
    "max-gzip-tcga": ("tcga", "max-tcga.csv.gz", admitted_csv(counts, gzipped=True),
                      "largest admitted gzip CSV, random counts"),
    "max-distinct-tcga": ("tcga", "distinct-tcga.csv.gz", admitted_csv(distinct, gzipped=True, cell_bytes=6),
                          "largest admitted gzip CSV of distinct values (the largest stored input)"),
}


# -- one upload in a fresh process -----------------------------------------------------------------

def upload_once(models: Path, model_name: str, path: Path) -> dict:
    from sqlalchemy import select

    from portal.app import create_app
    from portal.core.models import User
    from portal.core.settings import Settings
    from portal.predictions import runs

    var = Path(tempfile.mkdtemp(prefix="cancer-alpha-membench-"))
    settings = Settings.from_env(environ={}, var_dir=var, database_url=f"sqlite:///{var / 'portal.db'}",
                                 models_dir=models, secret_key="bench-secret-not-for-production",
                                 admin_email="bench@example.org", admin_password="benchmark password 2026")
    app = create_app(settings)
    portal = app.server.extensions["cancer_alpha"]
    with app.server.app_context():
        portal.registry.load(portal.registry.version_of(model_name, None))
        with portal.db.session() as session:
            user_id = session.scalars(select(User.id)).first()
        content = path.read_bytes()
        before = peak_mb()
        started = time.perf_counter()
        outcome = runs.save_upload(portal, user_id, path.name, content, model_name,
                                   data_use={"basis": "synthetic", "reference": "made up by this benchmark"})
        seconds = time.perf_counter() - started
    errors = [i for i in outcome.report["issues"] if i["severity"] == "error"]
    return {"before_mb": before, "peak_mb": peak_mb(), "seconds": seconds, "status": str(outcome.upload.status),
            "error": errors[0]["message"] if errors else None}


def ensure_models(models: Path) -> Path:
    """`models` when it holds both default models, else a registry trained once into the temporary folder."""
    from engine.registry import PRODUCTION_ALIAS, Registry

    wanted = {m for m, _ in MODELS.values()}
    if models.is_dir() and wanted <= set(Registry(models).models()):
        return models
    root = Path(tempfile.gettempdir()) / "cancer-alpha-membench-models"
    if root.is_dir() and wanted <= set(Registry(root).models()):
        return root
    from engine import datasets, training

    print(f"training the two default models (logistic regression, 3 folds) into {root} ...", flush=True)
    for model_name, dataset_id in MODELS.values():
        result = training.train(datasets.load(dataset_id), algorithm="logreg", seed=7, cv_folds=3)
        Registry(root).register(model_name, result, aliases=(PRODUCTION_ALIAS,))
    return root


def run_case(name: str, models: Path, folder: Path) -> None:
    from engine.registry import Registry

    key, filename, build, what = CASES[name]
    model_name = MODELS[key][0]
    registry = Registry(models)
    schema = registry.resolve(model_name).schema
    path = folder / filename
    build(path, schema)
    size = path.stat().st_size / MB
    child = subprocess.run([sys.executable, __file__, "--child", str(models), model_name, str(path)],
                           capture_output=True, text=True)
    path.unlink()
    print(f"{name:20} {what}: {size:,.1f} MB file", flush=True)
    if child.returncode != 0:
        print(f"{'':20} the child failed ({child.returncode}): {child.stderr.strip()[-400:]}", flush=True)
        return
    got = json.loads(child.stdout.strip().splitlines()[-1])
    verdict = "valid" if got["error"] is None else "refused: " + got["error"][:160]
    print(f"{'':20} peak {got['peak_mb']:,.0f} MB (before the upload {got['before_mb']:,.0f} MB: "
          f"+{got['peak_mb'] - got['before_mb']:,.0f} MB), {got['seconds']:.1f} s; {verdict}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), default=None)
    parser.add_argument("--child", nargs=3, metavar=("MODELS", "MODEL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        models, model_name, path = args.child
        print(json.dumps(upload_once(Path(models), model_name, Path(path))))
        return
    models = ensure_models(args.models)
    with tempfile.TemporaryDirectory(prefix="cancer-alpha-membench-files-") as folder:
        for name in args.only or CASES:
            run_case(name, models, Path(folder))


if __name__ == "__main__":
    main()
