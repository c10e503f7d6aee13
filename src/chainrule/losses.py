"""Losses: mean squared error, and binary and categorical cross-entropy from logits.

Contract: ``value_and_gradient(output, target, sample_weight)`` returns the mean loss
over the batch and its gradient with respect to ``output`` (the lesson's
``derror_dprediction``), already divided by the batch size; ``value`` and
``gradient`` return one of the two. A loss writes ``per_sample``, each sample's loss
and gradient; the base class takes the (weighted) mean.

The cross-entropies are *fused* with the output activation named in
``output_activation``: the network hands them the logits (the input of the final
Sigmoid or Softmax layer), so the value is computed with log-sum-exp, never
overflows, and the gradient is simply ``activation(logits) - target``.

``sample_weight`` (n,) weighs each sample: the loss is the weighted mean
``sum_i w_i loss_i / sum_i w_i``.

Adding a loss: subclass :class:`Loss`, write ``per_sample`` (and ``prepare_target``
if its targets need checking), and register it in :data:`LOSSES`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import functions as F
from chainrule import kernels
from chainrule._validation import lookup

__all__ = [
    "Loss",
    "MeanSquaredError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "HalfSquaredError",
    "MultilabelCrossentropy",
    "HalfPoissonDeviance",
    "LOSSES",
    "get_loss",
]


class Loss:
    """Base class for losses.

    A loss writes :meth:`per_sample`: each sample's loss and its derivative with
    respect to that sample's output. The base class turns them into the (weighted)
    mean over the batch and its gradient.
    """

    #: registry name
    name = ""
    #: name of the output activation this loss is fused with (``None``: not fused)
    output_activation: str | None = None

    def prepare_target(self, y: np.ndarray, n_outputs: int, dtype: np.dtype) -> np.ndarray:
        """Return ``y`` in the form this loss computes with (shape and dtype)."""
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(
                f"y must have shape (n_samples, {n_outputs}) to match the network's "
                f"{n_outputs} output(s); received shape {np.shape(y)}"
            )
        return np.ascontiguousarray(y, dtype=dtype)

    def per_sample(self, output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each sample's loss, shape (n,), and its gradient with respect to that
        sample's output, shaped like ``output`` (a new array: it is scaled in place)."""
        raise NotImplementedError  # pragma: no cover

    def value_and_gradient(self, output, target, sample_weight=None):
        """The mean loss over the batch and its gradient with respect to ``output``.

        With ``sample_weight`` the mean is ``sum_i w_i loss_i / sum_i w_i``. A batch
        whose weights sum to 0 has loss 0 and gradient 0: it teaches nothing.
        """
        kernel = kernels.loss_kernel(self)
        result = None if kernel is None else kernel(self, output, target, sample_weight)
        if result is not None:
            return result
        losses, derror_doutput = self.per_sample(output, target)
        n = losses.shape[0]
        if sample_weight is None:
            value = float(np.sum(losses, dtype=np.float64)) / n
            derror_doutput *= 1.0 / n
            return value, derror_doutput
        w = np.asarray(sample_weight, dtype=losses.dtype)
        total = float(np.sum(w, dtype=np.float64))
        if total <= 0:
            total = 1.0
        derror_doutput *= (w / total)[:, None]
        return float(np.dot(losses, w)) / total, derror_doutput

    def value(self, output, target, sample_weight=None) -> float:
        """Mean loss over the batch."""
        return self.value_and_gradient(output, target, sample_weight)[0]

    def gradient(self, output, target, sample_weight=None) -> np.ndarray:
        """``derror_doutput``: the gradient of :meth:`value` with respect to ``output``."""
        return self.value_and_gradient(output, target, sample_weight)[1]

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (none for the built-in losses)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """Mean squared error ``mean((output - target)**2)`` over all elements.

    As in the lesson there is no factor 1/2: the gradient is
    ``2 * (output - target) / output.size``.
    """

    name = "mse"

    def per_sample(self, output, target):
        diff = output - target
        k = diff.shape[1]
        return np.sum(diff * diff, axis=1) / k, (2.0 / k) * diff


