"""Data-parallel training and prediction on a Dask cluster (the ``dask`` extra).

The training data is a Dask array or DataFrame whose partitions stay on the workers:
each partition is checked and converted once, on the worker that holds it
(:func:`chainrule.partitions.prepare_partition`), and kept there for the whole fit. Only
flat parameter vectors (and an optimizer's state) travel:

- ``method="lbfgs"``, full-batch L-BFGS: at every evaluation the client sends the flat
  parameters, each worker returns its partitions' mean loss and gradient
  (:meth:`Network.loss_and_gradient`), the client adds them up weighted by rows (plus
  the L2 term, once) and SciPy's L-BFGS-B runs on the client, with the options and
  convergence warning of the estimators' lbfgs solver. The result is the
  single-machine fit's, up to the order of the sums.
- ``method="local_sgd"``, local SGD (model averaging): in each round every partition
  trains a copy of the model for a set number of mini-batch steps with the model's
  optimizer, through the one training loop; the client averages the copies'
  parameters and optimizer state (weighted by each partition's rows) and starts the
  next round from the average. An approximation of serial training: each copy sees
  only its own rows between averages.

:func:`predict` and :func:`predict_proba` map a fitted model over the blocks of a Dask
array or the partitions of a Dask DataFrame, in the rows' order.

Faults: the per-partition tasks are retried by Dask (``retries``); a partition whose
worker died is computed again from its graph when Dask can. When it cannot (the data
was scattered to the dead worker, or a task kept killing workers), the fit raises
:class:`chainrule.PartitionsLostError` naming the partitions: it never returns a model
trained on part of the data.
"""

from __future__ import annotations

import copy
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.callbacks import History, check_callbacks
from chainrule.errors import PartitionsLostError
from chainrule.layers import Dropout
from chainrule.network import Network
from chainrule.partitions import (
    local_sgd,
    partition_loss_and_gradient,
    predict_block,
    predict_frame,
    prepare_partition,
)

__all__ = ["METHODS", "WORKER_MALLOC", "fit", "predict", "predict_proba"]

#: The training methods of :func:`fit`, with the options each takes and their defaults.
METHODS: dict[str, dict[str, Any]] = {
    "lbfgs": {
        "max_iter": 200,
        "max_fun": 15000,
        "tol": 1e-4,
        "verbose": False,
        "callbacks": (),
        "retries": 2,
    },
    "local_sgd": {
        "rounds": 10,
        "local_steps": None,
        "batch_size": None,
        "seed": None,
        "callbacks": (),
        "retries": 2,
    },
}

#: glibc malloc settings for Dask's worker processes, in the environment their nanny
#: starts them from: the shell's for ``dask worker``, ``os.environ`` before a
#: ``LocalCluster`` (the nanny takes the environment's values over its
#: ``distributed.nanny.pre-spawn-environ`` configuration, and leaves its own in the
#: environment). Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` so that workers hand freed
#: memory back to the system at once; then every block of a loss and gradient maps and
#: unmaps its temporary arrays, and one partition's evaluation took about twice as long
#: as in a plain process (``benchmarks/data_parallel.py``). With both thresholds at 64 MB
#: it runs as in a plain process; a worker may keep up to about 64 MB of freed memory.
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 67108864, "MALLOC_MMAP_THRESHOLD_": 67108864}

#: A Network's batch size for local SGD when none is given (Network.fit's default).
_NETWORK_BATCH_SIZE = 32

_INSTALL = "pip install 'chainrule[dask]'"


def _import_dask():
    """``(dask, dask.array, dask.dataframe, distributed)``, or an ImportError with the fix."""
    try:
        import dask
        import dask.array as da
        import dask.dataframe as dd
        from dask import distributed  # dask's name for the distributed package
    except ImportError as exc:
        raise ImportError(
            f"chainrule.distributed needs Dask with its array, dataframe and distributed "
            f"parts ({exc}); install them with {_INSTALL}"
        ) from exc
    return dask, da, dd, distributed


def _get_client(client):
    """``client``, or the current default client (a clear error when there is none)."""
    _, _, _, distributed = _import_dask()
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(
                f"client must be a dask.distributed.Client; received {type(client).__name__}"
            )
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "chainrule.distributed needs a Dask client and none is running: pass client=..., "
            "or start one first, e.g. client = Client(LocalCluster()) on this machine or "
            'Client("tcp://scheduler:8786") for a cluster (from dask.distributed import '
            "Client, LocalCluster)"
        ) from None


