"""Plain words for one prediction: how confident it is and whether the sample looks like the training
data. Pure functions: numbers in, sentences out."""
from __future__ import annotations


def confidence_words(class_name: str, probability: float, threshold: float, target_accuracy: float) -> str:
    if probability < threshold:
        return (f"Low confidence. The model's best guess is {class_name} with a calibrated probability of "
                f"{probability:.2f}, below the abstain threshold of {threshold:.2f}. That threshold was chosen so "
                f"that predictions above it were right about {target_accuracy:.0%} of the time on validation "
                "samples; below it, treat the result as no prediction.")
    level = "very high" if probability >= 0.95 else "high" if probability >= 0.8 else "moderate"
    return (f"The model predicts {class_name} with a calibrated probability of {probability:.2f} ({level} "
            f"confidence), above the abstain threshold of {threshold:.2f}: among validation samples this "
            f"confident, about {target_accuracy:.0%} or more were right.")


def distribution_words(flagged: bool, score: float, threshold: float, out_of_range: int) -> str:
    if not flagged:
        return (f"The sample resembles the training samples (distance score {score:.2f}, threshold "
                f"{threshold:.2f}; {out_of_range} values outside the training range).")
    return (f"Warning: this sample is unlike the samples the model was trained on (distance score {score:.2f} "
            f"against a threshold of {threshold:.2f}; {out_of_range} values outside the training range). "
            "The prediction may not hold for it, whatever its probability.")
