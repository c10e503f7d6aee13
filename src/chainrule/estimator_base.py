"""The machinery behind chainrule's scikit-learn estimators (:mod:`chainrule.estimators`).

:class:`_BaseMLP` builds the estimators' :class:`~chainrule.Network` (``Dense`` layers,
a hidden activation, scikit-learn's output layer and loss), draws scikit-learn's
initial weights, keeps ``coefs_`` and ``intercepts_`` as views of the network's
parameters, and trains: sgd and adam through chainrule's one training loop, with
scikit-learn's rules plugged into its seams (:mod:`chainrule.sklearn_rules`); lbfgs
through ``scipy.optimize.minimize(method="L-BFGS-B")`` over the network's pure
:meth:`~chainrule.Network.loss_and_gradient`. It also writes and reads the
estimators' model files.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from chainrule._validation import check_array, is_memory_mapped
from chainrule.blas import other_blas_single_threaded
from chainrule.callbacks import check_callbacks
from chainrule.errors import TrainingDivergedError
from chainrule.filecheck import finite_number, is_int, is_number, unique_strings
from chainrule.io import save
from chainrule.layers import ACTIVATIONS, HIDDEN_ACTIVATIONS, Dense, Dropout
from chainrule.network import Network
from chainrule.optimizers import SGD, Adam
from chainrule.resume import HEADER_KEY as RESUME_KEY
from chainrule.resume import random_state_from_file, random_state_to_file
from chainrule.sklearn_rules import OUTPUTS, InverseScaling, SklearnEpochs
from chainrule.training import (
    ArrayBatches,
    Batch,
    ChunkBatches,
    is_chunk_source,
    is_empty_chunk,
    refuse_y_beside_chunks,
    train,
)

try:  # scikit-learn's shim for SciPy's changing L-BFGS-B options (1.6+)
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:  # pragma: no cover

    def _get_additional_lbfgs_options_dict(key, value):
        return {}


__all__: list[str] = []

_STOCHASTIC_SOLVERS = ("sgd", "adam")


_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed"
)

#: Rows per forward pass at prediction time (bounds memory for large or sparse X).
_PREDICT_CHUNK = 4096

#: Chunks of a chunk source whose rows are shuffled together (fit on a chunk source).
_SHUFFLE_BUFFER = 4


class _BaseMLP(BaseEstimator):
    """Shared fit/predict machinery of MLPClassifier and MLPRegressor (not public)."""

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # [0, 1): momentum=1 never forgets a gradient (scikit-learn accepts 1.0)
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "callbacks": [list, None],
        "dtype": [
            StrOptions({"float32", "float64"}),
            Options(type, {np.float32, np.float64}),
            None,
        ],
    }

    # ------------------------------------------------------------ building

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _make_optimizer(self):
        if self.solver == "adam":
            return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        # sgd (and a placeholder for lbfgs, which steps through scipy instead)
        return SGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum)

    def _optimizer_settings(self) -> tuple:
        """What the optimizer is made from: a warm start with other values starts a new one."""
        if self.solver == "adam":
            return ("adam", self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        return ("sgd", self.learning_rate_init, self.momentum, self.nesterovs_momentum)

    def _build_network(self, layer_units: list[int], dtype, seed) -> Network:
        """``Dense -> activation [-> Dropout]`` per hidden layer, then the output layer."""
        hidden = ACTIVATIONS[self.activation]
        layers = []
        for units in layer_units[1:-1]:
            layers += [Dense(units, kernel_initializer="zeros"), hidden()]
            if self.dropout:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(layer_units[-1], kernel_initializer="zeros"))
        output_layer, loss = OUTPUTS[self.out_activation_]
        if output_layer is not None:
            layers.append(output_layer())
        net = Network(
            layers,
            loss=loss(),
            optimizer=self._make_optimizer(),
            l2=self.alpha,
            l2_divided_by_batch=True,
            seed=seed,
            dtype=dtype,
        )
        self._architecture = (self.activation, self.dropout)
        return net.build(layer_units[0])

    def _init_coef(self, fan_in: int, fan_out: int, dtype) -> tuple[np.ndarray, np.ndarray]:
        """scikit-learn's Glorot-uniform draw for one layer (weights, then biases)."""
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        init_bound = np.sqrt(factor / (fan_in + fan_out))
        coef = self._random_state.uniform(-init_bound, init_bound, (fan_in, fan_out))
        intercept = self._random_state.uniform(-init_bound, init_bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def _initialize(self, n_outputs: int, layer_units: list[int], dtype, initial=None) -> None:
        """Set up a first fit: attributes, the network, and its initial weights.

        ``initial`` is ``(coefs, intercepts)`` the user set on an estimator never fitted
        (then they are the starting point); otherwise weights are drawn as scikit-learn does.
        """
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        if initial is None:
            pairs = [self._init_coef(a, b, dtype) for a, b in pairwise(layer_units)]
            initial = ([c for c, _ in pairs], [b for _, b in pairs])
        # Dropout's generator is seeded from random_state only when there is dropout,
        # so without it the RandomState stream stays exactly scikit-learn's.
        seed = int(self._random_state.randint(np.iinfo(np.int32).max)) if self.dropout else None
        self.network_ = self._build_network(layer_units, dtype, seed)
        self._optimizer = self.network_.optimizer
        self.coefs_, self.intercepts_ = initial
        self._sync_network()
        self._best_params = self.network_.params.copy()
        if self.solver in _STOCHASTIC_SOLVERS:
            self._reset_curves()

    def _reset_curves(self) -> None:
        """The attributes scikit-learn's sgd and adam keep from epoch to epoch."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _continue_with(self, layer_units: list[int]) -> bool:
        """Warm start / partial_fit: keep the weights, follow changed hyperparameters.

        A changed ``activation`` or ``dropout`` rebuilds the network around the current
        weights; changed layer sizes cannot reuse them and are refused. Returns whether
        training goes on from where the last fit stopped: False when weights were set by
        hand or the network was rebuilt (then the optimizer starts afresh).
        """
        set_by_hand = self._sync_network()
        shapes = [c.shape for c in self.coefs_]
        wanted = list(pairwise(layer_units))
        if shapes != wanted:
            raise ValueError(
                f"warm_start and partial_fit continue from coefs_ of shapes {shapes}, but "
                f"hidden_layer_sizes and the data ask for {wanted}. Use the same "
                "hidden_layer_sizes, or set warm_start=False to start afresh."
            )
        if self._architecture == (self.activation, self.dropout):
            return not set_by_hand
        coefs = [np.array(c) for c in self.coefs_]
        intercepts = [np.array(b) for b in self.intercepts_]
        seed = int(self._random_state.randint(np.iinfo(np.int32).max)) if self.dropout else None
        self.network_ = self._build_network(layer_units, self.network_.dtype, seed)
        self._optimizer = self.network_.optimizer
        self.coefs_, self.intercepts_ = coefs, intercepts
        self._sync_network()
        return False

    def _dense_layers(self) -> list[Dense]:
        return [layer for layer in self.network_.layers if isinstance(layer, Dense)]

    def _sync_network(self) -> bool:
        """Make ``coefs_`` / ``intercepts_`` views of the network's parameters.

        Arrays the user assigned (``est.coefs_ = [...]`` or ``est.coefs_[0] = W``) are
        copied into the network first, so a warm-started fit starts from them. Returns
        whether there were such arrays.
        """
        set_by_hand = False
        dense = self._dense_layers()
        for name in ("coefs_", "intercepts_"):
            arrays = getattr(self, name)
            attr = "weights" if name == "coefs_" else "bias"
            if len(arrays) != len(dense):
                raise ValueError(
                    f"{name} must be a list of {len(dense)} arrays (one per layer); "
                    f"received {len(arrays)}"
                )
            if all(a is getattr(layer, attr) for a, layer in zip(arrays, dense, strict=True)):
                continue
            for i, (a, layer) in enumerate(zip(arrays, dense, strict=True)):
                view = getattr(layer, attr)
                if a is view:
                    continue
                a = np.asarray(a)
                if a.shape != view.shape:
                    raise ValueError(
                        f"{name}[{i}] must have shape {view.shape}; received shape {a.shape}"
                    )
                view[...] = a
                set_by_hand = True
            setattr(self, name, [getattr(layer, attr) for layer in dense])
        return set_by_hand

    def __setstate__(self, state):
        super().__setstate__(state)
        if "network_" in state:
            # the network made its layers' arrays views of its parameters again:
            # coefs_ and intercepts_ are those views (the pickled copies go)
            dense = self._dense_layers()
            self.coefs_ = [layer.weights for layer in dense]
            self.intercepts_ = [layer.bias for layer in dense]

    # ------------------------------------------------------------ data

    def _resolve_dtype(self, X) -> np.dtype:
        if self.dtype is not None:
            return np.dtype(self.dtype)
        return np.dtype(X.dtype) if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)

    @staticmethod
    def _as_dtype(X, dtype):
        """Dense: C-contiguous ``dtype``. Sparse: CSR of ``dtype`` (densified per batch)."""
        if scipy.sparse.issparse(X):
            return X.tocsr().astype(dtype, copy=False)
        return np.ascontiguousarray(X, dtype=dtype)

    def _forward(self, X, rows=None) -> np.ndarray:
        """The network's output for all rows of X (or its rows ``rows``), in chunks:
        sparse chunks densified, a memory-mapped X read and converted chunk by chunk."""
        net = self.network_
        self._sync_network()
        if not _mapped(X):
            X = self._as_dtype(X, net.dtype)
        n = X.shape[0] if rows is None else len(rows)
        result = np.empty((n, net.n_outputs), dtype=net.dtype)
        sparse = scipy.sparse.issparse(X)
        with np.errstate(over="ignore", under="ignore"):
            for lo in range(0, n, _PREDICT_CHUNK):
                hi = min(lo + _PREDICT_CHUNK, n)
                chunk = X[lo:hi] if rows is None else X[rows[lo:hi]]
                chunk = chunk.toarray() if sparse else np.asarray(chunk, dtype=net.dtype)
                result[lo:hi] = net.forward(chunk)
        return result

    def _validate_predict_input(self, X):
        if _mapped(X):
            X = check_array(X, "X", keep_mapped=True)
            validate_data(self, X, skip_check_array=True, reset=False)
            return X
        return validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False
        )

    def _validate_xy(self, X, y, reset: bool):
        """X and y checked as scikit-learn's ``validate_data`` checks them, y 1-D when it
        is one column. A memory-mapped X (``np.load(path, mmap_mode="r")``) is checked
        block by block but neither copied nor converted: the batches read it."""
        y_numeric = not self._is_classifier()
        if _mapped(X):
            X = check_array(X, "X", keep_mapped=True)
            validate_data(self, X, skip_check_array=True, reset=reset)  # n_features_in_
            y = _check_y(y, multi_output=True, y_numeric=y_numeric, estimator=self)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                multi_output=True,
                dtype=(np.float64, np.float32),
                y_numeric=y_numeric,
                reset=reset,
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    # ------------------------------------------------------------ fitting

    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._check_dropout_solver()
        if not incremental:
            refuse_y_beside_chunks(X, y)
            if is_chunk_source(X, y):
                return self._fit_chunks(X, sample_weight)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y, extra_weight = self._validate_input(X, y, incremental, reset=first_pass)
        # coefs_ set by hand on an estimator never fitted: start from them
        user_weights = not first_pass and not hasattr(self, "network_")
        dtype = self._resolve_dtype(X) if first_pass or user_weights else self.network_.dtype
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        if extra_weight is not None:
            extra_weight = extra_weight.astype(dtype)
            sample_weight = extra_weight if sample_weight is None else sample_weight * extra_weight
        if not _mapped(X) or self.solver == "lbfgs":
            # lbfgs multiplies every row at every step: a memory-mapped X is converted
            # once (not copied at all when it already is C-ordered in the dtype)
            X = self._as_dtype(X, dtype)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        resume = self._setup(X.shape[1], Y.shape[1], dtype, first_pass, user_weights, incremental)
        target = self._target(Y, self.network_)
        callbacks = check_callbacks(self.callbacks or [])
        with self._divergence_as_value_error():
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, Y, target, sample_weight, incremental, callbacks, resume)
            else:
                self._fit_lbfgs(X, target, sample_weight, callbacks)
        return self

    def _check_dropout_solver(self) -> None:
        if self.dropout and self.solver == "lbfgs":
            raise ValueError(
                "dropout needs a stochastic solver: lbfgs needs the same loss at every "
                f"evaluation; received dropout={self.dropout} with solver='lbfgs'. "
                "Use solver='adam' or 'sgd', or dropout=0."
            )

    def _setup(self, n_features, n_outputs, dtype, first_pass, user_weights, incremental) -> bool:
        """A first fit builds the network and draws its weights; a warm start or
        partial_fit goes on from them. Returns whether a warm start resumes where the
        last fit stopped (optimizer state, RandomState stream, rows' order)."""
        self.n_outputs_ = n_outputs
        layer_units = [n_features, *self._hidden_sizes(), n_outputs]
        resume = False
        if first_pass or user_weights:
            self._random_state = check_random_state(self.random_state)
            initial = (list(self.coefs_), list(self.intercepts_)) if user_weights else None
            self._initialize(n_outputs, layer_units, dtype, initial)
        else:
            resume = (
                self._continue_with(layer_units)
                and not incremental
                and self.solver in _STOCHASTIC_SOLVERS
                and getattr(self, "_optimizer_made_with", None) == self._optimizer_settings()
            )
            if not resume or not hasattr(self, "_random_state"):
                # scikit-learn's partial_fit (and its warm start) seeds a new RandomState
                self._random_state = check_random_state(self.random_state)
        self.network_.l2 = self.alpha  # it may have changed since the last fit (warm start)
        return resume

    @contextmanager
    def _divergence_as_value_error(self):
        """scikit-learn's error for weights that became non-finite, with the fix."""
        try:
            yield
        except TrainingDivergedError as exc:
            raise ValueError(f"{_NON_FINITE}: {exc}") from None
        if not np.isfinite(self.network_.params).all():
            raise ValueError(
                f"{_NON_FINITE}. Scale the inputs (e.g. with StandardScaler), lower "
                "learning_rate_init or raise alpha."
            )

    # ------------------------------------------------------------ chunk sources

    def _fit_chunks(self, chunks, sample_weight=None):
        """``fit`` on a chunk source: a first pass over the chunks finds the rows, the
        features and the outputs (the classes), then sgd or adam train on batches made
        from the chunks, shuffled within a buffer of chunks."""
        self._refuse_for_chunks(chunks, sample_weight)
        first_pass = not hasattr(self, "coefs_") or not self.warm_start
        user_weights = not first_pass and not hasattr(self, "network_")
        n_samples, n_features, dtype = self._survey_chunks(chunks, reset=first_pass)
        if not (first_pass or user_weights):
            dtype = self.network_.dtype
        resume = self._setup(n_features, self.n_outputs_, dtype, first_pass, user_weights, False)
        callbacks = check_callbacks(self.callbacks or [])
        resume = self._prepare_optimizer(False, resume)
        batches = ChunkBatches(
            _EstimatorChunks(self, chunks),
            batch_size=self._batch_size_for(n_samples),
            shuffle=self.shuffle,
            rng=self._random_state,
            buffer_chunks=_SHUFFLE_BUFFER,
        )
        self._batch_order = self.network_._batch_order = None  # the buffer's order
        with self._divergence_as_value_error():
            self._train_epochs(batches, n_samples, None, None, False, callbacks)
        return self

    def _refuse_for_chunks(self, chunks, sample_weight) -> None:
        """What needs every row at once cannot train from a chunk source: say so, and
        what to do instead."""
        if isinstance(chunks, Iterator):  # (iter() would start a pass of a Chunks)
            raise TypeError(
                "X is an iterator (such as a generator), which can be read only once, but "
                "fit reads its chunks once to count the rows and classes, then again every "
                "epoch. Pass something it can iterate over again: a list of (X, y) chunks, "
                "or the function that makes the generator wrapped as chainrule.Chunks"
            )
        if sample_weight is not None:
            raise ValueError(
                "sample_weight cannot be given beside a chunk source: put each chunk's "
                "weights in the chunk, as (X, y, sample_weight)"
            )
        needs_all = []
        if self.solver == "lbfgs":
            needs_all.append("solver='lbfgs' evaluates every row at every step")
        if self.early_stopping:
            needs_all.append("early_stopping=True holds out a random validation_fraction")
        if getattr(self, "class_weight", None) == "balanced":
            needs_all.append("class_weight='balanced' counts every label first")
        if needs_all:
            raise ValueError(
                f"X is a chunk source, but {'; '.join(needs_all)}: these need all the rows "
                "in memory. Use solver='adam' or 'sgd', early_stopping=False (watch held-out "
                "rows with a callback instead) and class_weight as a dict (from "
                "sklearn.utils.class_weight.compute_class_weight on the labels), or load "
                "the rows and fit the arrays."
            )

    def _check_chunk(self, chunk, i: int, reset: bool = False):
        """One chunk ``(X, y)`` or ``(X, y, sample_weight)`` checked as ``fit`` checks
        arrays; errors name the chunk. Returns ``(X, y, sample_weight or None)``."""
        if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
            raise TypeError(
                f"X: chunk {i} must be a tuple (X, y) or (X, y, sample_weight); received "
                f"{type(chunk).__name__}"
                + (f" of length {len(chunk)}" if isinstance(chunk, (tuple, list)) else "")
            )
        try:
            X, y = self._validate_xy(chunk[0], chunk[1], reset=reset)
            self._check_targets(y)
            w = None
            if len(chunk) == 3 and chunk[2] is not None:
                w = _check_sample_weight(chunk[2], X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"X: chunk {i} (0-based): {exc}") from None
        return X, y, w

    def _survey_chunks(self, chunks, reset: bool) -> tuple[int, int, np.dtype]:
        """The first pass: every chunk checked; returns the rows, the features and the
        dtype to train in. Sets ``n_features_in_`` and what the targets need
        (``n_outputs_``; ``classes_`` for a classifier)."""
        n_samples, dtype, summaries = 0, None, []
        for i, chunk in enumerate(chunks):
            if is_empty_chunk(chunk):
                continue
            X, y, _ = self._check_chunk(chunk, i, reset=reset and not summaries)
            n_samples += X.shape[0]
            if dtype is None:
                dtype = self._resolve_dtype(X)  # the first chunk's, as for an array
            summaries.append(self._summarize_targets(y))
        if not summaries:
            raise ValueError(
                "X yielded no chunks with rows; it needs at least one (X, y) chunk with rows"
            )
        self._learn_targets(summaries)
        return n_samples, self.n_features_in_, dtype

    def _chunk_batch(self, chunk, i: int) -> Batch:
        """A training pass's chunk: checked, in the network's dtype, its targets as the
        loss takes them and its weights (times the class weights)."""
        X, y, w = self._check_chunk(chunk, i)
        net = self.network_
        try:
            Y, extra_weight = self._chunk_targets(y)
        except ValueError as exc:
            raise ValueError(f"X: chunk {i} (0-based): {exc}") from None
        if extra_weight is not None:
            w = extra_weight if w is None else w * extra_weight
        if scipy.sparse.issparse(X):
            X = X.toarray()  # the buffer joins dense chunks
        X = np.ascontiguousarray(X, dtype=net.dtype)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        return Batch(X, self._target(Y, net), None if w is None else w.astype(net.dtype))

    # ------------------------------------------------------------ stochastic solvers

    def _fit_lbfgs(self, X, target, sample_weight, callbacks) -> None:
        """``scipy.optimize.minimize(method="L-BFGS-B")`` on the network's pure
        ``loss_and_gradient`` over all the rows; callbacks see every iteration."""
        net = self.network_
        if scipy.sparse.issparse(X):
            X = X.toarray()  # every row at every evaluation: densify once

        def loss_and_gradient(params):
            value, grads = net.loss_and_gradient(
                params, X, target, sample_weight, check_input=False
            )
            return value, grads.astype(np.float64)

        self._run_lbfgs(loss_and_gradient, callbacks)

    def _run_lbfgs(self, loss_and_gradient, callbacks) -> None:
        """L-BFGS-B from the network's parameters over ``loss_and_gradient(params) ->
        (loss, float64 gradient)``: the rows in memory (:meth:`_fit_lbfgs`) or a Dask
        cluster's partitions (:mod:`chainrule.distributed`). Sets ``n_iter_`` and
        ``loss_``; callbacks see every iteration."""
        net = self.network_

        def on_iteration(intermediate_result):
            self.n_iter_ += 1
            net.params[...] = intermediate_result.x  # the callbacks see this iteration's
            logs = {"loss": float(intermediate_result.fun)}
            for cb in callbacks:
                cb.on_epoch_end(self.n_iter_ - 1, logs)
            if net.stop_training:
                raise StopIteration

        net.stop_training = False
        for cb in callbacks:
            cb.network, cb.params = net, {"epochs": self.max_iter, "batches": 1}
        self.n_iter_ = 0
        try:
            for cb in callbacks:
                cb.on_train_begin({})
            result, n_iter = _minimize_lbfgs(
                loss_and_gradient,
                net.params,
                max_iter=self.max_iter,
                max_fun=self.max_fun,
                tol=self.tol,
                verbose=self.verbose,
                callback=on_iteration if callbacks else None,
                stopped=lambda: net.stop_training,  # a callback stopped it: not a failure
            )
            net.params[...] = result.x
        finally:
            for cb in callbacks:
                cb.on_train_end({})  # after the result: EarlyStopping's restore wins
        self.n_iter_ = n_iter
        self.loss_ = float(result.fun)

    def _fit_stochastic(
        self, X, Y, target, sample_weight, incremental, callbacks, resume=False
    ) -> None:
        """sgd and adam: scikit-learn's settings translated onto the training loop.

        ``resume``: a warm start that goes on from where the last fit stopped (same
        weights, solver and optimizer settings): the optimizer's state, the RandomState
        stream and the rows' order carry on, so ``max_iter`` split over several warm
        fits gives the weights of one fit.
        """
        resume = self._prepare_optimizer(incremental, resume)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        # a memory-mapped X stays on disk: its batches gather its rows by index
        rows = np.arange(X.shape[0]) if _mapped(X) else None
        validation = val_batches = None
        if self.early_stopping:
            X, rows, target, sample_weight, validation, target_val = self._hold_out(
                X, rows, Y, target, sample_weight
            )
            if callbacks:  # val_loss for the user's callbacks
                X_val, _, sw_val, val_rows = validation
                val_batches = self._batches(
                    X_val, val_rows, target_val, sw_val, _PREDICT_CHUNK, shuffle=False
                )
        n_samples = X.shape[0] if rows is None else len(rows)
        batch_size = self._batch_size_for(n_samples)
        # scikit-learn's batches: its RandomState shuffles the rows before each epoch
        batches = self._batches(X, rows, target, sample_weight, batch_size, self.shuffle)
        order = getattr(self, "_batch_order", None)
        if resume and order is not None and order.shape == batches.order.shape:
            batches.order = order  # shuffled in place from epoch to epoch, as scikit-learn's
        self._batch_order = self.network_._batch_order = batches.order
        self._train_epochs(batches, n_samples, validation, val_batches, incremental, callbacks)

    def _hold_out(self, X, rows, Y, target, sample_weight):
        """early_stopping's split: scikit-learn's, from the same RandomState, so the same
        rows go to validation. A memory-mapped X (``rows`` given) is split by row
        numbers, never copied.

        Returns ``(X, rows, target, sample_weight)`` to train on, the validation rows
        ``(X_val, y_val, sample_weight_val, val_rows)`` as :meth:`_score` takes them,
        and their targets as the loss takes them.
        """
        stratify = Y if self._is_classifier() and self.n_outputs_ == 1 else None
        first = X if rows is None else rows
        arrays = [first, Y, target] + ([] if sample_weight is None else [sample_weight])
        split = train_test_split(
            *arrays,
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        train_part, val_part, Y_val, target, target_val = (
            split[0], split[1], split[3], split[4], split[5]
        )  # fmt: skip
        sample_weight, sw_val = split[6:8] if sample_weight is not None else (None, None)
        if val_part.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        y_val = self._validation_targets(Y_val)
        if rows is None:
            validation = (val_part, y_val, sw_val, None)
            return train_part, None, target, sample_weight, validation, target_val
        validation = (X, y_val, sw_val, val_part)  # X's rows val_part
        return X, train_part, target, sample_weight, validation, target_val

    def _prepare_optimizer(self, incremental: bool, resume: bool) -> bool:
        """The solver's optimizer: kept (partial_fit, a resumed warm start) or new, as
        scikit-learn's. Returns whether the fit still resumes."""
        net = self.network_
        solver_optimizer = Adam if self.solver == "adam" else SGD
        current = getattr(self, "_optimizer", None)
        keep = (incremental or resume) and type(current) is solver_optimizer
        if not keep:
            # a new optimizer, as scikit-learn's: partial_fit keeps its state from call to
            # call unless the solver changed (or the last fit was lbfgs's); a warm start
            # keeps it unless the weights or the optimizer's settings changed
            net.optimizer = self._optimizer = self._make_optimizer()
            net.optimizer.build(net.params)
            self._optimizer_made_with = self._optimizer_settings()
            resume = False
        if not hasattr(self, "loss_curve_"):  # warm start after an lbfgs fit
            self._reset_curves()
        return resume

    def _batch_size_for(self, n_samples: int) -> int:
        """scikit-learn's batch size: ``min(200, n_samples)`` for 'auto', else clipped."""
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped",
                stacklevel=6,  # the caller of fit()
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _batches(self, X, rows, target, sample_weight, batch_size, shuffle):
        """The batch source over X in memory (:class:`ArrayBatches`) or over the rows
        ``rows`` of a memory-mapped X (:class:`_RowBatches`)."""
        dtype = self.network_.dtype
        if rows is not None:
            return _RowBatches(
                X, rows, target, sample_weight, batch_size, shuffle, self._random_state, dtype
            )
        return ArrayBatches(
            X,
            target,
            sample_weight,
            batch_size=batch_size,
            shuffle=shuffle,
            rng=self._random_state,
        )

    def _train_epochs(self, batches, n_samples, validation, val_batches, incremental, callbacks):
        """The training loop with scikit-learn's rules as its seams: the invscaling
        schedule, the epochs' bookkeeping; its warnings and a diverged early-stopping fit
        handled as scikit-learn handles them."""
        net = self.network_
        optimizer = net.optimizer
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            optimizer.schedule = InverseScaling(
                float(self.learning_rate_init),
                self.power_t,
                self.t_,
                n_samples,
                optimizer.learning_rate,
            )
        epochs = SklearnEpochs(self, n_samples, validation, incremental)
        self.n_iter_ = 0
        try:
            train(
                net,
                batches,
                epochs=1 if incremental else self.max_iter,
                validation=val_batches,
                callbacks=[epochs, *callbacks],
            )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=6)
        except TrainingDivergedError:
            if validation is None:
                raise
            # as scikit-learn: with early stopping a diverged fit keeps its best weights
            self.n_iter_ += 1
            self.loss_ = np.nan
            self.loss_curve_.append(np.nan)
            self.validation_scores_.append(np.nan)
            warnings.warn(
                f"Training diverged in epoch {self.n_iter_} (the loss became non-finite); "
                "the weights with the best validation score are kept. Lower "
                "learning_rate_init.",
                ConvergenceWarning,
                stacklevel=6,
            )
            return
        finally:
            optimizer.schedule = None  # the rate it left is the current one, as scikit-learn's
        if not incremental and not epochs.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=6,  # the caller of fit()
            )

    def _score(self, X, y, sample_weight=None, rows=None) -> float:
        """Validation score (accuracy or R^2) without input validation; NaN if not finite.
        ``rows``: score those rows of X (a memory-mapped X)."""
        y_pred = self._predict(X, check_input=False, rows=rows)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(self._score_function(y, y_pred, sample_weight=sample_weight))

    def _is_classifier(self) -> bool:
        return isinstance(self, ClassifierMixin)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------ public

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model to data matrix X and target(s) y, or to a chunk source X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or chunk source
            The input data. A memory-mapped array (``np.load(path, mmap_mode="r")``)
            is never loaded whole: sgd and adam read and convert its rows batch by
            batch (with ``early_stopping``, the validation rows too); lbfgs, which
            multiplies every row at every step, converts it once, and not at all when
            it is C-ordered in the training dtype.

            A chunk source, with ``y`` omitted: a re-iterable of ``(X, y)`` or
            ``(X, y, sample_weight)`` chunks (a list, ``chainrule.Chunks``,
            ``chainrule.training.array_chunks``). A first pass over it checks every
            chunk and finds the rows, the features and the classes; then every epoch
            reads it once more, its rows shuffled within a buffer of 4 chunks (not
            globally). In order (``shuffle=False``) the fit equals the fit on the
            chunks joined. sgd and adam only, without ``early_stopping`` or
            ``class_weight='balanced'``, which need all the rows at once.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), or None
            The target values (class labels in classification, real numbers in
            regression); None when X is a chunk source.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (with a chunk source, in its chunks instead).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} "
                "is not stochastic."
            )
        return True

    def save(self, path) -> Any:
        """Write the fitted estimator to one safe model file; ``chainrule.load(path)`` reads it.

        The file holds the parameters, the architecture and the fitted attributes, no
        pickle (see :mod:`chainrule.io`). ``callbacks`` and a ``random_state`` that is
        not an integer are not saved.

        Returns
        -------
        pathlib.Path
        """
        return save(self, path)

    def _model_state(self) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
        """``(kind, JSON-safe header, arrays)`` for :func:`chainrule.io.save`."""
        check_is_fitted(self)
        self._sync_network()
        net = self.network_
        params = self.get_params(deep=False)
        params["callbacks"] = None
        if not (params["random_state"] is None or isinstance(params["random_state"], Integral)):
            params["random_state"] = None
        if isinstance(params["hidden_layer_sizes"], (Integral, np.integer)):
            params["hidden_layer_sizes"] = int(params["hidden_layer_sizes"])
        else:
            params["hidden_layer_sizes"] = [int(s) for s in params["hidden_layer_sizes"]]
        if params["dtype"] is not None:
            params["dtype"] = np.dtype(params["dtype"]).name
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = {
                "pairs": [[_json_scalar(k), float(v)] for k, v in params["class_weight"].items()]
            }
        fitted = {}
        for name in _FITTED:
            if name != "feature_names_in_" and hasattr(self, name):
                value = getattr(self, name)
                fitted[name] = [float(v) for v in value] if isinstance(value, list) else value
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = [str(f) for f in self.feature_names_in_]
        header = {
            "estimator_params": params,
            "fitted": fitted,
            "architecture": net.get_config(),
            "n_features": net.n_features,
            "n_outputs": net.n_outputs,
            "n_params": net.n_params,
            "dtype": net.dtype.name,
            "history": None,
        }
        arrays = {"params": net.params}
        if getattr(self, "_optimizer_made_with", None) is not None:
            # a warm start from the file goes on as the fit would have (chainrule.resume)
            net._add_training_state(header, arrays)
            if RESUME_KEY in header and isinstance(
                getattr(self, "_random_state", None), np.random.RandomState
            ):
                scalars, key = random_state_to_file(self._random_state)
                header[RESUME_KEY]["random_state"] = scalars
                arrays["training.random_state"] = key
        if hasattr(self, "_label_binarizer"):
            header["label_type"] = self._label_binarizer.y_type_
            classes = np.asarray(self.classes_)
            if classes.dtype == object:
                classes = classes.astype(str)
            arrays["classes"] = classes
        return type(self).__name__, header, arrays

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """Rebuild a saved estimator from :func:`chainrule.io.load`'s checked contents.

        Its parameters are validated as ``fit`` would, its fitted attributes are only
        the known ones with their types, and the architecture must be the one those
        parameters build: a file cannot make a model that predicts with other layers
        than it says.
        """
        est = cls._checked_estimator(header)
        net = Network._from_model_state(
            header,
            {k: v for k, v in arrays.items() if k not in ("classes", "training.random_state")},
        )
        for name, value in header["fitted"].items():
            if name == "feature_names_in_":
                value = np.asarray(value, dtype=object)
            setattr(est, name, value)
        if "classes" in arrays:
            est.classes_ = arrays["classes"]
            est._label_binarizer = _label_binarizer_for(est.classes_, header["label_type"])
        net.loss = OUTPUTS[est.out_activation_][1]()  # the file names the plain loss
        net.l2, net.l2_divided_by_batch = est.alpha, True
        est.network_ = net
        est._architecture = (est.activation, est.dropout)
        est._optimizer = net.optimizer
        dense = est._dense_layers()
        est.coefs_ = [layer.weights for layer in dense]
        est.intercepts_ = [layer.bias for layer in dense]
        est._best_params = net.params.copy()
        est._random_state = check_random_state(est.random_state)
        state = header.get(RESUME_KEY)
        if state is not None and est.solver in _STOCHASTIC_SOLVERS:
            est._optimizer_made_with = est._optimizer_settings()
            est._batch_order = net._batch_order
            if "random_state" in state:
                est._random_state = random_state_from_file(
                    state["random_state"], arrays.get("training.random_state")
                )
        return est

    @classmethod
    def _checked_estimator(cls, header: dict[str, Any]):
        """An unfitted estimator from a file's parameters, after checking them and the
        ``fitted`` table against the architecture (a ValueError names the problem)."""
        params = header["estimator_params"]
        known = set(cls().get_params(deep=False))
        if not isinstance(params, dict) or not set(params) <= known:
            extra = sorted(set(params) - known) if isinstance(params, dict) else params
            raise ValueError(f"its estimator_params are not {cls.__name__}'s: {extra!r}")
        params = dict(params)
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        if isinstance(params.get("class_weight"), dict):
            pairs = params["class_weight"].get("pairs")
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int, float))
                for p in pairs
            ):
                raise ValueError("its class_weight is not a list of [label, weight] pairs")
            params["class_weight"] = {k: finite_number(v, "a class weight") for k, v in pairs}
        if params.get("callbacks") is not None:
            raise ValueError("its callbacks must be null (callbacks are not saved)")
        est = cls(**params)
        est._validate_params()  # scikit-learn's own checks, as fit runs them
        est._hidden_sizes()
        fitted = header["fitted"]
        if not isinstance(fitted, dict) or not set(fitted) <= set(_FITTED):
            extra = sorted(set(fitted) - set(_FITTED)) if isinstance(fitted, dict) else fitted
            raise ValueError(f"its fitted attributes include unknown ones: {extra!r}")
        for name, check in _FITTED.items():
            if name in fitted and not check(fitted[name]):
                raise ValueError(f"its fitted {name} is {fitted[name]!r}, which is not valid")
        for name, expected in (
            ("n_features_in_", header["n_features"]),
            ("n_outputs_", header["n_outputs"]),
            ("n_layers_", len(est._hidden_sizes()) + 2),
        ):
            if name in fitted and fitted[name] != expected:
                raise ValueError(f"its fitted {name} {fitted[name]} contradicts its network")
        if "feature_names_in_" in fitted:
            unique_strings(fitted["feature_names_in_"], "its feature_names_in_")
            if len(fitted["feature_names_in_"]) != header["n_features"]:
                raise ValueError("its feature_names_in_ are not one per input feature")
        out = fitted.get("out_activation_")
        if "label_type" in header:
            wanted = "softmax" if header["label_type"] == "multiclass" else "logistic"
        else:
            wanted = "exp" if est.loss == "poisson" else "identity"
        if out != wanted:
            raise ValueError(f"its out_activation_ {out!r} should be {wanted!r} for this model")
        layers = [
            (c["class_name"], c.get("config", {}).get("units"))
            for c in header["architecture"]["layers"]
        ]
        expected = []
        for units in est._hidden_sizes():
            expected += [("Dense", units), (ACTIVATIONS[est.activation].__name__, None)]
            if est.dropout:
                expected.append(("Dropout", None))
        expected.append(("Dense", header["n_outputs"]))
        if OUTPUTS[out][0] is not None:
            expected.append((OUTPUTS[out][0].__name__, None))
        if layers != expected:
            raise ValueError(
                f"its architecture {layers} is not what its parameters build: {expected}"
            )
        return est