# ---------------------------------------------------------------- the data


def _is_estimator(model: Any) -> bool:
    """A chainrule MLPClassifier / MLPRegressor (without importing scikit-learn)."""
    return hasattr(model, "_run_lbfgs") and hasattr(model, "hidden_layer_sizes")


def _as_arrays(X, y):
    """``X`` and ``y`` as Dask arrays with the same row chunks (X's) and the columns in
    one chunk; X's column names when it is a DataFrame."""
    _, da, dd, _ = _import_dask()
    feature_names = None
    if isinstance(X, dd.DataFrame):
        bad = [str(c) for c, t in X.dtypes.items() if t.kind not in "biuf"]
        if bad:
            raise TypeError(
                f"X must hold numbers; its columns {bad} do not. Encode text and date "
                "columns as numbers first (e.g. with X.categorize() and dummy columns)."
            )
        feature_names = list(X.columns)
        X = X.to_dask_array(lengths=True)
    elif not isinstance(X, da.Array):
        raise TypeError(
            "X must be a Dask array or a Dask DataFrame (its partitions stay on the "
            f"workers); received {type(X).__name__}. For data in memory use the model's "
            "own fit, or dask.array.from_array(X, chunks=...)"
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, features); received shape {X.shape}")
    if isinstance(y, (dd.Series, dd.DataFrame)):
        if isinstance(y, dd.Series) and y.dtype != object and y.dtype.kind == "O":
            y = y.astype(object)  # text or categorical labels: as NumPy holds them
        y = y.to_dask_array(lengths=True)
    elif not isinstance(y, da.Array):
        raise TypeError(
            "y must be a Dask array, Series or DataFrame beside a Dask X; received "
            f"{type(y).__name__}. Make it one with dask.array.from_array(y, "
            "chunks=X.chunks[0])"
        )
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; received shape {y.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if any(math.isnan(c) for c in y.chunks[0]):
        y = y.compute_chunk_sizes()
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of rows; received X with {X.shape[0]} rows "
            f"and y with {y.shape[0]}"
        )
    X = X.rechunk({1: -1})
    y = y.rechunk({0: X.chunks[0], 1: -1} if y.ndim == 2 else {0: X.chunks[0]})
    return X, y, feature_names


class _Partitions:
    """The fit's partitions, prepared and held on the workers, and the map of a function
    over them with Dask's retries; lost data becomes :class:`PartitionsLostError`."""

    def __init__(self, client, X, y, network: Network, estimator, retries: int) -> None:
        dask, _, _, distributed = _import_dask()
        self.client, self.retries = client, retries
        self._lost = _lost_errors(distributed)
        rows = X.chunks[0]
        x_blocks, y_blocks = X.to_delayed().ravel(), y.to_delayed().ravel()
        self._tag = uuid.uuid4().hex[:12]
        # prepared from the data's graph, so Dask can compute a lost one again; the
        # network (and the estimator's target encoding) travel once per worker
        template = dask.delayed(network, name=f"chainrule-network-{self._tag}")
        encoder = dask.delayed(_encoder(estimator), name=f"chainrule-encoder-{self._tag}")
        tasks = [
            dask.delayed(prepare_partition, pure=True)(i, xb, yb, template, encoder)
            for i, (xb, yb, n) in enumerate(zip(x_blocks, y_blocks, rows, strict=True))
            if n > 0
        ]
        self.index = [i for i, n in enumerate(rows) if n > 0]  # partition numbers
        self.rows = [int(n) for n in rows if n > 0]
        self.n_rows = sum(self.rows)
        self.futures = client.compute(tasks)
        self._calls = 0
        try:
            self._settle(self.futures)
        except BaseException:
            self.release()
            raise

    def _settle(self, futures) -> None:
        """Wait for ``futures``; raise a task's own error, or PartitionsLostError."""
        try:
            for future in futures:
                # waits for the task (on this fit's client; the data stays on the worker)
                if future.exception() is not None:
                    future.result()  # the task's exception, as raised on the worker
        except self._lost as exc:
            raise self._lost_error(exc) from exc

    def _lost_error(self, exc: BaseException) -> PartitionsLostError:
        lost = [
            self.index[i]
            for i, future in enumerate(self.futures)
            if future.status in ("cancelled", "lost", "error")
        ]
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return PartitionsLostError(lost, f"Dask reported {reason}".rstrip(". "))

    def map(self, function: Callable, *args, **kwargs) -> list:
        """``function(partition, *args, **kwargs)`` on every partition, where it lives;
        the results in the partitions' order."""
        self._calls += 1
        keys = [f"chainrule-{function.__name__}-{self._tag}-{self._calls}-{i}" for i in self.index]
        futures = [
            self.client.submit(function, p, *args, key=k, retries=self.retries, **kwargs)
            for p, k in zip(self.futures, keys, strict=True)
        ]
        try:
            return self.client.gather(futures)
        except self._lost as exc:
            raise self._lost_error(exc) from exc
        finally:
            self.client.cancel(futures)

    def release(self) -> None:
        """Let the workers drop the prepared partitions."""
        self.client.cancel(self.futures)


