"""Training's health: a callback that watches gradients, updates, activations and the loss.

:class:`Diagnostics` records, per epoch and per Dense layer (``layer 1`` is the first
Dense layer, as the lesson's ``layer_1``):

- ``grad_norm``: the norm of the layer's gradient (weights and bias), the mean over the
  epoch's optimizer steps;
- ``update_ratio``: ``||W_end - W_start|| / ||W_start||``, how far the epoch moved the
  layer's weight matrix, relative to its size (per epoch, not per step);
- ``dead`` (a ReLU after the layer): the fraction of its units that output 0 for every
  sample of the epoch;
- ``saturated`` (a sigmoid or tanh after the layer): the fraction of its units whose
  input lies beyond :data:`SATURATION` (where the derivative is below about 1% of its
  largest value) for most samples of the epoch;

and the loss with its ``loss_trend``: the relative change over the last ``window``
epochs. It reads what the layers keep from the last training pass (``layer.input``,
``layer.output``) and the gradient vector ``network.grads`` after every batch, so the
engine runs as it would without it.

It warns once per problem (a :class:`TrainingHealthWarning`, in plain words with a fix)
and keeps the warnings in its record. The record is :attr:`Diagnostics.record`: a
JSON-safe table that ``chainrule train --diagnose`` saves in the model file (the
training record's ``diagnostics``) and ``chainrule plot MODEL --health FILE.png`` draws
(:func:`chainrule.plotting.plot_health`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule._validation import check_positive_int
from chainrule.callbacks import Callback
from chainrule.layers import Activation, Dense, ReLU, Sigmoid, Tanh

__all__ = [
    "DEAD_FRACTION",
    "EXPLODING_NORM",
    "SATURATED_FRACTION",
    "SATURATION",
    "VANISHING_RATIO",
    "Diagnostics",
    "TrainingHealthWarning",
    "check_record",
]

#: A unit is saturated where ``|x|`` passes this (its input ``x``, before the
#: activation): the derivative there is below about 1% of its largest value
#: (tanh: ``1 - tanh(3)**2 = 0.0099``; sigmoid: ``s(6)(1 - s(6)) = 0.0025 = 1% of 0.25``).
SATURATION: dict[str, float] = {"tanh": 3.0, "logistic": 6.0}
#: Warn when at least this fraction of a layer's ReLU units is dead.
DEAD_FRACTION = 0.5
#: Warn when at least this fraction of a layer's sigmoid or tanh units is saturated.
SATURATED_FRACTION = 0.5
#: Warn when a layer's gradient norm passes this (an exploding gradient).
EXPLODING_NORM = 1e3
#: Warn when the first Dense layer's gradient norm is below this fraction of the last's.
VANISHING_RATIO = 1e-3
#: Warn when the loss rose by more than this fraction over the window.
RISING = 0.05
#: The loss "stopped falling" when it fell by less than this fraction over the window,
#: while still above half the first epoch's loss.
STALLED = 1e-3

_SIGNIFICANT = 6  # digits kept in the record: small and JSON-safe


class TrainingHealthWarning(UserWarning):
    """A problem :class:`Diagnostics` found in a training run, with its fix."""


def _num(value: float) -> float | None:
    """A rounded float for the record; None for a value not measured or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{_SIGNIFICANT}g}")


