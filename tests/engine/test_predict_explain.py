"""Prediction flags and SHAP explanations on real held-out samples."""
from __future__ import annotations

import numpy as np
import pytest

from engine import explain
from engine.predict import predict
from tests.helpers import assert_shap_additive


def held_out(dataset, version):
    ids = version.metadata["split"]["test_ids"]
    return dataset.X.loc[ids].to_numpy(float), ids


def test_predictions_on_held_out_samples(registry, gdsc):
    model = registry.load("tissue-of-origin")
    X, ids = held_out(gdsc, model.version)
    result = predict(model, X, ids)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0)
    assert result.predicted == [model.bundle.classes[k] for k in result.probabilities.argmax(axis=1)]
    threshold = model.version.metadata["abstain"]["threshold"]
    assert (result.abstain == (result.confidence < threshold)).all()
    assert ((result.margin >= 0) & (result.margin <= result.confidence)).all()
    # the stored held-out accuracy is what these predictions give
    truth = gdsc.y.loc[ids].to_numpy()
    assert np.mean(np.array(result.predicted) == truth) == pytest.approx(model.version.metrics["accuracy"], abs=1e-6)
    assert result.out_of_distribution.mean() < 0.1
    frame = result.to_frame()
    assert list(frame.columns[:3]) == ["sample_id", "predicted_class", "confidence"]
    assert len(result.records()) == len(ids)


def test_far_away_samples_are_flagged_out_of_distribution(registry, tcga):
    model = registry.load("tcga-mirna-type")
    X, ids = held_out(tcga, model.version)
    shifted = X[:20].copy()
    shifted[:, ::2] = 0.0  # half of the miRNAs silent: no real library looks like this
    normal = predict(model, X[:20], ids[:20])
    odd = predict(model, shifted, ids[:20])
    assert odd.out_of_distribution.all() and not normal.out_of_distribution.all()
    assert (odd.ood_score > normal.ood_score).all()
    out_of_range = np.full(20, 50)  # many values outside the training range flag a sample too
    assert predict(model, X[:20], ids[:20], out_of_range).out_of_distribution.all()


def test_wrong_width_is_refused(registry):
    model = registry.load("tcga-mirna-type")
    with pytest.raises(ValueError, match="expected 298 features"):
        predict(model, np.zeros((1, 5)), ["x"])


def test_linear_explanations_add_up_to_the_calibrated_logits(registry, gdsc):
    model = registry.load("tissue-of-origin")
    X, _ = held_out(gdsc, model.version)
    assert_shap_additive(model.bundle, X)
    # and softmax of the explained logits is the calibrated probability
    logits = explain.explained_output(model.bundle, X)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert np.allclose(softmax / softmax.sum(axis=1, keepdims=True), model.bundle.predict_proba(X), atol=1e-9)


@pytest.mark.parametrize("algorithm", ["random-forest", "hist-gb"])
def test_tree_explanations_add_up(tree_models, algorithm):
    result, dataset = tree_models[algorithm]
    assert result.metadata["algorithm"] == algorithm
    X = dataset.X.loc[result.metadata["split"]["test_ids"]].to_numpy(float)[:40]
    assert_shap_additive(result.bundle, X)


def test_one_sample_explanation(registry, tcga):
    model = registry.load("tcga-mirna-type")
    X, ids = held_out(tcga, model.version)
    (e,) = explain.explain(model.bundle, model.schema, X[:1], ids[:1], top_k=20)
    assert e.class_name == predict(model, X[:1], ids[:1]).predicted[0]
    assert len(e.top) == 20 and e.n_rest == 298 - 20
    assert abs(e.top[0].shap) >= abs(e.top[-1].shap)
    total = sum(c.shap for c in e.top) + e.rest
    assert e.base_value + total == pytest.approx(e.output, abs=1e-9)
    assert sum(e.group_sums.values()) == pytest.approx(total, abs=1e-9) and set(e.group_sums) == {"miRNA"}
    assert e.top[0].value == X[0, model.schema.names.index(e.top[0].feature)]
    (other,) = explain.explain(model.bundle, model.schema, X[:1], ids[:1], class_name="SKCM")
    assert other.class_name == "SKCM"
    with pytest.raises(ValueError, match="unknown class"):
        explain.explain(model.bundle, model.schema, X[:1], ids[:1], class_name="LUAD")