def _encoder(estimator):
    """What the workers need of an estimator to encode targets as its ``fit`` does: a
    shallow copy without its callbacks and network (None for a Network)."""
    if estimator is None:
        return None
    encoder = copy.copy(estimator)
    encoder.callbacks = None
    for name in ("network_", "coefs_", "intercepts_", "_optimizer", "_best_params"):
        encoder.__dict__.pop(name, None)
    return encoder


def _lost_errors(distributed) -> tuple[type[BaseException], ...]:
    """The exceptions by which Dask reports data or tasks lost with their workers."""
    from concurrent.futures import CancelledError

    # FutureCancelledError (the data is gone) is a CancelledError; KilledWorker: a task
    # whose workers kept dying
    return (CancelledError, distributed.KilledWorker)


def _weighted_sum(values: Sequence, weights: Sequence[int]) -> np.ndarray | float:
    """``sum(w * v) / sum(w)`` in float64, in the given order."""
    total = float(sum(weights))
    result = 0.0
    for value, weight in zip(values, weights, strict=True):
        result = result + (weight / total) * np.asarray(value, dtype=np.float64)
    return result


# ---------------------------------------------------------------- fit


def fit(model, X, y, *, client=None, method: str = "lbfgs", **options):
    """Train ``model`` on a Dask collection, data-parallel, on a Dask cluster.

    Parameters
    ----------
    model : Network, MLPClassifier or MLPRegressor
        A Network is trained from its current weights (built first, from its seed,
        if it has none). An estimator is fitted afresh, as its own ``fit`` would
        (scikit-learn's initial weights from ``random_state``), and ends with the same
        fitted attributes: ``classes_``, ``n_iter_``, ``loss_``, ``coefs_``, ...
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Numbers; its partitions (row blocks) stay on the workers. A DataFrame's
        columns become the estimator's ``feature_names_in_``.
    y : dask.array.Array, dask.dataframe.Series or DataFrame
        The targets, as the model's ``fit`` takes them; rechunked to X's row blocks.
    client : dask.distributed.Client, optional
        Default: the current client (``distributed.get_client()``).
    method : {"lbfgs", "local_sgd"}, default="lbfgs"
        Full-batch L-BFGS (the result is the single-machine lbfgs fit's) or local SGD
        (model averaging, an approximation of serial mini-batch training). An
        estimator's ``solver`` must agree: ``"lbfgs"`` for lbfgs, ``"sgd"`` or
        ``"adam"`` for local_sgd.
    **options
        For ``"lbfgs"`` with a Network: ``max_iter=200``, ``max_fun=15000``,
        ``tol=1e-4`` (SciPy's ``gtol``), ``verbose=False``; an estimator uses its own
        ``max_iter``, ``max_fun``, ``tol``, ``verbose``. For ``"local_sgd"``:
        ``rounds=10`` (averages), ``local_steps`` (mini-batch steps per partition and
        round; default one pass over the mean partition), ``batch_size`` (default a
        Network's 32, an estimator's own), ``seed`` (the batches' order; default from
        the model's seed or random_state). Both: ``callbacks`` for a Network (an
        estimator's own ``callbacks`` run otherwise), called after every L-BFGS
        iteration or local-SGD round as after an epoch, on the client; and
        ``retries=2``, Dask's retries of a per-partition task that raised.

    Returns
    -------
    model
        The model given, trained. A Network's ``history`` holds the loss per L-BFGS
        iteration or per local-SGD round.

    Raises
    ------
    PartitionsLostError
        A worker died with partitions Dask cannot compute again. Like every error, it
        leaves the model as it was given (never trained on part of the data).

    Notes
    -----
    Not supported: sample weights, an estimator's ``warm_start``, ``early_stopping``,
    ``class_weight`` and, for local SGD, sgd's ``learning_rate`` schedules other than
    "constant" (each is refused with a message).
    """
    _import_dask()
    client = _get_client(client)
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}; received method={method!r}")
    estimator = _is_estimator(model)
    if not estimator and not isinstance(model, Network):
        raise TypeError(
            "model must be a chainrule Network, MLPClassifier or MLPRegressor; received "
            f"{type(model).__name__}"
        )
    options = _check_options(method, options, estimator)
    dask = _import_dask()[0]
    with dask.config.set(scheduler=client):  # lengths and sizes computed on this client
        X, y, feature_names = _as_arrays(X, y)
    restore = _snapshot(model)
    try:
        _fit(model, X, y, feature_names, client, method, options, estimator)
    except BaseException:
        restore()  # a failed fit leaves the model as it was given, not part-trained
        raise
    return model