class _Watched:
    """One Dense layer, the activation after it, and the epoch's running sums."""

    def __init__(
        self, number: int, dense: Dense, activation: Activation | None, name: str | None
    ) -> None:
        self.number, self.dense, self.activation, self.name = number, dense, activation, name
        self._abs: np.ndarray | None = None  # |x| of a batch (sigmoid, tanh), reused
        self.kind = None
        if isinstance(activation, ReLU):
            self.kind = "relu"
        elif isinstance(activation, (Sigmoid, Tanh)):
            self.kind = activation.name  # "logistic" or "tanh"

    def begin(self) -> None:
        self.start = self.dense.weights.copy()
        self.grad_sum, self.steps, self.samples = 0.0, 0, 0
        units = self.dense.units
        self.alive = np.zeros(units, dtype=bool)  # ReLU: output > 0 for some sample
        self.saturated = np.zeros(units, dtype=np.int64)  # samples beyond the threshold

    def batch(self) -> None:
        squares = sum(float(np.vdot(g, g)) for g in self.dense.grad_arrays)
        self.grad_sum += math.sqrt(squares)
        self.steps += 1
        if self.kind is None:
            return
        if self.kind == "relu":
            out = getattr(self.activation, "output", None)
            if out is None:
                return
            # one reduction: a unit's largest output > 0 means it was alive for a sample
            np.logical_or(self.alive, out.max(axis=0) > 0, out=self.alive)
            self.samples += out.shape[0]
        else:
            x = getattr(self.activation, "input", None)
            if x is None:
                return
            if self._abs is None or self._abs.shape != x.shape:
                self._abs, self._over = np.empty_like(x), np.empty(x.shape, dtype=bool)
            # into kept buffers, and a sum of bytes: half the time of count_nonzero
            np.abs(x, out=self._abs)
            np.greater(self._abs, SATURATION[self.kind], out=self._over)
            self.saturated += np.add.reduce(self._over.view(np.uint8), axis=0, dtype=np.int64)
            self.samples += x.shape[0]

    def end(self) -> dict[str, float | None]:
        weights = self.dense.weights
        size = float(np.linalg.norm(self.start))
        moved = float(np.linalg.norm(weights - self.start))
        row = {
            "grad_norm": _num(self.grad_sum / self.steps) if self.steps else None,
            "update_ratio": _num(moved / size) if size > 0 else None,
        }
        if self.kind == "relu":
            row["dead"] = _num(1.0 - self.alive.mean()) if self.samples else None
        elif self.kind is not None:
            share = self.saturated / self.samples if self.samples else None
            row["saturated"] = _num(float(np.mean(share > 0.5))) if self.samples else None
        return row


