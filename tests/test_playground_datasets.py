"""The playground's data (chainrule.playground.datasets): the six toy sets as
TensorFlow Playground makes them, the input features, and reading a CSV file."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.playground import datasets
from chainrule.playground.datasets import (
    CLASSIFY,
    DATASETS,
    FEATURES,
    TableError,
    features,
    make_dataset,
    read_table,
)


@pytest.mark.parametrize("name", list(DATASETS))
def test_shapes_range_and_seed(name):
    X, y = make_dataset(name, 500, 0.2, np.random.default_rng(3))
    assert X.shape == (500, 2) and y.shape == (500,)
    assert np.isfinite(X).all()
    if name in CLASSIFY:
        assert set(np.unique(y)) == {0.0, 1.0}
        assert 0.3 < y.mean() < 0.7
    else:
        assert y.min() >= -1 and y.max() <= 1 and y.std() > 0.1
    X2, y2 = make_dataset(name, 500, 0.2, np.random.default_rng(3))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_labels_follow_the_playground_rules_without_noise():
    rng = np.random.default_rng(0)
    X, y = make_dataset("circle", 400, 0.0, rng)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_array_equal(y, (r < 2.5).astype(float))
    assert r.max() <= 5 and not ((r > 2.5) & (r < 3.5)).any()  # the ring's gap
    X, y = make_dataset("xor", 400, 0.0, rng)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] >= 0).astype(float))
    assert np.abs(X).min() >= 0.3  # the padding around the axes
    X, y = make_dataset("plane", 400, 0.0, rng)
    np.testing.assert_allclose(y, np.clip((X[:, 0] + X[:, 1]) / 10, -1, 1))
    X, y = make_dataset("gauss", 400, 0.0, rng)
    assert X[y == 1].mean(axis=0) == pytest.approx([2, 2], abs=0.2)
    assert X[y == 0].mean(axis=0) == pytest.approx([-2, -2], abs=0.2)
    X, y = make_dataset("multigauss", 400, 0.0, rng)
    near = np.hypot(X[:, 0] - 4, X[:, 1] - 2.5) < 0.5  # a positive centre
    assert (y[near] > 0.7).all()


def test_noise_makes_labels_disagree_with_the_rule():
    X, y = make_dataset("xor", 2000, 0.5, np.random.default_rng(0))
    wrong = np.mean(y != (X[:, 0] * X[:, 1] >= 0))
    assert 0.05 < wrong < 0.45


def test_unknown_dataset():
    with pytest.raises(ValueError, match="dataset must be one of circle, xor"):
        make_dataset("moons", 10, 0, np.random.default_rng(0))


def test_features_of_points():
    points = np.array([[1.0, 2.0], [-0.5, 3.0]])
    got = features(points, list(FEATURES))
    expected = np.array(
        [
            [1, 2, 1, 4, 2, np.sin(1), np.sin(2)],
            [-0.5, 3, 0.25, 9, -1.5, np.sin(-0.5), np.sin(3)],
        ]
    )
    np.testing.assert_allclose(got, expected)


def test_read_table_numeric_and_text_columns():
    table = read_table(b"\xef\xbb\xbfa;b;c;kind\n1;2,5;7;x\n3;4;8;y\n5;6;9;x\n", "semi.csv")
    assert table.columns == ["a", "b", "c", "kind"] and table.n_rows == 3
    assert list(table.numeric) == ["a", "c"]  # "2,5" is no number: b is text
    assert table.text["kind"] == ["x", "y", "x"]
    table = read_table(b"x,y,label\n1,2,a\n3,4,b\n5.5,-6e1,a\n")
    np.testing.assert_array_equal(table.numeric["y"], [2, 4, -60])
    described = table.describe()
    assert described["rows"] == 3
    assert described["columns"][2] == {"name": "label", "numeric": False, "distinct": 2}


def test_read_table_refusals(monkeypatch):
    with pytest.raises(TableError, match="is not UTF-8 text"):
        read_table(b"a,b\n\xff\xfe,1\n2,3\n")
    with pytest.raises(TableError, match="NUL bytes"):
        read_table(b"a,b\n1,\x002\n3,4\n")
    with pytest.raises(TableError, match="1 numeric column"):
        read_table(b"a,b\n1,x\n2,y\n")
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 20)
    with pytest.raises(TableError, match="the playground takes CSV files up to 20 bytes"):
        read_table(b"a,b\n" + b"1,2\n" * 10)
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 10_000)
    monkeypatch.setattr(datasets, "MAX_CSV_ROWS", 5)
    with pytest.raises(TableError, match="has 6 rows; the playground takes up to 5"):
        read_table(b"a,b\n" + b"1,2\n" * 6)
    monkeypatch.setattr(datasets, "MAX_CSV_COLUMNS", 3)
    with pytest.raises(TableError, match="has 4 columns; the playground takes up to 3"):
        read_table(b"a,b,c,d\n1,2,3,4\n5,6,7,8\n")


def test_a_column_with_an_infinite_value_is_not_numeric():
    table = read_table(b"a,b,c\n1,2,inf\n3,4,5\n5,6,7\n")
    assert list(table.numeric) == ["a", "b"]


def test_only_class_like_columns_are_kept_as_text():
    rows = "".join(f"{i * 0.5},{i % 3},name{i % 4}\n" for i in range(40))
    table = read_table(b"x,k,who\n" + rows.encode())
    assert list(table.numeric) == ["x", "k"]
    assert table.distinct == {"x": 40, "k": 3, "who": 4}
    assert set(table.text) == {"k", "who"}  # x (40 values) can be no target of classes
    assert table.text["k"][:4] == ["0", "1", "2", "0"]


def test_missing_values_are_nan_and_their_rows_left_out():
    text = b"a,b,c,kind\n1,2,3,x\n,4,5,y\nNA,6,7,x\n8,9,?,\n10,11,12,y\n13,14,15,x\n16,17,18,y\n"
    table = read_table(text, "gaps.csv")
    assert list(table.numeric) == ["a", "b", "c"]
    assert np.isnan(table.numeric["a"][[1, 2]]).all() and np.isnan(table.numeric["c"][3])
    assert table.distinct["kind"] == 2  # the missing one is no class
    config = {
        "seed": 0,
        "features": ["x1", "x2"],
        "task": "classify",
        "dataset": "csv",
        "train_percent": 50,
        "x_column": "a",
        "y_column": "b",
        "target": "kind",
        "inputs": [],
    }
    data = datasets.Data(config, table)
    assert data.dropped == 3 and len(data.y_train) + len(data.y_test) == 4
    assert np.isfinite(data.X_train).all() and data.describe()["dropped"] == 3
    sparse = read_table(b"a,b,kind\n1,2,x\n,3,y\n4,,x\n5,6,y\n7,8,\n9,10,x\n", "sparse.csv")
    with pytest.raises(TableError, match="only 3 rows have a value in every chosen column"):
        datasets.Data(config, sparse)
