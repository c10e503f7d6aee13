"""scikit-learn's MLP estimators on chainrule's engine: MLPClassifier and MLPRegressor.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``
(scikit-learn 1.9): the same parameters, defaults, fitted attributes, methods and
errors; switching is one changed import. Underneath is one :class:`~chainrule.Network`
(``Dense`` layers, an activation from ``ACTIVATIONS``, a loss from ``LOSSES``, the
``SGD`` / ``Adam`` optimizers on the flat parameter vector); ``coefs_`` and
``intercepts_`` are views into that vector, ``network_`` is the network itself.

How scikit-learn's training is reproduced:

- initial weights are drawn as scikit-learn draws them (Glorot-uniform weights *and*
  biases, from the same ``RandomState`` stream), and batches are shuffled with the same
  calls: with the same ``random_state`` both libraries start from the same weights and
  visit the same batches;
- the losses are scikit-learn's: softmax with categorical cross-entropy (multiclass),
  sigmoids with the binary cross-entropy summed over the outputs (binary, multilabel),
  half squared error (regression), half Poisson deviance with an exp output
  (``loss="poisson"``), each reporting scikit-learn's values; the L2 term
  ``0.5 * alpha * ||W||**2 / n_batch`` is the network's ``l2`` divided by the batch;
- sgd and adam train through chainrule's one training loop
  (:func:`chainrule.training.train`); the estimators only translate scikit-learn's
  settings onto its seams: the batch order is an :class:`~chainrule.training.ArrayBatches`
  shuffled by scikit-learn's ``RandomState``, ``learning_rate="invscaling"`` is a
  schedule, and ``n_iter_no_change``/``tol``, ``learning_rate="adaptive"``,
  ``early_stopping`` and the fitted attributes (``loss_curve_``, ``t_``, ...) are one
  callback, :class:`_SklearnEpochs`;
- ``lbfgs`` is ``scipy.optimize.minimize(method="L-BFGS-B")`` over the network's pure
  :meth:`~chainrule.Network.loss_and_gradient`.

Additions, all off by default: ``dropout``, ``class_weight`` (classifier), hidden
activations beyond scikit-learn's four (``leaky_relu``, ``gelu``, any hidden
activation in ``chainrule.ACTIVATIONS``), ``callbacks`` (chainrule callbacks, called
once per epoch), ``dtype`` and safe model files (:meth:`save`, ``chainrule.load``).

This module imports scikit-learn and SciPy (the ``sklearn`` extra); ``import
chainrule`` does not, it loads this module on first use of ``chainrule.MLPClassifier``.
"""

from __future__ import annotations

import warnings
from itertools import pairwise
from numbers import Integral, Real
from string import Template
from typing import Any, ClassVar

import numpy as np
import scipy.optimize
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from chainrule import functions as F
from chainrule.blas import other_blas_single_threaded
from chainrule.callbacks import Callback
from chainrule.errors import TrainingDivergedError
from chainrule.io import save
from chainrule.layers import ACTIVATIONS, Dense, Dropout, Exp, Sigmoid, Softmax
from chainrule.losses import (
    CategoricalCrossentropy,
    HalfPoissonDeviance,
    HalfSquaredError,
    MultilabelCrossentropy,
)
from chainrule.network import Network
from chainrule.optimizers import SGD, Adam, Schedule
from chainrule.training import ArrayBatches, train

try:  # scikit-learn's shim for SciPy's changing L-BFGS-B options (1.6+)
    from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
except ImportError:  # pragma: no cover

    def _get_additional_lbfgs_options_dict(key, value):
        return {}


__all__ = ["MLPClassifier", "MLPRegressor", "HIDDEN_ACTIVATIONS"]

_STOCHASTIC_SOLVERS = ("sgd", "adam")

#: Hidden-layer activations: every name in ``chainrule.ACTIVATIONS`` except
#: ``softmax``, which normalises across a layer and belongs on the output.
HIDDEN_ACTIVATIONS = frozenset(name for name in ACTIVATIONS if name != "softmax")

_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed"
)

#: Rows per forward pass at prediction time (bounds memory for large or sparse X).
_PREDICT_CHUNK = 4096


