"""The training loop, the one every face trains through, and its batch sources.

``Network.fit``, the scikit-learn estimators (sgd and adam) and the ``chainrule``
command all end in :func:`train`. What differs between them goes through its seams:

- the **batch source**, which says what one epoch's batches are (:class:`ArrayBatches`
  for arrays in memory, in the order of a NumPy random generator);
- the **callbacks** (:mod:`chainrule.callbacks`): history, progress, early stopping,
  checkpoints, the estimators' bookkeeping;
- the optimizer's **schedule**, which sets the learning rate epoch by epoch.

The data's way through one epoch::

    for X, y, sample_weight in batches:          # the batch source
        loss = network.train_step(X, y, sample_weight)
            # forward through the layers -> loss and derror_dprediction
            # -> backward through the layers -> optimizer step
    logs = {"loss": ..., metrics, val_* (validation), "lr", "seconds"}
    callbacks see the logs; the schedule sets the next epoch's rate

Batch sources
-------------
A batch source is any iterable whose every iteration is one epoch: it yields
``(X, y, sample_weight)`` tuples, ``X`` in the network's dtype, ``y`` in the form
the loss takes (``network.loss.prepare_target``), ``sample_weight`` None or one
weight per row. It may define ``len()`` (batches per epoch, for progress bars). The
loop asks nothing else of it, so a memory-mapped array or a reader of chunks from a
file plugs in without touching the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from chainrule._validation import check_fraction, check_positive_int, check_sample_weight
from chainrule.callbacks import Callback, Checkpoint, History, ProgressLogger, check_callbacks
from chainrule.errors import TrainingDivergedError
from chainrule.progress import check_verbose

if TYPE_CHECKING:  # pragma: no cover
    from chainrule.network import Network

__all__ = ["ArrayBatches", "Batch", "fit", "n_batches", "train"]


class Batch(NamedTuple):
    """One batch: inputs, targets as the loss takes them, sample weights (or None)."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None


class ArrayBatches:
    """Mini-batches of arrays in memory, reshuffled before every epoch.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Rows are gathered batch by batch (sparse rows are made dense).
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets as the loss takes them.
    sample_weight : ndarray of shape (n_samples,), optional
    batch_size : int, default=32
        Rows per batch; the last batch of an epoch may be smaller.
    shuffle : bool, default=True
        Put the rows in a new random order before each epoch. Without it the
        batches are consecutive slices of the arrays (views, no copies).
    rng : numpy.random.Generator or numpy.random.RandomState
        Its ``shuffle`` orders the rows (needed when shuffling): the network's generator
        for ``fit``; the estimators pass scikit-learn's RandomState, which visits
        scikit-learn's batches.

    Notes
    -----
    The order is shuffled in place from one epoch to the next, as scikit-learn's
    ``MLPClassifier`` and ``Network.fit`` always did.
    """

    def __init__(
        self,
        X,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        rng: Any = None,
    ) -> None:
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        if self.shuffle and rng is None:
            raise ValueError(
                "ArrayBatches(shuffle=True) needs rng, the random generator that orders the "
                "rows (such as network.rng); pass rng=..., or shuffle=False"
            )
        self.rng = rng
        #: the rows in the order of the last epoch
        self.order = np.arange(X.shape[0])

    @property
    def n_samples(self) -> int:
        """Rows per epoch."""
        return self.X.shape[0]

    def __len__(self) -> int:
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        X, y, w = self.X, self.y, self.sample_weight
        sparse = not isinstance(X, np.ndarray)
        if self.shuffle:
            self.rng.shuffle(self.order)
        for start in range(0, self.n_samples, self.batch_size):
            stop = start + self.batch_size
            if not self.shuffle:
                rows = slice(start, stop)
                X_rows, y_rows, w_rows = X[rows], y[rows], None if w is None else w[rows]
            else:  # a row gather: take() is faster than fancy indexing
                rows = self.order[start:stop]
                X_rows = X[rows] if sparse else X.take(rows, axis=0)
                y_rows, w_rows = y.take(rows, axis=0), None if w is None else w.take(rows)
            yield Batch(X_rows.toarray() if sparse else X_rows, y_rows, w_rows)


