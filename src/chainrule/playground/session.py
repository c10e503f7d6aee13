"""One playground page's state: its settings, data, network and training thread.

A :class:`Session` owns one :class:`chainrule.Network` and at most one training thread,
which runs the library's one training loop, :func:`chainrule.training.train`, with two
callbacks: :class:`chainrule.diagnostics.Diagnostics` (the health panel) and
:class:`_Controller`, which publishes frames (the pictures' numbers) at most
:data:`MAX_FPS` times a second, waits while the page has paused, and stops the loop on
a reset. Frames are computed in the training thread between two optimizer steps, so
they never see half-updated weights; the page's other requests (a trace, an export)
use the weights of the last frame.

Every setting from the page is checked first
(:func:`chainrule.playground.settings.check_config`); the points a session trains on
are a :class:`chainrule.playground.datasets.Data`.
"""

from __future__ import annotations

import base64
import functools
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.diagnostics import Diagnostics
from chainrule.errors import TrainingDivergedError
from chainrule.explain import explain
from chainrule.layers import ACTIVATIONS, Activation, Dense, Sigmoid, Softmax
from chainrule.network import Network
from chainrule.optimizers import OPTIMIZERS
from chainrule.playground import export
from chainrule.playground.datasets import Data, Table
from chainrule.playground.settings import (
    LIVE,
    MAX_FPS,
    ConfigError,
    check_config,
    l1_rate,
    l2_rate,
)
from chainrule.training import ArrayBatches, Callback, train

__all__ = ["MAX_HISTORY", "Session", "build_network"]

#: Loss-chart points kept; beyond, every other one is dropped.
MAX_HISTORY = 2000


class _Stopped(Exception):
    """Raised by the controller to leave the training loop (reset, new settings, close)."""


# ---------------------------------------------------------------- the network


def build_network(config: dict[str, Any], data: Data) -> Network:
    """The session's network: Dense layers of ``config["hidden"]`` units with the chosen
    activation; a sigmoid output with binary cross-entropy (2 classes), a softmax with
    categorical cross-entropy (more), or a linear output with the squared error."""
    layers: list[Any] = []
    for units in config["hidden"]:
        layers += [Dense(units), ACTIVATIONS[config["activation"]]()]
    if data.task == "regress":
        layers.append(Dense(1))
        loss = "mse"
    elif data.n_outputs == 1:
        layers += [Dense(1), Sigmoid()]
        loss = "binary_crossentropy"
    else:
        layers += [Dense(data.n_outputs), Softmax()]
        loss = "categorical_crossentropy"
    optimizer = OPTIMIZERS[config["optimizer"]](learning_rate=config["learning_rate"])
    network = Network(
        layers,
        loss=loss,
        optimizer=optimizer,
        l2=l2_rate(config),
        l1=l1_rate(config),
        seed=config["seed"],
        dtype="float64",
    )
    return network.build(data.n_features)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _bytes(values: np.ndarray) -> str:
    """Values in [-1, 1] as base64 bytes 0..255 (the page's colour scale)."""
    clipped = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    return base64.b64encode(np.round((clipped + 1.0) * 127.5).astype(np.uint8).tobytes()).decode()


# ---------------------------------------------------------------- training's controller


class _Controller(Callback):
    """The training loop's link to the page: frames, pause and step, stop."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.last = 0.0
        self.started = 0.0

    def on_epoch_begin(self, epoch):
        self.started = time.perf_counter()

    def on_batch_end(self, batch, logs):
        session = self.session
        if session._stop:
            raise _Stopped
        # an epoch longer than a frame: show its progress (a short one shows at its end)
        if time.perf_counter() - max(self.last, self.started) >= 1.0 / MAX_FPS:
            self.last = time.perf_counter()
            session._publish()

    def on_epoch_end(self, epoch, logs):
        session = self.session
        session._trim_health()
        with session._cond:
            if session._steps > 0:
                session._steps -= 1
            waiting = not session._playing and session._steps == 0
        # (a little early is fine: at 30 epochs a second every epoch gets its frame; the
        # streams themselves send at most MAX_FPS a second)
        if waiting or time.perf_counter() - self.last >= 0.8 / MAX_FPS:
            self.last = time.perf_counter()
            session._publish()
        with session._cond:
            # the page's speed: at most `speed` epochs a second while playing
            speed = session.config["speed"]
            end = self.started + (1.0 / speed if speed else 0.0)
            while session._playing and not session._stop and time.perf_counter() < end:
                session._cond.wait(end - time.perf_counter())
            waiting = not session._playing and session._steps == 0 and not session._stop
        if waiting and session.frame.get("playing"):  # paused during the wait: say so
            self.last = time.perf_counter()
            session._publish()
        with session._cond:
            while not session._playing and session._steps == 0 and not session._stop:
                session._cond.wait()
            if session._stop:
                raise _Stopped


# ---------------------------------------------------------------- the session


def _locked(method: Callable) -> Callable:
    """Run a Session method under its control lock: it sees one network and its data,
    not a reset's half-made new ones."""

    @functools.wraps(method)
    def locked(self: Session, *args: Any, **kwargs: Any) -> Any:
        with self._control_lock:
            return method(self, *args, **kwargs)

    return locked


