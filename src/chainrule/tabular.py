"""The command line's model: a Preprocessor and a Network, on tables.

:class:`TabularModel` joins a :class:`~chainrule.preprocessing.Preprocessor` and a
:class:`~chainrule.Network`: ``fit`` / ``predict`` / ``predict_proba`` / ``evaluate``
on DataFrames, raw rows in, labels in their original values out. It is what the
``chainrule`` command trains; :func:`read_csv` reads its files.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import itertools
import lzma
import math
import numbers
import os
import time
import warnings
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import (
    check_fraction,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from chainrule.callbacks import Callback, EarlyStopping, History, Monitor
from chainrule.errors import DataError
from chainrule.io import save
from chainrule.layers import HIDDEN_ACTIVATIONS, Dense, Softmax, get_activation
from chainrule.metrics import classification_scores, regression_scores
from chainrule.network import Network
from chainrule.optimizers import OPTIMIZERS
from chainrule.preprocessing import Preprocessor, _check_frame, _pandas

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DELIMITERS", "TabularModel", "delimiter_name", "parse_hidden", "read_csv"]


def parse_hidden(hidden: Any) -> tuple[int, ...]:
    """Hidden layer sizes: ``"64,32"`` or ``[64, 32]`` -> ``(64, 32)``; ``"none"``, ``""``
    or ``()`` -> no hidden layer.

    Every size must be a positive integer: 0 is refused rather than read as "no hidden
    layer" (say ``"none"`` for that).

    Raises
    ------
    ValueError, TypeError
        For anything else, naming what was received.
    """
    if isinstance(hidden, str):
        text = hidden.strip()
        if text.lower() in ("", "none"):
            return ()
        parts = [part.strip() for part in text.split(",")]
        try:
            hidden = [int(part) for part in parts]
        except ValueError:
            raise ValueError(
                "hidden must be layer sizes separated by commas such as 64,32 (or 'none' for "
                f"no hidden layer); received {text!r}"
            ) from None
    elif isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if not isinstance(hidden, Sequence):
        raise TypeError(
            f"hidden must be a sequence of layer sizes such as (64, 32); received {hidden!r}"
        )
    sizes = []
    for size in hidden:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size <= 0:
            raise ValueError(
                f"hidden layer sizes must be positive integers (or 'none' for no hidden "
                f"layer); received {size!r} in hidden={hidden!r}"
            )
        sizes.append(int(size))
    return tuple(sizes)


#: the delimiters :func:`read_csv` tries, in order of preference when several fit
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe ('|')"}
#: how a compressed or binary file starts: its first bytes -> what it is
_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"PAR1": "parquet",
}


def delimiter_name(sep: str) -> str:
    """``","`` -> ``"comma"``, ``"\\t"`` -> ``"tab"``; other characters quoted."""
    return _DELIMITER_NAMES.get(sep, repr(sep))


def _interrupted(exc: BaseException) -> bool:
    """True when ``exc`` is, or was raised while handling, a KeyboardInterrupt (pandas'
    C reader turns one into "Calling read(nbytes) on source failed")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _sniff(text: str) -> tuple[str, list[str]]:
    """The delimiter of a CSV text, and the other candidates that fit as well.

    Each of :data:`DELIMITERS` splits the first 100 records of the text (quotes
    respected); a candidate fits when the header splits into more than one field and
    every record has as many fields as the header. The best fit has the largest share
    of such records, then the most fields, then comes first in :data:`DELIMITERS`.
    Nothing splits the header: a one-column file, read with commas.
    """
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    scores = []
    for rank, sep in enumerate(DELIMITERS):
        reader = csv.reader(io.StringIO(sample), delimiter=sep, skipinitialspace=True)
        counts = [len(record) for record in itertools.islice(reader, 100) if record]
        if not counts or counts[0] < 2:
            continue
        share = sum(count == counts[0] for count in counts) / len(counts)
        scores.append((share, counts[0], -rank, sep))
    if not scores:
        return ",", []
    scores.sort(reverse=True)
    best = scores[0]
    also = [s[3] for s in scores[1:] if s[0] == 1.0 and best[0] == 1.0]
    return best[3], also


