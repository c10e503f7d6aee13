"""Layers: the Layer contract, Dense, the activation layers and Dropout.

Shape convention: inputs are ``(n_samples, n_features)``; a Dense weight matrix is
``(in_features, out_features)`` so that ``x @ W + b`` reads like the lesson's
``np.dot(input_vector, weights) + bias``.

Contract: ``forward(x, training)`` keeps exactly what ``backward`` needs and
returns the output; ``backward(derror_doutput)`` fills the layer's gradients and
returns ``derror_dinput``. A backward never changes weights: optimizers do that.

Inside a :class:`~chainrule.Network`, layers reuse per-batch buffers and compute in
place where that is safe (the network sets ``inplace``); used on their own, layers
never modify the arrays they are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import functions as F
from chainrule._validation import (
    check_fraction,
    check_non_negative_float,
    check_positive_int,
    lookup,
)
from chainrule.initializers import INITIALIZERS, get_initializer

__all__ = [
    "Layer",
    "Dense",
    "Activation",
    "Identity",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "GELU",
    "Softmax",
    "Exp",
    "Dropout",
    "LAYERS",
    "ACTIVATIONS",
    "get_layer",
    "get_activation",
    "layer_from_config",
]


class Layer:
    """Base class: a function of its input with optional parameters.

    Subclasses with parameters list them in :meth:`param_shapes` and receive
    views into the network's flat parameter and gradient buffers in :meth:`bind`.
    """

    #: set by the Network: False for the first layer (no ``derror_dinput`` needed)
    needs_input_grad: bool = True
    #: set by the Network: True when the layer may overwrite its input and the
    #: incoming gradient (both are buffers the network owns)
    inplace: bool = False
    #: True when ``backward`` reads the array ``forward`` returned (Sigmoid, Tanh,
    #: Softmax): the next layer must then not overwrite its input in place
    keeps_output: bool = False

    def build(self, in_features: int, rng: np.random.Generator, dtype: np.dtype) -> int:
        """Prepare for inputs with ``in_features`` columns; return the output width."""
        self.in_features = in_features
        self.rng = rng
        self.dtype = np.dtype(dtype)
        return in_features

    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Names and shapes of the trainable arrays, in order (none by default)."""
        return []

    def bind(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Receive views of the flat parameter and gradient buffers (in ``param_shapes`` order)."""
        self.param_arrays = params
        self.grad_arrays = grads

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Initialise the parameters (nothing to do for parameter-free layers)."""

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, derror_doutput: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-safe values; ``type(self)(**config)`` rebuilds it."""
        return {}

    @property
    def n_params(self) -> int:
        """Number of trainable values."""
        return int(sum(np.prod(shape) for _, shape in self.param_shapes()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __getstate__(self) -> dict[str, Any]:
        # copies and pickles leave out the last batch's arrays and the scratch buffers
        return _without_scratch(self.__dict__, _STEP_ARRAYS)


#: what a layer keeps from its last forward pass for backward (recomputed every step)
_STEP_ARRAYS = ("input", "output", "positive", "mask")


def _without_scratch(state: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """``state`` without the buffers ``_buffer``/``_constant`` made, nor ``extra``."""
    drop = set(state.get("_scratch_attrs", ())) | {"_scratch_attrs", *extra}
    return {k: v for k, v in state.items() if k not in drop}


def _remember_scratch(owner: Any, *attrs: str) -> None:
    owner.__dict__.setdefault("_scratch_attrs", set()).update(attrs)


def _buffer(owner: Any, attr: str, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """A per-batch buffer of ``shape`` kept on ``owner`` and grown when needed.

    Rows are sliced off a buffer allocated for the largest batch seen, so the last,
    smaller batch of an epoch reuses it too (a row slice of a C-contiguous array is
    contiguous, which ``np.matmul(..., out=)`` needs).
    """
    view = owner.__dict__.get(attr)
    if view is not None and view.shape == shape and view.dtype == dtype:
        return view  # the same batch size as last time: the step's common case
    full = owner.__dict__.get(attr + "_full")
    if (
        full is None
        or full.shape[0] < shape[0]
        or full.shape[1:] != shape[1:]
        or full.dtype != dtype
    ):
        full = np.empty(shape, dtype=dtype)
        setattr(owner, attr + "_full", full)
        _remember_scratch(owner, attr, attr + "_full")
    view = full[: shape[0]]
    setattr(owner, attr, view)
    return view


def _constant(owner: Any, attr: str, shape: tuple[int, ...], value: float, dtype) -> np.ndarray:
    """A read-only array of ``shape`` filled with ``value``, kept on ``owner``.

    NumPy's element-wise loops are several times faster on two same-shape contiguous
    operands than on an array and a broadcast scalar or row (``np.maximum(x, zeros)``
    takes a third of the time of ``np.maximum(x, 0)``), and ``ones @ g`` sums the rows
    of ``g`` faster than ``g.sum(axis=0)``. Leading-axis slices serve smaller batches.
    """
    buf = getattr(owner, attr, None)
    if buf is None or buf.shape[0] < shape[0] or buf.shape[1:] != shape[1:] or buf.dtype != dtype:
        buf = np.full(shape, value, dtype=dtype)
        buf.flags.writeable = False
        setattr(owner, attr, buf)
        _remember_scratch(owner, attr)
    return buf[: shape[0]]


class Dense(Layer):
    """Fully connected layer: ``y = x @ W + b``.

    Parameters
    ----------
    units : int
        Number of outputs (``out_features``).
    kernel_initializer : str, default="glorot_uniform"
        Name of the weight initialiser, from ``chainrule.initializers.INITIALIZERS``.
    bias_initializer : str, default="zeros"
        Name of the bias initialiser.
    use_bias : bool, default=True
        Whether to add the bias ``b``.

    Notes
    -----
    Shapes: ``x`` (n, in_features), ``W`` (in_features, units), ``b`` (units,),
    ``y`` (n, units). The input size is inferred when the network is built.
    """

    def __init__(
        self,
        units: int,
        *,
        kernel_initializer: str = "glorot_uniform",
        bias_initializer: str = "zeros",
        use_bias: bool = True,
    ) -> None:
        self.units = check_positive_int(units, "units")
        lookup(INITIALIZERS, kernel_initializer, "kernel_initializer")
        lookup(INITIALIZERS, bias_initializer, "bias_initializer")
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.use_bias = bool(use_bias)

    def build(self, in_features, rng, dtype):
        super().build(in_features, rng, dtype)
        return self.units

    def param_shapes(self):
        shapes = [("weights", (self.in_features, self.units))]
        if self.use_bias:
            shapes.append(("bias", (self.units,)))
        return shapes

    def bind(self, params, grads):
        super().bind(params, grads)
        self.weights, self.derror_dweights = params[0], grads[0]
        if self.use_bias:
            self.bias, self.derror_dbias = params[1], grads[1]
        else:
            self.bias = self.derror_dbias = None
        self.bias_and_weights = self.derror_dbias_and_weights = None
        self._ones_input = False

    def bind_with_bias(self, block: np.ndarray, grad_block: np.ndarray) -> None:
        """Receive ``[b; W]``, the bias row above the weight rows, as one matrix.

        The network calls this when the bias sits right before the weights in its
        flat vectors (the first layer's); :meth:`forward_with_ones` uses it.
        """
        self.bias_and_weights, self.derror_dbias_and_weights = block, grad_block

    def forward_with_ones(self, x, training=False):
        """:meth:`forward` for ``x = [1, inputs]``, a leading column of ones.

        ``[1, inputs] @ [b; W] = inputs @ W + b``: the bias rides in the matrix
        product, and backward gets ``[db; dW]`` from one product too.
        """
        if self.bias_and_weights is None:
            raise ValueError(
                "forward_with_ones needs the layer's bias right before its weights, as a "
                "Network lays out its first Dense layer (with a bias); call forward(x) "
                "without the column of ones instead."
            )
        self.input = x
        self._ones_input = True
        out = _buffer(self, "_out", (x.shape[0], self.units), self.weights.dtype)
        return np.matmul(x, self.bias_and_weights, out=out)

    def __getstate__(self) -> dict[str, Any]:
        # [b; W] is a view the network binds again (Network.__setstate__)
        state = super().__getstate__()
        state.update(bias_and_weights=None, derror_dbias_and_weights=None, _ones_input=False)
        return state

    def reset_parameters(self, rng):
        get_initializer(self.kernel_initializer)(self.weights, rng)
        if self.use_bias:
            get_initializer(self.bias_initializer)(self.bias, rng)

    def forward(self, x, training=False):
        self.input = x  # dlayer1_dweights is the input: backward needs it
        self._ones_input = False
        out = _buffer(self, "_out", (x.shape[0], self.units), self.weights.dtype)
        np.matmul(x, self.weights, out=out)
        if self.use_bias:
            out += self.bias
        return out

    def backward(self, derror_doutput):
        if self._ones_input:
            # [db; dW] = [1, x].T @ derror_doutput: the bias row sums the batch
            np.matmul(self.input.T, derror_doutput, out=self.derror_dbias_and_weights)
            if not self.needs_input_grad:
                return None
            dx = _buffer(self, "_dx", (derror_doutput.shape[0], self.in_features), self.dtype)
            return np.matmul(derror_doutput, self.weights.T, out=dx)
        # derror_dweights = dlayer1_dweights.T @ derror_dlayer1, summed over the batch
        np.matmul(self.input.T, derror_doutput, out=self.derror_dweights)
        if self.use_bias:
            # dlayer1_dbias = 1: the column sums of derror_doutput, as ones @ derror_doutput
            if derror_doutput.dtype == self.derror_dbias.dtype:
                ones = _constant(self, "_ones", derror_doutput.shape[:1], 1.0, derror_doutput.dtype)
                np.dot(ones, derror_doutput, out=self.derror_dbias)
            else:  # np.dot's out= takes only its own dtype
                np.add.reduce(derror_doutput, axis=0, out=self.derror_dbias)
        if not self.needs_input_grad:
            return None
        dx = _buffer(self, "_dx", (derror_doutput.shape[0], self.in_features), self.weights.dtype)
        return np.matmul(derror_doutput, self.weights.T, out=dx)

    def get_config(self):
        return {
            "units": self.units,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "use_bias": self.use_bias,
        }


class Activation(Layer):
    """Base of the element-wise activation layers: ``y = f(x)``."""

    #: short name in ``ACTIVATIONS``
    name = ""


class Identity(Activation):
    """Identity: ``y = x`` (scikit-learn's ``activation="identity"``)."""

    name = "identity"

    def forward(self, x, training=False):
        return x

    def backward(self, derror_doutput):
        return derror_doutput


class ReLU(Activation):
    """Rectified linear unit: ``y = max(x, 0)``; ``dy/dx = 1`` where ``x > 0``, else 0."""

    name = "relu"

    def forward(self, x, training=False):
        # zeros sized for the training batch; predictions (any size) use the scalar
        zero = _constant(self, "_zeros", x.shape, 0.0, x.dtype) if training and x.ndim else 0
        out = np.maximum(x, zero, out=x if self.inplace else None)
        self.output = out
        return out

    def backward(self, derror_doutput):
        # The output is positive exactly where the input was: use it as the mask
        # (written into a buffer kept across steps, not a new array every step).
        y = self.output
        if y.ndim == 0:
            mask = y > 0
        else:
            mask = np.greater(y, 0, out=_buffer(self, "_mask", y.shape, np.dtype(bool)))
            # NumPy multiplies by 0/1 bytes faster than by booleans
            mask = mask.view(np.uint8)
        if self.inplace:
            return np.multiply(derror_doutput, mask, out=derror_doutput)
        return derror_doutput * mask


class LeakyReLU(Activation):
    """Leaky ReLU: ``y = x`` where ``x > 0``, else ``negative_slope * x``.

    Parameters
    ----------
    negative_slope : float, default=0.01
        Slope for negative inputs.
    """

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = check_non_negative_float(negative_slope, "negative_slope")

    def forward(self, x, training=False):
        self.positive = x > 0
        out = x if self.inplace else x.copy()
        out[~self.positive] *= self.negative_slope
        return out

    def backward(self, derror_doutput):
        g = derror_doutput if self.inplace else derror_doutput.copy()
        g[~self.positive] *= self.negative_slope
        return g

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class Sigmoid(Activation):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``; ``dy/dx = y (1 - y)``.

    As the last layer with ``loss="binary_crossentropy"`` it is fused with the loss,
    which then works from the logits ``x`` (stable, gradient ``y - target``).
    """

    name = "logistic"
    keeps_output = True

    def forward(self, x, training=False):
        self.output = F.sigmoid(x).astype(x.dtype, copy=False)
        return self.output

    def backward(self, derror_doutput):
        # dprediction_dlayer1 = sigmoid_deriv(layer_1), written with the output
        dprediction_dlayer1 = F.sigmoid_deriv_from_output(self.output)
        if self.inplace:
            return np.multiply(derror_doutput, dprediction_dlayer1, out=derror_doutput)
        return derror_doutput * dprediction_dlayer1


class Tanh(Activation):
    """Hyperbolic tangent: ``y = tanh(x)``; ``dy/dx = 1 - y**2``."""

    name = "tanh"
    keeps_output = True

    def forward(self, x, training=False):
        self.output = np.tanh(x, out=x if self.inplace else None)
        return self.output

    def backward(self, derror_doutput):
        d = F.tanh_deriv_from_output(self.output)
        if self.inplace:
            return np.multiply(derror_doutput, d, out=derror_doutput)
        return derror_doutput * d


class GELU(Activation):
    """Gaussian error linear unit (tanh approximation): ``y = x * Phi(x)``."""

    name = "gelu"

    def forward(self, x, training=False):
        self.input = x.copy() if self.inplace else x
        return F.gelu(x).astype(x.dtype, copy=False)

    def backward(self, derror_doutput):
        d = F.gelu_deriv(self.input).astype(derror_doutput.dtype, copy=False)
        if self.inplace:
            return np.multiply(derror_doutput, d, out=derror_doutput)
        return derror_doutput * d


class Softmax(Activation):
    """Softmax over the features: ``y_k = exp(x_k) / sum_j exp(x_j)``.

    Meant as the output layer. With ``loss="categorical_crossentropy"`` it is fused
    with the loss (computed from the logits, gradient ``y - target``); otherwise its
    backward is the full Jacobian product ``y * (g - sum(g * y))``.
    """

    name = "softmax"
    keeps_output = True

    def forward(self, x, training=False):
        self.output = F.softmax(x, axis=1).astype(x.dtype, copy=False)
        return self.output

    def backward(self, derror_doutput):
        y = self.output
        inner = np.sum(derror_doutput * y, axis=1, keepdims=True)
        return y * (derror_doutput - inner)


class Exp(Activation):
    """Exponential: ``y = exp(x)``; ``dy/dx = y``.

    The output layer for counts and rates (scikit-learn's ``MLPRegressor(loss="poisson")``
    uses it). With ``loss="poisson"`` it is fused with the loss, which then works from
    the logits ``x = log(y)``. Not in ``ACTIVATIONS``: it is no hidden activation.
    """

    name = "exp"
    keeps_output = True

    def forward(self, x, training=False):
        self.output = np.exp(x, out=x if self.inplace else None)
        return self.output

    def backward(self, derror_doutput):
        if self.inplace:
            return np.multiply(derror_doutput, self.output, out=derror_doutput)
        return derror_doutput * self.output


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate``
    and scale the rest by ``1 / (1 - rate)``; the identity at prediction time.

    Parameters
    ----------
    rate : float
        Fraction of inputs to drop, in [0, 1).
    """

    def __init__(self, rate: float) -> None:
        self.rate = check_fraction(rate, "rate")

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype if x.dtype.kind == "f" else None)
        self.mask = (keep >= self.rate).astype(x.dtype) / np.asarray(1.0 - self.rate, x.dtype)
        if self.inplace:
            return np.multiply(x, self.mask, out=x)
        return x * self.mask

    def backward(self, derror_doutput):
        if self.mask is None:
            return derror_doutput
        if self.inplace:
            return np.multiply(derror_doutput, self.mask, out=derror_doutput)
        return derror_doutput * self.mask

    def get_config(self):
        return {"rate": self.rate}


#: Activation layers by name; scikit-learn's names (``logistic``, ``identity``) and
#: the common aliases (``sigmoid``, ``linear``) both work.
ACTIVATIONS: dict[str, type[Activation]] = {
    "identity": Identity,
    "linear": Identity,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "logistic": Sigmoid,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "softmax": Softmax,
}

#: Every layer class a model file may name (the only ones ``layer_from_config`` builds).
LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Identity, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Exp, Dropout)
}


def get_activation(name: str) -> type[Activation]:
    """Return the activation layer class registered under ``name``."""
    return lookup(ACTIVATIONS, name, "activation")


def get_layer(name: str) -> type[Layer]:
    """Return the layer class called ``name`` (``"Dense"``) or an activation name (``"relu"``)."""
    if isinstance(name, str) and name in LAYERS:
        return LAYERS[name]
    keys = {**{k.lower(): v for k, v in LAYERS.items()}, **ACTIVATIONS}
    return lookup(keys, name, "layer")


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Build a layer from ``{"class_name": ..., "config": {...}}`` (names from ``LAYERS`` only)."""
    class_name = config.get("class_name")
    if class_name not in LAYERS:
        raise ValueError(f"unknown layer {class_name!r}; expected one of {sorted(LAYERS)}")
    return LAYERS[class_name](**config.get("config", {}))