def _fit(model, X, y, feature_names, client, method: str, options, estimator: bool) -> None:
    """Set the model up, prepare the partitions on the workers, train."""
    if estimator:
        network = _start_estimator(model, X, y, feature_names, method, client)
        callbacks = check_callbacks(model.callbacks or [])
    else:
        network = _start_network(model, X, method)
        callbacks = check_callbacks(options["callbacks"])
    # the workers' network: a copy (for lbfgs without the L2 term, added on the client)
    template = _without_l2(network) if method == "lbfgs" else copy.deepcopy(network)
    partitions = _Partitions(
        client, X, y, template, model if estimator else None, options["retries"]
    )
    try:
        if method == "lbfgs":
            _fit_lbfgs(model, network, partitions, options, estimator, callbacks)
        else:
            _fit_local_sgd(model, network, partitions, options, estimator, callbacks)
    finally:
        partitions.release()
    if not np.isfinite(network.params).all():
        raise ValueError(
            "Solver produced non-finite parameter weights. Scale the inputs (e.g. with "
            "StandardScaler), lower the learning rate or raise the L2 penalty."
        )


def _snapshot(model) -> Callable[[], None]:
    """A function that puts the model back as it is now (after a failed fit)."""
    if isinstance(model, Network):
        saved = copy.deepcopy(model)

        def restore() -> None:
            model.__dict__.clear()
            model.__setstate__(saved.__getstate__())

        return restore
    # an estimator's fit replaces its fitted attributes (network_ is a new Network)
    attributes = dict(model.__dict__)

    def restore_estimator() -> None:
        model.__dict__.clear()
        model.__dict__.update(attributes)

    return restore_estimator


def _check_options(method: str, options: dict[str, Any], estimator: bool) -> dict[str, Any]:
    """The method's options with their defaults; unknown or invalid ones refused."""
    known = METHODS[method]
    unknown = sorted(set(options) - set(known))
    own = {"max_iter", "max_fun", "tol", "verbose", "callbacks"}
    if estimator:
        unknown += sorted(set(options) & own)
    if unknown:
        hint = (
            " (an estimator takes max_iter, max_fun, tol, verbose and callbacks from its own "
            "parameters: set them on the estimator)"
            if estimator and set(unknown) & own
            else ""
        )
        raise TypeError(
            f"unknown option(s) {unknown} for method={method!r}; it takes {sorted(known)}{hint}"
        )
    checked = {**known, **options}
    positive = ["max_iter", "max_fun", "rounds"]
    for name in [*positive, "local_steps", "batch_size"]:
        value = checked.get(name)
        if name in known and (value is not None or name in positive):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {name}={value!r}")
    retries = checked["retries"]
    if not isinstance(retries, (int, np.integer)) or isinstance(retries, bool) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0; received retries={retries!r}")
    if "tol" in known:
        tol = checked["tol"]
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or not tol >= 0:
            raise ValueError(f"tol must be a number >= 0; received tol={tol!r}")
    return checked


