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
  shuffled by scikit-learn's ``RandomState`` (for a memory-mapped X, the same order
  of rows read by index; for a chunk source, a
  :class:`~chainrule.training.ChunkBatches`), ``learning_rate="invscaling"`` is a
  schedule, and ``n_iter_no_change``/``tol``, ``learning_rate="adaptive"``,
  ``early_stopping`` and the fitted attributes (``loss_curve_``, ``t_``, ...) are one
  callback (:mod:`chainrule.sklearn_rules`);
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

from string import Template
from typing import ClassVar

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted

from chainrule.estimator_base import _BaseMLP, _label_binarizer_for
from chainrule.layers import HIDDEN_ACTIVATIONS

__all__ = ["MLPClassifier", "MLPRegressor", "HIDDEN_ACTIVATIONS"]


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
        sgd and adam go on where the last fit stopped: the optimizer's state (moments,
        step count, current rate), the RandomState stream and the rows' order carry on
        (also from a model file), so ``max_iter`` split over warm fits gives the weights
        of one fit. scikit-learn starts a new optimizer every time; so does this after
        ``coefs_`` set by hand or a change to the optimizer's settings.
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

    Data larger than memory: a memory-mapped X (``np.load(path, mmap_mode="r")``) is
    read and converted batch by batch by sgd and adam (and by ``predict``), never
    loaded whole; ``fit`` also takes a chunk source, a re-iterable of ``(X, y)``
    chunks with ``y`` omitted (see :meth:`fit`). ``partial_fit`` is one epoch over
    the rows it is given that goes on from the last call; ``dask_ml.wrappers.
    Incremental`` trains the estimator on a Dask array's blocks through it. A search
    (``GridSearchCV``, ``RandomizedSearchCV``, ``cross_val_score``) runs on a Dask
    cluster under ``joblib.parallel_config(backend="dask")`` with the serial run's
    scores: the estimators pickle into worker processes and back.

    Examples
    --------
$example"""
)


def _with_doc(doc: str):
    """Give the decorated function ``doc`` as its docstring (one text for two methods)."""

    def decorate(function):
        function.__doc__ = doc
        return function

    return decorate


#: the estimators' ``partial_fit`` docstring: what carries over from call to call
_PARTIAL_FIT_DOC = Template(
    """Update the model with a single epoch over the given data.

        Each call is one pass over ``X`` that goes on from the last call, as
        scikit-learn's: the optimizer's state (adam's moments and step count, sgd's
        velocities) and the learning rate carry over; ``t_`` counts the samples of
        every call, so ``learning_rate='invscaling'`` decays across calls, and
        ``'adaptive'`` divides the rate by 5 when ``n_iter_no_change`` calls in a row
        brought no improvement of ``tol``. The rows are shuffled by a RandomState
        seeded anew from ``random_state`` at each call. In order (``shuffle=False``)
        with a ``batch_size`` that divides each call's rows, calls on consecutive
        parts of the data take exactly the steps of one call on all of it. A
        memory-mapped X is read batch by batch.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : $y of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None$classes

        Returns
        -------
        self : object
        """
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
        X, y = self._validate_xy(X, y, reset)
        self._check_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_known_classes(unique_labels(y))
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

    def _check_targets(self, y) -> None:
        check_classification_targets(y)

    def _check_known_classes(self, classes) -> None:
        """A warm start needs the classes of the last fit, partial_fit some of them."""
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

    # a chunk source: the classes come from a first pass over every chunk

    def _summarize_targets(self, y):
        return type_of_target(y), unique_labels(y)

    def _learn_targets(self, summaries) -> None:
        kinds = {kind for kind, _ in summaries}
        if len(kinds) > 1 and "multilabel-indicator" in kinds:
            raise ValueError(
                "X: every chunk's y must be labels, or every chunk's a multilabel indicator "
                f"matrix; received a mix ({sorted(kinds)})"
            )
        classes = unique_labels(*[labels for _, labels in summaries])
        if hasattr(self, "classes_") and self.warm_start:
            self._check_known_classes(classes)
            return
        y_type = "multilabel-indicator" if "multilabel-indicator" in kinds else "multiclass"
        self._label_binarizer = _label_binarizer_for(classes, y_type)
        self.classes_ = self._label_binarizer.classes_
        binary = self._label_binarizer.y_type_ == "binary"
        self.n_outputs_ = 1 if binary else len(self.classes_)

    def _chunk_targets(self, y):
        """A chunk's labels binarized, and the class weights of its rows (or None)."""
        if self._label_binarizer.y_type_ != "multilabel-indicator":
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                raise ValueError(
                    f"y has labels {unseen} that the first pass over the chunks did not "
                    f"find (it found {self.classes_}): the source must yield the same "
                    "chunks every time it is iterated"
                )
        weights = None
        if isinstance(self.class_weight, dict):
            if y.ndim == 1:
                per_class = np.array([self.class_weight.get(c, 1.0) for c in self.classes_])
                weights = per_class[np.searchsorted(self.classes_, y)]
            else:
                weights = compute_sample_weight(self.class_weight, y)
        return self._binarize(y), weights

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

    def _predict(self, X, check_input=True, rows=None):
        if check_input:
            X = self._validate_predict_input(X)
        y_pred = self._forward(X, rows)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @_with_doc(
        _PARTIAL_FIT_DOC.substitute(
            y="array-like",
            classes="""
        classes : array of shape (n_classes,), default=None
            Every class label; required on the first call, ignored after.""",
        )
    )
    def partial_fit(self, X, y, sample_weight=None, classes=None):
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
        X, y = self._validate_xy(X, y, reset)
        self._check_targets(y)
        return X, y, None

    def _check_targets(self, y) -> None:
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "loss='poisson' needs targets y >= 0 (counts or rates); received a "
                f"minimum of {np.min(y)}. Use loss='squared_error' for signed targets."
            )

    # a chunk source: the outputs come from a first pass over every chunk

    def _summarize_targets(self, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def _learn_targets(self, summaries) -> None:
        if len(set(summaries)) > 1:
            raise ValueError(
                "X: every chunk's y must have the same number of outputs; received chunks "
                f"with {sorted(set(summaries))} outputs"
            )
        self.n_outputs_ = summaries[0]

    def _chunk_targets(self, y):
        return y, None

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

    def _predict(self, X, check_input=True, rows=None):
        if check_input:
            X = self._validate_predict_input(X)
        y_pred = self._forward(X, rows)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @_with_doc(_PARTIAL_FIT_DOC.substitute(y="ndarray", classes=""))
    def partial_fit(self, X, y, sample_weight=None):
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
