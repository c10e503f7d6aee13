"""Pipeline files (chainrule.pipelines): scikit-learn pipelines of known steps ending in
a chainrule estimator, saved and loaded without pickle; everything else refused."""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    StandardScaler,
)

import chainrule
import chainrule.io as cio
from chainrule import MLPClassifier, MLPRegressor, ModelFileError
from helpers import pipeline_frame as _frame
from helpers import small_pipeline as _pipeline


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_a_pipeline_round_trips_exactly_without_pickle(tmp_path):
    frame, y = _frame()
    pipe = _pipeline().fit(frame, y)
    path = tmp_path / "pipe.npz"
    assert chainrule.save(pipe, path) == path
    loaded = chainrule.load(path)
    assert type(loaded) is Pipeline
    new, _ = _frame(40, seed=1)
    new.loc[0, "colour"] = "purple"  # unseen: handle_unknown="ignore" as before
    np.testing.assert_array_equal(loaded.predict_proba(new), pipe.predict_proba(new))
    np.testing.assert_array_equal(loaded.predict(new), pipe.predict(new))
    assert repr(loaded.get_params(deep=True)) == repr(pipe.get_params(deep=True))
    np.testing.assert_array_equal(
        loaded.named_steps["prep"].get_feature_names_out(),
        pipe.named_steps["prep"].get_feature_names_out(),
    )
    with np.load(path, allow_pickle=False) as npz:  # numbers and text only
        assert sorted(set(npz.files) - {"header.json"}) == [
            "estimator.classes",
            "estimator.optimizer.m",  # the estimator's training state: warm_start goes on
            "estimator.optimizer.v",
            "estimator.params",
            "estimator.training.order",
            "estimator.training.random_state",
            "steps.0.0.mean_",
            "steps.0.0.scale_",
            "steps.0.0.var_",
            "steps.0.1.categories_.0",
            "steps.0.1.categories_.1",
            "steps.1.max_abs_",
            "steps.1.scale_",
        ]
    assert cio.read_header(path)["kind"] == "Pipeline"
    # the loaded pipeline trains on, as scikit-learn's would
    loaded.fit(frame, y)


@pytest.mark.parametrize("as_array", [False, True])
def test_more_pipelines_round_trip(tmp_path, as_array):
    frame, y = _frame()
    regression = make_pipeline(
        MinMaxScaler(feature_range=(-1, 1)),
        StandardScaler(with_mean=False),
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0),
    )
    X = frame[["size", "weight", "extra"]]
    X = X.to_numpy() if as_array else X
    regression.fit(X, frame["size"] * 2)
    columns = [0, 3] if as_array else ["size", "grade"]
    selector = [2] if as_array else make_column_selector(dtype_exclude="number")
    encoded = make_pipeline(
        ColumnTransformer(
            [
                ("n", StandardScaler(), columns),
                ("c", OneHotEncoder(drop="first", sparse_output=False), selector),
                ("gone", "drop", [4] if as_array else ["extra"]),
            ]
        ),
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0),
    )
    table = frame.to_numpy(dtype=object) if as_array else frame
    encoded.fit(table, y)
    for name, pipe, data in (("r", regression, X), ("c", encoded, table)):
        chainrule.save(pipe, tmp_path / f"{name}.npz")
        loaded = chainrule.load(tmp_path / f"{name}.npz")
        np.testing.assert_array_equal(loaded.predict(data), pipe.predict(data))
        if name == "c" and not as_array:  # a selector is saved as the columns it chose
            assert loaded[0].transformers[1][2] == ["colour"]
            loaded[0].transformers[1] = pipe[0].transformers[1]
        assert repr(loaded) == repr(pipe)


@pytest.mark.parametrize(
    "pipe, words",
    [
        (make_pipeline(PolynomialFeatures(), MLPRegressor(max_iter=5)), "'polynomialfeatures'"),
        (
            make_pipeline(
                ColumnTransformer([("fill", SimpleImputer(), ["size"])]), MLPRegressor(max_iter=5)
            ),
            "step 'columntransformer', entry 'fill' is a sklearn.impute._base.SimpleImputer",
        ),
        (
            make_pipeline(OneHotEncoder(min_frequency=3), MLPRegressor(max_iter=5)),
            "min_frequency",
        ),
        (make_pipeline(StandardScaler()), "last step 'standardscaler' is a StandardScaler"),
    ],
)
def test_unknown_steps_are_refused_by_name(tmp_path, pipe, words):
    from sklearn.neural_network import MLPRegressor as SklearnMLP

    frame, _ = _frame()
    X = frame[["size", "weight"]] if "fill" in words else frame[["size", "weight"]].to_numpy()
    pipe.fit(X, frame["extra"]) if "last step" not in words else pipe.fit(X)
    with pytest.raises(ValueError, match="cannot save this pipeline safely") as info:
        chainrule.save(pipe, tmp_path / "p.npz")
    assert words in str(info.value)
    assert "skops.io.dump(pipeline[:-1]" in str(info.value)
    sklearn_mlp = make_pipeline(StandardScaler(), SklearnMLP(max_iter=5)).fit(X, frame["extra"])
    with pytest.raises(ValueError, match="'mlpregressor' is a MLPRegressor"):
        chainrule.save(sklearn_mlp, tmp_path / "p.npz")
    assert not (tmp_path / "p.npz").exists()