def _start_network(network: Network, X, method: str) -> Network:
    """The Network built for X's columns (from its seed, when it has no weights)."""
    n_features = X.shape[1]
    if not network.built:
        network.build(n_features)
    elif network.n_features != n_features:
        raise ValueError(
            f"X has {n_features} columns, but the network was built for "
            f"{network.n_features}; pass data with the same columns as in training."
        )
    if method == "lbfgs" and any(isinstance(layer, Dropout) for layer in network.layers):
        raise ValueError(
            "Dropout needs a stochastic method: lbfgs needs the same loss at every "
            "evaluation. Use method='local_sgd', or a network without Dropout."
        )
    return network


def _start_estimator(est, X, y, feature_names, method: str, client) -> Network:
    """Set the estimator up as its own ``fit`` does before training: parameters checked,
    ``classes_`` (from every label), ``n_features_in_`` (and ``feature_names_in_``), the
    network with scikit-learn's initial weights. Returns the network."""
    from sklearn.utils import check_random_state

    est._validate_params()
    solvers = ("lbfgs",) if method == "lbfgs" else ("sgd", "adam")
    if est.solver not in solvers:
        other = "local_sgd" if method == "lbfgs" else "lbfgs"
        raise ValueError(
            f"method={method!r} trains with solver {' or '.join(map(repr, solvers))}; the "
            f"estimator has solver={est.solver!r}. Set solver= on the estimator, or pass "
            f"method={other!r}."
        )
    unsupported = {
        "warm_start": est.warm_start,
        "early_stopping": est.early_stopping,
        "class_weight": getattr(est, "class_weight", None) is not None,
    }
    if method == "local_sgd" and est.solver == "sgd" and est.learning_rate != "constant":
        unsupported["learning_rate"] = True
    named = [name for name, on in unsupported.items() if on]
    if named:
        raise ValueError(
            f"chainrule.distributed.fit does not support the estimator's {named} (set to "
            f"{[getattr(est, n) for n in named]}); leave them at their defaults, or fit "
            "in memory"
        )
    if est.dropout and method == "lbfgs":
        raise ValueError(
            "dropout needs a stochastic solver: lbfgs needs the same loss at every "
            f"evaluation; received dropout={est.dropout} with method='lbfgs'. Use "
            "solver='adam' or 'sgd' with method='local_sgd', or dropout=0."
        )
    hidden = est._hidden_sizes()
    n_features = X.shape[1]
    y_small = _label_sample(est, y, client)
    X_small = np.zeros((y_small.shape[0], n_features))
    if feature_names is not None:
        import pandas as pd

        X_small = pd.DataFrame(X_small, columns=feature_names)
    # the estimator's own checks and attributes (n_features_in_, classes_, ...), on
    # every label with stand-in rows
    _, Y, _ = est._validate_input(X_small, y_small, incremental=False, reset=True)
    Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
    dtype = est._resolve_dtype(X)
    est._random_state = check_random_state(est.random_state)
    est._initialize(Y.shape[1], [n_features, *hidden, Y.shape[1]], dtype)
    network = est.network_
    network.l2 = est.alpha
    return network


def _label_sample(est, y, client) -> np.ndarray:
    """Labels standing in for ``y`` in the estimator's own checks: every class of a
    classifier (a 0 row and a 1 row of an indicator matrix), one row for a regressor."""
    if hasattr(est, "_binarize"):  # a classifier
        if y.ndim == 2 and y.shape[1] > 1:  # multilabel indicators
            return np.vstack([np.zeros(y.shape[1], int), np.ones(y.shape[1], int)])
        _, da, _, _ = _import_dask()
        labels = client.compute(da.unique(y.ravel())).result()
        return labels.reshape(-1, 1) if y.ndim == 2 else labels
    return np.zeros((1, *y.shape[1:]))


def _without_l2(network: Network) -> Network:
    """A copy of the network whose loss has no L2 term: the client adds it once."""
    clone = copy.deepcopy(network)
    clone.l2 = 0.0
    return clone


