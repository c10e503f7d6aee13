"""The math: activations with their derivatives, and the error functions.

Every derivative says what it takes. ``sigmoid_deriv(x)`` takes the
pre-activation ``x`` (the lesson's ``layer_1``), exactly as in the lesson;
``*_deriv_from_output`` helpers take the activation's output instead, which is
what a layer has at hand during its backward pass.

All functions are NumPy ufunc compositions: they accept scalars or arrays of
any shape and never overflow (the sigmoid and softmax are written so that
``exp`` only ever sees non-positive numbers).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "dot_product",
    "flush_threshold",
    "flush_to_zero",
    "sigmoid",
    "sigmoid_deriv",
    "sigmoid_deriv_from_output",
    "relu",
    "relu_deriv",
    "leaky_relu",
    "leaky_relu_deriv",
    "tanh",
    "tanh_deriv_from_output",
    "gelu",
    "gelu_deriv",
    "softmax",
    "log_softmax",
    "logsumexp",
    "squared_error",
    "squared_error_deriv",
    "binary_crossentropy_from_logits",
    "categorical_crossentropy_from_logits",
]


def dot_product(input_vector, weights):
    """Weighted sum ``sum_i input_vector[i] * weights[i]``, written out by hand.

    This is the lesson's first computation, kept as a plain loop so a learner
    can compare it with ``np.dot``: for ``[1.72, 1.23]`` and ``[1.26, 0]`` both
    give 2.1672.
    """
    total = 0.0
    for input_value, weight in zip(input_vector, weights, strict=True):
        total = total + input_value * weight
    return total


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for any ``x``.

    For ``x >= 0`` it is computed as ``1 / (1 + exp(-x))`` and for ``x < 0`` as
    ``exp(x) / (1 + exp(x))``, so ``exp`` never receives a large positive number.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    exp_neg_abs = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + exp_neg_abs), exp_neg_abs / (1.0 + exp_neg_abs))


def sigmoid_deriv(x):
    """Derivative of the sigmoid at the pre-activation ``x``: ``s(x) * (1 - s(x))``."""
    s = sigmoid(x)
    return s * (1 - s)


def sigmoid_deriv_from_output(s):
    """Derivative of the sigmoid given its *output* ``s = sigmoid(x)``: ``s * (1 - s)``."""
    return s * (1 - s)


def relu(x):
    """Rectified linear unit ``max(x, 0)``."""
    return np.maximum(x, 0)


def relu_deriv(x):
    """Derivative of ReLU at ``x``: 1 where ``x > 0``, else 0 (0 at the kink)."""
    return (np.asarray(x) > 0).astype(np.result_type(x, np.float32))


def leaky_relu(x, negative_slope: float = 0.01):
    """Leaky ReLU: ``x`` where ``x > 0``, else ``negative_slope * x``."""
    return np.where(np.asarray(x) > 0, x, negative_slope * np.asarray(x))


def leaky_relu_deriv(x, negative_slope: float = 0.01):
    """Derivative of leaky ReLU at ``x``: 1 where ``x > 0``, else ``negative_slope``."""
    x = np.asarray(x)
    return np.where(x > 0, 1.0, negative_slope).astype(np.result_type(x, np.float32))


def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


def tanh_deriv_from_output(t):
    """Derivative of tanh given its *output* ``t = tanh(x)``: ``1 - t**2``."""
    return 1 - t * t


# a Python float, so float32 inputs give float32 results
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x):
    """GELU, tanh approximation: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    ``x^3`` is written ``x * x * x``: NumPy's ``x**3`` calls the general ``pow``,
    about 20 times slower than two multiplications.
    """
    x = np.asarray(x)
    return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def gelu_deriv(x):
    """Derivative of the tanh-approximated GELU at the pre-activation ``x``."""
    x = np.asarray(x)
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
    t = np.tanh(inner)
    dinner_dx = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner_dx


def flush_threshold(dtype) -> float:
    """The size below which an optimizer's moments are set to 0: the smallest normal float
    over the float's epsilon, 9.9e-32 in float32 and 1.0e-292 in float64."""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps)


def flush_to_zero(x: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Set the values of ``x`` smaller in size than ``threshold`` (by default
    :func:`flush_threshold`) to exactly 0, in place; returns ``x``.

    An optimizer's moment decays towards 0 wherever its gradient stays 0 (a dead ReLU
    unit). Left alone it becomes subnormal (below 1.2e-38 in float32), and so do the
    products it enters (``lr * m``): the processor takes tens of times longer for
    those, and training slows down at a plateau. A moment this small moves a weight by
    less than ``lr * threshold / epsilon`` (1e-27 with Adam's defaults), far below the
    precision of any weight. A second moment (Adam's ``v``), which only divides, is
    flushed at the smallest normal float instead (``threshold=np.finfo(dtype).tiny``):
    set to 0 any sooner, it would leave the update to ``epsilon`` alone.
    """
    if threshold is None:
        threshold = flush_threshold(x.dtype)
    x[np.abs(x) < threshold] = 0
    return x


def logsumexp(z, axis: int = -1, keepdims: bool = False):
    """``log(sum(exp(z)))`` along ``axis``, shifted by the maximum so it never overflows."""
    z = np.asarray(z)
    z_max = np.max(z, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(z - z_max), axis=axis, keepdims=True)) + z_max
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(z, axis: int = -1):
    """Softmax ``exp(z_k) / sum_j exp(z_j)`` along ``axis``, max-shifted (never overflows)."""
    z = np.asarray(z)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1):
    """``log(softmax(z))`` computed as ``z - logsumexp(z)``."""
    z = np.asarray(z)
    return z - logsumexp(z, axis=axis, keepdims=True)


def squared_error(prediction, target):
    """The lesson's error: ``np.square(prediction - target)``, element-wise."""
    return np.square(np.asarray(prediction) - target)


def squared_error_deriv(prediction, target):
    """Derivative of the squared error in the prediction: ``2 * (prediction - target)``."""
    return 2 * (np.asarray(prediction) - target)


def binary_crossentropy_from_logits(z, target):
    """Element-wise ``-t log s(z) - (1 - t) log(1 - s(z))`` from the logit ``z``.

    Written as ``max(z, 0) - z t + log(1 + exp(-|z|))``, finite for any ``z``.
    """
    z = np.asarray(z)
    return np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))


def categorical_crossentropy_from_logits(z, labels):
    """Per-row ``-log softmax(z)[label]`` for integer ``labels`` of shape (n,)."""
    z = np.asarray(z)
    rows = np.arange(z.shape[0])
    return logsumexp(z, axis=1) - z[rows, labels]
