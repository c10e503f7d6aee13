"""The warnings about columns that look wrong (chainrule.column_warnings), as a
Preprocessor's fit gives them: identifiers (text, whole numbers, dates different in
every row) and a few stray values among numbers, with the rows and the option that helps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule.column_warnings import rows_text, rows_verb
from chainrule.preprocessing import Preprocessor


def test_identifier_like_text_column_draws_a_warning():
    frame = pd.DataFrame(
        {"id": [f"row{i}" for i in range(80)], "x": np.arange(80.0), "y": [0, 1] * 40}
    )
    with pytest.warns(UserWarning, match=r"'id' has 80 distinct values.*--ignore id"):
        Preprocessor("y").fit(frame.assign(x=np.arange(80.0) / 3))


def test_unique_dates_and_row_numbers_warn_like_text_identifiers():
    n = 40
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": rng.permutation(np.arange(1, n + 1)),
            "day": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
            "x": rng.normal(size=n),
            "count": rng.integers(0, 5, n),
            "y": [0, 1] * (n // 2),
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Preprocessor("y").fit(frame)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert "'id' holds a different whole number in every row (1 to 40)" in messages[0]
    assert "--ignore id" in messages[0]
    assert "'day' holds a different date in every row" in messages[1]
    assert "--ignore day" in messages[1]
    # sparse unique whole numbers (prices, counts) are measurements: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Preprocessor("y").fit(frame.assign(id=np.arange(n) * 1000 + 7, day="x"))


def test_a_few_stray_values_in_a_number_column_are_named():
    values = [str(v) for v in np.arange(20) / 4]
    values[3], values[11] = "n/a (sensor off)", "1,037"
    frame = pd.DataFrame({"t": values, "y": [0, 1] * 10}, index=range(2, 22))
    with pytest.warns(UserWarning) as caught:
        pre = Preprocessor("y").fit(frame)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(
        "column 't' holds numbers except 1 value(s): 'n/a (sensor off)' (row 5), so it is "
        "used as text categories, not as numbers."
    )
    assert "--na-values 'n/a (sensor off)'" in message
    assert (
        "; or read numbers written with a decimal comma or a thousands separator (such as "
        "'1,037') with --decimal , or --thousands ," in message
    )
    assert pre.columns_[0]["kind"] == "category"
    # numbers with decimal commas only: the same warning, naming them
    commas = pd.DataFrame({"t": ["1,5", "2,5", "3,25", "4"], "y": [0, 1, 0, 1]})
    with pytest.warns(
        UserWarning, match=r"numbers written with commas, such as '1,5', '2,5', '3,25'"
    ):
        Preprocessor("y").fit(commas)


def test_rows_are_named_as_a_message_reads_them():
    assert rows_text([3]) == "row 3"
    assert rows_text(range(2, 10)) == "rows 2, 3, 4, 5, 6 and 3 more"
    assert rows_verb([3], "holds", "hold") == "row 3 holds"
    assert rows_verb([3, 8], "holds", "hold") == "rows 3, 8 hold"
