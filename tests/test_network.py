"""The Network (chainrule.network): a worked example, the pure loss_and_gradient, the
flat parameter buffer, weights, dtypes, predict and evaluate, output layers and losses,
what it refuses, summary and configs, copies, threads, and training steps against a
plain reference implementation."""

import copy
import json
import math

import numpy as np
import pytest

import chainrule
from chainrule import (
    SGD,
    Dense,
    Dropout,
    Network,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.gradcheck import check_network
from chainrule.layers import Exp
from chainrule.optimizers import Adam
from helpers import X, Y, classification_data, classifier, fitted, net, regression_data, regressor


def small_net(**kwargs):
    kwargs.setdefault("loss", "mse")
    kwargs.setdefault("optimizer", "sgd")
    return Network([Dense(4), ReLU(), Dense(2)], **kwargs)


# ---------------------------------------------------------------- a worked example


def worked_example():
    """2-2-1 sigmoid network with MSE, every intermediate value computed by hand."""
    net = Network(
        [Dense(2), Sigmoid(), Dense(1), Sigmoid()], loss="mse", optimizer=SGD(0.5), dtype="float64"
    )
    net.build(2)
    net.set_weights(
        [
            np.array([[0.1, 0.2], [0.3, -0.4]]),
            np.array([0.0, 0.1]),
            np.array([[0.5], [-0.6]]),
            np.array([0.2]),
        ]
    )
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    y = np.array([1.0, 0.0])
    return net, X, y


def test_worked_example_forward():
    net, X, _ = worked_example()
    # layer 1: z1 = [[0.7, -0.5], [-0.25, 0.6]], h = sigmoid(z1); z2 = h @ W2 + b2
    np.testing.assert_allclose(net.predict(X), [[0.576291889352], [0.507878839241]], rtol=1e-11)


def test_worked_example_loss_and_gradients():
    net, X, y = worked_example()
    loss, gradient = net.loss_and_gradient(net.params, X, y)
    assert loss == pytest.approx(0.21873473918922365, rel=1e-13)
    dW1, db1, dW2, db2 = net.unflatten(gradient)
    np.testing.assert_allclose(
        dW1, [[-0.003658348405, 0.005875774253], [-0.038560509965, 0.046601295353]], rtol=1e-9
    )
    np.testing.assert_allclose(db1, [0.004152604884, -0.002836662459], rtol=1e-9)
    np.testing.assert_allclose(dW2, [[-0.013554758755], [0.042897757833]], rtol=1e-9)
    np.testing.assert_allclose(db2, [0.023477327888], rtol=1e-9)


def test_worked_example_one_sgd_step():
    net, X, y = worked_example()
    before = net.get_weights()
    _, gradient = net.loss_and_gradient(net.params, X, y)
    grads = [g.copy() for g in net.unflatten(gradient)]
    net.fit(X, y, epochs=1, batch_size=2, shuffle=False)
    for w, w0, g in zip(net.get_weights(), before, grads, strict=True):
        np.testing.assert_allclose(w, w0 - 0.5 * g, rtol=1e-12)


def test_the_lesson_prediction_and_gradient():
    # the lesson: input [1.66, 1.56], weights [1.45, -0.66], bias 0 -> 0.7985731
    net = Network([Dense(1), Sigmoid()], loss="mse", optimizer=SGD(0.1), dtype="float64")
    net.build(2)
    net.set_weights([np.array([[1.45], [-0.66]]), np.array([0.0])])
    assert net.predict([[1.66, 1.56]])[0, 0] == pytest.approx(0.7985731, abs=1e-7)
    assert net.predict([[2, 1.5]])[0, 0] == pytest.approx(0.87101915, abs=1e-8)
    # derror_dweights = derror_dprediction * dprediction_dlayer1 * dlayer1_dweights
    prediction = net.predict([[2, 1.5]])[0, 0]
    derror_dprediction = 2 * (prediction - 0)
    dprediction_dlayer1 = prediction * (1 - prediction)
    loss, gradient = net.loss_and_gradient(net.params, [[2, 1.5]], [0])
    assert loss == pytest.approx(prediction**2)
    dW, db = net.unflatten(gradient)
    np.testing.assert_allclose(
        dW[:, 0], derror_dprediction * dprediction_dlayer1 * np.array([2, 1.5]), rtol=1e-12
    )
    assert db[0] == pytest.approx(derror_dprediction * dprediction_dlayer1, rel=1e-12)


def test_loss_and_gradient_is_pure():
    # it reads the vector it is given and changes nothing on the network
    net, X, y = worked_example()
    params, grads = net.params.copy(), net.grads.copy()
    rng_state = net.rng.bit_generator.state
    other = params + 0.1
    loss, gradient = net.loss_and_gradient(other, X, y)
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(net.grads, grads)
    assert net.rng.bit_generator.state == rng_state
    assert not any(hasattr(layer, "input") for layer in net.layers)
    np.testing.assert_array_equal(other, params + 0.1)
    # the same as a network whose weights are that vector
    net.params[...] = other
    again_loss, again_gradient = net.loss_and_gradient(net.params, X, y)
    assert again_loss == loss
    np.testing.assert_array_equal(again_gradient, gradient)
    assert not np.allclose(net.loss_and_gradient(params, X, y)[1], gradient)


def test_loss_and_gradient_checks_the_vector():
    net, X, y = worked_example()
    with pytest.raises(ValueError, match=r"params must be a flat vector of 9 values"):
        net.loss_and_gradient(net.params[:-1], X, y)
    with pytest.raises(ValueError, match="no weights yet"):
        small_net().loss_and_gradient(np.zeros(3), X, y)


# ---------------------------------------------------------------- weights and the flat buffer


def test_get_weights_order_and_shapes():
    net = small_net().build(3)
    shapes = [w.shape for w in net.get_weights()]
    assert shapes == [(3, 4), (4,), (4, 2), (2,)]  # [W1, b1, W2, b2], W (in, out)
    assert net.n_params == 3 * 4 + 4 + 4 * 2 + 2 == 26


def test_set_weights_round_trip_and_effect():
    net = small_net(dtype="float64").build(3)
    rng = np.random.default_rng(0)
    new = [rng.normal(size=w.shape) for w in net.get_weights()]
    net.set_weights(new)
    for got, want in zip(net.get_weights(), new, strict=True):
        np.testing.assert_array_equal(got, want)
    X = rng.normal(size=(5, 3))
    W1, b1, W2, b2 = new
    np.testing.assert_allclose(net.predict(X), np.maximum(X @ W1 + b1, 0) @ W2 + b2)


def test_get_weights_returns_copies():
    net = small_net().build(3)
    weights = net.get_weights()
    weights[0][...] = 123.0
    assert not np.any(net.get_weights()[0] == 123.0)


def test_set_weights_checks_count_and_shapes():
    net = small_net().build(3)
    with pytest.raises(ValueError, match="list of 4 arrays"):
        net.set_weights(net.get_weights()[:2])
    bad = net.get_weights()
    bad[2] = np.zeros((2, 4))
    with pytest.raises(
        ValueError, match=r"weights\[2\] must have shape \(4, 2\); received shape \(2, 4\)"
    ):
        net.set_weights(bad)


def test_layer_arrays_are_views_into_the_flat_buffer():
    net = small_net().build(3)
    assert net.params.ndim == 1 and net.params.flags.c_contiguous
    assert net.grads.shape == net.params.shape
    for layer in (net.layers[0], net.layers[2]):
        for p, g in zip(layer.param_arrays, layer.grad_arrays, strict=True):
            assert np.shares_memory(p, net.params)
            assert np.shares_memory(g, net.grads)
    net.params[:] = 7.0
    assert np.all(net.layers[0].weights == 7.0) and np.all(net.layers[2].bias == 7.0)


def test_every_weight_matrix_then_every_bias():
    # one order, in memory and in model files
    net = small_net().build(3)
    W1, b1, W2, b2 = net.get_weights()
    np.testing.assert_array_equal(net.params, np.concatenate([W1.ravel(), W2.ravel(), b1, b2]))
    # L2 decays exactly the weight matrices: one slice of params
    assert net.n_weights == W1.size + W2.size
    np.testing.assert_array_equal(
        net.params[: net.n_weights], np.concatenate([W1.ravel(), W2.ravel()])
    )
    assert [w.shape for w in net.unflatten(net.grads)] == [w.shape for w in (W1, b1, W2, b2)]
    assert all(np.shares_memory(g, net.grads) for g in net.unflatten(net.grads))


def test_dtype_float32_by_default_and_float64_on_request():
    X = np.random.default_rng(0).normal(size=(4, 3))
    net = small_net().build(3)
    assert net.params.dtype == np.float32 and net.grads.dtype == np.float32
    assert net.predict(X).dtype == np.float32
    assert all(w.dtype == np.float32 for w in net.get_weights())
    net64 = small_net(dtype="float64").build(3)
    assert net64.params.dtype == np.float64
    assert net64.predict(X).dtype == np.float64


def test_same_seed_same_initial_weights():
    a, b, c = small_net(seed=3).build(5), small_net(seed=3).build(5), small_net(seed=4).build(5)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


# ---------------------------------------------------------------- predict, predict_proba


def test_predict_proba_softmax_and_sigmoid():
    X = np.random.default_rng(0).normal(size=(6, 3))
    multi = Network(
        [Dense(5), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=0,
    )
    multi.build(3)
    proba = multi.predict_proba(X)
    assert proba.shape == (6, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    binary = Network([Dense(1), Sigmoid()], loss="binary_crossentropy", optimizer="adam", seed=0)
    binary.build(3)
    p = binary.predict_proba(X)
    assert p.shape == (6, 2)
    np.testing.assert_allclose(p[:, 1], binary.predict(X)[:, 0])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_predict_proba_needs_a_probability_output():
    net = small_net().build(3)
    with pytest.raises(ValueError, match="predict_proba needs a Softmax"):
        net.predict_proba(np.ones((2, 3)))


def test_predict_in_batches_equals_one_pass():
    X = np.random.default_rng(1).normal(size=(50, 3))
    net = small_net(dtype="float64", seed=0).build(3)
    np.testing.assert_allclose(net.predict(X, batch_size=7), net.predict(X), rtol=1e-14)


def test_dropout_only_acts_in_training():
    X = np.random.default_rng(1).normal(size=(10, 3))
    net = Network([Dense(4), ReLU(), Dropout(0.5), Dense(1)], loss="mse", optimizer="sgd", seed=0)
    net.build(3)
    np.testing.assert_array_equal(net.predict(X), net.predict(X))


def test_predict_returns_a_fresh_array():
    X, y = regression_data()
    net = regressor()
    net.fit(X, y, epochs=1)
    first = net.predict(X[:5])
    kept = first.copy()
    net.predict(X[5:10])
    np.testing.assert_array_equal(first, kept)


# ---------------------------------------------------------------- evaluate


def test_evaluate_matches_scikit_learn_on_a_network():
    from sklearn.metrics import accuracy_score, log_loss

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    net = Network(
        [Dense(8), Tanh(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        dtype="float64",
        seed=0,
    )
    net.fit(X, y, epochs=3, batch_size=16)
    scores = net.evaluate(X, y, batch_size=25)
    proba = net.predict_proba(X)
    assert scores["loss"] == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]), rel=1e-10)
    assert scores["accuracy"] == pytest.approx(accuracy_score(y, proba.argmax(axis=1)))


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


def test_evaluate_on_chunks_scores_as_the_arrays_shows_progress_and_refuses_no_rows(capsys):
    X, y = classification_data()
    net = classifier(metrics=["accuracy"], dtype="float64")
    net.fit(X, y, epochs=2, batch_size=16)
    whole = net.evaluate(X, y)
    chunks = [(X[:40], y[:40]), (X[40:40], y[40:40]), (X[40:], y[40:])]
    capsys.readouterr()
    scores = net.evaluate(chunks, verbose=2)
    assert scores["loss"] == pytest.approx(whole["loss"], rel=1e-12)
    assert scores["accuracy"] == whole["accuracy"]
    assert capsys.readouterr().out.startswith("evaluate: 1/1 batches")  # verbose, as for arrays
    for empty in ([], [(X[:0], y[:0])]):
        with pytest.raises(ValueError, match="nothing to evaluate: the chunk source yielded"):
            net.evaluate(empty)


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


# ---------------------------------------------------------------- output layers and losses


def test_string_layers_and_fused_output_check():
    net = Network([Dense(3), "relu", Dense(1)], loss="mse", optimizer="sgd")
    assert isinstance(net.layers[1], ReLU)
    with pytest.raises(ValueError, match=r"needs Sigmoid\(\) as the last layer"):
        Network([Dense(1)], loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"needs Softmax\(\) as the last layer"):
        Network([Dense(3), Sigmoid()], loss="categorical_crossentropy", optimizer="sgd")


RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("last", "loss", "y"),
    [
        (Sigmoid(), "multilabel_crossentropy", (RNG.random((8, 2)) > 0.5).astype(float)),
        (Exp(), "poisson", RNG.poisson(1.5, size=(8, 2)).astype(float)),
        (None, "half_squared_error", RNG.normal(size=(8, 2))),
    ],
)
def test_fused_outputs_in_a_network(last, loss, y):
    layers = [Dense(4), Tanh(), Dense(2)] + ([last] if last is not None else [])
    net = Network(layers, loss=loss, optimizer="sgd", l2=0.1, seed=0, dtype="float64")
    assert check_network(net, RNG.normal(size=(8, 3)), y).passed


def test_poisson_refuses_a_wrong_output_layer():
    with pytest.raises(ValueError, match=r"needs Exp\(\) as the last layer"):
        Network([Dense(1), Sigmoid()], loss="poisson", optimizer="sgd")


# ---------------------------------------------------------------- what it refuses


def test_wrong_number_of_features_at_predict():
    model = fitted()
    with pytest.raises(ValueError, match="X has 4 features, but the network was trained with 3"):
        model.predict(np.ones((2, 4)))
    with pytest.raises(ValueError, match="X has 2 features, but the network was trained with 3"):
        model.evaluate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="X has 4 features, but the network was built for 3"):
        model.fit(np.ones((2, 4)), np.ones(2))


