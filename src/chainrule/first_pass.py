"""One streaming pass over a table file: the preprocessing a file larger than memory needs.

:func:`first_pass` reads a :class:`~chainrule.table_chunks.TableChunks` once and learns
what :meth:`chainrule.preprocessing.Preprocessor.fit` learns from a frame in memory:
per number column the mean and the population standard deviation (Chan et al.'s merge
of each chunk's count, mean and sum of squared deviations, in float64), per text column
its categories and the most frequent one, per date column the scaling of each date part
that varies (the format guessed from the column's first chunk), the missing values of
every column, and the target's task, classes or scaling. The warnings about columns
that look like identifiers judge a column's first chunk only. What it does not do:
reading a column of numbers with a few words among them as text (it is an error
naming the row). The result is a fitted
:class:`~chainrule.preprocessing.Preprocessor`, the same object (and the same model
file entry) as in memory.

The validation rows are held out by :func:`held_out`, a hash of the row's position in
the file: the same rows in every epoch, every run and for any chunk size. As in memory,
the features' statistics are learned on the training rows only.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import check_fraction, check_seed
from chainrule.column_warnings import rows_text, warn_if_identifier_text, warn_if_row_numbers
from chainrule.dates import DATE_PARTS, date_parts, guess_date_format, parse_dates
from chainrule.errors import DataError
from chainrule.preprocessing import (
    MAX_DISTINCT_CLASS_SHARE,
    MAX_INTEGER_CLASSES,
    TASKS,
    Preprocessor,
    _is_numeric,
    _json_scalar,
    _pandas,
    finite_target,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from chainrule.table_chunks import TableChunks

__all__ = ["MAX_CATEGORIES", "FirstPass", "RunningStats", "first_pass", "held_out", "splitmix64"]

#: most distinct values a text column (or a class target) may hold when streamed: its
#: one-hot block is that wide, and its counts are kept in memory during the pass
MAX_CATEGORIES = 10_000

#: chunks of at least this many rows are compared with the whole file to see whether it is
#: sorted: when the median chunk is further than SORTED_DISTANCE from the file (the total
#: variation distance of its classes as a share of the largest possible, or its target
#: mean in standard deviations), it is
SORTED_MIN_ROWS = 100
SORTED_DISTANCE = 0.5
#: the words after "every row" in the identifier warnings, which judge the first chunk
FIRST_CHUNK = " of its first chunk"

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function of ``x`` (uint64, wrapping): a well-mixed 64-bit hash."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def held_out(positions: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Whether each row is a validation row: ``u(row) < fraction``, where ``u`` is
    ``splitmix64(row ^ splitmix64(seed))`` as a number in [0, 1).

    ``positions`` are the rows' 0-based positions among the file's data rows. The
    answer depends on the row and the seed only: the same rows are held out in every
    epoch and run, whatever the chunk size. About ``fraction`` of the rows are held out.
    """
    if fraction <= 0:
        return np.zeros(len(positions), dtype=bool)
    key = splitmix64(np.uint64(seed))
    u = (splitmix64(np.asarray(positions, dtype=np.uint64) ^ key) >> np.uint64(11)).astype(
        np.float64
    ) * 2.0**-53
    return u < fraction


def positions_of(frame: pd.DataFrame) -> np.ndarray:
    """A chunk's rows' 0-based positions in the file (its index holds row numbers from 2)."""
    return np.asarray(frame.index, dtype=np.int64) - 2