# ---------------------------------------------------------------- scikit-learn's losses


class _LogLoss(CategoricalCrossentropy):
    """scikit-learn's ``log_loss`` for a softmax output: the value from probabilities
    clipped to ``[eps, 1 - eps]`` (a sample's loss is at most about 36), the gradient
    ``softmax(z) - onehot`` of the unclipped loss. L-BFGS's line search compares these
    values, so lbfgs takes scikit-learn's steps."""

    def value_and_gradient(self, output, target, sample_weight=None):
        rows = np.arange(output.shape[0])
        probabilities = F.softmax(output, axis=1)
        eps = np.finfo(probabilities.dtype).eps
        per_sample = -np.log(np.clip(probabilities[rows, target], eps, 1 - eps))
        value = float(np.average(per_sample, weights=sample_weight))
        derror_dz = probabilities
        derror_dz[rows, target] -= 1.0
        return value, derror_dz * _scale(output.shape[0], sample_weight)


class _BinaryLogLoss(MultilabelCrossentropy):
    """scikit-learn's ``binary_log_loss`` for sigmoid outputs (binary and multilabel):
    clipped probabilities for the value, as :class:`_LogLoss`, summed over the outputs."""

    def value_and_gradient(self, output, target, sample_weight=None):
        probabilities = F.sigmoid(output)
        eps = np.finfo(probabilities.dtype).eps
        p = np.clip(probabilities, eps, 1 - eps)
        per_sample = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p), axis=1)
        value = float(np.average(per_sample, weights=sample_weight))
        return value, (probabilities - target) * _scale(output.shape[0], sample_weight)


class _SquaredLoss(HalfSquaredError):
    """scikit-learn's ``squared_loss``: it *reports* the half squared error averaged
    over the outputs, but steps along the gradient of its sum over the outputs."""

    def value_and_gradient(self, output, target, sample_weight=None):
        value, gradient = super().value_and_gradient(output, target, sample_weight)
        return value / output.shape[1], gradient


def _scale(n: int, sample_weight) -> Any:
    """What each sample's gradient is multiplied by: ``1 / n`` or ``w / sum(w)``."""
    if sample_weight is None:
        return 1.0 / n
    return (sample_weight / np.sum(sample_weight))[:, None]


#: out_activation_ -> (output layer appended after the last Dense, scikit-learn's loss)
_OUTPUTS = {
    "softmax": (Softmax, _LogLoss),
    "logistic": (Sigmoid, _BinaryLogLoss),
    "identity": (None, _SquaredLoss),
    "exp": (Exp, HalfPoissonDeviance),
}


# ---------------------------------------------------------------- scikit-learn's rules


class _InverseScaling(Schedule):
    """``learning_rate="invscaling"``: after each epoch scikit-learn sets the rate to
    ``learning_rate_init / (t + 1) ** power_t``, ``t`` the samples seen so far (``t_``).

    For one call to ``fit`` or ``partial_fit`` that started with ``samples_before`` seen
    and a rate of ``first_rate``, with ``samples_per_epoch`` rows per epoch.
    """

    def __init__(self, initial, power_t, samples_before, samples_per_epoch, first_rate):
        self.initial, self.power_t, self.first_rate = initial, power_t, first_rate
        self.samples_before, self.samples_per_epoch = samples_before, samples_per_epoch

    def __call__(self, epoch):
        if epoch == 0:
            return self.first_rate
        seen = self.samples_before + epoch * self.samples_per_epoch
        return self.initial / (seen + 1) ** self.power_t


