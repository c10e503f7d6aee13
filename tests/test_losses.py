"""Losses (chainrule.losses): exact values, gradients, sample weights, stability for
huge logits, the targets fit refuses, and the losses scikit-learn's MLPs use
(HalfSquaredError, MultilabelCrossentropy, HalfPoissonDeviance) against scikit-learn's own.

Every test runs twice: with the kernels (chainrule.kernels stands in for the softmax
cross-entropy) and with the readable reference alone."""

import itertools
import math
import warnings

import numpy as np
import pytest

import chainrule
from chainrule import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dense,
    MeanSquaredError,
    Network,
    Softmax,
)
from chainrule import functions as F
from chainrule.gradcheck import check_loss
from chainrule.layers import LAYERS, Exp
from chainrule.losses import (
    HalfPoissonDeviance,
    HalfSquaredError,
    MultilabelCrossentropy,
    get_loss,
)
from helpers import X, net


@pytest.fixture(autouse=True, params=["auto", "off"], ids=["kernels", "reference"])
def kernels_on_and_off(request):
    from chainrule import kernels

    with kernels.use(request.param):  # and the mode before comes back
        yield


def strict():
    """Turn every floating-point problem into an error inside the block."""
    warnings.simplefilter("error")
    return np.errstate(over="raise", invalid="raise", divide="raise")


# ---------------------------------------------------------------- mean squared error


def test_mse_value_and_gradient_by_hand():
    loss = MeanSquaredError()
    output = np.array([[1.0], [2.0]])
    target = loss.prepare_target(np.array([0.0, 4.0]), 1, np.float64)
    value, grad = loss.value_and_gradient(output, target)
    assert value == 2.5  # (1 + 4) / 2
    np.testing.assert_allclose(grad, [[1.0], [-2.0]])  # 2 (o - t) / n


def test_mse_is_the_mean_over_all_elements_without_a_half():
    loss = MeanSquaredError()
    output = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.zeros((2, 2))
    assert loss.value(output, target) == 7.5  # (1 + 4 + 9 + 16) / 4
    np.testing.assert_allclose(loss.gradient(output, target), output / 2)  # 2 o / 4


def test_mse_of_the_lesson():
    # the lesson: prediction 0.87101915 against target 0 gives error 0.7586743596667225
    # and derror_dprediction = 2 * prediction = 1.7420383
    assert F.sigmoid(2 * 1.45 + 1.5 * -0.66) == pytest.approx(0.87101915, abs=1e-8)
    prediction = np.array([[0.87101915]])  # the lesson squares the printed value
    value, grad = MeanSquaredError().value_and_gradient(prediction, np.zeros((1, 1)))
    assert value == pytest.approx(0.7586743596667225, abs=1e-15)
    assert grad[0, 0] == pytest.approx(1.7420383, abs=1e-7)


def test_mse_sample_weight_is_a_weighted_mean():
    loss = MeanSquaredError()
    output = np.array([[1.0], [2.0], [0.0]])
    target = np.zeros((3, 1))
    w = np.array([1.0, 3.0, 0.0])
    assert loss.value(output, target, w) == pytest.approx((1 * 1 + 3 * 4) / 4)
    np.testing.assert_allclose(loss.gradient(output, target, w), [[0.5], [3.0], [0.0]])


def test_mse_does_not_modify_its_arguments():
    output, target = np.array([[1.0], [2.0]]), np.array([[0.0], [1.0]])
    MeanSquaredError().value_and_gradient(output, target)
    np.testing.assert_array_equal(output, [[1.0], [2.0]])


# ---------------------------------------------------------------- binary cross-entropy


def test_binary_crossentropy_by_hand():
    loss = BinaryCrossentropy()
    z = np.array([[2.0], [-1.0]])
    t = loss.prepare_target(np.array([1, 0]), 1, np.float64)
    value, grad = loss.value_and_gradient(z, t)
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert value == pytest.approx(expected, rel=1e-14)
    assert value == pytest.approx(0.22009484928059775, rel=1e-14)
    sig = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(grad, (sig - t) / 2, rtol=1e-14)
    assert loss.value(np.zeros((1, 1)), np.ones((1, 1))) == pytest.approx(math.log(2))


