"""Kernels: optional fast versions of the engine's hot spots, kept apart from the math.

The layers, losses and optimizers are the reference a learner reads: the formulas,
written as plainly as NumPy allows. A kernel stands in for one of them during
training and computes the same numbers (up to rounding) with fewer passes over memory
and no temporary arrays. Each is tested equal to the code it stands in for
(``tests/test_kernels.py``). Three levels, chosen by :func:`set_mode` (or
``with kernels.use("numpy"): ...``, or the environment variable ``CHAINRULE_KERNELS``
read at import):

- ``"numba"``: compiled kernels (:mod:`chainrule.compiled`, the ``fast`` extra):
  every optimizer update in one pass, and a whole training step of a Dense network
  (:mod:`chainrule.fused`: bias and activation in one pass forward, activation
  derivative and bias gradient in one pass backward, the softmax cross-entropy)
  around the BLAS matrix products;
- ``"numpy"``: the kernels below, plain NumPy in place: the optimizers' updates with
  one scratch vector where the textbook expression makes several new arrays, and the
  softmax cross-entropy of integer labels shifted by the label's logit (a row maximum
  over few classes is the slowest NumPy call of a small training step);
- ``"off"``: the readable reference alone.

The default, ``"auto"``, is ``"numba"`` when numba is installed and ``"numpy"``
otherwise. ``CHAINRULE_KERNELS`` takes the same names (``0``, ``false`` and
``reference`` mean ``"off"``). The switch holds for the whole process: change it
between training runs, not while another thread trains.

Kernels plug in by class: ``kernel(optimizer, params, grads, l2, n_weights)`` for an
optimizer's ``_update`` (L2 included: ``grads[:n_weights] += l2 * params[:n_weights]``
first), registered with :func:`register_optimizer`, and ``kernel(loss, output, target,
sample_weight) -> (value, gradient)`` for a loss's ``value_and_gradient``, registered
with :func:`register_loss`; each with a NumPy and an optional compiled version. A loss
kernel that cannot handle its input returns None, and the reference runs; a compiled
optimizer kernel hands such input to the NumPy one.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule.functions import flush_threshold

__all__ = [
    "MODES",
    "compiled_available",
    "disabled",
    "enabled",
    "loss_kernel",
    "mode",
    "optimizer_kernel",
    "register_loss",
    "register_optimizer",
    "set_enabled",
    "set_mode",
    "step_kernel",
    "use",
]

#: the names :func:`set_mode` takes
MODES = ("auto", "numba", "numpy", "off")
_ALIASES = {
    "0": "off",
    "false": "off",
    "no": "off",
    "reference": "off",
    "1": "auto",
    "true": "auto",
    "yes": "auto",
    "on": "auto",
    "": "auto",
}

#: optimizer class (exactly: a subclass may change the update) -> (numpy, compiled)
_OPTIMIZER_KERNELS: dict[type, tuple[Callable | None, Callable | None]] = {}
#: loss class (exactly) -> (numpy, compiled) kernels standing in for ``value_and_gradient``
_LOSS_KERNELS: dict[type, tuple[Callable | None, Callable | None]] = {}

_COMPILED: Any = None  # the chainrule.compiled module once imported; False: not available
_COMPILED_ERROR = ""


def _load_compiled() -> bool:
    """Import :mod:`chainrule.compiled` (numba) once; False when it cannot be."""
    global _COMPILED, _COMPILED_ERROR
    if _COMPILED is None:
        try:
            from chainrule import compiled
        except Exception as exc:  # ImportError, or a broken numba install raising anything
            _COMPILED, _COMPILED_ERROR = False, f"{type(exc).__name__}: {exc}"
        else:
            _COMPILED = compiled
    return _COMPILED is not False


def compiled_available() -> bool:
    """Whether the compiled kernels can run (numba imports)."""
    return _load_compiled()


def _resolve(name: Any) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in MODES:
        raise ValueError(f"kernel mode must be one of {', '.join(MODES)}; received {name!r}")
    return key


def _env_mode() -> tuple[str, str]:
    """The mode ``CHAINRULE_KERNELS`` asks for, and what to warn about ("" if nothing)."""
    value = os.environ.get("CHAINRULE_KERNELS", "auto")
    try:
        return _resolve(value), ""
    except ValueError:
        return "auto", (
            f"CHAINRULE_KERNELS={value!r} is not a kernel mode; using 'auto'. Set it to "
            f"one of {', '.join(MODES)}"
        )


#: the mode asked for ("auto", "numba", "numpy" or "off"), and a warning about the
#: environment to give at the first training step (where a program shows warnings its way)
_MODE, _ENV_WARNING = _env_mode()
_WARNED_MISSING = False


def mode() -> str:
    """The kernels that run: ``"numba"``, ``"numpy"`` or ``"off"`` (the reference alone)."""
    global _WARNED_MISSING, _ENV_WARNING
    if _ENV_WARNING:
        message, _ENV_WARNING = _ENV_WARNING, ""
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    if _MODE in ("auto", "numba"):
        if _load_compiled():
            return "numba"
        if _MODE == "numba" and not _WARNED_MISSING:
            _WARNED_MISSING = True
            warnings.warn(
                f"CHAINRULE_KERNELS=numba but the compiled kernels cannot load "
                f"({_COMPILED_ERROR}); the NumPy kernels run. Install them with "
                "pip install 'chainrule[fast]'",
                RuntimeWarning,
                stacklevel=2,
            )
        return "numpy"
    return _MODE


def set_mode(name: str) -> None:
    """Choose the kernels for the whole process: ``"auto"`` (the default: numba when
    installed, else NumPy), ``"numba"``, ``"numpy"`` or ``"off"`` (the reference alone).

    Raises
    ------
    ValueError
        For another name, or ``"numba"`` when numba is not installed.
    """
    global _MODE
    key = _resolve(name)
    if key == "numba" and not _load_compiled():
        raise ValueError(
            f"the compiled kernels cannot load ({_COMPILED_ERROR}); install them with "
            "pip install 'chainrule[fast]', or use mode 'numpy'"
        )
    _MODE = key


@contextmanager
def use(name: str) -> Iterator[None]:
    """A context in which the kernels of mode ``name`` run (see :func:`set_mode`)."""
    global _MODE
    before = _MODE
    set_mode(name)
    try:
        yield
    finally:
        _MODE = before


def enabled() -> bool:
    """Whether any kernels stand in for the reference (they do unless switched off)."""
    return _MODE != "off"


def set_enabled(flag: bool) -> None:
    """Switch the kernels on (``"auto"``) or off (the reference alone) for the process."""
    set_mode("auto" if flag else "off")


@contextmanager
def disabled() -> Iterator[None]:
    """A context in which the readable reference code runs alone."""
    with use("off"):
        yield


def register_optimizer(
    cls: type, kernel: Callable | None, compiled: Callable | None = None
) -> None:
    """Let ``kernel(optimizer, params, grads, l2, n_weights)`` stand in for
    ``cls._update`` (with ``compiled`` in mode ``"numba"``)."""
    _OPTIMIZER_KERNELS[cls] = (kernel, compiled)


def _pick(table: dict, key: type) -> Callable | None:
    numpy_kernel, compiled_kernel = table.get(key, (None, None))
    level = mode()
    if level == "numba" and compiled_kernel is not None:
        return compiled_kernel
    return numpy_kernel if level != "off" else None


def optimizer_kernel(optimizer: Any) -> Callable | None:
    """The kernel for this optimizer's exact class in the current mode, or None."""
    return _pick(_OPTIMIZER_KERNELS, type(optimizer))