def _minimize_lbfgs(
    loss_and_gradient,
    x0: np.ndarray,
    *,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool | int = False,
    callback=None,
    stopped=lambda: False,
) -> tuple[scipy.optimize.OptimizeResult, int]:
    """The estimators' L-BFGS-B: scikit-learn's SciPy options and convergence warning.

    Minimises ``loss_and_gradient(params) -> (loss, float64 gradient)`` from ``x0``;
    what the estimators' lbfgs solver and :func:`chainrule.distributed.fit` run.
    ``callback(intermediate_result)`` sees every iteration (it may raise
    StopIteration); ``stopped()`` tells, afterwards, that it did so on purpose, which is
    no failure to converge. Returns SciPy's result and the iterations run (a
    ``ConvergenceWarning`` when ``max_iter`` or ``max_fun`` ran out).
    """
    iprint = 1 if verbose is True or verbose >= 1 else -1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        with other_blas_single_threaded():
            result = scipy.optimize.minimize(
                loss_and_gradient,
                np.asarray(x0, dtype=np.float64),
                method="L-BFGS-B",
                jac=True,
                callback=callback,
                options={
                    "maxfun": max_fun,
                    "maxiter": max_iter,
                    "gtol": tol,
                    **_get_additional_lbfgs_options_dict("iprint", iprint),
                },
            )
    if stopped():
        return result, int(result.nit)
    return result, _check_optimize_result("lbfgs", result, max_iter)


