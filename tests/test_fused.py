"""The fused training step (mode "numba") computes what the layers' own forward and
backward passes compute: the loss, every gradient, and what the layers keep."""

import copy

import numpy as np
import pytest

from chainrule import (
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    Network,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    kernels,
)
from chainrule.layers import GELU

pytestmark = pytest.mark.skipif(
    not kernels.compiled_available(),
    reason="numba is not installed (the 'fast' extra): there is no fused step",
)


def _networks():
    yield "relu-softmax", [Dense(7), ReLU(), Dense(4), Softmax()], "categorical_crossentropy"
    yield (
        "two-hidden",
        [Dense(9), Tanh(), Dense(5), LeakyReLU(0.1), Dense(3), Softmax()],
        ("categorical_crossentropy"),
    )
    yield "sigmoid-bce", [Dense(6), Sigmoid(), Dense(1), Sigmoid()], "binary_crossentropy"
    # the lesson's neuron: a sigmoid output with the squared error (not fused)
    yield "lesson", [Dense(1), Sigmoid()], "mse"
    yield "regression", [Dense(8), ReLU(), Dense(2)], "mse"
    yield (
        "no-bias",
        [Dense(5, use_bias=False), Identity(), Dense(3), Softmax()],
        ("categorical_crossentropy"),
    )
    yield (
        "no-bias-relu",
        [Dense(5, use_bias=False), ReLU(), Dense(3), Softmax()],
        "categorical_crossentropy",
    )


NETWORKS = list(_networks())


def _classifier(hidden: int, classes: int, optimizer: str) -> Network:
    """Dense(hidden), ReLU, Dense(classes), softmax with its cross-entropy."""
    return Network(
        [Dense(hidden), ReLU(), Dense(classes), Softmax()],
        loss="categorical_crossentropy",
        optimizer=optimizer,
        seed=0,
    )


def _pair(layers, loss, dtype, l2):
    nets = []
    for _ in range(2):
        net = Network(
            copy.deepcopy(layers), loss=loss, optimizer="adam", l2=l2, seed=3, dtype=dtype
        )
        nets.append(net.build(5))
    return nets


def _data(loss, n, dtype, rng):
    X = rng.normal(size=(n, 5)).astype(dtype)
    if loss == "categorical_crossentropy":
        y = rng.integers(0, 3, size=n).astype(np.intp)  # (class 3 of 4 left out)
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, size=(n, 1)).astype(dtype)
    else:
        y = None  # set by the test, which knows the network's outputs
    return X, y


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l2", [0.0, 0.01])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("name", "layers", "loss"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_a_fused_step_equals_the_reference_step(name, layers, loss, dtype, l2, weighted):
    fused, plain = _pair(layers, loss, dtype, l2)
    rng = np.random.default_rng(0)
    tol = {"float64": 1e-10, "float32": 3e-5}[dtype]
    for n in (5, 16, 16, 3):  # the buffers grow, then a smaller batch uses their first rows
        X, y = _data(loss, n, dtype, rng)
        if name == "regression":
            y = rng.normal(size=(n, 2)).astype(dtype)
        elif name == "lesson":
            y = rng.normal(size=(n, 1)).astype(dtype)
        w = rng.uniform(0.5, 2, size=n).astype(dtype) if weighted else None
        with kernels.use("numba"):
            assert kernels.step_kernel(fused) is not None
            fused_loss = fused.train_step(X, y, w)
        with kernels.use("off"):
            plain_loss = plain.train_step(X, y, w)
        assert fused_loss == pytest.approx(plain_loss, rel=tol)
        np.testing.assert_allclose(fused.grads, plain.grads, rtol=tol, atol=tol)
        np.testing.assert_allclose(fused.params, plain.params, rtol=tol, atol=tol)
        # what the layers keep (Diagnostics reads it) is the same too
        for a, b in zip(fused.layers[: fused._n_to_loss], plain.layers, strict=False):
            for kept in ("input", "output"):
                if getattr(b, kept, None) is not None:
                    np.testing.assert_allclose(
                        getattr(a, kept), getattr(b, kept), rtol=tol, atol=tol
                    )