class Diagnostics(Callback):
    """Watch training's health: gradient norms, update ratios, dead and saturated units,
    the loss's trend; warn once per problem, with a fix.

    Parameters
    ----------
    window : int, default=5
        Epochs over which the loss's trend is measured: ``loss_trend`` at epoch ``t`` is
        ``(loss[t] - loss[t - window]) / loss[t - window]`` (None for the first epochs).
    warn : bool, default=True
        Issue a :class:`TrainingHealthWarning` the first time each problem shows (the
        record keeps the messages either way).

    Attributes
    ----------
    record : dict
        JSON-safe, per epoch::

            {"epoch": [0, 1, ...], "loss": [...], "loss_trend": [None, ..., -0.12],
             "layers": [{"layer": 1, "units": 256, "activation": "relu",
                         "grad_norm": [...], "update_ratio": [...], "dead": [...]},
                        {"layer": 2, "units": 10, "activation": "softmax",
                         "grad_norm": [...], "update_ratio": [...]}],
             "warnings": ["62% of layer 1's ReLU units output 0 for every sample: ..."]}

        A layer followed by a ReLU has ``dead``; by a sigmoid or tanh, ``saturated``
        (the output layer's activation is not watched: with a cross-entropy loss it is
        fused with the loss). None marks a value not measured (L-BFGS takes no batch
        steps, so its gradient norms are None).

    Notes
    -----
    Thresholds: :data:`DEAD_FRACTION`, :data:`SATURATION` and :data:`SATURATED_FRACTION`,
    :data:`EXPLODING_NORM`, :data:`VANISHING_RATIO`; the loss "rises" when it grew by more
    than 5% over the window and "stopped falling" when it fell by less than 0.1% over
    the window while still above half the first epoch's loss. A resumed run starts a
    new record.

    Examples
    --------
    >>> diagnostics = Diagnostics()
    >>> net.fit(X, y, epochs=20, callbacks=[diagnostics])   # doctest: +SKIP
    >>> diagnostics.record["layers"][0]["dead"]             # doctest: +SKIP
    """

    def __init__(self, window: int = 5, warn: bool = True) -> None:
        self.window = check_positive_int(window, "window")
        self.warn = bool(warn)
        self.record: dict[str, Any] = {}
        self._warned: set[tuple[str, int]] = set()
        self._watched: list[_Watched] = []

    def on_train_begin(self, logs):
        layers = self.network.layers
        n_to_loss = self.network._n_to_loss
        watched, number = [], 0
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                continue
            number += 1
            activation = None
            for after in layers[i + 1 :]:
                if isinstance(after, Dense):
                    break
                if isinstance(after, Activation):
                    activation = after
                    break
            # the fused output activation runs no forward pass in training
            watched_activation = activation
            if activation is not None and layers.index(activation) >= n_to_loss:
                watched_activation = None
            name = None if activation is None else activation.name
            watched.append(_Watched(number, layer, watched_activation, name))
        self._watched = watched
        self._warned = set()
        self.record = {
            "epoch": [],
            "loss": [],
            "loss_trend": [],
            "layers": [
                {
                    "layer": w.number,
                    "units": w.dense.units,
                    "activation": w.name,
                    "grad_norm": [],
                    "update_ratio": [],
                    **({"dead": []} if w.kind == "relu" else {}),
                    **({"saturated": []} if w.kind in SATURATION else {}),
                }
                for w in watched
            ],
            "warnings": [],
        }
        for w in watched:
            w.begin()

    def on_epoch_begin(self, epoch):
        for w in self._watched:
            w.begin()

    def on_batch_end(self, batch, logs):
        for w in self._watched:
            w.batch()

    def on_epoch_end(self, epoch, logs):
        record = self.record
        record["epoch"].append(int(epoch))
        record["loss"].append(_num(float(logs.get("loss", float("nan")))))
        for w, row in zip(self._watched, record["layers"], strict=True):
            for key, value in w.end().items():
                row[key].append(value)
        record["loss_trend"].append(_num(self._trend()))
        self._check(epoch)

    def _trend(self) -> float | None:
        losses = self.record["loss"]
        if len(losses) <= self.window:
            return None
        now, then = losses[-1], losses[-1 - self.window]
        if now is None or then is None or then == 0:
            return None
        return (now - then) / abs(then)

    # ------------------------------------------------------------ warnings

    def _say(self, problem: str, layer: int, message: str) -> None:
        if (problem, layer) in self._warned:
            return
        self._warned.add((problem, layer))
        self.record["warnings"].append(message)
        if self.warn:
            warnings.warn(message, TrainingHealthWarning, stacklevel=2)

    def _check(self, epoch: int) -> None:
        layers = self.record["layers"]
        for row in layers:
            n = row["layer"]
            dead = row.get("dead", [None])[-1]
            if dead is not None and dead >= DEAD_FRACTION:
                self._say(
                    "dead",
                    n,
                    f"{dead:.0%} of layer {n}'s ReLU units output 0 for every sample "
                    f"(epoch {epoch + 1}): lower the learning rate, or use leaky_relu",
                )
            saturated = row.get("saturated", [None])[-1]
            if saturated is not None and saturated >= SATURATED_FRACTION:
                name = "sigmoid" if row["activation"] == "logistic" else row["activation"]
                limit = SATURATION[row["activation"]]
                self._say(
                    "saturated",
                    n,
                    f"{saturated:.0%} of layer {n}'s {name} units are saturated (|x| > "
                    f"{limit:g} for most samples, epoch {epoch + 1}): scale the inputs or "
                    "lower the learning rate",
                )
            norm = row["grad_norm"][-1]
            if norm is not None and norm > EXPLODING_NORM:
                self._say(
                    "exploding",
                    n,
                    f"layer {n}'s gradient norm is {norm:.3g} (epoch {epoch + 1}): the "
                    "gradient explodes; lower the learning rate, scale the inputs, or add "
                    "l2 weight decay",
                )
        # dead or saturated units stop the gradient themselves: that warning says why
        stopped = any(
            (row.get(key, [None])[-1] or 0) >= limit
            for row in layers
            for key, limit in (("dead", DEAD_FRACTION), ("saturated", SATURATED_FRACTION))
        )
        if len(layers) >= 2 and not stopped:
            first, last = layers[0]["grad_norm"][-1], layers[-1]["grad_norm"][-1]
            if first is not None and last and first < VANISHING_RATIO * last:
                self._say(
                    "vanishing",
                    1,
                    f"layer 1's gradient norm ({first:.3g}) is less than "
                    f"{VANISHING_RATIO:g} of layer {layers[-1]['layer']}'s ({last:.3g}) in "
                    f"epoch {epoch + 1}: the gradient vanishes on its way back, so the "
                    "first layers barely learn; use relu, fewer layers, or scale the inputs",
                )
        trend, losses = self.record["loss_trend"][-1], self.record["loss"]
        if trend is None:
            return
        w = self.window
        if trend > RISING:
            self._say(
                "rising",
                0,
                f"the loss rose {trend:.0%} over the last {w} epochs ({losses[-1 - w]:.4g} "
                f"-> {losses[-1]:.4g}, epoch {epoch + 1}): lower the learning rate",
            )
        elif trend > -STALLED and losses[0] is not None and losses[-1] > 0.5 * losses[0]:
            self._say(
                "stalled",
                0,
                f"the loss stopped falling: {losses[-1 - w]:.4g} -> {losses[-1]:.4g} over "
                f"the last {w} epochs (epoch {epoch + 1}), still "
                f"{losses[-1] / losses[0]:.0%} of the first epoch's loss: raise the learning "
                "rate, use adam, or check the inputs are scaled and the targets right",
            )


