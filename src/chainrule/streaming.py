"""Train, predict and evaluate on a table file larger than memory, chunk by chunk.

``chainrule train/predict/evaluate --stream`` (chosen by itself for files larger than
:data:`STREAM_AUTO_BYTES`) come here. Training is three steps:

1. :func:`chainrule.first_pass.first_pass` reads the file once and learns the
   preprocessing (means, scales, categories, missing values, classes or the target's
   scaling) of the training rows;
2. every epoch reads the file again in chunks (:class:`~chainrule.table_chunks.TableChunks`);
   each chunk is preprocessed and split by :func:`~chainrule.first_pass.held_out` (a
   hash of the row's position: the same validation rows every epoch);
3. the training rows go to the one training loop as a chunk source
   (``Network.fit(Chunks(...))``: shuffled within a buffer of chunks, batches across
   chunk boundaries), the held-out rows as the validation chunk source.

The model is a :class:`~chainrule.tabular.TabularModel` like one trained in memory:
its file is the same, so ``predict``, ``inspect``, ``explain`` and ``export`` take it.
Prediction writes its output chunk by chunk in the rows' order; evaluation adds up
each chunk's counts (the confusion matrix; squared and absolute errors and the
target's spread), so its scores are those of the whole file at once.

Memory stays flat: a few chunks, whatever the size of the file (with
:func:`limit_fragmentation`, which the command line calls).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
import secrets
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.callbacks import Callback
from chainrule.column_warnings import rows_text
from chainrule.errors import DataError
from chainrule.first_pass import FirstPass, first_pass, held_out, positions_of
from chainrule.metrics import R2, MeanAbsoluteError, MeanSquaredErrorMetric
from chainrule.table_chunks import DEFAULT_CHUNK_ROWS, TableChunks
from chainrule.training import Chunks

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from chainrule.tabular import TabularModel

__all__ = [
    "STREAM_AUTO_BYTES",
    "OncePerKind",
    "StreamedTraining",
    "evaluate_streamed",
    "limit_fragmentation",
    "predict_streamed",
    "should_stream",
]

#: files larger than this (bytes on disk, 1 GiB) are streamed unless ``--no-stream``
STREAM_AUTO_BYTES = 1 << 30
#: glibc's mallopt parameter number of M_MMAP_THRESHOLD
_M_MMAP_THRESHOLD = -3


def limit_fragmentation(threshold: int = 1 << 20) -> bool:
    """Serve allocations over ``threshold`` bytes (1 MiB) with their own memory maps (glibc).

    glibc raises its mmap threshold as large blocks are freed (up to 32 MiB), after
    which a chunk's arrays come from the heap, which fragments: the resident memory
    of a streamed epoch then grows with the file instead of staying flat. Fixing the
    threshold (which also stops its growth) returns every chunk-sized array's memory
    when it is freed. True when set; False elsewhere (other C libraries, other systems).

    It changes how the whole process allocates memory, so the library does not call it
    by itself: ``chainrule ... --stream`` does, and a program streaming a large file
    through :class:`StreamedTraining` may. Measured on one epoch (chunks of 50,000 rows
    of 10 columns; peak resident set, seconds), a 50 MB and a 200 MB CSV: glibc's
    default 399 and 404 MB (grows), 12.6 s; 128 KiB 371 and 371 MB, 15.9 s (every
    batch of validation outputs is mapped and unmapped); 1 MiB 376 and 377 MB, 12.0 s;
    4 MiB 378 and 382 MB (grows).
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):  # pragma: no cover - no glibc after all
        return False


def should_stream(
    path: str, stream: bool | None, chunk_rows: int | None, note: Callable[[str], Any]
) -> bool:
    """Whether to stream ``path``: as asked (``--stream`` / ``--no-stream``), else when
    the file is larger than :data:`STREAM_AUTO_BYTES`, saying so through ``note``."""
    if stream is not None:
        return bool(stream)
    try:
        size = os.path.getsize(path)
    except OSError:
        return False  # the reader names the problem
    if size <= STREAM_AUTO_BYTES:
        if chunk_rows is not None:
            note(
                f"{path}: --chunk-rows {chunk_rows:,} applies when the file is streamed; at "
                f"{_size_text(size)} (not more than {STREAM_AUTO_BYTES / 2**30:.0f} GiB) it "
                "is read whole (--stream streams it)"
            )
        return False
    rows = chunk_rows or DEFAULT_CHUNK_ROWS
    note(
        f"{path}: {size / 2**30:.1f} GiB, more than {STREAM_AUTO_BYTES / 2**30:.0f} GiB: "
        f"streamed in chunks of {rows:,} rows (--no-stream reads it whole)"
    )
    return True


