"""The fit loop: batches, shuffling, validation, callbacks, history and progress.

``fit`` is small on purpose; everything optional (early stopping, plateau
schedules, progress, checkpoints) is a :class:`Callback`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import (
    check_fraction,
    check_positive_int,
    check_sample_weight,
)

if TYPE_CHECKING:  # pragma: no cover
    from chainrule.network import Network

__all__ = [
    "fit",
    "evaluate",
    "History",
    "Callback",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "LambdaCallback",
    "progress_bar",
]


class Callback:
    """Base class: hooks the fit loop calls. ``self.network`` is set before training."""

    network: Network

    def on_train_begin(self, logs: dict[str, Any]) -> None: ...

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, logs: dict[str, Any]) -> None: ...


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


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; received mode={mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(k in monitor for k in ("accuracy", "acc", "r2")) else "min"


class _Monitor(Callback):
    """Shared logic: watch one logged value and count epochs without improvement."""

    def __init__(self, monitor: str, min_delta: float, patience: int, mode: str) -> None:
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = check_positive_int(patience, "patience")
        self.mode = _monitor_mode(monitor, mode)

    def on_train_begin(self, logs):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0

    def _improved(self, logs) -> bool:
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
            self.best = value
            self.wait = 0
        else:
            self.wait += 1
        return better


class EarlyStopping(_Monitor):
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
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 5,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__(monitor, min_delta, patience, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs):
        super().on_train_begin(logs)
        self.best_weights = None
        self.best_epoch = None
        self.stopped_epoch = None

    def on_epoch_end(self, epoch, logs):
        if self._improved(logs):
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.network.params.copy()
        elif self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.network.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_weights is not None:
            self.network.params[...] = self.best_weights


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
    factor : float, default=0.1
    patience : int, default=10
    min_delta : float, default=1e-4
    min_lr : float, default=0.0
    mode : {"auto", "min", "max"}, default="auto"
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
        super().__init__(monitor, min_delta, patience, mode)
        self.factor = check_fraction(factor, "factor", allow_zero=False)
        self.min_lr = float(min_lr)

    def on_epoch_end(self, epoch, logs):
        if not self._improved(logs) and self.wait >= self.patience:
            opt = self.network.optimizer
            new_lr = max(opt.lr * self.factor, self.min_lr)
            if new_lr < opt.lr:
                opt.lr_scale *= new_lr / opt.lr
                opt.lr = new_lr
            self.wait = 0


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


# ---------------------------------------------------------------- progress


class _TextBar:
    """A minimal progress bar for when tqdm is not installed."""

    def __init__(self, total: int, desc: str, stream=None) -> None:
        # sys.stdout looked up now, not at import: redirections (pytest, Jupyter) apply
        self.stream = sys.stdout if stream is None else stream
        self.total, self.n, self.desc = total, 0, desc
        self.postfix = ""

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.n == self.total or self.n % max(1, self.total // 20) == 0:
            self._draw()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        self._draw()

    def _draw(self) -> None:
        filled = int(30 * self.n / max(self.total, 1))
        bar = "=" * filled + "." * (30 - filled)
        self.stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total} {self.postfix}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class _NoBar:
    def update(self, k: int = 1) -> None: ...

    def set_postfix_str(self, text: str) -> None: ...

    def close(self) -> None: ...


class _LineBar(_NoBar):
    """``verbose=2`` outside ``fit``: one line at the end, as Keras prints."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.started = total, desc, time.perf_counter()

    def close(self) -> None:
        seconds = time.perf_counter() - self.started
        print(f"{self.desc}: {self.total}/{self.total} batches - {seconds:.2f}s", flush=True)


@contextmanager
def progress_bar(total: int, verbose: int, desc: str, *, line: bool = False):
    """A progress bar over ``total`` steps when ``verbose == 1`` (tqdm if installed).

    With ``line=True``, ``verbose == 2`` prints one summary line when done (``predict``
    and ``evaluate``; ``fit`` prints its own line per epoch).
    """
    if verbose == 2 and line:
        bar: Any = _LineBar(total, desc)
    elif verbose != 1:
        bar = _NoBar()
    else:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=desc, leave=True, file=sys.stdout, dynamic_ncols=True)
        except ImportError:
            bar = _TextBar(total, desc)
    try:
        yield bar
    finally:
        bar.close()


