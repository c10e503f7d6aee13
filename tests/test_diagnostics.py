"""Training's health: Diagnostics records what a direct computation gives, warns once per
problem with a fix, stays quiet on a healthy run, and its record survives a model file."""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pytest

import chainrule
from chainrule import SGD, Adam, Dense, Diagnostics, Network, ReLU, Sigmoid, Softmax, Tanh
from chainrule.diagnostics import TrainingHealthWarning, check_record
from chainrule.tabular import TabularModel
from helpers import tabular_frame


def _train(layers, X, y, *, loss="categorical_crossentropy", optimizer, epochs=8, **fit):
    """Fit a network with a Diagnostics; return it and the health warnings' texts."""
    net = Network(layers, loss=loss, optimizer=optimizer, seed=0)
    diagnostics = Diagnostics()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y, epochs=epochs, callbacks=[diagnostics], **fit)
    said = [str(w.message) for w in caught if issubclass(w.category, TrainingHealthWarning)]
    assert said == diagnostics.record["warnings"]  # warned, and kept in the record
    return diagnostics, said


def _positive_data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 10)).astype("float32")
    return X, (X[:, 0] + X[:, 1] > 1).astype(int)


def _normal_data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10)).astype("float32")
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


# ---------------------------------------------------------------- warnings


@pytest.mark.parametrize("activation", [ReLU, Tanh, Sigmoid])
def test_a_healthy_run_is_quiet(activation):
    X, y = _normal_data()
    diagnostics, said = _train(
        [Dense(32), activation(), Dense(2), Softmax()], X, y, optimizer=Adam(0.01), epochs=15
    )
    assert said == []
    record = diagnostics.record
    assert record["epoch"] == list(range(15))
    assert record["loss"][-1] < 0.5 * record["loss"][0]
    assert record["loss_trend"][:5] == [None] * 5 and record["loss_trend"][-1] < 0


def test_a_learning_rate_that_kills_relus_warns_once():
    X, y = _positive_data()
    diagnostics, said = _train(
        [Dense(32), ReLU(), Dense(2), Softmax()], X, y, optimizer=Adam(0.3), epochs=8
    )
    dead = diagnostics.record["layers"][0]["dead"]
    assert dead[0] == 0.0 and dead[1:] == [1.0] * 7  # dead from epoch 2 on
    assert said == [
        "100% of layer 1's ReLU units output 0 for every sample (epoch 2): lower the "
        "learning rate, or use leaky_relu"
    ]  # once, although dead in 7 epochs; the vanishing gradient it causes is not repeated


def test_large_inputs_saturate_tanh_and_sigmoid():
    X, y = _normal_data()
    _, said = _train([Dense(32), Tanh(), Dense(2), Softmax()], X * 1e3, y, optimizer=Adam(0.003))
    assert said == [
        "100% of layer 1's tanh units are saturated (|x| > 3 for most samples, epoch 1): "
        "scale the inputs or lower the learning rate"
    ]
    diagnostics, said = _train(
        [Dense(16), Sigmoid(), Dense(8), Tanh(), Dense(2), Softmax()],
        X * 1e3,
        y,
        optimizer=Adam(0.003),
        epochs=3,
    )
    assert said[0].startswith("100% of layer 1's sigmoid units are saturated (|x| > 6 ")
    assert diagnostics.record["layers"][0]["saturated"] == [1.0, 1.0, 1.0]
    assert diagnostics.record["layers"][1]["saturated"] == [0.0, 0.0, 0.0]  # |x| small there
    assert "saturated" not in diagnostics.record["layers"][2]  # the output: fused with the loss


def test_an_exploding_gradient_warns():
    X, _ = _normal_data()
    y = (X[:, 0] * 1e4).astype("float32")  # targets in the ten thousands, unscaled
    _, said = _train([Dense(8), ReLU(), Dense(1)], X, y, loss="mse", optimizer=SGD(1e-12), epochs=2)
    assert len(said) == 2
    for layer, message in zip((1, 2), said, strict=True):
        assert message.startswith(f"layer {layer}'s gradient norm is ")
        assert message.endswith(
            "(epoch 1): the gradient explodes; lower the learning rate, scale the inputs, or "
            "add l2 weight decay"
        )