def _is_count(value: Any) -> bool:
    return is_int(value) and value >= 0


def _is_number_or_none(value: Any) -> bool:
    return value is None or is_number(value)


def _is_numbers(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(is_number(v) for v in value))


#: The fitted attributes a model file may set, with the check of each value.
_FITTED = {
    "n_features_in_": _is_count,
    "n_layers_": _is_count,
    "n_outputs_": _is_count,
    "out_activation_": lambda v: isinstance(v, str) and v in OUTPUTS,
    "n_iter_": _is_count,
    "t_": _is_count,
    "loss_": _is_number_or_none,
    "best_loss_": _is_number_or_none,
    "loss_curve_": _is_numbers,
    "validation_scores_": _is_numbers,
    "best_validation_score_": _is_number_or_none,
    "_no_improvement_count": _is_count,
    "feature_names_in_": lambda v: isinstance(v, list),
}


def _json_scalar(value):
    return value.item() if isinstance(value, np.generic) else value


def _label_binarizer_for(classes: np.ndarray, y_type: str) -> LabelBinarizer:
    """A fitted LabelBinarizer equal to the one fitted on the training labels."""
    lb = LabelBinarizer()
    if y_type == "multilabel-indicator":
        lb.fit(np.eye(len(classes), dtype=int))
    else:
        lb.fit(classes)
    return lb


