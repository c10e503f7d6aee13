"""Callbacks (chainrule.callbacks): History, EarlyStopping, ReduceLROnPlateau,
LambdaCallback, fit's line per epoch (ProgressLogger), and Checkpoint: the best epoch,
max mode, every epoch, another model, an interrupted fit, a TabularModel."""

import os
from types import SimpleNamespace

import numpy as np
import pytest

import chainrule
from chainrule import (
    Adam,
    Dense,
    EarlyStopping,
    History,
    LambdaCallback,
    Network,
    ReduceLROnPlateau,
    ReLU,
    Softmax,
)
from chainrule.callbacks import Checkpoint
from chainrule.tabular import TabularModel
from helpers import (
    binary_data,
    classification_data,
    classifier,
    first_checkpoint_save_fails,
    regression_data,
    regressor,
    tabular_frame,
)

# ---------------------------------------------------------------- History


def test_history_keys_and_lengths():
    X, y = classification_data()
    net = classifier(metrics=["accuracy"])
    history = net.fit(X, y, epochs=4, batch_size=32, validation_data=(X[:20], y[:20]))
    assert isinstance(history, History) and net.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(len(v) == 4 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3]
    assert history.history["lr"] == [0.001] * 4
    assert all(s >= 0 for s in history.history["seconds"])
    assert all(0 <= a <= 1 for a in history.history["val_accuracy"])
    assert "epochs=4" in repr(history)


def test_history_without_validation_has_no_val_keys():
    X, y = regression_data()
    history = regressor(metrics=["mae", "r2"]).fit(X, y, epochs=2)
    assert set(history.history) == {"loss", "mae", "r2", "lr", "seconds"}


# ---------------------------------------------------------------- EarlyStopping


def fake_network():
    return SimpleNamespace(params=np.zeros(2), stop_training=False)


def drive(callback, values, monitor="val_loss"):
    """Feed ``values`` to a callback epoch by epoch; return the epochs it ran."""
    callback.network = callback.network if hasattr(callback, "network") else fake_network()
    callback.on_train_begin({})
    ran = []
    for epoch, value in enumerate(values):
        callback.network.params[:] = epoch  # the weights "of" this epoch
        ran.append(epoch)
        callback.on_epoch_end(epoch, {monitor: value})
        if callback.network.stop_training:
            break
    callback.on_train_end({})
    return ran


def test_early_stopping_patience():
    stopper = EarlyStopping(patience=2)
    assert drive(stopper, [1.0, 0.5, 0.6, 0.7, 0.4]) == [0, 1, 2, 3]
    assert stopper.best == 0.5 and stopper.best_epoch == 1 and stopper.stopped_epoch == 3
    assert drive(EarlyStopping(patience=3), [1.0, 0.5, 0.6, 0.7, 0.4, 0.3]) == [0, 1, 2, 3, 4, 5]


def test_early_stopping_min_delta():
    # improvements smaller than min_delta do not count
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert drive(stopper, [1.0, 0.95, 0.91, 0.5]) == [0, 1, 2]
    assert stopper.best == 1.0
    assert drive(EarlyStopping(patience=2, min_delta=0.01), [1.0, 0.95, 0.91, 0.5]) == [0, 1, 2, 3]


def test_early_stopping_maximises_accuracy_in_auto_mode():
    stopper = EarlyStopping(monitor="val_accuracy", patience=1)
    assert drive(stopper, [0.5, 0.7, 0.6], monitor="val_accuracy") == [0, 1, 2]
    assert stopper.best == 0.7 and stopper.mode == "max"


