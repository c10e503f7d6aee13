"""The playground's data: TensorFlow Playground's six toy sets, its input features, and
the user's own CSV file.

The toy sets follow TensorFlow Playground's ``dataset.ts`` (Apache-2.0, formulas only):
points in the square ``[-6, 6]^2``, classification labels 0/1 (the Playground's -1/1),
regression targets in ``[-1, 1]``; ``noise`` is the Playground's slider over 100 (0 to
0.5). Every random choice comes from the one ``numpy.random.Generator`` passed in.

A CSV file is read with the standard library's :mod:`csv` (the core stays NumPy-only):
:func:`read_table` keeps the numeric columns as floats and any column as text (a
target may be a class name), refusing files over the caps with a message that says so.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "CLASSIFY",
    "DATASETS",
    "GRID",
    "Data",
    "FEATURES",
    "MAX_CLASSES",
    "MAX_CSV_BYTES",
    "MAX_CSV_COLUMNS",
    "MAX_CSV_ROWS",
    "REGRESS",
    "Table",
    "TableError",
    "features",
    "make_dataset",
    "read_table",
]

#: Half the side of the square the toy sets live in (the Playground's domain).
RADIUS = 6.0
#: Points of a toy set (train and test together), as in TensorFlow Playground.
N_POINTS = 500
#: Heatmap resolution: GRID x GRID points of the map, for the output and every neuron.
GRID = 50

#: How a missing value may be written in a CSV file (any case).
MISSING = frozenset({"", "na", "nan", "n/a", "null", "none", "?"})
#: Most classes a classification target may have.
MAX_CLASSES = 10
#: The largest CSV upload, in bytes, rows and columns.
MAX_CSV_BYTES = 5_000_000
MAX_CSV_ROWS = 20_000
MAX_CSV_COLUMNS = 50


class TableError(ValueError):
    """A CSV file the playground cannot use; the message says why and what to do."""


# ---------------------------------------------------------------- the toy sets


def _circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    inner, outer = n // 2, n - n // 2
    r = np.concatenate(
        [rng.uniform(0, radius * 0.5, inner), rng.uniform(radius * 0.7, radius, outer)]
    )
    angle = rng.uniform(0, 2 * math.pi, n)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    noisy = X + rng.uniform(-radius, radius, (n, 2)) * noise
    y = (np.hypot(noisy[:, 0], noisy[:, 1]) < radius * 0.5).astype(np.float64)
    return X, y


def _xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    padding = 0.3
    X = rng.uniform(-5, 5, (n, 2))
    X += np.where(X > 0, padding, -padding)
    noisy = X + rng.uniform(-5, 5, (n, 2)) * noise
    y = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.float64)
    return X, y


def _gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # the Playground's variance scale: noise 0 -> 0.5, noise 0.5 -> 4
    variance = 0.5 + noise / 0.5 * 3.5
    half = n // 2
    positive = rng.normal([2.0, 2.0], math.sqrt(variance), (half, 2))
    negative = rng.normal([-2.0, -2.0], math.sqrt(variance), (n - half, 2))
    X = np.vstack([positive, negative])
    y = np.concatenate([np.ones(half), np.zeros(n - half)])
    return X, y


def _spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    parts, labels = [], []
    for delta, label, count in ((0.0, 1.0, half), (math.pi, 0.0, n - half)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * math.pi + delta
        x = r * np.sin(t) + rng.uniform(-1, 1, count) * noise
        y = r * np.cos(t) + rng.uniform(-1, 1, count) * noise
        parts.append(np.column_stack([x, y]))
        labels.append(np.full(count, label))
    return np.vstack(parts), np.concatenate(labels)


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-RADIUS, RADIUS, (n, 2))
    noisy = X + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    y = np.clip((noisy[:, 0] + noisy[:, 1]) / 10, -1, 1)
    return X, y


_GAUSSIANS = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]


def _multigauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-RADIUS, RADIUS, (n, 2))
    noisy = X + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    y = np.zeros(n)
    for cx, cy, sign in _GAUSSIANS:
        # the Playground's label scale: distance 0 -> 1, distance 2 or more -> 0
        value = sign * np.clip(1 - np.hypot(noisy[:, 0] - cx, noisy[:, 1] - cy) / 2, 0, 1)
        y = np.where(np.abs(value) > np.abs(y), value, y)
    return X, y


#: The classification sets (labels 0 and 1).
CLASSIFY: dict[str, Callable] = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
}
#: The regression sets (targets in [-1, 1]).
REGRESS: dict[str, Callable] = {"plane": _plane, "multigauss": _multigauss}
#: Every toy set by name.
DATASETS: dict[str, Callable] = {**CLASSIFY, **REGRESS}


def make_dataset(
    name: str, n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: ``n`` points ``(x1, x2)`` of the toy set ``name`` and their targets.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    n : int
        Number of points.
    noise : float
        From 0 to 0.5, as the Playground's slider over 100.
    rng : numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,)
        0/1 for the classification sets, in [-1, 1] for the regression sets.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; received {name!r}")
    X, y = DATASETS[name](n, noise, rng)
    order = rng.permutation(n)  # train and test are taken from a shuffled set
    return X[order], y[order]


# ---------------------------------------------------------------- input features

#: The Playground's input features of a point ``(x1, x2)``: name -> (label, formula).
FEATURES: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "x1": ("X\u2081", lambda a, b: a),
    "x2": ("X\u2082", lambda a, b: b),
    "x1sq": ("X\u2081\u00b2", lambda a, b: a * a),
    "x2sq": ("X\u2082\u00b2", lambda a, b: b * b),
    "x1x2": ("X\u2081X\u2082", lambda a, b: a * b),
    "sinx1": ("sin(X\u2081)", lambda a, b: np.sin(a)),
    "sinx2": ("sin(X\u2082)", lambda a, b: np.sin(b)),
}


def features(points: np.ndarray, names: list[str]) -> np.ndarray:
    """The chosen features of points ``(n, 2)``, as columns ``(n, len(names))``."""
    a, b = points[:, 0], points[:, 1]
    return np.column_stack([FEATURES[name][1](a, b) for name in names])


# ---------------------------------------------------------------- the user's CSV


class Table:
    """A CSV file's columns: the numeric ones as float arrays, every one as text.

    Attributes
    ----------
    name : str
        The file's name, as uploaded.
    columns : list of str
        The header, in order.
    numeric : dict of str to ndarray
        The columns whose every value is a finite number or missing (:data:`MISSING`,
        NaN here); rows missing a value the page uses are left out of training.
    text : dict of str to list of str
        The values as written of the columns that may be a classification target: the
        text columns, and the numeric ones with at most :data:`MAX_CLASSES` values (the
        others are kept as numbers only, to keep a session small).
    distinct : dict of str to int
        How many distinct values each column has, missing ones not counted.
    n_rows : int
    """

    def __init__(self, name: str, columns: list[str], rows: list[list[str]]) -> None:
        self.name = name
        self.columns = columns
        self.n_rows = len(rows)
        self.numeric: dict[str, np.ndarray] = {}
        self.text: dict[str, list[str]] = {}
        self.distinct: dict[str, int] = {}
        for i, column in enumerate(columns):
            values = [row[i] for row in rows]
            self.distinct[column] = len({v for v in values if not is_missing(v)})
            try:
                array = np.array([math.nan if is_missing(v) else float(v) for v in values])
            except ValueError:
                array = None
            finite = None if array is None else np.isfinite(array)
            if finite is not None and finite.sum() >= 2 and (finite | np.isnan(array)).all():
                self.numeric[column] = array
            if column not in self.numeric or self.distinct[column] <= MAX_CLASSES:
                self.text[column] = values

    def describe(self) -> dict[str, Any]:
        """JSON-safe summary for the page: columns, which are numeric, distinct counts."""
        return {
            "name": self.name,
            "rows": self.n_rows,
            "columns": [
                {
                    "name": c,
                    "numeric": c in self.numeric,
                    "distinct": self.distinct[c],
                }
                for c in self.columns
            ],
        }


def is_missing(value: str) -> bool:
    """Whether a CSV cell stands for a missing value (:data:`MISSING`)."""
    return value.strip().lower() in MISSING


def read_table(data: bytes, name: str = "data.csv") -> Table:
    """Read an uploaded CSV file (UTF-8, header row, delimiter sniffed).

    Raises
    ------
    TableError
        Not UTF-8 text, over :data:`MAX_CSV_BYTES`, :data:`MAX_CSV_ROWS` or
        :data:`MAX_CSV_COLUMNS`, no header, fewer than 2 numeric columns, ragged rows.
    """
    if len(data) > MAX_CSV_BYTES:
        raise TableError(
            f"{name} is {len(data):,} bytes; the playground takes CSV files up to "
            f"{MAX_CSV_BYTES:,} bytes: use a sample of the rows, or chainrule train for the "
            "whole file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError(f"{name} is not UTF-8 text; save it as a UTF-8 CSV file") from None
    if "\x00" in text:
        raise TableError(f"{name} holds NUL bytes: it is not a CSV text file")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        raise TableError(f"{name} needs a header row and at least 2 rows of data")
    if len(lines) - 1 > MAX_CSV_ROWS:
        raise TableError(
            f"{name} has {len(lines) - 1:,} rows; the playground takes up to "
            f"{MAX_CSV_ROWS:,}: use a sample, or chainrule train for the whole file"
        )
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    if len(header) > MAX_CSV_COLUMNS:
        raise TableError(
            f"{name} has {len(header)} columns; the playground takes up to {MAX_CSV_COLUMNS}"
        )
    if len(header) < 2 or any(not h for h in header) or len(set(header)) != len(header):
        raise TableError(
            f"{name}: the first row must name at least 2 columns, each once and none empty; "
            f"received {header[:10]!r}"
        )
    body = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise TableError(
                f"{name}: line {number} has {len(row)} values, the header {len(header)}"
            )
        body.append([value.strip() for value in row])
    table = Table(name, header, body)
    if len(table.numeric) < 2:
        raise TableError(
            f"{name} has {len(table.numeric)} numeric column(s); the map needs 2 columns "
            "whose every value is a number"
        )
    return table


def table_from_text(text: str, name: str = "data.csv") -> Table:
    """:func:`read_table` of a string (the page sends the file's text)."""
    return read_table(text.encode("utf-8"), name)


def table_csv(columns: dict[str, Any]) -> str:
    """A CSV text of equal-length columns, numbers in full (``repr``: read back exactly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names), strict=True):
        writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
    return out.getvalue()


# ---------------------------------------------------------------- the data


class Data:
    """The session's points: the network's inputs, the targets, and the map's grid.

    Attributes
    ----------
    X_train, X_test : ndarray
        The network's inputs (the chosen features; for a CSV file, standardised).
    y_train, y_test : ndarray
        Targets as the loss takes them (0/1, class indices, or numbers).
    points_train, points_test : ndarray of shape (n, 2)
        The points on the map, in the map's units.
    domain : list of float
        ``[x_min, x_max, y_min, y_max]`` of the map.
    grid_X : ndarray of shape (GRID * GRID, n_features)
        The network's inputs at the map's grid points (row by row from the top).
    classes : list of str
        Class names (classification), else empty.
    """

    def __init__(self, config: dict[str, Any], table: Table | None) -> None:
        rng = np.random.default_rng(config["seed"])
        names = config["features"]
        self.task = config["task"]
        self.dropped = 0  # rows left out for a missing value
        self.feature_names = [FEATURES[n][0] for n in names]
        # the exported data file's column names
        self.column_names = list(names)
        if config["dataset"] != "csv":
            points, y = make_dataset(config["dataset"], N_POINTS, config["noise"] / 100, rng)
            self.domain = [-6.0, 6.0, -6.0, 6.0]
            self.classes = ["0", "1"] if self.task == "classify" else []
            self.center, self.scale = np.zeros(2), np.ones(2)
            extra = np.zeros((len(y), 0))
            self.raw_extra = extra
            self.extra_names: list[str] = []
            self.y_mean, self.y_std = 0.0, 1.0
            self.y_range = (-1.0, 1.0)
        else:
            assert table is not None  # check_config refused csv without a table
            keep = self._complete_rows(config, table)
            points = np.column_stack(
                [table.numeric[config["x_column"]][keep], table.numeric[config["y_column"]][keep]]
            )
            self.center, self.scale = points.mean(axis=0), points.std(axis=0)
            self.scale[self.scale == 0] = 1.0
            low, high = points.min(axis=0), points.max(axis=0)
            margin = np.maximum((high - low) * 0.05, 1e-9)
            self.domain = [
                float(low[0] - margin[0]),
                float(high[0] + margin[0]),
                float(low[1] - margin[1]),
                float(high[1] + margin[1]),
            ]
            self.extra_names = list(config["inputs"])
            extra = np.column_stack(
                [table.numeric[c][keep] for c in self.extra_names] or [np.zeros((len(points), 0))]
            )
            self.raw_extra = extra.copy()
            if extra.shape[1]:
                std = extra.std(axis=0)
                extra = (extra - extra.mean(axis=0)) / np.where(std == 0, 1.0, std)
            if self.task == "classify":
                # at most MAX_CLASSES values
                target = [v for v, k in zip(table.text[config["target"]], keep, strict=True) if k]
                self.classes = sorted(set(target), key=_class_key)
                index = {c: i for i, c in enumerate(self.classes)}
                y = np.array([index[v] for v in target], dtype=np.float64)
            else:
                self.classes = []
                raw_y = table.numeric[config["target"]][keep]
                self.y_mean, self.y_std = float(raw_y.mean()), float(raw_y.std() or 1.0)
                self.y_range = (float(raw_y.min()), float(raw_y.max()))
                y = (raw_y - self.y_mean) / self.y_std
            if self.task == "classify":
                self.y_mean, self.y_std, self.y_range = 0.0, 1.0, (-1.0, 1.0)
            order = rng.permutation(len(y))
            points, y, extra = points[order], y[order], extra[order]
            self.raw_extra = self.raw_extra[order]
            self.feature_names = [
                f"{config['x_column']}\u00b7{config['y_column']}"
                if name == "x1x2"
                else label.replace("X\u2081", config["x_column"]).replace(
                    "X\u2082", config["y_column"]
                )
                for name, label in zip(names, self.feature_names, strict=True)
            ]
            x, y_name = config["x_column"], config["y_column"]
            self.column_names = [
                {
                    "x1": x,
                    "x2": y_name,
                    "x1sq": f"{x}_squared",
                    "x2sq": f"{y_name}_squared",
                    "x1x2": f"{x}_times_{y_name}",
                    "sinx1": f"sin_{x}",
                    "sinx2": f"sin_{y_name}",
                }[n]
                for n in names
            ]
        n_train = max(1, min(len(y) - 1, round(len(y) * config["train_percent"] / 100)))
        X = self.inputs(points, names, extra)
        self.names = names
        self.n_features = X.shape[1]
        self.points_train, self.points_test = points[:n_train], points[n_train:]
        self.X_train, self.X_test = X[:n_train], X[n_train:]
        self.y_train, self.y_test = y[:n_train], y[n_train:]
        self.input_names = self.feature_names + self.extra_names
        # the grid: GRID x GRID points, the first row at the top of the map (y largest)
        xs = np.linspace(self.domain[0], self.domain[1], GRID)
        ys = np.linspace(self.domain[3], self.domain[2], GRID)
        gx, gy = np.meshgrid(xs, ys)
        grid_points = np.column_stack([gx.ravel(), gy.ravel()])
        self.grid_X = self.inputs(grid_points, names, np.zeros((len(grid_points), extra.shape[1])))
        self.n_outputs = (
            1 if self.task == "regress" or len(self.classes) <= 2 else len(self.classes)
        )

    def _complete_rows(self, config: dict[str, Any], table: Table) -> np.ndarray:
        """The rows with every column the settings use (a boolean mask); sets ``dropped``."""
        keep = np.ones(table.n_rows, dtype=bool)
        used = [config["x_column"], config["y_column"], *config["inputs"]]
        if config["task"] == "regress":
            used.append(config["target"])
        else:
            keep &= np.array([not is_missing(v) for v in table.text[config["target"]]])
        for column in used:
            keep &= np.isfinite(table.numeric[column])
        self.dropped = int(table.n_rows - keep.sum())
        if keep.sum() < 4:
            raise TableError(
                f"{table.name}: only {int(keep.sum())} rows have a value in every chosen column "
                "(x, y, target, inputs); the playground needs 4 or more: choose other columns"
            )
        return keep

    def inputs(self, points: np.ndarray, names: list[str], extra: np.ndarray) -> np.ndarray:
        """The network's inputs for map points (standardised for a CSV file) and the
        other input columns (already standardised)."""
        scaled = (points - self.center) / self.scale
        return np.column_stack([features(scaled, names), extra])

    def point_inputs(self, point: np.ndarray) -> np.ndarray:
        """The inputs of one map point, the other input columns at their means."""
        return self.inputs(
            np.asarray(point, dtype=np.float64).reshape(1, 2),
            self.names,
            np.zeros((1, len(self.extra_names))),
        )[0]

    def describe(self) -> dict[str, Any]:
        """What the page draws once per network: the points, the map, the names."""

        def rows(points, y):
            return [
                [round(float(a), 4), round(float(b), 4), float(t)]
                for (a, b), t in zip(points, y, strict=True)
            ]

        return {
            "task": self.task,
            "classes": self.classes,
            "domain": self.domain,
            "grid": GRID,
            "inputs": self.input_names,
            "train": rows(self.points_train, self.y_train),
            "test": rows(self.points_test, self.y_test),
            "y_range": list(self.y_range),
            "dropped": self.dropped,
            "y_mean": self.y_mean,
            "y_std": self.y_std,
        }


def _class_key(value: str) -> tuple:
    """Classes in numeric order when they are numbers (2 before 10), else by text."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