class _SklearnEpochs(Callback):
    """scikit-learn's bookkeeping after every epoch of sgd and adam, as one callback.

    It updates ``n_iter_``, ``t_``, ``loss_`` and ``loss_curve_``, scores the validation
    rows with ``early_stopping`` (``validation_scores_``, ``best_validation_score_``,
    the best weights, put back at the end), and applies scikit-learn's stopping rule:
    after more than ``n_iter_no_change`` epochs that did not improve the training loss
    (or the validation score) by ``tol``, stop, or with sgd's ``"adaptive"`` rate divide
    the rate by 5 (stopping once it is at most 1e-6). A ``partial_fit`` stops after
    one epoch.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    n_samples : int
        Training rows per epoch.
    validation : tuple (X_val, y_val, sample_weight_val) or None
        The early-stopping rows; ``y_val`` as ``predict`` returns labels.
    incremental : bool
    """

    def __init__(self, estimator, n_samples: int, validation, incremental: bool) -> None:
        self.estimator = estimator
        self.n_samples = n_samples
        self.validation = validation
        self.incremental = incremental
        self.stopped = False

    def on_epoch_end(self, epoch, logs):
        est = self.estimator
        est.n_iter_ += 1
        est.loss_ = logs["loss"]
        est.t_ += self.n_samples
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.validation is not None:
            score = est._score(*self.validation)
            logs[est._score_name] = score  # for the user's callbacks after this one
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = self.network.params.copy()
        else:
            if est.loss_ > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, est.loss_)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            message = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if self._stop_or_slow_down(message):
                self.stopped = self.network.stop_training = True
            else:
                est._no_improvement_count = 0
        if self.incremental:
            self.network.stop_training = True

    def _stop_or_slow_down(self, message: str) -> bool:
        """scikit-learn's ``trigger_stopping``: True to stop; sgd's "adaptive" rate is
        divided by 5 instead, until it is at most 1e-6."""
        est, optimizer = self.estimator, self.network.optimizer
        if est.solver != "sgd" or est.learning_rate != "adaptive":
            message += " Stopping."
        elif optimizer.learning_rate <= 1e-6:
            message += " Learning rate too small. Stopping."
        else:
            optimizer.learning_rate /= 5.0
            message += f" Setting learning rate to {optimizer.learning_rate:f}"
            if est.verbose:
                print(message)
            return False
        if est.verbose:
            print(message)
        return True

    def on_train_end(self, logs):
        if self.validation is not None:
            self.network.params[...] = self.estimator._best_params  # the best epoch's


