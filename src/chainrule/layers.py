"""Layers: the Layer contract, Dense, the activation layers and Dropout.

Shape convention: inputs are ``(n_samples, n_features)``; a Dense weight matrix is
``(in_features, out_features)`` so that ``x @ W + b`` reads like the lesson's
``np.dot(input_vector, weights) + bias``.

The contract, three methods a layer defines, the formula and its derivative side by side:

- ``layer(x)`` computes the output: the formula, nothing kept. Predictions run
  through it, so one fitted network can predict from many threads at once.
- ``forward(x, training)`` is the same computation in a training pass. It keeps what
  ``backward`` needs: by default the input as ``self.input`` and the output as
  ``self.output``. ``training=True`` switches on what only training does (Dropout).
- ``backward(derror_doutput)`` takes the gradient of the error with respect to the
  layer's output, fills the layer's parameter gradients and returns
  ``derror_dinput``: one step of the chain rule. It never changes a weight; the
  optimizers do that.

Adding an activation: subclass :class:`Activation`, write ``__call__`` and
``backward``, and register it in :data:`ACTIVATIONS` (to be named by a string) and
:data:`LAYERS` (to be saved in model files).
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
    "HIDDEN_ACTIVATIONS",
    "get_layer",
    "get_activation",
    "layer_from_config",
]

#: what a layer keeps from its last training pass (left out of copies and pickles)
_KEPT_FOR_BACKWARD = ("input", "output", "mask")


class Layer:
    """Base class: a function of its input with optional parameters.

    Subclasses write ``__call__`` (the formula) and ``backward`` (its derivative).
    Layers with parameters list them in :meth:`param_shapes`, receive views into the
    network's flat parameter and gradient vectors in :meth:`bind`, and set their
    starting values in :meth:`reset_parameters`.
    """

    #: False for the network's first layer with parameters: its input is the data,
    #: whose gradient nobody needs, so ``backward`` returns None (one product fewer)
    needs_input_grad: bool = True

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
        """Receive the parameter and gradient arrays (in :meth:`param_shapes` order)."""
        self.param_arrays = params
        self.grad_arrays = grads

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Initialise the parameters (nothing to do for parameter-free layers)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        """The layer's output for ``x``; keeps nothing."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The output for ``x`` in a training pass, keeping ``x`` and the output for
        :meth:`backward` (as ``self.input`` and ``self.output``)."""
        self.input = x
        self.output = self(x)
        return self.output

    def backward(self, derror_doutput: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        """``derror_dinput`` from ``derror_doutput``; fills the parameter gradients."""
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
        # copies and pickles leave out the last training batch's arrays
        return {k: v for k, v in self.__dict__.items() if k not in _KEPT_FOR_BACKWARD}


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
    ``y`` (n, units). The input size is inferred when the network is built. In the
    lesson's words ``y`` is ``layer_1``, and its derivatives are
    ``dlayer1_dweights = x``, ``dlayer1_dbias = 1`` and ``dlayer1_dinput = W``.
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
        self.bias, self.derror_dbias = (params[1], grads[1]) if self.use_bias else (None, None)

    def reset_parameters(self, rng):
        get_initializer(self.kernel_initializer)(self.weights, rng)
        if self.use_bias:
            get_initializer(self.bias_initializer)(self.bias, rng)

    def __call__(self, x):
        layer = x @ self.weights
        if self.use_bias:
            layer += self.bias
        return layer

    def backward(self, derror_doutput):
        # derror_dweights = dlayer_dweights.T @ derror_dlayer, with dlayer_dweights = the
        # input: one product sums the batch's contributions
        np.matmul(self.input.T, derror_doutput, out=self.derror_dweights)
        if self.use_bias:
            # derror_dbias = dlayer_dbias.T @ derror_dlayer, with dlayer_dbias = 1 for
            # every sample: the sum of derror_dlayer over the batch
            dlayer_dbias = np.ones(derror_doutput.shape[0], dtype=derror_doutput.dtype)
            np.matmul(dlayer_dbias, derror_doutput, out=self.derror_dbias)
        if not self.needs_input_grad:
            return None
        # dlayer_dinput = W: derror_dinput = derror_dlayer @ W.T
        return derror_doutput @ self.weights.T

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

    def __call__(self, x):
        return x

    def backward(self, derror_doutput):
        return derror_doutput


class ReLU(Activation):
    """Rectified linear unit: ``y = max(x, 0)``; ``dy/dx = 1`` where ``x > 0``, else 0."""

    name = "relu"

    def __call__(self, x):
        return F.relu(x)

    def backward(self, derror_doutput):
        return derror_doutput * F.relu_deriv(self.input)


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

    def __call__(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, derror_doutput):
        return derror_doutput * F.leaky_relu_deriv(self.input, self.negative_slope)

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class Sigmoid(Activation):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``; ``dy/dx = y (1 - y)``.

    As the last layer with ``loss="binary_crossentropy"`` it is fused with the loss,
    which then works from the logits ``x`` (stable, gradient ``y - target``).
    """

    name = "logistic"

    def __call__(self, x):
        return F.sigmoid(x)

    def backward(self, derror_doutput):
        # dprediction_dlayer1 = sigmoid_deriv(layer_1), written with the output
        return derror_doutput * F.sigmoid_deriv_from_output(self.output)


