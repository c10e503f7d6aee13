"""What the command line reports (chainrule.report): describe_model on a saved Network
(trained, and built but never trained) and on saved scikit-learn estimators (adam with
its loss curve, with early stopping, and lbfgs without a curve), and describe_training's
summary of a fitted TabularModel, with and without early stopping. The ``chainrule
inspect`` command itself is tested in test_cli.py."""

import warnings

import numpy as np
import pytest

import chainrule
from chainrule import Dense, Network, ReLU, Softmax
from chainrule.io import read_header
from chainrule.report import describe_model, describe_training, printable, spreadsheet_safe
from chainrule.tabular import TabularModel
from helpers import binary_data, tabular_frame


def _report(model, path):
    """The lines ``chainrule inspect`` prints for ``model`` saved to ``path``."""
    model.save(path)
    return describe_model(chainrule.load(path), read_header(path), str(path)).splitlines()


def _network():
    return Network(
        [Dense(4), ReLU(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        seed=0,
    )


def _after(lines, heading):
    return lines[lines.index(heading) + 1 :]


# ---------------------------------------------------------------- describe_model


def test_describe_model_of_a_saved_network(tmp_path):
    X, y = binary_data()
    net = _network()
    net.fit(X, y, epochs=3, batch_size=8, validation_split=0.25)
    path = tmp_path / "net.npz"
    lines = _report(net, path)
    assert lines[:3] == [
        f"model file: {path}",
        f"  format chainrule-model version 1, written by chainrule {chainrule.__version__}; "
        "kind Network",
        "",
    ]
    summary = ["  " + line for line in net.summary(print_fn=None).splitlines()]
    assert _after(lines, "network:")[: len(summary)] == summary
    assert "  Input features: 3; loss: categorical_crossentropy; optimizer: Adam(" in "\n".join(
        lines
    )
    assert not any(line.startswith("settings:") for line in lines)
    history = net.history.history
    loss, val_loss, val_accuracy = history["loss"], history["val_loss"], history["val_accuracy"]
    best = int(np.argmin(val_loss))
    assert _after(lines, "history:") == [
        f"  3 epochs; training loss {loss[0]:.4f} -> {loss[-1]:.4f}",
        f"  best validation loss {val_loss[best]:.4f} at epoch {best + 1} "
        f"(val_accuracy {val_accuracy[best]:.4f})",
    ]

    untrained = _report(_network().build(3), tmp_path / "untrained.npz")
    assert _after(untrained, "history:") == ["  none recorded"]


def test_describe_model_of_a_saved_mlp_classifier(tmp_path):
    pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")
    from sklearn.exceptions import ConvergenceWarning

    from chainrule.estimators import MLPClassifier

    X, y = binary_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
        stopped = MLPClassifier(
            hidden_layer_sizes=(5,), max_iter=8, early_stopping=True, random_state=0
        ).fit(X, y)
    lines = _report(clf, tmp_path / "clf.npz")
    assert lines[1].endswith("; kind MLPClassifier")
    assert "  Dense(5)  (None, 5)         20" in lines
    # the estimator's solver trains the network, not the network's optimizer
    assert any(
        line.startswith("  Input features: 3;") and line.endswith("; solver: adam")
        for line in lines
    )
    assert not any("optimizer:" in line for line in lines)
    (settings,) = [line for line in lines if line.startswith("settings: ")]
    assert "hidden_layer_sizes=(5,)" in settings and "max_iter=5" in settings
    assert settings == "settings: " + ", ".join(
        f"{k}={v!r}" for k, v in sorted(clf.get_params().items())
    )
    curve = clf.loss_curve_
    assert _after(lines, "history:") == [
        f"  solver adam: 5 epochs; training loss {curve[0]:.4f} -> {curve[-1]:.4f}",
        f"  lowest training loss {clf.best_loss_:.4f}",
    ]

    scores = stopped.validation_scores_
    best = int(np.argmax(scores))
    assert _after(_report(stopped, tmp_path / "stopped.npz"), "history:") == [
        f"  solver adam: {len(stopped.loss_curve_)} epochs; training loss "
        f"{stopped.loss_curve_[0]:.4f} -> {stopped.loss_curve_[-1]:.4f}",
        f"  best validation score {scores[best]:.4f} at epoch {best + 1} (those weights are kept)",
    ]


def test_describe_model_of_an_lbfgs_regressor_without_a_curve(tmp_path):
    pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")
    from sklearn.exceptions import ConvergenceWarning

    from chainrule.estimators import MLPRegressor

    X, _ = binary_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=5, random_state=0).fit(
            X, X[:, 0]
        )
    lines = _report(reg, tmp_path / "reg.npz")
    assert lines[1].endswith("; kind MLPRegressor")
    assert any(line.endswith("; solver: lbfgs") for line in lines)
    assert _after(lines, "history:") == [
        f"  solver lbfgs: {reg.n_iter_} iterations, final training loss {reg.loss_:.4f} "
        "(lbfgs records no per-iteration curve, as scikit-learn)"
    ]


def test_describe_model_says_patience_as_the_command_line_takes_it(tmp_path):
    # "--patience 0" (off) was shown as "patience None"
    model = TabularModel("label", hidden=(4,), epochs=2, patience=None, seed=0)
    lines = _report(model.fit(tabular_frame(60)), tmp_path / "m.npz")
    assert _after(lines, "training settings:")[1] == (
        "  epochs 2, batch size 32, validation fraction 0.2, patience 0 (no early stopping), "
        "seed 0, impute no"
    )


# ---------------------------------------------------------------- describe_training


def test_describe_training_of_a_fitted_tabular_model():
    model = TabularModel("label", hidden=(8,), epochs=5, patience=None, seed=0).fit(
        tabular_frame(100)
    )
    settings = {"activation": "relu", "epochs": 5, "patience": None, "out": "fruit.npz"}
    best = model.training_["best"]
    assert describe_training(model, settings, 1.5) == [
        "data: 100 rows, 3 input columns (1 text) -> 5 features; 80 rows to train, 20 to validate",
        "network: 5 -> 8 -> 2 (relu hidden layers), 66 parameters",
        "trained 5 of 5 epochs in 1.50 s",
        f"lowest validation loss {best['val_loss']:.4f} at epoch "
        f"{model.training_['best_epoch']} (accuracy there {best['val_accuracy']:.4f}); "
        "the last epoch's are kept",
        "model saved to fruit.npz",
    ]


def test_describe_training_of_a_resumed_run_says_which_epochs_it_ran():
    # the defect: resumed at epoch 5 of 300, the summary read "trained 300 of 300 epochs
    # in 11.07 s", the seconds being those of epochs 5 to 300 only
    frame = tabular_frame(100)
    model = TabularModel("label", hidden=(8,), epochs=4, patience=None, seed=0).fit(frame)
    model.resume(frame, epochs=7)
    settings = {"activation": "relu", "epochs": 7, "patience": None, "out": "m.npz"}
    lines = describe_training(model, {**settings, "resumed_at": 4}, 0.5)
    assert lines[2] == "trained 7 of 7 epochs (epochs 5 to 7 in this run, 0.50 s)"
    lines = describe_training(model, {**settings, "resumed_at": 6}, 0.5)
    assert lines[2] == "trained 7 of 7 epochs (epoch 7 in this run, 0.50 s)"
    assert describe_training(model, settings, 0.5)[2] == "trained 7 of 7 epochs in 0.50 s"
    model.training_["early_stopped"] = True
    lines = describe_training(model, {**settings, "patience": 2, "resumed_at": 4}, 0.5)
    assert lines[2] == (
        "trained 7 of 7 epochs (epochs 5 to 7 in this run, 0.50 s; early stopping after 2 "
        "epochs without improvement)"
    )


def test_describe_training_names_the_metric_that_chose_the_epoch():
    # the defect: "best validation accuracy 0.8033 at epoch 80" was the accuracy at the
    # lowest-loss epoch, while the history's best accuracy was 0.8361 at epoch 89
    model = TabularModel("label", hidden=(2,), epochs=30, patience=None, seed=0).fit(
        tabular_frame(100)
    )
    history = model.network_.history.history
    lowest = int(np.argmin(history["val_loss"]))
    highest = int(np.argmax(history["val_accuracy"]))
    # the case the old line got wrong
    assert history["val_accuracy"][highest] > history["val_accuracy"][lowest]
    settings = {"activation": "relu", "epochs": 30, "patience": None, "out": "m.npz"}
    lines = describe_training(model, settings, 1.0)
    assert lines[3].startswith(
        f"lowest validation loss {history['val_loss'][lowest]:.4f} at epoch {lowest + 1} "
        f"(accuracy there {history['val_accuracy'][lowest]:.4f})"
    )
    assert lines[4] == (
        f"highest validation accuracy {history['val_accuracy'][highest]:.4f} at epoch {highest + 1}"
    )


def test_describe_training_scores_the_last_epoch_it_keeps():
    # without early stopping the last epoch's weights are saved, but only the
    # lowest-loss epoch's scores were said, which the saved model does not have
    model = TabularModel(
        "label", hidden=(8,), epochs=40, patience=None, learning_rate=0.1, seed=0
    ).fit(tabular_frame(100))
    history = model.network_.history.history
    assert model.training_["best_epoch"] == 30  # not the last
    settings = {"activation": "relu", "epochs": 40, "patience": None, "out": "m.npz"}
    assert describe_training(model, settings, 1.0)[3].endswith(
        "; the last epoch's are kept (epoch 40: validation loss "
        f"{history['val_loss'][-1]:.4f}, accuracy {history['val_accuracy'][-1]:.4f})"
    )


def test_regression_losses_are_given_in_the_targets_units_too():
    rng = np.random.default_rng(0)
    frame = tabular_frame(200)
    frame["price"] = 1000 + 300 * rng.normal(size=200)
    model = TabularModel("price", task="regress", hidden=(4,), epochs=5, seed=0).fit(
        frame.drop(columns="label")
    )
    settings = {"activation": "relu", "epochs": 5, "patience": 10, "out": "m.npz"}
    lines = describe_training(model, settings, 1.0)
    loss = model.training_["best"]["val_loss"]
    rmse = np.sqrt(loss) * model.preprocessor_.target_scale_
    assert 200 < model.preprocessor_.target_scale_ < 400
    assert lines[4] == (
        f"  (losses are on the standardised target: {loss:.4f} is an RMSE of {rmse:.5g} "
        "in 'price' units)"
    )


def test_describe_training_after_early_stopping():
    model = TabularModel(
        "label", hidden=(), epochs=400, patience=2, learning_rate=0.05, seed=0
    ).fit(tabular_frame(100))
    info = model.training_
    assert info["early_stopped"] and info["epochs_run"] < 400
    settings = {"activation": "relu", "epochs": 400, "patience": 2, "out": "m.npz"}
    lines = describe_training(model, settings, 0.25)
    assert lines[1] == "network: 5 -> 2 (no hidden layer), 12 parameters"
    assert lines[2] == (
        f"trained {info['epochs_run']} of 400 epochs in 0.25 s "
        "(early stopping after 2 epochs without improvement)"
    )
    assert lines[3].startswith(f"lowest validation loss {info['best']['val_loss']:.4f} at epoch ")
    assert f"at epoch {info['best_epoch']} (accuracy there " in lines[3]
    assert lines[3].endswith("; those weights are kept")


def test_spreadsheet_safe_follows_owasp_and_printable_escapes_controls():
    for cell in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "-", "+"):
        assert spreadsheet_safe(cell) == "'" + cell
    for cell in ("-5", "-1.5e3", "+2", ".5", "plum", "", "a=b", 3, -2.5, None):
        assert spreadsheet_safe(cell) == cell
    assert printable("a\x1b[31mb\rc\u202ed\ne\tf") == "a\\x1b[31mb\\rc\\u202ed\ne\tf"
