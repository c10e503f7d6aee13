"""Network: layers, a loss and an optimizer around ONE flat parameter buffer.

All trainable values live in one contiguous vector ``network.params`` (and their
gradients in ``network.grads``); each layer's weights and bias are views into it.
Weight matrices sit together, so L2 weight decay is one vectorised call over them;
the biases follow, except the first Dense layer's, which comes first, right before
its weights: ``[b; W]`` is then one ``(in + 1, units)`` matrix, and inputs with a
leading column of ones go through that layer in one matrix product, bias included
(``train_step(..., ones_column=True)``, the estimators' path on small data). An
optimizer step is a handful of in-place NumPy calls over the whole vector. Model
files keep the plain order: every weight matrix, then every bias.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule._validation import (
    check_array,
    check_consistent_length,
    check_non_negative_float,
    check_positive_int,
    check_sample_weight,
    check_seed,
)
from chainrule.layers import (
    Activation,
    Dense,
    Layer,
    _buffer,
    _without_scratch,
    get_layer,
    layer_from_config,
)
from chainrule.losses import LOSSES, Loss, get_loss
from chainrule.metrics import Metric, get_metric
from chainrule.optimizers import OPTIMIZERS, Optimizer, get_optimizer

__all__ = ["Network", "TrainingDivergedError"]

#: The layout of ``params`` that pickles record: 1 was every weight matrix, then every
#: bias (still the model files' order); 2 puts the first Dense layer's bias first.
PARAMS_LAYOUT = 2


def _state_vectors(optimizer: Optimizer, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The optimizer's arrays laid out like ``params`` (momentum, moments, scratch)."""
    return [v for v in vars(optimizer).values() if isinstance(v, np.ndarray) and v.shape == shape]


class TrainingDivergedError(FloatingPointError):
    """A training step produced a non-finite loss; the last finite weights are kept."""


