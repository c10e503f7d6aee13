"""Tables to arrays and back: ``x = (value - mean) / scale`` per number, one-hot per text.

A :class:`Preprocessor` turns the columns of a pandas DataFrame (a CSV file's rows)
into the float matrix a :class:`~chainrule.Network` takes, and the target column
into class indices or scaled values; everything it learned is JSON-safe, so it goes
into the model file and ``predict`` takes raw rows. :class:`TabularModel` joins a
Preprocessor and a Network: ``fit`` / ``predict`` / ``predict_proba`` / ``evaluate``
on DataFrames. It is what the ``chainrule`` command trains.

Problems with the rows (missing values, text in a number column, unknown columns,
...) raise :class:`DataError`, a ValueError naming the column and row; wrong settings
raise plain ValueError / TypeError. pandas is needed here (the ``tabular`` extra) and
imported only when used.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import (
    check_fraction,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from chainrule.layers import ACTIVATIONS, Dense, Softmax, get_activation
from chainrule.metrics import R2, Accuracy, MeanAbsoluteError, MeanSquaredErrorMetric
from chainrule.optimizers import OPTIMIZERS
from chainrule.training import Callback, EarlyStopping, History

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from chainrule.network import Network

__all__ = [
    "DataError",
    "Preprocessor",
    "TabularModel",
    "guess_task",
    "parse_hidden",
    "classification_scores",
    "regression_scores",
]

TASKS = ("classify", "regress")
#: a numeric target with at most this many distinct whole-number values is a class label
MAX_INTEGER_CLASSES = 10
#: more distinct values than this (and than half the rows) in a text column draws a warning
MANY_CATEGORIES = 50
#: a numeric target with more distinct values than this share of the rows (and than
#: ``MAX_INTEGER_CLASSES``) is refused as classes: it is a quantity, to regress
MAX_DISTINCT_CLASS_SHARE = 0.5
#: numbers beyond this magnitude (or below its inverse) are rescaled before their squares
#: are summed, so the mean and standard deviation never overflow (or underflow)
_SAFE_MAGNITUDE = 1e100


class DataError(ValueError):
    """The rows of a table cannot be used as they are; the message names the column or
    row and says how to fix it.

    A ValueError, so ``except ValueError`` catches it; the ``chainrule`` command reports
    it in one line naming the file, and reports other errors as bugs.
    """


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "chainrule.tabular needs pandas; install it with `pip install chainrule[tabular]`"
        ) from None
    return pd


def _check_frame(frame: Any, name: str = "frame") -> pd.DataFrame:
    pd = _pandas()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame (e.g. pandas.read_csv('data.csv')); "
            f"received {type(frame).__name__}"
        )
    if frame.shape[0] == 0:
        raise DataError(f"{name} has no rows; at least one row of data is needed")
    frame = frame.rename(columns=str)
    duplicated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if duplicated:
        raise DataError(
            f"{name} has more than one column named {', '.join(map(repr, duplicated))}; "
            "give each column its own name"
        )
    return frame


def _json_scalar(value: Any) -> Any:
    """A NumPy or Python scalar as a plain JSON-safe Python value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _rows_text(labels: Sequence[Any], limit: int = 5) -> str:
    """``"row 3"`` or ``"rows 3, 8, 9 and 12 more"``."""
    labels = list(labels)
    shown = ", ".join(str(r) for r in labels[:limit])
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"{'row' if len(labels) == 1 else 'rows'} {shown}{more}"


def _rows_verb(labels: Sequence[Any], singular: str, plural: str) -> str:
    """``"row 3 holds"`` or ``"rows 3, 8 hold"``: :func:`_rows_text` and a verb that agrees."""
    return f"{_rows_text(labels)} {singular if len(list(labels)) == 1 else plural}"


