"""`python -m engine ...`: datasets, training, the registry, prediction and explanation from a shell.

Exit status: 0 on success, 2 when the input (a file, a model reference, an argument) is wrong; the
message names the file, row and column. Nothing in the registry changes on a failed command.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from engine import datasets
from engine.registry import PRODUCTION_ALIAS, Registry, RegistryError

DEFAULT_MODELS = {"tissue-of-origin": "gdsc-tissue", "tcga-mirna-type": "tcga-mirna",
                  "brca-subtype": "tcga-brca-pam50"}
USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input from the person at the shell: printed, exit status 2."""


def _headline(version) -> str:
    m = version.metrics
    cv = version.cross_validation
    sel = m["selective"]
    covered = "n/a" if sel["accuracy_on_covered"] is None else f"{sel['accuracy_on_covered']:.3f}"
    top3 = "n/a" if m["top_3_accuracy"] is None else f"{m['top_3_accuracy']:.3f}"
    return (f"{version.ref:<22} {','.join(version.aliases) or '-':<12} {version.algorithm:<14}"
            f" acc {m['accuracy']:.3f}  bal.acc {m['balanced_accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}"
            f"  top-3 {top3}  ROC-AUC {m['roc_auc_macro']:.3f}"
            f"  ECE {m['calibration']['expected_calibration_error']:.3f}"
            f"  CV bal.acc {cv['mean']:.3f}+-{cv['std']:.3f}"
            f"  coverage@{sel['abstain_threshold']:.2f} {sel['coverage']:.3f} (acc {covered})"
            f"  n_test {m['n_samples']}")


def _per_block_line(per_block: dict) -> str:
    """Held-out balanced accuracy of each omics block alone, then of all blocks (the version itself)."""
    blocks = ", ".join(f"{b['block']} {b['balanced_accuracy']:.3f}" for b in per_block["blocks"])
    return (f"bal.acc per block alone ({per_block['candidate']}, same split): {blocks}; "
            f"all blocks {per_block['all_blocks']['balanced_accuracy']:.3f}")


def cmd_datasets(args) -> None:
    for spec in datasets.SPECS.values():
        ds = datasets.load(spec.id)
        p = ds.provenance()
        print(f"{p['id']}: {p['title']}")
        print(f"  source   {p['source']}; files: {', '.join(f['member'] for f in p['files'])}")
        print(f"  license  package {p['package_license']}; data {p['data_license']}")
        print(f"  samples  {p['n_samples']} in {len(p['samples_per_class'])} classes; "
              f"features {p['n_features']} ({', '.join(f'{g}: {n}' for g, n in p['feature_groups'].items())})")
        print("  classes  " + ", ".join(f"{c} {n}" for c, n in p["samples_per_class"].items()))
        if p["excluded_classes"]:
            print("  excluded " + ", ".join(f"{c} {n}" for c, n in p["excluded_classes"].items()))
        print(f"  policy   {p['policy']}")
        for citation in p["citation"]:
            print(f"  cite     {citation}")
        print(f"  checksum {p['checksum']}")


def train_and_register(registry: Registry, dataset_id: str, name: str, algorithm: str, seed: int,
                       aliases: tuple[str, ...]):
    from engine import training  # scikit-learn and shap are heavy: import on use

    result = training.train(datasets.load(dataset_id), algorithm=algorithm, seed=seed)
    return registry.register(name, result, aliases=aliases)


def cmd_train(args) -> None:
    name = args.name or next((n for n, d in DEFAULT_MODELS.items() if d == args.dataset), args.dataset)
    datasets.get_spec(args.dataset)
    version = train_and_register(Registry(), args.dataset, name, args.algorithm, args.seed,
                                 tuple(args.alias or ()))
    print(_headline(version))


def ensure_default_models(registry: Registry) -> list:
    """Train each default model that has no production version yet (used by `make run`)."""
    from engine.training import DEFAULT_SEED

    made = []
    for name, dataset_id in DEFAULT_MODELS.items():
        if PRODUCTION_ALIAS not in registry.aliases(name):
            made.append(train_and_register(registry, dataset_id, name, "auto", DEFAULT_SEED, (PRODUCTION_ALIAS,)))
    return made


def cmd_bootstrap(args) -> None:
    registry = Registry()
    for version in ensure_default_models(registry):
        print(f"trained {version.ref}")
    cmd_models(argparse.Namespace(name=None))


def cmd_models(args) -> None:
    registry = Registry()
    names = [args.name] if args.name else registry.models()
    if not names:
        print(f"no models in {registry.root}; train one with `python -m engine train DATASET`")
    for name in names:
        versions = registry.versions(name)
        if not versions:
            raise UsageError(f"no model named {name!r}; known: {', '.join(registry.models()) or 'none'}")
        print(f"{name} (dataset {versions[-1].dataset_id})")
        for version in versions:
            print("  " + _headline(version))
            if version.per_block:
                print("    " + _per_block_line(version.per_block))


