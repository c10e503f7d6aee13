"""A whole training step of a Dense network from the compiled kernels.

The reference step (:meth:`chainrule.Network._backpropagate`) runs each layer's
``forward`` and ``backward``: a Dense layer's product and bias, then the activation
in its own layer, each a few NumPy passes and new arrays. :class:`FusedStep` computes
the same numbers for a network made of Dense layers, each followed by at most one
activation (identity, ReLU, leaky ReLU, sigmoid, tanh), and any loss:

- forward, per Dense layer: ``z = x @ W`` (BLAS, into a buffer kept between steps up
  to :data:`KEEP_BYTES` in all),
  then one pass adds the bias and writes the activation ``a = f(z)`` (two for tanh,
  whose vectorised form is NumPy's);
- the loss: its kernel (the compiled softmax cross-entropy) or its reference;
- backward, per Dense layer: one pass makes ``dz = da * f'(z)`` and the bias gradient
  (its column sums), then BLAS makes ``dW = x.T @ dz`` and ``da = dz @ W.T``.

It leaves what the reference leaves: the gradient in ``network.grads``, and in each
layer ``input`` and ``output`` (what :class:`~chainrule.diagnostics.Diagnostics`
reads). ``tests/test_fused.py`` checks it against the reference step. It is used by
:meth:`Network.train_step` in kernel mode ``"numba"`` (see :mod:`chainrule.kernels`);
other networks (Dropout, GELU, softmax without its fused loss) take the reference.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np

from chainrule import compiled, kernels
from chainrule.layers import Dense, Identity, LeakyReLU, ReLU, Sigmoid, Tanh

__all__ = ["KEEP_BYTES", "FusedStep", "step_for"]

#: The buffers of batches up to this size (all layers together) are kept between steps.
KEEP_BYTES = 32 * 2**20


def _bias_tanh(z: np.ndarray, b: np.ndarray, a: np.ndarray) -> None:
    # NumPy's tanh is vectorised; numba's calls the C library once per value, which made
    # a tanh network's epoch 3x a ReLU network's (1.0x with NumPy's)
    compiled.bias_identity(z, b)
    np.tanh(z, out=a)


_FORWARD = {ReLU: compiled.bias_relu, Sigmoid: compiled.bias_sigmoid, Tanh: _bias_tanh}
_BACKWARD_FROM_OUTPUT = {Sigmoid: compiled.sigmoid_backward, Tanh: compiled.tanh_backward}


def step_for(network: Any) -> FusedStep | None:
    """The fused step for ``network`` as it is now, or None when it is not covered.

    It is kept on the network as ``_fused_step`` (with its buffers, left out of copies
    and pickles), and made again when the network's layers or parameter vectors change.
    """
    key = _key(network)
    found = network.__dict__.get("_fused_step")
    if found is None or found[0] != key:
        step = FusedStep(network) if FusedStep.covers(network) else None
        network._fused_step = found = (key, step)
    return found[1]


def _key(network: Any) -> tuple:
    # what a plan depends on: the layers, the parameter vectors they are views of
    return (tuple(map(id, network.layers)), id(network.params), id(network.grads))


class _Stage:
    """One Dense layer, the activation after it (or None), and their buffers."""

    def __init__(self, dense: Dense, activation: Any) -> None:
        self.dense, self.activation = dense, activation
        self.identity = activation if isinstance(activation, Identity) else None
        if self.identity is not None:
            self.activation = None
        self.z = self.a = self.da = None
        self.zero_bias = None if dense.use_bias else np.zeros(dense.units, dense.dtype)
        self.spare_db = None if dense.use_bias else np.empty(dense.units, dense.dtype)

    def buffers(self, rows: int) -> None:
        units, dtype = self.dense.units, self.dense.dtype
        self.z = np.empty((rows, units), dtype)
        self.a = np.empty((rows, units), dtype) if self.activation is not None else None
        self.da = np.empty((rows, units), dtype)  # the gradient arriving from above
        # dz apart from da: written in place, the arrays would alias, and LLVM gives up
        # vectorising the loop (about 8x slower)
        self.dz = np.empty((rows, units), dtype) if self.activation is not None else None

    def forward(self, x: np.ndarray, n: int) -> np.ndarray:
        dense, act = self.dense, self.activation
        bias = dense.bias if dense.use_bias else self.zero_bias
        z = self.z[:n]
        np.matmul(x, dense.weights, out=z)
        dense.input, dense.output = x, z
        if act is None:
            compiled.bias_identity(z, bias)
            if self.identity is not None:
                self.identity.input = self.identity.output = z
            return z
        a = self.a[:n]
        if isinstance(act, LeakyReLU):
            compiled.bias_leaky_relu(z, bias, a, z.dtype.type(act.negative_slope))
        else:
            _FORWARD[type(act)](z, bias, a)
        act.input, act.output = z, a
        return a

    def backward(self, derror_da: np.ndarray, dx: Any):
        """Fill the layer's gradients from ``derror_da``; ``dx`` receives ``derror_dx``
        (or is None for the first layer)."""
        dense, act = self.dense, self.activation
        db = dense.derror_dbias if dense.use_bias else self.spare_db
        if act is None:
            dz = derror_da
            compiled.bias_grad(dz, db)
        else:
            dz = self.dz[: derror_da.shape[0]]
            if isinstance(act, ReLU):
                compiled.relu_backward(derror_da, act.input, dz, db)
            elif isinstance(act, LeakyReLU):
                slope = dz.dtype.type(act.negative_slope)
                compiled.leaky_relu_backward(derror_da, act.input, slope, dz, db)
            else:
                _BACKWARD_FROM_OUTPUT[type(act)](derror_da, act.output, dz, db)
        np.matmul(dense.input.T, dz, out=dense.derror_dweights)
        if dx is not None:
            np.matmul(dz, dense.weights.T, out=dx)
        return dx


class FusedStep:
    """The forward pass, loss and backward pass of one batch, fused (see the module).

    Parameters
    ----------
    network : Network
        A built network that :meth:`covers`.
    """

    _ACTIVATIONS = (Identity, ReLU, LeakyReLU, Sigmoid, Tanh)

    def __init__(self, network: Any) -> None:
        self.network = weakref.proxy(network)
        layers = network.layers[: network._n_to_loss]
        self.stages: list[_Stage] = []
        i = 0
        while i < len(layers):
            activation = (
                layers[i + 1]
                if i + 1 < len(layers) and not isinstance(layers[i + 1], Dense)
                else None
            )
            self.stages.append(_Stage(layers[i], activation))
            i += 2 if activation is not None else 1
        self.rows = 0

    @classmethod
    def covers(cls, network: Any) -> bool:
        """Whether every layer up to the loss is a Dense layer or one of the covered
        activations right after one, starting with a Dense layer."""
        if not network.built:
            return False
        layers = network.layers[: network._n_to_loss]
        previous = None
        for layer in layers:
            if type(layer) is Dense:
                pass
            elif type(layer) in cls._ACTIVATIONS and type(previous) is Dense:
                pass
            else:
                return False
            previous = layer
        return bool(layers) and type(layers[0]) is Dense

    def _buffers(self, rows: int) -> None:
        self.rows = rows
        for stage in self.stages:
            stage.buffers(rows)
        size = sum(a.nbytes for s in self.stages for a in (s.z, s.a, s.da, s.dz) if a is not None)
        # large batches (a full-batch fit): made at every step, as the reference does,
        # so that a fitted network keeps no more than the reference's layers keep
        self.keep = size <= KEEP_BYTES

    def __call__(self, X: np.ndarray, y: np.ndarray, sample_weight, l2: float):
        """The batch's loss (with the L2 term) and what the loss took, as
        :meth:`Network._backpropagate` returns them; fills ``network.grads``."""
        net = self.network
        n = X.shape[0]
        if n > self.rows:
            self._buffers(n)
        output = X
        for stage in self.stages:
            output = stage.forward(output, n)
        kernel = kernels.loss_kernel(net.loss)
        result = None if kernel is None else kernel(net.loss, output, y, sample_weight)
        if result is None:
            result = net.loss.value_and_gradient(output, y, sample_weight)
        error, derror_dprediction = result
        if l2:
            weights = net.params[: net.n_weights]
            error += 0.5 * l2 * float(weights @ weights)
        if not math.isfinite(error):
            return error, output
        gradient = self.stages[-1].da[:n]
        np.copyto(gradient, derror_dprediction)
        for k in range(len(self.stages) - 1, -1, -1):
            stage = self.stages[k]
            dx = self.stages[k - 1].da[:n] if stage.dense.needs_input_grad else None
            gradient = stage.backward(gradient, dx)
        if not self.keep:
            self.rows = 0
            for stage in self.stages:  # z and a stay with the layers, as in the reference
                stage.z = stage.a = stage.da = stage.dz = None
        return error, output