def _mean_and_scale(values: np.ndarray) -> tuple[float, float]:
    """``mean(x)`` and ``std(x)`` (population) of finite values, without overflow.

    Values larger than ``1e100`` (or all smaller than ``1e-100``) are divided by their
    largest magnitude first, so their squares stay finite; the mean and deviation are
    then multiplied back (both stay within the largest magnitude, so they are finite).
    A zero deviation (a constant column) gives scale 1.
    """
    largest = float(np.max(np.abs(values)))
    if largest == 0:
        return 0.0, 1.0
    unit = 1.0
    if largest > _SAFE_MAGNITUDE or largest < 1 / _SAFE_MAGNITUDE:
        unit = largest
        values = values / unit
    mean = float(np.mean(values)) * unit
    std = float(np.std(values)) * unit
    return mean, (std if std > 0 else 1.0)


def _standardise(values: np.ndarray, mean: float, scale: float) -> np.ndarray:
    """``(values - mean) / scale`` without overflow warnings; non-finite results stay so.

    When ``values - mean`` overflows (both near the float64 limit, opposite signs), the
    same is computed as ``values / scale - mean / scale``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = (values - mean) / scale
        overflowed = ~np.isfinite(result)
        if overflowed.any():
            result[overflowed] = values[overflowed] / scale - mean / scale
    return result


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


def _is_numeric(series: pd.Series) -> bool:
    pd = _pandas()
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def guess_task(target: pd.Series) -> str:
    """``"classify"`` or ``"regress"`` from the values of a target column.

    The rule: text (or true/false) values are class labels; numbers are class labels
    when they are all whole numbers with at most ``MAX_INTEGER_CLASSES`` (10) distinct
    values (such as 0/1 or ratings 1..5); any other numbers are a regression target.
    Missing values are left out of the count.
    """
    values = target.dropna()
    if not _is_numeric(values):
        return "classify"
    numbers_ = values.to_numpy(dtype=np.float64)
    whole = bool(np.all(np.isfinite(numbers_)) and np.all(np.mod(numbers_, 1) == 0))
    if whole and np.unique(numbers_).size <= MAX_INTEGER_CLASSES:
        return "classify"
    return "regress"


class Preprocessor:
    """Columns to features: ``(value - mean) / scale`` for numbers, one-hot for text.

    Fitted on a training DataFrame; afterwards :meth:`transform` maps any frame with
    the same columns to an array of shape ``(n_rows, n_features)`` and
    :meth:`encode_target` / :meth:`decode_target` map the target to what the network
    learns (class indices, or scaled values) and back to the original values.

    Parameters
    ----------
    target : str
        Name of the target column (left out of the features).
    task : {"classify", "regress"} or None, default=None
        None guesses it with :func:`guess_task`.
    impute : bool, default=False
        Fill missing feature values (the column mean for numbers, the most frequent
        value for text). When False a missing value is an error naming the columns
        and rows. A missing target is always an error.
    ignore : sequence of str, default=()
        Columns to leave out entirely (identifiers, free text, leaks).
    scale_target : bool, default=True
        For regression, learn ``(y - mean) / scale`` and undo it in predictions.

    Attributes
    ----------
    columns_ : list of dict
        One entry per input column in order: ``{"name", "kind": "numeric", "mean",
        "scale", "fill"}`` or ``{"name", "kind": "category", "categories", "fill"}``.
    feature_names_ : list of str
        The names of the output features (``"island=Dream"`` for one-hot columns).
    task_ : str
    classes_ : list
        Class labels in their original values, sorted (classification only).
    target_mean_, target_scale_ : float
        The target's scaling (regression only; 0 and 1 when not scaled).

    Notes
    -----
    Numbers are standardised with the mean and the population standard deviation
    (a constant column gets scale 1). Text columns are one-hot encoded over the values
    seen in ``fit``, sorted; a value not seen in ``fit`` becomes an all-zero one-hot
    block, with a warning. At transform time, a missing column is an error naming
    it; an extra column is ignored with a warning; the target column and ignored
    columns may be present or not.
    """

    def __init__(
        self,
        target: str,
        *,
        task: str | None = None,
        impute: bool = False,
        ignore: Sequence[str] = (),
        scale_target: bool = True,
    ) -> None:
        self.target = target
        self.task = task
        self.impute = impute
        self.ignore = ignore
        self.scale_target = scale_target

    # ------------------------------------------------------------ fit

    def fit(self, frame: pd.DataFrame) -> Preprocessor:
        """Learn the columns, their scaling and categories, and the target's encoding."""
        frame = _check_frame(frame)
        if not isinstance(self.target, str):
            raise TypeError(f"target must be a column name; received {self.target!r}")
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None; received task={self.task!r}")
        ignore = [self.ignore] if isinstance(self.ignore, str) else list(self.ignore)
        known = list(frame.columns)
        if self.target in ignore:
            raise DataError(
                f"column {self.target!r} is both the target and an ignored column "
                f"(ignore, --ignore {self.target}); the target cannot be left out: "
                "remove it from the ignored columns or choose another target"
            )
        for name in [self.target, *ignore]:
            if name not in known:
                what = "target column" if name == self.target else "ignored column"
                raise DataError(f"{what} {name!r} is not in the data; its columns are {known}")
        features = [c for c in known if c != self.target and c not in ignore]
        if not features:
            raise DataError(
                f"no feature columns left: the data has only {known}, minus the target "
                f"{self.target!r} and the ignored columns {ignore}"
            )
        self._check_missing(frame, features)
        target = frame[self.target]
        self.task_ = self.task or guess_task(target)

        columns = []
        for name in features:
            series = frame[name]
            if _is_numeric(series):
                values = series.to_numpy(dtype=np.float64)
                observed = values[~np.isnan(values)]
                if observed.size == 0:
                    raise DataError(
                        f"column {name!r} has no values at all; ignore it (--ignore {name})"
                    )
                if not np.all(np.isfinite(observed)):
                    raise DataError(f"column {name!r} holds infinite values; fix or ignore it")
                mean, scale = _mean_and_scale(observed)
                columns.append(
                    {"name": name, "kind": "numeric", "mean": mean, "scale": scale, "fill": mean}
                )
            else:
                text = series.dropna().astype(str)
                counts = text.value_counts()
                categories = sorted(counts.index)
                # most frequent, ties broken by the sorted order
                top = min(categories, key=lambda c: (-counts[c], c))
                if len(categories) > MANY_CATEGORIES and len(categories) > 0.5 * len(text):
                    warnings.warn(
                        f"column {name!r} has {len(categories)} distinct values in "
                        f"{len(text)} rows; it looks like an identifier or free text and "
                        f"becomes {len(categories)} one-hot features. Ignore it "
                        f"(--ignore {name}) unless it is a category.",
                        UserWarning,
                        stacklevel=2,
                    )
                columns.append(
                    {"name": name, "kind": "category", "categories": categories, "fill": top}
                )
        self.columns_ = columns
        self.ignore_ = ignore

        if self.task_ == "classify":
            self._fit_classes(target)
        else:
            self._fit_regression_target(target)
        return self

    def _fit_classes(self, target: pd.Series) -> None:
        """The sorted class labels; refuse one class, or numbers too many to be classes."""
        distinct = int(target.nunique())
        if (
            _is_numeric(target)
            and distinct > MAX_INTEGER_CLASSES
            and distinct > MAX_DISTINCT_CLASS_SHARE * len(target)
        ):
            raise DataError(
                f"target column {self.target!r} holds {distinct} distinct numbers in "
                f"{len(target)} rows: too many to be classes (a classifier needs several "
                "rows of each class). It looks like a quantity to predict: use task "
                "'regress' (--task regress)"
            )
        classes = target.unique()
        try:
            classes = sorted(classes)
        except TypeError:
            classes = sorted(classes, key=str)
        self.classes_ = [_json_scalar(c) for c in classes]
        if len(self.classes_) < 2:
            raise DataError(
                f"target column {self.target!r} has only one value "
                f"({self.classes_[0]!r}); a classifier needs at least two classes"
            )

    def _fit_regression_target(self, target: pd.Series) -> None:
        """``target_mean_`` and ``target_scale_``; refuse text and infinite values."""
        if not _is_numeric(target):
            bad = target[
                ~target.astype(str)
                .str.strip()
                .str.match(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
            ]
            example = bad.iloc[0] if len(bad) else target.iloc[0]
            raise DataError(
                f"target column {self.target!r} holds text ({example!r} in "
                f"{_rows_text(bad.index[:1])}), so it cannot be regressed; "
                "use task 'classify' (--task classify)"
            )
        y = target.to_numpy(dtype=np.float64)
        infinite = ~np.isfinite(y)
        if infinite.any():
            raise DataError(
                f"target column {self.target!r} holds infinite values "
                f"({_rows_text(target.index[infinite])}); fix or remove those rows"
            )
        if self.scale_target:
            self.target_mean_, self.target_scale_ = _mean_and_scale(y)
        else:
            self.target_mean_, self.target_scale_ = 0.0, 1.0

    def _check_missing(self, frame: pd.DataFrame, features: list[str]) -> None:
        """Refuse missing targets always, and missing features unless imputing."""
        target_missing = frame[self.target].isna().to_numpy()
        if target_missing.any():
            raise DataError(
                f"target column {self.target!r} has {int(target_missing.sum())} missing "
                f"value(s) ({_rows_text(frame.index[target_missing])}); remove those rows"
            )
        if not self.impute:
            self._refuse_missing(frame, features)

    @staticmethod
    def _refuse_missing(frame: pd.DataFrame, features: list[str]) -> None:
        missing = frame[features].isna()
        per_column = missing.sum()
        bad = [c for c in features if per_column[c]]
        if not bad:
            return
        n_rows = int(missing.any(axis=1).sum())
        details = "; ".join(
            f"{c!r}: {int(per_column[c])} ({_rows_text(frame.index[missing[c].to_numpy()])})"
            for c in bad
        )
        raise DataError(
            f"missing values in {n_rows} row(s), in column(s) {details}. Fill them "
            "(impute=True, --impute: the column mean for numbers, the most frequent "
            "value for text), remove those rows, or ignore the columns (--ignore)"
        )

    # ------------------------------------------------------------ transform

    def _require_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise ValueError("this Preprocessor is not fitted yet: call fit(frame) first")

    @property
    def feature_names_(self) -> list[str]:
        self._require_fitted()
        names = []
        for col in self.columns_:
            if col["kind"] == "numeric":
                names.append(col["name"])
            else:
                names.extend(f"{col['name']}={c}" for c in col["categories"])
        return names

    @property
    def n_features_(self) -> int:
        return len(self.feature_names_)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature matrix, shape ``(n_rows, n_features_)``, float64, rows in order."""
        self._require_fitted()
        frame = _check_frame(frame)
        expected = [c["name"] for c in self.columns_]
        absent = [c for c in expected if c not in frame.columns]
        if absent:
            raise DataError(
                f"missing column(s) {absent}: the model was trained with the columns {expected}"
            )
        extra = [
            c
            for c in frame.columns
            if c not in expected and c != self.target and c not in self.ignore_
        ]
        if extra:
            warnings.warn(
                f"ignoring {len(extra)} column(s) the model was not trained with: "
                + ", ".join(repr(c) for c in extra),
                UserWarning,
                stacklevel=2,
            )
        if not self.impute:
            self._refuse_missing(frame, expected)
        pd = _pandas()
        blocks = []
        for col in self.columns_:
            series = frame[col["name"]]
            if col["kind"] == "numeric":
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
                text = series.notna().to_numpy() & np.isnan(values)
                if text.any():
                    first = series[text].iloc[0]
                    raise DataError(
                        f"column {col['name']!r} must hold numbers, as in training; "
                        f"{_rows_verb(series.index[text], 'holds', 'hold')} text such as "
                        f"{first!r}"
                    )
                infinite = np.isinf(values)
                if infinite.any():
                    raise DataError(
                        f"column {col['name']!r} holds infinite values "
                        f"({_rows_text(series.index[infinite])})"
                    )
                values = np.where(np.isnan(values), col["fill"], values)
                scaled = _standardise(values, col["mean"], col["scale"])
                too_large = ~np.isfinite(scaled)
                if too_large.any():
                    raise DataError(
                        f"column {col['name']!r}: "
                        f"{_rows_verb(series.index[too_large], 'holds', 'hold')} a value too "
                        "large for the scaling learned in training (mean "
                        f"{col['mean']:.4g}, standard deviation {col['scale']:.4g}); check it"
                    )
                blocks.append(scaled[:, None])
            else:
                text = series.astype(object).where(series.notna(), col["fill"]).astype(str)
                categories = col["categories"]
                position = {c: i for i, c in enumerate(categories)}
                codes = text.map(position)
                unseen = codes.isna().to_numpy()
                if unseen.any():
                    values = sorted(set(text[unseen]))
                    shown = ", ".join(repr(v) for v in values[:5])
                    warnings.warn(
                        f"column {col['name']!r} has {int(unseen.sum())} value(s) not seen "
                        f"in training ({shown}{' ...' if len(values) > 5 else ''}, "
                        f"{_rows_text(series.index[unseen])}); they are encoded as all "
                        "zeros (no category)",
                        UserWarning,
                        stacklevel=2,
                    )
                one_hot = np.zeros((len(text), len(categories)))
                rows = np.flatnonzero(~unseen)
                one_hot[rows, codes.to_numpy()[rows].astype(np.intp)] = 1.0
                blocks.append(one_hot)
        return np.hstack(blocks)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        """``fit(frame)`` then ``transform(frame)``."""
        return self.fit(frame).transform(frame)

    # ------------------------------------------------------------ target

    def encode_target(self, frame_or_series: Any) -> np.ndarray:
        """Class indices ``0..k-1`` (int) or ``(y - mean) / scale`` (float64)."""
        self._require_fitted()
        pd = _pandas()
        if isinstance(frame_or_series, pd.DataFrame):
            if self.target not in frame_or_series.columns:
                raise DataError(
                    f"target column {self.target!r} is not in the data; its columns are "
                    f"{list(frame_or_series.columns)}"
                )
            series = frame_or_series[self.target]
        else:
            series = pd.Series(frame_or_series)
        missing = series.isna().to_numpy()
        if missing.any():
            raise DataError(
                f"target column {self.target!r} has {int(missing.sum())} missing value(s) "
                f"({_rows_text(series.index[missing])}); remove those rows"
            )
        if self.task_ == "classify":
            position = {c: i for i, c in enumerate(self.classes_)}
            # CSV readers may see 1 where training saw 1.0 (or "1"); match on text too
            by_text = {str(c): i for i, c in enumerate(self.classes_)}
            codes = [
                position.get(_json_scalar(v), by_text.get(str(_json_scalar(v)))) for v in series
            ]
            unknown = [i for i, c in enumerate(codes) if c is None]
            if unknown:
                values = sorted({str(series.iloc[i]) for i in unknown})
                raise DataError(
                    f"target column {self.target!r} holds value(s) the model was not "
                    f"trained on: {values[:5]} ({_rows_text(series.index[unknown])}); "
                    f"known classes are {self.classes_}"
                )
            return np.asarray(codes, dtype=np.intp)
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            bad = np.isnan(values)
            raise DataError(
                f"target column {self.target!r} must hold numbers; "
                f"{_rows_verb(series.index[bad], 'does', 'do')} not"
            )
        encoded = _standardise(values, self.target_mean_, self.target_scale_)
        bad = ~np.isfinite(encoded)
        if bad.any():
            raise DataError(
                f"target column {self.target!r}: {_rows_verb(series.index[bad], 'holds', 'hold')} "
                "an infinite value, or one too large for the scaling learned in training"
            )
        return encoded

    def decode_target(self, encoded: np.ndarray) -> np.ndarray:
        """Back to original values: class labels from indices, or unscaled numbers."""
        self._require_fitted()
        encoded = np.asarray(encoded)
        if self.task_ == "classify":
            return np.asarray(self.classes_)[encoded.astype(np.intp)]
        encoded = encoded.astype(np.float64)
        mean, scale = self.target_mean_, self.target_scale_
        with np.errstate(over="ignore", invalid="ignore"):
            values = encoded * scale + mean
            overflowed = ~np.isfinite(values) & np.isfinite(encoded)
            if overflowed.any():  # near the float64 limit: the same in another order
                values[overflowed] = (encoded[overflowed] + mean / scale) * scale
        return values

    # ------------------------------------------------------------ config

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments and, once fitted, the learned state (all JSON-safe)."""
        config: dict[str, Any] = {
            "target": self.target,
            "task": self.task,
            "impute": bool(self.impute),
            "ignore": [self.ignore] if isinstance(self.ignore, str) else list(self.ignore),
            "scale_target": bool(self.scale_target),
        }
        if hasattr(self, "columns_"):
            state: dict[str, Any] = {
                "task": self.task_,
                "columns": self.columns_,
                "ignore": self.ignore_,
            }
            if self.task_ == "classify":
                state["classes"] = self.classes_
            else:
                state["target_mean"] = self.target_mean_
                state["target_scale"] = self.target_scale_
            config["fitted"] = state
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Preprocessor:
        """Rebuild a Preprocessor (fitted when ``config`` holds the fitted state)."""
        if not isinstance(config, dict) or "target" not in config:
            raise ValueError("preprocessor config must be a dict with at least 'target'")
        args = {k: config[k] for k in ("task", "impute", "ignore", "scale_target") if k in config}
        self = cls(config["target"], **args)
        state = config.get("fitted")
        if state is not None:
            self.task_ = state["task"]
            if self.task_ not in TASKS:
                raise ValueError(f"unknown task {self.task_!r} in the preprocessor config")
            self.columns_ = [_checked_column(c) for c in state["columns"]]
            self.ignore_ = list(state.get("ignore", []))
            if self.task_ == "classify":
                self.classes_ = list(state["classes"])
            else:
                self.target_mean_ = float(state["target_mean"])
                self.target_scale_ = float(state["target_scale"])
        return self

    def __repr__(self) -> str:
        return f"Preprocessor(target={self.target!r}, task={self.task!r}, impute={self.impute!r})"


def _checked_column(col: Any) -> dict[str, Any]:
    """A column entry of a saved config, with its types checked (files may be edited)."""
    if not isinstance(col, dict) or not isinstance(col.get("name"), str):
        raise ValueError(f"a column entry of the preprocessor config is malformed: {col!r}")
    if col.get("kind") == "numeric":
        values = {k: float(col[k]) for k in ("mean", "scale", "fill")}
        if not all(math.isfinite(v) for v in values.values()) or values["scale"] <= 0:
            raise ValueError(f"column {col['name']!r} has an invalid scaling: {values}")
        return {"name": col["name"], "kind": "numeric", **values}
    if col.get("kind") == "category":
        categories = col.get("categories")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ValueError(f"column {col['name']!r} has malformed categories")
        return {
            "name": col["name"],
            "kind": "category",
            "categories": categories,
            "fill": str(col.get("fill")),
        }
    raise ValueError(f"unknown column kind in the preprocessor config: {col.get('kind')!r}")


# ---------------------------------------------------------------- scores


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy, per-class precision and recall, and the confusion matrix.

    ``confusion[i, j]`` counts samples of true class ``i`` predicted as ``j``;
    precision of class ``j`` is ``confusion[j, j] / confusion[:, j].sum()`` and recall
    ``confusion[j, j] / confusion[j, :].sum()`` (0 when the class is never predicted,
    or absent). The same numbers as scikit-learn's ``confusion_matrix`` and
    ``precision_recall_fscore_support(..., zero_division=0)``; the accuracy is
    :class:`chainrule.metrics.Accuracy`'s.
    """
    y_true = np.asarray(y_true, dtype=np.intp)
    y_pred = np.asarray(y_pred, dtype=np.intp)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    correct = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(correct, actual, out=np.zeros(n_classes), where=actual > 0)
    one_hot = np.eye(n_classes)[y_pred]  # Accuracy compares arg-maxes with the labels
    return {
        "accuracy": Accuracy()(one_hot, y_true),
        "precision": precision,
        "recall": recall,
        "support": actual,
        "confusion_matrix": confusion,
    }


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``mse = mean((y - p)**2)``, ``mae = mean(|y - p|)``, ``r2 = 1 - SS_res / SS_tot``.

    Computed by :mod:`chainrule.metrics` (MeanSquaredErrorMetric, MeanAbsoluteError, R2).
    Targets near the float64 limit (~1e308) give ``inf`` where a sum exceeds it.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1, 1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "mse": MeanSquaredErrorMetric()(y_pred, y_true),
            "mae": MeanAbsoluteError()(y_pred, y_true),
            "r2": R2()(y_pred, y_true),
        }


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
        from chainrule.network import Network

        act = get_activation(self.activation)
        if act is Softmax:
            raise ValueError(
                "activation='softmax' is for output layers; pick a hidden activation from "
                f"{sorted(k for k in ACTIVATIONS if k != 'softmax')}"
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
        self.network_.history = History()
        callbacks = list(callbacks)
        stopper = None
        if self.patience is not None:
            monitor = "val_loss" if validation_data is not None else "loss"
            stopper = EarlyStopping(
                monitor=monitor, patience=self.patience, restore_best_weights=True
            )
            callbacks.insert(0, stopper)
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
                callbacks=callbacks,
                verbose=verbose,
            )
        except KeyboardInterrupt:
            self.training_["interrupted"] = True
            raise
        finally:
            self._record_training(time.perf_counter() - started, stopper)
        return self

    def _record_training(self, seconds: float, stopper: EarlyStopping | None) -> None:
        history = self.network_.history.history if self.network_.history else {}
        self.training_["epochs_run"] = len(history.get("loss", []))
        self.training_["seconds"] = round(seconds, 3)
        monitor = "val_loss" if "val_loss" in history else "loss"
        if history.get(monitor):
            best = int(np.argmin(history[monitor]))
            self.training_["best_epoch"] = best + 1
            self.training_["monitor"] = monitor
            self.training_["best"] = {
                k: float(v[best]) for k, v in history.items() if k not in ("lr", "seconds")
            }
        self.training_["early_stopped"] = bool(stopper and stopper.stopped_epoch is not None)

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
        return "TabularModel", header, {"params": net._params_for_file()}

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """Rebuild a fitted model from :meth:`_model_state`'s header and arrays."""
        from chainrule.network import Network

        try:
            self = cls(**header["settings"])
            self.preprocessor_ = Preprocessor.from_config(header["preprocessing"])
            network = Network.from_config(header["architecture"])
            network.build(int(header["n_features"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"the TabularModel header is incomplete or malformed ({exc})"
            ) from None
        params = arrays.get("params")
        if params is None or params.shape != network.params.shape:
            raise ValueError(
                "the file's parameters have shape "
                f"{None if params is None else params.shape}; its architecture needs "
                f"{network.params.shape}"
            )
        network._set_params_from_file(params)
        if network.n_features != self.preprocessor_.n_features_:
            raise ValueError(
                f"its preprocessing makes {self.preprocessor_.n_features_} features but its "
                f"network takes {network.n_features}"
            )
        saved = header.get("history") or {}
        history = History()
        history.history = {
            str(k): [float(v) for v in values] for k, values in saved.get("history", {}).items()
        }
        history.epoch = [int(e) for e in saved.get("epoch", [])]
        network.history = history
        self.network_ = network
        self.task_ = self.preprocessor_.task_
        if self.task_ == "classify":
            self.classes_ = np.asarray(self.preprocessor_.classes_)
        self.training_ = dict(header.get("training") or {})
        return self

    def save(self, path: str) -> None:
        """Write the model file (atomically); ``chainrule.io.load(path)`` reads it back."""
        from chainrule import io

        io.save(self, path)

    def __repr__(self) -> str:
        return f"TabularModel(target={self.target!r}, task={self.task!r}, hidden={self.hidden!r})"