def _mapped(X) -> bool:
    """Whether X is a NumPy array in a memory-mapped file (kept there, read by batches)."""
    return isinstance(X, np.ndarray) and is_memory_mapped(X)


class _RowBatches:
    """Batches of the rows ``rows`` of a memory-mapped X, each read and converted to
    ``dtype`` on its own: :class:`~chainrule.training.ArrayBatches` on ``X[rows]``
    (the same order from the same RandomState) without the copy ``X[rows]`` is."""

    def __init__(self, X, rows, target, sample_weight, batch_size, shuffle, rng, dtype):
        self.X, self.rows, self.target, self.sample_weight = X, rows, target, sample_weight
        self.batch_size, self.shuffle, self.rng, self.dtype = batch_size, shuffle, rng, dtype
        #: positions in ``rows``, in the order of the last epoch
        self.order = np.arange(len(rows))

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __iter__(self):
        if self.shuffle:
            self.rng.shuffle(self.order)
        w = self.sample_weight
        for start in range(0, len(self.rows), self.batch_size):
            picked = self.order[start : start + self.batch_size]
            X_rows = np.asarray(self.X[self.rows[picked]], dtype=self.dtype)
            yield Batch(X_rows, self.target[picked], None if w is None else w[picked])


class _EstimatorChunks:
    """A user's chunk source as the estimator trains on it: every chunk checked and
    converted by :meth:`_BaseMLP._chunk_batch` (for :class:`ChunkBatches`)."""

    def __init__(self, estimator: _BaseMLP, chunks) -> None:
        self.estimator, self.chunks = estimator, chunks

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if not is_empty_chunk(chunk):
                yield self.estimator._chunk_batch(chunk, i)
