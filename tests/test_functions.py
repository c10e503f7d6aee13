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
