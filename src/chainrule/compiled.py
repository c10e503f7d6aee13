"""Compiled kernels: the engine's hot spots fused into one pass each, with numba.

Optional (the ``fast`` extra installs numba from wheels, no compiler needed). Each
kernel computes what the readable reference computes (the optimizers' ``_update``,
the activation layers' ``__call__`` and ``backward``, a Dense layer's bias and bias
gradient, the softmax cross-entropy) in one loop over memory, with no temporary
arrays; ``tests/test_compiled.py`` and ``tests/test_kernels.py`` run every one against
the reference in float32 and float64. :mod:`chainrule.kernels` decides when they run
(``CHAINRULE_KERNELS``) and :mod:`chainrule.fused` strings them into a training step.

How they are built:

- one thread, the caller's: the kernels start no threads of their own, so they never
  compete with the BLAS library's threads for the cores (numba's thread pools were
  slower here: an OpenMP worker waiting for a core the BLAS holds stalls the step);
- ``error_model="numpy"``: a division by zero gives inf as in NumPy instead of a
  Python exception, which lets LLVM vectorise the loops (AVX-512 where there is);
- no ``fastmath``: the arithmetic is the reference's, IEEE-exact, and no
  floating-point state of the process is changed (numba sets no flush-to-zero mode);
- ``cache=True``: the machine code is kept on disk (``__pycache__`` beside this file,
  or numba's cache directory), so only the first run on a machine compiles;
- every first moment (Adam's ``m``, the momentum ``velocity``) smaller than ``floor``
  (:func:`chainrule.functions.flush_threshold`) is set to exactly 0, as the reference
  does, before it or the update it makes can become a slow subnormal float; second
  moments (Adam's ``v``, RMSprop's ``mean_square``) below the smallest normal float
  ``tiny``.

Scalars are passed in the arrays' dtype, so float32 work stays float32.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

__all__ = ["NUMBA_VERSION"]

NUMBA_VERSION = numba.__version__

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

# ---------------------------------------------------------------- optimizers
# With ``l2``, ``grads[i]`` gains ``l2 * params[i]`` for the first ``n_weights`` values
# (the L2 penalty's gradient) and keeps it, as the reference does.


@njit(**_JIT)
def sgd(params, grads, lr, l2, n_weights):  # pragma: no cover - compiled
    penalised = l2 != 0
    for i in range(params.size):
        g = grads[i]
        if penalised:  # the same for every i: LLVM makes two loops, one without the store
            g = g + l2 * params[i] if i < n_weights else g
            grads[i] = g
        params[i] -= lr * g


@njit(**_JIT)
def sgd_momentum(
    params, grads, velocity, lr, momentum, nesterov, l2, n_weights, floor
):  # pragma: no cover - compiled
    zero = params.dtype.type(0)
    penalised = l2 != 0
    for i in range(params.size):
        g = grads[i]
        if penalised:  # the same for every i: LLVM makes two loops, one without the store
            g = g + l2 * params[i] if i < n_weights else g
            grads[i] = g
        v = momentum * velocity[i] - lr * g
        v = zero if abs(v) < floor else v
        velocity[i] = v
        if nesterov:
            params[i] += momentum * v - lr * g
        else:
            params[i] += v


@njit(**_JIT)
def rmsprop(
    params, grads, mean_square, lr, rho, one_minus_rho, epsilon, l2, n_weights, tiny
):  # pragma: no cover - compiled
    zero = params.dtype.type(0)
    penalised = l2 != 0
    for i in range(params.size):
        g = grads[i]
        if penalised:  # the same for every i: LLVM makes two loops, one without the store
            g = g + l2 * params[i] if i < n_weights else g
            grads[i] = g
        s = rho * mean_square[i] + one_minus_rho * (g * g)
        s = zero if s < tiny else s
        mean_square[i] = s
        params[i] -= lr * g / (np.sqrt(s) + epsilon)


@njit(**_JIT)
def adam(
    params,
    grads,
    m,
    v,
    decay,
    lr_t,
    beta_1,
    one_minus_beta_1,
    beta_2,
    one_minus_beta_2,
    epsilon,
    l2,
    n_weights,
    floor,
    tiny,
):  # pragma: no cover - compiled
    # decay: AdamW's ``1 - lr * weight_decay`` (1 for Adam), applied first
    zero = params.dtype.type(0)
    penalised = l2 != 0
    for i in range(params.size):
        g = grads[i]
        if penalised:  # the same for every i: LLVM makes two loops, one without the store
            g = g + l2 * params[i] if i < n_weights else g
            grads[i] = g
        mi = beta_1 * m[i] + one_minus_beta_1 * g
        vi = beta_2 * v[i] + one_minus_beta_2 * (g * g)
        mi = zero if abs(mi) < floor else mi
        vi = zero if vi < tiny else vi
        m[i] = mi
        v[i] = vi
        params[i] = decay * params[i] - lr_t * mi / (np.sqrt(vi) + epsilon)


# ---------------------------------------------------------------- Dense + activation
# Forward: ``z`` holds ``x @ W`` (the BLAS product); the kernel adds the bias in place
# and writes the activation ``a = f(z)``. Backward: ``dz = da * f'(z)`` (into an array of
# its own: written over ``da``, the arrays would alias and LLVM would not vectorise the
# loop) and, in the same pass, the bias gradient ``db``:
# the column sums of ``dz`` (the rows' contributions added up, as ``ones @ dz``).


@njit(**_JIT)
def bias_identity(z, b):  # pragma: no cover - compiled
    n, u = z.shape
    for i in range(n):
        for j in range(u):
            z[i, j] += b[j]


@njit(**_JIT)
def bias_relu(z, b, a):  # pragma: no cover - compiled
    n, u = z.shape
    zero = z.dtype.type(0)
    for i in range(n):
        for j in range(u):
            x = z[i, j] + b[j]
            z[i, j] = x
            a[i, j] = zero if x <= zero else x  # NaN stays NaN, as with np.maximum


@njit(**_JIT)
def bias_leaky_relu(z, b, a, slope):  # pragma: no cover - compiled
    n, u = z.shape
    zero = z.dtype.type(0)
    for i in range(n):
        for j in range(u):
            x = z[i, j] + b[j]
            z[i, j] = x
            a[i, j] = x if x > zero else slope * x


@njit(**_JIT)
def bias_sigmoid(z, b, a):  # pragma: no cover - compiled
    n, u = z.shape
    one = z.dtype.type(1)
    for i in range(n):
        for j in range(u):
            x = z[i, j] + b[j]
            z[i, j] = x
            e = np.exp(-abs(x))  # never of a large positive number
            a[i, j] = one / (one + e) if x >= 0 else e / (one + e)


@njit(**_JIT)
def bias_grad(dz, db):  # pragma: no cover - compiled
    """``db`` = the column sums of ``dz`` (after an identity activation)."""
    n, u = dz.shape
    db[:] = 0
    for i in range(n):
        for j in range(u):
            db[j] += dz[i, j]


@njit(**_JIT)
def relu_backward(da, z, dz, db):  # pragma: no cover - compiled
    n, u = dz.shape
    zero = dz.dtype.type(0)
    db[:] = 0
    for i in range(n):
        for j in range(u):
            d = da[i, j] if z[i, j] > zero else zero
            dz[i, j] = d
            db[j] += d


@njit(**_JIT)
def leaky_relu_backward(da, z, slope, dz, db):  # pragma: no cover - compiled
    n, u = dz.shape
    zero = dz.dtype.type(0)
    db[:] = 0
    for i in range(n):
        for j in range(u):
            d = da[i, j] if z[i, j] > zero else da[i, j] * slope
            dz[i, j] = d
            db[j] += d


@njit(**_JIT)
def sigmoid_backward(da, a, dz, db):  # pragma: no cover - compiled
    n, u = dz.shape
    one = dz.dtype.type(1)
    db[:] = 0
    for i in range(n):
        for j in range(u):
            s = a[i, j]
            d = da[i, j] * (s * (one - s))
            dz[i, j] = d
            db[j] += d


@njit(**_JIT)
def tanh_backward(da, a, dz, db):  # pragma: no cover - compiled
    n, u = dz.shape
    one = dz.dtype.type(1)
    db[:] = 0
    for i in range(n):
        for j in range(u):
            t = a[i, j]
            d = da[i, j] * (one - t * t)
            dz[i, j] = d
            db[j] += d


# ---------------------------------------------------------------- loss


@njit(**_JIT)
def softmax_cross_entropy(z, labels, share, low, high, losses, dz):  # pragma: no cover
    """Each row's ``log(sum_j exp(z_j)) - z_label``, clipped to ``[low, high]``, into
    ``losses``, and the gradient ``(softmax(z) - onehot) * share`` into ``dz``.
    Returns the sum of ``losses * share`` (float64), or -1.0 when a label is out of
    range (the caller then runs the reference, which names the problem).
    """
    n, k = z.shape
    for i in range(n):
        label = labels[i]
        if label < 0 or label >= k:
            return -1.0
        top = z[i, 0]
        for j in range(1, k):
            top = max(top, z[i, j])
        total = z.dtype.type(0)
        for j in range(k):
            e = np.exp(z[i, j] - top)
            dz[i, j] = e
            total += e
        loss = np.log(total) + (top - z[i, label])
        losses[i] = min(max(loss, low), high)
        scale = share[i] / total
        for j in range(k):
            dz[i, j] *= scale
        dz[i, label] -= share[i]
    value = 0.0
    for i in range(n):
        value += float(losses[i]) * float(share[i])
    return value
