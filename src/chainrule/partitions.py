"""The worker side of data-parallel training: what a Dask worker does with one partition.

:mod:`chainrule.distributed` (the client side) sends these functions to the workers,
which import this module in their own processes. It needs NumPy and chainrule's engine
only, no Dask. A partition's rows are checked and converted once
(:func:`prepare_partition`) and stay in the worker's memory; after that only flat
parameter vectors (and an optimizer's state) travel:

- :func:`partition_loss_and_gradient`: the partition's mean loss and its gradient at a
  parameter vector, for L-BFGS on the client (full batch);
- :func:`local_sgd`: a number of mini-batch steps from a parameter vector and an
  optimizer state, through the one training loop (:func:`chainrule.training.train`),
  for local SGD (model averaging);
- :func:`predict_block`, :func:`predict_frame`: a fitted model's predictions for one
  block of rows.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from chainrule._validation import check_array, check_consistent_length
from chainrule.errors import TrainingDivergedError
from chainrule.network import Network
from chainrule.training import ArrayBatches, Batch, train

__all__ = [
    "LocalResult",
    "Partition",
    "StepBatches",
    "local_sgd",
    "partition_loss_and_gradient",
    "predict_block",
    "predict_frame",
    "prepare_partition",
]


class Partition(NamedTuple):
    """One partition's rows as the network trains on them, kept in a worker's memory."""

    #: the partition's number in the data (0-based), for error messages and seeds
    index: int
    #: (n_rows, n_features), the network's dtype, C-ordered
    X: np.ndarray
    #: the targets as the network's loss takes them
    target: np.ndarray
    #: the model's network; for L-BFGS without its L2 term, which the client adds once
    network: Network


class LocalResult(NamedTuple):
    """What one partition's local training sends back."""

    params: np.ndarray
    #: the optimizer's ``get_state()``: (scalars, arrays)
    optimizer_state: tuple[dict[str, Any], dict[str, np.ndarray]]
    #: the sum of the batches' losses, each times its rows
    loss_sum: float
    #: rows trained on (rows of all the steps)
    n_trained: int


def prepare_partition(index: int, X, y, network: Network, estimator: Any = None) -> Partition:
    """Check and convert one partition's rows once: ``X`` in the network's dtype (finite,
    2-D, its number of columns), ``y`` as its loss takes it.

    Parameters
    ----------
    index : int
        The partition's number (0-based), named in errors.
    X : array-like of shape (n_rows, n_features)
    y : array-like of shape (n_rows,) or (n_rows, n_outputs)
    network : Network
        Built.
    estimator : MLPClassifier or MLPRegressor, optional
        When the model is an estimator: it encodes ``y`` as its own ``fit`` does (class
        labels to the output columns, from its ``classes_``).

    Raises
    ------
    ValueError, TypeError
        Rows that cannot be trained on; the message starts with ``partition <index>``.
    """
    try:
        X = check_array(X, "X", dtype=network.dtype)
        if X.shape[1] != network.n_features:
            raise ValueError(
                f"X has {X.shape[1]} columns, but the network takes {network.n_features}"
            )
        if estimator is None:
            y = check_array(y, "y", ndim=(1, 2))
        else:  # class labels may be text: the estimator's encoding checks them
            y = np.asarray(y)
        check_consistent_length(X, y, "X", "y")
        target = _target(network, estimator, y)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"partition {index} (0-based): {exc}") from None
    return Partition(index, np.ascontiguousarray(X), target, network)


def _target(network: Network, estimator: Any, y: np.ndarray) -> np.ndarray:
    """``y`` as the network's loss takes it, encoded as the model's ``fit`` encodes it."""
    if estimator is None:
        return network.loss.prepare_target(y, network.n_outputs, network.dtype)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if hasattr(estimator, "_label_binarizer"):  # a classifier: labels to output columns
        Y = estimator._binarize(y)
    else:
        Y = np.asarray(y, dtype=network.dtype)
        if estimator.loss == "poisson" and Y.size and Y.min() < 0:
            raise ValueError(
                "loss='poisson' needs targets y >= 0 (counts or rates); received a "
                f"minimum of {Y.min()}. Use loss='squared_error' for signed targets."
            )
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
    return estimator._target(Y, network)