def _decompress(path: str, data: bytes, method: str) -> bytes:
    """The bytes inside a gzip, bz2, xz or single-file zip archive."""
    if method == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [
                m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename
            ]
            if len(members) == 1 and not members[0].filename.endswith(".npy"):
                return archive.read(members[0])
        raise DataError(
            f"{path}: this is not a CSV text file (it is a zip archive of "
            f"{len(members)} files, such as a model file or a spreadsheet); export the "
            "table as CSV (a zip holding one CSV file is read too)"
        )
    module = {"gzip": gzip, "bz2": bz2, "xz": lzma}[method]
    return module.decompress(data)


def _read_parquet(path: str, data: bytes) -> pd.DataFrame:
    pd = _pandas()
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet files needs pyarrow; install it with "
            "pip install 'chainrule[parquet]' (or save the table as CSV)"
        ) from None
    try:
        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({_one_line(exc)})") from None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _first_long_line(text: str, sep: str) -> tuple[int, int, int]:
    """``(line, fields, header_fields)`` of the first record with more fields than the header."""
    reader = csv.reader(io.StringIO(text), delimiter=sep, skipinitialspace=True)
    header = None
    for record in reader:
        if not record:
            continue
        if header is None:
            header = len(record)
        elif len(record) > header:
            return reader.line_num, len(record), header
    return 0, 0, header or 0