def _rewrite(src, dst, change_header=None, change_members=None):
    with zipfile.ZipFile(src) as zf:
        header = json.loads(zf.read("header.json"))
        members = {n: zf.read(n) for n in zf.namelist() if n != "header.json"}
    if change_header:
        change_header(header)
    if change_members:
        change_members(members)
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for name, data in members.items():
            zf.writestr(name, data)
    return dst


def test_hostile_pipeline_files_are_refused(tmp_path):
    frame, y = _frame()
    good = tmp_path / "pipe.npz"
    chainrule.save(_pipeline().fit(frame, y), good)

    def step_class(h):
        h["steps"][1]["class_name"] = "os.system"

    def unused(h):
        h["arrays"]["steps.9.junk_"] = dict(h["arrays"]["steps.1.scale_"])

    def wide(h):
        h["steps"][0]["fitted"]["n_features_in_"] = 10**9
        del h["steps"][0]["fitted"]["feature_names_in_"]

    def classes(h):
        h["arrays"]["estimator.classes"]["shape"] = [20_000]

    def estimator_kind(h):
        h["estimator"]["kind"] = "TabularModel"

    def shape(h):
        h["steps"][1]["fitted"]["n_features_in_"] = 3

    cases = [
        (step_class, "'os.system', not a known step"),
        (unused, "not used: ['steps.9.junk_']"),
        (wide, "1,000,000,000 unnamed columns"),
        (classes, "classes (shape (20000,))"),
        (estimator_kind, "does not end in an MLPClassifier"),
        (shape, "'scale' has max_abs_ of shape (9,)"),
    ]
    for i, (change, words) in enumerate(cases):
        if change is unused:
            bad = _rewrite(good, tmp_path / f"{i}.npz", change, lambda m: m.update(
                {"steps.9.junk_.npy": m["steps.1.scale_.npy"]}))  # fmt: skip
        else:
            bad = _rewrite(good, tmp_path / f"{i}.npz", change)
        with pytest.raises(ModelFileError) as info:
            chainrule.load(bad)
        assert words in str(info.value), str(info.value)


def test_the_skops_route_for_other_steps(tmp_path):
    """What the refusal suggests: the scikit-learn part with skops (its types trusted by
    default but numpy.dtype), the chainrule estimator in a chainrule file."""
    sio = pytest.importorskip("skops.io", reason="the skops route needs skops")
    frame, _ = _frame()
    X = frame[["size", "weight"]].to_numpy()
    pipe = make_pipeline(
        SimpleImputer(), PolynomialFeatures(), StandardScaler(), MLPRegressor(max_iter=20)
    ).fit(X, frame["extra"])
    sio.dump(pipe[:-1], tmp_path / "prep.skops")
    chainrule.save(pipe[-1], tmp_path / "mlp.npz")
    assert sio.get_untrusted_types(file=tmp_path / "prep.skops") == ["numpy.dtype"]
    prep = sio.load(tmp_path / "prep.skops", trusted=["numpy.dtype"])
    again = make_pipeline(*prep, chainrule.load(tmp_path / "mlp.npz"))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))


def test_inspect_describes_the_steps_and_the_estimator(tmp_path, capsys):
    from chainrule.cli import main

    frame, y = _frame()
    chainrule.save(_pipeline().fit(frame, y), tmp_path / "pipe.npz")
    assert main(["inspect", str(tmp_path / "pipe.npz")]) == 0
    out = capsys.readouterr().out
    assert "kind Pipeline" in out
    assert (
        "scikit-learn Pipeline: prep (ColumnTransformer) -> scale (MaxAbsScaler) -> "
        "mlp (MLPClassifier)"
    ) in out
    assert "Dense(8)" in out and "solver adam" in out