def partition_loss_and_gradient(
    partition: Partition, params: np.ndarray
) -> tuple[float, np.ndarray, int]:
    """The partition's mean loss at ``params`` and its gradient (no L2 term).

    Returns ``(loss, gradient, n_rows)``: the client weighs each partition by its rows,
    so that the sum is the mean loss over all the rows
    (:meth:`Network.loss_and_gradient` adds its blocks up the same way).
    """
    network = partition.network
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        loss, gradient = network.loss_and_gradient(
            params, partition.X, partition.target, check_input=False
        )
    return float(loss), gradient, partition.X.shape[0]


class StepBatches:
    """A batch source of exactly ``steps`` batches: as many epochs of ``batches`` as
    they take, the last one cut short (local SGD's round of a set number of steps)."""

    def __init__(self, batches: ArrayBatches, steps: int) -> None:
        self.batches, self.steps = batches, steps
        #: rows in the batches of the last iteration
        self.rows = 0

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[Batch]:
        taken, self.rows = 0, 0
        while taken < self.steps:
            for batch in self.batches:
                yield batch
                taken += 1
                self.rows += batch.X.shape[0]
                if taken == self.steps:
                    return


def local_sgd(
    partition: Partition,
    params: np.ndarray,
    optimizer_state: tuple[dict[str, Any], dict[str, np.ndarray]],
    *,
    round_index: int,
    steps: int,
    batch_size: int,
    seed: int,
) -> LocalResult:
    """``steps`` mini-batch steps on the partition from ``params`` and the optimizer's
    state, through the one training loop.

    The rows are shuffled from a generator seeded by ``(seed, round_index,
    partition.index)``, so a round's result depends on neither the worker nor the
    order the partitions run in. ``round_index`` is the epoch the optimizer's schedule
    sees.

    Raises
    ------
    TrainingDivergedError
        The loss became non-finite; the message names the partition and round.
    """
    network = copy.deepcopy(partition.network)  # the worker's copy stays as it was
    network.params[...] = params
    network.optimizer.set_state(*optimizer_state)
    # in place: Dropout layers hold this generator too
    network.rng.bit_generator.state = np.random.default_rng(
        [seed, round_index, partition.index]
    ).bit_generator.state
    batches = StepBatches(
        ArrayBatches(
            partition.X, partition.target, batch_size=batch_size, shuffle=True, rng=network.rng
        ),
        steps,
    )
    try:
        history = train(
            network,
            batches,
            epochs=round_index + 1,
            initial_epoch=round_index,
        )
    except TrainingDivergedError as exc:
        raise TrainingDivergedError(
            f"partition {partition.index} (0-based), round {round_index + 1}: {exc}"
        ) from None
    loss = history.history["loss"][0]  # the mean over the rows trained on
    return LocalResult(
        network.params, network.optimizer.get_state(), loss * batches.rows, batches.rows
    )


def predict_block(X: np.ndarray, model: Any, method: str) -> np.ndarray:
    """``model.<method>(X)`` for one block of rows (a NumPy array)."""
    return getattr(model, method)(X)


def predict_frame(frame, model: Any, method: str, columns: list | None):
    """``model.<method>`` for one partition of a data frame, as a pandas Series (one value
    per row) or DataFrame (``columns``), on the partition's index."""
    import pandas as pd

    inputs = frame if hasattr(model, "feature_names_in_") else frame.to_numpy()
    result = getattr(model, method)(inputs)
    if result.ndim == 1:
        return pd.Series(result, index=frame.index, name=method)
    return pd.DataFrame(result, index=frame.index, columns=columns)
