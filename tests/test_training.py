"""The fit loop: reproducibility, History, callbacks, validation, verbosity, evaluate."""

from types import SimpleNamespace

import numpy as np
import pytest

from chainrule import (
    SGD,
    Dense,
    Dropout,
    EarlyStopping,
    History,
    LambdaCallback,
    Network,
    ReduceLROnPlateau,
    ReLU,
    Softmax,
    Tanh,
)


def regression_data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    return X, y


def classification_data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def regressor(seed=0, lr=0.05, **kwargs):
    return Network([Dense(8), Tanh(), Dense(1)], loss="mse", optimizer=SGD(lr), seed=seed, **kwargs)


def classifier(seed=0, **kwargs):
    return Network(
        [Dense(16), ReLU(), Dropout(0.1), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=seed,
        **kwargs,
    )


# ---------------------------------------------------------------- reproducibility


def test_same_seed_gives_identical_weights_after_fit():
    X, y = classification_data()
    a, b, c = classifier(seed=5), classifier(seed=5), classifier(seed=6)
    for net in (a, b, c):
        net.fit(X, y, epochs=3, batch_size=16)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.history.history["loss"] == b.history.history["loss"]
    assert not np.array_equal(a.params, c.params)


def test_training_lowers_the_loss():
    X, y = regression_data()
    history = regressor().fit(X, y, epochs=20, batch_size=16)
    loss = history.history["loss"]
    assert loss[-1] < 0.1 * loss[0]


def test_fit_accepts_lists_and_a_batch_larger_than_the_data():
    X, y = regression_data(n=10)
    net = regressor()
    history = net.fit(X.tolist(), y.tolist(), epochs=2, batch_size=100)
    assert len(history.history["loss"]) == 2
    assert net.params.dtype == np.float32


def test_fit_twice_continues_training():
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=5, batch_size=16)
    first = net.evaluate(X, y)["loss"]
    net.fit(X, y, epochs=5, batch_size=16)
    assert net.evaluate(X, y)["loss"] < first


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