def train(
    network: Network,
    batches,
    *,
    epochs: int,
    initial_epoch: int = 0,
    validation=None,
    callbacks: Sequence[Callback] = (),
) -> History:
    """The training loop: ``epochs`` passes over ``batches``, one optimizer step per batch.

    Parameters
    ----------
    network : Network
        A built network.
    batches : batch source
        Every iteration over it is one epoch of ``(X, y, sample_weight)`` batches.
    epochs : int
        The epoch to stop at, as Keras's: epochs ``initial_epoch`` to ``epochs - 1``
        (0-based) run, ``epochs - initial_epoch`` of them.
    initial_epoch : int, default=0
        The first epoch's number (for the schedule and the logs). When it is where the
        network's last training stopped (``network.epoch``), the run resumes: the
        callbacks take back their state (:meth:`Callback.set_state`) and the history
        continues.
    validation : batch source, optional
        Scored after every epoch; adds ``val_loss`` and ``val_<metric>`` to the logs.
    callbacks : sequence of Callback
        Called in order, after the :class:`History` the loop returns and before any
        :class:`Checkpoint` (so a checkpoint saves the history and every callback's
        state of the epoch it saves).

    Returns
    -------
    History
        Also kept in ``network.history``.

    Notes
    -----
    A batch whose sample weights sum to 0 is skipped: it has nothing to teach. The
    epoch's ``loss`` is the mean over the rows trained on (NaN when none were). A
    non-finite loss raises :class:`TrainingDivergedError` before the step that would
    spoil the weights; weights that became non-finite in an epoch are set back to
    those at its start. Every callback's ``on_train_end`` runs, however training ends.
    """
    epochs, initial_epoch = check_epochs(epochs, initial_epoch)
    resuming = initial_epoch > 0 and initial_epoch == network.epoch
    saved_states = network._callback_states() if resuming else []
    history = History()
    if resuming and network.history is not None:  # the history continues
        kept = [i for i, e in enumerate(network.history.epoch) if e < initial_epoch]
        history.epoch = [network.history.epoch[i] for i in kept]
        history.history = {k: [v[i] for i in kept] for k, v in network.history.history.items()}
    # the History first and checkpoints last: a checkpoint saves the epoch's history
    # and what every other callback made of the epoch
    checkpoints = [c for c in callbacks if isinstance(c, Checkpoint)]
    callbacks = [history, *(c for c in callbacks if not isinstance(c, Checkpoint)), *checkpoints]
    params = {"epochs": epochs, "batches": n_batches(batches)}
    for callback in callbacks:
        callback.network, callback.params = network, params
    network.history = history
    network.stop_training = False
    network._callbacks = callbacks[1:]
    network._saved_callback_states = None
    optimizer = network.optimizer
    optimizer.set_epoch(initial_epoch)
    try:
        for callback in callbacks:
            callback.on_train_begin({})
        _restore_callbacks(callbacks[1:], saved_states)
        # overflow in a diverging step is reported as TrainingDivergedError, not warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for epoch in range(initial_epoch, epochs):
                started = time.perf_counter()
                for callback in callbacks:
                    callback.on_epoch_begin(epoch)
                for metric in network.metrics:
                    metric.reset()
                start = network.params.copy()  # put back if this epoch diverges
                loss_sum, n_samples = 0.0, 0
                for b, (X, y, sample_weight) in enumerate(batches):
                    if sample_weight is not None and not np.sum(sample_weight) > 0:
                        continue
                    try:
                        loss = network.train_step(X, y, sample_weight)
                    except TrainingDivergedError:
                        if not np.isfinite(network.params).all():
                            network.params[...] = start
                        raise
                    loss_sum += loss * X.shape[0]
                    n_samples += X.shape[0]
                    for callback in callbacks:
                        callback.on_batch_end(b, {"loss": loss})
                if not np.isfinite(network.params).all():
                    network.params[...] = start  # the last update overflowed
                    raise TrainingDivergedError(
                        f"the weights became non-finite in epoch {epoch + 1} (the update "
                        "overflowed); training stopped and the weights from the start of "
                        "that epoch were put back. Lower the learning rate, scale the "
                        "inputs, or check the targets."
                    )
                # the mean over the rows trained on (NaN when there were none)
                logs = {"loss": loss_sum / n_samples if n_samples else float("nan")}
                logs.update({metric.name: metric.result() for metric in network.metrics})
                if validation is not None:
                    scores = network._evaluate(validation)
                    logs.update({f"val_{name}": value for name, value in scores.items()})
                logs["lr"] = optimizer.learning_rate
                logs["seconds"] = time.perf_counter() - started
                network.epoch = epoch + 1  # what a checkpoint of this epoch resumes from
                for callback in callbacks:
                    callback.on_epoch_end(epoch, logs)
                optimizer.set_epoch(epoch + 1)
                if network.stop_training:
                    break
    finally:
        for callback in callbacks:
            callback.on_train_end({})
        # the callbacks' final state, kept with the network (the objects may train others)
        network._saved_callback_states = network._callback_states()
        network._callbacks = []
    return history


