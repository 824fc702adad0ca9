"""The parameterized notebooks of notebooks/, executed with papermill in the venv's python3 kernel on
the session's real models (tests/conftest.py: logistic regression, seed 7) and a file of real held-out
TCGA samples. The kernel inherits this process's environment, so CANCER_ALPHA_MODELS_DIR and
CANCER_ALPHA_DATA_DIR point it at the session registry and data cache."""
from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError

from engine import drift, reports, settings
from engine.predict import predict
from engine.projection import training_samples
from engine.registry import Registry
from engine.validation import validate

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
MODEL = "tcga-mirna-type"
SEED = 7  # the session models' training seed
HELD_OUT_SAMPLES = 50

# name -> (type, default) of every parameter, as papermill.inspect_notebook reports them
PARAMETERS = {
    "model_evaluation.ipynb": {"model": ("str", '"tissue-of-origin"'), "version": ("str", '"production"'),
                               "seed": ("int", "-1")},
    "cohort_report.ipynb": {"input_file": ("str", '""'), "model": ("str", '"tissue-of-origin"'),
                            "version": ("str", '"production"'), "top_k": ("int", "10")},
    "drift_report.ipynb": {"input_file": ("str", '""'), "model": ("str", '"tissue-of-origin"'),
                           "version": ("str", '"production"'), "top_n": ("int", "20")},
    "train_model.ipynb": {"dataset": ("str", '"gdsc-tissue"'), "algorithm": ("str", '"logreg"'),
                          "seed": ("int", "42"), "cv_folds": ("int", "5"), "model": ("str", '""')},
}
TITLES = {"model_evaluation.ipynb": "Model evaluation", "cohort_report.ipynb": "Cohort report",
          "drift_report.ipynb": "Drift report", "train_model.ipynb": "Train a model"}
ALLOWED_IMPORTS = {"json", "sys", "warnings", "pathlib", "numpy", "pandas", "plotly", "IPython", "engine",
                   "components"}


@pytest.fixture
def kernel_env(monkeypatch, models_root):
    monkeypatch.setenv("CANCER_ALPHA_MODELS_DIR", str(models_root))
    monkeypatch.setenv("CANCER_ALPHA_DATA_DIR", str(settings.data_dir().resolve()))
    return models_root