def test_early_stopping_restores_the_best_weights_in_fit():
    # validation targets are the negated training targets: the better the fit, the
    # worse val_loss, so the best epoch is the first one
    X, y = regression_data()
    net = regressor()
    seen = []
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(net.params.copy()))
    stopper = EarlyStopping(patience=3, restore_best_weights=True)
    history = net.fit(
        X, y, epochs=50, batch_size=16, validation_data=(X, -y), callbacks=[recorder, stopper]
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 1 + 3  # stopped after `patience` epochs without improvement
    assert stopper.best_epoch == best
    np.testing.assert_array_equal(net.params, seen[best])
    assert not np.array_equal(net.params, seen[-1])
    assert net.evaluate(X, -y)["loss"] == pytest.approx(min(val), rel=1e-6)


def test_early_stopping_without_restore_keeps_the_last_weights():
    X, y = regression_data()
    net = regressor()
    seen = []
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(net.params.copy()))
    net.fit(
        X,
        y,
        epochs=50,
        batch_size=16,
        validation_data=(X, -y),
        callbacks=[recorder, EarlyStopping(patience=2)],
    )
    np.testing.assert_array_equal(net.params, seen[-1])


def test_early_stopping_on_a_value_fit_does_not_log():
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*Pass validation data"):
        regressor().fit(X, y, epochs=2, callbacks=[EarlyStopping()])


# ---------------------------------------------------------------- ReduceLROnPlateau


def test_reduce_lr_on_plateau_lowers_the_rate():
    X, y = regression_data()
    net = regressor(lr=0.05)
    reducer = ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.01)
    history = net.fit(X, y, epochs=8, batch_size=16, validation_data=(X, -y), callbacks=[reducer])
    # val_loss gets worse from epoch 1 on: after 2 bad epochs the rate halves,
    # (logged from the next epoch), and it never goes below min_lr
    assert history.history["lr"] == pytest.approx(
        [0.05, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.01]
    )
    assert net.optimizer.learning_rate == pytest.approx(0.01)


def test_reduce_lr_on_plateau_leaves_an_improving_run_alone():
    X, y = regression_data()
    history = regressor().fit(
        X,
        y,
        epochs=5,
        batch_size=16,
        validation_data=(X, y),
        callbacks=[ReduceLROnPlateau(patience=1)],
    )
    assert history.history["lr"] == [0.05] * 5


# ---------------------------------------------------------------- LambdaCallback


def test_lambda_callback_hooks_are_called():
    X, y = regression_data(n=50)
    calls = {"train_begin": 0, "epoch_begin": [], "batch_end": 0, "epoch_end": [], "train_end": 0}
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.__setitem__("train_begin", calls["train_begin"] + 1),
        on_epoch_begin=lambda epoch: calls["epoch_begin"].append(epoch),
        on_batch_end=lambda batch, logs: calls.__setitem__("batch_end", calls["batch_end"] + 1),
        on_epoch_end=lambda epoch, logs: calls["epoch_end"].append(sorted(logs)),
        on_train_end=lambda logs: calls.__setitem__("train_end", calls["train_end"] + 1),
    )
    regressor().fit(X, y, epochs=3, batch_size=16, callbacks=[callback])
    assert calls["train_begin"] == calls["train_end"] == 1
    assert calls["epoch_begin"] == [0, 1, 2]
    assert calls["batch_end"] == 3 * 4  # ceil(50 / 16) batches per epoch
    assert calls["epoch_end"] == [["loss", "lr", "seconds"]] * 3


# ---------------------------------------------------------------- ProgressLogger


