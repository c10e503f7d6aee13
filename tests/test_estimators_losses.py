"""The engine pieces added for scikit-learn's MLPs: HalfSquaredError,
MultilabelCrossentropy, HalfPoissonDeviance and the Exp output layer.

Gradient checks, pinned values against scikit-learn's own loss functions, and the
fused output layers inside a Network.
"""

import numpy as np
import pytest

from chainrule import Dense, Network, Sigmoid, Tanh
from chainrule.gradcheck import check_layer, check_loss, check_network
from chainrule.layers import LAYERS, Exp
from chainrule.losses import (
    LOSSES,
    BinaryCrossentropy,
    HalfPoissonDeviance,
    HalfSquaredError,
    MultilabelCrossentropy,
)

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(6, 3))
WEIGHTS = RNG.uniform(0.2, 2.0, size=6)


def test_registered_by_name():
    assert LOSSES["half_squared_error"] is HalfSquaredError
    assert LOSSES["multilabel_crossentropy"] is MultilabelCrossentropy
    assert LOSSES["poisson"] is HalfPoissonDeviance
    assert HalfPoissonDeviance.output_activation == "exp"
    assert LAYERS["Exp"] is Exp


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        ("half_squared_error", RNG.normal(size=(6, 3))),
        ("multilabel_crossentropy", (RNG.random((6, 3)) > 0.5).astype(float)),
        ("poisson", RNG.poisson(2.0, size=(6, 3)).astype(float)),
    ],
)
@pytest.mark.parametrize("sample_weight", [None, WEIGHTS])
def test_gradients(loss, target, sample_weight):
    assert check_loss(loss, Z, target, sample_weight=sample_weight).passed


def test_half_squared_error_pinned():
    output = np.array([[1.0, 2.0], [0.0, -1.0]])
    target = np.array([[0.0, 0.0], [0.0, 1.0]])
    # per sample 0.5 * (1 + 4) and 0.5 * 4: mean 2.25
    value, grad = HalfSquaredError().value_and_gradient(output, target)
    assert value == 2.25
    np.testing.assert_array_equal(grad, [[0.5, 1.0], [0.0, -1.0]])


def test_values_match_sklearn_losses():
    sk_base = pytest.importorskip("sklearn.neural_network._base", reason="compares to sklearn")
    from scipy.special import expit

    labels = (RNG.random((6, 3)) > 0.5).astype(float)
    ours = MultilabelCrossentropy().value(Z, labels, WEIGHTS)
    assert ours == pytest.approx(sk_base.binary_log_loss(labels, expit(Z), WEIGHTS), rel=1e-12)
    counts = RNG.poisson(2.0, size=(6, 3)).astype(float)
    ours = HalfPoissonDeviance().value(Z, counts, WEIGHTS)
    assert ours == pytest.approx(sk_base.poisson_loss(counts, np.exp(Z), WEIGHTS), rel=1e-12)
    target = RNG.normal(size=(6, 3))
    # scikit-learn reports the squared error averaged over the outputs
    ours = HalfSquaredError().value(Z, target, WEIGHTS) / 3
    assert ours == pytest.approx(sk_base.squared_loss(target, Z, WEIGHTS), rel=1e-12)


def test_multilabel_sums_where_binary_averages_over_outputs():
    labels = (RNG.random((6, 3)) > 0.5).astype(float)
    summed = MultilabelCrossentropy().value(Z, labels)
    assert summed == pytest.approx(3 * BinaryCrossentropy().value(Z, labels), rel=1e-12)
    one = labels[:, :1]
    assert MultilabelCrossentropy().value(Z[:, :1], one) == BinaryCrossentropy().value(
        Z[:, :1], one
    )


def test_exp_layer():
    assert check_layer(Exp(), RNG.normal(size=(4, 3))).passed
    np.testing.assert_allclose(Exp().forward(np.array([[0.0, 1.0]])), [[1.0, np.e]])


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