@pytest.mark.parametrize(
    "layers",
    [
        [Dense(4), Dropout(0.5), Dense(2), Softmax()],
        [Dense(4), GELU(), Dense(2), Softmax()],
        [Dense(4), Softmax()],  # softmax with the squared error: not fused with the loss
        [ReLU(), Dense(2), Softmax()],  # no Dense layer first
    ],
    ids=["dropout", "gelu", "softmax-mse", "activation-first"],
)
def test_layers_it_does_not_cover_take_the_reference(layers):
    loss = "mse" if len(layers) == 2 else "categorical_crossentropy"
    net = Network(layers, loss=loss, optimizer="sgd", seed=0).build(3)
    with kernels.use("numba"):
        assert kernels.step_kernel(net) is None
        X = np.ones((4, 3), dtype=np.float32)
        width = net.n_outputs
        y = np.zeros((4, width), np.float32) if loss == "mse" else np.array([0, 1, 0, 1])
        assert np.isfinite(net.train_step(X, y))


def test_the_step_follows_the_network_when_it_changes():
    net = _classifier(3, 2, "sgd").build(4)
    with kernels.use("numba"):
        first = kernels.step_kernel(net)
        assert kernels.step_kernel(net) is first  # kept between steps
        net.build(6)  # new parameter vectors
        assert kernels.step_kernel(net) is not first
        X = np.ones((3, 6), dtype=np.float32)
        assert np.isfinite(net.train_step(X, np.array([0, 1, 1])))


def test_a_non_finite_loss_stops_before_the_update():
    from chainrule.errors import TrainingDivergedError

    net = Network([Dense(1)], loss="mse", optimizer="sgd", seed=0).build(2)
    before = net.params.copy()
    X = np.array([[3e38, 3e38]], np.float32)  # its products overflow
    with kernels.use("numba"), np.errstate(all="ignore"):
        with pytest.raises(TrainingDivergedError, match="the loss became"):
            net.train_step(X, np.zeros((1, 1), np.float32))
    np.testing.assert_array_equal(net.params, before)


def test_training_leaves_no_floating_point_mode_changed():
    # flush-to-zero or denormals-are-zero left on would change the user's own arithmetic
    smallest = np.finfo(np.float32).smallest_subnormal
    X = np.random.default_rng(0).random((256, 20), dtype=np.float32)
    net = _classifier(16, 3, "adam")
    with kernels.use("numba"):
        net.fit(X, (X[:, 0] * 3).astype(int), epochs=2, batch_size=32)
    assert np.float32(smallest) * np.float32(1.0) == smallest  # not flushed to 0
    assert np.float32(smallest) + np.float32(0.0) > 0  # not read as 0
    assert np.float32(2 * smallest) / np.float32(2.0) == smallest


def test_a_nan_weight_stops_training_as_in_the_reference():
    # ReLU keeps NaN as np.maximum does: the loss becomes NaN and the step is refused
    from chainrule.errors import TrainingDivergedError

    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y = np.arange(16) % 3
    for mode in ("numba", "off"):
        net = _classifier(6, 3, "adam").build(4)
        net.layers[0].weights[0, 0] = np.nan
        with kernels.use(mode), np.errstate(invalid="ignore"):
            with pytest.raises(TrainingDivergedError, match="the loss became nan"):
                net.train_step(X, y)


def test_the_step_and_its_buffers_stay_out_of_copies_and_pickles():
    import pickle

    net = _classifier(3, 2, "sgd").build(4)
    with kernels.use("numba"):
        net.train_step(np.ones((8, 4), np.float32), np.arange(8) % 2)
        assert "_fused_step" in vars(net)
        assert "_fused_step" not in vars(copy.deepcopy(net))
        assert "_fused_step" not in vars(pickle.loads(pickle.dumps(net)))


def test_the_buffers_of_a_large_batch_are_not_kept(monkeypatch):
    from chainrule import fused

    monkeypatch.setattr(fused, "KEEP_BYTES", 4096)
    net = _classifier(8, 2, "sgd").build(4)
    plain = copy.deepcopy(net)
    X = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)  # 100 x 8 x 4 B
    y = np.arange(100) % 2
    with kernels.use("numba"):
        for _ in range(2):
            net.train_step(X, y)
            step = kernels.step_kernel(net)
            assert step.rows == 0 and all(s.da is None for s in step.stages)
    with kernels.use("off"):
        for _ in range(2):
            plain.train_step(X, y)
    np.testing.assert_allclose(net.params, plain.params, rtol=2e-5, atol=1e-6)
    # what the layers keep is the step's, as the reference keeps it
    np.testing.assert_allclose(net.layers[1].output, plain.layers[1].output, rtol=2e-5, atol=1e-6)
