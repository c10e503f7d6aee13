"""Network: layers, a loss and an optimizer around ONE flat parameter vector.

All trainable values live in one contiguous vector ``network.params`` (and their
gradients in ``network.grads``); each layer's weights and bias are views into it. The
order, the same in memory and in model files: every weight matrix, layer by layer,
then every bias, layer by layer. The weights sit together, so L2 weight decay is one
call over one slice; an optimizer step is a handful of NumPy calls over the whole
vector.

One training step (:meth:`Network.train_step`) is the lesson's chain rule, layer by
layer: forward through the layers, the loss and its gradient ``derror_dprediction``,
backward through the layers in reverse (each multiplies in its local derivative and
fills its parameter gradients), then the optimizer's update. :meth:`loss_and_gradient`
does the same for any parameter vector without changing the network. Predictions call
each layer's formula (``layer(x)``), which keeps nothing: one fitted network can
predict from many threads at once.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import kernels
from chainrule._validation import (
    check_array,
    check_consistent_length,
    check_non_negative_float,
    check_positive_int,
    check_sample_weight,
    check_seed,
)
from chainrule.callbacks import Callback, History
from chainrule.errors import TrainingDivergedError
from chainrule.io import save
from chainrule.layers import LAYERS, Activation, Dense, Layer, get_layer, layer_from_config
from chainrule.losses import LOSSES, Loss, get_loss
from chainrule.metrics import Metric, get_metric
from chainrule.optimizers import OPTIMIZERS, Optimizer, get_optimizer
from chainrule.progress import check_verbose, progress_bar
from chainrule.resume import HEADER_KEY as RESUME_KEY
from chainrule.resume import array_names, restore_training_state, training_state
from chainrule.training import (
    ArrayBatches,
    CheckedChunks,
    ChunkBatches,
    fit,
    is_chunk_source,
    n_batches,
)

__all__ = ["LOSS_BLOCK_ROWS", "Network"]

#: Rows per block in :meth:`Network.loss_and_gradient` (and so in L-BFGS).
LOSS_BLOCK_ROWS = 2048


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
    l2_divided_by_batch : bool, default=False
        Divide the L2 term by the batch's total sample weight (its number of samples
        when unweighted), as scikit-learn's ``alpha`` is.
    l1 : float, default=0.0
        L1 penalty on the weight matrices (not the biases): the loss gains
        ``l1 * sum(|W|)`` and the gradient ``l1 * sign(W)`` (0 where a weight is 0).
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
    epoch : int
        Epochs trained: where the last :meth:`fit` stopped (0 before any). A model file
        keeps it with the rest of the training state; ``fit(X, y, epochs=N,
        initial_epoch=net.epoch)`` resumes exactly (:mod:`chainrule.resume`).

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
        l2_divided_by_batch: bool = False,
        l1: float = 0.0,
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
        self.l2_divided_by_batch = bool(l2_divided_by_batch)
        self.l1 = check_non_negative_float(l1, "l1")
        self.seed = check_seed(seed)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64'; received dtype={dtype!r}")
        self.rng = np.random.default_rng(seed)
        self.fused = self._check_output_layer()
        # how many layers lead to what the loss takes: all but the output layer when fused
        self._n_to_loss = len(self.layers) - 1 if self.fused else len(self.layers)
        self.built = False
        self.history = None
        self.stop_training = False
        self.epoch = 0
        self._batch_order: np.ndarray | None = None  # the rows' order in the last epoch
        self._callbacks: list[Callback] = []  # the running training's, whose state a save keeps
        self._saved_callback_states: list[tuple[str, dict]] | None = None  # from a file

    def _check_output_layer(self) -> bool:
        """Whether the loss is fused with the last layer; refuse mismatched pairs."""
        wanted = self.loss.output_activation
        last = self.layers[-1]
        if wanted is None:
            return False
        last_name = getattr(last, "name", None) if isinstance(last, Activation) else None
        if last_name != wanted:
            named = [cls.__name__ for cls in LAYERS.values() if getattr(cls, "name", "") == wanted]
            layer = f"{named[0]}()" if named else f"the {wanted!r} activation"
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

        # every weight matrix, then every bias: (layer index, name, slice, shape)
        specs = [
            (i, name, shape)
            for i, layer in enumerate(self.layers)
            for name, shape in layer.param_shapes()
        ]
        ordered = [s for s in specs if s[1] != "bias"] + [s for s in specs if s[1] == "bias"]
        self._layout, offset = [], 0
        for i, name, shape in ordered:
            size = math.prod(shape)
            self._layout.append((i, name, slice(offset, offset + size), shape))
            offset += size
        self.n_weights = sum(s.stop - s.start for _, name, s, _ in self._layout if name != "bias")
        self.params = np.zeros(offset, dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        self._bind(self.layers, self.params, self.grads)
        for layer in self.layers:
            layer.reset_parameters(self.rng)

        # Backward stops at the first layer with parameters: it needs no input gradient.
        trainable = [i for i, layer in enumerate(self.layers) if layer.param_shapes()]
        self._first_trainable = trainable[0] if trainable else len(self.layers)
        for i, layer in enumerate(self.layers):
            layer.needs_input_grad = i > self._first_trainable
        self.optimizer.build(self.params)
        self.built = True
        return self

    def _bind(self, layers: Sequence[Layer], params: np.ndarray, grads: np.ndarray) -> None:
        """Hand each of ``layers`` (this network's, or copies of them) its views of
        ``params`` and ``grads``, in the order of :meth:`Layer.param_shapes`."""
        views = {(i, name): (s, shape) for i, name, s, shape in self._layout}
        for i, layer in enumerate(layers):
            names = [name for name, _ in layer.param_shapes()]
            if names:
                spots = [views[i, name] for name in names]
                layer.bind(
                    [params[s].reshape(shape) for s, shape in spots],
                    [grads[s].reshape(shape) for s, shape in spots],
                )

    def unflatten(self, vector: np.ndarray) -> list[np.ndarray]:
        """Views of a flat vector laid out like ``params``, one per array in layer order:
        ``[W1, b1, W2, b2, ...]`` (the order of :meth:`get_weights`)."""
        self._require_built()
        views = {(i, name): (s, shape) for i, name, s, shape in self._layout}
        return [
            vector[views[i, name][0]].reshape(views[i, name][1])
            for i, layer in enumerate(self.layers)
            for name, _ in layer.param_shapes()
        ]

    def __getstate__(self) -> dict[str, Any]:
        # The layers' arrays are views of params and grads: copies and pickles leave
        # them out, and __setstate__ makes them views again.
        state = dict(self.__dict__)
        # callbacks may hold what cannot be copied (progress bars): keep their state only
        state["_saved_callback_states"] = self._callback_states()
        state["_callbacks"] = []
        state.pop("_fused_step", None)  # the fused step's buffers (chainrule.fused)
        if self.built:
            state["layers"] = [_unbound(layer, self.params, self.grads) for layer in self.layers]
        return state

    def _callback_states(self) -> list[tuple[str, dict[str, Any]]]:
        """``(state_key, state)`` of the last training's callbacks (or those loaded)."""
        if self._callbacks:
            return [(c.state_key, c.get_state()) for c in self._callbacks if c.get_state()]
        return list(self._saved_callback_states or [])

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_params_layout" in state:
            raise ValueError(
                "this pickle was written by a development version of chainrule whose "
                "parameters were in another order; it cannot be read. Save models with "
                "model.save(path): model files of every version load."
            )
        self.__dict__.update(state)
        if self.built:
            self._bind(self.layers, self.params, self.grads)

    # ------------------------------------------------------------ the chain rule

    def _backpropagate(self, layers, params, X, target, sample_weight, training, l2, l1=0.0):
        """Forward through ``layers``, the loss, then backward: fills the gradient vector
        the layers are bound to.

        Returns the loss (with the L2 term ``0.5 * l2 * sum(W**2)`` and the L1 term
        ``l1 * sum(|W|)``) and what the loss took: the prediction, or its logits when the
        loss is fused with the output layer. A non-finite loss returns before the
        backward pass. The penalties' gradients are not added here: :meth:`train_step`
        adds L1's, ``l1 * sign(W)``, and :meth:`Optimizer.step` L2's, ``l2 * W``.
        """
        output = X
        for layer in layers[: self._n_to_loss]:
            output = layer.forward(output, training)
        # With a fused output (softmax + cross-entropy, sigmoid + binary cross-entropy)
        # the loss takes the logits and its gradient is already
        # derror_dprediction * dprediction_dlogits = prediction - target.
        error, derror_dprediction = self.loss.value_and_gradient(output, target, sample_weight)
        error += self._penalty(params, l2, l1)
        if not math.isfinite(error):
            return error, output
        gradient = derror_dprediction
        for layer in reversed(layers[self._first_trainable : self._n_to_loss]):
            gradient = layer.backward(gradient)
        return error, output

    def _penalty(self, params: np.ndarray, l2: float, l1: float) -> float:
        """The weight penalties' value: ``0.5 * l2 * sum(W**2) + l1 * sum(|W|)``."""
        weights = params[: self.n_weights]
        penalty = 0.5 * l2 * float(weights @ weights) if l2 else 0.0
        if l1:
            penalty += l1 * float(np.sum(np.abs(weights)))
        return penalty

    def _add_l1_gradient(self, params: np.ndarray, grads: np.ndarray) -> None:
        """L1's gradient joins the weights' gradient: ``grads[W] += l1 * sign(W)``."""
        if self.l1:
            grads[: self.n_weights] += self.l1 * np.sign(params[: self.n_weights])

    def _l2(self, batch_weight: float) -> float:
        """The L2 factor for a batch of this total sample weight."""
        if self.l2_divided_by_batch and self.l2:
            return self.l2 / batch_weight if batch_weight > 0 else 0.0
        return self.l2

    def train_step(self, X: np.ndarray, y: np.ndarray, sample_weight=None) -> float:
        """One step of gradient descent on one batch: forward, loss, backward, update.

        ``X`` must have the network's dtype and ``y`` the form the loss takes
        (``network.loss.prepare_target``), as the training loop's batches do. The
        metrics are updated with the batch. Returns the batch's loss.

        Raises
        ------
        TrainingDivergedError
            When the loss is not finite; the weights are not updated.
        """
        weight = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        l2 = self._l2(weight)
        # a fused step (chainrule.kernels, mode "numba") computes the same in fewer passes
        fused_step = kernels.step_kernel(self)
        if fused_step is None:
            error, output = self._backpropagate(
                self.layers, self.params, X, y, sample_weight, True, l2, self.l1
            )
        else:
            error, output = fused_step(X, y, sample_weight, l2)
            if self.l1:  # the fused step adds the L2 term only
                error += self.l1 * float(np.sum(np.abs(self.params[: self.n_weights])))
        if not math.isfinite(error):
            raise TrainingDivergedError(
                f"the loss became {error} at optimizer step {self.optimizer.iterations + 1}; "
                "training stopped and the last finite weights were kept. Lower the "
                "learning rate, scale the inputs, or check the targets."
            )
        self._add_l1_gradient(self.params, self.grads)
        self.optimizer.step(self.params, self.grads, l2, self.n_weights)
        if self.metrics:
            prediction = self._prediction_from(output)
            for metric in self.metrics:
                metric.update(prediction, y)
        return error

    def loss_and_gradient(
        self,
        params: np.ndarray,
        X,
        y,
        sample_weight=None,
        *,
        training: bool = False,
        check_input: bool = True,
    ) -> tuple[float, np.ndarray]:
        """The loss (with the L2 term) at ``params`` and its gradient, as a new flat vector.

        A pure function: it reads the parameter vector it is given, changes nothing on
        the network (its parameters, gradients, random generator and layers stay as
        they were) and is safe to call from several threads. L-BFGS, the gradient
        checks and distributed training call it. It works through the rows in blocks of
        :data:`LOSS_BLOCK_ROWS`, adding up the blocks' gradients by their share of the
        sample weight.

        Parameters
        ----------
        params : array-like of shape (n_params,)
            Laid out like ``network.params``.
        X : array-like of shape (n_samples, n_features)
        y : array-like
            Targets as for ``fit``.
        sample_weight : array-like of shape (n_samples,), optional
        training : bool, default=False
            False runs the layers as predictions do (no dropout). True runs them as a
            training step does: Dropout drops, with masks drawn from a copy of the
            network's random generator, so every call draws the same masks.
        check_input : bool, default=True
            False skips the checks of ``X``, ``y`` and ``sample_weight`` for callers
            that prepared them (the network's dtype, targets as the loss takes them).

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_params,)
        """
        self._require_built()
        params = np.asarray(params)
        if params.shape != self.params.shape:
            raise ValueError(
                f"params must be a flat vector of {self.params.size} values (laid out like "
                f"network.params); received shape {params.shape}"
            )
        params = params.astype(self.dtype, copy=False)
        if check_input:
            X, y = self._prepare_xy(X, y)
            if sample_weight is not None:
                sample_weight = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        layers = [copy.copy(layer) for layer in self.layers]  # they keep this pass's arrays
        block_grads = np.empty_like(params)
        self._bind(layers, params, block_grads)
        if training:
            rng = copy.deepcopy(self.rng)
            for layer in layers:
                layer.rng = rng
        # Block by block of rows: memory stays bounded, the arrays stay in cache. The
        # loss is a weighted mean, so each block counts by its share of the weight.
        n = X.shape[0]
        total = n if sample_weight is None else float(np.sum(sample_weight))
        error, grads = 0.0, np.zeros_like(params)
        for start in range(0, n, LOSS_BLOCK_ROWS):
            rows = slice(start, start + LOSS_BLOCK_ROWS)
            block_weights = None if sample_weight is None else sample_weight[rows]
            block = X[rows].shape[0] if block_weights is None else float(np.sum(block_weights))
            if block <= 0:
                continue
            block_error, _ = self._backpropagate(
                layers, params, X[rows], y[rows], block_weights, training, 0.0
            )
            if not math.isfinite(block_error):  # no backward pass ran: no gradient either
                return block_error, np.full_like(params, np.nan)
            error += block / total * block_error
            grads += block / total * block_grads
        l2 = self._l2(total)
        error += self._penalty(params, l2, self.l1)
        if l2:
            grads[: self.n_weights] += l2 * params[: self.n_weights]
        self._add_l1_gradient(params, grads)
        return error, grads

    def _prediction_from(self, output: np.ndarray) -> np.ndarray:
        """The network's prediction from what the loss took (the logits when fused)."""
        return self.layers[-1](output) if self.fused else output

    # ------------------------------------------------------------ predictions

    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Run ``X`` through every layer; returns the last layer's output.

        With ``training=False`` (predictions) each layer applies its formula and keeps
        nothing. With ``training=True`` it is a training pass: every layer keeps what
        its backward needs, and Dropout drops.
        """
        output = X
        for layer in self.layers:
            output = layer.forward(output, True) if training else layer(output)
        return output

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
        verbose = check_verbose(verbose)
        X = self._check_predict_input(X)
        batch_size = check_positive_int(batch_size, "batch_size")
        result = np.empty((X.shape[0], self.n_outputs), dtype=self.dtype)
        starts = range(0, X.shape[0], batch_size)
        with progress_bar(len(starts), verbose, "predict", line=True) as bar:
            for start in starts:
                stop = min(start + batch_size, X.shape[0])
                # (a memory-mapped X is read, and converted, block by block)
                result[start:stop] = self.forward(np.asarray(X[start:stop], dtype=self.dtype))
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

    def evaluate(
        self, X, y=None, batch_size: int = 4096, verbose: int = 0, sample_weight=None
    ) -> dict[str, float]:
        """Loss and metrics on ``(X, y)``, as a dict ``{"loss": ..., "accuracy": ...}``.

        The loss is the weighted mean over the samples plus the L2 term, as ``fit``
        logs it; nothing is kept on the network. ``X`` may be a chunk source (``y``
        omitted), as in :meth:`fit`: the chunks are scored one by one.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        verbose = check_verbose(verbose)
        if is_chunk_source(X, y):
            self._require_built()
            if sample_weight is not None:
                raise ValueError(
                    "sample_weight cannot be given beside a chunk source: put each chunk's "
                    "weights in the chunk, as (X, y, sample_weight)"
                )
            chunks = CheckedChunks(self, X, "X")
            batches = ChunkBatches(chunks, batch_size=batch_size, shuffle=False)
            return self._evaluate(batches, verbose)
        if y is None:
            raise TypeError("evaluate needs y, the targets, with X an array; received y=None")
        X = self._check_predict_input(X)
        target = self.loss.prepare_target(self._check_target(X, y), self.n_outputs, self.dtype)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        batches = ArrayBatches(
            X, target, sample_weight, batch_size=batch_size, shuffle=False, dtype=self.dtype
        )
        return self._evaluate(batches, verbose)

    def _evaluate(self, batches, verbose: int = 0) -> dict[str, float]:
        """Loss and metrics over a batch source of prepared batches (fit's validation)."""
        metrics = [type(m)() for m in self.metrics]  # fresh: fit's own and other threads'
        loss_total = weight_total = 0.0
        n_rows = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            with progress_bar(n_batches(batches), verbose, "evaluate", line=True) as bar:
                for X, target, sample_weight in batches:
                    output = X
                    for layer in self.layers[: self._n_to_loss]:
                        output = layer(output)
                    weight = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
                    loss_total += self.loss.value(output, target, sample_weight) * weight
                    weight_total += weight
                    n_rows += X.shape[0]
                    if metrics:
                        prediction = self._prediction_from(output)
                        for metric in metrics:
                            metric.update(prediction, target)
                    bar.update(1)
        if n_rows == 0:  # only a chunk source can be empty: arrays are checked first
            raise ValueError(
                "nothing to evaluate: the chunk source yielded no rows; give it chunks of "
                "(X, y) with at least one row"
            )
        loss = loss_total / weight_total if weight_total else float("nan")
        scores = {"loss": loss + self._penalty(self.params, self._l2(weight_total), self.l1)}
        for metric in metrics:
            scores[metric.name] = metric.result()
        return scores

    def _check_predict_input(self, X) -> np.ndarray:
        X = check_array(X, "X", dtype=self.dtype, keep_mapped=True)
        if not self.built:
            raise ValueError("this network has no weights yet: call fit() or build() first")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the network was trained with "
                f"{self.n_features}; pass data with the same columns as in training."
            )
        return X

    def _prepare_xy(self, X, y, x_name="X", y_name="y"):
        """``X`` checked and in the network's dtype, ``y`` as the loss takes it; builds
        the network on the first data it sees."""
        X = check_array(X, x_name, dtype=self.dtype, keep_mapped=True)
        y = self._check_target(X, y, x_name, y_name)
        if not self.built:
            self.build(X.shape[1])
        elif X.shape[1] != self.n_features:
            raise ValueError(
                f"{x_name} has {X.shape[1]} features, but the network was built for "
                f"{self.n_features}; pass data with the same columns as in training."
            )
        return X, self.loss.prepare_target(y, self.n_outputs, self.dtype)

    @staticmethod
    def _check_target(X: np.ndarray, y, x_name="X", y_name="y") -> np.ndarray:
        """``y`` as an array of numbers with one row per row of the checked ``X``."""
        y = check_array(y, y_name, ndim=(1, 2))
        check_consistent_length(X, y, x_name, y_name)
        return y

    # ------------------------------------------------------------ training

    def fit(
        self,
        X,
        y=None,
        epochs: int = 1,
        batch_size: int = 32,
        *,
        verbose: int = 0,
        shuffle: bool = True,
        validation_split: float = 0.0,
        validation_data: tuple | None = None,
        callbacks: Sequence[Callback] = (),
        sample_weight=None,
        initial_epoch: int = 0,
        shuffle_buffer: int = 4,
    ) -> History:
        """Train the network on ``(X, y)`` by mini-batch gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a chunk source
            Converted once to the network's dtype; float arrays of that dtype are used
            without a copy. A memory-mapped array (``np.load(path, mmap_mode="r")``)
            stays on disk: it is checked block by block and each batch reads (and
            converts) its rows. Or, with ``y`` omitted, a **chunk source** for data
            larger than memory: a re-iterable of ``(X, y)`` or ``(X, y,
            sample_weight)`` chunks, read once per epoch (a list of tuples,
            :class:`chainrule.Chunks` around a function that makes a generator,
            :func:`chainrule.array_chunks` over a memory-mapped array); each chunk is
            checked as it is read.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: values for ``"mse"``, 0/1 for ``"binary_crossentropy"``, integer
            labels or one-hot rows for ``"categorical_crossentropy"``. None when ``X``
            is a chunk source.
        epochs : int, default=1
            Passes over the training data.
        batch_size : int, default=32
            Samples per gradient step (the last batch of an epoch may be smaller).
        verbose : {0, 1, 2}, default=0
            0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        shuffle : bool, default=True
            Shuffle the training samples before each epoch (from the network's seed).
            For a chunk source the rows are shuffled **within a buffer** of
            ``shuffle_buffer`` chunks, not globally (see ``shuffle_buffer``).
        validation_split : float, default=0.0
            Fraction of the samples, taken from the end before shuffling (as Keras), held
            out for validation. Ignored when ``validation_data`` is given; not available
            for a chunk source.
        validation_data : tuple or chunk source, optional
            ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``, or a chunk
            source: held-out data scored at the end of every epoch (``val_loss`` and
            metrics).
        callbacks : list of Callback, default=()
            Such as :class:`EarlyStopping` or :class:`ReduceLROnPlateau`.
        sample_weight : array-like of shape (n_samples,), optional
            Weight of each sample in the loss.
        initial_epoch : int, default=0
            The epoch to start at, as Keras's: epochs ``initial_epoch`` to ``epochs - 1``
            run, so ``epochs`` is the epoch to stop at, not a number of more epochs.
            Given ``self.epoch`` (where the last fit stopped, also after :func:`load`),
            training resumes exactly: the optimizer's moments and step count, the random
            generator, the rows' order and the callbacks' state (best value, patience
            count) carry on, and the history continues; with the same data the weights
            equal those of one uninterrupted run, bit for bit on one thread.
        shuffle_buffer : int, default=4
            For a chunk source: the chunks held in memory and shuffled together. Rows
            move only within the buffer, so a file sorted by class or date needs a
            larger buffer (or smaller chunks, or a file shuffled once beforehand).
            Memory: about twice ``shuffle_buffer`` chunks while a buffer is shuffled.

        Returns
        -------
        History
            Also kept in ``self.history``.
        """
        return fit(
            self,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
            shuffle=shuffle,
            validation_split=validation_split,
            validation_data=validation_data,
            callbacks=callbacks,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
            shuffle_buffer=shuffle_buffer,
        )

    # ------------------------------------------------------------ weights

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameters in layer order: ``[W1, b1, W2, b2, ...]`` (as Keras)."""
        return [p.copy() for p in self.unflatten(self.params)]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Set the parameters from a list in the order of :meth:`get_weights`."""
        views = self.unflatten(self.params)
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
            "l2_divided_by_batch": self.l2_divided_by_batch,
            "l1": self.l1,
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
            l2_divided_by_batch=config.get("l2_divided_by_batch", False),
            l1=config.get("l1", 0.0),
            seed=config.get("seed"),
            dtype=config.get("dtype", "float32"),
        )

    # ------------------------------------------------------------ model files

    def save(self, path: str | os.PathLike) -> os.PathLike:
        """Write the network to one model file, atomically; ``chainrule.load(path)`` reads it.

        The file holds :meth:`get_config` (layers, loss, optimizer settings), the flat
        parameter vector, the training history and, once trained, the training state
        that resuming needs (:mod:`chainrule.resume`: the optimizer's moments, so an
        Adam network's file holds three times its parameters); see :mod:`chainrule.io`.
        """
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
        arrays = {"params": self.params}
        self._add_training_state(header, arrays)
        return "Network", header, arrays

    def _add_training_state(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Add the training state (:mod:`chainrule.resume`) to a model file's contents."""
        state, state_arrays = training_state(self)
        if state is not None:
            header[RESUME_KEY] = state
            arrays.update(state_arrays)

    def _restore_training_state(self, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """Put back what :meth:`_add_training_state` saved, if the file has it."""
        if header.get(RESUME_KEY) is not None:
            restore_training_state(self, header[RESUME_KEY], arrays)
        elif array_names(arrays):
            raise ValueError(
                f"its arrays {sorted(array_names(arrays))} belong to a training state, but "
                f"the header has no {RESUME_KEY}"
            )

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Network:
        """Rebuild a saved network from :func:`chainrule.io.load`'s checked header and arrays."""
        net = cls.from_config(header["architecture"])
        # chainrule.io has checked that the file holds as many values as this needs
        net.build(check_positive_int(header["n_features"], "n_features"))
        params = arrays.get("params")
        if params is None or params.shape != net.params.shape or params.dtype != net.dtype:
            raise ValueError(
                f"the architecture needs {net.params.size} {net.dtype.name} parameters; the "
                f"file holds {None if params is None else params.size} of dtype "
                f"{None if params is None else params.dtype}"
            )
        net.params[...] = params
        net._restore_training_state(header, arrays)
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


def _unbound(layer: Layer, *vectors: np.ndarray) -> Layer:
    """A shallow copy of ``layer`` without the arrays that are views of ``vectors``."""
    clone = copy.copy(layer)
    for name, value in list(vars(clone).items()):
        arrays = value if isinstance(value, list) else [value]
        if any(
            isinstance(a, np.ndarray) and any(np.may_share_memory(a, v) for v in vectors)
            for a in arrays
        ):
            delattr(clone, name)
    return clone
