"""Every compiled kernel against the reference it stands in for, on random inputs in
float32 and float64 (the optimizers' and the loss's kernels: tests/test_kernels.py)."""

import numpy as np
import pytest

from chainrule import functions as F
from chainrule import kernels

pytestmark = pytest.mark.skipif(
    not kernels.compiled_available(),
    reason="numba is not installed (the 'fast' extra): there are no compiled kernels",
)

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    return {"rtol": 4 * np.finfo(dtype).eps, "atol": 4 * np.finfo(dtype).eps}


def _inputs(dtype, seed=0, shape=(37, 11)):
    rng = np.random.default_rng(seed)
    z = (rng.normal(size=shape) * 4).astype(dtype)
    z[0, :4] = [0.0, -0.0, 200.0, -200.0]  # the kink, and far out where exp overflows
    b = rng.normal(size=shape[1]).astype(dtype)
    da = rng.normal(size=shape).astype(dtype)
    return z, b, da


FORWARD = {
    "relu": (lambda c: c.bias_relu, F.relu),
    "sigmoid": (lambda c: c.bias_sigmoid, F.sigmoid),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [*FORWARD, "leaky_relu", "identity"])
def test_bias_and_activation_forward(name, dtype):
    from chainrule import compiled

    z, b, _ = _inputs(dtype)
    expected_z = z + b
    out_z, a = z.copy(), np.empty_like(z)
    if name == "identity":
        compiled.bias_identity(out_z, b)
        a, expected_a = out_z, expected_z
    elif name == "leaky_relu":
        compiled.bias_leaky_relu(out_z, b, a, dtype(0.1))
        expected_a = F.leaky_relu(expected_z, 0.1)
    else:
        kernel, reference = FORWARD[name]
        kernel(compiled)(out_z, b, a)
        with np.errstate(under="ignore"):  # exp(-200) in float32
            expected_a = reference(expected_z)
    np.testing.assert_allclose(out_z, expected_z, **_tol(dtype))
    np.testing.assert_allclose(a, expected_a, **_tol(dtype))
    assert a.dtype == dtype


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "identity"])
def test_activation_backward_and_the_bias_gradient(name, dtype, in_place):
    from chainrule import compiled

    z, _, da = _inputs(dtype, seed=1)
    a = {
        "relu": F.relu(z),
        "leaky_relu": F.leaky_relu(z, 0.1),
        "sigmoid": F.sigmoid(z),
        "tanh": np.tanh(z),
        "identity": z,
    }[name].astype(dtype)
    expected_dz = {
        "relu": da * F.relu_deriv(z),
        "leaky_relu": da * F.leaky_relu_deriv(z, 0.1),
        "sigmoid": da * F.sigmoid_deriv_from_output(a),
        "tanh": da * F.tanh_deriv_from_output(a),
        "identity": da,
    }[name]
    expected_db = np.ones(z.shape[0], dtype) @ expected_dz
    db = np.full(z.shape[1], np.nan, dtype)  # every value is written
    source = da.copy()
    dz = source if in_place else np.empty_like(da)
    if name == "identity":
        compiled.bias_grad(source, db)
        dz = source
    elif name == "relu":
        compiled.relu_backward(source, z, dz, db)
    elif name == "leaky_relu":
        compiled.leaky_relu_backward(source, z, dtype(0.1), dz, db)
    elif name == "sigmoid":
        compiled.sigmoid_backward(source, a, dz, db)
    else:
        compiled.tanh_backward(source, a, dz, db)
    np.testing.assert_allclose(dz, expected_dz, **_tol(dtype))
    # a sum of 37 rows in another order: rounding grows with the sum's terms
    scale = float(np.abs(expected_dz).sum(axis=0).max())
    np.testing.assert_allclose(db, expected_db, rtol=0, atol=64 * np.finfo(dtype).eps * scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_softmax_cross_entropy_kernel_names_a_bad_label_by_returning_minus_one(dtype):
    from chainrule import compiled

    z = np.zeros((3, 4), dtype)
    out = np.empty_like(z)
    losses = np.empty(3, dtype)
    share = np.full(3, 1 / 3, dtype)
    for labels in ([0, 4, 1], [0, -1, 1]):
        value = compiled.softmax_cross_entropy(
            z, np.array(labels, np.intp), share, dtype(-np.inf), dtype(np.inf), losses, out
        )
        assert value == -1.0
    value = compiled.softmax_cross_entropy(
        z, np.array([0, 3, 1], np.intp), share, dtype(-np.inf), dtype(np.inf), losses, out
    )
    assert value == pytest.approx(np.log(4), rel=4 * float(np.finfo(dtype).eps))
