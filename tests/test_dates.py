"""Dates as numbers (chainrule.dates): the format guess (day first when only that reads,
the ambiguity reported, ISO never read year-day-month), UTC offsets, and the parts'
formulas on pinned dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chainrule.dates import DATE_PARTS, date_parts, guess_date_format, parse_dates


def test_guess_date_format_reads_most_values_and_names_ambiguity():
    assert guess_date_format(pd.Series(["2024-03-15", "2024-12-01"])) == ("%Y-%m-%d", 2, [])
    # 03/04 reads both ways, 25/04 only day first
    assert guess_date_format(pd.Series(["03/04/2024", "25/04/2024", "x"]))[:2] == ("%d/%m/%Y", 2)
    fmt, count, also = guess_date_format(pd.Series(["03/04/2024", "05/06/2024"]))
    assert (fmt, count, also) == ("%m/%d/%Y", 2, ["%d/%m/%Y"])
    assert guess_date_format(pd.Series(["red", "green"])) == (None, 0, [])


def test_parse_dates_keeps_wall_clock_time_and_marks_what_does_not_read():
    same = parse_dates(pd.Series(["2024-03-15T08:30:00+02:00", "2024-03-16T09:00:00+02:00"]), None)
    assert same.dt.hour.tolist() == [8, 9] and same.dt.tz is None
    mixed = parse_dates(
        pd.Series(["2024-03-15T08:30:00+02:00", "2024-03-16T09:00:00+01:00"]),
        "%Y-%m-%dT%H:%M:%S%z",
    )
    assert mixed.dt.hour.tolist() == [6, 8]  # several offsets: UTC
    read = parse_dates(pd.Series(["2024-03-15", "soon", None]), "%Y-%m-%d")
    assert read.isna().tolist() == [False, True, True]


def test_date_parts_pinned():
    # 2024-03-15 18:45 is a Friday (4), month 3 (2 of 0..11), hour 18.75
    parts = date_parts(pd.Series(pd.to_datetime(["2024-03-15 18:45", None])))
    assert list(parts) == list(DATE_PARTS)
    expected = {
        "year": 2024,
        "month_sin": np.sin(2 * np.pi * 2 / 12),
        "month_cos": np.cos(2 * np.pi * 2 / 12),
        "day": 15,
        "weekday_sin": np.sin(2 * np.pi * 4 / 7),
        "weekday_cos": np.cos(2 * np.pi * 4 / 7),
        "hour_sin": np.sin(2 * np.pi * 18.75 / 24),
        "hour_cos": np.cos(2 * np.pi * 18.75 / 24),
    }
    for name, value in expected.items():
        assert parts[name][0] == pytest.approx(value, abs=1e-12), name
        assert np.isnan(parts[name][1])
