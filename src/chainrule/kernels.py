"""Kernels: optional fast versions of the engine's hot spots, kept apart from the math.

The layers, losses and optimizers are the reference a learner reads: the formulas,
written as plainly as NumPy allows. A kernel stands in for one of them during
training and computes the same numbers (up to rounding) with fewer passes over memory
and no temporary arrays. Each is tested equal to the code it stands in for
(``tests/test_kernels.py``), and all can be switched off to run the reference alone:
``chainrule.kernels.set_enabled(False)``, ``with chainrule.kernels.disabled(): ...``,
or the environment variable ``CHAINRULE_KERNELS=0``. The switch holds for the whole
process: flip it between training runs, not while another thread trains.

Today's kernels, plain NumPy:

- the optimizers' updates, each in place with one scratch vector, where the textbook
  expression makes several new arrays the size of the parameters (a quarter of an
  MNIST-sized training step);
- the softmax cross-entropy of integer labels, which shifts each row by its label's
  logit instead of its maximum (a row maximum over few classes is the slowest NumPy
  call of a small training step).

Compiled, fused kernels plug in at the same places: ``kernel(optimizer, params,
grads)`` registered for an optimizer class with :func:`register_optimizer`, and
``kernel(loss, output, target) -> (losses, gradient)`` standing in for a loss's
``per_sample``, registered with :func:`register_loss`. A kernel that cannot handle
its input calls the reference.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = [
    "disabled",
    "enabled",
    "loss_kernel",
    "optimizer_kernel",
    "register_loss",
    "register_optimizer",
    "set_enabled",
]

#: Whether kernels stand in for the reference code (a setting, read at every step).
_ENABLED = os.environ.get("CHAINRULE_KERNELS", "1").strip() not in ("0", "false", "no", "off")

#: optimizer class (exactly: a subclass may change the update) -> its kernel
_OPTIMIZER_KERNELS: dict[type, Callable[[Any, np.ndarray, np.ndarray], None]] = {}
#: loss class (exactly) -> the kernel standing in for its ``per_sample``
_LOSS_KERNELS: dict[type, Callable[[Any, np.ndarray, np.ndarray], tuple]] = {}


def enabled() -> bool:
    """Whether kernels are on (they are unless switched off)."""
    return _ENABLED


def set_enabled(flag: bool) -> None:
    """Switch the kernels on or off for the whole process."""
    global _ENABLED
    _ENABLED = bool(flag)


@contextmanager
def disabled() -> Iterator[None]:
    """A context in which the readable reference code runs alone."""
    before = enabled()
    set_enabled(False)
    try:
        yield
    finally:
        set_enabled(before)


def register_optimizer(cls: type, kernel: Callable[[Any, np.ndarray, np.ndarray], None]) -> None:
    """Let ``kernel(optimizer, params, grads)`` stand in for ``cls._update``."""
    _OPTIMIZER_KERNELS[cls] = kernel


def optimizer_kernel(optimizer: Any) -> Callable[[Any, np.ndarray, np.ndarray], None] | None:
    """The kernel for this optimizer's exact class, or None (kernels off, or none)."""
    return _OPTIMIZER_KERNELS.get(type(optimizer)) if _ENABLED else None


def register_loss(cls: type, kernel: Callable[[Any, np.ndarray, np.ndarray], tuple]) -> None:
    """Let ``kernel(loss, output, target)`` stand in for ``cls.per_sample``."""
    _LOSS_KERNELS[cls] = kernel


def loss_kernel(loss: Any) -> Callable[[Any, np.ndarray, np.ndarray], tuple] | None:
    """The kernel for this loss's exact class, or None (kernels off, or none)."""
    return _LOSS_KERNELS.get(type(loss)) if _ENABLED else None


def _scratch(optimizer: Any, params: np.ndarray) -> np.ndarray:
    """One vector shaped like ``params``, kept on the optimizer between steps."""
    scratch = optimizer.__dict__.get("_scratch")
    if scratch is None or scratch.shape != params.shape or scratch.dtype != params.dtype:
        scratch = optimizer._scratch = np.empty_like(params)
    return scratch


# ---------------------------------------------------------------- optimizer updates
# Each computes what the class's ``_update`` computes, in place.