def test_a_vanishing_gradient_warns():
    X, y = _normal_data()
    layers = [Dense(16), Sigmoid(), Dense(16), Sigmoid(), Dense(16), Sigmoid()]
    net = Network(
        [*layers * 1, Dense(16), Sigmoid(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer=SGD(1e-6),
        seed=0,
    )
    net.build(10)
    net.params[: net.n_weights] *= 0.1  # small weights: each sigmoid layer shrinks it
    diagnostics = Diagnostics(warn=False)
    net.fit(X, y, epochs=1, callbacks=[diagnostics])
    norms = [row["grad_norm"][0] for row in diagnostics.record["layers"]]
    assert norms[0] < 1e-3 * norms[-1]
    assert all(row["saturated"] == [0.0] for row in diagnostics.record["layers"][:4])
    (message,) = diagnostics.record["warnings"]
    assert message.startswith("layer 1's gradient norm (")
    assert message.endswith(
        "in epoch 1: the gradient vanishes on its way back, so the first layers barely "
        "learn; use relu, fewer layers, or scale the inputs"
    )


def _fed(losses, window=3):
    """A Diagnostics given these epoch losses (its checks of the loss alone)."""
    net = Network([Dense(2), Softmax()], loss="categorical_crossentropy", optimizer="sgd")
    net.build(3)
    diagnostics = Diagnostics(window=window, warn=False)
    diagnostics.network = net
    diagnostics.on_train_begin({})
    for epoch, loss in enumerate(losses):
        diagnostics.on_epoch_begin(epoch)
        diagnostics.on_epoch_end(epoch, {"loss": loss})
    return diagnostics.record


def test_the_loss_trend_and_its_warnings():
    record = _fed([1.0, 0.8, 0.5, 0.4, 0.5, 0.6, 0.3])
    assert record["loss_trend"] == [None, None, None, -0.6, -0.375, 0.2, -0.25]
    assert record["warnings"] == [
        "the loss rose 20% over the last 3 epochs (0.5 -> 0.6, epoch 6): lower the learning rate"
    ]
    record = _fed([1.0, 0.9, 0.9, 0.9, 0.9])
    assert record["warnings"] == [
        "the loss stopped falling: 0.9 -> 0.9 over the last 3 epochs (epoch 5), still 90% of "
        "the first epoch's loss: raise the learning rate, use adam, or check the inputs are "
        "scaled and the targets right"
    ]
    # a flat loss far below where it started is a finished run, not a stalled one
    assert _fed([1.0, 0.1, 0.01, 0.01, 0.01, 0.01])["warnings"] == []
    # a layer never run through a batch: nothing measured, nothing invented
    row = record["layers"][0]
    assert row["grad_norm"] == [None] * 5 and row["update_ratio"] == [0.0] * 5


# ---------------------------------------------------------------- the numbers


def test_the_record_is_a_direct_computation_on_a_tiny_network():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 3)).astype("float32")
    y = rng.normal(size=12).astype("float32")
    net = Network([Dense(4), ReLU(), Dense(3), Tanh(), Dense(1)], loss="mse", optimizer=SGD(0.1))
    net.build(3)
    W1, b1, W2, b2, W3, b3 = net.get_weights()
    b1[:2] = [-100.0, 50.0]  # unit 0 dead for every sample
    W2[1, :] = [1.0, 0.0, 0.0]  # unit 0 of the tanh layer beyond |x| > 3 for every sample
    net.set_weights([W1, b1, W2, b2, W3, b3])
    start = net.params.copy()
    _, gradient = net.loss_and_gradient(start, X, y)
    diagnostics = Diagnostics(warn=False)
    net.fit(X, y, epochs=1, batch_size=12, shuffle=False, callbacks=[diagnostics])
    record = diagnostics.record

    before, after, grads = net.unflatten(start), net.get_weights(), net.unflatten(gradient)
    h1 = np.maximum(X @ before[0] + before[1], 0)
    x2 = h1 @ before[2] + before[3]
    expected_dead = float(np.mean(h1.max(axis=0) <= 0))
    expected_saturated = float(np.mean(np.mean(np.abs(x2) > 3, axis=0) > 0.5))
    assert 0 < expected_dead < 1 and 0 < expected_saturated < 1
    rows = record["layers"]
    assert rows[0]["dead"] == [pytest.approx(expected_dead)]
    assert rows[1]["saturated"] == [pytest.approx(expected_saturated)]
    for k, row in enumerate(rows):
        w, b = grads[2 * k], grads[2 * k + 1]
        norm = np.sqrt(np.sum(w.astype(float) ** 2) + np.sum(b.astype(float) ** 2))
        assert row["grad_norm"] == [pytest.approx(norm, rel=1e-5)]
        moved = np.linalg.norm(after[2 * k] - before[2 * k]) / np.linalg.norm(before[2 * k])
        assert row["update_ratio"] == [pytest.approx(moved, rel=1e-5)]
    assert [(r["layer"], r["units"], r["activation"]) for r in rows] == [
        (1, 4, "relu"),
        (2, 3, "tanh"),
        (3, 1, None),
    ]
    assert record["loss"] == [pytest.approx(net.history.history["loss"][0], rel=1e-5)]