class BinaryCrossentropy(Loss):
    """Binary cross-entropy from the logits ``z`` of a final Sigmoid layer.

    Per element ``max(z, 0) - z t + log(1 + exp(-|z|))``, averaged over all
    elements (several independent binary outputs are allowed: multilabel).
    Gradient: ``(sigmoid(z) - t) / size``.
    """

    name = "binary_crossentropy"
    output_activation = "logistic"
    #: average over the outputs (True) or sum them (False: MultilabelCrossentropy)
    mean_over_outputs = True

    def prepare_target(self, y, n_outputs, dtype):
        target = super().prepare_target(y, n_outputs, dtype)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise ValueError(
                f"y for {self.name} must hold 0/1 labels (or probabilities in [0, 1]); "
                f"received values in [{target.min():g}, {target.max():g}]. Encode the "
                "classes as 0 and 1, or use categorical_crossentropy for more classes."
            )
        return target

    def per_sample(self, output, target):
        z = output
        k = z.shape[1] if self.mean_over_outputs else 1
        losses = np.sum(F.binary_crossentropy_from_logits(z, target), axis=1) / k
        return losses, (F.sigmoid(z) - target) / k


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy from the logits ``z`` of a final Softmax layer.

    Targets are integer class labels (n,) or one-hot / probability rows (n, k).
    Per sample ``logsumexp(z) - z[label]``; gradient ``(softmax(z) - onehot) / n``.
    """

    name = "categorical_crossentropy"
    output_activation = "softmax"

    def prepare_target(self, y, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim == 1:
            if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
                raise ValueError(
                    "y for categorical_crossentropy must hold integer class labels "
                    "0..n_classes-1 or one-hot rows; received non-integer values"
                )
            labels = y.astype(np.intp)
            if labels.size and (labels.min() < 0 or labels.max() >= n_outputs):
                raise ValueError(
                    f"y holds class labels in [{labels.min()}, {labels.max()}] but the "
                    f"network has {n_outputs} outputs; labels must be 0..{n_outputs - 1}"
                )
            return labels
        if y.ndim == 2 and y.shape[1] == n_outputs:
            return np.ascontiguousarray(y, dtype=dtype)
        raise ValueError(
            f"y must be integer labels (n_samples,) or one-hot rows (n_samples, "
            f"{n_outputs}); received shape {y.shape}"
        )

    def per_sample(self, output, target):
        z = output
        n, k = z.shape
        if target.ndim == 1 and n and (target.min() < 0 or target.max() >= k):
            raise ValueError(
                f"target holds class labels in [{target.min()}, {target.max()}]; "
                f"labels must be 0..{k - 1} for {k} logits"
            )
        softmax = F.softmax(z, axis=1)
        if target.ndim == 1:  # integer labels
            losses = F.categorical_crossentropy_from_logits(z, target)  # logsumexp - z[label]
            softmax[np.arange(n), target] -= 1.0
            return losses, softmax  # softmax(z) - onehot
        # one-hot or probability rows
        return F.logsumexp(z, axis=1) - np.sum(z * target, axis=1), softmax - target


class HalfSquaredError(Loss):
    """Half squared error: ``0.5 * sum_j (output_j - target_j)**2`` per sample, averaged.

    scikit-learn's ``squared_error`` for its MLPs: the factor 1/2 makes the gradient
    simply ``(output - target) / n``.
    """

    name = "half_squared_error"

    def per_sample(self, output, target):
        diff = output - target
        return 0.5 * np.sum(diff * diff, axis=1), diff


class MultilabelCrossentropy(BinaryCrossentropy):
    """Binary cross-entropy from logits, summed over the outputs and averaged over samples.

    Per sample ``sum_j [max(z_j, 0) - z_j t_j + log(1 + exp(-|z_j|))]``: the negative
    log-likelihood of a whole label vector (scikit-learn's ``binary_log_loss``).
    Gradient ``(sigmoid(z) - t) / n``. For one output it equals BinaryCrossentropy.
    """

    name = "multilabel_crossentropy"
    mean_over_outputs = False


class HalfPoissonDeviance(Loss):
    """Half Poisson deviance from the logits ``z = log(mu)`` of a final Exp layer.

    Per sample ``sum_j [t_j log(t_j / mu_j) - t_j + mu_j]`` (with ``0 log 0 = 0``),
    averaged: scikit-learn's ``MLPRegressor(loss="poisson")``. Fused with the Exp
    output, the gradient is ``(exp(z) - t) / n``. Targets must be >= 0.
    """

    name = "poisson"
    output_activation = "exp"

    def per_sample(self, output, target):
        z = output
        mu = np.exp(z)
        positive = target > 0
        t_log_t = np.where(positive, target * np.log(np.where(positive, target, 1)), 0)
        return np.sum(mu - target * z + t_log_t - target, axis=1), mu - target


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "squared_error": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": CategoricalCrossentropy,
    "half_squared_error": HalfSquaredError,
    "multilabel_crossentropy": MultilabelCrossentropy,
    "poisson": HalfPoissonDeviance,
}


kernels.register_loss(
    CategoricalCrossentropy,
    kernels.categorical_crossentropy,
    kernels.compiled_categorical_crossentropy,
)


def get_loss(loss: str | Loss) -> Loss:
    """Return a Loss object from a name in ``LOSSES`` or a Loss instance."""
    if isinstance(loss, Loss):
        return loss
    return lookup(LOSSES, loss, "loss")()