def _format_logs(logs: dict[str, float]) -> str:
    parts = []
    for key, value in logs.items():
        if key == "seconds":
            parts.append(f"{value:.2f}s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}")
    return " - ".join(parts)


# ---------------------------------------------------------------- fit


def _check_verbose(verbose: Any) -> int:
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"verbose must be 0 (silent), 1 (progress bar) or 2 (a line per epoch); "
            f"received verbose={verbose!r}"
        )
    return int(verbose)


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
):
    """Train ``network`` on ``(X, y)`` by mini-batch gradient descent.

    Parameters
    ----------
    network : Network
    X : array-like of shape (n_samples, n_features)
        Converted once to the network's dtype; float arrays of that dtype are used
        without a copy.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets: values for ``"mse"``, 0/1 for ``"binary_crossentropy"``, integer
        labels or one-hot rows for ``"categorical_crossentropy"``.
    epochs : int, default=1
        Passes over the training data.
    batch_size : int, default=32
        Samples per gradient step (the last batch of an epoch may be smaller).
    shuffle : bool, default=True
        Shuffle the training samples before each epoch (from the network's seed).
    validation_split : float, default=0.0
        Fraction of the samples, taken from the end before shuffling (as Keras), held
        out for validation. Ignored when ``validation_data`` is given.
    validation_data : tuple (X_val, y_val), optional
        Held-out data scored at the end of every epoch (``val_loss`` and metrics).
    callbacks : list of Callback, default=()
        Such as :class:`EarlyStopping` or :class:`ReduceLROnPlateau`.
    verbose : {0, 1, 2}, default=0
        0 silent, 1 a progress bar per epoch, 2 one line per epoch.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample in the loss.
    initial_epoch : int, default=0
        Epoch number to start counting from (for schedules, when resuming).

    Returns
    -------
    History
    """
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    verbose = _check_verbose(verbose)
    X, target = network._prepare_xy(X, y)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X.shape[0], network.dtype)

    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (X_val, y_val); "
                f"received {type(validation_data).__name__}"
            )
        val = network._prepare_xy(validation_data[0], validation_data[1], "X_val", "y_val")
    elif validation_split:
        check_fraction(validation_split, "validation_split", allow_zero=False)
        n_val = math.ceil(X.shape[0] * validation_split)
        if n_val >= X.shape[0]:
            raise ValueError(
                f"validation_split={validation_split} leaves no training samples out of "
                f"{X.shape[0]}; use a smaller fraction"
            )
        cut = X.shape[0] - n_val
        val = (X[cut:], target[cut:])
        X, target = X[:cut], target[:cut]
        if sample_weight is not None:
            sample_weight = sample_weight[:cut]

    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            "callbacks must be a list of Callback objects, e.g. callbacks=[EarlyStopping()]; "
            f"received {type(callbacks).__name__}"
        )
    history = History()
    all_callbacks = [history, *callbacks]
    for cb in all_callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback objects; received {cb!r}")
        cb.network = network
    network.stop_training = False
    network.history = history

    n = X.shape[0]
    n_batches = math.ceil(n / batch_size)
    # Buffers for the gathered batches: allocated once, reused every step.
    x_buf = np.empty((min(batch_size, n), X.shape[1]), dtype=X.dtype)
    y_buf = np.empty((min(batch_size, n), *target.shape[1:]), dtype=target.dtype)
    w_buf = None if sample_weight is None else np.empty(min(batch_size, n), dtype=X.dtype)
    indices = np.arange(n)

    for cb in all_callbacks:
        cb.on_train_begin({})
    snapshot = network.params.copy()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for epoch in range(initial_epoch, initial_epoch + epochs):
                started = time.perf_counter()
                network.optimizer.on_epoch_begin(epoch)
                for cb in all_callbacks:
                    cb.on_epoch_begin(epoch)
                snapshot[...] = network.params
                if shuffle:
                    network.rng.shuffle(indices)
                for m in network.metrics:
                    m.reset()
                loss_sum = 0.0
                desc = f"Epoch {epoch + 1}/{initial_epoch + epochs}"
                with progress_bar(n_batches, verbose, desc) as bar:
                    for b in range(n_batches):
                        lo, hi = b * batch_size, min((b + 1) * batch_size, n)
                        if shuffle:
                            idx = indices[lo:hi]
                            # mode="clip": with out=, the default mode="raise" gathers
                            # through a temporary copy (2-3x slower); idx is in range
                            xb = np.take(X, idx, axis=0, out=x_buf[: hi - lo], mode="clip")
                            yb = np.take(target, idx, axis=0, out=y_buf[: hi - lo], mode="clip")
                            wb = (
                                None
                                if w_buf is None
                                else np.take(sample_weight, idx, out=w_buf[: hi - lo], mode="clip")
                            )
                        else:
                            xb, yb = X[lo:hi], target[lo:hi]
                            wb = None if sample_weight is None else sample_weight[lo:hi]
                        try:
                            batch_loss = network.train_step(xb, yb, wb)
                        except FloatingPointError:
                            if not np.isfinite(network.params).all():
                                network.params[...] = snapshot
                            raise
                        loss_sum += batch_loss * (hi - lo)
                        if network.metrics:
                            out = network._metric_output(network._loss_out)
                            for m in network.metrics:
                                m.update(out, yb, logits=False)
                        for cb in callbacks:
                            cb.on_batch_end(b, {"loss": batch_loss})
                        bar.update(1)
                    if not np.isfinite(network.params).all():
                        # The last update overflowed and no later step saw the loss.
                        network.params[...] = snapshot
                        raise _diverged(epoch)
                    logs = {"loss": loss_sum / n}
                    for m in network.metrics:
                        logs[m.name] = m.result()
                    if val is not None:
                        scores = _evaluate_prepared(network, *val, batch_size=4096)
                        logs.update({f"val_{k}": v for k, v in scores.items()})
                    logs["lr"] = network.optimizer.lr
                    logs["seconds"] = time.perf_counter() - started
                    bar.set_postfix_str(
                        _format_logs({k: v for k, v in logs.items() if k not in ("lr", "seconds")})
                    )
                for cb in all_callbacks:
                    cb.on_epoch_end(epoch, logs)
                if verbose == 2:
                    print(
                        f"Epoch {epoch + 1}/{initial_epoch + epochs} - {_format_logs(logs)}",
                        flush=True,
                    )
                if network.stop_training:
                    break
    finally:
        for cb in all_callbacks:
            cb.on_train_end({})
    return history


