"""Layers (chainrule.layers): pinned forward and backward values, shapes, the sizes a
Dense layer refuses, the Exp output layer, registries and configs, and an activation
written outside the library."""

import warnings

import numpy as np
import pytest

from chainrule import (
    ACTIVATIONS,
    GELU,
    LAYERS,
    Dense,
    Dropout,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule import functions as F
from chainrule.gradcheck import check_layer
from chainrule.layers import Activation, Exp, get_activation, get_layer, layer_from_config

RNG = np.random.default_rng(0)


def standalone(layer, n_features, seed=0):
    """Build a layer outside a network, in float64, with its own parameter arrays."""
    rng = np.random.default_rng(seed)
    layer.build(n_features, rng, np.float64)
    shapes = [shape for _, shape in layer.param_shapes()]
    layer.bind([np.zeros(s) for s in shapes], [np.zeros(s) for s in shapes])
    if shapes:
        layer.reset_parameters(rng)
    return layer


# ---------------------------------------------------------------- Dense


def test_dense_forward_and_backward_by_hand():
    layer = standalone(Dense(3), 2)
    layer.weights[...] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    layer.bias[...] = [0.5, -0.5, 0.0]
    x = np.array([[1.0, 2.0]])
    np.testing.assert_allclose(layer.forward(x), [[9.5, 11.5, 15.0]])
    dx = layer.backward(np.array([[1.0, 0.0, -1.0]]))
    np.testing.assert_allclose(layer.derror_dweights, [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0]])
    np.testing.assert_allclose(layer.derror_dbias, [1.0, 0.0, -1.0])
    np.testing.assert_allclose(dx, [[-2.0, -2.0]])


def test_dense_bias_gradient_sums_over_the_batch():
    layer = standalone(Dense(2), 3)
    x = np.arange(12.0).reshape(4, 3)
    layer.forward(x)
    g = np.arange(8.0).reshape(4, 2)
    layer.backward(g)
    np.testing.assert_allclose(layer.derror_dbias, g.sum(axis=0))
    np.testing.assert_allclose(layer.derror_dweights, x.T @ g)


def test_dense_shapes_and_parameter_count():
    layer = standalone(Dense(5), 3)
    assert layer.weights.shape == (3, 5)  # (in_features, out_features)
    assert layer.bias.shape == (5,)
    assert layer.n_params == 3 * 5 + 5
    assert standalone(Dense(5, use_bias=False), 3).n_params == 15
    np.testing.assert_array_equal(layer.bias, 0)  # default bias initialiser: zeros


def test_dense_output_of_lesson_dot_product():
    # the lesson: input [1.72, 1.23] with weights [1.26, 0] and [2.17, 0.32]
    layer = standalone(Dense(2, use_bias=False), 2)
    layer.weights[...] = np.array([[1.26, 0.0], [2.17, 0.32]]).T
    # the lesson prints the second as 4.1259 (float round-off of 4.126)
    np.testing.assert_allclose(
        layer.forward(np.array([[1.72, 1.23]])), [[2.1672, 4.1259]], atol=1e-4
    )
    assert F.dot_product([1.72, 1.23], [1.26, 0]) == pytest.approx(2.1672)


@pytest.mark.parametrize("units", [0, -3])
def test_non_positive_units(units):
    with pytest.raises(
        ValueError, match=f"units must be a positive integer; received units={units}"
    ):
        Dense(units)


@pytest.mark.parametrize("units", [2.5, "8", True])
def test_units_of_the_wrong_type(units):
    with pytest.raises(
        TypeError, match=r"units must be a positive integer; received units=.* of type"
    ):
        Dense(units)


# ---------------------------------------------------------------- activations


def test_relu_values_and_mask():
    layer = ReLU()
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(layer.forward(x), [[0.0, 0.0, 0.0, 0.5, 3.0]])
    np.testing.assert_array_equal(layer.backward(np.full((1, 5), 2.0)), [[0, 0, 0, 2, 2]])


def test_leaky_relu_values():
    layer = LeakyReLU(0.1)
    x = np.array([[-2.0, 3.0]])
    np.testing.assert_allclose(layer.forward(x), [[-0.2, 3.0]])
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 1.0]])), [[0.1, 1.0]])
    assert LeakyReLU().negative_slope == 0.01


def test_sigmoid_values():
    layer = Sigmoid()
    np.testing.assert_allclose(layer.forward(np.array([[0.0, np.log(3.0)]])), [[0.5, 0.75]])
    np.testing.assert_allclose(layer.backward(np.ones((1, 2))), [[0.25, 0.1875]])
    # the lesson: input [1.66, 1.56], weights [1.45, -0.66], bias 0 -> 0.7985731
    assert F.sigmoid(1.66 * 1.45 + 1.56 * -0.66) == pytest.approx(0.7985731, abs=1e-7)


def test_sigmoid_is_stable_for_huge_inputs():
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = Sigmoid().forward(np.array([[-1000.0, 1000.0]]))
    np.testing.assert_array_equal(out, [[0.0, 1.0]])


def test_tanh_values():
    layer = Tanh()
    np.testing.assert_allclose(layer.forward(np.array([[0.5]])), [[0.46211715726000974]])
    np.testing.assert_allclose(layer.backward(np.array([[2.0]])), [[2 * 0.7864477329659274]])


def test_gelu_values():
    layer = GELU()
    np.testing.assert_allclose(
        layer.forward(np.array([[1.0, -1.0, 0.0]])), [[0.8411919906082768, -0.1588080093917233, 0]]
    )
    np.testing.assert_allclose(
        layer.backward(np.ones((1, 3))), [[1.0829640838457826, -0.0829640838457826, 0.5]]
    )


