"""The command line's model: a Preprocessor and a Network, on tables.

:class:`TabularModel` joins a :class:`~chainrule.preprocessing.Preprocessor` and a
:class:`~chainrule.Network`: ``fit`` / ``predict`` / ``predict_proba`` / ``evaluate``
on DataFrames, raw rows in, labels in their original values out. It is what the
``chainrule`` command trains; :func:`read_csv` reads its files.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import numbers
import re
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import (
    check_fraction,
    check_non_negative_float,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from chainrule.callbacks import Callback, EarlyStopping, History, Monitor
from chainrule.diagnostics import Diagnostics, check_record
from chainrule.errors import DataError
from chainrule.filecheck import is_int, is_number, unique_strings
from chainrule.io import save
from chainrule.layers import HIDDEN_ACTIVATIONS, Dense, Softmax, get_activation
from chainrule.metrics import classification_scores, regression_scores
from chainrule.network import Network
from chainrule.optimizers import OPTIMIZERS
from chainrule.preprocessing import TASKS, Preprocessor, _check_frame, _pandas
from chainrule.readers import read_csv

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["TabularModel", "parse_hidden", "read_csv"]


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


#: What ``training_`` may hold in a file, with the check of each value.
_TRAINING = {
    "rows": lambda v: is_int(v) and v >= 0,
    "train_rows": lambda v: is_int(v) and v >= 0,
    "validation_rows": lambda v: is_int(v) and v >= 0,
    "epochs_run": lambda v: is_int(v) and v >= 0,
    "interrupted": lambda v: isinstance(v, bool),
    "early_stopped": lambda v: isinstance(v, bool),
    "seconds": is_number,
    "best_epoch": lambda v: is_int(v) and v >= 1,
    "monitor": lambda v: isinstance(v, str),
    "best": lambda v: isinstance(v, dict) and all(is_number(x) for x in v.values()),
    "data_sha256": lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None,
    "resumed_at_epoch": lambda v: is_int(v) and v >= 0,
    "diagnostics": lambda v: _valid_diagnostics(v),
}


def _valid_diagnostics(record: Any) -> bool:
    """A :class:`~chainrule.Diagnostics` record (``chainrule train --diagnose``)."""
    try:
        check_record(record)
    except ValueError:
        return False
    return True


def _check_training(training: Any) -> None:
    """A file's record of the training run: known fields with values of their type."""
    if not isinstance(training, dict) or not set(training) <= set(_TRAINING):
        extra = sorted(set(training) - set(_TRAINING)) if isinstance(training, dict) else training
        raise ValueError(f"its training record has unknown fields: {_short(extra)}")
    if "diagnostics" in training:
        try:
            check_record(training["diagnostics"])
        except ValueError as exc:
            raise ValueError(f"its training record's {exc}") from None
    for key, value in training.items():
        if not _TRAINING[key](value):
            raise ValueError(f"its training record's {key} is {_short(value)}, which is not valid")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- model


