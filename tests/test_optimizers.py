"""Optimizers and schedules (chainrule.optimizers): closed-form steps computed by hand
on a tiny vector, scikit-learn's optimizers, configs, the registry, and the learning
rates they refuse."""

import math

import numpy as np
import pytest

import chainrule
from chainrule import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    CosineDecay,
    Dense,
    ExponentialDecay,
    Network,
    RMSprop,
    StepDecay,
)
from chainrule.optimizers import Constant, get_optimizer

P0 = np.array([1.0, -2.0])
G = np.array([0.5, -1.0])


def run(optimizer, steps, grads=None):
    """Apply ``steps`` updates with the gradient G (or the listed gradients)."""
    params = P0.copy()
    optimizer.build(params)
    for k in range(steps):
        optimizer.step(params, G if grads is None else grads[k])
    return params


def _sklearn_optimizers():
    """scikit-learn's MLP optimizers (a private module: skip, not fail, if it moves)."""
    return pytest.importorskip(
        "sklearn.neural_network._stochastic_optimizers",
        reason="compares with scikit-learn's private _stochastic_optimizers module",
    )


# ---------------------------------------------------------------- SGD


def test_sgd_plain_steps():
    # p -= lr * g: the lesson's _update_parameters
    np.testing.assert_allclose(run(SGD(0.1), 1), [0.95, -1.9])
    np.testing.assert_allclose(run(SGD(0.1), 2), [0.9, -1.8])


def test_sgd_momentum_steps():
    # v1 = -0.1 g = [-0.05, 0.1]; p1 = [0.95, -1.9]
    # v2 = 0.9 v1 - 0.1 g = [-0.095, 0.19]; p2 = [0.855, -1.71]
    np.testing.assert_allclose(run(SGD(0.1, momentum=0.9), 1), [0.95, -1.9])
    np.testing.assert_allclose(run(SGD(0.1, momentum=0.9), 2), [0.855, -1.71])


def test_sgd_nesterov_steps():
    # p1 = p0 + 0.9 v1 - 0.1 g = [1 - 0.045 - 0.05, -2 + 0.09 + 0.1] = [0.905, -1.81]
    # p2 = p1 + 0.9 v2 - 0.1 g = [0.905 - 0.0855 - 0.05, -1.81 + 0.171 + 0.1]
    np.testing.assert_allclose(run(SGD(0.1, momentum=0.9, nesterov=True), 1), [0.905, -1.81])
    np.testing.assert_allclose(run(SGD(0.1, momentum=0.9, nesterov=True), 2), [0.7695, -1.539])


def test_sgd_matches_scikit_learn():
    SGDOptimizer = _sklearn_optimizers().SGDOptimizer

    rng = np.random.default_rng(0)
    grads = [rng.normal(size=2) for _ in range(5)]
    for nesterov in (False, True):
        theirs = [P0.copy()]
        ref = SGDOptimizer(theirs, learning_rate_init=0.05, momentum=0.8, nesterov=nesterov)
        for g in grads:
            ref.update_params(theirs, [g])
        ours = run(SGD(0.05, momentum=0.8, nesterov=nesterov), 5, grads)
        np.testing.assert_allclose(ours, theirs[0], rtol=1e-12)


# ---------------------------------------------------------------- RMSprop


def test_rmsprop_steps():
    # s1 = 0.1 g^2 = [0.025, 0.1]; p1 = p0 - 0.01 g / (sqrt(s1) + 1e-7)
    p1 = P0 - 0.01 * G / (np.sqrt([0.025, 0.1]) + 1e-7)
    np.testing.assert_allclose(run(RMSprop(0.01), 1), p1, rtol=1e-14)
    np.testing.assert_allclose(
        p1, [1 - 0.01 / math.sqrt(0.1), -2 + 0.01 / math.sqrt(0.1)], rtol=1e-6
    )
    # s2 = 0.9 s1 + 0.1 g^2 = 0.19 g^2
    p2 = p1 - 0.01 * G / (np.sqrt(0.19 * G**2) + 1e-7)
    np.testing.assert_allclose(run(RMSprop(0.01), 2), p2, rtol=1e-14)


# ---------------------------------------------------------------- Adam, AdamW


def adam_reference(grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, weight_decay=0.0):
    """Adam written out scalar by scalar, from the formulas in the docstring."""
    p, m, v = list(P0), [0.0, 0.0], [0.0, 0.0]
    for t, g in enumerate(grads, start=1):
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        for i in range(2):
            p[i] -= lr * weight_decay * p[i]
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            p[i] -= lr_t * m[i] / (math.sqrt(v[i]) + eps)
    return np.array(p)