def test_verbose_2_prints_one_line_per_epoch(capsys):
    X, y = regression_data()
    regressor(metrics=["mae"]).fit(X, y, epochs=3, verbose=2, validation_split=0.1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {epoch}/3 - loss ")
        assert "val_loss" in line and "mae" in line and "lr 0.05" in line


# ---------------------------------------------------------------- Checkpoint


def _overfitting_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + rng.normal(scale=1.5, size=60) > 0).astype(int)
    X_val = rng.normal(size=(200, 5))
    y_val = (X_val[:, 0] > 0).astype(int)
    net = Network(
        [Dense(64), ReLU(), Dense(64), ReLU(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer=Adam(0.01),
        metrics=["accuracy"],
        seed=0,
    )
    return net, X, y, (X_val, y_val)


def test_checkpoint_keeps_the_best_epoch(tmp_path):
    net, X, y, val = _overfitting_problem()
    snapshots = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(net.params.copy()))
    checkpoint = Checkpoint(tmp_path / "best.npz")
    history = net.fit(
        X, y, epochs=12, batch_size=16, validation_data=val, callbacks=[keep, checkpoint]
    )
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert 0 < best < 11  # the validation loss went down, then up: a real test
    assert checkpoint.best_epoch == checkpoint.saved_epoch == best
    assert checkpoint.best == val_loss[best]
    saved = chainrule.load(tmp_path / "best.npz")
    np.testing.assert_array_equal(saved.params, snapshots[best])
    assert not np.array_equal(saved.params, net.params)
    assert saved.history.epoch == list(range(best + 1))
    assert saved.history.history["val_loss"] == val_loss[: best + 1]
    assert os.listdir(tmp_path) == ["best.npz"]


def test_checkpoint_max_mode_every_epoch_and_other_model(tmp_path):
    net, X, y, val = _overfitting_problem()
    acc = Checkpoint(tmp_path / "acc.npz", monitor="val_accuracy")
    assert acc.mode == "max"
    every = Checkpoint(tmp_path / "last.npz", monitor="loss", save_best_only=False)
    other = Network([Dense(1)], loss="mse", optimizer="sgd").build(2)
    wrapped = Checkpoint(tmp_path / "other.npz", monitor="loss", model=other)
    history = net.fit(
        X, y, epochs=4, batch_size=16, validation_data=val, callbacks=[acc, every, wrapped]
    )
    scores = history.history["val_accuracy"]
    assert acc.best == max(scores) and acc.best_epoch == scores.index(max(scores))
    assert every.saved_epoch == 3
    np.testing.assert_array_equal(chainrule.load(tmp_path / "last.npz").params, net.params)
    np.testing.assert_array_equal(chainrule.load(tmp_path / "other.npz").params, other.params)


def test_checkpoint_survives_an_interrupted_fit(tmp_path):
    net, X, y, _ = _overfitting_problem()
    checkpoint = Checkpoint(tmp_path / "best.npz", monitor="loss")

    def interrupt(epoch):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.fit(
            X,
            y,
            epochs=10,
            batch_size=16,
            callbacks=[checkpoint, LambdaCallback(on_epoch_begin=interrupt)],
        )
    saved = chainrule.load(tmp_path / "best.npz")
    assert saved.history.epoch == [0, 1, 2]
    np.testing.assert_array_equal(saved.params, net.params)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="existing folder"):
        Checkpoint(tmp_path / "missing" / "m.npz")
    with pytest.raises(ValueError, match="mode"):
        Checkpoint(tmp_path / "m.npz", mode="best")
    X, y = binary_data()
    net = Network([Dense(2), Softmax()], loss="categorical_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"val_loss.*Pass validation data"):
        net.fit(X, y, epochs=1, callbacks=[Checkpoint(tmp_path / "m.npz")])
    assert os.listdir(tmp_path) == []


def test_checkpoint_saves_a_usable_tabular_model(tmp_path):
    frame = tabular_frame(100)
    model = TabularModel("label", epochs=5, patience=None, seed=0)
    path = tmp_path / "last.npz"
    model.fit(frame, callbacks=[Checkpoint(path, model=model, save_best_only=False)])
    saved = chainrule.load(path)
    assert isinstance(saved, TabularModel)
    assert len(saved.history_.history["loss"]) == 5
    np.testing.assert_array_equal(saved.predict_proba(frame), model.predict_proba(frame))


# ---------------------------------------------------------------- state for resuming


def test_state_is_there_before_training_and_round_trips():
    """Every attribute a caller reads exists from the constructor on (Ctrl-C can land
    before on_train_begin), and get_state / set_state carry the state over."""
    stop = EarlyStopping(patience=2, restore_best_weights=True)
    assert stop.stopped_epoch is None and stop.best_epoch is None and stop.wait == 0
    assert Checkpoint("ck.npz").saved_epoch is None
    net, X, y, val = _overfitting_problem()
    plateau = ReduceLROnPlateau(patience=1, factor=0.5)
    net.fit(X, y, epochs=4, batch_size=16, validation_data=val, callbacks=[stop, plateau])
    assert stop.state_key == 'EarlyStopping{"mode": "min", "monitor": "val_loss"}'
    state = stop.get_state()
    assert set(state) == {"best", "best_epoch", "wait", "best_weights"}
    assert state["best"] == stop.best and state["wait"] == stop.wait
    again = EarlyStopping(patience=2, restore_best_weights=True)
    again.network = net
    again.set_state(state)
    assert (again.best, again.best_epoch, again.wait) == (stop.best, stop.best_epoch, stop.wait)
    np.testing.assert_array_equal(again.best_weights, stop.best_weights)
    fresh = ReduceLROnPlateau()
    fresh.set_state(EarlyStopping().get_state())  # before any epoch: best is null (infinite)
    assert fresh.best == np.inf and fresh.best_epoch is None


@pytest.mark.parametrize(
    "state, needle",
    [
        ({"best": "x", "best_epoch": 0, "wait": 0}, "best must be a number or null"),
        ({"best": 1.0, "best_epoch": -1, "wait": 0}, "best_epoch must be an integer >= 0"),
        ({"best": 1.0, "best_epoch": 0, "wait": True}, "wait must be an integer >= 0"),
        ({"best": 1.0, "best_epoch": 0, "wait": 0, "saved_epoch": "1"}, "saved_epoch must be"),
    ],
)
def test_set_state_checks_what_a_file_says(state, needle):
    with pytest.raises(ValueError, match=needle):
        Checkpoint("ck.npz").set_state(state)


def test_a_failed_checkpoint_save_warns_and_is_tried_again(tmp_path, monkeypatch):
    """Disk full during training: warn naming the checkpoint, train on, save next epoch."""
    calls = first_checkpoint_save_fails(monkeypatch, OSError(28, "No space left on device"))
    net, X, y, _ = _overfitting_problem()
    path = tmp_path / "ck.npz"
    checkpoint = Checkpoint(path, monitor="loss", save_best_only=False)
    with pytest.warns(UserWarning) as caught:
        history = net.fit(X, y, epochs=3, batch_size=16, callbacks=[checkpoint])
    assert history.epoch == [0, 1, 2]  # training went on
    (warning,) = caught
    assert str(warning.message) == (
        f"could not save the checkpoint {str(path)!r} after epoch 1 (No space left on "
        "device); training goes on and the next epoch tries again"
    )
    assert len(calls) == 3 and checkpoint.saved_epoch == 2
    assert chainrule.load(path).history.epoch == [0, 1, 2]


def test_a_failed_best_only_save_is_tried_again_at_the_next_epoch(tmp_path, monkeypatch):
    calls = first_checkpoint_save_fails(monkeypatch, PermissionError(13, "Permission denied"))
    net, X, _, _ = _overfitting_problem()
    net.build(X.shape[1])
    checkpoint = Checkpoint(tmp_path / "ck.npz", monitor="loss")
    # a checkpoint whose loss only rises after epoch 0: the retry must not wait for a
    # better epoch that never comes
    losses = iter([1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="Permission denied"):
        for epoch in range(3):
            checkpoint.network = net
            checkpoint.on_epoch_end(epoch, {"loss": next(losses)})
    assert checkpoint.saved_epoch == 1 and checkpoint.best_epoch == 0 and len(calls) == 2


def test_epoch_bar_ends_cleanly_when_training_never_began():
    """Ctrl-C before on_train_begin: on_train_end still runs (in the loop's finally)."""
    from chainrule.callbacks import EpochBar

    bar = EpochBar(10, "accuracy", initial=4)
    bar.on_train_end({})  # AttributeError: 'EpochBar' object has no attribute 'bar', before
    assert bar.bar is None