def _frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names and values (pandas' row hashes): resuming checks
    that the data are those the run trained on."""
    pd = _pandas()
    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode("utf-8"))
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _difference(saved: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two fitted Preprocessor configs, in words ("" if nothing)."""
    old_state, new_state = saved.get("fitted", {}), new.get("fitted", {})
    if old_state.get("task") != new_state.get("task"):
        return f"the task was {old_state.get('task')}, it is now {new_state.get('task')}"
    old_cols = {c.get("name"): c for c in old_state.get("columns", []) if isinstance(c, dict)}
    new_cols = {c.get("name"): c for c in new_state.get("columns", []) if isinstance(c, dict)}
    if list(old_cols) != list(new_cols):
        return f"the columns were {list(old_cols)}, they are now {list(new_cols)}"
    for name, column in old_cols.items():
        if column != new_cols[name]:
            keys = sorted(
                k
                for k in set(column) | set(new_cols[name])
                if column.get(k) != new_cols[name].get(k)
            )
            return f"column {name!r} differs ({', '.join(keys)})"
    if old_state.get("classes") != new_state.get("classes"):
        return (
            f"the classes were {old_state.get('classes')}, they are now {new_state.get('classes')}"
        )
    for key in ("target_mean", "target_scale"):
        if old_state.get(key) != new_state.get(key):
            return "the target's mean or scale differs"
    return ""


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
    l1 : float, default=0.0
        L1 regularisation: the network's ``l1`` (``l1 * sum(|W|)`` joins the loss).
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
        What the last fit did: rows used, epochs run, best epoch, seconds; with a
        :class:`~chainrule.Diagnostics` among the callbacks, its record as
        ``training_["diagnostics"]``.

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
        l1: float = 0.0,
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
        self.l1 = l1
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
            layers,
            loss=loss,
            optimizer=opt,
            metrics=metrics,
            l2=self.l2,
            l1=self.l1,
            seed=self.seed,
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
        X, y, validation_data = self._prepare(frame)
        n_outputs = len(self.classes_) if self.task_ == "classify" else 1
        self.network_ = self._build_network(X.shape[1], n_outputs)
        return self._train(X, y, validation_data, callbacks, verbose)

    def resume(
        self,
        frame: pd.DataFrame,
        *,
        epochs: int | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: int = 0,
    ) -> TabularModel:
        """Continue the training this model's file stopped (a checkpoint or a model file),
        on the same data, up to ``epochs`` in all (default: the ``epochs`` it was made
        with).

        The optimizer's moments, the random generator, the rows' order, early
        stopping's state and the history carry on, so an interrupted run resumed from its
        last checkpoint ends with the weights of the run never interrupted (bit for bit
        on one thread). The data must be the rows the run trained on: anything else
        raises :class:`DataError` naming what differs. Returns ``self``.
        """
        self._require_fitted()
        net = self.network_
        if net.optimizer.iterations == 0 and net.epoch == 0:
            raise ValueError(
                "this model holds no training state to resume (it never trained, or its "
                "file was written by a chainrule without resuming); train it anew with fit()"
            )
        epochs = check_positive_int(self.epochs if epochs is None else epochs, "epochs")
        if net.epoch >= epochs:
            raise ValueError(
                f"this model has trained {net.epoch} epochs already; epochs is the total to "
                f"reach, not a number of more epochs: give more than {net.epoch}"
            )
        saved_digest = self.training_.get("data_sha256")
        saved_preprocessor = self.preprocessor_
        X, y, validation_data = self._prepare(frame, check_against=saved_preprocessor)
        if saved_digest is not None and saved_digest != self.training_["data_sha256"]:
            raise DataError(
                f"the rows differ from those the run trained on ({self.training_['rows']} "
                "rows, the same columns and statistics, but other values): resume with "
                "the same file"
            )
        self.epochs = epochs
        return self._train(X, y, validation_data, callbacks, verbose, initial_epoch=net.epoch)

    def _prepare(self, frame: pd.DataFrame, check_against: Preprocessor | None = None):
        """Check the settings, split the rows, learn the preprocessing on the training
        rows: ``(X, y, validation_data)``. With ``check_against`` (resuming), refuse
        data whose preprocessing differs from it."""
        frame = _check_frame(frame)
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        check_seed(self.seed, "seed")
        parse_hidden(self.hidden)
        rows_before = None if check_against is None else self.training_.get("rows")
        if rows_before is not None and rows_before != len(frame):
            raise DataError(
                f"the run being resumed trained on {rows_before} rows; this data has "
                f"{len(frame)}: resume with the same file"
            )
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
        if check_against is not None:
            difference = _difference(check_against.get_config(), self.preprocessor_.get_config())
            if difference:
                raise DataError(
                    f"the data differ from those the run being resumed trained on: "
                    f"{difference}; resume with the same file"
                )
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
        self.training_ = {
            "rows": len(frame),
            "train_rows": int(train_rows.size),
            "validation_rows": int(val_rows.size),
            "data_sha256": _frame_digest(frame),
            "epochs_run": 0,
            "interrupted": False,
        }
        return X, y, validation_data

    def _train(self, X, y, validation_data, callbacks, verbose, initial_epoch: int = 0):
        # the best epoch: early stopping keeps its weights; without it, still reported
        monitor = "val_loss" if validation_data is not None else "loss"
        if self.patience is not None:
            best = EarlyStopping(monitor=monitor, patience=self.patience, restore_best_weights=True)
        else:
            best = Monitor(monitor)
        if initial_epoch:
            self.training_["resumed_at_epoch"] = initial_epoch
        started = time.perf_counter()
        try:
            self.network_.fit(
                X,
                y,
                epochs=self.epochs,
                batch_size=self.batch_size,
                validation_data=validation_data,
                callbacks=[best, *callbacks],
                verbose=verbose,
                initial_epoch=initial_epoch,
            )
        except KeyboardInterrupt:
            self.training_["interrupted"] = True
            raise
        finally:
            self._record_training(time.perf_counter() - started, best)
            # the health record of the run (a Diagnostics callback's), kept in the file
            self.training_.pop("diagnostics", None)
            for callback in callbacks:
                if isinstance(callback, Diagnostics) and callback.record:
                    self.training_["diagnostics"] = callback.record
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
        ``val_loss`` in training: the cross-entropy, plus the L2 and L1 penalties when
        ``l2`` or ``l1`` > 0), per-class ``precision`` and ``recall`` (arrays in
        ``classes_`` order), ``support``, ``confusion_matrix`` and ``labels``.
        Regressors: ``mse``, ``mae`` and ``r2`` in the target's units.
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
            "l1": float(self.l1),
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
        arrays = {"params": net.params}
        net._add_training_state(header, arrays)
        return "TabularModel", header, arrays

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """Rebuild a fitted model from :meth:`_model_state`'s header and arrays."""
        settings = header["settings"]
        known = set(inspect.signature(cls).parameters)
        if not isinstance(settings, dict) or not set(settings) <= known or "target" not in settings:
            raise ValueError(f"its settings are not TabularModel's: {_short(settings)}")
        try:
            self = cls(**settings)
            self._check_settings()
            self.preprocessor_ = Preprocessor.from_config(header["preprocessing"])
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"the TabularModel header is incomplete or malformed ({exc})"
            ) from None
        self._check_saved_network(header)
        _check_training(header["training"])
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

    def _check_settings(self) -> None:
        """The constructor arguments, checked as ``fit`` checks them (files may be edited)."""
        if not isinstance(self.target, str):
            raise ValueError(f"target must be a column name; received {self.target!r}")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None; received {self.task!r}")
        parse_hidden(self.hidden)
        if not isinstance(self.activation, str) or self.activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"activation {self.activation!r} is not one of {sorted(HIDDEN_ACTIVATIONS)}"
            )
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {sorted(OPTIMIZERS)}")
        check_positive_float(self.learning_rate, "learning_rate")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_fraction(self.validation_fraction, "validation_fraction")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        check_non_negative_float(self.l2, "l2")
        check_non_negative_float(self.l1, "l1")
        check_seed(self.seed, "seed")
        for name in ("impute", "scale_target"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false; received {getattr(self, name)!r}")
        if isinstance(self.ignore, str) or not isinstance(self.ignore, Sequence):
            raise ValueError(f"ignore must be a list of column names; received {self.ignore!r}")
        unique_strings(list(self.ignore), "ignore")

    def _check_saved_network(self, header: dict[str, Any]) -> None:
        """The file's architecture, task and classes must be what these settings build."""
        pre = self.preprocessor_
        if header["task"] != pre.task_ or (self.task is not None and self.task != pre.task_):
            raise ValueError(
                f"its task {header['task']!r} contradicts its preprocessing's {pre.task_!r}"
            )
        classify = pre.task_ == "classify"
        if header["classes"] != (pre.classes_ if classify else None):
            raise ValueError("its classes are not its preprocessing's classes")
        act = get_activation(self.activation).__name__
        expected: list[tuple[str, Any]] = []
        for units in parse_hidden(self.hidden):
            expected += [("Dense", units), (act, None)]
        expected += (
            [("Dense", len(pre.classes_)), ("Softmax", None)] if classify else [("Dense", 1)]
        )
        arch = header["architecture"]
        layers = [(c["class_name"], c.get("config", {}).get("units")) for c in arch["layers"]]
        if layers != expected:
            raise ValueError(
                f"its architecture {layers} is not what its settings build: {expected}"
            )
        if arch["optimizer"]["class_name"] != self.optimizer.lower():
            raise ValueError("its network's optimizer is not the one its settings name")
        for name in ("l2", "l1"):  # a file without them: 0, as an older chainrule wrote
            if arch.get(name, 0.0) != getattr(self, name):
                raise ValueError(
                    f"its network's {name} {_short(arch.get(name, 0.0))} is not its settings' "
                    f"{_short(getattr(self, name))}"
                )

    def save(self, path: str) -> None:
        """Write the model file (atomically); ``chainrule.io.load(path)`` reads it back."""
        save(self, path)

    def __repr__(self) -> str:
        return f"TabularModel(target={self.target!r}, task={self.task!r}, hidden={self.hidden!r})"
