"""Finite-difference gradient checks of every layer, loss and a few whole networks."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule import (
    GELU,
    LAYERS,
    LOSSES,
    SGD,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    MeanSquaredError,
    Network,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.gradcheck import (
    GradCheckResult,
    check_layer,
    check_loss,
    check_network,
    numerical_gradient,
    relative_error,
)
from chainrule.layers import Exp
from chainrule.losses import get_loss

THRESHOLD = 1e-6


def away_from_zero(shape, seed=0):
    """Normal values pushed at least 0.1 away from 0, so ReLU kinks are never crossed."""
    x = np.random.default_rng(seed).normal(size=shape)
    return np.sign(x) * (0.1 + np.abs(x))


# ---------------------------------------------------------------- the helpers


def test_numerical_gradient_of_a_cubic():
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * np.array([1.0, 4.0, 0.25]), rtol=1e-9)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored


def test_numerical_gradient_refuses_float32():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: float(x.sum()), x)


def test_relative_error_values():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([2.0, 0.0]), np.array([1.0, 0.0])) == 0.5
    # scaled by the largest entry, not element-wise
    assert relative_error(np.array([4.0, 1e-12]), np.array([4.0, 2e-12])) == pytest.approx(2.5e-13)
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.zeros(2), np.zeros(3))


def test_result_object():
    result = GradCheckResult(1e-9, 1e-6, {"input": 1e-9})
    assert result.passed and bool(result)
    assert "passed=True" in repr(result)
    assert not GradCheckResult(1e-3, 1e-6).passed


# ---------------------------------------------------------------- layers

LAYER_CASES = [
    pytest.param(lambda: Dense(3), id="Dense"),
    pytest.param(lambda: Dense(2, use_bias=False), id="Dense-no-bias"),
    pytest.param(lambda: Dense(4, kernel_initializer="he_normal"), id="Dense-he"),
    pytest.param(ReLU, id="ReLU"),
    pytest.param(lambda: LeakyReLU(0.2), id="LeakyReLU"),
    pytest.param(Sigmoid, id="Sigmoid"),
    pytest.param(Tanh, id="Tanh"),
    pytest.param(GELU, id="GELU"),
    pytest.param(Softmax, id="Softmax"),
    pytest.param(Identity, id="Identity"),
    pytest.param(Exp, id="Exp"),
]


@pytest.mark.parametrize("make_layer", LAYER_CASES)
def test_layer_gradients(make_layer):
    layer = make_layer()
    result = check_layer(layer, away_from_zero((6, 5)))
    assert result.passed, result.errors
    assert result.max_relative_error < THRESHOLD
    assert "input" in result.errors
    for name, _ in layer.param_shapes():
        assert name in result.errors


def test_dense_checks_weights_and_bias():
    result = check_layer(Dense(3), away_from_zero((4, 2)))
    assert set(result.errors) == {"input", "weights", "bias"}


def test_softmax_non_fused_backward_with_large_logits():
    # the full Jacobian product y * (g - sum(g * y)), on logits of very different sizes
    x = away_from_zero((5, 4), seed=3) * np.array([1.0, 5.0, 10.0, 0.1])
    assert check_layer(Softmax(), x).passed


def test_dropout_in_training_with_a_fixed_mask():
    layer = Dropout(0.4)
    x = away_from_zero((8, 6))
    result = check_layer(layer, x, training=True)
    assert result.passed, result.errors
    # the mask was real: some entries dropped, the rest scaled by 1 / (1 - rate)
    assert set(np.unique(layer.mask)) == {0.0, 1.0 / 0.6}
    assert check_layer(Dropout(0.4), x, training=False).passed


# ---------------------------------------------------------------- losses

RNG = np.random.default_rng(7)
N = 6
WEIGHTS = np.array([0.5, 1.0, 2.0, 0.0, 1.5, 1.0])


LOSS_CASES = [
    pytest.param("mse", RNG.normal(size=(N, 1)), RNG.normal(size=N), id="mse-1"),
    pytest.param("mse", RNG.normal(size=(N, 3)), RNG.normal(size=(N, 3)), id="mse-3"),
    pytest.param(
        "binary_crossentropy",
        3 * RNG.normal(size=(N, 1)),
        RNG.integers(0, 2, N),
        id="bce",
    ),
    pytest.param(
        "binary_crossentropy",
        3 * RNG.normal(size=(N, 3)),
        RNG.integers(0, 2, (N, 3)),
        id="bce-multilabel",
    ),
    pytest.param(
        "categorical_crossentropy",
        2 * RNG.normal(size=(N, 4)),
        np.array([0, 1, 2, 3, 1, 2]),
        id="cce-labels",
    ),
    pytest.param(
        "categorical_crossentropy",
        2 * RNG.normal(size=(N, 4)),
        np.eye(4)[[3, 1, 0, 0, 2, 1]],
        id="cce-one-hot",
    ),
    pytest.param(
        "categorical_crossentropy",
        2 * RNG.normal(size=(N, 3)),
        RNG.dirichlet(np.ones(3), N),
        id="cce-soft",
    ),
    pytest.param(
        "half_squared_error", RNG.normal(size=(N, 2)), RNG.normal(size=(N, 2)), id="half-se"
    ),
    pytest.param(
        "multilabel_crossentropy",
        3 * RNG.normal(size=(N, 3)),
        RNG.integers(0, 2, (N, 3)),
        id="multilabel",
    ),
    pytest.param("poisson", RNG.normal(size=(N, 2)), RNG.poisson(2.0, (N, 2)), id="poisson"),
]


@pytest.mark.parametrize("sample_weight", [None, WEIGHTS], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss, output, target", LOSS_CASES)
def test_loss_gradients(loss, output, target, sample_weight):
    result = check_loss(loss, output, target, sample_weight=sample_weight)
    assert result.passed, result.errors
    assert result.max_relative_error < THRESHOLD


def test_every_registered_layer_and_loss_is_checked():
    checked_layers = {type(case.values[0]()) for case in LAYER_CASES} | {Dropout}
    assert set(LAYERS.values()) <= checked_layers
    checked_losses = {type(get_loss(case.values[0])) for case in LOSS_CASES}
    assert set(LOSSES.values()) <= checked_losses


# ---------------------------------------------------------------- networks


def data(n=12, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng


def test_network_softmax_fused_with_l2():
    X, rng = data()
    net = Network(
        [Dense(6), Tanh(), Dense(5), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        l2=0.05,
        dtype="float64",
        seed=1,
    )
    result = check_network(net, X, rng.integers(0, 3, len(X)))
    assert result.passed, result.errors
    assert set(result.errors) == {"W1", "b1", "W2", "b2", "W3", "b3"}


def test_network_softmax_one_hot_with_sample_weight():
    X, rng = data(seed=1)
    net = Network(
        [Dense(5), GELU(), Dense(4), Softmax()],
        loss="categorical_crossentropy",
        optimizer="sgd",
        dtype="float64",
        seed=2,
    )
    y = np.eye(4)[rng.integers(0, 4, len(X))]
    assert check_network(net, X, y, sample_weight=rng.uniform(0.1, 2, len(X))).passed


def test_network_sigmoid_multilabel_fused():
    X, rng = data(seed=2)
    net = Network(
        [Dense(7), LeakyReLU(0.1), Dense(3), Sigmoid()],
        loss="binary_crossentropy",
        optimizer="rmsprop",
        l2=0.01,
        dtype="float64",
        seed=3,
    )
    assert check_network(net, X, rng.integers(0, 2, (len(X), 3))).passed


def test_network_mse_with_sigmoid_output_as_in_the_lesson():
    X, rng = data(seed=3)
    net = Network([Dense(1), Sigmoid()], loss="mse", optimizer=SGD(0.1), dtype="float64", seed=4)
    assert check_network(net, X, rng.integers(0, 2, len(X))).passed
    deeper = Network(
        [Dense(4), Sigmoid(), Dense(1), Sigmoid()], loss="mse", optimizer="sgd", dtype="float64"
    )
    assert check_network(deeper, X, rng.integers(0, 2, len(X))).passed


def test_network_regression_multi_output_non_fused_softmax_and_mse():
    X, rng = data(seed=4)
    net = Network(
        [Dense(5), Tanh(), Dense(3), Softmax()], loss="mse", optimizer="sgd", dtype="float64"
    )
    assert check_network(net, X, rng.dirichlet(np.ones(3), len(X))).passed
    reg = Network(
        [Dense(6), ReLU(), Dense(2), Identity()],
        loss="mse",
        optimizer="sgd",
        l2=0.1,
        dtype="float64",
        seed=5,
    )
    assert check_network(reg, X, rng.normal(size=(len(X), 2))).passed


@pytest.mark.parametrize("activation", [Tanh, Sigmoid, ReLU, GELU, LeakyReLU])
def test_network_with_dropout_in_training(activation):
    # Dropout works in place; it must not corrupt what the activation before it
    # keeps for its backward pass (Tanh and Sigmoid keep their output).
    X, rng = data(seed=5)
    net = Network(
        [Dense(6), activation(), Dropout(0.3), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="sgd",
        dtype="float64",
        seed=6,
    )
    result = check_network(net, X, rng.integers(0, 3, len(X)), training=True)
    assert result.passed, result.errors


def test_network_poisson_fused_with_exp():
    X, rng = data(seed=7)
    net = Network(
        [Dense(5), Tanh(), Dense(2), Exp()], loss="poisson", optimizer="adam", dtype="float64"
    )
    assert check_network(net, 0.5 * X, rng.poisson(1.5, (len(X), 2))).passed


def test_network_with_dropout_before_activations():
    X, rng = data(seed=8)
    net = Network(
        [
            Dense(6),
            Dropout(0.3),
            Tanh(),
            Dropout(0.2),
            Dropout(0.2),
            Dense(4),
            Sigmoid(),
            Dropout(0.1),
            Dense(1),
        ],
        loss="mse",
        optimizer="sgd",
        dtype="float64",
        seed=9,
    )
    result = check_network(net, X, rng.normal(size=len(X)), training=True)
    assert result.passed, result.errors


def test_network_with_chained_activations():
    X, rng = data(seed=6)
    net = Network(
        [Dense(5), Sigmoid(), Tanh(), Dense(1)], loss="mse", optimizer="sgd", dtype="float64"
    )
    assert check_network(net, X, rng.normal(size=len(X))).passed


def test_check_network_restores_the_parameters():
    X, rng = data()
    net = Network([Dense(3), Tanh(), Dense(1)], loss="mse", optimizer="sgd", dtype="float64")
    net.build(X.shape[1])
    before = net.params.copy()
    check_network(net, X, rng.normal(size=len(X)))
    np.testing.assert_array_equal(net.params, before)


def test_check_network_refuses_float32():
    net = Network([Dense(1)], loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match="float64"):
        check_network(net, np.ones((2, 2)), np.ones(2))


# ---------------------------------------------------------------- the check can fail


class WrongTanh(Tanh):
    """A Tanh whose backward is off by a factor of 1.01 (a subtle bug)."""

    def backward(self, derror_doutput):
        return 1.01 * super().backward(derror_doutput)


class WrongDense(Dense):
    """A Dense layer that forgets the bias gradient's sum over the batch."""

    def backward(self, derror_doutput):
        dx = super().backward(derror_doutput)
        self.derror_dbias[...] = derror_doutput[0]
        return dx


