"""The TabularModel (chainrule.tabular) end to end: a classifier and a regressor learn,
predict in the original labels and units and round-trip through model files; the
stratified validation split, early stopping, the settings it refuses, parse_hidden,
and its evaluate loss against the network's and scikit-learn's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error

import chainrule
import chainrule.io
from chainrule.dates import DATE_PARTS
from chainrule.errors import DataError
from chainrule.tabular import TabularModel, parse_hidden
from helpers import tabular_frame

# ---------------------------------------------------------------- TabularModel


def test_classifier_learns_predicts_labels_and_round_trips(tmp_path):
    frame = tabular_frame(300)
    model = TabularModel("label", epochs=60, seed=1).fit(frame)
    assert model.task_ == "classify"
    assert list(model.classes_) == ["no", "yes"]
    assert model.training_["train_rows"] == 240 and model.training_["validation_rows"] == 60
    scores = model.evaluate(frame)
    assert scores["accuracy"] > 0.93
    predicted = model.predict(frame)
    assert set(predicted) <= {"no", "yes"}
    assert np.mean(predicted == frame["label"]) == pytest.approx(scores["accuracy"])
    proba = model.predict_proba(frame)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    model.save(tmp_path / "m.npz")
    loaded = chainrule.load(tmp_path / "m.npz")
    assert isinstance(loaded, TabularModel)
    np.testing.assert_array_equal(loaded.predict_proba(frame), proba)
    assert loaded.history_.history["loss"] == model.history_.history["loss"]
    assert loaded.training_["epochs_run"] == model.training_["epochs_run"]


def test_regressor_predicts_in_original_units():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.uniform(-2, 2, 300), "kind": rng.choice(["a", "b"], 300)})
    frame["price"] = 1000 + 250 * frame["x"] + np.where(frame["kind"] == "a", 300, 0)
    model = TabularModel("price", epochs=150, learning_rate=0.01, seed=0).fit(frame)
    assert model.task_ == "regress"
    scores = model.evaluate(frame)
    assert scores["r2"] > 0.98
    predicted = model.predict(frame)
    assert abs(np.mean(predicted) - frame["price"].mean()) < 20
    assert scores["mse"] == pytest.approx(mean_squared_error(frame["price"], predicted))
    with pytest.raises(ValueError, match="needs a classifier"):
        model.predict_proba(frame)


def test_validation_split_is_stratified_and_seeded():
    frame = tabular_frame(101)
    frame["label"] = ["rare"] * 5 + ["common"] * 96
    a = TabularModel("label", epochs=2, validation_fraction=0.2, seed=3).fit(frame)
    b = TabularModel("label", epochs=2, validation_fraction=0.2, seed=3).fit(frame)
    # round(0.2 * 5) = 1 rare and round(0.2 * 96) = 19 common rows held out
    assert a.training_["validation_rows"] == 20
    np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))
    with pytest.raises(ValueError, match="leaves no validation rows"):
        TabularModel("label", validation_fraction=0.2).fit(
            frame.head(3).assign(label=["x", "y", "z"])
        )


def test_early_stopping_keeps_the_best_epoch():
    model = TabularModel("label", epochs=400, patience=3, learning_rate=0.05, seed=0)
    model.fit(tabular_frame(120))
    info = model.training_
    assert info["early_stopped"] and info["epochs_run"] < 400
    val = model.history_.history["val_loss"]
    assert info["best_epoch"] == int(np.argmin(val)) + 1


def test_bad_settings_are_refused():
    frame = tabular_frame(30)
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        TabularModel("label", activation="nope", epochs=1).fit(frame)
    with pytest.raises(ValueError, match="for output layers"):
        TabularModel("label", activation="softmax", epochs=1).fit(frame)
    with pytest.raises(ValueError, match=r"unknown optimizer 'fast'.*'adam'"):
        TabularModel("label", optimizer="fast", epochs=1).fit(frame)
    with pytest.raises(ValueError, match="task must be one of"):
        TabularModel("label", task="cluster").fit(frame)
    with pytest.raises(ValueError, match="only one value"):
        TabularModel("label", epochs=1).fit(frame.assign(label="same"))
    with pytest.raises(ValueError, match="not fitted"):
        TabularModel("label").predict(frame)


# ---------------------------------------------------------------- review fixes


def test_parse_hidden_accepts_sizes_and_none_only():
    assert parse_hidden("64,32") == parse_hidden(" 64, 32 ") == parse_hidden([64, 32]) == (64, 32)
    assert parse_hidden(8) == parse_hidden(np.int64(8)) == (8,)
    assert parse_hidden("none") == parse_hidden("") == parse_hidden(()) == parse_hidden([]) == ()
    for bad in ("0", 0, [0], -1, "8,-2", "64,x", [1.5], True, "64,,32"):
        with pytest.raises((ValueError, TypeError)):
            parse_hidden(bad)
    with pytest.raises(ValueError, match=r"positive integers.*received 0"):
        TabularModel("label", hidden=0, epochs=1).fit(tabular_frame(20))


def test_seed_is_checked():
    with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
        TabularModel("label", seed=-1, epochs=1).fit(tabular_frame(20))


def test_evaluate_loss_is_the_networks_and_scikit_learns_log_loss():
    from sklearn.metrics import log_loss

    frame = tabular_frame(120)
    model = TabularModel("label", epochs=5, seed=0).fit(frame)
    scores = model.evaluate(frame)
    proba = model.predict_proba(frame)
    proba /= proba.sum(axis=1, keepdims=True)  # float32 sums are 1 to ~1e-7
    assert scores["loss"] == pytest.approx(log_loss(frame["label"], proba), rel=1e-5)
    X = model.preprocessor_.transform(frame)
    y = model.preprocessor_.encode_target(frame)
    assert scores["loss"] == model.network_.evaluate(X, y)["loss"]


def test_l1_reaches_the_network_its_loss_and_its_weights():
    from sklearn.metrics import log_loss

    frame = tabular_frame(120)
    plain = TabularModel("label", epochs=5, seed=0).fit(frame)
    model = TabularModel("label", epochs=5, seed=0, l1=0.01).fit(frame)
    assert model.network_.l1 == 0.01 and plain.network_.l1 == 0.0
    assert model.get_config()["l1"] == 0.01
    # the same seed, split and batches: only the penalty makes the weights differ
    assert model.network_.params.shape == plain.network_.params.shape
    assert not np.allclose(model.network_.params, plain.network_.params)
    # the loss is the cross-entropy plus 0.01 * sum(|W|), as with l2's penalty
    scores = model.evaluate(frame)
    proba = model.predict_proba(frame)
    proba /= proba.sum(axis=1, keepdims=True)
    weights = model.network_.params[: model.network_.n_weights].astype(np.float64)
    penalty = 0.01 * np.abs(weights).sum()
    assert penalty > 0.01
    assert scores["loss"] == pytest.approx(log_loss(frame["label"], proba) + penalty, rel=1e-5)
    with pytest.raises(ValueError, match=r"l1 must be a finite number >= 0; received l1=-1"):
        TabularModel("label", l1=-1, epochs=1).fit(frame)


# ---------------------------------------------------------------- resume


def test_resume_from_a_checkpoint_equals_one_run(tmp_path):
    from threadpoolctl import threadpool_limits

    from chainrule import Checkpoint

    frame = tabular_frame(300)
    with threadpool_limits(1):
        whole = TabularModel("label", epochs=12, patience=3, seed=1).fit(frame)
        part = TabularModel("label", epochs=5, patience=3, seed=1)
        part.fit(
            frame, callbacks=[Checkpoint(tmp_path / "ck.npz", save_best_only=False, model=part)]
        )
        resumed = chainrule.load(tmp_path / "ck.npz").resume(frame, epochs=12)
    np.testing.assert_array_equal(resumed.network_.params, whole.network_.params)
    assert resumed.history_.history["val_loss"] == whole.history_.history["val_loss"]
    assert resumed.training_["resumed_at_epoch"] == 5
    for key in ("epochs_run", "best_epoch", "best", "early_stopped", "data_sha256"):
        assert resumed.training_[key] == whole.training_[key]


def test_resume_refuses_other_data_naming_what_differs(tmp_path):
    frame = tabular_frame(200)
    model = TabularModel("label", epochs=3, seed=1).fit(frame)
    model.save(tmp_path / "m.npz")

    def refused(data, needle):
        with pytest.raises(chainrule.DataError, match=needle):
            chainrule.load(tmp_path / "m.npz").resume(data, epochs=6)

    refused(frame.head(150), "trained on 200 rows; this data has 150")
    shifted = frame.assign(b=frame["b"] + 1.0)
    refused(shifted, r"column 'b' differs \(.*mean")
    swapped = frame.copy()
    swapped.loc[[0, 1], "a"] = frame.loc[[1, 0], "a"].to_numpy()
    refused(swapped, "the rows differ from those the run trained on")
    with pytest.raises(ValueError, match="has trained 3 epochs already; epochs is the total"):
        chainrule.load(tmp_path / "m.npz").resume(frame, epochs=3)


# ---------------------------------------------------------------- dates, extreme values


def _dated(n=120, seed=0):
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    when += pd.to_timedelta(rng.integers(0, 24 * 60, n), unit="min")
    x = rng.normal(size=n)
    label = np.where(x + (when.month > 6) > 0.5, "yes", "no")
    return pd.DataFrame({"when": when.strftime("%Y-%m-%d %H:%M"), "x": x, "label": label})


def test_date_columns_round_trip_through_the_model_file(tmp_path):
    frame = _dated()
    with pytest.warns(UserWarning, match="'when' holds a different date in every row"):
        model = TabularModel("label", epochs=5, seed=0).fit(frame)
    (col, _) = model.preprocessor_.columns_
    assert col["kind"] == "datetime" and col["format"] == "%Y-%m-%d %H:%M"
    assert [p["part"] for p in col["parts"]] == list(DATE_PARTS)
    model.save(tmp_path / "m.npz")
    loaded = chainrule.load(tmp_path / "m.npz")
    assert loaded.preprocessor_.columns_ == model.preprocessor_.columns_
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    header = chainrule.io.read_header(tmp_path / "m.npz")
    assert header["preprocessing"]["fitted"]["columns"][0]["kind"] == "datetime"


def test_a_value_beyond_float32_after_scaling_is_a_data_error_naming_column_and_row():
    frame = tabular_frame(100)
    model = TabularModel("label", epochs=2, seed=0).fit(frame)
    new = frame.head(3).copy()
    new.index = [2, 3, 4]
    new.loc[3, "a"] = 1e308  # overflowed float32 into an internal error
    with pytest.raises(DataError, match=r"column 'a': row 3 holds a value too large.*1e\+308"):
        model.predict(new)
    new.loc[3, "a"] = 50.0  # far outside the training range, still a prediction
    assert len(model.predict(new)) == 3
