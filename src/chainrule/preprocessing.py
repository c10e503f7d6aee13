"""Tables to arrays and back: ``x = (value - mean) / scale`` per number, one-hot per text.

A :class:`Preprocessor` turns the columns of a pandas DataFrame (a CSV file's rows)
into the float matrix a :class:`~chainrule.Network` takes, and the target column
into class indices or scaled values; everything it learned is JSON-safe, so it goes
into the model file and ``predict`` takes raw rows.

Problems with the rows (missing values, text in a number column, unknown columns,
...) raise :class:`~chainrule.errors.DataError`, a ValueError naming the column and
row; wrong settings raise plain ValueError / TypeError. Columns that look wrong (an
identifier, a few stray values among numbers) draw the warnings of
:mod:`chainrule.column_warnings`. pandas is needed here (the ``tabular`` extra) and
imported only when used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.column_warnings import (
    MOSTLY,
    not_numbers,
    rows_text,
    rows_verb,
    warn_if_identifier_dates,
    warn_if_identifier_text,
    warn_if_mostly_numbers,
    warn_if_row_numbers,
    warn_stray,
)
from chainrule.dates import DATE_PARTS, date_parts, guess_date_format, parse_dates
from chainrule.errors import DataError
from chainrule.filecheck import finite_number, unique_strings

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Preprocessor", "explain_task_guess", "guess_task"]

TASKS = ("classify", "regress")
#: a numeric target with at most this many distinct whole-number values is a class label
MAX_INTEGER_CLASSES = 10
#: a numeric target with more distinct values than this share of the rows (and than
#: ``MAX_INTEGER_CLASSES``) is refused as classes: it is a quantity, to regress
MAX_DISTINCT_CLASS_SHARE = 0.5
#: numbers beyond this magnitude (or below its inverse) are rescaled before their squares
#: are summed, so the mean and standard deviation never overflow (or underflow)
_SAFE_MAGNITUDE = 1e100
#: a number more than this many standard deviations from its training mean is refused
#: at transform: nothing can be predicted from it, and it would overflow float32
MAX_STANDARD_SCORE = 1e6


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


def _mean_and_scale(values: np.ndarray) -> tuple[float, float]:
    """``mean(x)`` and ``std(x)`` (population) of finite values, without overflow.

    Values larger than ``1e100`` (or all smaller than ``1e-100``) are divided by their
    largest magnitude first, so their squares stay finite; the mean and deviation are
    then multiplied back (both stay within the largest magnitude, so they are finite).
    A constant column gives its value and scale 1 (as scikit-learn's StandardScaler):
    ``np.std`` of copies of a number such as 0.1 is a rounding error (1.4e-17), not 0,
    and dividing by it would blow tiny differences in new data up to huge features.
    """
    low, high = float(np.min(values)), float(np.max(values))
    if low == high:
        return low, 1.0
    largest = max(abs(low), abs(high))
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


def _scaled(name: str, index: Any, values: np.ndarray, col: dict[str, Any]) -> np.ndarray:
    """``(values - mean) / scale`` of a number column; refuse values more than
    ``MAX_STANDARD_SCORE`` standard deviations from the mean, naming the rows."""
    scaled = _standardise(values, col["mean"], col["scale"])
    too_large = ~(np.abs(scaled) <= MAX_STANDARD_SCORE)
    if too_large.any():
        first = values[too_large][0]
        raise DataError(
            f"column {name!r}: {rows_verb(index[too_large], 'holds', 'hold')} a value too "
            f"large for the scaling learned in training ({first:.4g}, more than "
            f"{MAX_STANDARD_SCORE:.0e} standard deviations from the mean {col['mean']:.4g}, "
            f"standard deviation {col['scale']:.4g}); check it"
        )
    return scaled


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


def explain_task_guess(target: pd.Series) -> str:
    """:func:`guess_task`'s answer with its reason, for people: ``"classify (guessed:
    'species' holds text)"``."""
    values = target.dropna()
    task = guess_task(target)
    if not _is_numeric(values):
        return f"{task} (guessed: '{target.name}' holds text)"
    distinct = values.nunique()
    if task == "classify":
        return (
            f"{task} (guessed: '{target.name}' holds {distinct} distinct whole numbers, "
            f"at most {MAX_INTEGER_CLASSES})"
        )
    return f"{task} (guessed: '{target.name}' holds numbers with {distinct} distinct values)"