class WrongMSE(MeanSquaredError):
    """MSE whose gradient misses the factor 2 (as if the loss had a 1/2)."""

    def value_and_gradient(self, output, target, sample_weight=None):
        value, grad = super().value_and_gradient(output, target, sample_weight)
        return value, grad / 2


def test_check_layer_catches_a_wrong_backward():
    result = check_layer(WrongTanh(), away_from_zero((5, 3)))
    assert not result.passed
    assert result.errors["input"] == pytest.approx(0.01, rel=0.1)


def test_check_layer_catches_a_wrong_parameter_gradient():
    result = check_layer(WrongDense(3), away_from_zero((5, 2)))
    assert not result.passed
    assert result.errors["bias"] > 0.1
    assert result.errors["weights"] < THRESHOLD  # the error is located


def test_check_loss_catches_a_wrong_gradient():
    result = check_loss(WrongMSE(), np.ones((4, 1)), np.zeros(4))
    assert not result.passed
    assert result.max_relative_error == pytest.approx(0.5)


def test_check_network_catches_a_wrong_layer():
    X, rng = data()
    net = Network(
        [Dense(4), WrongTanh(), Dense(1)], loss="mse", optimizer="sgd", dtype="float64", seed=0
    )
    result = check_network(net, X, rng.normal(size=len(X)))
    assert not result.passed
    assert result.errors["W2"] < THRESHOLD  # above the wrong layer: still right
    assert result.errors["W1"] > 1e-3  # below it: wrong


