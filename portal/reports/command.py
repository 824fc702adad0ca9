"""`python -m portal report MODEL FILE [FILE ...] --sample ID [--pdf OUT.pdf] [--fhir OUT.json] [--neighbours K]`:
the PDF and FHIR bundle of one sample of a file, without a server (analysts script it), and its nearest
training samples printed. The file is read as `python -m engine predict` reads it (one wide file, or one per
feature block), and a bad file or an unknown sample exits 2 as that does. Nothing is stored or audited: the
command works on the analyst's own file with the models on disk, not on the portal's records."""
from __future__ import annotations

import sys
from pathlib import Path

from engine import datasets, neighbours
from engine.checksums import sha256_bytes
from engine.cli import USAGE_ERROR, UsageError, validated_files
from engine.feature_labels import label_for
from engine.registry import Registry, RegistryError
from portal.core.settings import Settings
from portal.predictions.runs import LABEL_COLUMN
from portal.reports import sample_facts

AUTHOR = "command line"


def add_commands(sub) -> None:
    report = sub.add_parser("report", help="the PDF report and FHIR bundle of one sample of a file, and its "
                                           "nearest training samples (no server needed)")
    report.add_argument("model", help="name, name@alias or name:version")
    report.add_argument("files", nargs="+", metavar="file", help="one wide file, or one file per feature block")
    report.add_argument("--sample", required=True, help="the sample's id")
    report.add_argument("--pdf", metavar="OUT.pdf", help="write the PDF report here")
    report.add_argument("--fhir", metavar="OUT.json", help="write the FHIR R4 bundle here")
    report.add_argument("--neighbours", type=int, metavar="K",
                        help="how many nearest training samples to print (default: CANCER_ALPHA_NEIGHBOURS)")
    report.add_argument("--pseudonymous-ids", action="store_true",
                        help="the file's sample ids are pseudonyms: the FHIR bundle may carry the id as its subject")
    report.set_defaults(func=run)


def run(settings: Settings, args) -> int:
    try:
        return _report(settings, args)
    except (UsageError, RegistryError, datasets.DatasetError) as error:
        print(str(error) if str(error).startswith("error:") else f"error: {error}", file=sys.stderr)
        return USAGE_ERROR


def _report(settings: Settings, args) -> int:
    registry = Registry(settings.models_dir)
    model = registry.load(args.model)
    k = _neighbour_count(args.neighbours if args.neighbours is not None else settings.neighbours)
    checked = validated_files(model, args.files, label_column=LABEL_COLUMN, registry=registry)
    if args.sample not in checked.ids:
        raise UsageError(f"{', '.join(args.files)}: no sample with id {args.sample!r} in column "
                         f"{model.schema.id_column}")
    row = checked.ids.index(args.sample)
    label = checked.labels.iloc[row] if checked.labels is not None else None
    facts = sample_facts.from_input(model, checked.X[row:row + 1], args.sample, int(checked.out_of_range[row]),
                                    author=AUTHOR, true_label=None if label is None else str(label),
                                    pseudonymous_id=args.pseudonymous_ids)
    print(_prediction_line(facts))
    found = neighbours.nearest_training_samples(model, checked.X[row], k, predicted=facts.predicted)
    print(_neighbours_text(found, model.schema))
    if args.pdf:
        _write_pdf(facts, Path(args.pdf))
    if args.fhir:
        _write_fhir(facts, Path(args.fhir))
    return 0


def _neighbour_count(k) -> int:
    try:
        return neighbours.check_k(k)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _prediction_line(facts: sample_facts.SampleFacts) -> str:
    verdicts = [w for w, on in (("below the abstain threshold", facts.abstain),
                                ("out of distribution", facts.out_of_distribution)) if on]
    return (f"{facts.sample_id}: {facts.predicted} (calibrated probability {facts.confidence:.3f}) by "
            f"{facts.version.ref}, artifact sha256 {facts.version.sha256}"
            + (f"; {', '.join(verdicts)}" if verdicts else ""))


def _neighbours_text(found: neighbours.Neighbours, schema) -> str:
    lines = [f"nearest {found.k} training samples ({found.sharing_predicted} of {found.k} are {found.predicted}):"]
    for n in found.neighbours:
        differing = ", ".join(f"{label_for(schema, d.feature).label} {d.difference:+.2f} sd" for d in n.differences)
        lines.append(f"  {n.id}  {n.label}  distance {n.distance:.3f}  differs most in {differing}")
    return "\n".join(lines)


def _write_pdf(facts, path: Path) -> None:
    from portal.reports.figure_export import FigureExporter
    from portal.reports.pdf import render_pdf

    exporter = FigureExporter()
    try:
        report = render_pdf(facts, exporter)
    finally:
        exporter.close()
    path.write_bytes(report.content)
    print(f"PDF report written to {path} (sha256 {sha256_bytes(report.content)})", file=sys.stderr)


def _write_fhir(facts, path: Path) -> None:
    from portal.reports import fhir

    exported = fhir.export(facts)
    path.write_bytes(exported.content)
    print(f"FHIR bundle written to {path} (sha256 {exported.sha256})", file=sys.stderr)
