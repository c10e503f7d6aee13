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
- the softmax cross-entropy of integer labels (plain, and scikit-learn's clipped
  log-loss), which shifts each row by its label's logit instead of its maximum (a
  row maximum over few classes is the slowest NumPy call of a small training step)
  and scales the gradient by the rows' weight shares in the pass that divides by
  the sums.

Compiled, fused kernels plug in at the same places: ``kernel(optimizer, params,
grads)`` registered for an optimizer class with :func:`register_optimizer`, and
``kernel(loss, output, target, sample_weight) -> (value, gradient)`` standing in for
a loss's ``value_and_gradient``, registered with :func:`register_loss`. A kernel
that cannot handle its input returns None, and the reference runs.
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
#: loss class (exactly) -> the kernel standing in for its ``value_and_gradient``
_LOSS_KERNELS: dict[type, Callable[..., tuple | None]] = {}


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


def register_loss(cls: type, kernel: Callable[..., tuple | None]) -> None:
    """Let ``kernel(loss, output, target, sample_weight)`` stand in for
    ``cls.value_and_gradient``; it returns None to let the reference run."""
    _LOSS_KERNELS[cls] = kernel


def loss_kernel(loss: Any) -> Callable[..., tuple | None] | None:
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


def _label_shifted_cross_entropy(z, labels, sample_weight, clip_range=None):
    """The weighted mean of ``log(sum_j exp(z_j - z_label))`` over the rows and its
    gradient ``(softmax(z) - onehot) * w_i / sum(w)``, or None.

    Each row is shifted by its label's logit, which needs no row maximum (the slowest
    NumPy call of a small training step): the label's own term is exp(0) = 1, so
    every sum is >= 1 and its log, the loss, >= 0. The rows' weight shares multiply
    the softmax in the same pass that divides by the sums. None when a sum passes
    ``2 ** (maxexp / 2)`` (1.8e19 in float32, 1.3e154 in float64: a logit far above
    the label's, where exp may overflow and the probabilities lose bits) or is not
    finite, or a label is out of range: the reference, shifted by the row maximum,
    handles those rows (or raises).
    """
    n, k = z.shape
    if not n or labels.min() < 0 or labels.max() >= k:
        return None
    label_at = np.arange(0, n * k, k)  # each row's label, as an index into z.ravel()
    label_at += labels
    with np.errstate(over="ignore", invalid="ignore"):
        derror_dz = z - z.reshape(-1)[label_at][:, None]
        np.exp(derror_dz, out=derror_dz)
        sum_exp = derror_dz @ np.ones(k, dtype=derror_dz.dtype)  # row sums, one BLAS call
    if not sum_exp.max() <= _LARGEST_SUM[derror_dz.dtype.char]:  # NaN too
        return None
    losses = np.log(sum_exp)
    if clip_range is not None:
        np.maximum(losses, clip_range[0], out=losses)
        np.minimum(losses, clip_range[1], out=losses)
    if sample_weight is None:
        value = float(losses.sum(dtype=np.float64)) / n
        share = 1.0 / n
    else:
        total = float(sample_weight.sum(dtype=np.float64))
        share = np.asarray(sample_weight, dtype=losses.dtype) / (total if total > 0 else 1.0)
        value = float(np.dot(losses, share))
    # softmax(z) * share = exp_z * (share / sum_exp), then minus share at the label
    derror_dz *= np.divide(share, sum_exp, out=sum_exp)[:, None]
    derror_dz.reshape(-1)[label_at] -= share
    return value, derror_dz


_LARGEST_SUM = {"f": 2.0**64, "d": 2.0**512}  # 2 ** (maxexp / 2) per dtype


def categorical_crossentropy(loss, z: np.ndarray, target: np.ndarray, sample_weight=None):
    """``CategoricalCrossentropy.value_and_gradient`` (:mod:`chainrule.losses`) for
    integer labels."""
    if target.ndim != 1 or not z.flags.c_contiguous:
        return None
    return _label_shifted_cross_entropy(z, target, sample_weight)


def clipped_log_loss(loss, z: np.ndarray, target: np.ndarray, sample_weight=None):
    """scikit-learn's log-loss (:class:`chainrule.sklearn_rules.LogLoss`): each row's
    loss as if ``p = softmax(z)[label]`` were clipped to ``[eps, 1 - eps]``."""
    if not z.flags.c_contiguous:
        return None
    return _label_shifted_cross_entropy(z, target, sample_weight, _LOG_LOSS_RANGE[z.dtype.char])


#: -log(1 - eps) and -log(eps) per dtype: the range of a clipped log-loss
_LOG_LOSS_RANGE = {
    dtype.char: (-math.log1p(-np.finfo(dtype).eps), -math.log(np.finfo(dtype).eps))
    for dtype in (np.dtype(np.float32), np.dtype(np.float64))
}