class RunningStats:
    """Count, mean, sum of squared deviations, least and largest value, chunk by chunk.

    ``update`` merges a chunk's statistics with Chan et al.'s formulas
    (``delta = mean_b - mean``; ``m2 += m2_b + delta**2 * n * n_b / (n + n_b)``), in
    float64: the result equals NumPy's ``mean`` and ``std`` of all the values joined to
    rounding error.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.low = math.inf
        self.high = -math.inf

    def update(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        n_b = values.size
        if n_b == 0:
            return
        mean_b = float(np.mean(values))
        m2_b = float(np.sum((values - mean_b) ** 2))
        n = self.count + n_b
        delta = mean_b - self.mean
        self.m2 += m2_b + delta * delta * (self.count * n_b / n)
        self.mean += delta * (n_b / n)
        self.count = n
        self.low = min(self.low, float(np.min(values)))
        self.high = max(self.high, float(np.max(values)))

    def mean_and_scale(self) -> tuple[float, float]:
        """``(mean, std)``, population std; a constant column gives ``(value, 1.0)``,
        as :func:`chainrule.preprocessing._mean_and_scale`."""
        if self.low == self.high:
            return self.low, 1.0
        std = math.sqrt(self.m2 / self.count)
        return self.mean, (std if std > 0 else 1.0)


@dataclass
class _Column:
    """What the pass learns of one column."""

    name: str
    numeric_chunks: int = 0  # chunks in which pandas read it as numbers (with values)
    text_chunks: int = 0  # ... as text (or true/false)
    stats: RunningStats = field(default_factory=RunningStats)
    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    missing_rows: list[int] = field(default_factory=list)
    date_checked: bool = False
    dates: bool = False  # a date column: its format, and its parts' statistics
    date_format: str | None = None
    parts: dict[str, RunningStats] = field(default_factory=dict)

    @property
    def mixed(self) -> bool:
        return self.numeric_chunks > 0 and self.text_chunks > 0


@dataclass
class FirstPass:
    """What :func:`first_pass` learned.

    Attributes
    ----------
    preprocessor : Preprocessor
        Fitted, as ``Preprocessor(...).fit(training rows)`` would be in memory.
    task_note : str
        Why the task is what it is (the guess, explained), for the command line.
    rows, train_rows, validation_rows : int
        Data rows used (after dropped ones), and how they split.
    dropped_rows : list of int
        Row numbers dropped for a missing target (``drop_missing_target``); only the
        first few are kept, ``n_dropped`` counts them all.
    n_dropped : int
    text_columns : list of str
        Columns read as text in every chunk (those pandas read as numbers in some chunks
        and as text in others); later passes must read them the same way.
    """

    preprocessor: Preprocessor
    task_note: str
    rows: int
    train_rows: int
    validation_rows: int
    n_dropped: int = 0
    dropped_rows: list[int] = field(default_factory=list)
    text_columns: list[str] = field(default_factory=list)


def first_pass(
    table: TableChunks,
    target: str,
    *,
    task: str | None = None,
    impute: bool = False,
    ignore: Sequence[str] = (),
    scale_target: bool = True,
    validation_fraction: float = 0.2,
    seed: int = 0,
    drop_missing_target: bool = False,
) -> FirstPass:
    """Read ``table`` once (twice when a column's type changes between chunks) and learn
    the preprocessing of its training rows.

    Parameters
    ----------
    table : TableChunks
    target : str
    task, impute, ignore, scale_target
        As :class:`~chainrule.preprocessing.Preprocessor`.
    validation_fraction : float, default=0.2
        Share of the rows :func:`held_out` (with ``seed``) for validation.
    seed : int, default=0
    drop_missing_target : bool, default=False
        Leave out rows without a target value (else they are an error).

    Returns
    -------
    FirstPass

    Raises
    ------
    DataError
        Naming the column and rows: a missing target or feature value (without
        ``impute``), infinite values, a text column with more than
        :data:`MAX_CATEGORIES` values, a value a date column's format (guessed from its
        first chunk) cannot read, a target that cannot be the task's.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS} or None; received task={task!r}")
    fraction = check_fraction(validation_fraction, "validation_fraction")
    seed = check_seed(seed, "seed") or 0
    ignore = [ignore] if isinstance(ignore, str) else list(ignore)
    known = list(table.columns)
    if target in ignore:
        raise DataError(
            f"column {target!r} is both the target and an ignored column (--ignore "
            f"{target}); the target cannot be left out"
        )
    for name in [target, *ignore]:
        if name not in known:
            what = "target column" if name == target else "ignored column"
            raise DataError(f"{what} {name!r} is not in the data; its columns are {known}")
    features = [c for c in known if c != target and c not in ignore]
    if not features:
        raise DataError(
            f"no feature columns left: the data has only {known}, minus the target "
            f"{target!r} and the ignored columns {ignore}"
        )
    settings = dict(
        target=target,
        task=task,
        impute=impute,
        ignore=ignore,
        scale_target=scale_target,
        fraction=fraction,
        seed=seed,
        drop_missing_target=drop_missing_target,
    )
    scan = _Scan(table, features, **settings)
    scan.run()
    mixed = [c.name for c in (*scan.columns.values(), scan.target) if c.mixed]
    if mixed:  # text first, then chunks of numbers only (codes such as 7 among A7, B2)
        table.text_columns = sorted(set(table.text_columns) | set(mixed))
        scan = _Scan(table, features, **settings)
        scan.run()
    return scan.result()