# ---------------------------------------------------------------- the estimators


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

    def _build_network(self, layer_units: list[int], dtype, seed) -> Network:
        """``Dense -> activation [-> Dropout]`` per hidden layer, then the output layer."""
        hidden = ACTIVATIONS[self.activation]
        layers = []
        for units in layer_units[1:-1]:
            layers += [Dense(units, kernel_initializer="zeros"), hidden()]
            if self.dropout:
                layers.append(Dropout(self.dropout))
        layers.append(Dense(layer_units[-1], kernel_initializer="zeros"))
        output_layer, loss = _OUTPUTS[self.out_activation_]
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

    def _initialize(self, y: np.ndarray, layer_units: list[int], dtype, initial=None) -> None:
        """Set up a first fit: attributes, the network, and its initial weights.

        ``initial`` is ``(coefs, intercepts)`` the user set on an estimator never fitted
        (then they are the starting point); otherwise weights are drawn as scikit-learn does.
        """
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
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

    def _continue_with(self, layer_units: list[int]) -> None:
        """Warm start / partial_fit: keep the weights, follow changed hyperparameters.

        A changed ``activation`` or ``dropout`` rebuilds the network around the current
        weights; changed layer sizes cannot reuse them and are refused.
        """
        self._sync_network()
        shapes = [c.shape for c in self.coefs_]
        wanted = list(pairwise(layer_units))
        if shapes != wanted:
            raise ValueError(
                f"warm_start and partial_fit continue from coefs_ of shapes {shapes}, but "
                f"hidden_layer_sizes and the data ask for {wanted}. Use the same "
                "hidden_layer_sizes, or set warm_start=False to start afresh."
            )
        if self._architecture == (self.activation, self.dropout):
            return
        coefs = [np.array(c) for c in self.coefs_]
        intercepts = [np.array(b) for b in self.intercepts_]
        seed = int(self._random_state.randint(np.iinfo(np.int32).max)) if self.dropout else None
        self.network_ = self._build_network(layer_units, self.network_.dtype, seed)
        self._optimizer = self.network_.optimizer
        self.coefs_, self.intercepts_ = coefs, intercepts
        self._sync_network()

    def _dense_layers(self) -> list[Dense]:
        return [layer for layer in self.network_.layers if isinstance(layer, Dense)]

    def _sync_network(self) -> None:
        """Make ``coefs_`` / ``intercepts_`` views of the network's parameters.

        Arrays the user assigned (``est.coefs_ = [...]`` or ``est.coefs_[0] = W``) are
        copied into the network first, so a warm-started fit starts from them.
        """
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
            setattr(self, name, [getattr(layer, attr) for layer in dense])

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

    def _forward(self, X) -> np.ndarray:
        """The network's output for all rows of X, in chunks (sparse chunks densified)."""
        net = self.network_
        self._sync_network()
        X = self._as_dtype(X, net.dtype)
        n = X.shape[0]
        result = np.empty((n, net.n_outputs), dtype=net.dtype)
        sparse = scipy.sparse.issparse(X)
        with np.errstate(over="ignore", under="ignore"):
            for lo in range(0, n, _PREDICT_CHUNK):
                hi = min(lo + _PREDICT_CHUNK, n)
                chunk = X[lo:hi].toarray() if sparse else X[lo:hi]
                result[lo:hi] = net.forward(chunk)
        return result

    def _validate_predict_input(self, X):
        return validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False
        )

    # ------------------------------------------------------------ fitting

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self._hidden_sizes()
        if self.dropout and self.solver == "lbfgs":
            raise ValueError(
                "dropout needs a stochastic solver: lbfgs needs the same loss at every "
                f"evaluation; received dropout={self.dropout} with solver='lbfgs'. "
                "Use solver='adam' or 'sgd', or dropout=0."
            )
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
        X = self._as_dtype(X, dtype)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1], *hidden_layer_sizes, self.n_outputs_]
        self._random_state = check_random_state(self.random_state)
        if first_pass or user_weights:
            initial = (list(self.coefs_), list(self.intercepts_)) if user_weights else None
            self._initialize(Y, layer_units, dtype, initial)
        else:
            self._continue_with(layer_units)
        net = self.network_
        net.l2 = self.alpha  # it may have changed since the last fit (warm start)
        target = self._target(Y, net)
        callbacks = list(self.callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "callbacks must be chainrule Callback objects (such as "
                    f"chainrule.EarlyStopping); received {cb!r}"
                )
        try:
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, Y, target, sample_weight, incremental, callbacks)
            else:
                self._fit_lbfgs(X, target, sample_weight, callbacks)
        except TrainingDivergedError as exc:
            raise ValueError(f"{_NON_FINITE}: {exc}") from None
        if not np.isfinite(net.params).all():
            raise ValueError(
                f"{_NON_FINITE}. Scale the inputs (e.g. with StandardScaler), lower "
                "learning_rate_init or raise alpha."
            )
        return self

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

        def on_iteration(intermediate_result):
            self.n_iter_ += 1
            logs = {"loss": float(intermediate_result.fun)}
            for cb in callbacks:
                cb.on_epoch_end(self.n_iter_ - 1, logs)
            if net.stop_training:
                raise StopIteration

        for cb in callbacks:
            cb.network, cb.params = net, {"epochs": self.max_iter, "batches": 1}
            cb.on_train_begin({})
        net.stop_training = False
        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        self.n_iter_ = 0
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                with other_blas_single_threaded():
                    result = scipy.optimize.minimize(
                        loss_and_gradient,
                        net.params.astype(np.float64),
                        method="L-BFGS-B",
                        jac=True,
                        callback=on_iteration if callbacks else None,
                        options={
                            "maxfun": self.max_fun,
                            "maxiter": self.max_iter,
                            "gtol": self.tol,
                            **_get_additional_lbfgs_options_dict("iprint", iprint),
                        },
                    )
        finally:
            for cb in callbacks:
                cb.on_train_end({})
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        net.params[...] = result.x

    def _fit_stochastic(self, X, Y, target, sample_weight, incremental, callbacks) -> None:
        """sgd and adam: scikit-learn's settings translated onto the training loop."""
        net = self.network_
        if not incremental or not hasattr(self, "_optimizer"):
            net.optimizer = self._optimizer = self._make_optimizer()
            net.optimizer.build(net.params)
        if not hasattr(self, "loss_curve_"):  # warm start after an lbfgs fit
            self._reset_curves()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        validation = None
        if self.early_stopping:
            # scikit-learn's split, from the same RandomState: the same rows go to validation
            stratify = Y if self._is_classifier() and self.n_outputs_ == 1 else None
            arrays = [X, Y, target] + ([] if sample_weight is None else [sample_weight])
            split = train_test_split(
                *arrays,
                random_state=self._random_state,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            X, X_val, Y_val, target, target_val = split[0], split[1], split[3], split[4], split[5]
            sample_weight, sw_val = split[6:8] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            validation = (X_val, self._validation_targets(Y_val), sw_val)

        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped",
                    stacklevel=5,  # the caller of fit()
                )
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        # scikit-learn's batches: its RandomState shuffles the rows before each epoch
        batches = ArrayBatches(
            X,
            target,
            sample_weight,
            batch_size=batch_size,
            shuffle=self.shuffle,
            rng=self._random_state,
        )
        optimizer = net.optimizer
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            optimizer.schedule = _InverseScaling(
                float(self.learning_rate_init),
                self.power_t,
                self.t_,
                n_samples,
                optimizer.learning_rate,
            )
        epochs = _SklearnEpochs(self, n_samples, validation, incremental)
        val_batches = None
        if validation is not None and callbacks:  # val_loss for the user's callbacks
            val_batches = ArrayBatches(
                X_val, target_val, sw_val, batch_size=_PREDICT_CHUNK, shuffle=False
            )
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
            warnings.warn("Training interrupted by user.", stacklevel=5)
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
                stacklevel=5,
            )
            return
        finally:
            optimizer.schedule = None  # the rate it left is the current one, as scikit-learn's
        if not incremental and not epochs.stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,  # the caller of fit()
            )

    def _score(self, X, y, sample_weight=None) -> float:
        """Validation score (accuracy or R^2) without input validation; NaN if not finite."""
        y_pred = self._predict(X, check_input=False)
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
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

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
        for name in (
            "n_features_in_",
            "n_layers_",
            "n_outputs_",
            "out_activation_",
            "n_iter_",
            "t_",
            "loss_",
            "best_loss_",
            "loss_curve_",
            "validation_scores_",
            "best_validation_score_",
            "_no_improvement_count",
        ):
            if hasattr(self, name):
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
        if hasattr(self, "_label_binarizer"):
            header["label_type"] = self._label_binarizer.y_type_
            classes = np.asarray(self.classes_)
            if classes.dtype == object:
                classes = classes.astype(str)
            arrays["classes"] = classes
        return type(self).__name__, header, arrays

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """Rebuild a saved estimator from :func:`chainrule.io.load`'s checked contents."""
        params = dict(header["estimator_params"])
        if isinstance(params.get("hidden_layer_sizes"), list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = {k: v for k, v in params["class_weight"]["pairs"]}
        est = cls(**params)
        net = Network._from_model_state(header, {"params": arrays["params"]})
        for name, value in header["fitted"].items():
            if name == "feature_names_in_":
                value = np.asarray(value, dtype=object)
            setattr(est, name, value)
        if "classes" in arrays:
            est.classes_ = arrays["classes"]
            est._label_binarizer = _label_binarizer_for(est.classes_, header["label_type"])
        net.loss = _OUTPUTS[est.out_activation_][1]()  # the file names the plain loss
        net.l2, net.l2_divided_by_batch = est.alpha, True
        est.network_ = net
        est._architecture = (est.activation, est.dropout)
        est._optimizer = net.optimizer
        dense = est._dense_layers()
        est.coefs_ = [layer.weights for layer in dense]
        est.intercepts_ = [layer.bias for layer in dense]
        est._best_params = net.params.copy()
        est._random_state = check_random_state(est.random_state)
        return est


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


_DOC = Template(
    """Multi-layer perceptron $kind, on chainrule's engine.

$summary

    Parameters
    ----------
$loss_param    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Units in each hidden layer.
    activation : str, default='relu'
        Hidden activation: scikit-learn's 'identity', 'logistic', 'tanh', 'relu', and
        chainrule's 'leaky_relu', 'gelu' (any name in ``chainrule.ACTIVATIONS`` but
        'softmax').
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
    alpha : float, default=0.0001
        L2 penalty: the loss gains ``0.5 * alpha * ||W||^2 / n_batch``.
    batch_size : int or 'auto', default='auto'
        ``min(200, n_samples)`` for 'auto'; lbfgs uses all samples.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule for sgd: 'invscaling' sets ``learning_rate_init / (t + 1)**power_t``
        after each epoch (``t`` samples seen); 'adaptive' divides the rate by 5 when
        ``n_iter_no_change`` epochs bring no improvement.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs for sgd/adam, iterations for lbfgs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Initial weights, shuffling, the early-stopping split and dropout. The same
        value gives the same initial weights and batches as scikit-learn.
    tol : float, default=1e-4
    verbose : bool, default=False
    warm_start : bool, default=False
        Start from the current ``coefs_`` and ``intercepts_`` (including ones you set).
    momentum : float, default=0.9
        For sgd, in [0, 1).
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its $score stalls.
    validation_fraction : float, default=0.1
    beta_1 : float, default=0.9
    beta_2 : float, default=0.999
    epsilon : float, default=1e-8
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
        Loss evaluations allowed to lbfgs.
    dropout : float, default=0.0
        chainrule addition: fraction of each hidden layer's outputs dropped in training
        (inverted dropout; sgd and adam only).
$class_weight_param    callbacks : list of chainrule.Callback or None, default=None
        chainrule addition: called every epoch with ``logs`` holding ``loss``, ``lr``,
        ``seconds`` and, with ``early_stopping=True``, ``val_loss`` and
        ``$score_name``. ``callback.network`` is ``network_``; setting
        ``network_.stop_training = True`` stops the fit.
    dtype : {'float32', 'float64'} or None, default=None
        chainrule addition: the computing precision. None follows scikit-learn
        (float32 data trains in float32, anything else in float64); 'float32' is
        about twice as fast on large data.

    Attributes
    ----------
$classes_attr    loss_ : float
        The last epoch's mean loss, L2 term included.
    best_loss_ : float or None
    loss_curve_ : list of float
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray
        Weight matrices ``(n_in, n_out)``, views into ``network_.params``.
    intercepts_ : list of ndarray
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_iter_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    network_ : chainrule.Network
        The network doing the work.

    Notes
    -----
    Sparse X (CSR or CSC) stays sparse: sgd and adam densify one batch at a time and
    predictions 4096 rows at a time; lbfgs, which evaluates every row at every step,
    densifies X once. During an lbfgs fit, the BLAS libraries other than NumPy's
    (SciPy's own OpenBLAS, which L-BFGS-B uses) run one thread: their idle threads
    otherwise spin on the cores NumPy's products need (:mod:`chainrule.blas`).
    ``predict``, ``predict_proba`` and ``score`` keep nothing on the estimator, so one
    fitted estimator can predict from many threads at once.

    Examples
    --------
$example"""
)

_CLASSIFIER_DOC = _DOC.substitute(
    kind="classifier",
    summary="""    A drop-in for ``sklearn.neural_network.MLPClassifier`` (scikit-learn 1.9): the
    same parameters and defaults, fitted attributes and behaviour. It minimises the
    log-loss (softmax and categorical cross-entropy for several classes, sigmoids and
    binary cross-entropy for two classes or multilabel targets) with lbfgs, sgd or adam.""",
    loss_param="",
    class_weight_param="""    class_weight : dict, 'balanced' or None, default=None
        chainrule addition: weights of the classes, multiplied into ``sample_weight``
        ('balanced': ``n_samples / (n_classes * count)``).
""",
    score_name="val_accuracy",
    score="accuracy",
    classes_attr="    classes_ : ndarray or list of ndarray\n",
    example="""    >>> from chainrule import MLPClassifier  # instead of sklearn.neural_network
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=500, random_state=0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
""",
)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = _CLASSIFIER_DOC

    _parameter_constraints: ClassVar[dict] = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }
    _score_name = "val_accuracy"
    _score_function = staticmethod(accuracy_score)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        class_weight=None,
        callbacks=None,
        dtype=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.dtype = dtype

    def _out_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}. Pass every class in `classes=` "
                    "on the first call to partial_fit."
                )
        class_sw = None
        if self.class_weight is not None:
            if incremental and self.class_weight == "balanced":
                raise ValueError(
                    "class_weight 'balanced' is not supported for partial_fit: it needs "
                    "every label at once. Compute the weights with sklearn.utils."
                    "class_weight.compute_class_weight('balanced', classes=classes, y=y) "
                    "on enough labels and pass them as a dict."
                )
            class_sw = compute_sample_weight(self.class_weight, y)
        return X, self._binarize(y), class_sw

    def _binarize(self, y) -> np.ndarray:
        """``LabelBinarizer.transform(y)`` as booleans, directly for 1-D labels.

        The direct route gives the same matrix without the transform's validation
        passes (a millisecond per fit on small data); the labels were checked above.
        """
        lb = self._label_binarizer
        if y.ndim == 1 and lb.y_type_ in ("binary", "multiclass") and len(lb.classes_) > 1:
            labels = np.searchsorted(lb.classes_, y)
            labels[labels >= len(lb.classes_)] = 0
            if np.array_equal(lb.classes_[labels], y):
                if lb.y_type_ == "binary":
                    return (labels == 1).reshape(-1, 1)
                Y = np.zeros((y.shape[0], len(lb.classes_)), dtype=bool)
                Y[np.arange(y.shape[0]), labels] = True
                return Y
        return lb.transform(y).astype(bool)

    def _target(self, Y, net):
        if self.out_activation_ == "softmax":
            return np.argmax(Y, axis=1).astype(np.intp)  # integer labels: cheaper to gather
        return net.loss.prepare_target(Y, Y.shape[1], net.dtype)

    def _validation_targets(self, Y_val):
        return self._label_binarizer.inverse_transform(Y_val)

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        if check_input:
            X = self._validate_predict_input(X)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class label; required on the first call, ignored after.

        Returns
        -------
        self : object
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        y_pred = self._forward(self._validate_predict_input(X))
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """Log of the probability estimates: ``log(predict_proba(X))``, as scikit-learn.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
        """
        y_prob = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