def test_binary_crossentropy_equals_scikit_learn_log_loss():
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 1)) * 3
    y = rng.integers(0, 2, 50)
    value = BinaryCrossentropy().value(z, y.reshape(-1, 1).astype(float))
    assert value == pytest.approx(log_loss(y, F.sigmoid(z[:, 0])), rel=1e-12)


def test_binary_crossentropy_multilabel_averages_all_elements():
    loss = BinaryCrossentropy()
    z = np.array([[0.0, 2.0]])
    t = np.array([[1.0, 0.0]])
    expected = (math.log(2) + 2 + math.log(1 + math.exp(-2))) / 2
    assert loss.value(z, t) == pytest.approx(expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_crossentropy_stable_for_huge_logits(dtype):
    loss = BinaryCrossentropy()
    z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]], dtype=dtype)
    t = np.array([[1.0], [0.0], [0.0], [1.0]], dtype=dtype)
    with warnings.catch_warnings(), strict():
        value, grad = loss.value_and_gradient(z, t)
    assert value == pytest.approx((0 + 0 + 1000 + 1000) / 4)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [[0.0], [0.0], [0.25], [-0.25]])


# ---------------------------------------------------------------- categorical cross-entropy


def test_categorical_crossentropy_by_hand():
    loss = CategoricalCrossentropy()
    z = np.array([[1.0, 2.0, 3.0]])
    value, grad = loss.value_and_gradient(z.copy(), np.array([2]))
    assert value == pytest.approx(0.40760596444438013, rel=1e-14)
    np.testing.assert_allclose(grad, [[0.09003057, 0.24472847, 0.66524096 - 1]], atol=1e-8)


def test_categorical_crossentropy_labels_and_one_hot_agree():
    loss = CategoricalCrossentropy()
    rng = np.random.default_rng(1)
    z = rng.normal(size=(8, 4))
    labels = rng.integers(0, 4, 8)
    one_hot = loss.prepare_target(np.eye(4)[labels], 4, np.float64)
    prepared = loss.prepare_target(labels, 4, np.float64)
    assert prepared.dtype.kind == "i"
    v1, g1 = loss.value_and_gradient(z, prepared)
    v2, g2 = loss.value_and_gradient(z, one_hot)
    assert v1 == pytest.approx(v2, rel=1e-14)
    np.testing.assert_allclose(g1, g2, atol=1e-15)


def test_categorical_crossentropy_equals_scikit_learn_log_loss():
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(2)
    z = rng.normal(size=(30, 3)) * 2
    y = rng.integers(0, 3, 30)
    value = CategoricalCrossentropy().value(z, y)
    assert value == pytest.approx(log_loss(y, F.softmax(z, axis=1), labels=[0, 1, 2]), rel=1e-12)


