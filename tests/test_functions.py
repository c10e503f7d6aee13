"""The math functions (chainrule.functions): the lesson's dot product written out by
hand, and the sigmoid with its derivatives, from the pre-activation and from the output."""

import numpy as np
import pytest

from chainrule import functions as F
from chainrule.functions import dot_product, sigmoid, sigmoid_deriv


def test_dot_products():
    input_vector = [1.72, 1.23]
    weights_1 = [1.26, 0]
    weights_2 = [2.17, 0.32]
    assert dot_product(input_vector, weights_1) == pytest.approx(2.1672, abs=1e-12)
    # the lesson prints 4.1259: the float is 4.1259999999999994, cut to 4 places
    assert dot_product(input_vector, weights_2) == pytest.approx(4.126, abs=1e-12)
    assert f"{dot_product(input_vector, weights_2):.17f}".startswith("4.1259")


def test_sigmoid_and_its_derivative_take_the_pre_activation():
    x = np.array([-3.0, 0.0, 2.5])
    assert np.allclose(sigmoid(x), 1 / (1 + np.exp(-x)))
    assert np.allclose(sigmoid_deriv(x), sigmoid(x) * (1 - sigmoid(x)))
    assert sigmoid_deriv(0.0) == 0.25


def test_sigmoid_deriv_takes_the_pre_activation():
    assert F.sigmoid_deriv(0.0) == 0.25
    assert F.sigmoid_deriv_from_output(0.5) == 0.25


# ---------------------------------------------------------------- activations and derivatives

X = np.array([-3.0, -0.5, 0.2, 1.0, 4.0])


def numerical_derivative(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_relu_and_leaky_relu_with_their_derivatives():
    np.testing.assert_array_equal(F.relu(X), [0, 0, 0.2, 1.0, 4.0])
    np.testing.assert_array_equal(F.relu_deriv(X), [0, 0, 1, 1, 1])
    assert F.relu_deriv(0.0) == 0  # 0 at the kink
    np.testing.assert_allclose(F.leaky_relu(X, 0.1), [-0.3, -0.05, 0.2, 1.0, 4.0])
    np.testing.assert_array_equal(F.leaky_relu_deriv(X, 0.1), [0.1, 0.1, 1, 1, 1])
    np.testing.assert_allclose(F.relu_deriv(X), numerical_derivative(F.relu, X))
    np.testing.assert_allclose(
        F.leaky_relu_deriv(X, 0.1), numerical_derivative(lambda x: F.leaky_relu(x, 0.1), X)
    )
    assert F.relu_deriv(X.astype(np.float32)).dtype == np.float32


def test_tanh_and_gelu_derivatives_match_finite_differences():
    np.testing.assert_allclose(
        F.tanh_deriv_from_output(F.tanh(X)), numerical_derivative(F.tanh, X), rtol=1e-8
    )
    np.testing.assert_allclose(F.gelu_deriv(X), numerical_derivative(F.gelu, X), rtol=1e-7)
    # GELU's tanh approximation is within 1e-3 of x * Phi(x)
    from scipy.special import ndtr

    np.testing.assert_allclose(F.gelu(X), X * ndtr(X), atol=1e-3)
    assert F.gelu(X.astype(np.float32)).dtype == np.float32


def test_sigmoid_never_overflows_and_keeps_float32():
    big = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = F.sigmoid(big)
    np.testing.assert_allclose(s, [0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0], rtol=1e-15)
    assert F.sigmoid(big.astype(np.float32)).dtype == np.float32
    assert F.sigmoid(np.array([1, 2])).dtype == np.float64  # integers become floats


# ---------------------------------------------------------------- softmax family

Z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0], [-5.0, 0.0, 5.0]])


def test_softmax_logsumexp_and_log_softmax_against_scipy():
    from scipy.special import log_softmax, logsumexp, softmax

    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # 1000 would overflow a naive exp
        np.testing.assert_allclose(F.softmax(Z, axis=1), softmax(Z, axis=1), rtol=1e-15)
        np.testing.assert_allclose(F.logsumexp(Z, axis=1), logsumexp(Z, axis=1), rtol=1e-15)
        # z - logsumexp(z) rounds at the scale of the logits (1000 here)
        np.testing.assert_allclose(
            F.log_softmax(Z, axis=1), log_softmax(Z, axis=1), rtol=0, atol=1e-15 * 1000
        )
        np.testing.assert_allclose(F.logsumexp(Z, axis=0), logsumexp(Z, axis=0), rtol=1e-15)
    assert F.logsumexp(Z, axis=1, keepdims=True).shape == (3, 1)
    np.testing.assert_allclose(F.softmax(Z, axis=1).sum(axis=1), 1.0)


# ---------------------------------------------------------------- errors


def test_squared_error_and_its_derivative():
    # the lesson: prediction 0.87101915, target 0 -> error 0.75867436, derivative 1.7420383
    assert F.squared_error(0.87101915, 0) == pytest.approx(0.75867436, abs=1e-8)
    assert F.squared_error_deriv(0.87101915, 0) == pytest.approx(1.7420383, abs=1e-7)
    np.testing.assert_allclose(
        F.squared_error_deriv(X, 0.5), numerical_derivative(lambda x: F.squared_error(x, 0.5), X)
    )


def test_cross_entropies_from_logits():
    z = np.array([[-2.0, 0.5], [3.0, -700.0], [800.0, -1.0]])
    t = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        bce = F.binary_crossentropy_from_logits(z, t)
    p = 1 / (1 + np.exp(-z[:1]))
    np.testing.assert_allclose(bce[:1], -(t[:1] * np.log(p) + (1 - t[:1]) * np.log(1 - p)))
    expected = [[np.log1p(np.exp(-3.0)), 0.0], [0.0, 1 + np.log1p(np.exp(-1))]]
    np.testing.assert_allclose(bce[1:], expected, atol=1e-15)
    labels = np.array([1, 0, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        cce = F.categorical_crossentropy_from_logits(z, labels)
    np.testing.assert_allclose(cce, -F.log_softmax(z, axis=1)[np.arange(3), labels], rtol=1e-14)
    assert cce[1] == pytest.approx(0.0, abs=1e-300) and cce[2] == pytest.approx(0.0, abs=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_to_zero_zeroes_the_values_below_the_threshold(dtype):
    info = np.finfo(dtype)
    floor = F.flush_threshold(dtype)
    assert floor == pytest.approx(float(info.tiny / info.eps))
    assert floor > info.tiny  # so that lr * m stays a normal float too
    x = np.array(
        [2 * floor, -floor, 0.9 * floor, -info.tiny, info.smallest_subnormal, 0.5, 0.0],
        dtype=dtype,
    )
    assert F.flush_to_zero(x) is x  # in place
    np.testing.assert_array_equal(x, np.array([2 * floor, -floor, 0, 0, 0, 0.5, 0], dtype))
    assert not np.signbit(x[3])  # exactly 0, not -0