def test_validation_data_with_the_wrong_number_of_features():
    with pytest.raises(ValueError, match="X_val has 4 features, but the network was built for 3"):
        net().fit(X, Y, validation_data=(np.ones((2, 4)), np.ones(2)))


def test_predict_before_fit():
    with pytest.raises(ValueError, match=r"no weights yet: call fit\(\) or build\(\)"):
        net().predict(X)


def test_one_metric_given_as_a_string():
    model = net(metrics="mae")
    assert [m.name for m in model.metrics] == ["mae"]


def test_loss_and_gradient_checks_its_input():
    model = net().build(X.shape[1])
    params = model.params
    with pytest.raises(ValueError, match="X and y must have the same number of samples"):
        model.loss_and_gradient(params, X, Y[:5])
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        model.loss_and_gradient(params, X, np.full(20, np.nan))
    with pytest.raises(ValueError, match="X and sample_weight must have the same number"):
        model.loss_and_gradient(params, X, Y, np.ones(3))


# ---------------------------------------------------------------- summary and configs


def test_summary_lists_layers_shapes_and_counts():
    net = Network(
        [Dense(4), ReLU(), Dense(2), Softmax()], loss="categorical_crossentropy", optimizer="adam"
    ).build(3)
    text = net.summary(print_fn=None)
    lines = text.splitlines()
    assert any(
        "Dense(4)" in line and "(None, 4)" in line and line.rstrip().endswith("16")
        for line in lines
    )
    assert any(
        "ReLU" in line and "(None, 4)" in line and line.rstrip().endswith("0") for line in lines
    )
    assert any(
        "Dense(2)" in line and "(None, 2)" in line and line.rstrip().endswith("10")
        for line in lines
    )
    assert any(line.startswith("Softmax") and "(None, 2)" in line for line in lines)
    assert "Total params: 26 (float32)" in text


