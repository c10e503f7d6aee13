"""The fast training path gives the textbook results, and fit does not copy X.

The reference below is the plain, obviously correct version of a training step:
new arrays everywhere, no buffers, no in-place tricks, written from the formulas.
The network (reused buffers, in-place activations, fused softmax and
cross-entropy, no input gradient for the first layer, flat-buffer optimizer) must
agree with it to 1e-10 in float64 after several steps.
"""

from __future__ import annotations

import copy
import math
import tracemalloc

import numpy as np
import pytest

from chainrule import Dense, Network, ReLU, Softmax
from chainrule.network import Network as NetworkClass
from chainrule.optimizers import SGD, Adam

# ---------------------------------------------------------------- the reference


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


# ---------------------------------------------------------------- the comparison


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


# ---------------------------------------------------------------- no copy of X


def _float32_data(n=20_000, n_features=100):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, n_features), dtype=np.float32)
    labels = rng.integers(0, 3, n)
    return X, labels


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_trains_on_the_callers_float32_array(monkeypatch, shuffle):
    X, labels = _float32_data(2_000, 20)
    seen = []
    original = NetworkClass._prepare_xy

    def spy(self, X_in, y, *args, **kwargs):
        X_out, target = original(self, X_in, y, *args, **kwargs)
        seen.append(X_out)
        return X_out, target

    monkeypatch.setattr(NetworkClass, "_prepare_xy", spy)
    net = Network(
        [Dense(4), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=0,
    )
    net.fit(X, labels, epochs=1, batch_size=256, shuffle=shuffle)
    assert seen[0] is X  # validated without conversion: the very same array
    if not shuffle:
        # in order, the first layer reads its batches straight out of X (views)
        assert np.shares_memory(net.layers[0].input, X)


def test_fit_allocates_far_less_than_x():
    # NumPy reports its array allocations to tracemalloc: a copy of X, or any
    # temporary of X's size (a boolean mask of X is a quarter of it), shows up here.
    X, labels = _float32_data()
    net = Network(
        [Dense(16), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=0,
    )
    net.fit(X[:512], labels[:512], batch_size=256)  # build first: parameters are not data
    tracemalloc.start()
    try:
        net.fit(X, labels, epochs=1, batch_size=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 8, f"fit allocated {peak} bytes at peak; X is {X.nbytes} bytes"
