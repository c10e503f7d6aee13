"""Tables to arrays (chainrule.preprocessing): scaling and one-hot against scikit-learn,
missing values and imputing, unseen categories, the task guess, target encoding,
JSON-safe state, huge values, and the DataErrors that name the column and row."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from chainrule.dates import DATE_PARTS
from chainrule.errors import DataError
from chainrule.preprocessing import Preprocessor, guess_task
from helpers import tabular_frame

# ---------------------------------------------------------------- Preprocessor


def test_numbers_are_standardised_as_scikit_learn_does():
    frame = tabular_frame()
    pre = Preprocessor("label").fit(frame)
    X = pre.transform(frame)
    expected = StandardScaler().fit_transform(frame[["a", "b"]])
    np.testing.assert_allclose(X[:, :2], expected, rtol=1e-12, atol=1e-12)
    assert pre.feature_names_ == ["a", "b", "colour=blue", "colour=green", "colour=red"]


def test_pinned_scaling_and_constant_column():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": [5, 5, 5, 5], "y": ["p", "q", "p", "q"]})
    pre = Preprocessor("y").fit(frame)
    x_col, c_col = pre.columns_
    assert x_col["mean"] == 2.5 and x_col["scale"] == pytest.approx(np.sqrt(1.25))
    assert c_col["scale"] == 1.0  # constant: no division by zero
    X = pre.transform(frame)
    np.testing.assert_allclose(X[:, 0], (np.array([1, 2, 3, 4]) - 2.5) / np.sqrt(1.25))
    np.testing.assert_array_equal(X[:, 1], 0.0)


def test_a_constant_column_gets_scale_one_not_a_rounding_error():
    # np.std of copies of 0.1 is 1.39e-17, not 0: dividing by it turned a new value of
    # 0.1000001 into a feature near 7e9 (scikit-learn's StandardScaler gives scale 1)
    frame = pd.DataFrame({"c": [0.1] * 7, "x": np.arange(7.0), "y": ["p", "q"] * 3 + ["p"]})
    assert np.std(frame["c"]) > 0
    column = Preprocessor("y").fit(frame).columns_[0]
    assert (column["mean"], column["scale"], column["fill"]) == (0.1, 1.0, 0.1)
    from sklearn.preprocessing import StandardScaler

    assert StandardScaler().fit(frame[["c"]]).scale_[0] == 1.0


def test_one_hot_matches_scikit_learn_including_unseen_values():
    frame = tabular_frame()
    pre = Preprocessor("label").fit(frame)
    new = frame.head(6).copy()
    new["colour"] = ["red", "purple", "blue", "green", "purple", "red"]
    with pytest.warns(UserWarning, match=r"'colour' has 2 value\(s\) not seen.*'purple'"):
        X = pre.transform(new)
    enc = OneHotEncoder(handle_unknown="ignore").fit(frame[["colour"]])
    np.testing.assert_array_equal(X[:, 2:], enc.transform(new[["colour"]]).toarray())
    np.testing.assert_array_equal(X[1, 2:], 0.0)


def test_missing_values_are_an_error_naming_columns_rows_and_counts():
    frame = tabular_frame(20)
    frame.loc[[3, 7], "a"] = np.nan
    frame.loc[[7], "colour"] = None
    with pytest.raises(ValueError) as info:
        Preprocessor("label").fit(frame)
    message = str(info.value)
    assert "missing values in 2 row(s)" in message
    assert "'a': 2 (rows 3, 7)" in message and "'colour': 1 (row 7)" in message
    assert "impute" in message


def test_impute_fills_mean_and_most_frequent():
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 8.0],
            "t": ["u", "v", None, "v"],
            "y": [0, 1, 0, 1],
        }
    )
    pre = Preprocessor("y", impute=True).fit(frame)
    assert pre.columns_[0]["fill"] == 4.0
    assert pre.columns_[1]["fill"] == "v"
    X = pre.transform(frame)
    assert X[1, 0] == 0.0  # the mean standardises to zero
    np.testing.assert_array_equal(X[2, 1:], [0.0, 1.0])  # filled with "v"


def test_a_missing_target_is_always_an_error():
    frame = tabular_frame(10)
    frame.loc[4, "label"] = None
    with pytest.raises(ValueError, match=r"target column 'label' has 1 missing value.*row 4"):
        Preprocessor("label", impute=True).fit(frame)


def test_transform_refuses_missing_columns_and_warns_about_extra_ones():
    frame = tabular_frame(30)
    pre = Preprocessor("label", ignore=["b"]).fit(frame)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['colour'\]"):
        pre.transform(frame.drop(columns=["colour"]))
    extra = frame.assign(note="x")
    with pytest.warns(UserWarning, match=r"ignoring 1 column\(s\).*'note'"):
        X = pre.transform(extra)
    assert X.shape == (30, 4)  # 'b' is ignored silently, the target too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre.transform(frame.drop(columns=["label", "b"]))


def test_text_in_a_number_column_names_the_row():
    frame = tabular_frame(10)
    pre = Preprocessor("label").fit(frame)
    bad = frame.astype({"a": object})
    bad.loc[6, "a"] = "twelve"
    with pytest.raises(DataError, match=r"'a' must hold numbers.*row 6 holds text.*'twelve'"):
        pre.transform(bad)
    bad.loc[2, "a"] = "eleven"
    with pytest.raises(DataError, match=r"rows 2, 6 hold text such as 'eleven'"):
        pre.transform(bad)


def test_unknown_columns_in_fit_are_named():
    with pytest.raises(ValueError, match=r"target column 'nope' is not in the data"):
        Preprocessor("nope").fit(tabular_frame(5))
    with pytest.raises(ValueError, match=r"ignored column 'zzz'"):
        Preprocessor("label", ignore=["zzz"]).fit(tabular_frame(5))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        Preprocessor("label").fit(np.zeros((3, 3)))


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classify"),
        ([True, False, True], "classify"),
        ([0, 1, 1, 0], "classify"),
        ([1.0, 2.0, 5.0, 2.0], "classify"),
        (list(range(11)), "regress"),
        ([0.5, 1.0, 1.5], "regress"),
    ],
)
def test_guess_task_rule(values, task):
    assert guess_task(pd.Series(values)) == task


def test_targets_encode_and_decode_to_original_values():
    frame = pd.DataFrame({"x": np.arange(6.0), "y": [3, 1, 2, 3, 1, 2]})
    pre = Preprocessor("y").fit(frame)
    assert pre.task_ == "classify" and pre.classes_ == [1, 2, 3]
    codes = pre.encode_target(frame)
    np.testing.assert_array_equal(codes, [2, 0, 1, 2, 0, 1])
    np.testing.assert_array_equal(pre.decode_target(codes), frame["y"])
    with pytest.raises(ValueError, match=r"not trained on: \['7'\].*row 1"):
        pre.encode_target(pd.Series([1, 7]))

    reg = Preprocessor("y", task="regress").fit(frame)
    encoded = reg.encode_target(frame)
    assert encoded.mean() == pytest.approx(0) and encoded.std() == pytest.approx(1)
    np.testing.assert_allclose(reg.decode_target(encoded), frame["y"])
    unscaled = Preprocessor("y", task="regress", scale_target=False).fit(frame)
    np.testing.assert_array_equal(unscaled.encode_target(frame), frame["y"])


def test_text_target_cannot_be_regressed():
    with pytest.raises(ValueError, match=r"holds text \('no'.*task 'classify'"):
        Preprocessor("label", task="regress").fit(tabular_frame(10))


def test_state_is_json_safe_and_round_trips():
    frame = tabular_frame()
    frame.loc[5, "b"] = np.nan
    pre = Preprocessor("label", impute=True, ignore=["a"]).fit(frame)
    config = json.loads(json.dumps(pre.get_config()))
    again = Preprocessor.from_config(config)
    np.testing.assert_array_equal(again.transform(frame), pre.transform(frame))
    assert again.classes_ == ["no", "yes"]
    unfitted = Preprocessor.from_config(Preprocessor("label").get_config())
    with pytest.raises(ValueError, match="not fitted"):
        unfitted.transform(frame)


def test_edited_model_file_state_is_checked():
    config = json.loads(json.dumps(Preprocessor("label").fit(tabular_frame(20)).get_config()))
    config["fitted"]["columns"][0]["scale"] = -1.0
    with pytest.raises(ValueError, match="'a' has an invalid scaling"):
        Preprocessor.from_config(config)
    config["fitted"]["columns"][0] = {"name": "a", "kind": "pickle"}
    with pytest.raises(ValueError, match="unknown column kind"):
        Preprocessor.from_config(config)


# ---------------------------------------------------------------- review fixes


def test_huge_finite_values_scale_without_overflow():
    frame = pd.DataFrame({"a": [1e300, -1e300, 3.0, 4.0], "y": ["x", "y", "x", "y"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning
        pre = Preprocessor("y").fit(frame)
        X = pre.transform(frame)
    (col,) = pre.columns_
    # mean (1e300 - 1e300 + 7) / 4; deviation sqrt((2 * 1e600 + ...) / 4) = 1e300 / sqrt(2)
    assert col["mean"] == pytest.approx(1.75, rel=1e-12)
    assert col["scale"] == pytest.approx(1e300 / np.sqrt(2), rel=1e-12)
    np.testing.assert_allclose(X[:, 0], [np.sqrt(2), -np.sqrt(2), 0, 0], atol=1e-12)
    Preprocessor.from_config(json.loads(json.dumps(pre.get_config())))  # loads back

    # a - mean overflows for the extremes of float64: computed in two steps instead
    edge = pd.DataFrame({"a": [1.7e308, 1.7e308, -1.7e308, 4.0], "y": [0.0, 1.5, 2.5, 3.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pre = Preprocessor("y").fit(edge)
        X = pre.transform(edge)
        huge_target = Preprocessor("a", task="regress").fit(edge)
        encoded = huge_target.encode_target(edge)
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(encoded))
    np.testing.assert_allclose(huge_target.decode_target(encoded), edge["a"], atol=1e296)
    # in units of 1.7e308: [1, 1, -1, ~0], mean 1/4, deviation sqrt(11) / 4
    np.testing.assert_allclose(X[:, 0], np.array([3, 3, -5, -1]) / np.sqrt(11), rtol=1e-12)
    small = Preprocessor("y").fit(pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.4], "y": [0, 1, 0, 1]}))
    with pytest.raises(DataError, match=r"'a': row 7 holds a value too large.*mean 0\.25"):
        small.transform(pd.DataFrame({"a": [1.7e308]}, index=[7]))


def test_data_errors_are_value_errors_naming_the_problem():
    frame = tabular_frame(40)
    assert issubclass(DataError, ValueError)
    with pytest.raises(DataError, match=r"'label' is both the target and an ignored column"):
        Preprocessor("label", ignore=["label"]).fit(frame)
    continuous = frame.assign(label=frame["a"].round(4))
    with pytest.raises(DataError, match=r"40 distinct numbers in 40 rows.*--task regress"):
        Preprocessor("label", task="classify").fit(continuous)
    few = frame.assign(label=(frame["a"] > 0).astype(int) * 1.5)  # two numbers: classes
    assert Preprocessor("label", task="classify").fit(few).classes_ == [0.0, 1.5]
    twice = pd.concat([frame[["a"]], frame[["a", "label"]]], axis=1)
    with pytest.raises(DataError, match=r"more than one column named 'a'"):
        Preprocessor("label").fit(twice)
    with pytest.raises(DataError, match=r"target column 'label' holds infinite values \(row 3\)"):
        Preprocessor("label", task="regress").fit(
            frame.assign(label=[0.0, 1.0, 2.0, np.inf] + [1.0] * 36)
        )


# ---------------------------------------------------------------- dates


def test_date_parts_are_the_documented_numbers():
    when = ["2021-03-04 10:30", "2022-07-15 00:00", "2021-12-31 23:15", "2022-01-01 06:00"]
    frame = pd.DataFrame({"when": when, "y": ["a", "b", "a", "b"]})
    pre = Preprocessor("y").fit(frame)
    (col,) = pre.columns_
    assert col["kind"] == "datetime" and col["format"] == "%Y-%m-%d %H:%M"
    assert pre.feature_names_ == [f"when:{part}" for part in DATE_PARTS]
    # 2021-03-04 10:30 is a Thursday (weekday 3 of 0..6), month 3 (2 of 0..11), hour 10.5
    raw = {
        "year": [2021, 2022, 2021, 2022],
        "month": [2, 6, 11, 0],
        "day": [4, 15, 31, 1],
        "weekday": [3, 4, 4, 5],
        "hour": [10.5, 0, 23.25, 6],
    }
    period = {"month": 12, "weekday": 7, "hour": 24}
    expected = {"year": raw["year"], "day": raw["day"]}
    for base, n in period.items():
        angle = 2 * np.pi * np.array(raw[base], dtype=float) / n
        expected[f"{base}_sin"], expected[f"{base}_cos"] = np.sin(angle), np.cos(angle)
    X = pre.transform(frame)
    for k, part in enumerate(DATE_PARTS):
        values = np.asarray(expected[part], dtype=float)
        np.testing.assert_allclose(X[:, k], (values - values.mean()) / values.std(), atol=1e-12)
    # stored as JSON, applied the same way after loading
    again = Preprocessor.from_config(json.loads(json.dumps(pre.get_config())))
    np.testing.assert_array_equal(again.transform(frame), X)
    # an edited file's date entry is checked
    for edit, needle in [
        (lambda c: c.update(parts=[]), "no date parts"),
        (lambda c: c["parts"].append(dict(c["parts"][0])), "one twice"),
        (lambda c: c["parts"][0].update(part="century"), "unknown date part"),
        (lambda c: c["parts"][0].update(scale=0.0), "invalid scaling"),
        (lambda c: c.update(format=3), "malformed date entry"),
    ]:
        config = json.loads(json.dumps(pre.get_config()))
        edit(config["fitted"]["columns"][0])
        with pytest.raises(ValueError, match=needle):
            Preprocessor.from_config(config)


def test_dates_day_first_constant_parts_and_unusable_columns():
    frame = pd.DataFrame(
        {"d": ["03/04/2021", "25/04/2021", "13/04/2021"], "same": ["2021-01-01"] * 3}
    ).assign(y=["a", "b", "a"])
    with pytest.warns(UserWarning, match="'same' holds the same date in every row"):
        pre = Preprocessor("y").fit(frame)
    (col,) = pre.columns_  # 'same' is left out, as if ignored
    assert pre.ignore_ == ["same"]
    assert col["format"] == "%d/%m/%Y"  # 25/04 reads only day first
    # one year, one month: only the day and the weekday vary
    assert [p["part"] for p in col["parts"]] == ["day", "weekday_sin", "weekday_cos"]
    with pytest.raises(DataError, match=r"'d' must hold dates, as in training \(%d/%m/%Y\); row 9"):
        pre.transform(pd.DataFrame({"d": ["04/13/2021"]}, index=[9]))
    # month first and day first both read every value: the reading is said
    with pytest.warns(UserWarning, match=r"both as %m/%d/%Y and as %d/%m/%Y.*YYYY-MM-DD"):
        Preprocessor("y").fit(pd.DataFrame({"d": ["03/04/2021", "05/06/2021"], "y": [0, 1]}))


# ---------------------------------------------------------------- review fixes (issue 11)


def test_missing_values_at_transform_say_what_helps():
    frame = tabular_frame(40)
    pre = Preprocessor("label").fit(frame)
    holes = frame.head(3).copy()
    holes.loc[1, "a"] = np.nan
    with pytest.raises(DataError) as info:
        pre.transform(holes)
    message = str(info.value)
    assert "'a': 1 (row 1)" in message
    # predict has no --impute: the fix is in the file or in training
    assert "trained without imputation" in message
    assert "chainrule train ... --impute" in message and "(impute=True, --impute:" not in message
    target = frame.assign(label=[None, *frame["label"][1:]])
    with pytest.raises(DataError, match=r"missing value\(s\) \(row 0\).*--drop-missing-target"):
        Preprocessor("label").fit(target)


def test_values_too_far_from_the_training_mean_are_refused():
    pre = Preprocessor("y").fit(pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "y": [0, 1, 0, 1]}))
    ok = pre.transform(pd.DataFrame({"a": [1e5]}))
    assert ok[0, 0] == pytest.approx((1e5 - 1.5) / np.sqrt(1.25))
    with pytest.raises(DataError, match=r"'a': row 8 holds a value too large.*1e\+308"):
        pre.transform(pd.DataFrame({"a": [1.0, 1e308]}, index=[7, 8]))
