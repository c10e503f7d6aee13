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
file plugs in without touching the loop: :class:`ArrayBatches` gathers rows from a
memory-mapped array page by page, and :class:`ChunkBatches` makes batches from a
re-iterable source of ``(X, y)`` chunks (a file read piece by piece), shuffling within
a buffer of a few chunks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from chainrule._validation import (
    check_fraction,
    check_positive_int,
    check_sample_weight,
    is_memory_mapped,
)
from chainrule.callbacks import Callback, Checkpoint, History, ProgressLogger, check_callbacks
from chainrule.errors import TrainingDivergedError
from chainrule.progress import check_verbose

if TYPE_CHECKING:  # pragma: no cover
    from chainrule.network import Network

__all__ = [
    "ArrayBatches",
    "Batch",
    "ChunkBatches",
    "Chunks",
    "array_chunks",
    "fit",
    "is_chunk_source",
    "is_memory_mapped",
    "n_batches",
    "train",
]


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
    dtype : numpy dtype, optional
        Convert each batch's ``X`` to it: for a memory-mapped ``X`` of another dtype,
        which is read batch by batch rather than converted whole.

    Notes
    -----
    The order is shuffled in place from one epoch to the next, as scikit-learn's
    ``MLPClassifier`` and ``Network.fit`` always did. A memory-mapped ``X``
    (``np.load(path, mmap_mode="r")``) stays on disk: each batch reads its rows.
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
        dtype: Any = None,
    ) -> None:
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.dtype = None if dtype is None or np.dtype(dtype) == X.dtype else np.dtype(dtype)
        self.mapped = is_memory_mapped(X)
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
                # take() is faster on C-ordered rows, but copies a whole Fortran-ordered
                # (or memory-mapped Fortran) array first: index those instead
                if sparse or not X.flags.c_contiguous:
                    X_rows = X[rows]
                else:
                    X_rows = X.take(rows, axis=0)
                y_rows, w_rows = y.take(rows, axis=0), None if w is None else w.take(rows)
            if sparse:
                X_rows = X_rows.toarray()
            elif self.mapped or self.dtype is not None:  # rows read from the file
                X_rows = np.asarray(X_rows, dtype=self.dtype)
            yield Batch(X_rows, y_rows, w_rows)


class ChunkBatches:
    """Mini-batches from a source of chunks, shuffled within a buffer of chunks.

    For data that does not fit in memory: a file read piece by piece, a folder of
    ``.npy`` files, a database cursor. Only ``buffer_chunks`` chunks (and one batch's
    leftover rows) are held at a time.

    Parameters
    ----------
    chunks : re-iterable of (X, y) or (X, y, sample_weight)
        Every ``iter(chunks)`` is one epoch; each chunk already in the network's form
        (``X`` 2-D in its dtype, ``y`` as its loss takes it). Chunks may have any
        number of rows (``fit`` skips those without rows).
    batch_size : int, default=32
        Rows per batch. Batches run across chunk boundaries: only the epoch's last
        batch may be smaller.
    shuffle : bool, default=True
        Shuffle the rows of every ``buffer_chunks`` chunks together (plus the rows
        left over from the buffer before). Without it the batches are the rows in
        order, exactly those of :class:`ArrayBatches` on the chunks joined together.
    rng : numpy.random.Generator or numpy.random.RandomState
        Its ``shuffle`` orders the rows of each buffer (needed when shuffling).
    buffer_chunks : int, default=4
        Chunks held and shuffled together.

    Notes
    -----
    The order is shuffled **within the buffer, not globally**: a row can only move as
    far as the buffer reaches. When the file is sorted (by date, by class), use a
    larger buffer, smaller chunks, or shuffle the file once beforehand; rows from the
    end of an epoch never meet rows from its start in one batch.
    """

    def __init__(
        self,
        chunks,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        rng: Any = None,
        buffer_chunks: int = 4,
    ) -> None:
        self.chunks = chunks
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.buffer_chunks = check_positive_int(buffer_chunks, "shuffle_buffer")
        self.shuffle = bool(shuffle)
        if self.shuffle and rng is None:
            raise ValueError(
                "ChunkBatches(shuffle=True) needs rng, the random generator that orders the "
                "rows (such as network.rng); pass rng=..., or shuffle=False"
            )
        self.rng = rng

    def __iter__(self) -> Iterator[Batch]:
        buffer: list[Batch] = []  # the leftover rows first, then the chunks read
        n_chunks = 0
        for chunk in self.chunks:
            buffer.append(Batch(*chunk) if len(chunk) == 3 else Batch(*chunk, None))
            n_chunks += 1
            if not self.shuffle or n_chunks == self.buffer_chunks:
                leftover = yield from self._batches(buffer, final=False)
                buffer, n_chunks = ([leftover] if leftover is not None else []), 0
        yield from self._batches(buffer, final=True)

    def _batches(self, buffer: list[Batch], final: bool):
        """Yield the full batches of ``buffer`` (all of them when ``final``); return the
        rows left over, for the next buffer."""
        if not buffer:
            return None
        weighted = [b.sample_weight is not None for b in buffer]
        if any(weighted) and not all(weighted):
            raise ValueError(
                "every chunk must have sample weights, or none: received chunks of "
                "(X, y, sample_weight) mixed with chunks of (X, y)"
            )
        if len(buffer) == 1:
            X, y, w = buffer[0]
        else:
            X = np.concatenate([b.X for b in buffer])
            y = np.concatenate([b.y for b in buffer])
            w = np.concatenate([b.sample_weight for b in buffer]) if weighted[0] else None
        n = X.shape[0]
        if self.shuffle and n > 1:
            order = np.arange(n)
            self.rng.shuffle(order)
            X, y = X.take(order, axis=0), y.take(order, axis=0)
            w = None if w is None else w.take(order)
        end = n if final else n - n % self.batch_size
        for start in range(0, end, self.batch_size):
            stop = min(start + self.batch_size, end)
            yield Batch(X[start:stop], y[start:stop], None if w is None else w[start:stop])
        if end == n:
            return None
        # copied: a view would keep the whole buffer alive
        return Batch(X[end:].copy(), y[end:].copy(), None if w is None else w[end:].copy())