_REGRESSOR_DOC = _DOC.substitute(
    kind="regressor",
    summary="""    A drop-in for ``sklearn.neural_network.MLPRegressor`` (scikit-learn 1.9): the
    same parameters and defaults, fitted attributes and behaviour. It minimises the
    half squared error (identity output) or the half Poisson deviance (exp output)
    with lbfgs, sgd or adam; several outputs are fitted jointly.""",
    loss_param="""    loss : {'squared_error', 'poisson'}, default='squared_error'
        'poisson' needs targets >= 0 and predicts ``exp`` of the last layer.
""",
    class_weight_param="",
    score_name="val_r2",
    score="R^2",
    classes_attr="",
    example="""    >>> from chainrule import MLPRegressor  # instead of sklearn.neural_network
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=2000,
    ...                    random_state=0).fit(X, y)
    >>> round(reg.score(X, y), 2)
    0.58
""",
)


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = _REGRESSOR_DOC

    _parameter_constraints: ClassVar[dict] = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }
    _score_name = "val_r2"
    _score_function = staticmethod(r2_score)

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        callbacks=None,
        dtype=None,
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.callbacks = callbacks
        self.dtype = dtype

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "loss='poisson' needs targets y >= 0 (counts or rates); received a "
                f"minimum of {np.min(y)}. Use loss='squared_error' for signed targets."
            )
        return X, y, None

    def _target(self, Y, net):
        return net.loss.prepare_target(Y, Y.shape[1], net.dtype)

    def _validation_targets(self, Y_val):
        return Y_val.ravel() if Y_val.shape[1] == 1 else Y_val

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        if check_input:
            X = self._validate_predict_input(X)
        y_pred = self._forward(X)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