def test_categorical_crossentropy_sample_weight():
    loss = CategoricalCrossentropy()
    z = np.array([[0.0, 0.0], [5.0, 0.0]])
    y = np.array([0, 1])
    per_sample = [math.log(2), math.log(1 + math.exp(5))]
    assert loss.value(z, y, np.array([3.0, 1.0])) == pytest.approx(
        (3 * per_sample[0] + per_sample[1]) / 4
    )
    assert loss.value(z, y, np.array([1.0, 0.0])) == pytest.approx(per_sample[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_categorical_crossentropy_stable_for_huge_logits(dtype):
    loss = CategoricalCrossentropy()
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], dtype=dtype)
    with warnings.catch_warnings(), strict():
        value, grad = loss.value_and_gradient(z, np.array([1, 2]))
    assert value == pytest.approx((2000 + 0) / 2)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_categorical_crossentropy_wrong_rows_across_the_overflow_of_the_label_shift(
    dtype, weighted
):
    # Rows are shifted by their label's logit; a logit far above it makes the row's
    # sum of exponentials huge (exp overflows past ~88 in float32, ~709 in float64,
    # and 1 / sum turns subnormal before that), and the loss then shifts by the rows'
    # maxima instead. Values and gradients match the reference on both sides of
    # every threshold, with and without sample weights (small and zero ones too).
    eps = float(np.finfo(dtype).eps)
    gaps = (5.0, 44.0, 45.0, 80.0, 87.0, 88.5, 89.0, 354.0, 356.0, 700.0, 708.0, 710.0, 1e4)
    for gap, w in itertools.product(gaps, ([1e-6, 2.0, 1.0], [0.0, 2.0, 1.0])):
        z = np.array([[gap, 0.0, 1.0], [0.5, 2.0, -1.0], [0.0, -3.0, 3.0]])
        y = np.array([1, 1, 2])
        w = np.array(w) if weighted else None
        z = z.astype(dtype)
        with warnings.catch_warnings(), strict():
            value, grad = CategoricalCrossentropy().value_and_gradient(z, y, w)
        zz = z.astype(np.float64)
        per_sample = F.logsumexp(zz, axis=1) - zz[np.arange(3), y]
        scale = np.full(3, 1 / 3) if w is None else w / w.sum()
        expected_grad = (F.softmax(zz, axis=1) - np.eye(3)[y]) * scale[:, None]
        assert value >= 0
        assert value == pytest.approx(per_sample @ scale, rel=8 * eps)
        np.testing.assert_allclose(grad, expected_grad, rtol=64 * eps, atol=1e-18)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gap", [0.0, 30.0, 80.0, 600.0, 700.0, 5000.0])
def test_categorical_crossentropy_rows_far_below_the_batch_maximum(dtype, gap):
    # Rows far below the batch's largest logit (past where exp(row - batch max)
    # underflows: about 87 in float32, 708 in float64) still get exact values.
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 4))
    z[3:] -= gap
    z = z.astype(dtype)
    y = np.array([0, 1, 2, 3, 0, 1])
    with warnings.catch_warnings(), strict():
        value, grad = CategoricalCrossentropy().value_and_gradient(z, y)
    zz = z.astype(np.float64)
    expected = np.mean(F.logsumexp(zz, axis=1) - zz[np.arange(6), y])
    expected_grad = (F.softmax(zz, axis=1) - np.eye(4)[y]) / 6
    # log-sum-exp minus a logit: rounding grows with the logits' magnitude
    eps = np.finfo(dtype).eps
    assert value == pytest.approx(expected, rel=0, abs=8 * eps * (1 + np.abs(zz).max()))
    np.testing.assert_allclose(grad, expected_grad, rtol=64 * eps, atol=1e-18)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_categorical_crossentropy_confident_rows_keep_their_small_loss(dtype):
    # Each sample's loss is log(sum_j exp(z_j)) - z_label >= 0, even for a confidently
    # right row, whose loss is tiny.
    z = np.array([[30.0, 0.0, 0.0], [0.0, -20.0, -20.0]], dtype=dtype)
    loss = CategoricalCrossentropy()
    value = loss.value(z, np.array([0, 0]))
    zz = z.astype(np.float64)
    # log(1 + sum of the other rows' exp(z_j - z_label)), without rounding at 30's ulp
    expected = np.mean(np.log1p(np.exp(zz[:, 1:] - zz[:, :1]).sum(axis=1)))  # 2.06e-9
    assert value >= 0
    # log-sum-exp minus the label's logit rounds at the logits' scale (30)
    assert value == pytest.approx(expected, rel=0, abs=2 * 30 * float(np.finfo(dtype).eps))
    rng = np.random.default_rng(4)
    for _ in range(50):
        z = (rng.normal(size=(8, 5)) * 20).astype(dtype)
        y = np.argmax(z, axis=1)
        per_sample = [loss.value(z[i : i + 1], y[i : i + 1]) for i in range(8)]
        assert min(per_sample) >= 0


