"""Metrics (chainrule.metrics): accuracy, mse, mae and r2 against scikit-learn, streamed
over batches (exactly, even on a large offset), the registry, and the classification
and regression score tables."""

import numpy as np
import pytest
from sklearn.metrics import (
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)

from chainrule.metrics import METRICS, R2, classification_scores, get_metric, regression_scores

# ---------------------------------------------------------------- metrics against scikit-learn


def test_metrics_equal_scikit_learn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    # multi-class: arg-max of probabilities against integer labels and one-hot rows
    proba = rng.dirichlet(np.ones(4), 40)
    labels = rng.integers(0, 4, 40)
    expected = skm.accuracy_score(labels, proba.argmax(axis=1))
    assert get_metric("accuracy")(proba, labels) == pytest.approx(expected)
    assert get_metric("accuracy")(proba, np.eye(4)[labels]) == pytest.approx(expected)
    # probability rows (soft labels, here in float32) count by their arg-max too
    soft = (0.9 * np.eye(4)[labels] + 0.025).astype(np.float32)
    assert get_metric("accuracy")(proba, soft) == pytest.approx(expected)
    # binary: one sigmoid output against 0/1
    p = rng.uniform(size=(40, 1))
    y01 = rng.integers(0, 2, 40).astype(float)
    assert get_metric("accuracy")(p, y01.reshape(-1, 1)) == pytest.approx(
        skm.accuracy_score(y01, p[:, 0] > 0.5)
    )
    # multilabel: element-wise, which is 1 - Hamming loss
    pm = rng.uniform(size=(40, 3))
    ym = rng.integers(0, 2, (40, 3)).astype(float)
    assert get_metric("accuracy")(pm, ym) == pytest.approx(1 - skm.hamming_loss(ym, pm > 0.5))
    # regression, one and several outputs
    for shape in [(40, 1), (40, 3)]:
        out, t = rng.normal(size=shape), rng.normal(size=shape)
        assert get_metric("mse")(out, t) == pytest.approx(skm.mean_squared_error(t, out))
        assert get_metric("mae")(out, t) == pytest.approx(skm.mean_absolute_error(t, out))
        assert get_metric("r2")(out, t) == pytest.approx(skm.r2_score(t, out))


def test_streamed_metrics_equal_the_whole_set():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    out, t = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    metric = get_metric("r2")
    metric.reset()
    for lo in range(0, 30, 7):
        metric.update(out[lo : lo + 7], t[lo : lo + 7])
    assert metric.result() == pytest.approx(r2_score(t, out))


def test_streaming_r2_is_exact_on_a_large_offset():
    rng = np.random.default_rng(0)
    target = 1e8 + rng.normal(size=(1000, 2))
    output = target + 0.1 * rng.normal(size=(1000, 2))
    metric = R2()
    for start in range(0, 1000, 64):
        metric.update(output[start : start + 64], target[start : start + 64])
    # sum(t**2) - sum(t)**2 / n gives 0.0 here; the merged update gives scikit-learn's value
    assert metric.result() == pytest.approx(r2_score(target, output), abs=1e-9)


def test_r2_of_a_constant_target_follows_scikit_learn():
    from sklearn.metrics import r2_score

    t = np.ones((5, 1))
    assert get_metric("r2")(t, t) == r2_score(t, t) == 1.0
    assert get_metric("r2")(t + 1, t) == r2_score(t, t + 1) == 0.0


def test_metric_registry():
    assert set(METRICS) >= {"accuracy", "mse", "mae", "r2"}
    with pytest.raises(ValueError, match="unknown metric 'auc'; expected one of"):
        get_metric("auc")


# ---------------------------------------------------------------- scores


def test_classification_scores_match_scikit_learn():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 100)
    y_pred = np.where(rng.random(100) < 0.7, y_true, rng.integers(0, 4, 100))
    y_pred[y_pred == 3] = 2  # class 3 is never predicted: precision 0
    scores = classification_scores(y_true, y_pred, 4)
    np.testing.assert_array_equal(scores["confusion_matrix"], confusion_matrix(y_true, y_pred))
    p, r, _, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    np.testing.assert_allclose(scores["precision"], p)
    np.testing.assert_allclose(scores["recall"], r)
    np.testing.assert_array_equal(scores["support"], support)
    assert scores["accuracy"] == np.mean(y_true == y_pred)


def test_regression_scores_match_scikit_learn():
    rng = np.random.default_rng(4)
    y, p = rng.normal(size=50), rng.normal(size=50)
    scores = regression_scores(y, p)
    assert scores["mse"] == pytest.approx(mean_squared_error(y, p))
    assert scores["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert scores["r2"] == pytest.approx(r2_score(y, p))