class Network:
    """A feed-forward neural network trained by backpropagation.

    Parameters
    ----------
    layers : sequence of Layer or str
        The layers in order, e.g. ``[Dense(64), ReLU(), Dense(10), Softmax()]``.
        A string is looked up in ``chainrule.layers.ACTIVATIONS`` (``"relu"``).
    loss : str or Loss
        ``"mse"``, ``"binary_crossentropy"`` (last layer ``Sigmoid()``) or
        ``"categorical_crossentropy"`` (last layer ``Softmax()``; integer labels or
        one-hot targets). The cross-entropies are fused with their output layer.
    optimizer : str or Optimizer
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` (default settings) or an
        optimizer object such as ``Adam(learning_rate=1e-3)``.
    metrics : sequence of str, default=()
        Reported by ``fit`` and ``evaluate``: ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"``.
    l2 : float, default=0.0
        L2 weight decay on the weight matrices (not the biases): the loss gains
        ``0.5 * l2 * sum(W**2)`` and the gradient ``l2 * W``.
    seed : int or None, default=None
        Seeds the one ``numpy.random.Generator`` behind initialisation, shuffling and
        dropout: same seed, same data, same thread count, identical weights.
    dtype : {"float32", "float64"}, default="float32"

    Attributes
    ----------
    params, grads : ndarray of shape (n_params,)
        The flat parameter and gradient vectors (after :meth:`build`).
    history : History or None
        What the last :meth:`fit` recorded.

    Examples
    --------
    >>> from chainrule import Network, Dense, ReLU, Softmax
    >>> net = Network([Dense(32), ReLU(), Dense(3), Softmax()],
    ...               loss="categorical_crossentropy", optimizer="adam", seed=0)
    """

    def __init__(
        self,
        layers: Sequence[Layer | str],
        *,
        loss: str | Loss,
        optimizer: str | Optimizer,
        metrics: Sequence[str | Metric] = (),
        l2: float = 0.0,
        seed: int | None = None,
        dtype: str | np.dtype = "float32",
    ) -> None:
        if isinstance(layers, (Layer, str)) or not isinstance(layers, Sequence) or not layers:
            raise TypeError(
                "layers must be a non-empty list of layers, e.g. [Dense(8), ReLU(), Dense(1)]; "
                f"received {layers!r}"
            )
        self.layers = [get_layer(layer)() if isinstance(layer, str) else layer for layer in layers]
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layers[{i}] must be a Layer (such as Dense(8) or ReLU()); "
                    f"received {type(layer).__name__} {layer!r}"
                )
        self.loss = get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        if isinstance(metrics, (str, Metric)):
            metrics = [metrics]  # one metric given on its own
        self.metrics = [get_metric(m) for m in metrics]
        self.l2 = check_non_negative_float(l2, "l2")
        self.seed = check_seed(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64'; received dtype={dtype!r}")
        self.rng = np.random.default_rng(seed)
        self.fused = self._check_output_layer()
        self.built = False
        self.history = None
        self.stop_training = False

    def _check_output_layer(self) -> bool:
        """Whether the loss is fused with the last layer; refuse mismatched pairs."""
        wanted = self.loss.output_activation
        last = self.layers[-1]
        if wanted is None:
            return False
        last_name = getattr(last, "name", None) if isinstance(last, Activation) else None
        if last_name != wanted:
            layer = {"logistic": "Sigmoid()", "softmax": "Softmax()", "exp": "Exp()"}[wanted]
            raise ValueError(
                f"loss={self.loss.name!r} needs {layer} as the last layer (it is computed from "
                f"that layer's input, the logits); received last layer {last!r}. "
                f"Add {layer} after the last Dense layer."
            )
        return True

    # ------------------------------------------------------------ building

    def build(self, n_features: int) -> Network:
        """Create the parameters for inputs with ``n_features`` columns.

        Allocates the flat parameter and gradient vectors, hands each layer its
        views, and initialises them from the network's random generator.
        """
        n_features = check_positive_int(n_features, "n_features")
        width = n_features
        self.output_shapes = []
        for layer in self.layers:
            width = layer.build(width, self.rng, self.dtype)
            self.output_shapes.append((None, width))
        self.n_features = n_features
        self.n_outputs = width

        n_params = sum(layer.n_params for layer in self.layers)
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        self._bind_views()
        for layer in self.layers:
            if layer.param_shapes():
                layer.reset_parameters(self.rng)

        # Layers before the first parametrised one need no backward pass; that one
        # needs no input gradient. Activations work in place on buffers the network
        # owns (anything after the first Dense), never on the caller's X.
        trainable = [i for i, layer in enumerate(self.layers) if layer.param_shapes()]
        self._first_trainable = trainable[0] if trainable else len(self.layers)
        # A layer must not overwrite an output its producer keeps for backward
        # (Tanh -> Dropout would otherwise corrupt Tanh's gradient).
        owned = False
        for i, layer in enumerate(self.layers):
            layer.inplace = owned and not (i and self.layers[i - 1].keeps_output)
            layer.needs_input_grad = i > self._first_trainable
            owned = owned or isinstance(layer, Dense)
        self._train_layers = self.layers[:-1] if self.fused else self.layers
        self._train_layers_after_first = self._train_layers[1:]
        # the layers the backward pass visits, made once
        self._backward_layers = self._train_layers[self._first_trainable :][::-1]
        self.optimizer.build(self.params)
        self.built = True
        return self

    def _bind_views(self) -> None:
        """Hand every layer its views of ``params`` and ``grads``; make the L2 views.

        The first layer's bias (when it is a Dense with one) comes first, then every
        weight matrix, then the other biases: L2 decay covers one slice, and the
        first layer's ``[b; W]`` is one matrix. Run by :meth:`build`, and again after
        a copy or a pickle, which would otherwise leave the layers with copies of the
        weights.
        """
        specs = [
            (i, name, shape)
            for i, layer in enumerate(self.layers)
            for name, shape in layer.param_shapes()
        ]
        first = self.layers[0]
        self._ones_first = isinstance(first, Dense) and first.use_bias
        lead = [s for s in specs if s[:2] == (0, "bias")] if self._ones_first else []
        ordered = (
            lead
            + [s for s in specs if s[1] != "bias"]
            + [s for s in specs if s[1] == "bias" and s not in lead]
        )
        sizes = [int(np.prod(shape)) for _, _, shape in ordered]
        self.n_weights = sum(
            size for (_, name, _), size in zip(ordered, sizes, strict=True) if name != "bias"
        )
        views: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        offset = 0
        for (i, name, shape), size in zip(ordered, sizes, strict=True):
            p = self.params[offset : offset + size].reshape(shape)
            g = self.grads[offset : offset + size].reshape(shape)
            views.setdefault(i, {})[name] = (p, g)
            offset += size
        for i, layer in enumerate(self.layers):
            names = [name for name, _ in layer.param_shapes()]
            if names:
                layer.bind([views[i][n][0] for n in names], [views[i][n][1] for n in names])
        start = sizes[0] if lead else 0
        if lead:  # [b; W] of the first layer: the bias row, then the weight rows
            block = (first.in_features + 1, first.units)
            end = start + first.in_features * first.units
            first.bind_with_bias(self.params[:end].reshape(block), self.grads[:end].reshape(block))
        # hot-path views: the weights L2 decays, their gradients, a scratch vector
        self._weights = self.params[start : start + self.n_weights]
        self._weight_grads = self.grads[start : start + self.n_weights]
        self._l2_buf = np.empty_like(self._weights)

    def _file_views(self) -> list[np.ndarray]:
        """The parameter views in the model files' order: every weight matrix, then
        every bias, layer by layer (the order of ``params`` before the first layer's
        bias moved up front; files keep it)."""
        named = [
            (name, array)
            for layer in self.layers
            if layer.param_shapes()
            for (name, _), array in zip(layer.param_shapes(), layer.param_arrays, strict=True)
        ]
        return [a for n, a in named if n != "bias"] + [a for n, a in named if n == "bias"]

    def _params_for_file(self) -> np.ndarray:
        """``params`` as model files hold it (see :meth:`_file_views`): a new array."""
        return np.concatenate([view.reshape(-1) for view in self._file_views()])

    def _set_params_from_file(self, flat: np.ndarray) -> None:
        """Set ``params`` from a vector in the model files' order."""
        offset = 0
        for view in self._file_views():
            view[...] = flat[offset : offset + view.size].reshape(view.shape)
            offset += view.size

    def _file_positions(self) -> np.ndarray:
        """Where each value of the model files' order sits in ``params``.

        ``params[positions] = flat`` stores a vector in file order, the order in which
        ``params`` itself was laid out until the first bias moved up front.
        """
        positions = []
        for view in self._file_views():
            start = (view.ctypes.data - self.params.ctypes.data) // self.params.itemsize
            positions.append(np.arange(start, start + view.size, dtype=np.intp))
        return np.concatenate(positions)

    def _adopt_file_order(self, arrays: Sequence[np.ndarray]) -> None:
        """Rearrange, in place, vectors laid out in file order into ``params``' order."""
        positions = self._file_positions()
        for array in arrays:
            array[positions] = array.copy()

    def __getstate__(self) -> dict[str, Any]:
        # no scratch buffers, last outputs or views: __setstate__ remakes the views
        state = _without_scratch(
            self.__dict__, ("_loss_out", "_weights", "_weight_grads", "_l2_buf")
        )
        state["_params_layout"] = PARAMS_LAYOUT
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        layout = state.pop("_params_layout", 1)
        self.__dict__.update(state)
        if self.built:
            self._bind_views()  # the layers' weights are views of params again
            if layout == 1:
                # pickled before the first bias moved up front: params, grads and the
                # optimizer's state vectors hold the file order
                vectors = [self.params, self.grads]
                vectors += _state_vectors(self.optimizer, self.params.shape)
                self._adopt_file_order(vectors)

    def _ensure_built(self, X: np.ndarray, name: str = "X") -> None:
        if not self.built:
            self.build(X.shape[1])
        elif X.shape[1] != self.n_features:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but the network was built for "
                f"{self.n_features}; pass data with the same columns as in training."
            )

    # ------------------------------------------------------------ passes

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Run ``X`` through every layer; returns the last layer's output.

        The result may be an internal buffer, overwritten by the next call: copy it
        to keep it (``predict`` does).
        """
        out = X
        for layer in self.layers:
            out = layer.forward(out, training)
        return out

    def _forward_train(self, X: np.ndarray, training: bool) -> np.ndarray:
        """Forward to what the loss takes: the logits when fused, else the output."""
        out = X
        for layer in self._train_layers:
            out = layer.forward(out, training)
        return out

    def _l2_penalty(self, l2: float) -> float:
        w = self._weights
        return 0.5 * l2 * float(np.dot(w, w))

    def compute_loss_and_gradients(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight=None,
        *,
        training: bool = False,
        l2: float | None = None,
    ) -> tuple[float, np.ndarray]:
        """The loss on ``(X, y)`` and the gradient of it for every parameter.

        Returns the loss and ``network.grads`` (the flat gradient vector, in the
        parameter layout; :meth:`get_gradients` splits it per layer). No weight
        changes. ``y`` is taken as the loss prepares it (see ``Loss.prepare_target``).
        """
        X, target = self._prepare_xy(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        return self._loss_and_gradients(X, target, sample_weight, training, l2)

    def _loss_and_gradients(self, X, target, sample_weight, training, l2=None, ones=False):
        l2 = self.l2 if l2 is None else l2
        if ones:  # X = [1, x]: the first Dense takes its bias in the matrix product
            out = self.layers[0].forward_with_ones(X, training)
            layers = self._train_layers_after_first
        else:
            out = X
            layers = self._train_layers
        for layer in layers:
            out = layer.forward(out, training)
        self._loss_out = out
        grad_buf = _buffer(self, "_grad_buf", out.shape, self.dtype)
        value, g = self.loss.value_and_gradient(out, target, sample_weight, out=grad_buf)
        if l2:
            w = self._weights
            value += 0.5 * l2 * float(np.dot(w, w))
        if not math.isfinite(value):
            return value, self.grads
        for layer in self._backward_layers:
            g = layer.backward(g)
        if l2:
            self._weight_grads += np.multiply(self._weights, float(l2), out=self._l2_buf)
        return value, self.grads

    def train_step(
        self,
        X: np.ndarray,
        target: np.ndarray,
        sample_weight=None,
        l2=None,
        *,
        ones_column: bool = False,
    ) -> float:
        """One gradient step on a prepared batch: forward, loss, backward, update.

        Returns the batch loss. A non-finite loss raises
        :class:`TrainingDivergedError` before the update, so the weights stay finite.
        With ``ones_column=True``, ``X`` is ``[1, x]``: a leading column of ones, then
        the inputs. The first layer, a Dense with a bias, then computes
        ``[1, x] @ [b; W] = x @ W + b`` in one matrix product and gets the bias
        gradient from the same product as the weights' (the "bias trick").
        """
        if ones_column:
            if not self._ones_first:
                raise ValueError(
                    "ones_column=True needs a network whose first layer is a Dense with a "
                    f"bias; this one starts with {self.layers[0]!r}. Pass X without the "
                    "column of ones."
                )
            if X.ndim != 2 or X.shape[1] != self.n_features + 1:
                raise ValueError(
                    f"with ones_column=True, X must have {self.n_features + 1} columns "
                    f"(a column of ones, then the {self.n_features} features); received "
                    f"shape {X.shape}. Prepend the ones, or pass ones_column=False."
                )
        value, grads = self._loss_and_gradients(X, target, sample_weight, True, l2, ones_column)
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"the loss became {value} at optimizer step {self.optimizer.iterations + 1}; "
                "training stopped and the last finite weights were kept. Lower the "
                "learning rate, scale the inputs, or check the targets."
            )
        self.optimizer.step(self.params, grads)
        return value

    def _metric_output(self, out: np.ndarray) -> np.ndarray:
        """The network's output from what ``_forward_train`` returned."""
        if not self.fused:
            return out
        last = self.layers[-1]
        inplace, last.inplace = last.inplace, False
        try:
            return last.forward(out, False)
        finally:
            last.inplace = inplace

    # ------------------------------------------------------------ public API

    def fit(self, X, y, epochs: int = 1, batch_size: int = 32, *, verbose: int = 0, **kwargs):
        """Train the network; see :func:`chainrule.training.fit` for every argument.

        Returns the :class:`~chainrule.training.History` (also kept in ``self.history``).
        """
        from chainrule.training import fit

        return fit(self, X, y, epochs=epochs, batch_size=batch_size, verbose=verbose, **kwargs)

    def predict(self, X, batch_size: int = 4096, verbose: int = 0) -> np.ndarray:
        """The network's output for ``X`` (probabilities for a Sigmoid/Softmax output).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        batch_size : int, default=4096
            Rows per forward pass (bounds memory, not the result).
        verbose : int, default=0
            0 silent, 1 a progress bar, 2 one line when done.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
        """
        from chainrule.training import _check_verbose, progress_bar

        verbose = _check_verbose(verbose)
        X = self._check_predict_input(X)
        batch_size = check_positive_int(batch_size, "batch_size")
        result = np.empty((X.shape[0], self.n_outputs), dtype=self.dtype)
        starts = range(0, X.shape[0], batch_size)
        with progress_bar(len(starts), verbose, "predict", line=True) as bar:
            for start in starts:
                stop = min(start + batch_size, X.shape[0])
                result[start:stop] = self.forward(X[start:stop], training=False)
                bar.update(1)
        return result

    def predict_proba(self, X, batch_size: int = 4096, verbose: int = 0) -> np.ndarray:
        """Class probabilities: the output of a final Softmax or Sigmoid layer.

        For one sigmoid output, returns two columns ``[1 - p, p]`` as scikit-learn does.
        """
        last = self.layers[-1]
        if getattr(last, "name", None) not in ("softmax", "logistic"):
            raise ValueError(
                "predict_proba needs a Softmax() or Sigmoid() last layer; this network ends "
                f"with {last!r}. Use predict() for its raw output."
            )
        proba = self.predict(X, batch_size, verbose)
        if proba.shape[1] == 1 and last.name == "logistic":
            return np.hstack([1 - proba, proba])
        return proba

    def evaluate(self, X, y, batch_size: int = 4096, verbose: int = 0, sample_weight=None):
        """Loss and metrics on ``(X, y)``, as a dict ``{"loss": ..., "accuracy": ...}``."""
        from chainrule.training import evaluate

        return evaluate(
            self, X, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight
        )

    def _check_predict_input(self, X) -> np.ndarray:
        X = check_array(X, "X", dtype=self.dtype)
        if not self.built:
            raise ValueError("this network has no weights yet: call fit() or build() first")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the network was trained with "
                f"{self.n_features}; pass data with the same columns as in training."
            )
        return X

    def _prepare_xy(self, X, y, x_name="X", y_name="y"):
        X = check_array(X, x_name, dtype=self.dtype)
        y_arr = check_array(y, y_name, ndim=(1, 2))
        check_consistent_length(X, y_arr, x_name, y_name)
        self._ensure_built(X, x_name)
        return X, self.loss.prepare_target(y_arr, self.n_outputs, self.dtype)

    # ------------------------------------------------------------ weights

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters in layer order: ``[W1, b1, W2, b2, ...]`` (as Keras)."""
        self._require_built()
        return [p.copy() for p in self._param_views()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Set the parameters from a list in the order of :meth:`get_weights`."""
        self._require_built()
        views = self._param_views()
        if len(weights) != len(views):
            raise ValueError(
                f"weights must be a list of {len(views)} arrays "
                f"({', '.join(str(v.shape) for v in views)}); received {len(weights)}"
            )
        for i, (view, w) in enumerate(zip(views, weights, strict=True)):
            w = np.asarray(w)
            if w.shape != view.shape:
                raise ValueError(
                    f"weights[{i}] must have shape {view.shape}; received shape {w.shape}"
                )
            view[...] = w

    def get_gradients(self) -> list[np.ndarray]:
        """Copies of the last computed gradients, in the order of :meth:`get_weights`."""
        self._require_built()
        return [g.copy() for g in self._grad_views()]

    def _param_views(self) -> list[np.ndarray]:
        return [v for layer in self.layers if layer.param_shapes() for v in layer.param_arrays]

    def _grad_views(self) -> list[np.ndarray]:
        return [v for layer in self.layers if layer.param_shapes() for v in layer.grad_arrays]

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError("this network has no weights yet: call fit() or build(n_features)")

    @property
    def n_params(self) -> int:
        """Number of trainable values (0 before :meth:`build`)."""
        return int(self.params.size) if self.built else 0

    # ------------------------------------------------------------ description

    def summary(self, print_fn=print) -> str:
        """A table of layers, output shapes and parameter counts; printed and returned."""
        self._require_built()
        rows = [("Layer", "Output shape", "Params")]
        for layer, shape in zip(self.layers, self.output_shapes, strict=True):
            name = type(layer).__name__
            if isinstance(layer, Dense):
                name += f"({layer.units})"
            rows.append((name, str(shape), f"{layer.n_params:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(3)]
        rule = "-" * (sum(widths) + 4)
        lines = [rule]
        for k, row in enumerate(rows):
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")
            if k == 0:
                lines.append(rule)
        lines += [
            rule,
            f"Total params: {self.n_params:,} ({self.dtype.name})",
            f"Input features: {self.n_features}; loss: {self.loss.name}; "
            f"optimizer: {self.optimizer!r}",
        ]
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def get_config(self) -> dict[str, Any]:
        """JSON-safe description; ``Network.from_config(config)`` rebuilds it, unfitted."""
        return {
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
            "loss": self.loss.name,
            "optimizer": {"class_name": self.optimizer.name, "config": self.optimizer.get_config()},
            "metrics": [m.name for m in self.metrics],
            "l2": self.l2,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Network:
        """Build an (unfitted) network from :meth:`get_config`'s output."""
        opt = config["optimizer"]
        opt_cls = OPTIMIZERS.get(opt["class_name"])
        if opt_cls is None:
            raise ValueError(
                f"unknown optimizer {opt['class_name']!r}; expected one of {sorted(OPTIMIZERS)}"
            )
        if config["loss"] not in LOSSES:
            raise ValueError(f"unknown loss {config['loss']!r}; expected one of {sorted(LOSSES)}")
        return cls(
            [layer_from_config(c) for c in config["layers"]],
            loss=config["loss"],
            optimizer=opt_cls.from_config(opt["config"]),
            metrics=config.get("metrics", ()),
            l2=config.get("l2", 0.0),
            seed=config.get("seed"),
            dtype=config.get("dtype", "float32"),
        )

    # ------------------------------------------------------------ model files

    def save(self, path: str | os.PathLike) -> os.PathLike:
        """Write the network to one model file, atomically; ``chainrule.load(path)`` reads it.

        The file holds :meth:`get_config` (layers, loss, optimizer settings), the flat
        parameter vector and the training history; see :mod:`chainrule.io`.
        """
        from chainrule.io import save

        return save(self, path)

    def _model_state(self) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
        """``(kind, JSON-safe header, arrays)`` for :func:`chainrule.io.save`."""
        self._require_built()
        history = None
        if self.history is not None:
            history = {"epoch": list(self.history.epoch), "history": self.history.history}
        header = {
            "architecture": self.get_config(),
            "n_features": self.n_features,
            "n_outputs": self.n_outputs,
            "n_params": self.n_params,
            "dtype": self.dtype.name,
            "history": history,
        }
        return "Network", header, {"params": self._params_for_file()}

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Network:
        """Rebuild a saved network from :func:`chainrule.io.load`'s checked header and arrays."""
        from chainrule.training import History

        net = cls.from_config(header["architecture"])
        params = arrays["params"]
        # Count the parameters the architecture needs before allocating them: a
        # small file must not be able to ask for terabytes.
        width = check_positive_int(header["n_features"], "n_features")
        needed = 0
        for layer in net.layers:
            width = layer.build(width, net.rng, net.dtype)
            needed += sum(math.prod(shape) for _, shape in layer.param_shapes())
        if params.shape != (needed,) or params.dtype != net.dtype:
            raise ValueError(
                f"the architecture needs {needed} {net.dtype.name} parameters; the "
                f"file holds {params.size} of dtype {params.dtype}"
            )
        net.build(header["n_features"])
        net._set_params_from_file(params)
        if header.get("history") is not None:
            net.history = History()
            net.history.epoch = [int(e) for e in header["history"]["epoch"]]
            net.history.history = {
                str(k): [float(v) for v in values]
                for k, values in header["history"]["history"].items()
            }
        return net

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{layers}], loss={self.loss.name!r}, optimizer={self.optimizer!r})"