def test_categorical_crossentropy_checks_labels_when_called_directly():
    z = np.zeros((3, 4))
    loss = CategoricalCrossentropy()
    for labels in ([0, 4, 1], [0, -1, 1]):
        with pytest.raises(ValueError, match=r"labels must be 0\.\.3 for 4 logits"):
            loss.value_and_gradient(z, np.array(labels))


def test_categorical_crossentropy_strided_logits():
    rng = np.random.default_rng(5)
    wide = rng.normal(size=(6, 8))
    z = wide[:, ::2]  # not contiguous
    y = np.array([0, 1, 2, 3, 0, 1])
    loss = CategoricalCrossentropy()
    expected_value, expected_grad = loss.value_and_gradient(np.ascontiguousarray(z), y)
    value, grad = loss.value_and_gradient(z, y)
    assert value == pytest.approx(expected_value, rel=1e-15)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-15, atol=1e-18)
    np.testing.assert_array_equal(wide[:, ::2], z)  # the logits are left alone


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_categorical_crossentropy_non_finite_logits_give_a_non_finite_loss(bad):
    # the network turns a non-finite loss into TrainingDivergedError
    z = np.array([[0.0, 1.0], [2.0, bad]])
    with np.errstate(all="ignore"):
        value = CategoricalCrossentropy().value(z, np.array([0, 1]))
    assert not np.isfinite(value)


def test_categorical_crossentropy_refuses_bad_labels():
    loss = CategoricalCrossentropy()
    with pytest.raises(ValueError, match=r"labels must be 0\.\.2"):
        loss.prepare_target(np.array([0, 3]), 3, np.float64)
    with pytest.raises(ValueError, match="non-integer"):
        loss.prepare_target(np.array([0.5, 1.0]), 3, np.float64)
    with pytest.raises(ValueError, match=r"one-hot rows \(n_samples, 3\)"):
        loss.prepare_target(np.zeros((2, 4)), 3, np.float64)


def test_prepare_target_shape_must_match_outputs():
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        MeanSquaredError().prepare_target(np.zeros((4, 3)), 2, np.float64)


# ---------------------------------------------------------------- targets fit refuses


def test_y_with_the_wrong_number_of_outputs():
    with pytest.raises(
        ValueError,
        match=r"y must have shape \(n_samples, 1\) to match the "
        r"network's 1 output\(s\); received shape \(20, 2\)",
    ):
        net().fit(X, np.ones((20, 2)))


def test_labels_out_of_range_for_softmax():
    model = Network([Dense(3), Softmax()], loss="categorical_crossentropy", optimizer="sgd")
    with pytest.raises(
        ValueError,
        match=r"class labels in \[0, 5\] but the network has 3 "
        r"outputs; labels must be 0\.\.2",
    ):
        model.fit(X, np.arange(20) % 6)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "multilabel_crossentropy"])
def test_binary_targets_outside_0_1(loss):
    model = Network([Dense(1), chainrule.Sigmoid()], loss=loss, optimizer="sgd")
    with pytest.raises(
        ValueError,
        match=rf"y for {loss} must hold 0/1 labels \(or probabilities "
        r"in \[0, 1\]\); received values in \[-1, 2\]",
    ):
        model.fit(X[:4], [0, 1, 2, -1])


# ---------------------------------------------------------------- the losses of scikit-learn's MLPs


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


# ---------------------------------------------------------------- registry


def test_loss_registry():
    assert LOSSES["mse"] is MeanSquaredError
    assert isinstance(get_loss("binary_crossentropy"), BinaryCrossentropy)
    assert isinstance(get_loss("sparse_categorical_crossentropy"), CategoricalCrossentropy)
    loss = MeanSquaredError()
    assert get_loss(loss) is loss
    assert BinaryCrossentropy.output_activation == "logistic"
    assert CategoricalCrossentropy.output_activation == "softmax"
    assert MeanSquaredError.output_activation is None
    with pytest.raises(ValueError, match="unknown loss 'hinge'; expected one of"):
        get_loss("hinge")
