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
