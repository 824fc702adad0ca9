"""The model card stored with each version: intended use, data, metrics, limitations. Every figure in
it is read from the version's own stored metrics."""
from __future__ import annotations

INTENDED_USE = "Research use only, not for diagnosis."


def model_card(name: str, metadata: dict) -> dict:
    held_out = metadata["metrics"]
    provenance = metadata["dataset"]["provenance"]
    cv = metadata["cross_validation"]
    abstain = metadata["abstain"]
    selective = held_out["selective"]
    limitations = [
        f"Trained on {provenance['n_samples']} samples of one public dataset ({provenance['title']}); "
        "performance on other cohorts, platforms or preprocessing is unknown.",
        f"Predicts only these classes: {', '.join(metadata['classes'])}. A sample of any other class is "
        "still given one of them; the out-of-distribution flag is a partial guard, not a guarantee.",
        f"The abstain threshold ({abstain['threshold']:.3f}) was chosen for {abstain['target_accuracy']:.0%} "
        "validation accuracy" + ("" if abstain["target_reached"] else " but never reached it") +
        f"; on the held-out split it keeps {selective['coverage']:.1%} of samples.",
        "Held-out metrics come from one seeded split; small classes have wide uncertainty.",
    ]
    if provenance.get("excluded_classes"):
        excluded = ", ".join(f"{k} ({v})" for k, v in provenance["excluded_classes"].items())
        limitations.append(f"Classes left out for too few samples: {excluded}.")
    limitations.extend(provenance.get("limitations", []))  # what the dataset itself says of its data
    return {
        "model": name,
        "intended_use": INTENDED_USE,
        "out_of_scope": "Clinical diagnosis, treatment decisions, or any use on a single patient's care.",
        "data": {"dataset": provenance["id"], "title": provenance["title"], "source": provenance["source"],
                 "license": provenance["data_license"], "package_license": provenance["package_license"],
                 "citation": provenance["citation"], "policy": provenance["policy"]},
        "method": f"{metadata['algorithm']} chosen by {cv['folds']}-fold cross-validation "
                  f"({cv['selection']}), probabilities calibrated by temperature scaling.",
        "metrics": {
            "held_out_samples": held_out["n_samples"],
            "accuracy": held_out["accuracy"],
            "balanced_accuracy": held_out["balanced_accuracy"],
            "macro_f1": held_out["macro_f1"],
            "top_3_accuracy": held_out["top_3_accuracy"],
            "expected_calibration_error": held_out["calibration"]["expected_calibration_error"],
            "cv_balanced_accuracy": {"mean": cv["mean"], "std": cv["std"]},
        },
        "limitations": limitations,
    }