def _fit_lbfgs(
    model, network: Network, partitions: _Partitions, options, estimator, callbacks
) -> None:
    """Full-batch L-BFGS-B on the client; the workers compute the partitions' losses
    and gradients."""
    from chainrule.estimator_base import _minimize_lbfgs

    l2 = network._l2(partitions.n_rows)
    n_weights = network.n_weights

    def loss_and_gradient(params: np.ndarray) -> tuple[float, np.ndarray]:
        results = partitions.map(partition_loss_and_gradient, params.astype(network.dtype))
        rows = [n for _, _, n in results]
        loss = float(_weighted_sum([value for value, _, _ in results], rows))
        gradient = _weighted_sum([grad for _, grad, _ in results], rows)
        if l2:
            weights = params[:n_weights].astype(network.dtype)
            loss += 0.5 * l2 * float(weights @ weights)
            gradient[:n_weights] += l2 * weights
        return loss, gradient

    if estimator:
        model._run_lbfgs(loss_and_gradient, callbacks)
        return
    iterations = _Iterations(network, callbacks, options["max_iter"])

    def on_iteration(intermediate_result) -> None:
        network.params[...] = intermediate_result.x  # the callbacks see this iteration's
        if iterations.end({"loss": float(intermediate_result.fun)}):
            raise StopIteration

    with iterations:
        result, _ = _minimize_lbfgs(
            loss_and_gradient,
            network.params,
            max_iter=options["max_iter"],
            max_fun=options["max_fun"],
            tol=options["tol"],
            verbose=options["verbose"],
            callback=on_iteration,
            stopped=lambda: network.stop_training,
        )
        network.params[...] = result.x


class _Iterations:
    """A Network's History and callbacks over L-BFGS iterations or local-SGD rounds, as
    the training loop runs them over epochs (``on_train_end`` however it ends)."""

    def __init__(self, network: Network, callbacks, epochs: int) -> None:
        self.network = network
        self.callbacks = [History(), *callbacks]
        self.count = 0
        for callback in self.callbacks:
            callback.network, callback.params = network, {"epochs": epochs, "batches": 1}

    def __enter__(self) -> _Iterations:
        self.network.stop_training = False
        self.network.history = self.callbacks[0]
        for callback in self.callbacks:
            callback.on_train_begin({})
        return self

    def end(self, logs: dict[str, float]) -> bool:
        """One iteration or round is over; returns whether a callback stopped training."""
        for callback in self.callbacks:
            callback.on_epoch_end(self.count, logs)
        self.count += 1
        return self.network.stop_training

    def __exit__(self, *exc) -> None:
        for callback in self.callbacks:
            callback.on_train_end({})


def _fit_local_sgd(
    model, network: Network, partitions: _Partitions, options, estimator, callbacks
) -> None:
    """Rounds of local training on every partition, then the average of the copies."""
    batch_size = options["batch_size"]
    if batch_size is None:
        if estimator:
            size = model.batch_size
            batch_size = min(200, min(partitions.rows)) if size == "auto" else size
        else:
            batch_size = _NETWORK_BATCH_SIZE
    steps = options["local_steps"]
    if steps is None:  # one pass over the mean partition
        steps = max(1, math.ceil(partitions.n_rows / len(partitions.rows) / batch_size))
    seed = options["seed"]
    if seed is None:
        if estimator:
            seed = int(model._random_state.randint(np.iinfo(np.int32).max))
        elif network.seed is not None:
            seed = network.seed
        else:
            seed = int(network.rng.integers(np.iinfo(np.int32).max))
    optimizer = network.optimizer
    rounds = _Iterations(network, callbacks, options["rounds"])
    trained = 0
    with rounds:
        for round_index in range(options["rounds"]):
            results = partitions.map(
                local_sgd,
                network.params,
                optimizer.get_state(),
                round_index=round_index,
                steps=steps,
                batch_size=batch_size,
                seed=seed,
            )
            # the copies' average, weighted by their partitions' rows: every row counts
            # alike, as in serial training (each copy takes the same steps, so the rows
            # trained on would over-weight a small partition)
            weights = partitions.rows
            network.params[...] = _weighted_sum([r.params for r in results], weights)
            arrays = {
                name: _weighted_sum([r.optimizer_state[1][name] for r in results], weights)
                for name in results[0].optimizer_state[1]
            }
            optimizer.set_state(
                dict(results[0].optimizer_state[0]),  # the same step count in every copy
                {name: a.astype(network.dtype) for name, a in arrays.items()},
            )
            n_trained = sum(r.n_trained for r in results)
            trained += n_trained
            network.epoch = round_index + 1
            loss = sum(r.loss_sum for r in results) / n_trained
            stop = rounds.end({"loss": loss, "lr": optimizer.learning_rate})
            optimizer.set_epoch(round_index + 1)
            if stop:
                break
    if estimator:
        model.n_iter_ = network.epoch
        model.t_ = trained
        model.loss_curve_ = list(network.history.history["loss"])
        model.loss_ = model.loss_curve_[-1]
        model.best_loss_ = min(model.loss_curve_)
        model._optimizer_made_with = model._optimizer_settings()