def _size_text(size: int) -> str:
    """A file's size as people write it: ``"812 bytes"``, ``"3.4 KB"``, ``"57.1 MB"``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 2**20:
        return f"{size / 1024:.1f} KB"
    return f"{size / 2**20:,.1f} MB"


def _text_columns(model: TabularModel) -> list[str]:
    """The model's text (category) columns, to be read as text as written in every
    chunk: a chunk holding only codes such as ``07`` would otherwise be read as numbers
    (``7``), not the model's categories. True/false columns are left to pandas, which
    reads them as the booleans training saw. A classifier's target whose classes are
    text is read as text too (for ``evaluate``)."""
    pre = model.preprocessor_
    names = [
        col["name"]
        for col in pre.columns_
        if col["kind"] == "category" and not set(col["categories"]) <= {"True", "False"}
    ]
    classes = list(pre.classes_) if pre.task_ == "classify" else []
    if classes and all(isinstance(c, str) for c in classes):
        names.append(pre.target)
    return names


def _table(path: str, chunk_rows: int | None, reading: dict[str, Any], text_columns=()):
    thousands = reading.get("thousands") or "auto"
    return TableChunks(
        path,
        chunk_rows or DEFAULT_CHUNK_ROWS,
        sep=reading.get("sep"),
        decimal=reading.get("decimal") or ".",
        thousands=None if thousands == "none" else thousands,
        na_values=reading.get("na_values") or (),
        text_columns=text_columns,
    )


# ---------------------------------------------------------------- train


class StreamedTraining:
    """A table file ready to train a :class:`~chainrule.tabular.TabularModel` on,
    chunk by chunk: :func:`~chainrule.first_pass.first_pass` is read at construction.

    Parameters
    ----------
    path : str
    target : str
    chunk_rows : int or None
        Rows per chunk (default :data:`chainrule.table_chunks.DEFAULT_CHUNK_ROWS`).
    reading : dict
        ``sep``, ``decimal``, ``thousands``, ``na_values`` as the command line's.
    task, impute, ignore, validation_fraction, seed
        The model's settings (the first pass needs them).
    drop_missing_target : bool, default=False

    Attributes
    ----------
    table : TableChunks
    first : FirstPass
    """

    def __init__(
        self,
        path: str,
        target: str,
        *,
        chunk_rows: int | None = None,
        reading: dict[str, Any] | None = None,
        task: str | None = None,
        impute: bool = False,
        ignore: Sequence[str] = (),
        validation_fraction: float = 0.2,
        seed: int | None = 0,
        drop_missing_target: bool = False,
    ) -> None:
        self.table = _table(path, chunk_rows, reading or {})
        self.first: FirstPass = first_pass(
            self.table,
            target,
            task=task,
            impute=impute,
            ignore=ignore,
            validation_fraction=validation_fraction,
            seed=seed or 0,
            drop_missing_target=drop_missing_target,
        )
        self.validation_fraction, self.seed = validation_fraction, seed or 0
        self.drop_missing_target = drop_missing_target

    def chunks(self, validation: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One pass over the file: ``(X, y)`` of each chunk's training rows (or its
        held-out rows when ``validation``), preprocessed."""
        pre = self.first.preprocessor
        for frame in self.table:
            if self.drop_missing_target:
                frame = frame[frame[pre.target].notna()]
            held = held_out(positions_of(frame), self.validation_fraction, self.seed)
            part = frame[held] if validation else frame[~held]
            if len(part) == 0:
                continue
            with warnings.catch_warnings():
                # categories only in the validation rows are what new data may bring
                warnings.simplefilter("ignore", UserWarning)
                X = pre.transform(part)
            yield X, pre.encode_target(part)

    def fit(self, model: TabularModel, callbacks: Sequence[Callback] = ()) -> TabularModel:
        """Train ``model`` (its settings are the run's) on the file; returns it.

        The model ends as :meth:`TabularModel.fit` leaves it: ``preprocessor_``,
        ``network_``, ``task_`` (and ``classes_``), ``training_`` and the history.
        """
        model._check_settings()
        pre = self.first.preprocessor
        model.preprocessor_ = pre
        model.task_ = pre.task_
        if model.task_ == "classify":
            model.classes_ = np.asarray(pre.classes_)
        model.training_ = {
            "rows": self.first.rows,
            "train_rows": self.first.train_rows,
            "validation_rows": self.first.validation_rows,
            "epochs_run": 0,
            "interrupted": False,
        }
        n_outputs = len(pre.classes_) if model.task_ == "classify" else 1
        model.network_ = model._build_network(pre.n_features_, n_outputs)
        train = Chunks(lambda: self.chunks(validation=False))
        validation = Chunks(lambda: self.chunks(validation=True))
        has_validation = self.first.validation_rows > 0
        return model._train(train, None, validation if has_validation else None, callbacks, 0)


