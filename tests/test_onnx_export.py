"""ONNX export: onnxruntime's predictions equal chainrule's.

Every activation, every output type (binary, multiclass, multilabel, regression with one
and several outputs) in float32 and float64, the estimators, a command-line model
trained on a CSV file with numbers, text and missing values (through ``chainrule train``
and ``chainrule export``), a scikit-learn pipeline through skl2onnx, and the errors.
Each exported model also passes ``onnx.checker.check_model``.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="running the export needs the onnx extra")

import chainrule  # noqa: E402
from chainrule import (  # noqa: E402
    ACTIVATIONS,
    Dense,
    Dropout,
    Layer,
    Network,
    Sigmoid,
    Softmax,
    onnx_export,
    to_onnx,
)
from chainrule.cli import main  # noqa: E402
from chainrule.layers import Exp  # noqa: E402

RTOL = {np.float32: 1e-5, np.float64: 1e-10}
# float32 outputs near 0 (a probability of 1e-9) are compared absolutely
ATOL = {np.float32: 1e-6, np.float64: 1e-12}


def session(proto):
    """An onnxruntime session for ``proto``, after the ONNX checker's full check."""
    onnx.checker.check_model(proto, full_check=True)
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def assert_close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=RTOL[dtype], atol=ATOL[dtype])


def data(n=64, n_features=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, n_features)) * 2


