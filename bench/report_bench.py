"""How long one sample's PDF report takes (portal.reports.pdf): prints figures.

    python bench/report_bench.py [--repeat N] [--models DIR]

For each default model of the registry (`make run`'s, or --models), the SampleFacts of its first held-out
sample are made once (prediction and SHAP, timed apart), then reports are rendered on one FigureExporter:
cold is the first report, with the export browser starting; warm the median of N later ones, split into
the figure export (kaleido) and the layout (weasyprint)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import datasets  # noqa: E402
from engine.registry import Registry  # noqa: E402
from engine.settings import models_dir  # noqa: E402
from portal.reports import pdf, sample_facts  # noqa: E402
from portal.reports.figure_export import FigureExporter  # noqa: E402

MODELS = {"tissue-of-origin": "gdsc-tissue", "tcga-mirna-type": "tcga-mirna", "brca-subtype": "tcga-brca-pam50"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", type=Path, default=None, help="a registry folder (default: the settings')")
    args = parser.parse_args()
    registry = Registry(args.models or models_dir())
    exporter = FigureExporter()
    try:
        for name, dataset_id in MODELS.items():
            if name not in registry.models():
                print(f"{name}: not in the registry, skipped")
                continue
            model = registry.load(f"{name}@production")
            data = datasets.load(dataset_id)
            sample = model.version.test_ids[0]
            X = data.X.loc[[sample], model.schema.names].to_numpy(float)
            started = time.perf_counter()
            facts = sample_facts.from_input(model, X, sample, 0, author="bench")
            facts_ms = (time.perf_counter() - started) * 1000
            was_running = exporter.running
            started = time.perf_counter()
            size = len(pdf.render_pdf(facts, exporter).content)
            first_ms = (time.perf_counter() - started) * 1000
            warm, layout = [], []
            for _ in range(args.repeat):
                started = time.perf_counter()
                page = pdf.render_html(facts, exporter, "bench")
                laid = time.perf_counter()
                pdf.write_pdf(page)
                done = time.perf_counter()
                warm.append((done - started) * 1000)
                layout.append((done - laid) * 1000)
            label = "first (browser already running)" if was_running else "cold (export browser starting)"
            print(f"{name}: facts {facts_ms:.0f} ms; {label} {first_ms:.0f} ms; "
                  f"warm median {statistics.median(warm):.0f}"
                  f" ms over {args.repeat} (figures {statistics.median(warm) - statistics.median(layout):.0f} ms,"
                  f" layout {statistics.median(layout):.0f} ms); {size / 1024:.0f} KiB, 2 A4 pages")
    finally:
        exporter.close()


if __name__ == "__main__":
    main()
