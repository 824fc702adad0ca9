"""The words the portal shows, each defined in one line: the Glossary page lists them, and grid headers
and figure labels carry the same definitions as tooltips. Pure data and builders, no state."""
from __future__ import annotations

TERMS: dict[str, str] = {
    "accuracy": "The share of held-out samples whose predicted class is their true class.",
    "balanced accuracy": "The mean of the recall of every class, so that a rare class counts as much as a common one.",
    "precision": "Of the samples predicted as a class, the share that truly belong to it.",
    "recall": "Of the samples of a class, the share the model predicted as that class (sensitivity).",
    "F1": "The harmonic mean of precision and recall for a class.",
    "macro-F1": "The mean of the F1 of every class, each class counting equally.",
    "support": "How many held-out samples truly belong to the class.",
    "top-3 accuracy": "The share of held-out samples whose true class is among the model's three likeliest.",
    "log loss": "How surprised the model is by the true classes on average (lower is better).",
    "ROC AUC": "The chance that the model ranks a random sample of the class above one of another class "
               "(0.5 is guessing, 1 is perfect).",
    "average precision": "The area under a class's precision-recall curve (PR AUC): precision averaged over recall.",
    "ECE": "Expected calibration error: how far stated probabilities are from how often the model is right, "
           "averaged over confidence bins (0 is perfect).",
    "Brier score": "The mean squared difference between the stated probabilities and what happened (lower is better).",
    "calibrated probability": "A probability adjusted on validation samples (temperature scaling) so that, among "
                              "predictions stated at 80%, about 80% are right.",
    "confidence": "The calibrated probability of the predicted class.",
    "margin": "How far the predicted class's probability is ahead of the second likeliest class's.",
    "abstain threshold": "The lowest confidence at which validation accuracy reached the target (90%); below it a "
                         "prediction is flagged and should be treated as no prediction.",
    "coverage": "The share of samples whose confidence reaches the abstain threshold.",
    "out of distribution": "A sample unlike the training samples: too far from its nearest training samples, or "
                           "with values outside the ranges seen in training. Its prediction is less trustworthy.",
    "distance to training": "The mean distance from a sample to its five nearest training samples in a compressed "
                            "space; the out-of-distribution flag compares it with the training samples' own.",
    "SHAP value": "How much one feature's value moved this prediction away from the model's average output.",
    "base value": "The model's average output over the training samples, where every explanation starts.",
    "held-out split": "Samples set aside before training and never used to fit, select or calibrate the model: "
                      "all reported metrics come from them.",
    "PSI": "Population stability index: how much a feature's distribution shifted between training and new "
           "samples (above 0.1 is a notable shift).",
    "KS": "Kolmogorov-Smirnov test: whether a continuous feature's values in new samples could come from the "
          "training distribution.",
}


def definition(term: str) -> str:
    """The one-line definition of a term of TERMS (KeyError for a word without one)."""
    return TERMS[term]


def column(field: str, header: str, term: str | None = None, **more) -> dict:
    """An AG Grid column shown with a word for its header and, for a defined term, its definition."""
    return {"field": field, "headerName": header, **({"headerTooltip": TERMS[term]} if term else {}), **more}