# ---------------------------------------------------------------- predict


def predict(model, X):
    """The fitted model's predictions for a Dask collection, block by block.

    Parameters
    ----------
    model : Network, MLPClassifier or MLPRegressor
        Fitted.
    X : dask.array.Array or dask.dataframe.DataFrame
        A DataFrame's partitions go to an estimator fitted on a DataFrame as frames
        (it checks the columns' names); a Network gets their values.

    Returns
    -------
    dask.array.Array, or dask.dataframe.Series / DataFrame for a DataFrame ``X``
        Lazy; the rows in X's order, equal to the model's ``predict`` on X in memory.
        A 1-D prediction (an estimator's labels or single output) is a Series named
        ``"predict"``; a 2-D one a DataFrame with columns ``0, 1, ...``.
    """
    return _predict(model, X, "predict")


def predict_proba(model, X):
    """The fitted model's class probabilities for a Dask collection, block by block.

    As :func:`predict`, with the model's ``predict_proba``; a DataFrame ``X`` gives a
    DataFrame with a column per class (an estimator's ``classes_``).
    """
    return _predict(model, X, "predict_proba")


def _predict(model, X, method: str):
    dask, da, dd, _ = _import_dask()
    if not (_is_estimator(model) or isinstance(model, Network)):
        raise TypeError(
            "model must be a fitted chainrule Network, MLPClassifier or MLPRegressor; "
            f"received {type(model).__name__}"
        )
    if not hasattr(model, method):
        raise AttributeError(f"{type(model).__name__} has no {method}()")
    if isinstance(model, Network):
        model._require_built()
        n_features, names = model.n_features, None
    else:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model)
        n_features, names = model.n_features_in_, getattr(model, "feature_names_in_", None)
    # the output's shape and dtype, from one row of zeros
    zeros = np.zeros((1, n_features))
    if names is not None:
        import pandas as pd

        zeros = pd.DataFrame(zeros, columns=names)
    sample = getattr(model, method)(zeros)
    delayed_model = dask.delayed(model, pure=True)
    if isinstance(X, dd.DataFrame):
        if names is not None and set(map(str, X.columns)) == set(map(str, names)):
            X = X[list(names)]  # the columns in the model's order
        if len(X.columns) != n_features:
            raise ValueError(
                f"X has {len(X.columns)} columns, but the model was fitted with {n_features}"
            )
        columns = None
        if sample.ndim == 2:
            classes = getattr(model, "classes_", None)
            use_classes = method == "predict_proba" and classes is not None
            columns = list(classes) if use_classes else list(range(sample.shape[1]))
        if sample.ndim == 1:
            import pandas as pd

            meta = pd.Series(np.empty(0, dtype=sample.dtype), name=method)
        else:
            import pandas as pd

            meta = pd.DataFrame(np.empty((0, sample.shape[1]), dtype=sample.dtype))
            meta.columns = columns
        return X.map_partitions(predict_frame, delayed_model, method, columns, meta=meta)
    if not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a Dask array or a Dask DataFrame; received {type(X).__name__}. For "
            f"data in memory call model.{method}(X)"
        )
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"X must be 2-D with the {n_features} columns the model was fitted with; "
            f"received shape {X.shape}"
        )
    X = X.rechunk({1: -1})
    if sample.ndim == 1:
        return X.map_blocks(
            predict_block,
            delayed_model,
            method,
            dtype=sample.dtype,
            drop_axis=1,
            meta=np.empty((0,), dtype=sample.dtype),
        )
    return X.map_blocks(
        predict_block,
        delayed_model,
        method,
        dtype=sample.dtype,
        chunks=(X.chunks[0], (sample.shape[1],)),
        meta=np.empty((0, 0), dtype=sample.dtype),
    )
