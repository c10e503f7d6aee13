"""Dates and times as numbers a network can use.

A column of dates (``2024-03-15``, ``15/03/2024``, ``2024-03-15 08:30``, ...) is read
with one format that pandas recognises (:func:`guess_date_format`), then becomes the
parts listed in :data:`DATE_PARTS` (:func:`date_parts`): the year and the day of the
month as numbers, and the month, the weekday and the hour of the day as points on a
circle, so that December sits next to January and Sunday next to Monday. The
:class:`~chainrule.preprocessing.Preprocessor` standardises each part and keeps the
format, so predictions read dates as training did. pandas is imported only when used.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DATE_PARTS", "date_parts", "guess_date_format", "parse_dates"]

#: what a date or datetime column becomes, in this order: the year as a number, the
#: month (of 12), the day of the month as a number, the day of the week (Monday 0, of 7)
#: and, for times, the hour of the day (with minutes, of 24) as points on a circle
#: (sin and cos); a part that does not vary in training is left out
DATE_PARTS = (
    "year",
    "month_sin",
    "month_cos",
    "day",
    "weekday_sin",
    "weekday_cos",
    "hour_sin",
    "hour_cos",
)


def _year_day_month(fmt: str) -> bool:
    """``%Y-%d-%m``: what a day-first guess makes of ISO dates, and nobody writes."""
    return -1 < fmt.find("%Y") < fmt.find("%d") < fmt.find("%m")


def guess_date_format(text: pd.Series) -> tuple[str | None, int, list[str]]:
    """The date format that reads the most of ``text``, how many it reads, and the other
    formats that read every value (an ambiguity, such as ``03/04/2024``).

    Candidates come from pandas' ``guess_datetime_format`` on up to 20 distinct values,
    month first and day first; ties go to the first found (month first, as pandas).

    Parameters
    ----------
    text : pandas.Series of str
        The column's values, without the missing ones.

    Returns
    -------
    format : str or None
        A ``strftime`` format such as ``"%d/%m/%Y"``; None when no value reads as a date.
    count : int
        How many values ``format`` reads.
    also : list of str
        Other formats that read every value.
    """
    try:
        from pandas.tseries.api import guess_datetime_format
    except ImportError:  # pragma: no cover - pandas < 2.2
        from pandas._libs.tslibs.parsing import guess_datetime_format
    formats: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dayfirst in (False, True):
            for value in text.drop_duplicates().head(20):
                found = guess_datetime_format(value, dayfirst=dayfirst)
                if found and found not in formats and not _year_day_month(found):
                    formats.append(found)
    counts = [int(parse_dates(text, f).notna().sum()) for f in formats]
    if not counts or max(counts) == 0:
        return None, 0, []
    best = int(np.argmax(counts))
    full = [
        f for f, c in zip(formats, counts, strict=True) if c == len(text) and f != formats[best]
    ]
    return formats[best], counts[best], full


def parse_dates(series: pd.Series, fmt: str | None) -> pd.Series:
    """Dates and times of a column, read with ``fmt``.

    Parameters
    ----------
    series : pandas.Series
        Text, or dates already (a Parquet file's), returned as they are.
    fmt : str or None
        A ``strftime`` format; None guesses one (:func:`guess_date_format`).

    Returns
    -------
    pandas.Series of datetime64
        Naive: the wall-clock time of values with a UTC offset (in UTC when the
        offsets differ); NaT where a value is missing or does not read with ``fmt``.
    """
    import pandas as pd  # the tabular extra; its absence is reported by the Preprocessor

    if pd.api.types.is_datetime64_any_dtype(series):
        values = series
    else:
        if fmt is None:
            fmt = guess_date_format(series.dropna().astype(str))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                values = pd.to_datetime(series, format=fmt, errors="coerce")
            except (ValueError, TypeError):  # several UTC offsets
                values = pd.to_datetime(series, format=fmt, errors="coerce", utc=True)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return values


def date_parts(dates: pd.Series) -> dict[str, np.ndarray]:
    """Date parts: ``month_sin = sin(2 pi (month - 1) / 12)``, ``weekday_sin = sin(2 pi
    weekday / 7)``, ``hour_sin = sin(2 pi (hour + minute / 60 + second / 3600) / 24)``
    (and the cosines); ``year`` and ``day`` (of the month) as they are.

    Returns a dict from each name of :data:`DATE_PARTS` to a float64 array, one value per
    date, nan where a date is missing (NaT). The weekday counts from Monday (0).
    """
    dt = dates.dt

    def number(values) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)

    month = 2 * np.pi * (number(dt.month) - 1) / 12
    weekday = 2 * np.pi * number(dt.day_of_week) / 7
    hour = 2 * np.pi * (number(dt.hour) + number(dt.minute) / 60 + number(dt.second) / 3600) / 24
    return {
        "year": number(dt.year),
        "month_sin": np.sin(month),
        "month_cos": np.cos(month),
        "day": number(dt.day),
        "weekday_sin": np.sin(weekday),
        "weekday_cos": np.cos(weekday),
        "hour_sin": np.sin(hour),
        "hour_cos": np.cos(hour),
    }