# ---------------------------------------------------------------- Network


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_matches(name, dtype):
    # the registry: a new activation without an ONNX converter fails here
    net = Network(
        [Dense(8), ACTIVATIONS[name](), Dense(3), ACTIVATIONS[name]()],
        loss="mse",
        optimizer="sgd",
        seed=1,
        dtype=dtype,
    ).build(4)
    X = data()
    sess = session(to_onnx(net))
    assert [i.name for i in sess.get_inputs()] == ["X"]
    (output,) = sess.run(["output"], {"X": X.astype(dtype)})
    assert output.dtype == dtype and output.shape == (64, 3)
    assert_close(output, net.predict(X), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_dropout_and_leaky_relu_slope(dtype):
    from chainrule import LeakyReLU

    net = Network(
        [Dense(6), LeakyReLU(0.3), Dropout(0.5), Dense(2), Exp()],
        loss="mse",
        optimizer="sgd",
        seed=2,
        dtype=dtype,
    ).build(4)
    X = data()
    (output,) = session(to_onnx(net)).run(None, {"X": X.astype(dtype)})
    assert_close(output, net.predict(X), dtype)


OUTPUT_TYPES = {
    "binary": ([Dense(1), Sigmoid()], "binary_crossentropy", lambda X: X[:, 0] > 0),
    "multiclass": (
        [Dense(3), Softmax()],
        "categorical_crossentropy",
        lambda X: (X[:, 0] > 0).astype(int) + (X[:, 1] > 0),
    ),
    "multilabel": ([Dense(3), Sigmoid()], "binary_crossentropy", lambda X: X[:, :3] > 0),
    "regression": ([Dense(1)], "mse", lambda X: X[:, :1] - X[:, 1:2]),
    "regression, 2 outputs": ([Dense(2)], "mse", lambda X: X[:, :2] * 3),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", sorted(OUTPUT_TYPES))
def test_every_output_type_of_a_trained_network(kind, dtype):
    head, loss, target = OUTPUT_TYPES[kind]
    X = data(n=120)
    net = Network(
        [Dense(10), chainrule.Tanh(), *head], loss=loss, optimizer="adam", seed=0, dtype=dtype
    )
    net.fit(X, target(X), epochs=5, verbose=0)
    (output,) = session(to_onnx(net)).run(None, {"X": X.astype(dtype)})
    assert_close(output, net.predict(X), dtype)


def test_a_layer_it_does_not_know_is_refused():
    class Square(Layer):
        def __call__(self, x):
            return x * x

    net = Network([Dense(2), Square()], loss="mse", optimizer="sgd").build(3)
    with pytest.raises(ValueError, match=r"cannot export layer 1 \(Square\) to ONNX yet"):
        to_onnx(net)


def test_wrong_models_and_arguments_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"model must be a fitted chainrule Network.*received"):
        to_onnx("model.npz")
    with pytest.raises(ValueError, match="not fitted yet"):
        to_onnx(Network([Dense(2)], loss="mse", optimizer="sgd"))
    net = Network([Dense(2)], loss="mse", optimizer="sgd").build(3)
    with pytest.raises(ValueError, match=r"number_dtype must be 'float64'.*received"):
        to_onnx(net, number_dtype="float16")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        to_onnx(net, tmp_path)


def test_path_is_written_atomically(tmp_path):
    net = Network([Dense(2)], loss="mse", optimizer="sgd", seed=0).build(3)
    path = tmp_path / "net.onnx"
    path.write_bytes(b"an older file")
    proto = to_onnx(net, path)
    assert onnx.load(path) == proto
    assert sorted(os.listdir(tmp_path)) == ["net.onnx"]  # no temporary file left
    assert proto.producer_name == "chainrule"
    assert {(o.domain, o.version) for o in proto.opset_import} == {("", 17), ("ai.onnx.ml", 3)}


def test_without_onnx_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    net = Network([Dense(2)], loss="mse", optimizer="sgd").build(3)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[onnx\]"'):
        to_onnx(net)


# ---------------------------------------------------------------- estimators


@pytest.fixture(scope="module")
def estimators():
    return pytest.importorskip("chainrule.estimators", reason="the estimators need sklearn")


CLASSIFIER_TARGETS = {
    "binary, text labels": lambda X: np.where(X[:, 0] > 0, "yes", "no"),
    "multiclass, integer labels": lambda X: (X[:, 0] > 0).astype(int) * 5 + (X[:, 1] > 0),
    "multilabel": lambda X: (X[:, :3] > 0).astype(int),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("target", sorted(CLASSIFIER_TARGETS))
def test_classifier_label_and_probabilities(estimators, target, dtype):
    X = data(n=120)
    y = CLASSIFIER_TARGETS[target](X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached
        clf = estimators.MLPClassifier(
            hidden_layer_sizes=(7,), activation="tanh", max_iter=40, random_state=0, dtype=dtype
        ).fit(X, y)
    sess = session(to_onnx(clf))
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    label, proba = sess.run(None, {"X": X.astype(dtype)})
    np.testing.assert_array_equal(label, clf.predict(X))
    assert_close(proba, clf.predict_proba(X), np.dtype(dtype).type)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_prediction(estimators, loss, n_outputs, dtype):
    X = data(n=120)
    y = np.abs(X[:, :n_outputs] + 1).squeeze()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = estimators.MLPRegressor(
            hidden_layer_sizes=(7,), loss=loss, max_iter=40, random_state=0, dtype=dtype
        ).fit(X, y)
    (variable,) = session(to_onnx(reg)).run(["variable"], {"X": X.astype(dtype)})
    assert variable.shape == (120, n_outputs)
    assert_close(variable.reshape(np.shape(reg.predict(X))), reg.predict(X), np.dtype(dtype).type)


def test_unfitted_estimator_is_refused(estimators):
    with pytest.raises(ValueError, match="MLPClassifier is not fitted yet"):
        to_onnx(estimators.MLPClassifier())


# ---------------------------------------------------------------- command-line models


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A CSV file with numbers (one far from 0), text and missing values in both."""
    pd = pytest.importorskip("pandas", reason="the command line needs the tabular extra")
    rng = np.random.default_rng(3)
    n = 200
    size = rng.normal(size=n)
    year = rng.integers(1990, 2024, size=n).astype(float)
    colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
    size[[3, 10]] = np.nan
    colour[[5, 7]] = None
    score = np.nan_to_num(size) + (year - 2007) / 10 + (colour == "red")
    frame = pd.DataFrame(
        {
            "size": size,
            "year": year,
            "colour": colour,
            "fruit": np.where(score > 0.3, "apple", np.where(score > -0.5, "pear", "plum")),
            "price": 1000 + 300 * score + rng.normal(size=n),
        }
    )
    folder = tmp_path_factory.mktemp("onnx")
    frame.to_csv(folder / "fruit.csv", index=False)
    return folder


def raw_feeds(sess, frame, number_dtype=np.float64):
    """One (n, 1) array per input: numbers as floats (NaN missing), text as str."""
    feeds = {}
    for i in sess.get_inputs():
        column = frame[i.name]
        if i.type == "tensor(string)":
            feeds[i.name] = column.astype(str).to_numpy().reshape(-1, 1)  # NaN -> "nan"
        else:
            feeds[i.name] = column.to_numpy(number_dtype).reshape(-1, 1)
    return feeds


@pytest.fixture(scope="module")
def fruit(table):
    """A classifier trained and exported by the command line: (model, ONNX proto)."""
    return train_and_export(table, "fruit", "--impute", "--ignore", "price")


def train_and_export(table, target, *options):
    model, out = table / f"{target}.npz", table / f"{target}.onnx"
    args = ["train", str(table / "fruit.csv"), "--target", target, "--out", str(model)]
    assert main([*args, "--epochs", "20", "--seed", "0", "--quiet", *options]) == 0
    assert main(["export", str(model), "--onnx", str(out)]) == 0
    return chainrule.load(model), onnx.load(out)


def test_command_line_classifier_takes_raw_columns(table, fruit):
    import pandas as pd

    model, proto = fruit
    sess = session(proto)
    assert [(i.name, i.type, i.shape[1]) for i in sess.get_inputs()] == [
        ("size", "tensor(double)", 1),
        ("year", "tensor(double)", 1),
        ("colour", "tensor(string)", 1),
    ]
    frame = pd.read_csv(table / "fruit.csv")
    frame.loc[0, "colour"] = "purple"  # not seen in training: all-zero one-hot
    frame.loc[1, "colour"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unseen colour
        expected_label, expected_proba = model.predict(frame), model.predict_proba(frame)
    assert frame["size"].isna().sum() == 2 and frame["colour"].isna().sum() == 3
    feeds = raw_feeds(sess, frame)  # missing text is "nan" (pandas' astype(str))
    feeds["colour"][1, 0] = ""  # or an empty string
    label, proba = sess.run(None, feeds)
    np.testing.assert_array_equal(label, expected_label)  # strings, as chainrule's
    assert_close(proba, expected_proba, np.float32)


def test_command_line_regressor_in_real_units(table):
    import pandas as pd

    model, proto = train_and_export(table, "price", "--impute", "--ignore", "fruit")
    sess = session(proto)
    frame = pd.read_csv(table / "fruit.csv")
    (variable,) = sess.run(["variable"], raw_feeds(sess, frame))
    expected = model.predict(frame)
    assert variable.dtype == np.float64 and variable.shape == (len(frame), 1)
    assert 500 < expected.mean() < 1500  # real units (prices near 1000), not scaled
    np.testing.assert_allclose(variable[:, 0], expected, rtol=1e-5)
    # float32 inputs: the raw values rounded before the scaling, still within 1e-5
    out32 = table / "price32.onnx"
    argv = ["export", str(table / "price.npz"), "--onnx", str(out32), "--number-dtype", "float32"]
    assert main(argv) == 0
    sess32 = session(onnx.load(out32))
    assert [i.type for i in sess32.get_inputs()] == ["tensor(float)"] * 2 + ["tensor(string)"]
    (variable32,) = sess32.run(None, raw_feeds(sess32, frame, np.float32))
    np.testing.assert_allclose(variable32[:, 0], expected, rtol=1e-5)


def test_without_impute_a_missing_number_gives_nan(table):
    import pandas as pd

    frame = pd.read_csv(table / "fruit.csv").dropna()
    frame.to_csv(table / "complete.csv", index=False)
    model = chainrule.tabular.TabularModel("fruit", epochs=3, seed=0, ignore=["price"])
    model.fit(frame)
    sess = session(to_onnx(model))
    holes = frame.head(3).copy()
    holes.iloc[1, 0] = np.nan  # chainrule's predict refuses it
    _, proba = sess.run(None, raw_feeds(sess, holes))
    assert np.isnan(proba[1]).all()
    assert_close(proba[[0, 2]], model.predict_proba(holes.iloc[[0, 2]]), np.float32)


def test_column_named_as_an_output_is_refused():
    pd = pytest.importorskip("pandas", reason="the command line needs the tabular extra")
    frame = pd.DataFrame({"label": [1.0, 2.0, 3.0, 4.0] * 5, "y": ["a", "b"] * 10})
    model = chainrule.tabular.TabularModel("y", epochs=1, validation_fraction=0).fit(frame)
    with pytest.raises(ValueError, match="input column 'label' has the name of an output"):
        to_onnx(model)


def test_a_preprocessing_step_it_does_not_know_is_refused(table, fruit):
    model = chainrule.load(table / "fruit.npz")
    model.preprocessor_.columns_[1] = {"name": "year", "kind": "date", "fill": 0}
    with pytest.raises(ValueError, match=r"cannot export column 'year' to ONNX yet.*'date'"):
        to_onnx(model)


# ---------------------------------------------------------------- chainrule export errors


def test_export_estimator_file(estimators, tmp_path):
    X = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = estimators.MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, random_state=0)
        clf.fit(X, X[:, 0] > 0)
    clf.save(tmp_path / "clf.npz")
    assert main(["export", str(tmp_path / "clf.npz"), "--onnx", str(tmp_path / "clf.onnx")]) == 0
    label, _ = session(onnx.load(tmp_path / "clf.onnx")).run(None, {"X": X})
    np.testing.assert_array_equal(label, clf.predict(X))


def test_export_errors_are_one_line(tmp_path, capsys, monkeypatch):
    net = Network([Dense(2)], loss="mse", optimizer="sgd", seed=0).build(3)
    net.save(tmp_path / "net.npz")
    model = str(tmp_path / "net.npz")

    def error(argv, code=1):
        assert main(argv) == code
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        return err

    assert "no such model file" in error(["export", str(tmp_path / "nope.npz"), "--onnx", "x.onnx"])
    out = str(tmp_path / "out.onnx")
    assert "is a folder, not a model file" in error(["export", str(tmp_path), "--onnx", out])
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    assert "data.csv" in error(["export", str(tmp_path / "data.csv"), "--onnx", out])
    nowhere = str(tmp_path / "no_folder" / "out.onnx")
    assert "the folder does not exist" in error(["export", model, "--onnx", nowhere])
    with pytest.raises(SystemExit) as exc:  # usage errors: argparse, exit code 2
        main(["export", model, "--onnx", str(tmp_path)])
    assert exc.value.code == 2 and "is a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", model, "--onnx", model])
    assert exc.value.code == 2 and "would destroy it" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", model])
    assert exc.value.code == 2 and "--onnx" in capsys.readouterr().err

    # a pipeline file (chainrule.save) was an internal error: to_onnx's TypeError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = data(n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 5 iterations
        pipe = make_pipeline(StandardScaler(), chainrule.MLPRegressor(max_iter=5, random_state=0))
        pipe.fit(X, X[:, 0])
    chainrule.save(pipe, tmp_path / "pipe.npz")
    assert error(["export", str(tmp_path / "pipe.npz"), "--onnx", out]) == (
        f"chainrule export: error: {tmp_path / 'pipe.npz'}: holds a scikit-learn Pipeline, "
        "which chainrule export does not write; in Python, call "
        "chainrule.onnx_export.register_skl2onnx() and then skl2onnx.to_onnx(pipeline, X[:1]) "
        "(README, 'Export to ONNX')\n"
    )
    monkeypatch.delitem(onnx_export.LAYER_CONVERTERS, Dense)
    assert "cannot export layer 0 (Dense) to ONNX yet" in error(["export", model, "--onnx", out])
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert 'pip install "chainrule[onnx]"' in error(["export", model, "--onnx", out])
    assert not os.path.exists(out)


# ---------------------------------------------------------------- skl2onnx


@pytest.fixture(scope="module")
def skl2onnx(estimators):
    skl2onnx = pytest.importorskip("skl2onnx", reason="pipelines convert with skl2onnx")
    onnx_export.register_skl2onnx()
    onnx_export.register_skl2onnx()  # a second call changes nothing
    return skl2onnx


@pytest.mark.parametrize("target", sorted(CLASSIFIER_TARGETS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pipeline_of_scaler_and_classifier_converts(skl2onnx, estimators, target, dtype):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = data(n=120) * 3 + 5
    y = CLASSIFIER_TARGETS[target](X - 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = estimators.MLPClassifier(
            hidden_layer_sizes=(6,), max_iter=60, random_state=0, dtype=dtype
        )
        pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    proto = skl2onnx.to_onnx(pipe, X[:1].astype(np.float32), options={id(clf): {"zipmap": False}})
    sess = session(proto)
    label, proba = sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})
    np.testing.assert_array_equal(label, pipe.predict(X))
    # skl2onnx scales in float32: 1e-5 of the largest probability
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=1e-5, atol=1e-5)


def test_pipeline_with_zipmap_and_regressor(skl2onnx, estimators):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = data(n=120) * 3 + 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline(
            StandardScaler(), estimators.MLPClassifier(max_iter=30, random_state=0)
        ).fit(X, np.where(X[:, 0] > 5, "big", "small"))
        reg = make_pipeline(
            StandardScaler(), estimators.MLPRegressor(max_iter=30, random_state=0)
        ).fit(X, X[:, 0] * 100)
    sess = session(skl2onnx.to_onnx(clf, X[:1].astype(np.float32)))
    label, proba = sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})
    np.testing.assert_array_equal(label, clf.predict(X))
    assert set(proba[0]) == {"big", "small"}  # ZipMap: one dict per row
    np.testing.assert_allclose(proba[0]["big"], clf.predict_proba(X[:1])[0, 0], rtol=1e-5)

    sess = session(skl2onnx.to_onnx(reg, X[:1].astype(np.float32)))
    (variable,) = sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})
    # skl2onnx scales in float32: errors relative to the predictions' size, not each one's
    expected = reg.predict(X)
    np.testing.assert_allclose(
        variable[:, 0], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max()
    )


@pytest.mark.parametrize(
    "labels, dtype",
    [([0, 1, 2], np.int64), ([False, True, False], np.bool_), ([1.5, 2.5, 3.5], np.float64)],
    ids=["integers", "booleans", "floats"],
)
def test_command_line_labels_keep_their_type(labels, dtype):
    pd = pytest.importorskip("pandas", reason="the command line needs the tabular extra")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "y": np.resize(labels, 60)})
    model = chainrule.tabular.TabularModel("y", task="classify", epochs=5, seed=0).fit(frame)
    sess = session(to_onnx(model))
    label, _ = sess.run(None, raw_feeds(sess, frame))
    assert label.dtype == dtype
    np.testing.assert_array_equal(label, model.predict(frame))


def test_date_parts_match_pandas():
    # the converter for the date columns of the CSV-reading work (kind "datetime"): the
    # date as seconds since 1970 in, each stored part scaled out
    pd = pytest.importorskip("pandas", reason="pandas computes the reference")
    rng = np.random.default_rng(0)
    fixed = ["1970-01-01", "1969-12-31 23:59:59", "2000-02-29 06:00", "2100-03-01", "1600-01-01"]
    fixed += ["1900-02-28 12:30:15", "2024-12-31 23:59"]
    random = pd.to_datetime(rng.integers(-12_000_000_000, 13_000_000_000, 300), unit="s")
    dates = pd.Series(
        pd.to_datetime(fixed, format="ISO8601").append(random).append(pd.DatetimeIndex([pd.NaT]))
    )
    seconds = ((dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)).to_numpy()
    dt = dates.dt
    month = 2 * np.pi * (dt.month.to_numpy(float) - 1) / 12
    weekday = 2 * np.pi * dt.day_of_week.to_numpy(float) / 7
    hour = (
        dt.hour.to_numpy(float) + dt.minute.to_numpy(float) / 60 + dt.second.to_numpy(float) / 3600
    )
    hour = 2 * np.pi * hour / 24
    expected = {
        "year": dt.year.to_numpy(float),
        "month_sin": np.sin(month),
        "month_cos": np.cos(month),
        "day": dt.day.to_numpy(float),
        "weekday_sin": np.sin(weekday),
        "weekday_cos": np.cos(weekday),
        "hour_sin": np.sin(hour),
        "hour_cos": np.cos(hour),
    }
    parts = [{"part": p, "mean": 0.5 * i, "scale": 1.0 + i} for i, p in enumerate(expected)]
    column = {"name": "when", "kind": "datetime", "format": None, "parts": parts}
    g = onnx_export._Graph({"when", "out"})
    g.op("Identity", [onnx_export._datetime_column(g, column, "when", True)], out="out")
    graph = onnx.helper.make_graph(
        g.nodes,
        "dates",
        [onnx.helper.make_tensor_value_info("when", onnx.TensorProto.DOUBLE, [None, 1])],
        [onnx.helper.make_tensor_value_info("out", onnx.TensorProto.DOUBLE, [None, 8])],
        g.initializers,
    )
    opsets = [onnx.helper.make_opsetid(d, v) for d, v in onnx_export.OPSET.items()]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, ir_version=8)
    (out,) = session(proto).run(None, {"when": seconds.reshape(-1, 1)})
    for i, (name, values) in enumerate(expected.items()):
        mean, scale = parts[i]["mean"], parts[i]["scale"]
        filled = np.where(np.isnan(values), mean, values)  # a missing date: the mean
        np.testing.assert_allclose(out[:, i], (filled - mean) / scale, atol=1e-9, err_msg=name)


def test_a_command_line_model_with_dates_exports(tmp_path, capsys):
    # the CSV-reading work's date columns, end to end: a day-first date read from a
    # semicolon file, fed to the graph as seconds since 1970 (NaN when missing)
    pd = pytest.importorskip("pandas", reason="the command line needs the tabular extra")
    rng = np.random.default_rng(3)
    n = 150
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 900 * 24, n), unit="h")
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {"when": when.strftime("%d/%m/%Y %H:%M"), "x": x, "y": np.where(x > 0, "a", "b")}
    )
    frame.loc[5, "when"] = None
    frame.to_csv(tmp_path / "d.csv", sep=";", index=False)
    model, out = tmp_path / "d.npz", tmp_path / "d.onnx"
    argv = ["train", str(tmp_path / "d.csv"), "--target", "y", "--out", str(model), "--impute"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a different date in every row
        assert main([*argv, "--epochs", "5", "--quiet"]) == 0
    assert main(["export", str(model), "--onnx", str(out)]) == 0
    # what a date input takes was said nowhere on the command line (help, output)
    assert capsys.readouterr().out == (
        f"ONNX model saved to {out} (inputs 'when', 'x'; outputs 'label', 'probabilities'); "
        "date input 'when': float64 seconds since 1970-01-01 (NaN when missing)\n"
    )
    fitted = chainrule.load(model)
    assert fitted.preprocessor_.columns_[0]["format"] == "%d/%m/%Y %H:%M"
    sess = session(onnx.load(out))
    read = chainrule.tabular.read_csv(str(tmp_path / "d.csv"))
    dates = pd.to_datetime(read["when"], format="%d/%m/%Y %H:%M")
    seconds = (dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    feeds = {"when": seconds.to_numpy(np.float64).reshape(-1, 1), "x": x.reshape(-1, 1)}
    label, proba = sess.run(None, feeds)
    np.testing.assert_allclose(proba, fitted.predict_proba(read), atol=1e-5)
    np.testing.assert_array_equal(label, fitted.predict(read))
