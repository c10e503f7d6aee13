"""Losses: mean squared error, and binary and categorical cross-entropy from logits.

Contract: ``value(output, target)`` is the mean loss over the batch and
``gradient(output, target)`` its derivative with respect to ``output``
(``derror_dprediction`` in the lesson), already divided by the batch size.

The cross-entropies are *fused* with the output activation named in
``output_activation``: the network hands them the logits (the input of the final
Sigmoid or Softmax layer), so the value is computed with log-sum-exp, never
overflows, and the gradient is simply ``activation(logits) - target``.

``sample_weight`` (n,) weighs each sample: the loss is the weighted mean
``sum_i w_i loss_i / sum_i w_i``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import functions as F
from chainrule._validation import lookup
from chainrule.layers import _constant

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
    """Base class for losses."""

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

    def value(self, output, target, sample_weight=None) -> float:
        """Mean loss over the batch."""
        return self.value_and_gradient(output, target, sample_weight)[0]

    def gradient(self, output, target, sample_weight=None) -> np.ndarray:
        """``derror_doutput``: the gradient of :meth:`value` with respect to ``output``."""
        return self.value_and_gradient(output, target, sample_weight)[1]

    def value_and_gradient(self, output, target, sample_weight=None, out=None):  # pragma: no cover
        """Both at once (one pass); the gradient goes in ``out`` when given."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (none for the built-in losses)."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _weighted_mean(per_sample: np.ndarray, sample_weight) -> tuple[float, np.ndarray | float]:
    """Mean of ``per_sample`` (n,), and the factor each sample's gradient gets."""
    n = per_sample.shape[0]
    if sample_weight is None:
        return float(np.add.reduce(per_sample, dtype=np.float64) / n), 1.0 / n
    w = np.asarray(sample_weight, dtype=per_sample.dtype)
    total = float(np.sum(w, dtype=np.float64))
    if total <= 0:
        total = 1.0  # a batch of zero weights contributes nothing
    return float(np.dot(per_sample, w) / total), (w / total)[:, None]


_ROW_STARTS: dict[int, np.ndarray] = {}

#: the largest row sum of exponentials the label-shifted cross-entropy keeps
_LARGEST_SUM = {np.dtype(np.float32): 2.0**64, np.dtype(np.float64): 2.0**512}


def _row_starts(n: int, k: int) -> np.ndarray:
    """``np.arange(n) * k``: where each row of a C-contiguous (n, k) array starts in its
    flat view. Sliced from one cached array per ``k`` (a batch loop asks every step)."""
    starts = _ROW_STARTS.get(k)
    if starts is None or starts.shape[0] < n:
        starts = _ROW_STARTS[k] = np.arange(max(n, 256)) * k
        starts.flags.writeable = False
    return starts[:n]


