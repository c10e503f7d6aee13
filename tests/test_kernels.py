"""Kernels: each fast path computes what the readable code it stands in for computes,
and switching them off runs the reference alone."""

import copy
import warnings

import numpy as np
import pytest

from chainrule import SGD, Adam, AdamW, Dense, Network, ReLU, RMSprop, Softmax, kernels
from chainrule.losses import CategoricalCrossentropy
from chainrule.optimizers import Optimizer
from chainrule.sklearn_rules import LogLoss

OPTIMIZERS = [
    SGD(0.1),
    SGD(0.05, momentum=0.9),
    SGD(0.05, momentum=0.9, nesterov=True),
    RMSprop(0.01, rho=0.8),
    Adam(0.01),
    Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-8),
    AdamW(0.003, weight_decay=0.01),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
def test_optimizer_kernels_equal_the_formulas(optimizer, dtype):
    rng = np.random.default_rng(0)
    params = rng.normal(size=500).astype(dtype)
    fast, plain = copy.deepcopy(optimizer), copy.deepcopy(optimizer)
    fast_params, plain_params = params.copy(), params.copy()
    fast.build(fast_params)
    plain.build(plain_params)
    assert kernels.optimizer_kernel(fast) is not None
    for _ in range(5):
        grads = rng.normal(size=500).astype(dtype)
        fast.step(fast_params, grads)
        plain.iterations += 1
        type(plain)._update(plain, plain_params, grads)  # the formula itself
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(fast_params, plain_params, rtol=tol, atol=tol)
    assert not np.array_equal(fast_params, params)  # the steps did move
    for name in ("velocity", "mean_square", "m", "v"):
        if getattr(plain, name, None) is not None:
            np.testing.assert_allclose(getattr(fast, name), getattr(plain, name), rtol=tol)


def test_a_subclass_with_its_own_update_is_not_replaced_by_a_kernel():
    class Halved(Adam):
        def _update(self, params, grads):
            super()._update(params, grads / 2)

    assert kernels.optimizer_kernel(Halved()) is None
    assert kernels.optimizer_kernel(Adam()) is not None

    class Custom(Optimizer):
        def _update(self, params, grads):
            params -= grads

    params = np.ones(3)
    Custom(0.1).step(params, np.ones(3))
    np.testing.assert_array_equal(params, np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True, "zero"])
@pytest.mark.parametrize("loss_class", [CategoricalCrossentropy, LogLoss])
@pytest.mark.parametrize("far", [False, True], ids=["kernel", "far-rows-to-reference"])
def test_the_cross_entropy_kernels_equal_the_reference(loss_class, dtype, weighted, far):
    rng = np.random.default_rng(1)
    z = (rng.normal(size=(64, 5)) * 4).astype(dtype)
    labels = rng.integers(1, 5, size=64)
    z[4:8] = [-40.0, 0.0, 0.0, 0.0, 0.0]  # far from the label, where LogLoss's clip holds
    z[8:12, 1], labels[8:12] = 60.0, 1  # sure of the right class
    if far:  # logits so far above the label's that the kernel hands the batch over
        z[:4, 0] += np.array([30.0, 90.0, 400.0, 800.0], dtype=dtype)
    w = {False: None, True: rng.uniform(0, 2, size=64), "zero": np.zeros(64)}[weighted]
    loss = loss_class()
    kernel = kernels.loss_kernel(loss)
    assert (kernel(loss, z, labels, w) is None) == far
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = loss.value_and_gradient(z, labels, w)
        with kernels.disabled():
            assert kernels.loss_kernel(loss) is None
            reference = loss.value_and_gradient(z, labels, w)
    eps = float(np.finfo(dtype).eps)
    assert fast[0] == pytest.approx(reference[0], rel=64 * eps)
    # p * share - share at the label, where the reference has (p - 1) * share: they
    # differ by a rounding of the share, which is large beside a p close to 1
    scale = float(np.abs(reference[1]).max())
    np.testing.assert_allclose(fast[1], reference[1], rtol=64 * eps, atol=4 * eps * scale)
    assert fast[1].dtype == reference[1].dtype == dtype
    if loss_class is CategoricalCrossentropy:  # one-hot rows have no kernel
        onehot = np.eye(5, dtype=dtype)[labels]
        assert kernel(loss, z, onehot, w) is None
        np.testing.assert_allclose(
            loss.value_and_gradient(z, onehot, w)[1], reference[1], rtol=1e-6, atol=eps * 1e-3
        )


def test_bad_labels_get_the_reference_error_with_kernels_on():
    loss = CategoricalCrossentropy()
    for labels in ([0, 4, 1], [0, -1, 1]):
        with pytest.raises(ValueError, match=r"labels must be 0\.\.3 for 4 logits"):
            loss.value_and_gradient(np.zeros((3, 4)), np.array(labels))


def test_training_with_and_without_kernels_gives_the_same_network():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    weights = []
    for on in (True, False):
        kernels.set_enabled(on)
        try:
            net = Network(
                [Dense(16), ReLU(), Dense(3), Softmax()],
                loss="categorical_crossentropy",
                optimizer=Adam(0.01),
                seed=0,
                dtype="float64",
            )
            net.fit(X, y, epochs=3, batch_size=32)
            weights.append(net.params.copy())
        finally:
            kernels.set_enabled(True)
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-9, atol=1e-12)


def test_the_switch():
    assert kernels.enabled()
    with kernels.disabled():
        assert not kernels.enabled()
        assert kernels.optimizer_kernel(Adam()) is None
    assert kernels.enabled()


def test_the_environment_switches_kernels_off():
    import subprocess
    import sys

    code = "from chainrule import kernels; print(kernels.enabled())"
    for value, expected in (("0", "False"), ("off", "False"), ("1", "True")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**__import__("os").environ, "CHAINRULE_KERNELS": value},
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == expected


def test_a_kernels_scratch_is_not_pickled():
    import pickle

    opt = Adam()
    params = np.zeros(10)
    opt.build(params)
    opt.step(params, np.ones(10))
    assert hasattr(opt, "_scratch")
    assert not hasattr(pickle.loads(pickle.dumps(opt)), "_scratch")