def finite_target(name: str, target: pd.Series) -> np.ndarray:
    """A numeric target column's values as float64; infinite values refused, naming
    their rows (a whole file's or a streamed chunk's)."""
    y = target.to_numpy(dtype=np.float64)
    infinite = ~np.isfinite(y)
    if infinite.any():
        raise DataError(
            f"target column {name!r} holds infinite values "
            f"({rows_text(target.index[infinite])}); fix or remove those rows"
        )
    return y


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
        "scale", "fill"}``, ``{"name", "kind": "category", "categories", "fill"}`` or
        ``{"name", "kind": "datetime", "format", "parts": [{"part", "mean", "scale"},
        ...]}`` (``format`` a ``strftime`` format, None for typed dates).
    feature_names_ : list of str
        The names of the output features (``"island=Dream"`` for one-hot columns,
        ``"day:month_sin"`` for date parts).
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
    block, with a warning. A text column whose every value reads as a date with one
    format (:func:`chainrule.dates.guess_date_format`) is a date column: it becomes
    the parts of :data:`chainrule.dates.DATE_PARTS` that vary in ``fit`` (the hour only
    for times), each standardised; one that never varies is left out (``ignore_``),
    with a warning. At transform time, a missing column is an error naming
    it; an extra column is ignored with a warning; the target column and ignored
    columns may be present or not.

    ``fit`` warns (UserWarning) about columns that look like identifiers (a
    different whole number in every row, densely, such as 1..n; a different date in
    every row; more than 50 distinct texts, and in more than half the rows) and about
    text columns that hold numbers (or dates) but for a few values, naming them and
    their rows: they are one-hot encoded as categories, which is rarely what was meant.
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
            column = self._fit_column(name, frame[name])
            if column is None:
                ignore.append(name)
            else:
                columns.append(column)
        if not columns:
            raise DataError(
                f"no feature columns left: the data has only {known}, minus the target "
                f"{self.target!r} and the columns left out {ignore}"
            )
        self.columns_ = columns
        self.ignore_ = ignore

        if self.task_ == "classify":
            self._fit_classes(target)
        else:
            self._fit_regression_target(target)
        return self

    def _fit_column(self, name: str, series: pd.Series) -> dict[str, Any] | None:
        """One column's entry of ``columns_`` (None: a date column that cannot be used)."""
        pd = _pandas()
        if _is_numeric(series):
            values = series.to_numpy(dtype=np.float64)
            observed = values[~np.isnan(values)]
            if observed.size == 0:
                raise DataError(
                    f"column {name!r} has no values at all; ignore it (--ignore {name})"
                )
            if not np.all(np.isfinite(observed)):
                raise DataError(f"column {name!r} holds infinite values; fix or ignore it")
            warn_if_row_numbers(name, observed)
            mean, scale = _mean_and_scale(observed)
            return {"name": name, "kind": "numeric", "mean": mean, "scale": scale, "fill": mean}
        if pd.api.types.is_datetime64_any_dtype(series):
            return self._fit_dates(name, series, None)
        text = series.dropna().astype(str)
        if not warn_if_mostly_numbers(name, text):
            fmt, parsed, also = guess_date_format(text)
            if fmt is not None and parsed == len(text):
                if also:
                    warnings.warn(
                        f"column {name!r}: every date reads both as {fmt} and as "
                        f"{' and as '.join(also)}; read as {fmt}. Write dates as "
                        "YYYY-MM-DD to be sure",
                        UserWarning,
                        stacklevel=4,
                    )
                return self._fit_dates(name, series, fmt)
            if fmt is not None and parsed >= MOSTLY * len(text):
                bad = parse_dates(text, fmt).isna().to_numpy()
                warn_stray(name, f"dates ({fmt})", text[bad], text[:0])
        counts = text.value_counts()
        categories = sorted(counts.index)
        # most frequent, ties broken by the sorted order
        top = min(categories, key=lambda c: (-counts[c], c))
        warn_if_identifier_text(name, len(categories), len(text))
        return {"name": name, "kind": "category", "categories": categories, "fill": top}

    def _fit_dates(self, name: str, series: pd.Series, fmt: str | None) -> dict[str, Any] | None:
        """A date column's entry: its format and the scaling of the parts that vary."""
        dates = parse_dates(series, fmt)
        observed = dates.dropna()
        values = date_parts(observed)
        # a point on a circle varies when either of its coordinates does
        varies = {part for part, v in values.items() if v.size and np.ptp(v) > 0}
        for base in ("month", "weekday", "hour"):
            if varies & {f"{base}_sin", f"{base}_cos"}:
                varies |= {f"{base}_sin", f"{base}_cos"}
        parts = []
        for part in DATE_PARTS:
            if part in varies:
                mean, scale = _mean_and_scale(values[part])
                parts.append({"part": part, "mean": mean, "scale": scale})
        if not parts:
            warnings.warn(
                f"column {name!r} holds the same date in every row; it tells the rows "
                "nothing and is left out",
                UserWarning,
                stacklevel=4,
            )
            return None
        warn_if_identifier_dates(name, observed, [p["part"] for p in parts])
        return {"name": name, "kind": "datetime", "format": fmt, "parts": parts}

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
                f"{rows_text(bad.index[:1])}), so it cannot be regressed; "
                "use task 'classify' (--task classify)"
            )
        y = finite_target(self.target, target)
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
                f"value(s) ({rows_text(frame.index[target_missing])}); remove those rows "
                "(--drop-missing-target drops them)"
            )
        if not self.impute:
            self._refuse_missing(frame, features, fitting=True)

    @staticmethod
    def _refuse_missing(frame: pd.DataFrame, features: list[str], fitting: bool) -> None:
        missing = frame[features].isna()
        per_column = missing.sum()
        bad = [c for c in features if per_column[c]]
        if not bad:
            return
        n_rows = int(missing.any(axis=1).sum())
        details = "; ".join(
            f"{c!r}: {int(per_column[c])} ({rows_text(frame.index[missing[c].to_numpy()])})"
            for c in bad
        )
        if fitting:
            fix = (
                "Fill them (impute=True, --impute: the column mean for numbers, the most "
                "frequent value for text), remove those rows, or ignore the columns (--ignore)"
            )
        else:
            fix = (
                "The model was trained without imputation, so it cannot fill them: fill "
                "them in the file, remove those rows, or train again with imputation "
                "(chainrule train ... --impute; impute=True)"
            )
        raise DataError(f"missing values in {n_rows} row(s), in column(s) {details}. {fix}")

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
            elif col["kind"] == "datetime":
                names.extend(f"{col['name']}:{p['part']}" for p in col["parts"])
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
            self._refuse_missing(frame, expected, fitting=False)
        pd = _pandas()
        blocks = []
        for col in self.columns_:
            series = frame[col["name"]]
            if col["kind"] == "numeric":
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
                text = series.notna().to_numpy() & np.isnan(values)
                if text.any():
                    raise DataError(not_numbers(col["name"], series[text]))
                infinite = np.isinf(values)
                if infinite.any():
                    raise DataError(
                        f"column {col['name']!r} holds infinite values "
                        f"({rows_text(series.index[infinite])})"
                    )
                values = np.where(np.isnan(values), col["fill"], values)
                blocks.append(_scaled(col["name"], series.index, values, col)[:, None])
            elif col["kind"] == "datetime":
                dates = parse_dates(series, col["format"])
                bad = series.notna().to_numpy() & dates.isna().to_numpy()
                if bad.any():
                    raise DataError(
                        f"column {col['name']!r} must hold dates, as in training "
                        f"({col['format'] or 'typed dates'}); "
                        f"{rows_verb(series.index[bad], 'holds', 'hold')} "
                        f"{series[bad].iloc[0]!r}"
                    )
                parts = date_parts(dates)
                for part in col["parts"]:
                    values = parts[part["part"]]
                    values = np.where(np.isnan(values), part["mean"], values)
                    blocks.append(_standardise(values, part["mean"], part["scale"])[:, None])
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
                        f"{rows_text(series.index[unseen])}); they are encoded as all "
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
                f"({rows_text(series.index[missing])}); remove those rows"
            )
        if self.task_ == "classify":
            position = {c: i for i, c in enumerate(self.classes_)}
            # CSV readers may see 1 where training saw 1.0 (or "1"); match on text too
            by_text = {str(c): i for i, c in enumerate(self.classes_)}
            # the values themselves first, all at once (a streamed epoch encodes every
            # chunk); one by one, as JSON scalars and as text, those that did not match
            codes = np.array(series.map(position), dtype=np.float64)
            for i in np.flatnonzero(np.isnan(codes)):
                value = _json_scalar(series.iloc[i])
                code = position.get(value, by_text.get(str(value)))
                codes[i] = np.nan if code is None else code
            unknown = np.flatnonzero(np.isnan(codes))
            if unknown.size:
                values = sorted({str(series.iloc[i]) for i in unknown})
                raise DataError(
                    f"target column {self.target!r} holds value(s) the model was not "
                    f"trained on: {values[:5]} ({rows_text(series.index[unknown])}); "
                    f"known classes are {self.classes_}"
                )
            return codes.astype(np.intp)
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            bad = np.isnan(values)
            raise DataError(
                f"target column {self.target!r} must hold numbers; "
                f"{rows_verb(series.index[bad], 'does', 'do')} not"
            )
        encoded = _standardise(values, self.target_mean_, self.target_scale_)
        bad = ~np.isfinite(encoded)
        if bad.any():
            raise DataError(
                f"target column {self.target!r}: {rows_verb(series.index[bad], 'holds', 'hold')} "
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
            unique_strings([c["name"] for c in self.columns_], "the column names")
            self.ignore_ = unique_strings(list(state.get("ignore", [])), "the ignored columns")
            if self.task_ == "classify":
                self.classes_ = list(state["classes"])
                if not all(isinstance(c, (str, int, float)) for c in self.classes_) or len(
                    set(self.classes_)
                ) != len(self.classes_):
                    raise ValueError("the classes must be distinct labels")
            else:
                self.target_mean_ = finite_number(state["target_mean"], "the target mean")
                self.target_scale_ = finite_number(state["target_scale"], "the target scale")
                if self.target_scale_ <= 0:
                    raise ValueError("the target scale must be positive")
        return self

    def __repr__(self) -> str:
        return f"Preprocessor(target={self.target!r}, task={self.task!r}, impute={self.impute!r})"


def _checked_column(col: Any) -> dict[str, Any]:
    """A column entry of a saved config, with its types checked (files may be edited)."""
    if not isinstance(col, dict) or not isinstance(col.get("name"), str):
        raise ValueError(f"a column entry of the preprocessor config is malformed: {col!r}")
    if col.get("kind") == "numeric":
        values = {
            k: finite_number(col.get(k), f"column {col['name']!r}'s {k}")
            for k in ("mean", "scale", "fill")
        }
        if values["scale"] <= 0:
            raise ValueError(f"column {col['name']!r} has an invalid scaling: {values}")
        return {"name": col["name"], "kind": "numeric", **values}
    if col.get("kind") == "datetime":
        fmt = col.get("format")
        parts = col.get("parts")
        if (fmt is not None and not isinstance(fmt, str)) or not isinstance(parts, list):
            raise ValueError(f"column {col['name']!r} has a malformed date entry")
        checked = []
        for part in parts:
            if not isinstance(part, dict) or part.get("part") not in DATE_PARTS:
                raise ValueError(f"column {col['name']!r} has an unknown date part: {part!r}")
            values = {k: float(part[k]) for k in ("mean", "scale")}
            if not all(math.isfinite(v) for v in values.values()) or values["scale"] <= 0:
                raise ValueError(f"column {col['name']!r} has an invalid scaling: {part!r}")
            checked.append({"part": part["part"], **values})
        names = [part["part"] for part in checked]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"column {col['name']!r} has no date parts, or one twice: {names}")
        return {"name": col["name"], "kind": "datetime", "format": fmt, "parts": checked}
    if col.get("kind") == "category":
        categories = col.get("categories")
        unique_strings(categories, f"column {col['name']!r}'s categories")
        return {
            "name": col["name"],
            "kind": "category",
            "categories": categories,
            "fill": str(col.get("fill")),
        }
    raise ValueError(f"unknown column kind in the preprocessor config: {col.get('kind')!r}")