def check_epochs(epochs: Any, initial_epoch: Any) -> tuple[int, int]:
    """``epochs`` and ``initial_epoch`` checked: Keras's meaning, ``epochs`` the epoch to
    stop at, so ``0 <= initial_epoch < epochs``."""
    epochs = check_positive_int(epochs, "epochs")
    if (
        not isinstance(initial_epoch, (int, np.integer))
        or isinstance(initial_epoch, bool)
        or initial_epoch < 0
    ):
        raise ValueError(f"initial_epoch must be an integer >= 0; received {initial_epoch!r}")
    initial_epoch = int(initial_epoch)
    if initial_epoch >= epochs:
        raise ValueError(
            f"initial_epoch={initial_epoch} leaves nothing to train with epochs={epochs}: as "
            "in Keras, epochs is the epoch to stop at, not a number of more epochs; pass "
            f"epochs greater than {initial_epoch} (e.g. epochs={initial_epoch + epochs})"
        )
    return epochs, initial_epoch


def _restore_callbacks(callbacks: Sequence[Callback], saved: list[tuple[str, dict]]) -> None:
    """Give each callback the saved state with its key (in order, when keys repeat)."""
    remaining = list(saved)
    for callback in callbacks:
        for i, (key, state) in enumerate(remaining):
            if key == callback.state_key:
                callback.set_state(state)
                del remaining[i]
                break


def n_batches(batches) -> int | None:
    """A batch source's ``len()``: batches per epoch, or None when it cannot tell."""
    try:
        return len(batches)
    except TypeError:
        return None


def fit(
    network: Network,
    X,
    y,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    shuffle: bool = True,
    validation_split: float = 0.0,
    validation_data: tuple | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: int = 0,
    sample_weight=None,
    initial_epoch: int = 0,
) -> History:
    """``Network.fit``: check the arrays, hold out validation rows, make the batch
    sources, then :func:`train`. The arguments are ``Network.fit``'s."""
    epochs, initial_epoch = check_epochs(epochs, initial_epoch)
    batch_size = check_positive_int(batch_size, "batch_size")
    verbose = check_verbose(verbose)
    callbacks = check_callbacks(callbacks)
    X, target = network._prepare_xy(X, y)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X.shape[0], network.dtype)

    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
                f"sample_weight_val); received {type(validation_data).__name__}"
            )
        X_val, y_val = network._prepare_xy(validation_data[0], validation_data[1], "X_val", "y_val")
        w_val = validation_data[2] if len(validation_data) == 3 else None
        if w_val is not None:
            w_val = check_sample_weight(w_val, X_val.shape[0], network.dtype)
        validation = (X_val, y_val, w_val)
    elif validation_split:
        check_fraction(validation_split, "validation_split", allow_zero=False)
        n_val = math.ceil(X.shape[0] * validation_split)
        if n_val >= X.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} leaves no training samples out of "
                f"{X.shape[0]}; use a smaller fraction"
            )
        cut = X.shape[0] - n_val
        w_val = None if sample_weight is None else sample_weight[cut:]
        validation = (X[cut:], target[cut:], w_val)
        X, target = X[:cut], target[:cut]
        if sample_weight is not None:
            sample_weight = sample_weight[:cut]
    if validation is not None:
        validation = ArrayBatches(*validation, batch_size=4096, shuffle=False)

    batches = ArrayBatches(
        X, target, sample_weight, batch_size=batch_size, shuffle=shuffle, rng=network.rng
    )
    # resuming: the row order carries on from the last epoch (it is shuffled in place)
    order = network._batch_order
    resuming = initial_epoch > 0 and initial_epoch == network.epoch
    if shuffle and resuming and order is not None and order.shape == batches.order.shape:
        batches.order = order
    network._batch_order = batches.order if shuffle else None
    if verbose:
        callbacks.append(ProgressLogger(verbose))
    return train(
        network,
        batches,
        epochs=epochs,
        initial_epoch=initial_epoch,
        validation=validation,
        callbacks=callbacks,
    )