# ---------------------------------------------------------------- random architectures

SMOOTH = {"tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "identity": Identity}
OUTPUTS = {
    "mse": lambda k: [Dense(k)],
    "mse-sigmoid": lambda k: [Dense(k), Sigmoid()],
    "binary_crossentropy": lambda k: [Dense(k), Sigmoid()],
    "categorical_crossentropy": lambda k: [Dense(k + 1), Softmax()],
}


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    hidden=st.lists(
        st.tuples(st.integers(1, 5), st.sampled_from(sorted(SMOOTH))), min_size=0, max_size=3
    ),
    head=st.sampled_from(sorted(OUTPUTS)),
    n_outputs=st.integers(1, 3),
    n_samples=st.integers(1, 6),
    n_features=st.integers(1, 4),
    l2=st.sampled_from([0.0, 0.1]),
    seed=st.integers(0, 2**16),
)
def test_random_smooth_networks(hidden, head, n_outputs, n_samples, n_features, l2, seed):
    layers = [layer for units, name in hidden for layer in (Dense(units), SMOOTH[name]())]
    layers += OUTPUTS[head](n_outputs)
    loss = "mse" if head.startswith("mse") else head
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    if loss == "mse":
        y = rng.normal(size=(n_samples, n_outputs))
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (n_samples, n_outputs))
    else:
        y = rng.integers(0, n_outputs + 1, n_samples)
    net = Network(layers, loss=loss, optimizer="sgd", l2=l2, dtype="float64", seed=seed)
    # Random stacks include 1-unit bottlenecks whose gradients are ~1e-5 of the loss;
    # there the round-off of central differences (~1e-16 |loss| / eps) dominates. Over
    # 400 such networks the largest error was 1.8e-5 with eps=1e-6 and 2.4e-6 with
    # eps=1e-5, hence the larger step and bound here.
    result = check_network(net, X, y, eps=1e-5, threshold=1e-5)
    assert result.passed, (result.errors, net)