def test_adam_first_step_moves_each_parameter_by_the_learning_rate():
    # m1 = 0.1 g, v1 = 0.001 g^2, lr_1 = lr sqrt(0.001) / 0.1: the step is lr * sign(g)
    np.testing.assert_allclose(run(Adam(0.01), 1), [0.99, -1.99], rtol=1e-6)
    np.testing.assert_allclose(run(Adam(0.01), 1), adam_reference([G], lr=0.01), rtol=1e-14)


def test_adam_several_steps():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=2) for _ in range(6)]
    np.testing.assert_allclose(
        run(Adam(0.02), 6, grads), adam_reference(grads, lr=0.02), rtol=1e-13
    )
    # with a constant gradient Adam keeps moving by lr * sign(g) per step
    np.testing.assert_allclose(run(Adam(0.01), 3), [0.97, -1.97], rtol=1e-6)


def test_adam_matches_scikit_learn():
    AdamOptimizer = _sklearn_optimizers().AdamOptimizer

    rng = np.random.default_rng(2)
    grads = [rng.normal(size=2) for _ in range(5)]
    theirs = [P0.copy()]
    ref = AdamOptimizer(theirs, learning_rate_init=0.01, epsilon=1e-7)
    for g in grads:
        ref.update_params(theirs, [g])
    np.testing.assert_allclose(run(Adam(0.01), 5, grads), theirs[0], rtol=1e-12)
    # the moments, kept without their (1 - beta) factors, read back as scikit-learn's
    opt = Adam(0.01)
    run(opt, 5, grads)
    np.testing.assert_allclose(opt.m, ref.ms[0], rtol=1e-13)
    np.testing.assert_allclose(opt.v, ref.vs[0], rtol=1e-13)


def test_adamw_decays_then_steps():
    # p * (1 - 0.01 * 0.1) = [0.999, -1.998], then Adam's first step of 0.01 * sign(g)
    np.testing.assert_allclose(run(AdamW(0.01, weight_decay=0.1), 1), [0.989, -1.988], rtol=1e-6)
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=2) for _ in range(4)]
    np.testing.assert_allclose(
        run(AdamW(0.01, weight_decay=0.1), 4, grads),
        adam_reference(grads, lr=0.01, weight_decay=0.1),
        rtol=1e-13,
    )
    # weight_decay=0 is exactly Adam
    np.testing.assert_array_equal(
        run(AdamW(0.01, weight_decay=0.0), 4, grads), run(Adam(0.01), 4, grads)
    )


def test_steps_keep_float32():
    opt = Adam(0.01)
    params = P0.astype(np.float32)
    opt.build(params)
    opt.step(params, G.astype(np.float32))
    assert params.dtype == np.float32
    np.testing.assert_allclose(params, [0.99, -1.99], rtol=1e-5)


def test_a_step_with_l2_adds_the_penalty_gradient_to_the_weights_first():
    # the weights come first in the flat vector; the last value (a bias) is not penalised
    from chainrule import kernels

    params, grads = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, 0.5])
    with kernels.disabled():
        SGD(0.1).step(params, grads, l2=0.2, n_weights=2)
    np.testing.assert_allclose(grads, [0.5 + 0.2 * 1.0, 0.5 + 0.2 * -2.0, 0.5])
    np.testing.assert_allclose(params, [1.0 - 0.1 * 0.7, -2.0 - 0.1 * 0.1, 3.0 - 0.1 * 0.5])


def test_iterations_count_steps_and_build_resets():
    opt = SGD(0.1)
    run(opt, 3)
    assert opt.iterations == 3
    opt.build(P0.copy())
    assert opt.iterations == 0


# ---------------------------------------------------------------- schedules


def test_step_decay_values():
    schedule = StepDecay(0.1, step_size=2, gamma=0.5)
    assert [schedule(e) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_exponential_decay_values():
    schedule = ExponentialDecay(0.1, decay_rate=0.5, decay_epochs=2)
    assert schedule(0) == 0.1
    assert schedule(1) == pytest.approx(0.1 * math.sqrt(0.5))
    assert schedule(2) == pytest.approx(0.05)
    assert schedule(6) == pytest.approx(0.0125)


def test_cosine_decay_values():
    schedule = CosineDecay(0.1, decay_epochs=4, alpha=0.1)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(2) == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))  # 0.055
    assert schedule(4) == pytest.approx(0.01)
    assert schedule(10) == pytest.approx(0.01)  # flat after decay_epochs
    assert CosineDecay(1.0, decay_epochs=2)(1) == pytest.approx(0.5)


def test_constant_schedule():
    assert Constant(0.3)(0) == Constant(0.3)(100) == 0.3


def test_schedule_sets_the_learning_rate_per_epoch():
    opt = SGD(StepDecay(0.1, step_size=1, gamma=0.5))
    assert opt.learning_rate == 0.1
    opt.set_epoch(3)
    assert opt.learning_rate == pytest.approx(0.0125)
    constant = SGD(0.1)
    constant.set_epoch(3)
    assert constant.learning_rate == 0.1


