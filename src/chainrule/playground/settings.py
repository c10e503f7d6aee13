"""The playground's settings: their defaults, their caps, and :func:`check_config`,
which checks every setting the page sends and refuses a bad one with a
:class:`ConfigError` naming the setting, what it takes and what it received."""

from __future__ import annotations

import math
from typing import Any

from chainrule.playground.datasets import CLASSIFY, DATASETS, FEATURES, MAX_CLASSES, Table

__all__ = [
    "ACTIVATION_CHOICES",
    "DEFAULTS",
    "LEARNING_RATES",
    "LIVE",
    "MAX_CLASSES",
    "MAX_FPS",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "REGULARIZATION_RATES",
    "SPEEDS",
    "ConfigError",
    "check_config",
    "l1_rate",
    "l2_rate",
]

#: Caps on the network the page may ask for (TensorFlow Playground's).
MAX_LAYERS = 6
MAX_NEURONS = 8
#: Most frames per second a session publishes.
MAX_FPS = 30
#: Hidden activations offered (TensorFlow Playground's four, and the engine's others).
ACTIVATION_CHOICES = ("tanh", "relu", "sigmoid", "linear", "leaky_relu", "gelu")
#: The learning rates and regularisation rates of TensorFlow Playground's menus.
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
REGULARIZATION_RATES = (0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)

#: A new page's settings: TensorFlow Playground's first screen.
DEFAULTS: dict[str, Any] = {
    "dataset": "circle",
    "noise": 0,
    "train_percent": 50,
    "batch_size": 10,
    "features": ["x1", "x2"],
    "hidden": [4, 2],
    "activation": "tanh",
    "learning_rate": 0.03,
    "regularization": "none",
    "reg_rate": 0.0,
    "optimizer": "sgd",
    "speed": 30,
    "seed": 0,
    "x_column": None,
    "y_column": None,
    "target": None,
    "inputs": [],
    "task": "classify",
}

#: Settings that change training without a new network (applied between two steps).
LIVE = ("learning_rate", "batch_size", "regularization", "reg_rate", "speed")
#: Epochs a second the page may ask for (0: as fast as the machine goes). At 30 a frame
#: shows each epoch, as TensorFlow Playground draws one epoch per animation frame.
SPEEDS = (1, 3, 10, 30, 100, 0)


class ConfigError(ValueError):
    """A setting from the page that cannot be used; the message is shown in the page."""


# ---------------------------------------------------------------- checking the settings


def _int(raw: dict, key: str, low: int, high: int) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{key} must be a whole number from {low} to {high}; received {value!r}")
    return value


def _number(raw: dict, key: str, low: float, high: float, low_open: bool = False) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a number; received {value!r}")
    if value > high or value < low or (low_open and value == low):
        side = ">" if low_open else ">="
        raise ConfigError(f"{key} must be {side} {low:g} and <= {high:g}; received {value!r}")
    return float(value)


def _choice(raw: dict, key: str, choices) -> Any:
    value = raw[key]
    if value not in choices:
        raise ConfigError(
            f"{key} must be one of {', '.join(map(str, choices))}; received {value!r}"
        )
    return value


def _column(raw: dict, key: str, table: Table, numeric: bool) -> str:
    value = raw[key]
    pool = table.numeric if numeric else table.columns
    if value not in pool:
        kind = "numeric columns" if numeric else "columns"
        raise ConfigError(
            f"{key} must be one of the {kind} of {table.name}: {', '.join(pool)}; "
            f"received {value!r}"
        )
    return value


