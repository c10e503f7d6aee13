"""first_pass: the statistics of one streaming pass equal the in-memory Preprocessor's."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from chainrule.errors import DataError
from chainrule.first_pass import (
    MAX_CATEGORIES,
    RunningStats,
    first_pass,
    held_out,
    positions_of,
    splitmix64,
)
from chainrule.preprocessing import Preprocessor
from chainrule.readers import read_csv
from chainrule.table_chunks import TableChunks
from helpers import mixed_frame


def test_splitmix64_pinned():
    # SplitMix64's first outputs from state 0 (the reference C code's next())
    assert int(splitmix64(np.uint64(0))) == 0xE220A8397B1DCDAF
    assert int(splitmix64(np.uint64(0x9E3779B97F4A7C15))) == 0x6E789E6AA1B965F4


def test_held_out_is_a_stable_share_that_depends_on_row_and_seed_only():
    rows = np.arange(200_000)
    held = held_out(rows, 0.2, seed=0)
    assert abs(held.mean() - 0.2) < 0.005
    # any chunking of the rows gives the same answer, row by row
    pieces = np.concatenate([held_out(rows[i : i + 777], 0.2, 0) for i in range(0, 200_000, 777)])
    np.testing.assert_array_equal(pieces, held)
    assert not np.array_equal(held_out(rows, 0.2, seed=1), held)
    assert not held_out(rows, 0.0).any()
    # a larger fraction holds out the same rows and more
    assert np.all(held_out(rows, 0.3, 0)[held])


def test_running_stats_equal_numpy_on_the_values_joined():
    rng = np.random.default_rng(0)
    values = 1e9 + rng.normal(0, 3, 100_003)  # a large offset: no sum(x**2) cancellation
    stats = RunningStats()
    for start in range(0, values.size, 4_999):
        stats.update(values[start : start + 4_999])
    mean, scale = stats.mean_and_scale()
    assert mean == pytest.approx(np.mean(values), rel=1e-15)
    assert scale == pytest.approx(np.std(values), rel=1e-9)
    assert stats.count == values.size and stats.low == values.min()
    constant = RunningStats()
    constant.update(np.full(7, 0.1))
    constant.update(np.full(3, 0.1))
    assert constant.mean_and_scale() == (0.1, 1.0)


def _mixed_with_missing(n=301, seed=0) -> pd.DataFrame:
    frame = mixed_frame(n, seed)
    frame.loc[frame.index[::37], "weight"] = np.nan
    frame.loc[frame.index[5::41], "colour"] = np.nan
    frame["const"] = 0.1
    return frame


@pytest.mark.parametrize("chunk_rows", [7, 64, 10_000])
def test_statistics_equal_the_in_memory_preprocessing_of_the_training_rows(tmp_path, chunk_rows):
    path = tmp_path / "m.csv"
    _mixed_with_missing().to_csv(path, index=False)
    first = first_pass(
        TableChunks(str(path), chunk_rows), "fruit", impute=True, validation_fraction=0.25, seed=3
    )
    whole = read_csv(str(path))
    held = held_out(positions_of(whole), 0.25, 3)
    assert (first.rows, first.validation_rows, first.train_rows) == (
        301,
        held.sum(),
        301 - held.sum(),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = Preprocessor("fruit", impute=True).fit(whole[~held])
    streamed = first.preprocessor
    assert streamed.task_ == memory.task_ == "classify"
    assert streamed.classes_ == memory.classes_ == ["apple", "pear", "plum"]
    assert [c["name"] for c in streamed.columns_] == ["size", "weight", "colour", "const"]
    for mine, theirs in zip(streamed.columns_, memory.columns_, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, float):
                assert mine[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (mine, key)
            else:
                assert mine[key] == value
    assert streamed.columns_[3]["scale"] == 1.0  # constant column
    np.testing.assert_allclose(streamed.transform(whole), memory.transform(whole), rtol=1e-12)
    assert first.task_note == "classify (guessed: 'fruit' holds text)"


def test_regression_target_scaling_equals_in_memory(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(100, 7, 500)})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    first = first_pass(TableChunks(str(path), 33), "y", validation_fraction=0.1)
    whole = read_csv(str(path))
    memory = Preprocessor("y").fit(whole[~held_out(positions_of(whole), 0.1, 0)])
    pre = first.preprocessor
    assert pre.task_ == "regress" and first.task_note.startswith("regress (guessed:")
    assert pre.target_mean_ == pytest.approx(memory.target_mean_, rel=1e-12)
    assert pre.target_scale_ == pytest.approx(memory.target_scale_, rel=1e-12)


def test_a_column_of_text_first_and_numbers_later_is_text_as_written(tmp_path):
    codes = ["A1", "B2"] * 5 + ["7", "8"] * 10
    frame = pd.DataFrame({"code": codes, "x": np.arange(30.0), "y": [0, 1] * 15})
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    first = first_pass(TableChunks(str(path), 10), "y", validation_fraction=0)
    column = first.preprocessor.columns_[0]
    assert column["kind"] == "category" and column["categories"] == ["7", "8", "A1", "B2"]
    assert first.text_columns == ["code"]


def test_a_column_of_text_then_numbers_then_text_again_is_text_as_written(tmp_path):
    # the codes come back as text after chunks of numbers only: still one text column
    codes = ["A1", "B2"] * 5 + ["07", "8"] * 10 + ["A1", "C3"] * 5
    frame = pd.DataFrame({"code": codes, "x": np.arange(40.0), "y": [0, 1] * 20})
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    first = first_pass(TableChunks(str(path), 10), "y", validation_fraction=0)
    column = first.preprocessor.columns_[0]
    assert column["kind"] == "category"
    assert column["categories"] == ["07", "8", "A1", "B2", "C3"]
    assert first.text_columns == ["code"]


def test_identifier_columns_draw_the_in_memory_warnings_judged_on_the_first_chunk(tmp_path):
    n = 400
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "row": np.arange(1, n + 1),  # 1..n: a row number
            "user": [f"u{i}" for i in rng.permutation(n)],  # a different text in every row
            "x": rng.normal(size=n),
            "y": [0, 1] * (n // 2),
        }
    )
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning) as streamed:
        first_pass(TableChunks(str(path), 100), "y", validation_fraction=0)
    with pytest.warns(UserWarning) as in_memory:
        Preprocessor("y").fit(read_csv(str(path)))
    messages = [str(w.message) for w in streamed]
    assert any(
        m.startswith(
            "column 'row' holds a different whole number in every row of its first chunk (1 to 100)"
        )
        and "--ignore row" in m
        for m in messages
    ), messages
    assert any(
        m.startswith("column 'user' has 100 distinct values in 100 rows of its first chunk")
        and "--ignore user" in m
        for m in messages
    ), messages
    # the same two columns are named in memory, once each
    named = sorted(str(w.message).split("'")[1] for w in in_memory)
    assert named == sorted(m.split("'")[1] for m in messages) == ["row", "user"]


def test_a_word_among_numbers_in_a_later_chunk_names_the_row(tmp_path):
    frame = pd.DataFrame({"x": [str(i) for i in range(50)], "y": [0, 1] * 25})
    frame.loc[37, "x"] = "oops"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'x' .* row 39 holds 'oops', not a number"):
        first_pass(TableChunks(str(path), 10), "y")


def test_too_many_categories_is_refused_naming_the_column(tmp_path):
    n = MAX_CATEGORIES + 50
    frame = pd.DataFrame({"id": [f"u{i}" for i in range(n)], "x": 1.0, "y": [0, 1] * (n // 2)})
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    # the first chunk already looks like an identifier; the pass stops when it is sure
    with (
        pytest.warns(UserWarning, match=r"'id' has 4000 distinct values in 4000 rows of its"),
        pytest.raises(DataError, match=r"column 'id' holds more than 10,000 .*--ignore id"),
    ):
        first_pass(TableChunks(str(path), 4000), "y", validation_fraction=0)


def test_missing_values_without_impute_name_columns_and_rows(tmp_path):
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0] * 10, "y": [0, 1] * 20})
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"in column\(s\) 'x': 10 \(rows 3, 7, 11, 15, 19 and 5 more"
    ):
        first_pass(TableChunks(str(path), 6), "y")
    frame.loc[[4, 30], "y"] = np.nan
    frame.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"target column 'y' has 2 missing value\(s\) \(rows 6, 32\)"
    ):
        first_pass(TableChunks(str(path), 6), "y", impute=True)
    first = first_pass(TableChunks(str(path), 6), "y", impute=True, drop_missing_target=True)
    assert (first.rows, first.n_dropped, first.dropped_rows) == (38, 2, [6, 32])


@pytest.mark.parametrize("chunk_rows", [9, 1000])
def test_date_columns_equal_the_in_memory_preprocessing(tmp_path, chunk_rows):
    rng = np.random.default_rng(4)
    start = np.datetime64("2023-01-01T00:00")
    stamps = start + rng.integers(0, 2 * 365 * 24 * 60, 120).astype("timedelta64[m]")
    frame = pd.DataFrame(
        {
            "when": pd.Series(stamps).dt.strftime("%Y-%m-%d %H:%M"),
            "day": pd.Series(stamps).dt.strftime("%d/%m/%Y"),
            "same": "2024-05-01",
            "x": rng.normal(size=120),
            "y": rng.integers(0, 2, 120),
        }
    )
    frame.loc[[3, 50], "when"] = np.nan
    path = tmp_path / "dates.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="'same' holds the same date in every row"):
        first = first_pass(TableChunks(str(path), chunk_rows), "y", impute=True)
    whole = read_csv(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = Preprocessor("y", impute=True).fit(whole[~held_out(positions_of(whole), 0.2, 0)])
    streamed = first.preprocessor
    assert streamed.ignore_ == memory.ignore_ == ["same"]
    assert [c["kind"] for c in streamed.columns_] == ["datetime", "datetime", "numeric"]
    for mine, theirs in zip(streamed.columns_[:2], memory.columns_[:2], strict=True):
        assert mine["format"] == theirs["format"]
        assert [p["part"] for p in mine["parts"]] == [p["part"] for p in theirs["parts"]]
        for a, b in zip(mine["parts"], theirs["parts"], strict=True):
            assert a["mean"] == pytest.approx(b["mean"], rel=1e-12, abs=1e-12)
            assert a["scale"] == pytest.approx(b["scale"], rel=1e-12)
    assert [p["part"] for p in streamed.columns_[1]["parts"]][-1] == "weekday_cos"  # no hours
    np.testing.assert_allclose(streamed.transform(whole), memory.transform(whole), rtol=1e-9)


def test_a_value_a_date_column_cannot_read_names_its_row(tmp_path):
    days = [f"2024-01-{i % 28 + 1:02d}" for i in range(40)]
    days[33] = "soon"
    path = tmp_path / "d.csv"
    pd.DataFrame({"day": days, "x": 1.0, "y": [0, 1] * 20}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'day' holds dates \(%Y-%m-%d\) .* row 35 holds"):
        first_pass(TableChunks(str(path), 10), "y")


def test_bad_targets_are_refused(tmp_path):
    path = tmp_path / "d.csv"
    days = [f"2024-01-0{i % 9 + 1}" for i in range(20)]
    pd.DataFrame({"day": days, "x": 1.0, "y": [0, 1] * 10}).to_csv(path, index=False)
    with pytest.raises(DataError, match="holds text, so it cannot be regressed"):
        first_pass(TableChunks(str(path), 8), "day", task="regress", ignore=["y"])
    one = tmp_path / "one.csv"
    pd.DataFrame({"x": range(10), "y": 1}).to_csv(one, index=False)
    with pytest.raises(DataError, match="only one value"):
        first_pass(TableChunks(str(one), 4), "y", validation_fraction=0)
    with pytest.raises(DataError, match="'nope' is not in the data"):
        first_pass(TableChunks(str(one), 4), "nope")
    infinite = tmp_path / "inf.csv"
    target = np.arange(20.0)
    target[13] = np.inf  # row 15 of the file (the header is row 1), in the fourth chunk
    pd.DataFrame({"x": range(20), "y": target}).to_csv(infinite, index=False)
    with pytest.raises(DataError, match=r"target column 'y' holds infinite values \(row 15\)"):
        first_pass(TableChunks(str(infinite), 4), "y", task="regress")


def test_typed_dates_of_a_parquet_file(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    rng = np.random.default_rng(5)
    stamps = np.datetime64("2022-03-01") + rng.integers(0, 900, 80).astype("timedelta64[D]")
    frame = pd.DataFrame({"when": stamps, "x": rng.normal(size=80), "y": [0, 1] * 40})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    first = first_pass(TableChunks(str(path), 16), "y", validation_fraction=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a different date in every row: an identifier?
        memory = Preprocessor("y").fit(read_csv(str(path)))
    mine, theirs = first.preprocessor.columns_[0], memory.columns_[0]
    assert mine["kind"] == theirs["kind"] == "datetime" and mine["format"] is None
    assert [p["part"] for p in mine["parts"]] == [p["part"] for p in theirs["parts"]]
    for a, b in zip(mine["parts"], theirs["parts"], strict=True):
        assert a["mean"] == pytest.approx(b["mean"], rel=1e-12, abs=1e-12)
        assert a["scale"] == pytest.approx(b["scale"], rel=1e-12)


def test_a_file_sorted_by_the_target_draws_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1200), "y": np.repeat(["a", "b", "c"], 400)})
    path = tmp_path / "sorted.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning, match=r"rows look sorted by 'y' .*Shuffle the file once"):
        first_pass(TableChunks(str(path), 200), "y")
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first_pass(TableChunks(str(path), 200), "y")
    frame = pd.DataFrame({"x": rng.normal(size=1000), "y": np.sort(rng.normal(size=1000))})
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="each chunk's mean is far from the file's"):
        first_pass(TableChunks(str(path), 100), "y")
    frame.sample(frac=1, random_state=0).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first_pass(TableChunks(str(path), 100), "y")


def test_a_file_sorted_by_a_two_class_target_draws_a_warning(tmp_path):
    # the most common sorted file: all the 0s, then all the 1s (or 60% then 40%)
    rng = np.random.default_rng(1)
    path = tmp_path / "sorted.csv"
    for n_zeros in (500, 600):
        y = np.repeat([0, 1], [n_zeros, 1000 - n_zeros])
        frame = pd.DataFrame({"x": rng.normal(size=1000), "y": y})
        frame.to_csv(path, index=False)
        with pytest.warns(UserWarning, match=r"rows look sorted by 'y'"):
            first_pass(TableChunks(str(path), 100), "y")
        frame.sample(frac=1, random_state=0).to_csv(path, index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            first_pass(TableChunks(str(path), 100), "y")