def test_fit_follows_the_schedule():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    net = Network([Dense(1)], loss="mse", optimizer=SGD(StepDecay(0.1, 2, 0.5)), seed=0)
    history = net.fit(X, y, epochs=5, batch_size=10)
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


# ---------------------------------------------------------------- configs and registry


@pytest.mark.parametrize(
    "optimizer",
    [
        SGD(0.2, momentum=0.5, nesterov=True),
        RMSprop(0.01, rho=0.8, epsilon=1e-6),
        Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-8),
        AdamW(0.003, weight_decay=0.01),
        Adam(CosineDecay(0.01, decay_epochs=10, alpha=0.1)),
        SGD(ExponentialDecay(0.1, 0.9, 2)),
    ],
    ids=repr,
)
def test_optimizer_config_round_trip(optimizer):
    import json

    config = optimizer.get_config()
    json.dumps(config)
    rebuilt = type(optimizer).from_config(config)
    assert rebuilt.get_config() == config
    rates = []
    for opt in (optimizer, rebuilt):
        rates.append([])
        for epoch in range(5):
            opt.set_epoch(epoch)
            rates[-1].append(opt.learning_rate)
    assert rates[0] == rates[1]


def test_optimizer_names_give_the_defaults():
    assert set(OPTIMIZERS) == {"sgd", "rmsprop", "adam", "adamw"}
    sgd = get_optimizer("sgd")
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    adam = get_optimizer("ADAM")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert get_optimizer("adamw").weight_decay == 0.004
    assert get_optimizer("rmsprop").rho == 0.9
    opt = Adam()
    assert get_optimizer(opt) is opt


# ---------------------------------------------------------------- bad learning rates


@pytest.mark.parametrize("optimizer", [SGD, Adam, AdamW, chainrule.RMSprop])
@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_non_positive_learning_rate(optimizer, lr):
    with pytest.raises(
        ValueError,
        match=f"learning_rate must be a positive finite number; received learning_rate={lr}",
    ):
        optimizer(learning_rate=lr)


def test_learning_rate_of_the_wrong_type():
    with pytest.raises(
        TypeError,
        match="learning_rate must be a positive number; received learning_rate='fast' of type str",
    ):
        SGD("fast")


# ---------------------------------------------------------------- state (resuming)


@pytest.mark.parametrize(
    "make, arrays",
    [
        (lambda: SGD(0.1), []),
        (lambda: SGD(0.1, momentum=0.9), ["velocity"]),
        (lambda: RMSprop(0.01), ["mean_square"]),
        (lambda: Adam(0.01), ["m", "v"]),
        (lambda: AdamW(0.01), ["m", "v"]),
    ],
)
def test_state_round_trip_continues_the_steps_exactly(make, arrays):
    """As PyTorch's state_dict: a new optimizer given the state takes the same steps."""
    first = make()
    params = P0.copy()
    first.build(params)
    grads = [G, -0.5 * G, 2.0 * G, 0.1 * G]
    for g in grads[:2]:
        first.step(params, g)
    first.learning_rate = 0.05  # as ReduceLROnPlateau leaves it
    scalars, state_arrays = first.get_state()
    assert scalars == {"iterations": 2, "learning_rate": 0.05}
    assert sorted(state_arrays) == sorted(arrays)
    second = make()
    copy = params.copy()
    second.build(copy)
    second.set_state(scalars, {k: v.copy() for k, v in state_arrays.items()})
    for g in grads[2:]:
        first.step(params, g)
        second.step(copy, g)
    np.testing.assert_array_equal(copy, params)
    assert second.iterations == 4


def test_set_state_refuses_what_does_not_fit():
    adam = Adam()
    adam.build(np.zeros(3))
    good = {"m": np.zeros(3), "v": np.ones(3)}
    with pytest.raises(ValueError, match="iterations must be an integer >= 0; got -1"):
        adam.set_state({"iterations": -1, "learning_rate": 0.1}, good)
    with pytest.raises(ValueError, match="learning_rate must be a positive number; got nan"):
        adam.set_state({"iterations": 1, "learning_rate": float("nan")}, good)
    with pytest.raises(ValueError, match=r"keeps the arrays \['m', 'v'\]; the state holds \['m'\]"):
        adam.set_state({"iterations": 1, "learning_rate": 0.1}, {"m": np.zeros(3)})
    with pytest.raises(ValueError, match=r"m must have shape \(3,\) and dtype float64; got shape"):
        adam.set_state({"iterations": 1, "learning_rate": 0.1}, {**good, "m": np.zeros(4)})
    with pytest.raises(ValueError, match="v holds values that are not finite"):
        adam.set_state({"iterations": 1, "learning_rate": 0.1}, {**good, "v": np.full(3, np.inf)})
    assert adam.iterations == 0 and not adam.v.any()  # nothing was changed
