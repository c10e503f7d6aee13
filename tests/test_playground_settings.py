"""The playground's settings (chainrule.playground.settings): TensorFlow Playground's
defaults, and every refused setting named with what it takes and what it received."""

from __future__ import annotations

import pytest

from chainrule.playground.datasets import read_table
from chainrule.playground.settings import DEFAULTS, ConfigError, check_config


def test_defaults_are_tensorflow_playgrounds():
    config = check_config({})
    assert config == {**DEFAULTS, "task": "classify"}
    assert config["hidden"] == [4, 2] and config["learning_rate"] == 0.03
    assert check_config({"dataset": "plane"})["task"] == "regress"
    # features come back in one order, whatever the page sent
    assert check_config({"features": ["sinx2", "x1"]})["features"] == ["x1", "sinx2"]


@pytest.mark.parametrize(
    "raw, message",
    [
        ([], "the settings must be a JSON object; received list"),
        ({"hidden": [True]}, "hidden must be a list"),
        ({"hidden": "4,2"}, "hidden must be a list"),
        ({"features": ["x1", "x1"]}, "features must be a non-empty list of distinct names"),
        ({"features": ["x3"]}, "features must be a non-empty list of distinct names"),
        ({"train_percent": 95}, "train_percent must be a whole number from 10 to 90"),
        ({"reg_rate": float("nan")}, "reg_rate must be a number"),
        ({"seed": -1}, "seed must be a whole number from 0 to 2**32 - 1"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of sgd, adam"),
        ({"noise": 1.5}, "noise must be a whole number from 0 to 50; received 1.5"),
        ({"speed": 7}, "speed must be one of 1, 3, 10, 30, 100, 0; received 7"),
    ],
)
def test_refused_settings_say_what_and_why(raw, message):
    with pytest.raises(ConfigError, match=None) as error:
        check_config(raw)
    assert message in str(error.value)


def test_csv_settings_are_checked_against_the_table():
    table = read_table(b"a,b,c,kind\n1,2,3,x\n2,3,4,y\n3,4,5,x\n4,5,6,y\n")
    good = {"dataset": "csv", "x_column": "a", "y_column": "b", "target": "kind"}
    assert check_config(good, table)["inputs"] == []
    assert check_config({**good, "inputs": ["c"]}, table)["inputs"] == ["c"]
    for change, message in (
        ({"x_column": "kind"}, "x_column must be one of the numeric columns of data.csv: a, b, c"),
        ({"y_column": "a"}, "must be three different columns"),
        ({"inputs": ["a"]}, "inputs must be a list of other numeric columns (c)"),
        ({"target": "kind", "task": "regress"}, "target must be one of the numeric columns"),
    ):
        with pytest.raises(ConfigError) as error:
            check_config({**good, **change}, table)
        assert message in str(error.value)