def _diverged(epoch: int) -> FloatingPointError:
    from chainrule.network import TrainingDivergedError

    return TrainingDivergedError(
        f"the weights became non-finite in epoch {epoch + 1} (the update overflowed); "
        "training stopped and the weights from the start of that epoch were put back. "
        "Lower the learning rate, scale the inputs, or check the targets."
    )


def _evaluate_prepared(network, X, target, batch_size=4096, sample_weight=None, verbose=0):
    """Loss and metrics on already-validated data, in chunks of ``batch_size`` rows."""
    metrics = [type(m)() for m in network.metrics]  # fresh, so fit's own stay intact
    n = X.shape[0]
    loss_total = weight_total = 0.0
    starts = range(0, n, batch_size)
    with progress_bar(len(starts), verbose, "evaluate", line=True) as bar:
        for lo in starts:
            hi = min(lo + batch_size, n)
            out = network._forward_train(X[lo:hi], False)
            wb = None if sample_weight is None else sample_weight[lo:hi]
            value, _ = network.loss.value_and_gradient(out, target[lo:hi], wb)
            w = (hi - lo) if wb is None else float(np.sum(wb))
            loss_total += value * w
            weight_total += w
            if metrics:
                probs = network._metric_output(out)
                for m in metrics:
                    m.update(probs, target[lo:hi])
            bar.update(1)
    scores = {"loss": loss_total / weight_total if weight_total else float("nan")}
    if network.l2:
        scores["loss"] += network._l2_penalty(network.l2)
    for m in metrics:
        scores[m.name] = m.result()
    return scores


def evaluate(
    network: Network, X, y, *, batch_size: int = 4096, verbose: int = 0, sample_weight=None
) -> dict[str, float]:
    """Loss and metrics of ``network`` on ``(X, y)``: ``{"loss": ..., "accuracy": ...}``."""
    batch_size = check_positive_int(batch_size, "batch_size")
    verbose = _check_verbose(verbose)
    X = network._check_predict_input(X)
    X, target = network._prepare_xy(X, y)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X.shape[0], network.dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        return _evaluate_prepared(network, X, target, batch_size, sample_weight, verbose)