class Tanh(Activation):
    """Hyperbolic tangent: ``y = tanh(x)``; ``dy/dx = 1 - y**2``."""

    name = "tanh"

    def __call__(self, x):
        return np.tanh(x)

    def backward(self, derror_doutput):
        return derror_doutput * F.tanh_deriv_from_output(self.output)


class GELU(Activation):
    """Gaussian error linear unit (tanh approximation): ``y = x * Phi(x)``."""

    name = "gelu"

    def __call__(self, x):
        return F.gelu(x)

    def backward(self, derror_doutput):
        return derror_doutput * F.gelu_deriv(self.input)


class Softmax(Activation):
    """Softmax over the features: ``y_k = exp(x_k) / sum_j exp(x_j)``.

    Meant as the output layer. With ``loss="categorical_crossentropy"`` it is fused
    with the loss (computed from the logits, gradient ``y - target``); otherwise its
    backward is the full Jacobian product ``y * (g - sum(g * y))``.
    """

    name = "softmax"

    def __call__(self, x):
        return F.softmax(x, axis=1)

    def backward(self, derror_doutput):
        y = self.output
        return y * (derror_doutput - np.sum(derror_doutput * y, axis=1, keepdims=True))


class Exp(Activation):
    """Exponential: ``y = exp(x)``; ``dy/dx = y``.

    The output layer for counts and rates (scikit-learn's ``MLPRegressor(loss="poisson")``
    uses it). With ``loss="poisson"`` it is fused with the loss, which then works from
    the logits ``x = log(y)``. Not in ``ACTIVATIONS``: it is no hidden activation.
    """

    name = "exp"

    def __call__(self, x):
        return np.exp(x)

    def backward(self, derror_doutput):
        return derror_doutput * self.output


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``rate``
    and scale the rest by ``1 / (1 - rate)``; the identity at prediction time.

    Parameters
    ----------
    rate : float
        Fraction of inputs to drop, in [0, 1).
    """

    #: the mask of the last training pass (None: nothing was dropped)
    mask = None

    def __init__(self, rate: float) -> None:
        self.rate = check_fraction(rate, "rate")

    def __call__(self, x):
        return x

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self.mask = None
            return x
        draws = self.rng.random(x.shape, dtype=x.dtype if x.dtype.kind == "f" else None)
        self.mask = (draws >= self.rate).astype(x.dtype) / (1.0 - self.rate)
        return x * self.mask

    def backward(self, derror_doutput):
        if self.mask is None:
            return derror_doutput
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

#: The activations for hidden layers: all but softmax, which normalises across a layer
#: and belongs on the output.
HIDDEN_ACTIVATIONS: tuple[str, ...] = tuple(sorted(k for k in ACTIVATIONS if k != "softmax"))

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