def test_training_metric_is_the_mean_over_the_epoch():
    # with shuffle off, lr tiny and no dropout, the epoch's accuracy is the accuracy
    # of the (practically unchanged) network on all samples
    X, y = classification_data()
    net = Network(
        [Dense(8), Tanh(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer=SGD(1e-12),
        metrics=["accuracy"],
        dtype="float64",
        seed=0,
    )
    net.build(4)
    before = net.evaluate(X, y)
    history = net.fit(X, y, epochs=1, batch_size=16, shuffle=False)
    assert history.history["accuracy"][0] == pytest.approx(before["accuracy"])
    assert history.history["loss"][0] == pytest.approx(before["loss"], rel=1e-9)


# ---------------------------------------------------------------- validation


def test_validation_split_holds_out_the_last_samples():
    X, y = regression_data(n=50)
    a = regressor(seed=1)
    ha = a.fit(X, y, epochs=3, batch_size=8, validation_split=0.2)
    b = regressor(seed=1)
    hb = b.fit(X[:40], y[:40], epochs=3, batch_size=8, validation_data=(X[40:], y[40:]))
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.history["val_loss"] == hb.history["val_loss"]
    assert ha.history["val_loss"][-1] == pytest.approx(a.evaluate(X[40:], y[40:])["loss"], rel=1e-6)


def test_validation_data_is_scored_with_the_end_of_epoch_weights():
    X, y = classification_data()
    net = classifier(metrics=["accuracy"], dtype="float64")
    history = net.fit(X[:60], y[:60], epochs=2, batch_size=16, validation_data=(X[60:], y[60:]))
    scores = net.evaluate(X[60:], y[60:])
    assert history.history["val_loss"][-1] == pytest.approx(scores["loss"], rel=1e-12)
    assert history.history["val_accuracy"][-1] == pytest.approx(scores["accuracy"])


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


# ---------------------------------------------------------------- verbose


def test_verbose_0_prints_nothing(capsys):
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=3, verbose=0, validation_split=0.1)
    net.evaluate(X, y, verbose=0)
    net.predict(X, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_2_prints_one_line_per_epoch(capsys):
    X, y = regression_data()
    regressor(metrics=["mae"]).fit(X, y, epochs=3, verbose=2, validation_split=0.1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {epoch}/3 - loss ")
        assert "val_loss" in line and "mae" in line and "lr 0.05" in line


def test_verbose_1_shows_progress(capsys):
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss" in out
    net.evaluate(X, y, verbose=1)
    assert "evaluate" in capsys.readouterr().out
    net.predict(X, verbose=1)
    assert "predict" in capsys.readouterr().out


@pytest.mark.parametrize("verbose", [3, -1, True, "1"])
def test_verbose_must_be_0_1_or_2(verbose):
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\), 1 .* or 2"):
        regressor().fit(X, y, verbose=verbose)


# ---------------------------------------------------------------- evaluate


def test_evaluate_by_hand_classification():
    X, y = classification_data()
    net = classifier(metrics=["accuracy"], dtype="float64", l2=0.01)
    net.fit(X, y, epochs=3, batch_size=16)
    proba = net.predict(X)
    cross_entropy = -np.mean(np.log(proba[np.arange(len(y)), y]))
    weights = net.get_weights()
    penalty = 0.5 * 0.01 * sum(np.sum(w**2) for w in weights[::2])
    scores = net.evaluate(X, y, batch_size=17)
    assert set(scores) == {"loss", "accuracy"}
    assert scores["loss"] == pytest.approx(cross_entropy + penalty, rel=1e-10)
    assert scores["accuracy"] == pytest.approx(np.mean(proba.argmax(axis=1) == y))


def test_evaluate_by_hand_regression_with_sample_weight():
    X, y = regression_data()
    net = regressor(dtype="float64", metrics=["mse", "mae", "r2"])
    net.fit(X, y, epochs=3)
    pred = net.predict(X)[:, 0]
    w = np.linspace(0.5, 2.0, len(y))
    scores = net.evaluate(X, y, sample_weight=w, batch_size=30)
    assert scores["loss"] == pytest.approx(np.sum(w * (pred - y) ** 2) / np.sum(w), rel=1e-12)
    plain = net.evaluate(X, y)
    assert plain["loss"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)
    assert plain["mse"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-12)
    assert plain["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-12)
    assert plain["r2"] == pytest.approx(1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2))


def test_sample_weight_zero_samples_do_not_count():
    # one step of full-batch SGD: zero-weight samples change nothing
    X, y = regression_data(n=20)
    y_noisy = y.copy()
    y_noisy[10:] = 1000.0
    w = np.r_[np.ones(10), np.zeros(10)]
    a, b = regressor(dtype="float64"), regressor(dtype="float64")
    a.fit(X, y_noisy, epochs=1, batch_size=20, sample_weight=w, shuffle=False)
    b.fit(X[:10], y[:10], epochs=1, batch_size=20, shuffle=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)


# ---------------------------------------------------------------- the caller's data


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_never_modifies_the_callers_arrays(shuffle):
    # float32 C-contiguous X is used without a copy: the layers must not write into it
    X, y = regression_data()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    X0, y0 = X32.copy(), y32.copy()
    net = Network(
        [Dropout(0.2), ReLU(), Dense(8), Tanh(), Dropout(0.2), Dense(1)],
        loss="mse",
        optimizer="adam",
        seed=0,
    )
    net.fit(X32, y32, epochs=2, batch_size=16, shuffle=shuffle)
    net.predict(X32)
    net.evaluate(X32, y32)
    np.testing.assert_array_equal(X32, X0)
    np.testing.assert_array_equal(y32, y0)


def test_predict_returns_a_fresh_array():
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=1)
    first = net.predict(X[:5])
    kept = first.copy()
    net.predict(X[5:10])
    np.testing.assert_array_equal(first, kept)


# ---------------------------------------------------------------- callbacks and epochs


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


def test_initial_epoch_continues_the_schedule():
    from chainrule import StepDecay

    X, y = regression_data()
    net = Network([Dense(1)], loss="mse", optimizer=SGD(StepDecay(0.1, 1, 0.5)), seed=0)
    history = net.fit(X, y, epochs=2, initial_epoch=3)
    assert history.epoch == [3, 4]
    assert history.history["lr"] == pytest.approx([0.0125, 0.00625])


def test_sample_weight_with_validation_split():
    X, y = regression_data(n=40)
    w = np.linspace(0.1, 1.0, 40)
    a = regressor(seed=3)
    a.fit(X, y, epochs=2, batch_size=8, sample_weight=w, validation_split=0.25)
    b = regressor(seed=3)
    b.fit(
        X[:30],
        y[:30],
        epochs=2,
        batch_size=8,
        sample_weight=w[:30],
        validation_data=(X[30:], y[30:]),
    )
    np.testing.assert_array_equal(a.params, b.params)


def test_progress_bar_without_tqdm(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # importing it now fails
    X, y = regression_data()
    regressor().fit(X, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2 [" in out and "5/5" in out and "loss" in out


# ---------------------------------------------------------------- the batch-source seam


class ChunkSource:
    """Batches read chunk by chunk, in order: the shape of a reader of a file larger
    than memory (here, slices of an array standing in for the file)."""

    def __init__(self, X, y, rows_per_batch):
        self.X, self.y, self.rows = X, y, rows_per_batch
        self.epochs = 0

    def __iter__(self):
        self.epochs += 1
        for start in range(0, len(self.X), self.rows):
            stop = start + self.rows
            yield self.X[start:stop], self.y[start:stop], None


def test_the_loop_trains_from_any_batch_source():
    # no len(), no random access: the loop asks nothing but an iteration per epoch
    from chainrule.training import ArrayBatches, train

    X, y = regression_data()
    X = X.astype(np.float32)
    target = y.reshape(-1, 1).astype(np.float32)
    source = ChunkSource(X, target, 16)
    net = regressor().build(X.shape[1])
    history = train(net, source, epochs=4)
    assert source.epochs == 4
    assert history.history["loss"][-1] < history.history["loss"][0]
    # the same batches through ArrayBatches give the same network
    twin = regressor().build(X.shape[1])
    train(twin, ArrayBatches(X, target, batch_size=16, shuffle=False), epochs=4)
    np.testing.assert_array_equal(twin.params, net.params)


def test_a_memory_mapped_array_trains_as_the_array_does(tmp_path):
    X, y = regression_data()
    np.save(tmp_path / "X.npy", X.astype(np.float32))
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    on_disk = regressor().fit(mapped, y, epochs=3, batch_size=16)
    in_memory = regressor().fit(X.astype(np.float32), y, epochs=3, batch_size=16)
    np.testing.assert_allclose(on_disk.history["loss"], in_memory.history["loss"], rtol=1e-12)


def test_validation_can_be_any_batch_source():
    from chainrule.training import ArrayBatches, train

    X, y = regression_data()
    X = X.astype(np.float32)
    target = y.reshape(-1, 1).astype(np.float32)
    net = regressor().build(X.shape[1])
    history = train(
        net,
        ArrayBatches(X, target, batch_size=16, rng=np.random.default_rng(0)),
        epochs=2,
        validation=ChunkSource(X, target, 7),
    )
    assert history.history["val_loss"][-1] == pytest.approx(net.evaluate(X, y)["loss"], rel=1e-6)