def register_loss(cls: type, kernel: Callable | None, compiled: Callable | None = None) -> None:
    """Let ``kernel(loss, output, target, sample_weight)`` stand in for
    ``cls.value_and_gradient`` (``compiled`` in mode ``"numba"``); a kernel returns None
    to let the reference run."""
    _LOSS_KERNELS[cls] = (kernel, compiled)


def loss_kernel(loss: Any) -> Callable | None:
    """The kernel for this loss's exact class in the current mode, or None."""
    return _pick(_LOSS_KERNELS, type(loss))


def step_kernel(network: Any) -> Callable | None:
    """A fused training step for ``network`` (:mod:`chainrule.fused`) in mode
    ``"numba"``, or None (another mode, or layers it does not cover)."""
    if mode() != "numba":
        return None
    from chainrule import fused  # here: importing it imports numba

    return fused.step_for(network)


def _scratch(optimizer: Any, params: np.ndarray) -> np.ndarray:
    """One vector shaped like ``params``, kept on the optimizer between steps."""
    scratch = optimizer.__dict__.get("_scratch")
    if scratch is None or scratch.shape != params.shape or scratch.dtype != params.dtype:
        scratch = optimizer._scratch = np.empty_like(params)
    return scratch


def _flush(x: np.ndarray, scratch: np.ndarray, threshold: float | None = None) -> None:
    """:func:`chainrule.functions.flush_to_zero` with a scratch vector."""
    np.abs(x, out=scratch)
    if threshold is None:
        threshold = flush_threshold(x.dtype)
    np.copyto(x, 0, where=scratch < threshold)