class Chunks:
    """A re-iterable chunk source from a function that starts a new pass.

    ``fit`` reads its chunks once per epoch, so it needs something it can iterate
    over again; a generator can be read only once. Wrap the function that makes it.

    Parameters
    ----------
    make_chunks : callable
        Called with no arguments at the start of every epoch; returns an iterable of
        ``(X, y)`` or ``(X, y, sample_weight)`` tuples.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.training import Chunks
    >>> def read():
    ...     for i in range(3):
    ...         yield np.full((2, 1), float(i)), np.zeros(2)
    >>> source = Chunks(read)
    >>> [X.shape for X, y in source], len(list(source))
    ([(2, 1), (2, 1), (2, 1)], 3)
    """

    def __init__(self, make_chunks: Callable[[], Any]) -> None:
        if not callable(make_chunks):
            raise TypeError(
                "Chunks(make_chunks) needs a function that returns a new iterable of "
                f"(X, y) chunks each time it is called; received {type(make_chunks).__name__}"
            )
        self.make_chunks = make_chunks

    def __iter__(self) -> Iterator:
        return iter(self.make_chunks())

    def __repr__(self) -> str:
        return f"Chunks({getattr(self.make_chunks, '__name__', self.make_chunks)!r})"


def array_chunks(X, y, chunk_rows: int = 100_000, sample_weight=None) -> Chunks:
    """``(X, y)`` as a chunk source of consecutive row blocks of ``chunk_rows`` rows.

    For a memory-mapped array larger than memory: ``fit`` then reads the file block by
    block, in order, and shuffles within its buffer of chunks (instead of gathering
    rows from all over the file, which is slow when the file is not in the page cache).

    Parameters
    ----------
    X, y : array-like (a memory-mapped array stays on disk)
    chunk_rows : int, default=100000
    sample_weight : array-like of shape (n_samples,), optional

    Returns
    -------
    Chunks
    """
    chunk_rows = check_positive_int(chunk_rows, "chunk_rows")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples; received X with {X.shape[0]} "
            f"rows and y with {y.shape[0]}."
        )

    def blocks():
        for start in range(0, X.shape[0], chunk_rows):
            rows = slice(start, start + chunk_rows)
            if sample_weight is None:
                yield np.asarray(X[rows]), np.asarray(y[rows])
            else:
                yield np.asarray(X[rows]), np.asarray(y[rows]), np.asarray(sample_weight[rows])

    blocks.__name__ = f"array_chunks(chunk_rows={chunk_rows})"
    return Chunks(blocks)