class MeanSquaredError(Loss):
    """Mean squared error ``mean((output - target)**2)`` over all elements.

    As in the lesson there is no factor 1/2: the gradient is
    ``2 * (output - target) / output.size``.
    """

    name = "mse"

    def value_and_gradient(self, output, target, sample_weight=None, out=None):
        diff = np.subtract(output, target, out=out)
        k = output.shape[1] if output.ndim == 2 else 1
        per_sample = np.einsum("ij,ij->i", diff, diff) / k if diff.ndim == 2 else diff * diff
        value, scale = _weighted_mean(per_sample, sample_weight)
        diff *= np.asarray(2.0 / k, dtype=diff.dtype) * np.asarray(scale, dtype=diff.dtype)
        return value, diff


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

    def value_and_gradient(self, output, target, sample_weight=None, out=None):
        z = output
        k = z.shape[1] if self.mean_over_outputs else 1
        per_sample = F.binary_crossentropy_from_logits(z, target).sum(axis=1) / k
        value, scale = _weighted_mean(per_sample, sample_weight)
        grad = out if out is not None else np.empty_like(z)
        grad[...] = F.sigmoid(z)
        grad -= target
        grad *= np.asarray(scale, dtype=grad.dtype) / np.asarray(k, dtype=grad.dtype)
        return value, grad


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

    def value_and_gradient(self, output, target, sample_weight=None, out=None):
        """Mean loss and its gradient; the gradient goes in ``out`` when given.

        Integer labels are checked to lie in ``0..k-1`` unless ``out`` is given: the
        network passes ``out`` with labels that ``prepare_target`` has checked.
        """
        z = output
        n, k = z.shape
        grad = out if out is not None else np.empty_like(z)
        starts = _row_starts(n, k)
        if target.ndim == 1 and out is None and n:
            if target.min() < 0 or target.max() >= k:
                raise ValueError(
                    f"target holds class labels in [{target.min()}, {target.max()}]; "
                    f"labels must be 0..{k - 1} for {k} logits"
                )
        # Logits are read through flat indices: 1-D indexing is twice as fast as 2-D.
        z_flat = z.reshape(-1)  # a copy only if z is not contiguous
        ones = _constant(self, "_ones", (k,), 1.0, grad.dtype)
        shifted = False
        if target.ndim == 1 and n:
            # Shift each row by its label's logit: the label's own term is exp(0) = 1,
            # so the row's sum of exponentials is >= 1 and its loss, log(sum), is >= 0,
            # with full precision for confidently right rows. A logit far above the
            # label's makes a sum too large (past 2**(maxexp / 2): 1.3e154 in float64,
            # 1.8e19 in float32), where exp may overflow and 1 / sum loses bits: the
            # rows' maxima shift them below instead.
            flat = starts + target
            with np.errstate(over="ignore", invalid="ignore"):
                np.subtract(z, z_flat[flat][:, None], out=grad)
                np.exp(grad, out=grad)
                sums = grad @ ones  # row sums, faster than grad.sum(axis=1)
                shifted = sums.max() <= _LARGEST_SUM.get(grad.dtype, 2.0**64)  # NaN: False
            if shifted:
                value, scale = _weighted_mean(np.log(sums), sample_weight)
        if not shifted:
            # Shift each row by its own maximum: exp never overflows, every row's sum
            # is at least 1. Row maxima by argmax: np.max(z, axis=1)'s values (NaN
            # included) in half the time for a few columns.
            z_max = z_flat[starts + z.argmax(axis=1)]
            np.subtract(z, z_max[:, None], out=grad)
            np.exp(grad, out=grad)
            sums = grad @ ones
            per_sample = np.log(sums)
            per_sample += z_max  # logsumexp(z) per row
            if target.ndim == 1:
                per_sample -= z_flat[flat]  # the labels' logits
            else:
                per_sample -= np.einsum("ij,ij->i", z, target)
            value, scale = _weighted_mean(per_sample, sample_weight)
        # gradient (softmax(z) - target) * scale: divide by the row sums and scale at once
        # (scale is a Python float, or per-row weights of the gradient's dtype)
        grad *= np.divide(scale, sums[:, None], out=sums[:, None])
        if target.ndim == 1:
            label_scale = scale if isinstance(scale, float) else scale[:, 0]
            if grad.flags.c_contiguous:
                grad.reshape(-1)[flat] -= label_scale
            else:
                grad[np.arange(n), target] -= label_scale
        else:
            grad -= target * scale
        return value, grad


class HalfSquaredError(Loss):
    """Half squared error: ``0.5 * sum_j (output_j - target_j)**2`` per sample, averaged.

    scikit-learn's ``squared_error`` for its MLPs: the factor 1/2 makes the gradient
    simply ``(output - target) / n``. (scikit-learn *reports* this value divided by
    the number of outputs; its gradient is this one's.)
    """

    name = "half_squared_error"

    def value_and_gradient(self, output, target, sample_weight=None, out=None):
        diff = np.subtract(output, target, out=out)
        squares = np.einsum("ij,ij->i", diff, diff) if diff.ndim == 2 else diff * diff
        value, scale = _weighted_mean(0.5 * squares, sample_weight)
        diff *= np.asarray(scale, dtype=diff.dtype)
        return value, diff


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

    def value_and_gradient(self, output, target, sample_weight=None, out=None):
        z = output
        grad = out if out is not None else np.empty_like(z)
        np.exp(z, out=grad)  # mu
        positive = target > 0
        t_log_t = np.where(positive, target * np.log(np.where(positive, target, 1)), 0)
        per_element = grad - target * z + t_log_t - target
        per_sample = per_element.sum(axis=1) if per_element.ndim == 2 else per_element
        value, scale = _weighted_mean(per_sample, sample_weight)
        grad -= target
        grad *= np.asarray(scale, dtype=grad.dtype)
        return value, grad


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


def get_loss(loss: str | Loss) -> Loss:
    """Return a Loss object from a name in ``LOSSES`` or a Loss instance."""
    if isinstance(loss, Loss):
        return loss
    return lookup(LOSSES, loss, "loss")()