@pytest.fixture(scope="session")
def held_out_file(tmp_path_factory, registry, tcga) -> Path:
    """50 real held-out samples of the session's tcga-mirna-type (spread over its held-out ids, so all
    three cancer types are there) with their true classes, as the Predict page's example file."""
    version = registry.resolve(MODEL)
    test_ids = version.metadata["split"]["test_ids"]
    ids = test_ids[::len(test_ids) // HELD_OUT_SAMPLES][:HELD_OUT_SAMPLES]
    frame = tcga.X.loc[ids, version.schema.names].copy()
    frame.index.name = version.schema.id_column
    frame.insert(0, reports.LABEL_COLUMN, tcga.y.loc[ids].to_numpy())
    path = tmp_path_factory.mktemp("inputs") / "tcga-held-out.csv"
    frame.reset_index().to_csv(path, index=False)
    return path


def execute(name: str, tmp_path: Path, **parameters) -> nbformat.NotebookNode:
    output = tmp_path / name
    papermill.execute_notebook(str(NOTEBOOKS / name), str(output), parameters=parameters, kernel_name="python3",
                               cwd=str(NOTEBOOKS), progress_bar=False)
    return nbformat.read(output, as_version=4)


def assert_html_with_offline_plotly(notebook: nbformat.NotebookNode) -> None:
    html, _ = HTMLExporter().from_notebook_node(notebook)
    sources = re.findall(r'<script[^>]*\bsrc="([^"]*)"', html)
    assert not [s for s in sources if "plotly" in s.lower()], sources  # no plotly.js from a CDN
    assert "plotly.js v" in html and "window.Plotly = Plotly" in html  # plotly.js itself is in the page
    assert "Plotly.newPlot(" in html


def code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


# -- the committed notebooks ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_papermill_reads_the_declared_parameters(name):
    found = papermill.inspect_notebook(str(NOTEBOOKS / name))
    assert list(found) == list(PARAMETERS[name])
    for parameter, (kind, default) in PARAMETERS[name].items():
        assert found[parameter]["inferred_type_name"] == kind
        assert found[parameter]["default"] == default
        assert len(found[parameter]["help"]) > 10


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_committed_notebooks_follow_the_contract(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    meta = notebook.metadata["cancer_alpha"]
    assert meta["title"] == TITLES[name]
    assert meta["description"].endswith(".") and ". " not in meta["description"] and len(meta["description"]) < 140
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source == f"# {TITLES[name]}"
    assert notebook.cells[1].cell_type == "markdown" and len(notebook.cells[1].source) > 200
    cells = code_cells(notebook)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    summary = notebook.cells[-1]
    assert summary.metadata.get("tags") == ["summary"] and summary.source.endswith("print(json.dumps(summary))")
    for cell in cells:
        assert cell.outputs == [] and cell.execution_count is None
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module]
            else:
                continue
            assert {m.split(".")[0] for m in modules} <= ALLOWED_IMPORTS, (name, modules)
    assert any('pio.renderers.default = "notebook"' in c.source for c in cells)


def test_papermill_starts_the_venv_python():
    """papermill launches the python3 kernelspec; jupyter_client runs its "python" with this interpreter."""
    from jupyter_client.manager import KernelManager

    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert command[0] == sys.executable and Path(sys.executable).parent.parent == ROOT / ".venv"


# -- executed ---------------------------------------------------------------------------------------


def test_model_evaluation_reproduces_the_stored_metrics(kernel_env, registry, tcga, tmp_path):
    notebook = execute("model_evaluation.ipynb", tmp_path, model=MODEL, version="production")  # seed -1
    summary = reports.read_summary(notebook)
    assert summary["seed"] == SEED  # the version's own training seed
    version = registry.resolve(MODEL)
    assert summary["metrics_match"] is True and summary["importance_match"] is True
    assert summary["metrics"] == reports.headline_metrics(version.metrics)
    assert summary["metrics"]["accuracy"] == version.metrics["accuracy"]
    assert (summary["model"], summary["version"], summary["sha256"]) == (MODEL, 1, version.sha256)
    assert summary["data_checksum"] == tcga.checksum == version.metadata["dataset"]["checksum"]
    assert summary["held_out_samples"] == version.metadata["split"]["n_test"]
    assert_html_with_offline_plotly(notebook)


def test_cohort_report(kernel_env, registry, held_out_file, tmp_path):
    notebook = execute("cohort_report.ipynb", tmp_path, input_file=str(held_out_file), model=MODEL, top_k=5)
    summary = reports.read_summary(notebook)
    model = registry.load(MODEL)
    checked = validate(held_out_file, model.schema, label_column=reports.LABEL_COLUMN)
    result = predict(model, checked.X, checked.ids, checked.out_of_range)
    assert summary["samples"] == HELD_OUT_SAMPLES
    assert summary["class_counts"] == reports.class_counts(result.predicted, result.classes)
    assert set(summary["class_counts"]) == {"BRCA", "PRAD", "SKCM"}
    assert summary["abstained"] == int(result.abstain.sum())
    assert summary["label_accuracy"] == pytest.approx(
        sum(p == t for p, t in zip(result.predicted, checked.labels)) / HELD_OUT_SAMPLES)
    assert (summary["model"], summary["version"], summary["sha256"]) == (MODEL, 1, model.version.sha256)
    assert summary["data_checksum"] == reports.file_checksum(held_out_file)
    assert_html_with_offline_plotly(notebook)


def test_drift_report(kernel_env, registry, held_out_file, tmp_path):
    notebook = execute("drift_report.ipynb", tmp_path, input_file=str(held_out_file), model=MODEL, top_n=10)
    summary = reports.read_summary(notebook)
    model = registry.load(MODEL)
    reference, _, _ = training_samples(model)
    checked = validate(held_out_file, model.schema)
    frame = drift.feature_drift(reference, checked.X, model.schema.names, [f.kind for f in model.schema.features])
    assert summary["features"] == len(model.schema.names) == 298
    assert summary["drifted_features"] == int(frame["drifted"].sum())
    assert summary["verdict"] == drift.verdict(frame) == drift.NO_DRIFT  # held-out samples are training-like
    assert summary["reference_samples"] == model.version.metadata["split"]["n_train"]
    assert summary["data_checksum"] == reports.file_checksum(held_out_file)
    assert summary["sha256"] == model.version.sha256
    assert_html_with_offline_plotly(notebook)


def test_train_model_registers_a_staging_version(models_root, monkeypatch, tcga, tmp_path):
    root = tmp_path / "models"
    shutil.copytree(models_root, root)  # the session registry stays as it is for other tests
    monkeypatch.setenv("CANCER_ALPHA_MODELS_DIR", str(root))
    monkeypatch.setenv("CANCER_ALPHA_DATA_DIR", str(settings.data_dir().resolve()))
    notebook = execute("train_model.ipynb", tmp_path, dataset="tcga-mirna", algorithm="logreg", seed=SEED,
                       cv_folds=3, model="")
    summary = reports.read_summary(notebook)
    registry = Registry(root)
    assert registry.aliases(MODEL) == {"production": 1, "staging": 2}
    new, old = registry.get(MODEL, 2), registry.get(MODEL, 1)
    assert (summary["model"], summary["version"], summary["sha256"]) == (MODEL, 2, new.sha256)
    assert summary["alias"] == "staging" and new.aliases == ("staging",)
    assert summary["data_checksum"] == tcga.checksum == new.metadata["dataset"]["checksum"]
    assert summary["metrics"] == reports.headline_metrics(new.metrics)
    # same data, seed, folds and algorithm as the session's version 1: the same held-out metrics
    assert new.metrics == old.metrics
    assert Registry(models_root).aliases(MODEL) == {"production": 1}
    # the training cell said where it was: one line per candidate and fold (logreg: 2 candidates)
    printed = "".join(o.get("text", "") for c in code_cells(notebook) for o in c.outputs)
    progress = [reports.progress_detail(line) for line in printed.splitlines() if reports.progress_detail(line)]
    assert progress == [f"candidate {c} of 2, fold {f} of 3" for c in (1, 2) for f in (1, 2, 3)]
    assert_html_with_offline_plotly(notebook)


# -- bad parameters -------------------------------------------------------------------------------


def assert_value_error(tmp_path, name, pattern, **parameters):
    with pytest.raises(PapermillExecutionError) as info:
        execute(name, tmp_path, **parameters)
    assert info.value.ename == "ValueError"
    assert re.search(pattern, info.value.evalue), info.value.evalue


@pytest.mark.parametrize("name", ["model_evaluation.ipynb", "cohort_report.ipynb", "drift_report.ipynb"])
def test_unknown_model(kernel_env, held_out_file, tmp_path, name):
    extra = {} if name == "model_evaluation.ipynb" else {"input_file": str(held_out_file)}
    assert_value_error(tmp_path, name, "unknown model 'no-such-model'", model="no-such-model", **extra)


def test_other_bad_parameters(kernel_env, tmp_path):
    assert_value_error(tmp_path, "model_evaluation.ipynb", r"seed 42 is not the seed .* trained with \(7\)",
                       model=MODEL, seed=42)
    assert_value_error(tmp_path, "cohort_report.ipynb", "input_file is required", model=MODEL)
    assert_value_error(tmp_path, "train_model.ipynb", "unknown algorithm 'svm'", dataset="tcga-mirna",
                       algorithm="svm")
