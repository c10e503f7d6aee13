"""From the playground to the command line and to Python: the session's data as a CSV
file, the ``chainrule train`` command and TOML config that train the same layers on it,
and the Python code that trains the same network on it (for a toy set: the same weights,
bit for bit, as the page's after as many epochs with the same settings)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.layers import ACTIVATIONS
from chainrule.playground.datasets import table_csv
from chainrule.playground.settings import l1_rate, l2_rate

if TYPE_CHECKING:
    from chainrule.playground.session import Session

__all__ = ["data_csv", "exports", "python_code", "target_name"]


def target_name(session: Session) -> str:
    """The data file's target column: the CSV file's, or ``label``."""
    return session.config["target"] or "label"


def data_csv(session: Session) -> str:
    """The session's data as a CSV file: the training rows first, then the test rows.

    A toy set: the chosen features (``x1``, ``x2``, ``x1sq`` ...) as the network takes
    them, and ``label``. A CSV file: the map's two columns and the other inputs as they
    were, the derived features (``<x>_squared`` ...) as the page computes them (from the
    standardised columns), and the target. Numbers are written in full (``repr``), so the
    file holds the network's inputs exactly.
    """
    data = session.data
    X = np.vstack([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    points = np.vstack([data.points_train, data.points_test])
    columns: dict[str, Any] = {}
    for j, (key, name) in enumerate(zip(data.names, data.column_names, strict=True)):
        raw = {"x1": points[:, 0], "x2": points[:, 1]}.get(key)
        columns[name] = X[:, j] if raw is None or session.config["dataset"] != "csv" else raw
    for j, name in enumerate(data.extra_names):
        columns[name] = data.raw_extra[:, j]
    target = target_name(session)
    if data.task == "classify":
        columns[target] = [data.classes[int(v)] for v in y]
    else:
        columns[target] = y * data.y_std + data.y_mean
    return table_csv(columns)


def _raw_columns(session: Session) -> list[int]:
    """The data file's columns the playground standardises (a CSV file's own columns)."""
    data = session.data
    if session.config["dataset"] != "csv":
        return []
    kept = [j for j, key in enumerate(data.names) if key in ("x1", "x2")]
    return kept + list(range(len(data.names), len(data.names) + len(data.extra_names)))


def python_code(session: Session, data_file: str = "playground-data.csv") -> str:
    """Python that builds and trains the session's network on :func:`data_csv`'s file,
    with the settings as they are now, for as many epochs as the page trained."""
    c, data, network = session.config, session.data, session.network
    activation = ACTIVATIONS[c["activation"]].__name__
    layers = [f"Dense({units}), {activation}()" for units in c["hidden"]]
    if data.task == "regress":
        layers.append("Dense(1)")
    elif network.n_outputs == 1:
        layers.append("Dense(1), Sigmoid()")
    else:
        layers.append(f"Dense({network.n_outputs}), Softmax()")
    optimizer = {"sgd": "SGD", "adam": "Adam"}[c["optimizer"]]
    names = sorted(
        {"Dense", "Network", optimizer, activation}
        | ({"Sigmoid"} if "Sigmoid()" in layers[-1] else set())
        | ({"Softmax"} if "Softmax()" in layers[-1] else set())
    )
    n_train = len(data.y_train)
    lines = [
        "# the playground's network, trained on its data with its settings",
        "import numpy as np",
        f"from chainrule import {', '.join(names)}",
        "",
    ]
    if data.task == "classify" and c["dataset"] == "csv":
        lines += [
            f'table = np.loadtxt("{data_file}", delimiter=",", skiprows=1, dtype=str, ndmin=2)',
            "X = table[:, :-1].astype(float)",
            f"classes = {json.dumps(data.classes)}",
            "y = np.array([classes.index(label) for label in table[:, -1]])",
        ]
    else:
        lines += [
            f'data = np.loadtxt("{data_file}", delimiter=",", skiprows=1, ndmin=2)',
            "X, y = data[:, :-1], data[:, -1]",
        ]
    raw = _raw_columns(session)
    if raw:
        lines += [
            "# the file's own columns standardised, as the playground does",
            f"raw = {raw}",
            "X[:, raw] = (X[:, raw] - X[:, raw].mean(axis=0)) / X[:, raw].std(axis=0)",
        ]
    if data.task == "regress" and c["dataset"] == "csv":
        lines.append("y = (y - y.mean()) / y.std()  # the target standardised too")
    lines += [
        f"X_train, y_train = X[:{n_train}], y[:{n_train}]  # the rows trained on",
        f"X_test, y_test = X[{n_train}:], y[{n_train}:]  # the rows tested on",
        "network = Network(",
        f"    [{', '.join(layers)}],",
        f'    loss="{network.loss.name}",',
        f"    optimizer={optimizer}(learning_rate={c['learning_rate']}),",
        f"    l2={l2_rate(c)},",
        f"    l1={l1_rate(c)},",
        f"    seed={c['seed']},",
        '    dtype="float64",',
        ")",
        "network.fit(",
        f"    X_train, y_train, epochs={max(1, network.epoch)}, batch_size={c['batch_size']},",
        "    validation_data=(X_test, y_test),",
        ")",
        'print(network.evaluate(X_test, y_test)["loss"])',
    ]
    return "\n".join(lines) + "\n"


def exports(session: Session, data_file: str = "playground-data.csv") -> dict[str, Any]:
    """The ``chainrule train`` command, its TOML config and the Python code that train
    the session's network (its settings, for the epochs trained so far) on
    :func:`data_csv`'s file, with notes on what differs."""
    c, data = session.config, session.data
    options = {
        "target": target_name(session),
        "task": c["task"],
        "hidden": ",".join(map(str, c["hidden"])) or "none",
        "activation": c["activation"],
        "optimizer": c["optimizer"],
        "learning-rate": c["learning_rate"],
        "batch-size": c["batch_size"],
        "epochs": max(1, session.network.epoch),
        "validation-fraction": round(1 - c["train_percent"] / 100, 4),
        "patience": 0,
        "l2": l2_rate(c),
        "l1": l1_rate(c),
        "seed": c["seed"],
    }
    if not options["l1"]:  # only when the page chose L1
        del options["l1"]
    words = ["chainrule", "train", data_file]
    for key, value in options.items():
        words += [f"--{key}", str(value)]
    words += ["--out", "playground-model.npz"]
    toml = ["# chainrule train DATA.csv --config playground.toml --out model.npz"]
    for key, value in options.items():
        if key == "hidden":
            toml.append(f"hidden = [{', '.join(map(str, c['hidden']))}]")
        elif isinstance(value, str):
            toml.append(f"{key} = {json.dumps(value)}")
        else:
            toml.append(f"{key} = {value}")
    notes = [
        "chainrule train standardises every input column and draws its own split of the "
        "rows, so its weights differ; the layers are the same. The Python code trains on "
        "the playground's own split and inputs."
    ]
    if data.task == "classify" and len(data.classes) == 2:
        notes.append(
            "chainrule train gives 2 classes a softmax over 2 outputs: the same model as "
            "the playground's one sigmoid output"
        )
    return {
        "command": " ".join(words),
        "toml": "\n".join(toml) + "\n",
        "python": python_code(session, data_file),
        "data_file": data_file,
        "notes": notes,
    }