class _Scan:
    """One pass of :func:`first_pass` over the chunks."""

    def __init__(self, table, features, *, target, task, impute, ignore, scale_target, fraction,
                 seed, drop_missing_target) -> None:  # fmt: skip
        self.table, self.features, self.target_name = table, features, target
        self.task, self.impute, self.ignore = task, impute, ignore
        self.scale_target, self.fraction, self.seed = scale_target, fraction, seed
        self.drop_missing_target = drop_missing_target
        self.columns = {name: _Column(name) for name in features}
        self.target = _Column(target)
        self.target_values: dict[Any, int] = {}  # every row's target value -> count
        self.target_whole = True
        self.target_overflow = False  # more distinct values than MAX_CATEGORIES
        self.rows = self.train_rows = self.validation_rows = 0
        self.rows_missing = 0  # rows with a missing feature
        self.n_dropped = 0
        self.dropped: list[int] = []
        # per chunk of at least SORTED_MIN_ROWS rows: its target's counts, or its mean
        self.chunk_counts: list[dict[Any, int]] = []
        self.chunk_means: list[float] = []

    def run(self) -> None:
        for frame in self.table:
            frame = self._target_present(frame)
            if len(frame) == 0:
                continue
            held = held_out(positions_of(frame), self.fraction, self.seed)
            self.rows += len(frame)
            self.validation_rows += int(held.sum())
            self.train_rows += int((~held).sum())
            missing = frame[self.features].isna()
            self.rows_missing += int(missing.any(axis=1).sum())
            for name, column in self.columns.items():
                self._update_column(column, frame[name], missing[name].to_numpy(), ~held)
            self._update_target(frame[self.target_name], ~held)

    def _target_present(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows with a target value; the others dropped (and noted) or recorded."""
        missing = frame[self.target_name].isna().to_numpy()
        if not missing.any():
            return frame
        rows = list(frame.index[missing][:5])
        if self.drop_missing_target:
            self.n_dropped += int(missing.sum())
            self.dropped += rows[: 5 - len(self.dropped)]
        else:
            self.target.missing += int(missing.sum())
            self.target.missing_rows += rows[: 5 - len(self.target.missing_rows)]
        return frame[~missing]

    def _update_column(self, column: _Column, series, missing: np.ndarray, train: np.ndarray):
        pd = _pandas()
        if missing.any():
            column.missing += int(missing.sum())
            column.missing_rows += list(series.index[missing][: 5 - len(column.missing_rows)])
        if missing.all():
            return  # an empty chunk of the column says nothing of its type
        if pd.api.types.is_datetime64_any_dtype(series):  # typed dates (Parquet)
            column.dates, column.date_checked = True, True
            self._update_dates(column, series, train & ~missing)
            return
        if column.dates:
            self._update_dates(column, series, train & ~missing, check=~missing)
            return
        if _is_numeric(series):
            column.numeric_chunks += 1
            values = series.to_numpy(dtype=np.float64)
            infinite = np.isinf(values)
            if infinite.any():
                raise DataError(
                    f"column {column.name!r} holds infinite values "
                    f"({rows_text(series.index[infinite])}); fix or ignore it"
                )
            if column.numeric_chunks == 1:  # judged on the first chunk, as a whole file is
                warn_if_row_numbers(column.name, values[~missing], FIRST_CHUNK)
            observed = values[train & ~missing]
            column.stats.update(observed)
            return
        if (
            column.numeric_chunks
            and not column.text_chunks  # text first: mixed, read again as text
            and column.name not in self.table.text_columns
        ):
            raise _not_a_number(column.name, series)
        column.text_chunks += 1
        text = series[train & ~missing].astype(str)
        if not column.date_checked and len(text):
            column.date_checked = True
            fmt, parsed, also = guess_date_format(text)
            if fmt is not None and parsed == len(text) and column.text_chunks == 1:
                if also:
                    warnings.warn(
                        f"column {column.name!r}: every date of its first rows reads both as "
                        f"{fmt} and as {' and as '.join(also)}; read as {fmt}. Write dates "
                        "as YYYY-MM-DD to be sure",
                        UserWarning,
                        stacklevel=2,
                    )
                column.dates, column.date_format = True, fmt
                self._update_dates(column, series, train & ~missing, check=~missing)
                return
        counts = text.value_counts(sort=False)
        if column.text_chunks == 1:  # judged on the first chunk, as a whole file is
            warn_if_identifier_text(column.name, len(counts), len(text), FIRST_CHUNK)
        for value, count in counts.items():
            column.counts[value] = column.counts.get(value, 0) + int(count)
        if len(column.counts) > MAX_CATEGORIES:
            raise DataError(
                f"column {column.name!r} holds more than {MAX_CATEGORIES:,} different text "
                f"values (by row {series.index[-1]}); each would be a feature of its own. "
                f"Leave it out (--ignore {column.name}), or make it a number column"
            )

    def _update_dates(self, column: _Column, series, rows: np.ndarray, check=None) -> None:
        """Add the date parts of ``series[rows]`` to the column's statistics; with
        ``check``, refuse a value among ``series[check]`` the column's format cannot read."""
        if check is not None and column.date_format is not None:
            dates = parse_dates(series[check], column.date_format)
            bad = dates.isna().to_numpy()
            if bad.any():
                at = series[check][bad]
                raise DataError(
                    f"column {column.name!r} holds dates ({column.date_format}) in the rows "
                    f"before, but row {at.index[0]} holds {at.iloc[0]!r}: fix the value, name "
                    f"it as missing (--na-values), or leave the column out (--ignore "
                    f"{column.name})"
                )
        for part, values in date_parts(parse_dates(series[rows], column.date_format)).items():
            column.parts.setdefault(part, RunningStats()).update(values[~np.isnan(values)])

    def _update_target(self, series, train: np.ndarray) -> None:
        if _is_numeric(series):
            self.target.numeric_chunks += 1
            values = finite_target(self.target_name, series)
            self.target_whole = self.target_whole and bool(np.all(np.mod(values, 1) == 0))
            self.target.stats.update(values[train])
            if len(values) >= SORTED_MIN_ROWS:
                self.chunk_means.append(float(np.mean(values)))
        else:
            self.target.text_chunks += 1
        if self.target_overflow:
            return
        counts: dict[Any, int] = {}
        for value, count in series.value_counts(sort=False).items():
            key = _json_scalar(value)
            counts[key] = counts.get(key, 0) + int(count)
            self.target_values[key] = self.target_values.get(key, 0) + int(count)
        if len(self.target_values) > MAX_CATEGORIES:
            self.target_overflow = True
        elif len(series) >= SORTED_MIN_ROWS and len(counts) <= 100:
            self.chunk_counts.append(counts)

    def _warn_if_sorted(self, task: str) -> None:
        """Warn when the chunks' targets differ much from the file's: the file is sorted
        (by the target, or by something it follows), and shuffling within a buffer of
        chunks would give batches of one class (or of one range of values)."""
        if task == "classify" and len(self.chunk_counts) >= 3:
            total = sum(self.target_values.values())
            overall = {k: v / total for k, v in self.target_values.items()}
            # each chunk's total variation distance from the file, as a share of the
            # largest it can be (1 - the rarest class's share: 0.5 for two even classes,
            # which a chunk of one class only would otherwise never exceed)
            largest = 1.0 - min(overall.values())
            if largest <= 0:  # one class: refused later, naming it
                return
            distances = [
                0.5
                * sum(abs(c.get(k, 0) / sum(c.values()) - p) for k, p in overall.items())
                / largest
                for c in self.chunk_counts
            ]
            what = "each chunk holds mostly other classes than the file as a whole"
        elif task == "regress" and len(self.chunk_means) >= 3 and self.target.stats.count:
            mean, scale = self.target.stats.mean_and_scale()
            distances = [abs(m - mean) / scale for m in self.chunk_means]
            what = "each chunk's mean is far from the file's"
        else:
            return
        if float(np.median(distances)) > SORTED_DISTANCE:
            warnings.warn(
                f"{self.table.path}: the rows look sorted by {self.target_name!r} or by "
                f"something it follows ({what}); training shuffles the rows only within a "
                "buffer of 4 chunks, so its batches would not mix them. Shuffle the file once "
                "(such as with shuf, keeping the header), or give a smaller --chunk-rows",
                UserWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------ result

    def result(self) -> FirstPass:
        self._refuse_missing()
        if self.rows == 0:
            raise DataError(
                f"{self.table.path}: every row's target {self.target_name!r} is missing; "
                "nothing to train on"
            )
        if self.fraction > 0 and (self.validation_rows == 0 or self.train_rows == 0):
            raise DataError(
                f"validation_fraction={self.fraction} of {self.rows} rows leaves "
                f"{'no validation' if self.validation_rows == 0 else 'no training'} rows; "
                "use more rows or --validation-fraction 0"
            )
        task, note = self._task()
        self._warn_if_sorted(task)
        columns, ignore = [], list(self.ignore)
        for column in self.columns.values():
            entry = self._column_entry(column)
            if entry is None:  # a date column that never varies
                ignore.append(column.name)
            else:
                columns.append(entry)
        if not columns:
            raise DataError(
                f"no feature columns left: the data has only {list(self.table.columns)}, "
                f"minus the target {self.target_name!r} and the columns left out {ignore}"
            )
        state: dict[str, Any] = {"task": task, "columns": columns, "ignore": ignore}
        if task == "classify":
            state["classes"] = self._classes()
        elif self.scale_target:
            state["target_mean"], state["target_scale"] = self.target.stats.mean_and_scale()
        else:
            state["target_mean"], state["target_scale"] = 0.0, 1.0
        preprocessor = Preprocessor.from_config(
            {
                "target": self.target_name,
                "task": task,
                "impute": bool(self.impute),
                "ignore": list(self.ignore),
                "scale_target": bool(self.scale_target),
                "fitted": state,
            }
        )
        return FirstPass(
            preprocessor=preprocessor,
            task_note=note,
            rows=self.rows,
            train_rows=self.train_rows,
            validation_rows=self.validation_rows,
            n_dropped=self.n_dropped,
            dropped_rows=list(self.dropped),
            text_columns=list(self.table.text_columns),
        )

    def _refuse_missing(self) -> None:
        if self.target.missing:
            raise DataError(
                f"target column {self.target_name!r} has {self.target.missing} missing "
                f"value(s) ({_rows(self.target)}); remove those rows "
                "(--drop-missing-target drops them)"
            )
        bad = [c for c in self.columns.values() if c.missing]
        if self.impute or not bad:
            return
        details = "; ".join(f"{c.name!r}: {c.missing} ({_rows(c)})" for c in bad)
        raise DataError(
            f"missing values in {self.rows_missing} row(s), in column(s) {details}. Fill "
            "them (--impute: the column mean for numbers, the most frequent value for "
            "text), remove those rows, or ignore the columns (--ignore)"
        )

    def _column_entry(self, column: _Column) -> dict[str, Any] | None:
        name = column.name
        if column.dates:
            return self._date_entry(column)
        if column.text_chunks:
            if not column.counts:
                raise DataError(
                    f"column {name!r} has no values in the training rows; ignore it "
                    f"(--ignore {name})"
                )
            categories = sorted(column.counts)
            top = min(categories, key=lambda c: (-column.counts[c], c))
            return {"name": name, "kind": "category", "categories": categories, "fill": top}
        if column.stats.count == 0:
            raise DataError(f"column {name!r} has no values at all; ignore it (--ignore {name})")
        mean, scale = column.stats.mean_and_scale()
        return {"name": name, "kind": "numeric", "mean": mean, "scale": scale, "fill": mean}

    def _date_entry(self, column: _Column) -> dict[str, Any] | None:
        """A date column's entry, as ``Preprocessor._fit_dates`` makes it: the parts
        that vary (a point on a circle varies when either coordinate does), scaled."""
        stats = column.parts
        if not stats or stats["year"].count == 0:
            raise DataError(
                f"column {column.name!r} has no dates in the training rows; ignore it "
                f"(--ignore {column.name})"
            )
        varies = {part for part, s in stats.items() if s.count and s.high > s.low}
        for base in ("month", "weekday", "hour"):
            if varies & {f"{base}_sin", f"{base}_cos"}:
                varies |= {f"{base}_sin", f"{base}_cos"}
        parts = []
        for part in DATE_PARTS:
            if part in varies:
                mean, scale = stats[part].mean_and_scale()
                parts.append({"part": part, "mean": mean, "scale": scale})
        if not parts:
            warnings.warn(
                f"column {column.name!r} holds the same date in every row; it tells the rows "
                "nothing and is left out",
                UserWarning,
                stacklevel=3,
            )
            return None
        return {"name": column.name, "kind": "datetime", "format": column.date_format,
                "parts": parts}  # fmt: skip

    def _task(self) -> tuple[str, str]:
        """The task, and the note that says why (the guess explained, as in memory)."""
        name = self.target_name
        numeric = self.target.text_chunks == 0
        distinct = len(self.target_values)
        shown = f"more than {MAX_CATEGORIES:,}" if self.target_overflow else str(distinct)
        if not numeric:
            guess = "classify"
            why = f"'{name}' holds text"
        elif self.target_whole and not self.target_overflow and distinct <= MAX_INTEGER_CLASSES:
            guess = "classify"
            why = f"'{name}' holds {distinct} distinct whole numbers, at most {MAX_INTEGER_CLASSES}"
        else:
            guess = "regress"
            why = f"'{name}' holds numbers with {shown} distinct values"
        task = self.task or guess
        if task == "regress" and not numeric:
            raise DataError(
                f"target column {name!r} holds text, so it cannot be regressed; use task "
                "'classify' (--task classify)"
            )
        if (
            task == "classify"
            and numeric
            and (
                self.target_overflow
                or (
                    distinct > MAX_INTEGER_CLASSES
                    and distinct > MAX_DISTINCT_CLASS_SHARE * self.rows
                )
            )
        ):
            raise DataError(
                f"target column {name!r} holds {shown} distinct numbers in {self.rows} rows: "
                "too many to be classes (a classifier needs several rows of each class). It "
                "looks like a quantity to predict: use task 'regress' (--task regress)"
            )
        if task == "classify" and self.target_overflow:
            raise DataError(
                f"target column {name!r} holds more than {MAX_CATEGORIES:,} different "
                "values: too many classes to learn; choose another target"
            )
        return task, f"{task} (guessed: {why})"

    def _classes(self) -> list:
        classes = list(self.target_values)
        try:
            classes = sorted(classes)
        except TypeError:
            classes = sorted(classes, key=str)
        if len(classes) < 2:
            raise DataError(
                f"target column {self.target_name!r} has only one value ({classes[0]!r}); a "
                "classifier needs at least two classes"
            )
        return classes


def _rows(column: _Column) -> str:
    """``"rows 3, 8 and 4 more"`` from a column's first missing rows and its count."""
    text = rows_text(column.missing_rows)
    if column.missing > len(column.missing_rows):
        text += f" and {column.missing - len(column.missing_rows)} more"
    return text


def _not_a_number(name: str, series) -> DataError:
    """A column read as numbers in the chunks before, and not in this one."""
    pd = _pandas()
    bad = (pd.to_numeric(series, errors="coerce").isna() & series.notna()).to_numpy()
    row, value = series.index[bad][0], series[bad].iloc[0]
    return DataError(
        f"column {name!r} holds numbers in the rows before, but row {row} holds {value!r}, "
        f"not a number: fix the value, name it as missing (--na-values {value!r}), or leave "
        f"the column out (--ignore {name})"
    )