def test_softmax_values_and_stability():
    layer = Softmax()
    np.testing.assert_allclose(
        layer.forward(np.array([[1.0, 2.0, 3.0]])),
        [[0.09003057, 0.24472847, 0.66524096]],
        atol=1e-8,
    )
    with np.errstate(over="raise", invalid="raise"):
        big = layer.forward(np.array([[1000.0, -1000.0, 1000.0]]))
    np.testing.assert_allclose(big, [[0.5, 0.0, 0.5]])
    # a constant upstream gradient has no effect: softmax outputs sum to one
    np.testing.assert_allclose(layer.backward(np.ones((1, 3))), 0.0, atol=1e-15)


def test_identity_passes_through():
    x = np.array([[1.0, -2.0]])
    assert Identity().forward(x) is x
    assert Identity().backward(x) is x


def test_exp_layer():
    assert check_layer(Exp(), RNG.normal(size=(4, 3))).passed
    np.testing.assert_allclose(Exp().forward(np.array([[0.0, 1.0]])), [[1.0, np.e]])


@pytest.mark.parametrize("cls", [ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax])
def test_layers_on_their_own_never_modify_their_arguments(cls):
    x = np.array([[-1.0, 0.5, 2.0]])
    g = np.array([[0.3, -0.2, 1.0]])
    x0, g0 = x.copy(), g.copy()
    layer = cls()
    layer.forward(x, training=True)
    layer.backward(g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


# ---------------------------------------------------------------- Dropout


def test_dropout_is_the_identity_at_prediction():
    layer = standalone(Dropout(0.5), 4)
    x = np.ones((3, 4))
    assert layer.forward(x, training=False) is x
    assert layer.backward(x) is x


def test_dropout_in_training_drops_and_rescales():
    layer = standalone(Dropout(0.25), 200, seed=1)
    x = np.ones((100, 200))
    out = layer.forward(x, training=True)
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert np.mean(out == 0) == pytest.approx(0.25, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # inverted dropout keeps the mean
    g = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(g, layer.mask)


def test_dropout_rate_zero_is_identity_even_in_training():
    layer = standalone(Dropout(0.0), 2)
    x = np.ones((2, 2))
    assert layer.forward(x, training=True) is x


# ---------------------------------------------------------------- registries and configs


def test_activation_registry():
    assert ACTIVATIONS["relu"] is ReLU
    assert ACTIVATIONS["logistic"] is ACTIVATIONS["sigmoid"] is Sigmoid
    assert ACTIVATIONS["identity"] is ACTIVATIONS["linear"] is Identity
    assert get_activation("TANH") is Tanh
    assert get_layer("Dense") is Dense
    assert get_layer("softmax") is Softmax
    assert get_layer("dropout") is Dropout


@pytest.mark.parametrize(
    "layer",
    [
        Dense(4, kernel_initializer="he_normal", use_bias=False),
        ReLU(),
        LeakyReLU(0.3),
        Sigmoid(),
        Tanh(),
        GELU(),
        Softmax(),
        Identity(),
        Dropout(0.2),
    ],
    ids=repr,
)
def test_layer_config_round_trip(layer):
    config = {"class_name": type(layer).__name__, "config": layer.get_config()}
    rebuilt = layer_from_config(config)
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == layer.get_config()
    assert type(layer).__name__ in LAYERS
    assert repr(rebuilt) == repr(layer)


def test_layer_from_config_refuses_unknown_classes():
    with pytest.raises(ValueError, match="unknown layer 'Conv2D'"):
        layer_from_config({"class_name": "Conv2D", "config": {}})


def test_dense_backward_takes_a_gradient_of_another_dtype():
    # the bias gradient's fast route (ones @ g) needs one dtype; others still work
    layer = Dense(3)
    layer.build(2, np.random.default_rng(0), np.float64)
    params = [np.zeros((2, 3)), np.zeros(3)]
    grads = [np.zeros((2, 3)), np.zeros(3)]
    layer.bind(params, grads)
    layer.forward(np.ones((4, 2)))
    layer.backward(np.full((4, 3), 0.5, dtype=np.float32))
    np.testing.assert_array_equal(grads[1], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(grads[0], np.full((2, 3), 2.0))


def test_layers_keep_nothing_at_prediction_and_their_inputs_in_training():
    x = np.array([[-1.0, 2.0]] * 5)
    for layer in (ReLU(), Tanh(), Sigmoid(), standalone(Dense(3), 2)):
        out = layer(x)
        assert not hasattr(layer, "input") and not hasattr(layer, "output")
        kept = layer.forward(x, training=True)
        np.testing.assert_array_equal(kept, out)
        assert layer.input is x and layer.output is kept


# ---------------------------------------------------------------- an activation of one's own


class Softplus(Activation):
    """``y = log(1 + exp(x))``; ``dy/dx = sigmoid(x)``: written outside the library."""

    name = "softplus"

    def __call__(self, x):
        return np.logaddexp(0, x)

    def backward(self, derror_doutput):
        return derror_doutput * F.sigmoid(self.input)


def test_an_activation_from_outside_the_library_trains_in_a_network():
    from chainrule import Network, Softmax
    from chainrule.gradcheck import check_layer, check_network

    assert check_layer(Softplus(), np.random.default_rng(0).normal(size=(6, 4))).passed
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = Network(
        [Dense(16), Softplus(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        seed=0,
        dtype="float64",
    )
    assert check_network(net, X[:20], y[:20]).passed
    history = net.fit(X, y, epochs=20, batch_size=32)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert net.evaluate(X, y)["accuracy"] > 0.95
