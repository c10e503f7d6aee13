"""Metrics: accuracy, mse, mae and r2, accumulated batch by batch; and the reports
(:func:`classification_scores`, :func:`regression_scores`) built on them.

A metric object is reset at the start of an epoch, updated with each batch's
``(output, target)`` and read with :meth:`Metric.result`; the result equals the
metric computed on all the epoch's samples at once. ``output`` is the network's
final output (probabilities for a Sigmoid or Softmax output); ``target`` is the
target as the loss prepared it (integer labels or a 2-D array).
"""

from __future__ import annotations

import numpy as np

from chainrule._validation import lookup

__all__ = [
    "Metric",
    "Accuracy",
    "MeanSquaredErrorMetric",
    "MeanAbsoluteError",
    "R2",
    "METRICS",
    "get_metric",
    "classification_scores",
    "regression_scores",
]


def _dense_target(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``target`` as an array shaped like ``output`` (integer labels become one-hot)."""
    if target.ndim == 1 and output.ndim == 2 and output.shape[1] > 1:
        dense = np.zeros_like(output)
        dense[np.arange(target.shape[0]), target] = 1
        return dense
    return target.reshape(output.shape)


class Metric:
    """Base class of the streaming metrics."""

    name = ""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._total = 0.0
        self._count = 0

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover

    def result(self) -> float:
        return self._total / self._count if self._count else float("nan")

    def __call__(self, output, target) -> float:
        """The metric of one whole set of outputs and targets."""
        self.reset()
        self.update(np.asarray(output), np.asarray(target))
        return self.result()


class Accuracy(Metric):
    """Fraction of correct predictions.

    Several outputs: the arg-max against the label. One output, or several
    independent sigmoid outputs: ``output > 0.5`` against each 0/1 target.
    """

    name = "accuracy"

    def update(self, output, target):
        if output.ndim == 2 and output.shape[1] > 1 and (target.ndim == 1 or _is_one_hot(target)):
            labels = target if target.ndim == 1 else np.argmax(target, axis=1)
            self._total += float(np.sum(np.argmax(output, axis=1) == labels))
            self._count += output.shape[0]
        else:
            predicted = output > 0.5
            self._total += float(np.sum(predicted == (target.reshape(output.shape) > 0.5)))
            self._count += output.size


def _is_one_hot(target: np.ndarray) -> bool:
    """Rows that are one-hot or class probabilities (sum 1): compare arg-maxes."""
    return target.ndim == 2 and bool(np.allclose(np.sum(target, axis=1), 1.0, rtol=0, atol=1e-5))


class MeanSquaredErrorMetric(Metric):
    """Mean squared error over all elements."""

    name = "mse"

    def update(self, output, target):
        diff = output - _dense_target(output, target)
        self._total += float(np.sum(diff * diff, dtype=np.float64))
        self._count += diff.size


class MeanAbsoluteError(Metric):
    """Mean absolute error over all elements."""

    name = "mae"

    def update(self, output, target):
        diff = output - _dense_target(output, target)
        self._total += float(np.sum(np.abs(diff), dtype=np.float64))
        self._count += output.size


class R2(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot``, averaged over outputs
    (scikit-learn's ``r2_score`` with ``multioutput="uniform_average"``)."""

    name = "r2"

    def reset(self):
        self._n = 0
        self._mean = self._m2 = self._sse = 0.0

    def update(self, output, target):
        t = _dense_target(output, target).astype(np.float64)
        o = output.astype(np.float64)
        n_b = t.shape[0]
        if n_b == 0:
            return
        # Chan et al.'s merge of (count, mean, sum of squared deviations): exact
        # even when the targets sit on a large offset (no sum(t**2) - sum(t)**2 / n).
        mean_b = t.mean(axis=0)
        m2_b = ((t - mean_b) ** 2).sum(axis=0)
        n = self._n + n_b
        delta = mean_b - self._mean
        self._m2 = self._m2 + m2_b + delta**2 * (self._n * n_b / n)
        self._mean = self._mean + delta * (n_b / n)
        self._n = n
        self._sse = self._sse + ((o - t) ** 2).sum(axis=0)

    def result(self):
        if not self._n:
            return float("nan")
        ss_tot = np.atleast_1d(self._m2)
        sse = np.atleast_1d(self._sse)
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(ss_tot > 0, 1.0 - sse / ss_tot, np.where(sse == 0, 1.0, 0.0))
        return float(np.mean(scores))


METRICS: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "mse": MeanSquaredErrorMetric,
    "mae": MeanAbsoluteError,
    "r2": R2,
}


def get_metric(name: str | Metric) -> Metric:
    """Return a fresh metric object for a name in ``METRICS`` (or the object itself)."""
    if isinstance(name, Metric):
        return name
    return lookup(METRICS, name, "metric")()


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy, per-class precision and recall, and the confusion matrix.

    ``confusion[i, j]`` counts samples of true class ``i`` predicted as ``j``;
    precision of class ``j`` is ``confusion[j, j] / confusion[:, j].sum()`` and recall
    ``confusion[j, j] / confusion[j, :].sum()`` (0 when the class is never predicted,
    or absent). The same numbers as scikit-learn's ``confusion_matrix`` and
    ``precision_recall_fscore_support(..., zero_division=0)``; the accuracy is
    :class:`Accuracy`'s.
    """
    y_true = np.asarray(y_true, dtype=np.intp)
    y_pred = np.asarray(y_pred, dtype=np.intp)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    correct = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros(n_classes), where=actual > 0)
    one_hot = np.eye(n_classes)[y_pred]  # Accuracy compares arg-maxes with the labels
    return {
        "accuracy": Accuracy()(one_hot, y_true),
        "precision": precision,
        "recall": recall,
        "support": actual,
        "confusion_matrix": confusion,
    }


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``mse = mean((y - p)**2)``, ``mae = mean(|y - p|)``, ``r2 = 1 - SS_res / SS_tot``.

    Targets near the float64 limit (~1e308) give ``inf`` where a sum exceeds it.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1, 1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "mse": MeanSquaredErrorMetric()(y_pred, y_true),
            "mae": MeanAbsoluteError()(y_pred, y_true),
            "r2": R2()(y_pred, y_true),
        }