def _add_l2(params: np.ndarray, grads: np.ndarray, l2: float, n_weights: int) -> None:
    if l2:
        grads[:n_weights] += l2 * params[:n_weights]


# ---------------------------------------------------------------- optimizer updates
# Each computes what the class's ``_update`` computes (after the L2 gradient), in place,
# and sets the moments below ``flush_threshold`` to 0 as the reference does.


def sgd_update(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:class:`~chainrule.optimizers.SGD`: plain, momentum and Nesterov."""
    _add_l2(params, grads, l2, n_weights)
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
        _flush(v, s)
        params += np.multiply(v, momentum, out=s)  # p += momentum v - lr g
    else:
        _flush(v, s)
        params += v


def rmsprop_update(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:class:`~chainrule.optimizers.RMSprop`."""
    _add_l2(params, grads, l2, n_weights)
    s, mean_square = _scratch(opt, params), opt.mean_square
    mean_square *= opt.rho
    mean_square += np.multiply(np.square(grads, out=s), 1.0 - opt.rho, out=s)
    np.copyto(mean_square, 0, where=mean_square < np.finfo(s.dtype).tiny)  # >= 0: no abs
    np.sqrt(mean_square, out=s)
    s += opt.epsilon
    np.divide(grads, s, out=s)
    s *= opt.learning_rate
    params -= s


def adam_update(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:class:`~chainrule.optimizers.Adam`."""
    _add_l2(params, grads, l2, n_weights)
    beta_1, beta_2, t = opt.beta_1, opt.beta_2, opt.iterations
    m, v, s = opt.m, opt.v, _scratch(opt, params)
    m *= beta_1
    m += np.multiply(grads, 1.0 - beta_1, out=s)
    _flush(m, s)
    v *= beta_2
    v += np.multiply(np.square(grads, out=s), 1.0 - beta_2, out=s)
    np.copyto(v, 0, where=v < np.finfo(s.dtype).tiny)  # >= 0: no abs
    lr_t = opt.learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    np.sqrt(v, out=s)
    s += opt.epsilon
    np.divide(m, s, out=s)
    s *= lr_t
    params -= s


def adamw_update(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:class:`~chainrule.optimizers.AdamW`: the decay, then Adam's step."""
    _add_l2(params, grads, l2, n_weights)
    params *= 1.0 - opt.learning_rate * opt.weight_decay
    adam_update(opt, params, grads)


# The compiled versions (mode "numba"): one pass each, L2 and the flush included.


def _scalars(params: np.ndarray, *values: float) -> list:
    kind = params.dtype.type
    return [kind(value) for value in values]


def _floor(params: np.ndarray):
    return params.dtype.type(flush_threshold(params.dtype))


def _tiny(params: np.ndarray):
    return params.dtype.type(np.finfo(params.dtype).tiny)


def _fits(params: np.ndarray, *arrays: np.ndarray) -> bool:
    """Whether the compiled kernel may run: one flat float vector and arrays just like it
    (numba checks no bounds; anything else takes the NumPy kernel, which raises NumPy's
    error where the shapes do not fit)."""
    return (
        params.ndim == 1
        and params.dtype in _FLOATS
        and all(a.shape == params.shape and a.dtype == params.dtype for a in arrays)
    )


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def compiled_sgd(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:func:`sgd_update` compiled."""
    state = (opt.velocity,) if opt.momentum else ()
    if not _fits(params, grads, *state):
        sgd_update(opt, params, grads, l2, n_weights)
        return
    lr, momentum, decay = _scalars(params, opt.learning_rate, opt.momentum, l2)
    n_weights = min(n_weights, params.size)
    if not opt.momentum:
        _COMPILED.sgd(params, grads, lr, decay, n_weights)
        return
    _COMPILED.sgd_momentum(
        params, grads, opt.velocity, lr, momentum, bool(opt.nesterov), decay, n_weights,
        _floor(params),
    )  # fmt: skip


def compiled_rmsprop(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:func:`rmsprop_update` compiled."""
    if not _fits(params, grads, opt.mean_square):
        rmsprop_update(opt, params, grads, l2, n_weights)
        return
    _COMPILED.rmsprop(
        params, grads, opt.mean_square,
        *_scalars(params, opt.learning_rate, opt.rho, 1.0 - opt.rho, opt.epsilon, l2),
        min(n_weights, params.size), _tiny(params),
    )  # fmt: skip


def _compiled_adam(opt, params, grads, l2, n_weights, decay) -> None:
    beta_1, beta_2, t = opt.beta_1, opt.beta_2, opt.iterations
    lr_t = opt.learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    scalars = (decay, lr_t, beta_1, 1.0 - beta_1, beta_2, 1.0 - beta_2, opt.epsilon, l2)
    _COMPILED.adam(
        params, grads, opt.m, opt.v, *_scalars(params, *scalars),
        min(n_weights, params.size), _floor(params), _tiny(params),
    )  # fmt: skip


def compiled_adam(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:func:`adam_update` compiled."""
    if not _fits(params, grads, opt.m, opt.v):
        adam_update(opt, params, grads, l2, n_weights)
        return
    _compiled_adam(opt, params, grads, l2, n_weights, 1.0)


def compiled_adamw(opt, params: np.ndarray, grads: np.ndarray, l2=0.0, n_weights=0) -> None:
    """:func:`adamw_update` compiled: the decay in the same pass."""
    if not _fits(params, grads, opt.m, opt.v):
        adamw_update(opt, params, grads, l2, n_weights)
        return
    _compiled_adam(opt, params, grads, l2, n_weights, 1.0 - opt.learning_rate * opt.weight_decay)


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
    if not n or labels.shape != (n,) or labels.min() < 0 or labels.max() >= k:
        return None
    if sample_weight is not None and np.shape(sample_weight) != (n,):
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
    if target.ndim != 1 or not z.flags.c_contiguous or z.dtype not in _FLOATS:
        return None
    return _label_shifted_cross_entropy(z, target, sample_weight)


def clipped_log_loss(loss, z: np.ndarray, target: np.ndarray, sample_weight=None):
    """scikit-learn's log-loss (:class:`chainrule.sklearn_rules.LogLoss`): each row's
    loss as if ``p = softmax(z)[label]`` were clipped to ``[eps, 1 - eps]``."""
    if not z.flags.c_contiguous or z.dtype not in _FLOATS:
        return None
    return _label_shifted_cross_entropy(z, target, sample_weight, _LOG_LOSS_RANGE[z.dtype.char])


#: -log(1 - eps) and -log(eps) per dtype: the range of a clipped log-loss
_LOG_LOSS_RANGE = {
    dtype.char: (-math.log1p(-np.finfo(dtype).eps), -math.log(np.finfo(dtype).eps))
    for dtype in (np.dtype(np.float32), np.dtype(np.float64))
}


def _compiled_cross_entropy(z, labels, sample_weight, clip_range):
    # anything but float logits with one integer label (and weight) per row: the
    # reference, which names the problem (numba checks no bounds)
    if z.ndim != 2 or z.dtype not in _FLOATS or not z.shape[0]:
        return None
    n = z.shape[0]
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        return None
    if sample_weight is not None and np.shape(sample_weight) != (n,):
        return None
    if sample_weight is None:
        share = np.full(n, 1.0 / n, dtype=z.dtype)
    else:
        total = float(np.sum(sample_weight, dtype=np.float64))
        share = np.asarray(sample_weight, dtype=z.dtype) / (total if total > 0 else 1.0)
    low, high = clip_range if clip_range is not None else (-np.inf, np.inf)
    losses, derror_dz = np.empty(n, dtype=z.dtype), np.empty_like(z, order="C")
    value = _COMPILED.softmax_cross_entropy(
        z, labels.astype(np.intp, copy=False), share, *_scalars(z, low, high), losses, derror_dz
    )
    if value < 0:  # a label out of range: the reference names it
        return None
    return value, derror_dz


def compiled_categorical_crossentropy(loss, z, target, sample_weight=None):
    """:func:`categorical_crossentropy` compiled: one pass per row, shifted by its maximum."""
    return _compiled_cross_entropy(z, target, sample_weight, None)


def compiled_clipped_log_loss(loss, z, target, sample_weight=None):
    """:func:`clipped_log_loss` compiled."""
    return _compiled_cross_entropy(z, target, sample_weight, _LOG_LOSS_RANGE[z.dtype.char])
