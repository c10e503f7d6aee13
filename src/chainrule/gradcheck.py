"""Gradient checks: compare backpropagation with central finite differences.

Everything goes through one helper, :func:`numerical_gradient`, which computes
``(f(x + eps) - f(x - eps)) / (2 eps)`` for every entry of ``x`` in float64, and one
measure, :func:`relative_error`. On top of them:

- :func:`check_layer` checks a layer's ``derror_dinput`` and every parameter
  gradient, for the scalar ``sum(layer(x) * g)`` with a random upstream gradient ``g``
  (so ``backward(g)`` is exactly that scalar's gradient);
- :func:`check_loss` checks ``Loss.gradient`` against ``Loss.value``;
- :func:`check_network` checks :meth:`Network.loss_and_gradient` for every
  parameter of a whole network.

For smooth functions in float64 the relative error of a correct gradient is around
``1e-9`` or smaller, hence the default threshold ``1e-6``. Keep inputs away from the
kinks of ReLU and LeakyReLU, where the derivative jumps. The numerical estimate carries
a round-off of about ``1e-16 * |f| / eps``: where a gradient is some 1e-5 of the value
``f`` (a one-unit bottleneck, say), use ``eps=1e-5`` and a threshold of ``1e-5``.

Examples
--------
>>> import numpy as np
>>> from chainrule import Tanh
>>> from chainrule.gradcheck import check_layer
>>> x = np.random.default_rng(0).normal(size=(4, 3))
>>> check_layer(Tanh(), x).passed
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from chainrule._validation import check_sample_weight
from chainrule.layers import Layer
from chainrule.losses import Loss, get_loss

if TYPE_CHECKING:  # pragma: no cover
    from chainrule.network import Network

__all__ = [
    "GradCheckResult",
    "numerical_gradient",
    "relative_error",
    "check_layer",
    "check_loss",
    "check_network",
]


@dataclass
class GradCheckResult:
    """Outcome of a gradient check: ``passed = max_relative_error < threshold``.

    Attributes
    ----------
    max_relative_error : float
        The largest :func:`relative_error` over the checked arrays.
    threshold : float
        The bound the error was compared with.
    errors : dict of str to float
        The relative error of each checked array (``"input"``, ``"weights"``, ...).
    """

    max_relative_error: float
    threshold: float
    errors: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every checked array's relative error is below ``threshold``."""
        return bool(self.max_relative_error < self.threshold)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return (
            f"GradCheckResult(passed={self.passed}, max_relative_error="
            f"{self.max_relative_error:.3g}, threshold={self.threshold:g})"
        )


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences ``df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.

    Parameters
    ----------
    f : callable
        Takes no argument and returns a scalar computed from the *current* values
        of ``x`` (``x`` is perturbed in place, one entry at a time).
    x : ndarray of float64
        The array to differentiate with respect to; every entry is restored.
    eps : float, default=1e-6
        Step size.

    Returns
    -------
    ndarray of float64, shaped like ``x``
    """
    if x.dtype != np.float64:
        raise TypeError(
            f"x must be a float64 array (finite differences in float32 are too coarse); "
            f"received dtype {x.dtype}. Use dtype='float64' / x.astype(np.float64)."
        )
    if not x.flags.c_contiguous:
        raise ValueError("x must be C-contiguous so it can be perturbed in place")
    grad = np.empty(x.shape, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        f_plus = float(f())
        flat[i] = original - eps
        f_minus = float(f())
        flat[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max(max|a|, max|b|)``: the error relative to the larger array's scale.

    Two all-zero arrays have error 0. Measuring against the array's scale (not each
    element's) keeps round-off in near-zero entries from dominating, while any entry
    that is wrong by a fraction of the scale still shows.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; received {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    diff = float(np.max(np.abs(a - b)))
    if scale == 0.0:
        return 0.0
    return diff / scale


def _result(analytic: dict[str, np.ndarray], numeric: dict[str, np.ndarray], threshold: float):
    errors = {name: relative_error(analytic[name], numeric[name]) for name in analytic}
    worst = max(errors.values(), default=0.0)
    if not np.isfinite(worst):
        worst = float("inf")
    return GradCheckResult(worst, float(threshold), errors)


def _ensure_params(layer: Layer, n_features: int, rng: np.random.Generator) -> None:
    """Build a stand-alone layer in float64 and give it its own parameter arrays."""
    if getattr(layer, "in_features", None) == n_features and hasattr(layer, "param_arrays"):
        return
    layer.build(n_features, rng, np.float64)
    shapes = [shape for _, shape in layer.param_shapes()]
    params = [np.zeros(shape, dtype=np.float64) for shape in shapes]
    grads = [np.zeros(shape, dtype=np.float64) for shape in shapes]
    layer.bind(params, grads)
    if shapes:
        layer.reset_parameters(rng)


def check_layer(
    layer: Layer,
    x: np.ndarray,
    *,
    training: bool = False,
    threshold: float = 1e-6,
    eps: float = 1e-6,
    seed: int = 0,
) -> GradCheckResult:
    """Check ``backward`` for ``E = sum(layer(x) * g)`` with a random upstream ``g``.

    ``backward(g)`` must return ``dE/dx`` and fill ``dE/dW`` for each parameter;
    both are compared with :func:`numerical_gradient`.

    Parameters
    ----------
    layer : Layer
        A layer on its own. If it is not built for ``x.shape[1]`` features it is
        built here in float64 with its own parameter arrays (initialised from ``seed``);
        an already bound layer must have float64 parameters.
    x : array-like of shape (n_samples, n_features)
        The input, converted to float64 (not modified).
    training : bool, default=False
        Passed to ``forward``. A layer with randomness (Dropout) sees the same random
        numbers at every evaluation, so its mask stays fixed.
    threshold : float, default=1e-6
    eps : float, default=1e-6
    seed : int, default=0
        Seeds ``g`` and, when building, the parameters.

    Returns
    -------
    GradCheckResult
        With one error per array: ``"input"`` and each parameter name.
    """
    x = np.array(x, dtype=np.float64)  # a private copy: it is perturbed in place
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (n_samples, n_features); received {x.shape}")
    rng = np.random.default_rng(seed)
    _ensure_params(layer, x.shape[1], rng)
    names = [name for name, _ in layer.param_shapes()]
    params = list(getattr(layer, "param_arrays", []))[: len(names)]
    for name, p in zip(names, params, strict=True):
        if p.dtype != np.float64:
            raise TypeError(
                f"parameter {name!r} must be float64 for a gradient check; got {p.dtype}"
            )
    layer_rng = getattr(layer, "rng", None)
    rng_state = layer_rng.bit_generator.state if layer_rng is not None else None
    needs_input_grad = layer.needs_input_grad
    layer.needs_input_grad = True  # always return dx

    def forward(inp: np.ndarray) -> np.ndarray:
        if rng_state is not None:
            layer_rng.bit_generator.state = rng_state  # the same dropout mask every time
        return layer.forward(inp, training)

    def scalar() -> float:
        return float(np.sum(forward(x.copy()) * g))

    try:
        g = rng.normal(size=np.shape(forward(x.copy())))
        forward(x.copy())
        analytic = {"input": np.array(layer.backward(g.copy()), dtype=np.float64)}
        for name, grad in zip(names, layer.grad_arrays if names else [], strict=True):
            analytic[name] = np.array(grad, dtype=np.float64)
        numeric = {"input": numerical_gradient(scalar, x, eps)}
        for name, p in zip(names, params, strict=True):
            numeric[name] = numerical_gradient(scalar, p, eps)
    finally:
        layer.needs_input_grad = needs_input_grad
        if rng_state is not None:
            layer_rng.bit_generator.state = rng_state
    return _result(analytic, numeric, threshold)


def check_loss(
    loss: Loss | str,
    output: np.ndarray,
    target: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    threshold: float = 1e-6,
    eps: float = 1e-6,
) -> GradCheckResult:
    """Check ``Loss.gradient`` against :func:`numerical_gradient` of ``Loss.value``.

    Parameters
    ----------
    loss : Loss or str
        A loss object or a name from ``chainrule.losses.LOSSES``.
    output : array-like of shape (n_samples, n_outputs)
        What the loss receives: the network's output for ``"mse"``, the *logits*
        for the cross-entropies (they are fused with their output layer).
    target : array-like
        Targets as for ``fit`` (prepared with ``Loss.prepare_target``).
    sample_weight : array-like of shape (n_samples,), optional
    threshold : float, default=1e-6
    eps : float, default=1e-6

    Returns
    -------
    GradCheckResult
        With the error under the key ``"output"``.
    """
    loss = get_loss(loss)
    z = np.array(output, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"output must be 2-D (n_samples, n_outputs); received {z.shape}")
    t = loss.prepare_target(np.asarray(target), z.shape[1], np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    analytic = {"output": np.array(loss.gradient(z.copy(), t, w), dtype=np.float64)}
    numeric = {"output": numerical_gradient(lambda: loss.value(z.copy(), t, w), z, eps)}
    return _result(analytic, numeric, threshold)


def check_network(
    network: Network,
    X: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    training: bool = False,
    threshold: float = 1e-6,
    eps: float = 1e-6,
) -> GradCheckResult:
    """Check :meth:`Network.loss_and_gradient` for every parameter.

    The loss (with the L2 penalty, if any) is differentiated numerically with respect
    to each entry of a copy of the flat ``network.params`` and compared, per weight
    matrix and bias, with the backpropagated gradient. A network not built yet is built
    on ``X`` (its weights drawn from its seed); otherwise nothing on it changes.

    Parameters
    ----------
    network : Network
        A network with ``dtype="float64"``; built on ``X`` if it is not yet.
    X : array-like of shape (n_samples, n_features)
    y : array-like
        Targets as for ``fit``.
    sample_weight : array-like of shape (n_samples,), optional
    training : bool, default=False
        Run the layers as in a training step. Dropout then draws the same mask at
        every evaluation (from a copy of the network's random generator).
    threshold : float, default=1e-6
    eps : float, default=1e-6

    Returns
    -------
    GradCheckResult
        With one error per parameter array: ``"W1"``, ``"b1"``, ``"W2"``, ...
    """
    if network.dtype != np.float64:
        raise TypeError(
            f"network must have dtype float64 for a gradient check; received "
            f"{network.dtype.name}. Build it with Network(..., dtype='float64')."
        )
    X, y = network._prepare_xy(X, y)  # checked once (and the network built, if it was not)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X.shape[0], network.dtype)
    params = network.params.copy()  # perturbed in place, one entry at a time

    def loss_and_gradient() -> tuple[float, np.ndarray]:
        return network.loss_and_gradient(
            params, X, y, sample_weight, training=training, check_input=False
        )

    analytic_flat = loss_and_gradient()[1]
    numeric_flat = numerical_gradient(lambda: loss_and_gradient()[0], params, eps)

    # Name each array W1, b1, W2, ... in layer order.
    names = []
    k = 0
    for layer in network.layers:
        if layer.param_shapes():
            k += 1
            short = {"weights": "W", "bias": "b"}
            names += [f"{short.get(name, name)}{k}" for name, _ in layer.param_shapes()]
    analytic = dict(zip(names, network.unflatten(analytic_flat), strict=True))
    numeric = dict(zip(names, network.unflatten(numeric_flat), strict=True))
    return _result(analytic, numeric, threshold)