def is_chunk_source(X: Any, y: Any) -> bool:
    """Whether ``fit(X, y)`` was given a chunk source: ``y`` omitted and ``X`` an
    iterable that is not an array, a table or a list of rows."""
    if y is not None or X is None:
        return False
    if isinstance(X, (list, tuple)):  # a list of (X, y) chunks, not of rows
        return len(X) == 0 or isinstance(X[0], tuple)
    if isinstance(X, (np.ndarray, str, bytes, dict)):
        return False
    if hasattr(X, "__array__") or hasattr(X, "shape") or hasattr(X, "__array_interface__"):
        return False  # pandas, sparse matrices, array-likes
    return hasattr(X, "__iter__")


def is_empty_chunk(chunk: Any) -> bool:
    """Whether ``chunk`` is an ``(X, y[, sample_weight])`` tuple without rows (skipped:
    a filter may leave nothing of a piece of the data)."""

    def rows(a: Any) -> int | None:
        shape = getattr(a, "shape", None)
        if shape is not None:
            return shape[0] if len(shape) else None
        return len(a) if hasattr(a, "__len__") else None

    return (
        isinstance(chunk, (tuple, list))
        and len(chunk) in (2, 3)
        and rows(chunk[0]) == 0
        and rows(chunk[1]) == 0
    )


def refuse_y_beside_chunks(X: Any, y: Any) -> None:
    """A TypeError when ``fit(X, y)`` was given a chunk source ``X`` and a ``y`` too
    (each chunk holds its own targets); a list of rows written as tuples passes."""
    if y is None:
        return
    if isinstance(X, (list, tuple)):
        first = X[0] if len(X) else None
        chunks = isinstance(first, tuple) and len(first) in (2, 3) and np.ndim(first[0]) >= 1
    else:
        chunks = is_chunk_source(X, None)
    if chunks:
        raise TypeError(
            f"X is a chunk source, so y must be left out: each chunk holds its own targets, "
            f"as (X, y) or (X, y, sample_weight); received y of type {type(y).__name__}. "
            "Call fit(chunks) without y"
        )


