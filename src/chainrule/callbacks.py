"""Callbacks: what the training loop calls around epochs and batches.

The loop (:func:`chainrule.training.train`) is small on purpose; everything optional is
a callback: the :class:`History` it returns, :class:`EarlyStopping`,
:class:`ReduceLROnPlateau`, :class:`Checkpoint`, the progress display of
``fit(verbose=...)`` and the scikit-learn estimators' own bookkeeping.

Before training the loop sets ``callback.network`` (the network being trained) and
``callback.params`` (``{"epochs": ..., "batches": ...}``: the last epoch number and the
batches per epoch, None when the batch source cannot tell). A callback stops
training by setting ``network.stop_training = True``.

Adding a callback: subclass :class:`Callback` and write the hooks you need; watch a
logged value with :class:`Monitor`, so that "improved" means the same everywhere.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import check_fraction, check_positive_int
from chainrule.io import save
from chainrule.progress import check_verbose, format_logs, open_bar

if TYPE_CHECKING:  # pragma: no cover
    from chainrule.network import Network

__all__ = [
    "check_callbacks",
    "Callback",
    "History",
    "Monitor",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "Checkpoint",
    "LambdaCallback",
    "ProgressLogger",
    "EpochBar",
]


class Callback:
    """Base class: hooks the training loop calls; each does nothing unless overridden.

    ``on_epoch_end`` receives ``logs``: the epoch's ``loss``, the metrics, the
    ``val_*`` scores with validation data, ``lr`` and ``seconds``. ``on_batch_end``
    receives the batch's ``loss``.

    A callback with state that must survive an interrupted run (a best value, a count
    of epochs without improvement) returns it from :meth:`get_state` and takes it back
    in :meth:`set_state`; model files keep it under :attr:`state_key` (as PyTorch
    Lightning's callbacks do), and a resumed ``fit`` gives it back to the callback with
    the same key after ``on_train_begin``.
    """

    network: Network
    params: dict[str, Any]

    @property
    def state_key(self) -> str:
        """Which callback of a resumed run takes this one's state: the class name and the
        settings that make its state meaningful."""
        return type(self).__name__

    def get_state(self) -> dict[str, Any]:
        """State that resuming needs: JSON-safe values, or NumPy arrays. Empty by default."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`get_state` returned (from a model file: check it)."""

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, logs: dict[str, Any]) -> None: ...