def test_summary_prints(capsys):
    net = small_net().build(3)
    returned = net.summary()
    assert capsys.readouterr().out.strip() == returned.strip()


def test_summary_before_build_says_how_to_fix():
    with pytest.raises(ValueError, match="call fit"):
        small_net().summary()


def test_config_round_trip():
    net = Network(
        [Dense(5, kernel_initializer="he_uniform"), ReLU(), Dropout(0.1), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer=SGD(0.05, momentum=0.9, nesterov=True),
        metrics=["accuracy"],
        l2=1e-3,
        seed=11,
        dtype="float64",
    )
    config = net.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = Network.from_config(config)
    assert rebuilt.get_config() == config
    net.build(4)
    rebuilt.build(4)
    np.testing.assert_array_equal(rebuilt.params, net.params)  # same seed, same weights
    assert repr(rebuilt) == repr(net)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_network_trains_its_own_weights(how):
    import copy
    import pickle

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = Network(
        [Dense(8), ReLU(), Dropout(0.1), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=0,
    )
    net.fit(X, y, epochs=2, batch_size=50)
    net.predict(rng.normal(size=(5000, 4)))  # leaves 5000-row buffers behind
    cp = copy.deepcopy(net) if how == "deepcopy" else pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(cp.predict(X), net.predict(X))
    # the copy's layers compute with views of its own params, not frozen copies
    dense = cp.layers[0]
    assert np.shares_memory(dense.weights, cp.params)
    assert np.shares_memory(dense.derror_dweights, cp.grads)
    assert not np.shares_memory(cp.params, net.params)
    before_net = net.params.copy()
    cp.optimizer.learning_rate = 0.05
    losses = [cp.train_step(X[:50].astype(np.float32), y[:50]) for _ in range(20)]
    assert losses[-1] < 0.8 * losses[0]  # it learns
    np.testing.assert_array_equal(net.params, before_net)  # the original is untouched
    np.testing.assert_array_equal(cp.get_weights()[0], cp.layers[0].weights)
    # the last batches the layers kept for backward are not copied along
    assert len(pickle.dumps(net)) < 20_000


# ---------------------------------------------------------------- threads


def _in_threads(fn, inputs, n_threads=8):
    """``[fn(x) for x in inputs]``, computed by ``n_threads`` threads that start together."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    barrier = threading.Barrier(n_threads)

    def run(x):
        barrier.wait()
        return [fn(x) for _ in range(20)]

    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(run, inputs))


def test_predictions_from_many_threads_equal_the_sequential_ones():
    # predict, predict_proba, evaluate and forward keep nothing on the network
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    net = Network(
        [Dense(32), ReLU(), Dropout(0.2), Dense(16), Tanh(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        seed=0,
    )
    net.fit(X, y, epochs=3, batch_size=32)
    inputs = [rng.normal(size=(50 + 17 * i, 6)) for i in range(8)]  # different sizes
    labels = [rng.integers(0, 3, size=len(x)) for x in inputs]
    for fn in (
        net.predict,
        lambda x: net.predict(x, batch_size=7),
        net.predict_proba,
        lambda x: net.forward(x.astype(np.float32)),
    ):
        sequential = [fn(x) for x in inputs]
        for got, want in zip(_in_threads(fn, inputs), sequential, strict=True):
            for g in got:
                np.testing.assert_array_equal(g, want)
    pairs = list(zip(inputs, labels, strict=True))
    sequential = [net.evaluate(x, t) for x, t in pairs]
    threaded = _in_threads(lambda pair: net.evaluate(*pair), pairs)
    for got, want in zip(threaded, sequential, strict=True):
        assert all(g == want for g in got)


# ---------------------------------------------------------------- against a plain reference


# The reference below is the plain, obviously correct version of a training step:
# new arrays everywhere, no buffers, no in-place tricks, written from the formulas.
# The network (reused buffers, in-place activations, fused softmax and
# cross-entropy, no input gradient for the first layer, flat-buffer optimizer) must
# agree with it to 1e-10 in float64 after several steps.


def reference_gradients(weights, X, labels):
    """Gradients of the mean cross-entropy of softmax(MLP(X)) for ``[W1, b1, W2, b2, ...]``."""
    n = X.shape[0]
    activations = [X]
    for i in range(0, len(weights), 2):
        z = activations[-1] @ weights[i] + weights[i + 1]
        last = i == len(weights) - 2
        activations.append(z if last else np.maximum(z, 0.0))
    z = activations[-1]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    onehot = np.eye(z.shape[1])[labels]
    delta = (p - onehot) / n  # d(mean loss) / d(logits)
    grads = [None] * len(weights)
    for i in range(len(weights) - 2, -1, -2):
        a = activations[i // 2]
        grads[i] = a.T @ delta
        grads[i + 1] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ weights[i].T) * (a > 0)
    return grads


class ReferenceSGD:
    """``v = momentum v - lr g``; ``p = p + v``."""

    def __init__(self, lr, momentum):
        self.lr, self.momentum, self.v = lr, momentum, None

    def step(self, weights, grads):
        if self.v is None:
            self.v = [np.zeros_like(w) for w in weights]
        self.v = [self.momentum * v - self.lr * g for v, g in zip(self.v, grads, strict=True)]
        return [w + v for w, v in zip(weights, self.v, strict=True)]


class ReferenceAdam:
    """``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
    ``p = p - lr sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps)``."""

    def __init__(self, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.lr, self.b1, self.b2, self.eps = lr, beta_1, beta_2, epsilon
        self.t, self.m, self.v = 0, None, None

    def step(self, weights, grads):
        if self.m is None:
            self.m = [np.zeros_like(w) for w in weights]
            self.v = [np.zeros_like(w) for w in weights]
        self.t += 1
        self.m = [self.b1 * m + (1 - self.b1) * g for m, g in zip(self.m, grads, strict=True)]
        self.v = [self.b2 * v + (1 - self.b2) * g**2 for v, g in zip(self.v, grads, strict=True)]
        lr_t = self.lr * math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        return [
            w - lr_t * m / (np.sqrt(v) + self.eps)
            for w, m, v in zip(weights, self.m, self.v, strict=True)
        ]


def reference_fit(weights, optimizer, X, labels, batch_size, epochs, rng=None):
    """Mini-batch training as ``fit`` does it: an optional permutation per epoch from
    ``rng`` (one index array shuffled again every epoch), then batches in order."""
    indices = np.arange(X.shape[0])
    for _ in range(epochs):
        if rng is not None:
            rng.shuffle(indices)
        for lo in range(0, X.shape[0], batch_size):
            idx = indices[lo : lo + batch_size]
            grads = reference_gradients(weights, X[idx], labels[idx])
            weights = optimizer.step(weights, grads)
    return weights


def _data(n=70, n_features=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    labels = rng.integers(0, n_classes, n)
    return X, labels


def _network(hidden, optimizer):
    layers = []
    for width in hidden:
        layers += [Dense(width), ReLU()]
    layers += [Dense(3), Softmax()]
    return Network(
        layers, loss="categorical_crossentropy", optimizer=optimizer, seed=7, dtype="float64"
    )


OPTIMIZERS = {
    "sgd-momentum": (
        lambda: SGD(learning_rate=0.05, momentum=0.9),
        lambda: ReferenceSGD(0.05, 0.9),
    ),
    "adam": (lambda: Adam(learning_rate=0.01), lambda: ReferenceAdam(0.01)),
}


@pytest.mark.parametrize("hidden", [(8,), (8, 6)], ids=["one-hidden", "two-hidden"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
def test_fast_path_matches_reference_step(name, hidden, shuffle):
    make_fast, make_reference = OPTIMIZERS[name]
    X, labels = _data()
    net = _network(hidden, make_fast()).build(X.shape[1])
    start = net.get_weights()
    rng = copy.deepcopy(net.rng) if shuffle else None
    # 70 rows in batches of 16: four full batches and a short one, three epochs
    net.fit(X, labels, epochs=3, batch_size=16, shuffle=shuffle)
    expected = reference_fit(start, make_reference(), X, labels, 16, 3, rng)
    got = net.get_weights()
    assert net.optimizer.iterations == 15
    for w_got, w_expected, w_start in zip(got, expected, start, strict=True):
        assert not np.allclose(w_got, w_start)  # the weights did move
        np.testing.assert_allclose(w_got, w_expected, rtol=0, atol=1e-10)


def test_reference_gradients_match_network_gradients():
    # the reference's backward pass agrees with the network's on one batch
    X, labels = _data()
    net = _network((8, 6), "adam").build(X.shape[1])
    _, grads = net.loss_and_gradient(net.params, X, labels)
    expected = reference_gradients(net.get_weights(), X, labels)
    for got, want in zip(net.unflatten(grads), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert grads.shape == (net.n_params,)


# ---------------------------------------------------------------- found in review


def test_loss_and_gradient_of_a_non_finite_loss_has_no_gradient():
    net = Network([Dense(1)], loss="mse", optimizer="sgd", dtype="float64").build(2)
    X, y = np.ones((5, 2)), np.zeros(5)
    with np.errstate(all="ignore"):
        loss, gradient = net.loss_and_gradient(np.full(net.n_params, 1e300), X, y)
    assert not np.isfinite(loss)
    assert np.isnan(gradient).all()


def test_a_pickled_network_holds_each_array_once():
    import pickle

    net = Network([Dense(200), ReLU(), Dense(100), Softmax()], loss="categorical_crossentropy",
                  optimizer="sgd", seed=0).build(300)  # fmt: skip
    size = len(pickle.dumps(net))
    assert size < 2.2 * net.params.nbytes  # params and grads, not each layer's views too
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.params, net.params)
    assert np.shares_memory(copy.layers[2].weights, copy.params)
    assert np.shares_memory(copy.layers[2].derror_dbias, copy.grads)


def test_a_pickle_from_the_development_layouts_is_refused():
    state = dict(small_net().build(3).__dict__, _params_layout=2)
    with pytest.raises(ValueError, match="development version of chainrule"):
        Network.__new__(Network).__setstate__(state)


# ---------------------------------------------------------------- resuming


@pytest.mark.parametrize("how", ["save", "pickle"])
def test_a_saved_or_copied_network_trains_on_exactly(tmp_path, how):
    """As Keras's model.save: chainrule.save keeps the optimizer's state (and the rest of
    the training state), so load + fit continues the run it came from."""
    import pickle

    from chainrule import Checkpoint, EarlyStopping

    X, y = classification_data()

    def make():
        return Network(
            [Dense(8), ReLU(), Dense(3), Softmax()],
            loss="categorical_crossentropy",
            optimizer=Adam(0.01),
            seed=1,
            dtype="float64",
        )

    def callbacks():
        return [EarlyStopping("loss", patience=50), Checkpoint(tmp_path / "ck.npz", "loss")]

    whole = make()
    whole.fit(X, y, epochs=7, batch_size=8, callbacks=callbacks())
    part = make()
    part.fit(X, y, epochs=3, batch_size=8, callbacks=callbacks())
    if how == "save":
        chainrule.save(part, tmp_path / "part.npz")
        again = chainrule.load(tmp_path / "part.npz")
    else:
        again = pickle.loads(pickle.dumps(part))
    assert again.epoch == 3 and [key for key, _ in again._callback_states()] == [
        'EarlyStopping{"mode": "min", "monitor": "loss"}',
        'Checkpoint{"mode": "min", "monitor": "loss"}',
    ]
    again.fit(X, y, epochs=7, batch_size=8, initial_epoch=again.epoch, callbacks=callbacks())
    np.testing.assert_array_equal(again.params, whole.params)


# ---------------------------------------------------------------- L1


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_l1_penalty_gradient_check(l2):
    X, y = RNG.normal(size=(12, 3)), RNG.integers(0, 2, 12).astype(float)
    net = Network(
        [Dense(4), Tanh(), Dense(1), Sigmoid()],
        loss="binary_crossentropy",
        optimizer="sgd",
        l1=0.03,
        l2=l2,
        seed=0,
        dtype="float64",
    )
    assert check_network(net, X, y).passed
    plain = Network.from_config({**net.get_config(), "l1": 0.0, "l2": 0.0}).build(3)
    plain.params[...] = net.params
    weights = net.params[: net.n_weights]
    loss, grads = net.loss_and_gradient(net.params, X, y)
    plain_loss, plain_grads = plain.loss_and_gradient(net.params, X, y)
    assert loss == pytest.approx(
        plain_loss + 0.03 * np.abs(weights).sum() + 0.5 * l2 * weights @ weights
    )
    np.testing.assert_allclose(
        grads[: net.n_weights] - plain_grads[: net.n_weights],
        0.03 * np.sign(weights) + l2 * weights,
    )
    np.testing.assert_array_equal(grads[net.n_weights :], plain_grads[net.n_weights :])


def test_l1_step_and_round_trip(tmp_path):
    X, y = RNG.normal(size=(10, 3)), RNG.normal(size=10)
    net = Network([Dense(2)], loss="mse", optimizer=SGD(0.1), l1=0.5, seed=0, dtype="float64")
    net.build(3)
    before = net.params.copy()
    _, grads = net.loss_and_gradient(before, X, y.reshape(-1, 1).repeat(2, axis=1))
    net.train_step(X, y.reshape(-1, 1).repeat(2, axis=1))
    np.testing.assert_allclose(net.params, before - 0.1 * grads)
    assert net.get_config()["l1"] == 0.5
    assert Network.from_config(net.get_config()).l1 == 0.5
    net.save(tmp_path / "l1.npz")
    assert chainrule.load(tmp_path / "l1.npz").l1 == 0.5
    with pytest.raises(ValueError, match="l1"):
        Network([Dense(1)], loss="mse", optimizer="sgd", l1=-1)