def read_csv(
    path: str,
    *,
    sep: str | None = None,
    decimal: str = ".",
    thousands: str | None = "auto",
    na_values: Sequence[str] = (),
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows of a table file as a DataFrame (index = row numbers, the header is row 1).

    Reads CSV text (UTF-8, with or without a byte-order mark; any line ends),
    compressed CSV (gzip ``.gz``, bzip2 ``.bz2``, xz ``.xz``, a zip holding one CSV
    file), recognised by its first bytes, and Parquet files (with pyarrow, the
    ``parquet`` extra). The file is read once (so a pipe such as ``<(command)`` works)
    and parsed by pandas.

    Parameters
    ----------
    path : str
    sep : str or None, default=None
        The delimiter; None sniffs it among comma, semicolon, tab and pipe (the one
        every record of the first 100 splits into as many fields as the header).
        What was used is in ``frame.attrs["sep"]``.
    decimal : str, default="."
        The decimal mark of numbers, "." or "," (``3,14``).
    thousands : str or None, default="auto"
        The thousands separator inside numbers (``1.037,5``); "auto" means "." when
        ``decimal`` is "," (the European convention) and none otherwise.
    na_values : sequence of str, default=()
        Values that mean "missing", besides pandas' own (empty, ``NA``, ``n/a``,
        ``NaN``, ``null``, ...), such as ``"n/a (sensor off)"`` or ``"?"``.
    text_columns : sequence of str, default=()
        Columns read as text exactly as written (identifiers such as ``007``).

    Raises
    ------
    DataError
        For a file that is missing, empty, binary, not UTF-8, not well-formed CSV
        (a record with more fields than the header, named by its line), with a
        repeated column name or no data rows; the message starts with the path.
    KeyboardInterrupt
        When interrupted while reading, also when pandas reports the interruption as
        another error.
    """
    try:
        return _read_table(
            path,
            sep=sep,
            decimal=decimal,
            thousands=thousands,
            na_values=na_values,
            text_columns=text_columns,
        )
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if _interrupted(exc):
            raise KeyboardInterrupt from exc
        raise


def _check_marks(sep: str | None, decimal: str, thousands: str | None) -> str | None:
    if thousands == "auto":
        thousands = "." if decimal == "," else None
    for name, mark in (("sep", sep), ("decimal", decimal), ("thousands", thousands)):
        if mark is not None and (not isinstance(mark, str) or len(mark) != 1 or mark in "\r\n"):
            raise ValueError(f"{name} must be one character such as ';'; received {mark!r}")
    if decimal == thousands:
        raise ValueError(
            f"decimal and thousands must differ; both are {decimal!r} "
            "(--decimal , --thousands . for 1.037,5)"
        )
    if sep is not None and sep in (decimal, thousands) and sep != ",":
        raise ValueError(
            f"sep {sep!r} is also the decimal or thousands mark; numbers could not be told "
            "from the fields"
        )
    return thousands


def _read_table(path, *, sep, decimal, thousands, na_values, text_columns) -> pd.DataFrame:
    pd = _pandas()
    thousands = _check_marks(sep, decimal, thousands)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a folder, not a CSV file")
    with open(path, "rb") as f:
        data = f.read()
    if not data.strip():
        raise DataError(
            f"{path}: the file is empty; expected a CSV file with a header row and data rows"
        )
    method = next((m for magic, m in _MAGIC.items() if data.startswith(magic)), None)
    if method == "parquet":
        frame = _read_parquet(path, data)
        used = {"format": "parquet"}
    else:
        if method is not None:
            try:
                data = _decompress(path, data, method)
            except (OSError, EOFError, ValueError, lzma.LZMAError, zipfile.BadZipFile) as exc:
                raise DataError(
                    f"{path}: a damaged {method} file ({_one_line(exc)}); compress it again"
                ) from None
        frame, used = _parse_csv(path, data, sep, decimal, thousands, na_values, text_columns)
        if method is not None:
            used["compression"] = method
    if frame.shape[0] == 0:
        raise DataError(
            f"{path}: the file has a header ({', '.join(map(str, frame.columns))}) but no data rows"
        )
    frame.index = pd.RangeIndex(2, frame.shape[0] + 2)
    frame.attrs.update(used)
    return frame


def _parse_csv(path, data, sep, decimal, thousands, na_values, text_columns):
    pd = _pandas()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16, as spreadsheets export
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
        start = data[:8192]
        if b"\x00" in start:
            raise DataError(
                f"{path}: this is not a CSV text file (it holds binary data, such as a model "
                "file or a spreadsheet); export the table as CSV"
            )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8 CSV"
        ) from None
    del data
    if not text.strip():
        raise DataError(
            f"{path}: the file is empty; expected a CSV file with a header row and data rows"
        )
    forced = sep is not None
    also: list[str] = []
    if not forced:
        sep, also = _sniff(text)
    options = {
        "sep": sep,
        "decimal": decimal,
        "thousands": thousands,
        "na_values": list(na_values),
        "skipinitialspace": True,
    }
    try:
        with warnings.catch_warnings():
            # index_col=False: a record longer than the header is refused below, never
            # shifted into an index
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                io.StringIO(text),
                index_col=False,
                dtype={name: str for name in text_columns} or None,
                **options,
            )
        # the header as written: pandas renames a second 'a' to 'a.1'
        header = pd.read_csv(
            io.StringIO(text), header=None, nrows=1, dtype=str, sep=sep, skipinitialspace=True
        ).iloc[0]
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path}: no columns found; expected a CSV file with a header row and data rows"
        ) from None
    except pd.errors.ParserWarning:
        line, fields, names = _first_long_line(text, sep)
        raise DataError(
            f"{path}: line {line} has {fields} fields but the header names {names} columns; "
            "every row needs one value per column (a trailing delimiter, or a column name "
            "missing from the header?): fix the file"
        ) from None
    except pd.errors.ParserError as exc:
        problem = _one_line(exc)
        raise DataError(
            f"{path}: not a well-formed CSV file ({problem}; read as "
            f"{delimiter_name(sep)}-separated{'' if forced else ', --sep to choose'})"
        ) from None
    names = [str(name) for name in header if isinstance(name, str)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(
            f"{path}: the header names the column {', '.join(map(repr, repeated))} more than "
            "once; give each column its own name"
        )
    if frame.shape[1] == 1:
        name = str(frame.columns[0])
        for other in DELIMITERS:
            if other != sep and other in name:
                raise DataError(
                    f"{path}: the header {name!r} looks {delimiter_name(other)}-separated, "
                    f"but the file was read as {delimiter_name(sep)}-separated; leave --sep "
                    f"out to sniff the delimiter, or give --sep '{other}'"
                )
    if also and sep != ",":
        warnings.warn(
            f"{path}: the rows split evenly on {delimiter_name(sep)} and on "
            f"{' and '.join(map(delimiter_name, also))}; read as "
            f"{delimiter_name(sep)}-separated (--sep to choose)",
            UserWarning,
            stacklevel=4,
        )
    return frame, {"format": "csv", "sep": sep, "sep_sniffed": not forced}


# ---------------------------------------------------------------- model


class TabularModel:
    """A network on a table: ``p = network(preprocess(row))``, labels back in original values.

    Parameters
    ----------
    target : str
        Name of the column to predict.
    task : {"classify", "regress"} or None, default=None
        None guesses from the target column (:func:`guess_task`): text or true/false
        values, or at most 10 distinct whole numbers, mean "classify"; other numbers
        mean "regress".
    hidden : sequence of int, default=(32,)
        Sizes of the hidden layers; ``()`` gives a linear (or logistic) model.
    activation : str, default="relu"
        Hidden-layer activation, a name in ``chainrule.ACTIVATIONS``.
    optimizer : str, default="adam"
        A name in ``chainrule.OPTIMIZERS``.
    learning_rate : float, default=0.003
    epochs : int, default=200
        Most passes over the training rows (early stopping may end sooner).
    batch_size : int, default=32
    validation_fraction : float, default=0.2
        Share of the rows held out (stratified by class when classifying, drawn with
        ``seed``) to score each epoch; 0 trains on every row.
    patience : int or None, default=10
        Early stopping: stop when the validation loss (the training loss when there is
        no validation) has not improved for this many epochs, and keep the weights of
        the best epoch. None trains all ``epochs``.
    l2 : float, default=0.0
        L2 weight decay.
    impute, ignore, scale_target
        Passed to the :class:`Preprocessor`.
    seed : int or None, default=0
        Seeds the validation split, the initial weights and the shuffling.

    Attributes
    ----------
    preprocessor_ : Preprocessor
    network_ : Network
    task_ : str
    classes_ : ndarray
        The class labels in their original values (classification).
    history_ : History
        Loss and metrics per epoch (``history_.history["val_loss"]`` ...).
    training_ : dict
        What the last fit did: rows used, epochs run, best epoch, seconds.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.read_csv("examples/penguins.csv")                  # doctest: +SKIP
    >>> model = TabularModel("species", impute=True).fit(frame)       # doctest: +SKIP
    >>> model.predict(frame.head(3))                                  # doctest: +SKIP
    array(['Gentoo', 'Gentoo', 'Gentoo'], dtype='<U9')
    >>> model.evaluate(pd.read_csv("examples/penguins_test.csv"))["accuracy"]  # doctest: +SKIP
    0.95
    """

    def __init__(
        self,
        target: str,
        *,
        task: str | None = None,
        hidden: Sequence[int] = (32,),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate: float = 0.003,
        epochs: int = 200,
        batch_size: int = 32,
        validation_fraction: float = 0.2,
        patience: int | None = 10,
        l2: float = 0.0,
        impute: bool = False,
        ignore: Sequence[str] = (),
        scale_target: bool = True,
        seed: int | None = 0,
    ) -> None:
        self.target = target
        self.task = task
        self.hidden = hidden
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.l2 = l2
        self.impute = impute
        self.ignore = ignore
        self.scale_target = scale_target
        self.seed = seed

    # ------------------------------------------------------------ fit

    def _build_network(self, n_features: int, n_outputs: int) -> Network:
        act = get_activation(self.activation)
        if act is Softmax:
            raise ValueError(
                "activation='softmax' is for output layers; pick a hidden activation from "
                f"{list(HIDDEN_ACTIVATIONS)}"
            )
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; expected one of {sorted(OPTIMIZERS)}"
            )
        layers: list = []
        for units in parse_hidden(self.hidden):
            layers += [Dense(units), act()]
        if self.task_ == "classify":
            layers += [Dense(n_outputs), Softmax()]
            loss, metrics = "categorical_crossentropy", ["accuracy"]
        else:
            layers += [Dense(1)]
            loss, metrics = "mse", ["r2"]
        opt = OPTIMIZERS[self.optimizer.lower()](
            learning_rate=check_positive_float(self.learning_rate, "learning_rate")
        )
        return Network(
            layers, loss=loss, optimizer=opt, metrics=metrics, l2=self.l2, seed=self.seed
        ).build(n_features)

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row positions for training and validation (stratified by class when classifying)."""
        n = len(y)
        fraction = check_fraction(self.validation_fraction, "validation_fraction")
        rng = np.random.default_rng(self.seed)
        if fraction == 0:
            return np.arange(n), np.arange(0)
        if self.task_ == "classify":
            val = []
            for k in range(len(self.classes_)):
                rows = rng.permutation(np.flatnonzero(y == k))
                n_val = min(round(fraction * len(rows)), len(rows) - 1)
                val.append(rows[:n_val])
            val_rows = np.sort(np.concatenate(val))
        else:
            val_rows = np.sort(rng.permutation(n)[: math.ceil(fraction * n)])
        if val_rows.size == 0 or val_rows.size == n:
            raise DataError(
                f"validation_fraction={fraction} of {n} rows leaves "
                f"{'no validation' if val_rows.size == 0 else 'no training'} rows; "
                "use more rows or validation_fraction=0 (--validation-fraction 0)"
            )
        train_rows = np.setdiff1d(np.arange(n), val_rows)
        return train_rows, val_rows

    def fit(
        self, frame: pd.DataFrame, *, callbacks: Sequence[Callback] = (), verbose: int = 0
    ) -> TabularModel:
        """Learn the preprocessing on the training rows, then train the network.

        The validation rows (``validation_fraction``) are held out before anything is
        learned, so their scores are what new data would see. Returns ``self``.
        """
        frame = _check_frame(frame)
        epochs = check_positive_int(self.epochs, "epochs")
        batch_size = check_positive_int(self.batch_size, "batch_size")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        check_seed(self.seed, "seed")
        parse_hidden(self.hidden)
        # The task and classes from every row, so the split can be stratified.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the real fit below warns
            scout = Preprocessor(
                self.target,
                task=self.task,
                impute=self.impute,
                ignore=self.ignore,
                scale_target=self.scale_target,
            ).fit(frame)
        self.task_ = scout.task_
        if self.task_ == "classify":
            self.classes_ = np.asarray(scout.classes_)
        train_rows, val_rows = self._split(
            scout.encode_target(frame) if self.task_ == "classify" else np.zeros(len(frame))
        )
        train = frame.iloc[train_rows]
        self.preprocessor_ = Preprocessor(
            self.target,
            task=self.task_,
            impute=self.impute,
            ignore=self.ignore,
            scale_target=self.scale_target,
        ).fit(train)
        X = self.preprocessor_.transform(train)
        y = self.preprocessor_.encode_target(train)
        validation_data = None
        if val_rows.size:
            val = frame.iloc[val_rows]
            with warnings.catch_warnings():
                # categories only in the validation rows are what new data may bring
                warnings.simplefilter("ignore", UserWarning)
                validation_data = (
                    self.preprocessor_.transform(val),
                    self.preprocessor_.encode_target(val),
                )
        n_outputs = len(self.classes_) if self.task_ == "classify" else 1
        self.network_ = self._build_network(X.shape[1], n_outputs)
        # the best epoch: early stopping keeps its weights; without it, still reported
        monitor = "val_loss" if validation_data is not None else "loss"
        if self.patience is not None:
            best = EarlyStopping(monitor=monitor, patience=self.patience, restore_best_weights=True)
        else:
            best = Monitor(monitor)
        self.training_ = {
            "rows": len(frame),
            "train_rows": int(train_rows.size),
            "validation_rows": int(val_rows.size),
            "epochs_run": 0,
            "interrupted": False,
        }
        started = time.perf_counter()
        try:
            self.network_.fit(
                X,
                y,
                epochs=epochs,
                batch_size=batch_size,
                validation_data=validation_data,
                callbacks=[best, *callbacks],
                verbose=verbose,
            )
        except KeyboardInterrupt:
            self.training_["interrupted"] = True
            raise
        finally:
            self._record_training(time.perf_counter() - started, best)
        return self

    def _record_training(self, seconds: float, best: Monitor) -> None:
        history = self.network_.history.history if self.network_.history else {}
        self.training_["epochs_run"] = len(history.get("loss", []))
        self.training_["seconds"] = round(seconds, 3)
        if best.best_epoch is not None:
            self.training_["best_epoch"] = best.best_epoch + 1
            self.training_["monitor"] = best.monitor
            self.training_["best"] = {
                k: float(v[best.best_epoch])
                for k, v in history.items()
                if k not in ("lr", "seconds")
            }
        self.training_["early_stopped"] = getattr(best, "stopped_epoch", None) is not None

    # ------------------------------------------------------------ use

    def _require_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ValueError("this TabularModel is not fitted yet: call fit(frame) first")

    @property
    def history_(self) -> History | None:
        self._require_fitted()
        return self.network_.history

    def _output(self, frame: pd.DataFrame) -> np.ndarray:
        self._require_fitted()
        X = self.preprocessor_.transform(frame)
        return self.network_.predict(X)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for every row, in order: class labels or numbers, original units."""
        out = self._output(frame)
        if self.task_ == "classify":
            return self.preprocessor_.decode_target(np.argmax(out, axis=1))
        return self.preprocessor_.decode_target(out[:, 0])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape ``(n_rows, n_classes)``, columns in ``classes_`` order."""
        self._require_fitted()
        if self.task_ != "classify":
            raise ValueError("predict_proba needs a classifier; this model is a regressor")
        return self._output(frame).astype(np.float64)

    def evaluate(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Scores on rows that hold the target.

        Classifiers: ``accuracy``, ``loss`` (the network's loss on these rows, as
        ``val_loss`` in training: the cross-entropy, plus the L2 penalty when ``l2`` > 0),
        per-class ``precision`` and ``recall`` (arrays in ``classes_`` order),
        ``support``, ``confusion_matrix`` and ``labels``. Regressors: ``mse``, ``mae``
        and ``r2`` in the target's units.
        """
        self._require_fitted()
        frame = _check_frame(frame)
        y = self.preprocessor_.encode_target(frame)
        X = self.preprocessor_.transform(frame)
        out = self.network_.predict(X)
        if self.task_ == "classify":
            scores = classification_scores(y, np.argmax(out, axis=1), len(self.classes_))
            scores["loss"] = float(self.network_.evaluate(X, y)["loss"])
            scores["labels"] = list(self.classes_)
            return scores
        return regression_scores(
            self.preprocessor_.decode_target(y), self.preprocessor_.decode_target(out[:, 0])
        )

    @property
    def n_features_in_(self) -> int:
        """Number of input columns the model reads."""
        self._require_fitted()
        return len(self.preprocessor_.columns_)

    # ------------------------------------------------------------ files

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe: ``TabularModel(**model.get_config())``."""
        return {
            "target": self.target,
            "task": self.task,
            "hidden": list(parse_hidden(self.hidden)),
            "activation": self.activation,
            "optimizer": self.optimizer,
            "learning_rate": float(self.learning_rate),
            "epochs": int(self.epochs),
            "batch_size": int(self.batch_size),
            "validation_fraction": float(self.validation_fraction),
            "patience": None if self.patience is None else int(self.patience),
            "l2": float(self.l2),
            "impute": bool(self.impute),
            "ignore": [self.ignore] if isinstance(self.ignore, str) else list(self.ignore),
            "scale_target": bool(self.scale_target),
            "seed": self.seed,
        }

    def _model_state(self) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
        """What a model file holds: the kind, a JSON-safe header and the arrays.

        The header has the network's ``architecture`` (checked by ``chainrule.io``
        against the known layer names), the ``preprocessing``, the ``classes``, the
        ``settings`` (constructor arguments), what ``training`` did and the ``history``.
        """
        self._require_fitted()
        net = self.network_
        history = net.history.history if net.history is not None else {}
        training = dict(self.training_)
        training["epochs_run"] = len(history.get("loss", []))
        header = {
            "architecture": net.get_config(),
            "n_features": int(net.n_features),
            "n_params": int(net.n_params),
            "dtype": net.dtype.name,
            "task": self.task_,
            "classes": list(self.preprocessor_.classes_) if self.task_ == "classify" else None,
            "preprocessing": self.preprocessor_.get_config(),
            "settings": self.get_config(),
            "training": training,
            "history": {
                "epoch": list(range(training["epochs_run"])),
                "history": {k: [float(v) for v in values] for k, values in history.items()},
            },
        }
        return "TabularModel", header, {"params": net.params}

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """Rebuild a fitted model from :meth:`_model_state`'s header and arrays."""
        try:
            self = cls(**header["settings"])
            self.preprocessor_ = Preprocessor.from_config(header["preprocessing"])
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"the TabularModel header is incomplete or malformed ({exc})"
            ) from None
        network = Network._from_model_state(header, arrays)
        if network.n_features != self.preprocessor_.n_features_:
            raise ValueError(
                f"its preprocessing makes {self.preprocessor_.n_features_} features but its "
                f"network takes {network.n_features}"
            )
        if network.history is None:
            network.history = History()
        self.network_ = network
        self.task_ = self.preprocessor_.task_
        if self.task_ == "classify":
            self.classes_ = np.asarray(self.preprocessor_.classes_)
        self.training_ = dict(header.get("training") or {})
        return self

    def save(self, path: str) -> None:
        """Write the model file (atomically); ``chainrule.io.load(path)`` reads it back."""
        save(self, path)

    def __repr__(self) -> str:
        return f"TabularModel(target={self.target!r}, task={self.task!r}, hidden={self.hidden!r})"