class CheckedChunks:
    """A user's chunk source, each chunk checked and converted as ``fit`` converts
    arrays (the network's dtype, finite values, ``loss.prepare_target``); the network
    is built from the first chunk's columns. ``name`` names the source in errors."""

    def __init__(self, network: Network, chunks, name: str = "X") -> None:
        if iter(chunks) is chunks:
            raise TypeError(
                f"{name} is an iterator (such as a generator), which can be read only once, "
                "but fit reads its chunks again every epoch. Pass something it can iterate "
                "over again: a list of (X, y) chunks, or the function that makes the "
                "generator wrapped as chainrule.Chunks(make_chunks)"
            )
        self.network, self.chunks, self.name = network, chunks, name

    def __iter__(self) -> Iterator[Batch]:
        network, name = self.network, self.name
        for i, chunk in enumerate(self.chunks):
            if is_empty_chunk(chunk):
                continue
            if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
                raise TypeError(
                    f"{name}: chunk {i} must be a tuple (X, y) or (X, y, sample_weight); "
                    f"received {type(chunk).__name__}"
                    + (f" of length {len(chunk)}" if isinstance(chunk, (tuple, list)) else "")
                )
            try:
                X, target = network._prepare_xy(chunk[0], chunk[1])
                w = None
                if len(chunk) == 3 and chunk[2] is not None:
                    w = check_sample_weight(chunk[2], X.shape[0], network.dtype)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{name}: chunk {i} (0-based): {exc}") from None
            yield Batch(np.asarray(X), target, w)

    def first(self) -> Batch:
        """The first chunk, checked (this builds the network); an empty source is an
        error."""
        for chunk in self:
            return chunk
        raise ValueError(
            f"{self.name} yielded no chunks with rows; it needs at least one (X, y) chunk with rows"
        )


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
    shuffle_buffer: int = 4,
) -> History:
    """``Network.fit``: check the arrays, hold out validation rows, make the batch
    sources, then :func:`train`. The arguments are ``Network.fit``'s."""
    epochs, initial_epoch = check_epochs(epochs, initial_epoch)
    batch_size = check_positive_int(batch_size, "batch_size")
    shuffle_buffer = check_positive_int(shuffle_buffer, "shuffle_buffer")
    verbose = check_verbose(verbose)
    callbacks = check_callbacks(callbacks)
    refuse_y_beside_chunks(X, y)
    if is_chunk_source(X, y):
        return _fit_chunks(
            network,
            X,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            shuffle_buffer=shuffle_buffer,
            validation_split=validation_split,
            validation_data=validation_data,
            callbacks=callbacks,
            verbose=verbose,
            sample_weight=sample_weight,
            initial_epoch=initial_epoch,
        )
    if y is None:
        raise TypeError(
            "fit needs y, the targets, with X an array; received y=None. (Without y, X "
            "must be a chunk source: a re-iterable of (X, y) chunks.)"
        )
    X, target = network._prepare_xy(X, y)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X.shape[0], network.dtype)

    validation = None
    if validation_data is not None:
        validation = _validation_source(network, validation_data)
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
        validation = ArrayBatches(*validation, batch_size=4096, shuffle=False, dtype=network.dtype)

    batches = ArrayBatches(
        X,
        target,
        sample_weight,
        batch_size=batch_size,
        shuffle=shuffle,
        rng=network.rng,
        dtype=network.dtype,
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


def _fit_chunks(
    network: Network,
    chunks,
    *,
    epochs: int,
    batch_size: int,
    shuffle: bool,
    shuffle_buffer: int,
    validation_split: float,
    validation_data,
    callbacks: list[Callback],
    verbose: int,
    sample_weight,
    initial_epoch: int,
) -> History:
    """``Network.fit`` on a chunk source: each chunk checked as it is read, the rows
    shuffled within a buffer of ``shuffle_buffer`` chunks."""
    if sample_weight is not None:
        raise ValueError(
            "sample_weight cannot be given beside a chunk source: put each chunk's weights "
            "in the chunk, as (X, y, sample_weight)"
        )
    if validation_split:
        raise ValueError(
            f"validation_split={validation_split} needs the rows in memory (it holds out the "
            "last rows); with a chunk source pass validation_data, a second chunk source or "
            "an (X_val, y_val) tuple"
        )
    source = CheckedChunks(network, chunks, "X")
    source.first()  # builds the network before the loop copies its parameters
    validation = None
    if validation_data is not None:
        validation = _validation_source(network, validation_data)
    batches = ChunkBatches(
        source,
        batch_size=batch_size,
        shuffle=shuffle,
        rng=network.rng,
        buffer_chunks=shuffle_buffer,
    )
    network._batch_order = None  # the order is the buffer's, drawn from network.rng
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


def _validation_source(network: Network, validation_data):
    """``validation_data`` as a batch source: arrays ``(X_val, y_val[, sample_weight_val])``
    checked now, or a chunk source (any other iterable, such as a list of ``(X, y)``
    tuples) checked as it is read."""
    arrays = (
        isinstance(validation_data, (tuple, list))
        and len(validation_data) in (2, 3)
        and not isinstance(validation_data[0], tuple)
    )
    if not arrays and (
        isinstance(validation_data, (tuple, list)) or is_chunk_source(validation_data, None)
    ):
        chunks = CheckedChunks(network, validation_data, "validation_data")
        return ChunkBatches(chunks, batch_size=4096, shuffle=False)
    return _array_validation(network, validation_data)


def _array_validation(network: Network, validation_data) -> ArrayBatches:
    """``validation_data=(X_val, y_val[, sample_weight_val])`` checked, as a batch source."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise TypeError(
            "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
            f"sample_weight_val); received {type(validation_data).__name__}"
        )
    X_val, y_val = network._prepare_xy(validation_data[0], validation_data[1], "X_val", "y_val")
    w_val = validation_data[2] if len(validation_data) == 3 else None
    if w_val is not None:
        w_val = check_sample_weight(w_val, X_val.shape[0], network.dtype)
    return ArrayBatches(X_val, y_val, w_val, batch_size=4096, shuffle=False, dtype=network.dtype)