# ---------------------------------------------------------------- checking a saved record

_LAYER_SERIES = ("grad_norm", "update_ratio", "dead", "saturated")


def check_record(record: Any) -> dict[str, Any]:
    """A :attr:`Diagnostics.record` read from a file, checked; returns it.

    Raises
    ------
    ValueError
        Naming the first entry that is not what :class:`Diagnostics` writes.
    """

    def number_list(values: Any, what: str, n: int) -> None:
        if not isinstance(values, list) or len(values) != n:
            raise ValueError(f"diagnostics {what} must be a list of {n} values")
        for v in values:
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
            ):
                raise ValueError(f"diagnostics {what} holds {v!r}, not a finite number or null")

    if not isinstance(record, dict) or set(record) != {
        "epoch",
        "loss",
        "loss_trend",
        "layers",
        "warnings",
    }:
        raise ValueError("diagnostics must be a table of epoch, loss, loss_trend, layers, warnings")
    epochs = record["epoch"]
    if not isinstance(epochs, list) or not all(
        isinstance(e, int) and not isinstance(e, bool) and 0 <= e < 2**31 for e in epochs
    ):
        raise ValueError("diagnostics epoch must be a list of epoch numbers")
    n = len(epochs)
    number_list(record["loss"], "loss", n)
    number_list(record["loss_trend"], "loss_trend", n)
    layers = record["layers"]
    if not isinstance(layers, list) or len(layers) > 10_000:
        raise ValueError("diagnostics layers must be a list of layers")
    for i, row in enumerate(layers):
        if not isinstance(row, dict) or not {"layer", "units", "activation"} <= set(row):
            raise ValueError(f"diagnostics layer {i} is not a table with layer, units, activation")
        extra = set(row) - {"layer", "units", "activation", *_LAYER_SERIES}
        if extra:
            raise ValueError(f"diagnostics layer {i} has unknown entries {sorted(extra)}")
        for key in ("layer", "units"):
            if not isinstance(row[key], int) or isinstance(row[key], bool) or row[key] < 1:
                raise ValueError(f"diagnostics layer {i}'s {key} is not a positive integer")
        if row["activation"] is not None and not isinstance(row["activation"], str):
            raise ValueError(f"diagnostics layer {i}'s activation is not a name")
        for key in _LAYER_SERIES:
            if key in row:
                number_list(row[key], f"layer {i}'s {key}", n)
    messages = record["warnings"]
    if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
        raise ValueError("diagnostics warnings must be a list of messages")
    return record