def test_global_importance_is_stored(registry):
    importance = registry.resolve("tissue-of-origin").metadata["global_importance"]
    assert set(importance["groups"]) == {"mutation", "copy number", "microsatellite instability"}
    values = [f["mean_abs_shap"] for f in importance["features"]]
    assert values == sorted(values, reverse=True) and values[0] > 0 and len(values) == 678


def test_numpy_preprocessing_equals_the_pipelines_own_transform(registry, tcga, gdsc):
    """The numpy path of ModelBundle.preprocess (imputation, log-CPM, scaling) against scikit-learn's
    transform, on real samples with real values blanked as missing."""
    for name, dataset in (("tcga-mirna-type", tcga), ("tissue-of-origin", gdsc)):
        model = registry.load(name)
        X = dataset.X[model.schema.names].to_numpy(dtype=float)[:200].copy()
        X[::7, ::5] = np.nan
        expected = model.bundle.pipeline[:-1].transform(X)
        assert np.allclose(model.bundle.preprocess(X), expected, rtol=0, atol=1e-12)


def test_temperature_scaling_equals_scikit_learns(registry, tcga, gdsc, tree_models):
    """ModelBundle.predict_proba against CalibratedClassifierCV.predict_proba: decision scores (logreg)
    and forest probabilities (the log-probability branch), on real samples."""
    forest, _ = tree_models["random-forest"]
    cases = [(registry.load(name).bundle, dataset) for name, dataset in
             (("tcga-mirna-type", tcga), ("tissue-of-origin", gdsc))] + [(forest.bundle, gdsc)]
    for bundle, dataset in cases:
        X = dataset.X.to_numpy(dtype=float)[:300]
        assert np.allclose(bundle.predict_proba(X), bundle.classifier.predict_proba(X), rtol=0, atol=1e-9)


def _models_as_the_page_shows_them(registry, gdsc, tcga, tree_models):
    """(bundle, schema, X of real held-out samples) for every default model: logreg on both datasets,
    the random forest and the gradient-boosting model."""
    cases = []
    for name, dataset in (("tissue-of-origin", gdsc), ("tcga-mirna-type", tcga)):
        model = registry.load(name)
        cases.append((model.bundle, model.schema, held_out(dataset, model.version)))
    for algorithm in ("random-forest", "hist-gb"):
        result, dataset = tree_models[algorithm]
        ids = result.metadata["split"]["test_ids"]
        cases.append((result.bundle, dataset.schema, (dataset.X.loc[ids].to_numpy(float), ids)))
    return cases


def test_the_waterfall_adds_up_to_the_probability_the_page_states(registry, gdsc, tcga, tree_models):
    """base + top effects + the other features + the calibration step == the calibrated probability
    (the explain page's headline and its class menu), for the predicted class and for another one."""
    for bundle, schema, (X, ids) in _models_as_the_page_shows_them(registry, gdsc, tcga, tree_models):
        X, ids = X[:5], ids[:5]
        stated = bundle.predict_proba(X)  # what predict() returns and the page prints
        for i in range(len(ids)):
            predicted = int(np.argmax(stated[i]))
            other = bundle.classes[(predicted + 1) % len(bundle.classes)]
            for class_name in (None, other):
                (e,) = explain.explain(bundle, schema, X[i:i + 1], ids[i:i + 1], class_name=class_name, top_k=10)
                k = bundle.classes.index(e.class_name)
                total = e.probability_base + sum(c.effect for c in e.top) + e.rest_effect + e.calibration_step
                assert abs(total - stated[i, k]) < 1e-6 and e.probability == pytest.approx(stated[i, k], abs=1e-12)
                assert e.predicted_class == bundle.classes[predicted]
                if bundle.algorithm == "random-forest":
                    # bars are the forest's own probability; the last step is the temperature scaling
                    forest = explain.explained_output(bundle, X[i:i + 1])[0, k]
                    assert e.calibration_label == explain.CALIBRATION_STEP
                    assert e.calibration_step == pytest.approx(stated[i, k] - forest, abs=1e-6)
                    assert [c.effect for c in e.top] == [c.shap for c in e.top]
                else:  # log-odds through the softmax: the path itself ends at the calibrated probability
                    assert e.calibration_label is None and abs(e.calibration_step) < 1e-6
                    assert 0 < e.probability_base < 1
                data = e.to_dict()
                assert data["predicted_class"] == e.predicted_class and "effect" in data["top"][0]