def check_config(raw: Any, table: Table | None = None) -> dict[str, Any]:
    """The page's settings checked and completed with :data:`DEFAULTS`.

    Parameters
    ----------
    raw : dict
        Settings from the page (JSON); missing ones take their default.
    table : Table, optional
        The session's CSV file, needed for ``dataset="csv"``.

    Returns
    -------
    dict
        Every key of :data:`DEFAULTS`, checked.

    Raises
    ------
    ConfigError
        Naming the setting, what it takes, and what it received.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"the settings must be a JSON object; received {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; the settings are {', '.join(DEFAULTS)}"
        )
    raw = {**DEFAULTS, **raw}
    config: dict[str, Any] = {}
    config["dataset"] = _choice(raw, "dataset", (*DATASETS, "csv"))
    config["noise"] = _int(raw, "noise", 0, 50)
    config["train_percent"] = _int(raw, "train_percent", 10, 90)
    config["batch_size"] = _int(raw, "batch_size", 1, 100)
    names = raw["features"]
    if (
        not isinstance(names, list)
        or not names
        or any(n not in FEATURES for n in names)
        or len(set(names)) != len(names)
    ):
        raise ConfigError(
            f"features must be a non-empty list of distinct names from {', '.join(FEATURES)}; "
            f"received {names!r}"
        )
    config["features"] = [n for n in FEATURES if n in names]  # one order
    hidden = raw["hidden"]
    if (
        not isinstance(hidden, list)
        or len(hidden) > MAX_LAYERS
        or any(isinstance(h, bool) or not isinstance(h, int) for h in hidden)
        or any(not 1 <= h <= MAX_NEURONS for h in hidden)
    ):
        raise ConfigError(
            f"hidden must be a list of at most {MAX_LAYERS} layer sizes, each from 1 to "
            f"{MAX_NEURONS}; received {hidden!r}"
        )
    config["hidden"] = list(hidden)
    config["activation"] = _choice(raw, "activation", ACTIVATION_CHOICES)
    config["learning_rate"] = _number(raw, "learning_rate", 0.0, 10.0, low_open=True)
    config["regularization"] = _choice(raw, "regularization", ("none", "l1", "l2"))
    config["reg_rate"] = _number(raw, "reg_rate", 0.0, 10.0)
    config["optimizer"] = _choice(raw, "optimizer", ("sgd", "adam"))
    config["speed"] = _choice(raw, "speed", SPEEDS)
    seed = raw["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be a whole number from 0 to 2**32 - 1; received {seed!r}")
    config["seed"] = seed
    config["task"] = _choice(raw, "task", ("classify", "regress"))
    config.update(x_column=None, y_column=None, target=None, inputs=[])
    if config["dataset"] != "csv":
        config["task"] = "classify" if config["dataset"] in CLASSIFY else "regress"
        return config
    if table is None:
        raise ConfigError("dataset 'csv' needs a CSV file: upload one first")
    config["x_column"] = _column(raw, "x_column", table, numeric=True)
    config["y_column"] = _column(raw, "y_column", table, numeric=True)
    config["target"] = _column(raw, "target", table, numeric=config["task"] == "regress")
    used = {config["x_column"], config["y_column"], config["target"]}
    if len(used) < 3:
        raise ConfigError(
            "x_column, y_column and target must be three different columns; received "
            f"{raw['x_column']!r}, {raw['y_column']!r}, {raw['target']!r}"
        )
    inputs = raw["inputs"]
    if not isinstance(inputs, list) or any(c not in table.numeric or c in used for c in inputs):
        others = [c for c in table.numeric if c not in used]
        raise ConfigError(
            f"inputs must be a list of other numeric columns ({', '.join(others) or 'none'}); "
            f"received {inputs!r}"
        )
    config["inputs"] = [c for c in table.numeric if c in inputs]
    if config["task"] == "classify":
        n_classes = table.distinct[config["target"]]
        if not 2 <= n_classes <= MAX_CLASSES:
            raise ConfigError(
                f"target {config['target']!r} has {n_classes} distinct values; classification "
                f"takes 2 to {MAX_CLASSES} classes: pick another column, or task 'regress'"
            )
    return config


def l2_rate(config: dict[str, Any]) -> float:
    """The network's ``l2`` for checked settings."""
    return config["reg_rate"] if config["regularization"] == "l2" else 0.0


def l1_rate(config: dict[str, Any]) -> float:
    """The network's ``l1`` for checked settings."""
    return config["reg_rate"] if config["regularization"] == "l1" else 0.0