def sgd_update(opt, params: np.ndarray, grads: np.ndarray) -> None:
    """:class:`~chainrule.optimizers.SGD`: plain, momentum and Nesterov."""
    lr, momentum, s = opt.learning_rate, opt.momentum, _scratch(opt, params)
    np.multiply(grads, lr, out=s)  # lr g
    if not momentum:
        params -= s
        return
    v = opt.velocity
    v *= momentum
    v -= s  # v = momentum v - lr g
    if opt.nesterov:
        params -= s
        params += np.multiply(v, momentum, out=s)  # p += momentum v - lr g
    else:
        params += v


def rmsprop_update(opt, params: np.ndarray, grads: np.ndarray) -> None:
    """:class:`~chainrule.optimizers.RMSprop`."""
    s, mean_square = _scratch(opt, params), opt.mean_square
    mean_square *= opt.rho
    mean_square += np.multiply(np.square(grads, out=s), 1.0 - opt.rho, out=s)
    np.sqrt(mean_square, out=s)
    s += opt.epsilon
    np.divide(grads, s, out=s)
    s *= opt.learning_rate
    params -= s


def adam_update(opt, params: np.ndarray, grads: np.ndarray) -> None:
    """:class:`~chainrule.optimizers.Adam`."""
    beta_1, beta_2, t = opt.beta_1, opt.beta_2, opt.iterations
    m, v, s = opt.m, opt.v, _scratch(opt, params)
    m *= beta_1
    m += np.multiply(grads, 1.0 - beta_1, out=s)
    v *= beta_2
    v += np.multiply(np.square(grads, out=s), 1.0 - beta_2, out=s)
    lr_t = opt.learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    np.sqrt(v, out=s)
    s += opt.epsilon
    np.divide(m, s, out=s)
    s *= lr_t
    params -= s


def adamw_update(opt, params: np.ndarray, grads: np.ndarray) -> None:
    """:class:`~chainrule.optimizers.AdamW`: the decay, then Adam's step."""
    params *= 1.0 - opt.learning_rate * opt.weight_decay
    adam_update(opt, params, grads)


# ---------------------------------------------------------------- losses


def _label_shifted_softmax(z: np.ndarray, labels: np.ndarray):
    """``(log(sum_j exp(z_j - z_label)), softmax(z) - onehot)`` per row, or None.

    Each row is shifted by its label's logit, which needs no row maximum: the
    label's own term is exp(0) = 1, so every sum is >= 1 and its log, the loss,
    >= 0. None when a sum passes ``2 ** (maxexp / 2)`` (1.8e19 in float32, 1.3e154
    in float64: a logit far above the label's, where exp may overflow and the
    probabilities lose bits) or is not finite, or a label is out of range: the
    reference, shifted by the row maximum, handles those rows (or raises).
    """
    n, k = z.shape
    if not n or labels.min() < 0:
        return None
    rows = np.arange(n)
    try:
        label_logits = z[rows, labels]
    except IndexError:  # a label >= k
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        exp_z = np.exp(z - label_logits[:, None])
        sum_exp = exp_z @ np.ones(k, dtype=exp_z.dtype)  # row sums, one BLAS call
    if not sum_exp.max() <= _LARGEST_SUM[exp_z.dtype.char]:  # NaN too
        return None
    exp_z /= sum_exp[:, None]  # softmax(z)
    exp_z[rows, labels] -= 1.0
    return np.log(sum_exp), exp_z


_LARGEST_SUM = {"f": 2.0**64, "d": 2.0**512}  # 2 ** (maxexp / 2) per dtype


def categorical_crossentropy(loss, z: np.ndarray, target: np.ndarray):
    """``CategoricalCrossentropy.per_sample`` (:mod:`chainrule.losses`) for integer labels."""
    result = _label_shifted_softmax(z, target) if target.ndim == 1 else None
    return loss.per_sample(z, target) if result is None else result


def clipped_log_loss(loss, z: np.ndarray, target: np.ndarray):
    """scikit-learn's log-loss (:class:`chainrule.sklearn_rules.LogLoss`): the loss as
    if ``p = softmax(z)[label]`` were clipped to ``[eps, 1 - eps]``."""
    result = _label_shifted_softmax(z, target)
    if result is None:
        return loss.per_sample(z, target)
    losses, derror_dz = result  # losses = -log(p)
    low, high = _LOG_LOSS_RANGE[losses.dtype.char]
    return losses.clip(low, high), derror_dz


#: -log(1 - eps) and -log(eps) per dtype: the range of a clipped log-loss
_LOG_LOSS_RANGE = {
    dtype.char: (-math.log1p(-np.finfo(dtype).eps), -math.log(np.finfo(dtype).eps))
    for dtype in (np.dtype(np.float32), np.dtype(np.float64))
}
