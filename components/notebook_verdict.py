"""A notebook run's verdict in plain sentences, from its summary (the JSON line of the notebook's cell
tagged `summary`, notebooks/README.md): whether the metrics reproduced, the drift verdict, what a cohort
held, what training registered. Pure: a notebook name and a summary in, sentences out; an empty or
unknown summary gives what can be said from the keys every summary has."""
from __future__ import annotations


def _percent(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "es" if word.endswith("s") else "s")


def _headline(metrics: dict) -> str | None:
    if not metrics:
        return None
    parts = [f"{label} {_percent(metrics[key])}" for key, label in
             (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy")) if key in metrics]
    if "macro_f1" in metrics:
        parts.append(f"macro F1 {metrics['macro_f1']:.3f}")
    return "Held-out " + ", ".join(parts) + "." if parts else None


def _model_evaluation(s: dict, ref: str) -> list[str]:
    samples = s.get("held_out_samples")
    on = f" on {_plural(samples, 'held-out sample')}" + (f" (seed {s['seed']})" if "seed" in s else "") \
        if isinstance(samples, int) else ""
    if s.get("metrics_match"):
        first = f"The stored metrics of {ref} were reproduced: every value matched{on}."
    else:
        first = f"The stored metrics of {ref} were NOT reproduced{on}."
    sentences = [first]
    if "importance_match" in s:
        sentences.append("Its global feature importance was reproduced too." if s["importance_match"] else
                         "Its global feature importance was NOT reproduced.")
    return sentences + [x for x in [_headline(s.get("metrics") or {})] if x]


def _cohort_report(s: dict, ref: str) -> list[str]:
    samples = s.get("samples", 0)
    counts = {k: v for k, v in (s.get("class_counts") or {}).items() if v}
    sentences = [f"{_plural(samples, 'sample')} predicted with {ref}."]
    if counts:
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        shown = ", ".join(f"{name} ({count:,})" for name, count in ranked[:3])
        rest = f" and {_plural(len(ranked) - 3, 'other class')}" if len(ranked) > 3 else ""
        sentences.append(f"Most often predicted: {shown}{rest}.")
    abstained, far = s.get("abstained", 0), s.get("out_of_distribution", 0)
    sentences.append(f"{_plural(abstained, 'sample')} abstained (confidence below the threshold) and "
                     f"{_plural(far, 'sample')} were out of distribution.")
    if s.get("label_accuracy") is None:
        sentences.append("The input had no true labels to compare with.")
    else:
        sentences.append(f"Against the input's true labels, {_percent(s['label_accuracy'])} of the predictions "
                         f"were right.")
    return sentences


def _drift_report(s: dict, ref: str) -> list[str]:
    verdict = s.get("verdict", "unknown")
    drifted, features = s.get("drifted_features", 0), s.get("features", 0)
    share = f" ({drifted / features:.1%})" if features else ""
    return [f"Drift verdict: {verdict}.",
            f"{drifted:,} of {_plural(features, 'feature')} drift{share} between the "
            f"{_plural(s.get('samples', 0), 'sample')} of the input and the "
            f"{_plural(s.get('reference_samples', 0), 'training sample')} of {ref}."]


def _train_model(s: dict, ref: str) -> list[str]:
    how = ", ".join(x for x in [s.get("algorithm"), f"seed {s['seed']}" if "seed" in s else None,
                                f"{s['cv_folds']}-fold cross-validation" if "cv_folds" in s else None] if x)
    sentences = [f"{ref} was trained on {s.get('dataset', 'its dataset')}" + (f" ({how})" if how else "")
                 + f" and registered with the alias {s.get('alias', 'staging')}; production did not move."]
    return sentences + [x for x in [_headline(s.get("metrics") or {})] if x]


VERDICTS = {"model_evaluation": _model_evaluation, "cohort_report": _cohort_report,
            "drift_report": _drift_report, "train_model": _train_model}


def verdict_sentences(notebook: str, summary: dict | None) -> list[str]:
    """The sentences shown at the top of a run's page; [] without a summary (a run that did not finish)."""
    if not summary or "model" not in summary:
        return []
    ref = f"{summary['model']} v{summary['version']}" if "version" in summary else str(summary["model"])
    sentences = VERDICTS.get(notebook)
    return sentences(summary, ref) if sentences else [f"The notebook ran on {ref}."]