def cmd_promote(args) -> None:
    version = Registry().set_alias(args.name, args.alias, args.version)
    print(f"{args.name}@{args.alias} -> version {version.version}")


def validated_files(model, paths: list[str], label_column: str | None = None, registry: Registry | None = None):
    """One wide file, or one file per feature block joined on the sample id (engine.blocks); warnings printed,
    errors a UsageError (exit 2). The portal's report command reads its files the same way."""
    from engine.blocks import alternatives_in, validate_files

    for path in paths:
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    version = model.version
    alternatives = alternatives_in(registry, version.name, version.version) if registry and len(paths) > 1 else ()
    checked = validate_files([(path, path) for path in paths], model.schema, label_column=label_column,
                             model=version.name, alternatives=alternatives)
    for issue in checked.report.warnings:
        print(f"warning: {issue.message}", file=sys.stderr)
    if not checked.report.ok:
        raise UsageError("\n".join(f"error: {issue.message}" for issue in checked.report.errors))
    return checked


def cmd_predict(args) -> None:
    from engine.predict import predict

    registry = Registry()
    model = registry.load(args.model)
    checked = validated_files(model, args.files, registry=registry)
    frame = predict(model, checked.X, checked.ids, checked.out_of_range).to_frame()
    if args.output is None:
        frame.to_csv(sys.stdout, index=False)
    elif args.output.endswith(".parquet"):
        frame.to_parquet(args.output, index=False)
    else:
        frame.to_csv(args.output, index=False)
    if args.output:
        print(f"{len(frame)} predictions by {model.version.ref} written to {args.output}", file=sys.stderr)


def cmd_explain(args) -> None:
    from engine.explain import explain

    registry = Registry()
    model = registry.load(args.model)
    checked = validated_files(model, args.files, registry=registry)
    if args.sample not in checked.ids:
        raise UsageError(f"{', '.join(args.files)}: no sample with id {args.sample!r} "
                         f"in column {model.schema.id_column}")
    row = checked.ids.index(args.sample)
    try:
        (explanation,) = explain(model.bundle, model.schema, checked.X[row:row + 1], [args.sample],
                                 class_name=args.class_name, top_k=args.top)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(json.dumps({"model": model.version.ref, "sha256": model.version.sha256, **explanation.to_dict()},
                     indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the datasets with their provenance").set_defaults(func=cmd_datasets)

    train = sub.add_parser("train", help="train and register a new model version")
    train.add_argument("dataset", choices=sorted(datasets.SPECS))
    train.add_argument("--algorithm", default="auto", choices=["auto", "logreg", "random-forest", "hist-gb"])
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--alias", action="append", help="alias to point at the new version (repeatable)")
    train.add_argument("--name", help="model name (default: the dataset's default model)")
    train.set_defaults(func=cmd_train)

    sub.add_parser("bootstrap", help="train the default models that have no production version"
                   ).set_defaults(func=cmd_bootstrap)

    models = sub.add_parser("models", help="list models, versions, aliases and held-out metrics")
    models.add_argument("name", nargs="?")
    models.set_defaults(func=cmd_models)

    promote = sub.add_parser("promote", help="point an alias (production, staging) at a version")
    promote.add_argument("name")
    promote.add_argument("version", type=int)
    promote.add_argument("alias")
    promote.set_defaults(func=cmd_promote)

    predict = sub.add_parser("predict", help="predict every sample of a CSV, TSV or Parquet file (or of one file "
                             "per feature block, joined on the sample id)")
    predict.add_argument("model", help="name, name@alias or name:version")
    predict.add_argument("files", nargs="+", metavar="file", help="one wide file, or one file per feature block")
    predict.add_argument("--output", help="CSV or .parquet file (default: CSV on standard output)")
    predict.set_defaults(func=cmd_predict)

    explain = sub.add_parser("explain", help="SHAP explanation of one sample's prediction")
    explain.add_argument("model", help="name, name@alias or name:version")
    explain.add_argument("files", nargs="+", metavar="file", help="one wide file, or one file per feature block")
    explain.add_argument("--sample", required=True)
    explain.add_argument("--top", type=int, default=20)
    explain.add_argument("--class", dest="class_name", help="class to explain (default: the predicted one)")
    explain.set_defaults(func=cmd_explain)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UsageError, RegistryError, datasets.DatasetError) as error:
        print(f"error: {error}" if not str(error).startswith("error:") else str(error), file=sys.stderr)
        return USAGE_ERROR
    return 0