def test_the_gradient_norm_is_the_mean_over_the_epochs_steps():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(8, 2)).astype("float32")
    y = rng.normal(size=8).astype("float32")
    net = Network([Dense(1)], loss="mse", optimizer=SGD(0.05), seed=1).build(2)
    params = net.params.copy()
    norms = []
    for rows in (slice(0, 4), slice(4, 8)):  # the steps the epoch takes, unshuffled
        _, g = net.loss_and_gradient(params, X[rows], y[rows])
        norms.append(np.linalg.norm(g.astype(float)))
        params = params - np.float32(0.05) * g
    diagnostics = Diagnostics(warn=False)
    net.fit(X, y, epochs=1, batch_size=4, shuffle=False, callbacks=[diagnostics])
    assert diagnostics.record["layers"][0]["grad_norm"] == [pytest.approx(np.mean(norms), 1e-5)]


def test_the_record_is_json_safe_and_checked():
    X, y = _positive_data()
    diagnostics, _ = _train(
        [Dense(8), ReLU(), Dense(2), Softmax()], X, y, optimizer=Adam(0.3), epochs=3
    )
    record = diagnostics.record
    assert json.loads(json.dumps(record, allow_nan=False)) == record
    assert check_record(record) is record
    bad = json.loads(json.dumps(record))
    bad["layers"][0]["dead"][1] = "lots"
    with pytest.raises(ValueError, match="layer 0's dead holds 'lots', not a finite number"):
        check_record(bad)
    with pytest.raises(ValueError, match="diagnostics must be a table"):
        check_record({"epoch": []})
    short = json.loads(json.dumps(record))
    short["loss"].pop()
    with pytest.raises(ValueError, match="diagnostics loss must be a list of 3 values"):
        check_record(short)
    with pytest.raises(ValueError, match="window must be"):
        Diagnostics(window=0)


# ---------------------------------------------------------------- estimators and files


def test_the_estimators_take_it_through_callbacks():
    X, y = _normal_data(200)
    diagnostics = Diagnostics(warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "maximum iterations reached"
        chainrule.MLPClassifier(
            hidden_layer_sizes=(8,), max_iter=5, random_state=0, callbacks=[diagnostics]
        ).fit(X, y)
    assert diagnostics.record["epoch"] == list(range(5))
    assert all(v > 0 for v in diagnostics.record["layers"][0]["grad_norm"])
    lbfgs = Diagnostics(warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs's own "did not converge"
        chainrule.MLPRegressor(
            hidden_layer_sizes=(8,), solver="lbfgs", max_iter=4, callbacks=[lbfgs]
        ).fit(X, X[:, 0])
    rows = lbfgs.record["layers"]
    assert rows[0]["grad_norm"] == [None] * len(lbfgs.record["epoch"])  # no batch steps
    assert all(v > 0 for v in rows[0]["update_ratio"])


def _rewrite_header(src, dst, change):
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    header = json.loads(members["header.json"])
    change(header)
    members["header.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_tabular_model_file_keeps_the_record(tmp_path):
    frame = tabular_frame()
    diagnostics = Diagnostics(warn=False)
    model = TabularModel("label", epochs=6, patience=None).fit(frame, callbacks=[diagnostics])
    assert model.training_["diagnostics"] is diagnostics.record
    model.save(tmp_path / "m.npz")
    loaded = chainrule.load(tmp_path / "m.npz")
    assert loaded.training_["diagnostics"] == diagnostics.record
    assert len(loaded.training_["diagnostics"]["epoch"]) == 6

    def spoil(header):
        header["training"]["diagnostics"]["layers"][0]["grad_norm"][0] = "big"

    _rewrite_header(tmp_path / "m.npz", tmp_path / "bad.npz", spoil)
    with pytest.raises(chainrule.ModelFileError, match="training record's diagnostics layer 0"):
        chainrule.load(tmp_path / "bad.npz")
    # a run without it keeps no record (and a refit drops the last one)
    model.fit(frame)
    assert "diagnostics" not in model.training_