def check_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` as a list, checked: a list or tuple of Callback objects."""
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            "callbacks must be a list of Callback objects, e.g. callbacks=[EarlyStopping()]; "
            f"received {type(callbacks).__name__}"
        )
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(
                "callbacks must be chainrule Callback objects (such as "
                f"chainrule.EarlyStopping); received {callback!r}"
            )
    return list(callbacks)


class History(Callback):
    """Per-epoch record: ``history.history["loss"]``, ``["val_loss"]``, metrics,
    ``["lr"]`` and ``["seconds"]``; ``history.epoch`` lists the epoch numbers."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"


def monitor_mode(monitor: str, mode: str) -> str:
    """``"min"`` or ``"max"``: "auto" maximises accuracy and r2, minimises the rest."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; received mode={mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(k in monitor for k in ("accuracy", "acc", "r2")) else "min"


class Monitor(Callback):
    """Watch one logged value: the one rule of "improved", and the best epoch so far.

    The base of EarlyStopping, ReduceLROnPlateau and Checkpoint; on its own it only
    records the best epoch.

    A value improves when it beats the best so far by more than ``min_delta`` (is
    below ``best - min_delta`` in "min" mode, above ``best + min_delta`` in "max"
    mode); ``wait`` counts the epochs since the last improvement.

    Parameters
    ----------
    monitor : str
        A value the loop logs: ``"loss"``, ``"val_loss"``, ``"val_accuracy"``, ...
    min_delta : float
    mode : {"auto", "min", "max"}
        "auto" maximises accuracy and r2 and minimises everything else.

    Attributes
    ----------
    best : float
        The best value so far (infinite before the first epoch).
    best_epoch : int or None
        The epoch (0-based) of ``best``.
    wait : int
    """

    def __init__(self, monitor: str, min_delta: float = 0.0, mode: str = "auto") -> None:
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.mode = monitor_mode(monitor, mode)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0

    def on_train_begin(self, logs):
        self._reset()

    def on_epoch_end(self, epoch, logs):
        self.improved(epoch, logs)

    @property
    def state_key(self) -> str:
        settings = {"monitor": self.monitor, "mode": self.mode}
        return f"{type(self).__name__}{json.dumps(settings, sort_keys=True)}"

    def get_state(self) -> dict[str, Any]:
        best = self.best if math.isfinite(self.best) else None  # JSON has no infinity
        return {"best": best, "best_epoch": self.best_epoch, "wait": self.wait}

    def set_state(self, state: dict[str, Any]) -> None:
        best, best_epoch = state.get("best"), state.get("best_epoch")
        if best is not None and not _is_number(best):
            raise ValueError(f"{self.state_key}: best must be a number or null; got {best!r}")
        if best_epoch is not None and not _is_count(best_epoch):
            raise ValueError(
                f"{self.state_key}: best_epoch must be an integer >= 0 or null; got {best_epoch!r}"
            )
        if not _is_count(state.get("wait")):
            raise ValueError(
                f"{self.state_key}: wait must be an integer >= 0; got {state.get('wait')!r}"
            )
        self._reset()
        if best is not None:
            self.best = float(best)
        self.best_epoch, self.wait = best_epoch, state["wait"]

    def improved(self, epoch: int, logs: dict[str, Any]) -> bool:
        """Whether ``logs[monitor]`` improved on the best; updates ``best`` and ``wait``."""
        if self.monitor not in logs:
            raise ValueError(
                f"{type(self).__name__} monitors {self.monitor!r}, which fit does not log; "
                f"logged values are {sorted(logs)}. Pass validation data for 'val_*' values."
            )
        value = logs[self.monitor]
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        return better


class EarlyStopping(Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
    min_delta : float, default=0.0
    patience : int, default=5
    mode : {"auto", "min", "max"}, default="auto"
        "auto" maximises accuracy and r2 and minimises everything else.
    restore_best_weights : bool, default=False
        At the end, put back the weights of the best epoch.

    Attributes
    ----------
    best_epoch : int or None
        The epoch (0-based) with the best value.
    stopped_epoch : int or None
        The epoch (0-based) after which training stopped, None if it did not stop early.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 5,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, min_delta, mode)
        self.patience = check_positive_int(patience, "patience")
        self.restore_best_weights = restore_best_weights

    def _reset(self):
        super()._reset()
        self.best_weights = None
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs):
        if self.improved(epoch, logs):
            if self.restore_best_weights:
                self.best_weights = self.network.params.copy()
        elif self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.network.stop_training = True

    def get_state(self):
        state = super().get_state()
        if self.best_weights is not None:
            state["best_weights"] = self.best_weights
        return state

    def set_state(self, state):
        best_weights = state.get("best_weights")
        if best_weights is not None:
            params = self.network.params
            best_weights = np.asarray(best_weights)
            if best_weights.shape != params.shape or best_weights.dtype != params.dtype:
                raise ValueError(
                    f"{self.state_key}: best_weights must be like the network's parameters "
                    f"({params.size} {params.dtype}); got shape {best_weights.shape} and "
                    f"dtype {best_weights.dtype}"
                )
            if not np.isfinite(best_weights).all():
                raise ValueError(f"{self.state_key}: best_weights holds non-finite values")
        super().set_state(state)
        if self.restore_best_weights and best_weights is not None:
            self.best_weights = best_weights.copy()

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_weights is not None:
            self.network.params[...] = self.best_weights


class ReduceLROnPlateau(Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
    factor : float, default=0.1
    patience : int, default=10
    min_delta : float, default=1e-4
    min_lr : float, default=0.0
    mode : {"auto", "min", "max"}, default="auto"

    Notes
    -----
    It sets the optimizer's ``learning_rate`` itself, so the optimizer must have a
    constant rate, not a schedule.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        min_lr: float = 0.0,
        mode: str = "auto",
    ) -> None:
        super().__init__(monitor, min_delta, mode)
        self.patience = check_positive_int(patience, "patience")
        self.factor = check_fraction(factor, "factor", allow_zero=False)
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs):
        super().on_train_begin(logs)
        schedule = self.network.optimizer.schedule
        if schedule is not None:
            raise ValueError(
                "ReduceLROnPlateau sets the learning rate itself, but the optimizer's "
                f"learning_rate is a schedule ({schedule!r}); give the optimizer a "
                "constant learning rate, or drop ReduceLROnPlateau"
            )

    def on_epoch_end(self, epoch, logs):
        if not self.improved(epoch, logs) and self.wait >= self.patience:
            optimizer = self.network.optimizer
            optimizer.learning_rate = max(optimizer.learning_rate * self.factor, self.min_lr)
            self.wait = 0


class Checkpoint(Monitor):
    """Save the best model so far after each epoch: ``save(model, path)`` when
    ``monitor`` improves (every epoch with ``save_best_only=False``).

    Each save is atomic, so stopping training at any moment (Ctrl-C included)
    leaves the last complete checkpoint in ``path``. The file holds the training state
    too (:mod:`chainrule.resume`): ``load(path)`` then ``fit(..., initial_epoch=net.epoch)``
    (or ``chainrule train --resume``) goes on exactly where it stopped. The training
    loop calls checkpoints after the other callbacks, so the file holds what each of them
    made of the epoch. A save that fails (a full disk, a folder made read-only) is a
    warning naming ``path``; training goes on and the next epoch saves again.

    Parameters
    ----------
    path : str or path-like
        The model file to (over)write.
    monitor : str, default="val_loss"
        A value ``fit`` logs: ``"loss"``, ``"val_loss"``, ``"val_accuracy"``, ...
    mode : {"auto", "min", "max"}, default="auto"
        "auto" maximises accuracy and r2 and minimises everything else.
    min_delta : float, default=0.0
        Smallest change counted as an improvement.
    save_best_only : bool, default=True
        False saves after every epoch.
    model : object, optional
        What to save, if not the network being trained: for instance the
        estimator or tabular model that wraps it.

    Attributes
    ----------
    best : float
        Best value of ``monitor`` so far.
    best_epoch : int or None
        Epoch (0-based) where ``monitor`` was best.
    saved_epoch : int or None
        Epoch (0-based) of the last save.

    Examples
    --------
    >>> net.fit(X, y, epochs=50, validation_split=0.2,
    ...         callbacks=[Checkpoint("best.npz")])             # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
        save_best_only: bool = True,
        model: Any = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"path must be in an existing folder; received path={str(path)!r}")
        super().__init__(monitor, min_delta, mode)
        self.save_best_only = bool(save_best_only)
        self.model = model

    def _reset(self):
        super()._reset()
        self.saved_epoch: int | None = None
        self._failed = False

    def on_epoch_end(self, epoch, logs):
        if self.improved(epoch, logs) or not self.save_best_only or self._failed:
            try:
                save(self.network if self.model is None else self.model, self.path)
            except OSError as exc:  # disk full, folder made read-only: keep training
                self._failed = True
                reason = exc.strerror or str(exc)
                warnings.warn(
                    f"could not save the checkpoint {str(self.path)!r} after epoch "
                    f"{epoch + 1} ({reason}); training goes on and the next epoch tries again",
                    stacklevel=2,
                )
                return
            self._failed = False
            self.saved_epoch = epoch

    def get_state(self):
        return {**super().get_state(), "saved_epoch": self.saved_epoch}

    def set_state(self, state):
        saved = state.get("saved_epoch")
        if saved is not None and not _is_count(saved):
            raise ValueError(
                f"{self.state_key}: saved_epoch must be an integer >= 0 or null; got {saved!r}"
            )
        super().set_state(state)
        self.saved_epoch = saved


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class LambdaCallback(Callback):
    """A callback made of plain functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_batch_end=None,
        on_train_begin=None,
        on_train_end=None,
    ) -> None:
        for name, fn in list(locals().items()):
            if name != "self" and fn is not None:
                setattr(self, name, fn)


class ProgressLogger(Callback):
    """``fit``'s display: ``verbose=1`` a progress bar over each epoch's batches,
    ``verbose=2`` one line per epoch (as Keras).

    Parameters
    ----------
    verbose : {1, 2}
    """

    def __init__(self, verbose: int = 1) -> None:
        self.verbose = check_verbose(verbose)
        self._bar = None

    def _desc(self, epoch: int) -> str:
        return f"Epoch {epoch + 1}/{self.params['epochs']}"

    def on_epoch_begin(self, epoch):
        if self.verbose == 1:
            self._bar = open_bar(self.params.get("batches"), 1, self._desc(epoch))

    def on_batch_end(self, batch, logs):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs):
        shown = {k: v for k, v in logs.items() if k not in ("lr", "seconds")}
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(shown))
            self._close()
        if self.verbose == 2:
            print(f"{self._desc(epoch)} - {format_logs(logs)}", flush=True)

    def on_train_end(self, logs):
        self._close()  # interrupted in the middle of an epoch

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EpochBar(Callback):
    """One tqdm bar over the whole run on stderr, a step per epoch, with the loss and
    the validation metric: the ``chainrule`` command's display.

    Unlike :class:`ProgressLogger` (a bar over each epoch's batches on stdout) it keeps
    stdout clean for predictions and summaries. Needs tqdm.

    Parameters
    ----------
    epochs : int
    metric : str
        The metric shown beside the loss (``"accuracy"``, ``"r2"``).
    initial : int, default=0
        Epochs already done (a resumed run).
    """

    def __init__(self, epochs: int, metric: str, initial: int = 0) -> None:
        self.epochs = epochs
        self.metric = metric
        self.initial = initial
        self.bar = None  # made in on_train_begin; Ctrl-C may come before

    def on_train_begin(self, logs):
        from tqdm import tqdm

        columns, lines = shutil.get_terminal_size()  # 80x24 where the terminal says 0x0
        self.bar = tqdm(
            total=self.epochs,
            initial=self.initial,
            desc="",
            file=sys.stderr,
            leave=True,
            ncols=min(columns, 120),
            nrows=lines,
            bar_format="epoch {n_fmt}/{total_fmt} |{bar:10}| {desc}",
        )

    def on_epoch_end(self, epoch, logs):
        if "val_loss" in logs:
            keys = ["loss", "val_loss", f"val_{self.metric}"]
        else:
            keys = ["loss", self.metric]
        self.bar.set_description_str(
            ", ".join(f"{k} {logs[k]:.{4 if 'loss' in k else 3}f}" for k in keys if k in logs),
            refresh=False,
        )
        self.bar.update(1)

    def on_train_end(self, logs):
        if self.bar is not None:
            self.bar.close()