class Session:
    """One page's playground: settings, data, network, one training thread, frames.

    Parameters
    ----------
    config : dict
        Checked settings (:func:`check_config`).
    table : Table, optional
        The session's CSV file.

    Notes
    -----
    Thread safety: control calls (:meth:`configure`, :meth:`control`, :meth:`close`) are
    serialised by one lock, so a session never has two training threads; the readers
    (:meth:`describe`, :meth:`trace`, the exports) take it too. Frames are
    published under the session's condition; stream readers wait on it.
    """

    def __init__(self, config: dict[str, Any], table: Table | None = None) -> None:
        self.table = table
        self._control_lock = threading.RLock()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._playing = False
        self._steps = 0
        self._stop = False
        self.generation = 0
        self.version = 0
        self.frame: dict[str, Any] = {}
        self.history: list[list[float]] = []
        self.error: str | None = None
        self.last_seen = time.monotonic()
        self.streams = 0
        self._setup(config)

    # ------------------------------------------------------------ settings

    def _setup(self, config: dict[str, Any]) -> None:
        """A new network (and data) for ``config``; no thread runs."""
        self.config = config
        self.data = Data(config, self.table)
        self.network = build_network(config, self.data)
        self.diagnostics = Diagnostics(warn=False)
        self.batches = ArrayBatches(
            self.data.X_train,
            self.network.loss.prepare_target(
                self.data.y_train, self.network.n_outputs, self.network.dtype
            ),
            batch_size=config["batch_size"],
            rng=self.network.rng,
        )
        self._y_train = self.batches.y
        self._y_test = self.network.loss.prepare_target(
            self.data.y_test, self.network.n_outputs, self.network.dtype
        )
        self.generation += 1
        self.history = []
        self.error = None
        self._snapshot = self.network.params.copy()
        self._publish()

    def configure(self, raw: Any) -> dict[str, Any]:
        """Apply new settings: live ones (learning rate, batch size, regularisation)
        between two steps; the others make a new network. Returns :meth:`describe`."""
        config = check_config(raw, self.table)
        with self._control_lock:
            changed = {k for k in config if config[k] != self.config[k]}
            if changed and changed <= set(LIVE):
                self.config = config
                self.network.optimizer.learning_rate = config["learning_rate"]
                self.batches.batch_size = config["batch_size"]
                self.network.l2 = l2_rate(config)
                self.network.l1 = l1_rate(config)
            elif changed:
                playing = self._playing
                self._join()
                self._setup(config)
                if playing:
                    self._start(playing=True)
            return self.describe()

    def set_table(self, table: Table) -> None:
        """Keep a new CSV file for the next ``dataset="csv"`` settings."""
        with self._control_lock:
            self.table = table

    @_locked
    def describe(self) -> dict[str, Any]:
        """The settings, the data's points and names, the network's shape."""
        return {
            "config": self.config,
            "generation": self.generation,
            "data": self.data.describe(),
            "layers": [self.data.n_features, *self.config["hidden"], self.network.n_outputs],
            "table": None if self.table is None else self.table.describe(),
        }

    # ------------------------------------------------------------ play, pause, step, reset

    def control(self, action: str) -> None:
        """``play``, ``pause``, ``step`` (one epoch) or ``reset`` (new weights)."""
        if action not in ("play", "pause", "step", "reset"):
            raise ConfigError(f"action must be play, pause, step or reset; received {action!r}")
        with self._control_lock:
            if action == "reset":
                self._join()
                self._setup(self.config)
                return
            with self._cond:
                if action == "play":
                    self._playing = True
                elif action == "pause":
                    self._playing = False
                else:
                    self._playing = False
                    self._steps += 1
                self._cond.notify_all()
            if action != "pause" and (self._thread is None or not self._thread.is_alive()):
                self._start(playing=self._playing)

    @property
    def playing(self) -> bool:
        return self._playing

    def _start(self, playing: bool) -> None:
        self._stop = False
        self._playing = playing
        self.error = None
        self._thread = threading.Thread(
            target=self._run, name=f"chainrule-playground-{id(self):x}", daemon=True
        )
        self._thread.start()

    def _join(self) -> None:
        """Stop the training thread and wait for it."""
        thread = self._thread
        with self._cond:
            self._stop = True
            self._playing = False
            self._steps = 0
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=30)
        self._thread = None
        self._stop = False

    def close(self) -> None:
        """Stop training for good (the session is dropped)."""
        with self._control_lock:
            self._join()
        with self._cond:
            self._cond.notify_all()

    def _run(self) -> None:
        network = self.network
        try:
            train(
                network,
                self.batches,
                epochs=network.epoch + 10**9,
                initial_epoch=network.epoch,
                callbacks=[self.diagnostics, _Controller(self)],
            )
        except _Stopped:
            return
        except TrainingDivergedError as exc:
            self.error = f"training diverged: {exc}"
        except Exception as exc:  # a bug: keep the server up and say so in the page
            self.error = f"internal error in training ({type(exc).__name__}: {exc})"
        with self._cond:
            self._playing = False
        self._publish()

    # ------------------------------------------------------------ frames

    def _trim_health(self) -> None:
        """Keep the diagnostics' record short: the last 50 epochs."""
        record = self.diagnostics.record
        keep = max(50, self.diagnostics.window + 1)
        if len(record.get("epoch", ())) > 2 * keep:
            for key in ("epoch", "loss", "loss_trend"):
                record[key] = record[key][-keep:]
            for row in record["layers"]:
                for key, values in row.items():
                    if isinstance(values, list):
                        row[key] = values[-keep:]

    def health(self) -> dict[str, Any]:
        """The latest health per Dense layer and the warnings so far."""
        record = self.diagnostics.record
        layers = []
        for row in record.get("layers", []):
            layers.append(
                {
                    "layer": row["layer"],
                    "units": row["units"],
                    "activation": row["activation"],
                    **{
                        key: (row[key][-1] if row.get(key) else None)
                        for key in ("grad_norm", "update_ratio", "dead", "saturated")
                        if key in row
                    },
                }
            )
        return {"layers": layers, "warnings": list(record.get("warnings", []))}

    def _losses(self, params_layers: list) -> tuple[float, float]:
        network = self.network
        values = []
        for X, y in ((self.data.X_train, self._y_train), (self.data.X_test, self._y_test)):
            output = X
            for layer in params_layers[: network._n_to_loss]:
                output = layer(output)
            values.append(float(network.loss.value(output, y)) if len(X) else math.nan)
        return values[0], values[1]

    def _publish(self) -> None:
        """Compute a frame from the network's current weights and hand it to the streams.

        Called where the weights are not changing: in the training thread between two
        steps, or in a request thread when no training thread runs."""
        # a diverging run has infinite values: they are drawn as the ends of the scale
        with np.errstate(all="ignore"):
            frame = self._frame()
        snapshot = self.network.params.copy()
        with self._cond:
            point = [frame["epoch"], frame["train_loss"], frame["test_loss"]]
            if not self.history or self.history[-1][0] != point[0]:
                self.history.append(point)
                if len(self.history) > MAX_HISTORY:
                    self.history = self.history[::2]
            self.frame = frame
            self._snapshot = snapshot
            self.version += 1
            self._cond.notify_all()

    def _frame(self) -> dict[str, Any]:
        """The pictures' numbers for the network's current weights (JSON-safe: a
        non-finite loss is None, non-finite weights are clipped)."""
        network, data = self.network, self.data
        layers = network.layers
        train_loss, test_loss = (_finite(v) for v in self._losses(layers))
        x = data.grid_X
        neurons: list[list[str]] = []
        scale = np.max(np.abs(x), axis=0)
        neurons.append([_bytes(x[:, j] / (scale[j] or 1.0)) for j in range(x.shape[1])])
        for i, layer in enumerate(layers):
            x = layer(x)
            hidden_end = (
                isinstance(layer, Activation)
                and i + 1 < len(layers)
                and isinstance(layers[i - 1], Dense)
            )
            if hidden_end:
                neurons.append([_bytes(x[:, j]) for j in range(x.shape[1])])
        output = x
        if data.task == "regress":
            values = output[:, 0] * data.y_std + data.y_mean
            low, high = data.y_range
            middle, half = (low + high) / 2, (high - low) / 2 or 1.0
            out = {"kind": "regress", "values": _bytes((values - middle) / half)}
        elif output.shape[1] == 1:
            out = {"kind": "binary", "values": _bytes(2 * output[:, 0] - 1)}
        else:
            cls = np.argmax(output, axis=1).astype(np.uint8)
            confidence = np.max(output, axis=1) * 2 - 1
            out = {
                "kind": "multiclass",
                "classes": base64.b64encode(cls.tobytes()).decode(),
                "values": _bytes(confidence),
                # each class's probability, the output neurons' heatmaps
                "units": [_bytes(2 * output[:, k] - 1) for k in range(output.shape[1])],
            }
        weights = [
            np.nan_to_num(w, nan=0.0, posinf=1e6, neginf=-1e6) for w in network.get_weights()
        ]
        return {
            "generation": self.generation,
            "epoch": network.epoch,
            "steps": network.optimizer.iterations,
            "train_loss": train_loss,
            "test_loss": test_loss,
            "output": out,
            "neurons": neurons,
            "weights": [np.round(w, 4).tolist() for w in weights[0::2]],
            "biases": [np.round(b, 4).tolist() for b in weights[1::2]],
            "health": self.health(),
            "playing": self._playing,
            "error": self.error,
        }

    def wait_frame(self, seen: int, timeout: float) -> tuple[int, dict[str, Any] | None]:
        """Wait up to ``timeout`` seconds for a frame newer than version ``seen``;
        ``(version, frame)``, the frame None on a timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen, timeout=timeout)
            if self.version == seen:
                return seen, None
            return self.version, self.frame

    # ------------------------------------------------------------ the last frame's model

    @_locked
    def snapshot(self) -> Network:
        """A copy of the network with the weights of the last frame (the training thread
        may be changing the live ones)."""
        with self._cond:
            params = self._snapshot.copy()
            config = self.network.get_config()
            epoch = self.network.epoch
        network = Network.from_config(config).build(self.data.n_features)
        network.params[...] = params
        network.epoch = epoch
        return network

    @_locked
    def trace(self, raw: Any) -> dict[str, Any]:
        """The chain-rule trace (:func:`chainrule.explain`) of one point.

        ``raw``: ``{"point": [a, b]}`` (map units) or ``{"index": i, "split": "train" |
        "test"}`` (a data point, whose target is then used), and optionally
        ``"weight": [k, i, j]`` (Dense layer k, from unit i to unit j, counted from 1).
        """
        if not isinstance(raw, dict):
            raise ConfigError("the trace request must be a JSON object")
        data = self.data
        target = None
        if "index" in raw:
            split = raw.get("split", "train")
            if split not in ("train", "test"):
                raise ConfigError(f"split must be train or test; received {split!r}")
            points = data.points_train if split == "train" else data.points_test
            targets = data.y_train if split == "train" else data.y_test
            index = raw["index"]
            if (
                isinstance(index, bool)
                or not isinstance(index, int)
                or not 0 <= index < len(points)
            ):
                raise ConfigError(
                    f"index must be a whole number from 0 to {len(points) - 1}; received {index!r}"
                )
            point = points[index]
            target = targets[index]
            if data.task == "classify":
                target = int(target)
        else:
            point = raw.get("point")
            if (
                not isinstance(point, list)
                or len(point) != 2
                or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in point
                )
            ):
                raise ConfigError(f"point must be two numbers [x, y]; received {point!r}")
        network = self.snapshot()
        weight = raw.get("weight")
        if weight is not None:
            sizes = [data.n_features, *self.config["hidden"], network.n_outputs]
            if (
                not isinstance(weight, list)
                or len(weight) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in weight)
                or not 1 <= weight[0] < len(sizes)
                or not 1 <= weight[1] <= sizes[weight[0] - 1]
                or not 1 <= weight[2] <= sizes[weight[0]]
            ):
                raise ConfigError(
                    f"weight must be [layer, from, to] counted from 1 within the network "
                    f"{'-'.join(map(str, sizes))}; received {weight!r}"
                )
        x = data.point_inputs(np.asarray(point, dtype=np.float64))
        trace = explain(network, x, target, weight=weight)
        result = trace.to_dict()
        result["point"] = [float(point[0]), float(point[1])]
        result["input_names"] = data.input_names
        result["text"] = str(trace)
        return result

    # ------------------------------------------------------------ export

    @_locked
    def data_csv(self) -> str:
        """The data file the exported command and code train on
        (:func:`chainrule.playground.export.data_csv`)."""
        return export.data_csv(self)

    @_locked
    def command(self, data_file: str = "playground-data.csv") -> dict[str, Any]:
        """The ``chainrule train`` command, its TOML config and the Python code that train
        this network (:func:`chainrule.playground.export.exports`)."""
        return export.exports(self, data_file)