class OncePerKind:
    """The warnings of a stream of chunks, each kind once: the first time it comes, as
    it comes; how many more came, at the end (:meth:`summary`). Without it, a column
    the model was not trained with, or an unseen category, would warn for every chunk.
    Two warnings are of one kind when they differ only in their numbers, quoted values
    and details in parentheses (rows, counts, categories) after the first quoted value
    (the column's name: each column's first warning is shown)."""

    def __init__(self) -> None:
        self.more: dict[str, int] = {}

    @staticmethod
    def kind(message: str) -> str:
        first = re.search(r"'[^']*'", message)
        head, tail = (message[: first.end()], message[first.end() :]) if first else ("", message)
        # the details in parentheses (values, "row 10" or "rows 3 and 5") do not count
        return re.sub(r"\d+", "#", head) + re.sub(r"\([^)]*\)|'[^']*'|\d+", "#", tail)[:80]

    @contextlib.contextmanager
    def chunk(self) -> Iterator[None]:
        """Around the work on one chunk: its warnings, the new kinds passed on."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for warning in caught:
            kind = self.kind(str(warning.message))
            if kind in self.more:
                self.more[kind] += 1
            else:
                self.more[kind] = 0
                warnings.warn(warning.message, stacklevel=3)

    def summary(self) -> None:
        """One warning saying how many were left unsaid, if any."""
        more = sum(self.more.values())
        if more:
            warnings.warn(
                f"{more} more warning(s) like the one(s) above, from later chunks of rows",
                UserWarning,
                stacklevel=3,
            )


# ---------------------------------------------------------------- predict


def predict_streamed(
    model: TabularModel,
    path: str,
    table_of: Callable[[pd.DataFrame], pd.DataFrame],
    out: Any,
    *,
    chunk_rows: int | None = None,
    reading: dict[str, Any] | None = None,
    text_columns: Sequence[str] = (),
) -> int:
    """Write the predictions of every row of ``path`` to ``out``, chunk by chunk, in
    the rows' order; returns the number of rows.

    ``table_of(frame)`` makes a chunk's output table (the command line's: predictions,
    probabilities, kept columns); ``out`` is a path or a text stream. The CSV header is
    written once. A path is written through a temporary file next to it, moved over it
    at the end: an error in a later chunk leaves no partial file (and an existing file
    as it was).
    """
    text_columns = list(dict.fromkeys([*text_columns, *_text_columns(model)]))
    table = _table(path, chunk_rows, reading or {}, text_columns)
    n = 0
    tmp = None
    if isinstance(out, str) and (os.path.isfile(out) or not os.path.exists(out)):
        out = os.path.realpath(out)  # through a link to a file: the file is replaced
        folder, name = os.path.split(out)
        tmp = os.path.join(folder, f".{name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
        # O_EXCL: never clobber anything; 0o666 lets the umask decide the mode, as open()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        stream = open(fd, "w", newline="", encoding="utf-8")
    elif isinstance(out, str):  # not a file (/dev/stdout, a named pipe): written as it goes
        stream = open(out, "w", newline="", encoding="utf-8")
    else:
        stream = out
    try:
        once = OncePerKind()
        for frame in table:
            with once.chunk():
                result = table_of(frame)
            result.to_csv(stream, index=False, header=n == 0, float_format="%.8g")
            n += len(result)
        once.summary()
        if tmp is not None:
            stream.close()
            os.replace(tmp, out)
            tmp = None
    finally:
        if stream is not out:
            stream.close()
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return n


# ---------------------------------------------------------------- evaluate


def evaluate_streamed(
    model: TabularModel,
    path: str,
    *,
    chunk_rows: int | None = None,
    reading: dict[str, Any] | None = None,
    drop_missing_target: bool = False,
) -> tuple[dict[str, Any], int, list[int], int]:
    """:meth:`TabularModel.evaluate`'s scores on every row of ``path``, chunk by chunk.

    Returns ``(scores, rows, dropped_rows, n_dropped)``: the scores (as
    ``TabularModel.evaluate`` gives them for the whole file), the rows scored, and
    the first row numbers dropped for a missing target with ``drop_missing_target``
    (else a missing target is a :class:`DataError` naming its rows) and their count.
    """
    pre, network = model.preprocessor_, model.network_
    table = _table(path, chunk_rows, reading or {}, _text_columns(model))
    if pre.target not in table.columns:
        raise DataError(
            f"no column {pre.target!r} (the target) to compare the predictions with; the "
            f"columns are {', '.join(table.columns)}"
        )
    classify = model.task_ == "classify"
    k = len(model.classes_) if classify else 0
    confusion = np.zeros((k, k), dtype=np.int64)
    loss_sum = 0.0
    metrics = [MeanSquaredErrorMetric(), MeanAbsoluteError(), R2()]
    rows, n_dropped, dropped = 0, 0, []
    once = OncePerKind()
    for frame in table:
        missing = frame[pre.target].isna().to_numpy()
        if missing.any():
            if not drop_missing_target:
                raise DataError(
                    f"target column {pre.target!r} has missing values "
                    f"({rows_text(frame.index[missing])}, perhaps more further on); remove "
                    "those rows (--drop-missing-target leaves them out)"
                )
            n_dropped += int(missing.sum())
            dropped += list(frame.index[missing][: 5 - len(dropped)])
            frame = frame[~missing]
            if len(frame) == 0:
                continue
        with once.chunk():
            y = pre.encode_target(frame)
            X = pre.transform(frame)
        output = network.predict(X)
        rows += len(frame)
        if classify:
            np.add.at(confusion, (y, np.argmax(output, axis=1)), 1)
            loss_sum += float(network.evaluate(X, y)["loss"]) * len(frame)
        else:
            true = pre.decode_target(y).reshape(-1, 1)
            predicted = pre.decode_target(output[:, 0]).reshape(-1, 1)
            with np.errstate(over="ignore", invalid="ignore"):
                for metric in metrics:
                    metric.update(predicted, true)
    once.summary()
    if rows == 0:
        raise DataError(f"every row's target {pre.target!r} is missing; nothing to score")
    if classify:
        scores = _scores_of_confusion(confusion)
        scores["loss"] = loss_sum / rows
        scores["labels"] = list(model.classes_)
    else:
        scores = {m.name: m.result() for m in metrics}
    return scores, rows, dropped, n_dropped


def _scores_of_confusion(confusion: np.ndarray) -> dict[str, Any]:
    """:func:`chainrule.metrics.classification_scores` from the confusion matrix."""
    n_classes = confusion.shape[0]
    correct = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    return {
        "accuracy": float(correct.sum() / confusion.sum()),
        "precision": np.divide(correct, predicted, out=np.zeros(n_classes), where=predicted > 0),
        "recall": np.divide(correct, actual, out=np.zeros(n_classes), where=actual > 0),
        "support": actual,
        "confusion_matrix": confusion,
    }
