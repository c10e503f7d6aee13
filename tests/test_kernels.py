"""Kernels: each fast path (NumPy in place, and compiled with numba when installed)
computes what the readable code it stands in for computes, and switching them off runs
the reference alone."""

import copy
import warnings

import numpy as np
import pytest

from chainrule import SGD, Adam, AdamW, Dense, Network, ReLU, RMSprop, Softmax, kernels
from chainrule.losses import CategoricalCrossentropy
from chainrule.optimizers import Optimizer
from chainrule.sklearn_rules import LogLoss

NUMBA_MISSING = "numba is not installed (the 'fast' extra): the compiled kernels cannot run"
#: the kernel modes with kernels; the compiled one only where numba imports
MODES = [
    "numpy",
    pytest.param(
        "numba", marks=pytest.mark.skipif(not kernels.compiled_available(), reason=NUMBA_MISSING)
    ),
]


@pytest.fixture(params=MODES)
def kernel_mode(request):
    with kernels.use(request.param):
        yield request.param


OPTIMIZERS = [
    SGD(0.1),
    SGD(0.05, momentum=0.9),
    SGD(0.05, momentum=0.9, nesterov=True),
    RMSprop(0.01, rho=0.8),
    Adam(0.01),
    Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-8),
    AdamW(0.003, weight_decay=0.01),
]
#: the optimizers that keep moments (all but plain SGD)
WITH_MOMENTS = [opt for opt in OPTIMIZERS if getattr(opt, "momentum", 1)]


@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
def test_optimizer_kernels_equal_the_formulas(optimizer, dtype, l2, kernel_mode):
    rng = np.random.default_rng(0)
    params = rng.normal(size=500).astype(dtype)
    fast, plain = copy.deepcopy(optimizer), copy.deepcopy(optimizer)
    fast_params, plain_params = params.copy(), params.copy()
    fast.build(fast_params)
    plain.build(plain_params)
    assert kernels.optimizer_kernel(fast) is not None
    for _ in range(5):
        grads = rng.normal(size=500).astype(dtype)
        grads[:40] = 0.0  # parameters whose gradient is 0: their moments decay
        fast_grads, plain_grads = grads.copy(), grads.copy()
        fast.step(fast_params, fast_grads, l2, 300)
        plain.iterations += 1
        plain_grads[:300] += l2 * plain_params[:300]  # the L2 penalty's gradient
        type(plain)._update(plain, plain_params, plain_grads)  # the formula itself
        tol = 1e-12 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(fast_grads, plain_grads, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast_params, plain_params, rtol=tol, atol=tol)
    assert not np.array_equal(fast_params, params)  # the steps did move
    assert fast_params.dtype == dtype
    for name in ("velocity", "mean_square", "m", "v"):
        if getattr(plain, name, None) is not None:
            np.testing.assert_allclose(
                getattr(fast, name), getattr(plain, name), rtol=tol, atol=tol
            )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", WITH_MOMENTS, ids=repr)
@pytest.mark.parametrize("mode", ["off", *MODES])
def test_moments_that_would_be_subnormal_become_zero(optimizer, dtype, mode):
    # a moment decaying towards 0, as a dead unit's does: it becomes exactly 0, never a
    # subnormal float, and the update it makes never is one
    from chainrule.functions import flush_threshold

    tiny, floor = np.finfo(dtype).tiny, flush_threshold(dtype)
    opt = copy.deepcopy(optimizer)
    params = np.ones(4, dtype=dtype)
    with kernels.use(mode):
        opt.build(params)
        names = [
            n for n in ("velocity", "mean_square", "m", "v") if getattr(opt, n, None) is not None
        ]
        # first moments are set to 0 below flush_threshold, second moments (which only
        # divide) below the smallest normal float
        limit = {"velocity": floor, "m": floor, "mean_square": tiny, "v": tiny}
        for name in names:
            getattr(opt, name)[:] = 2 * limit[name]
        seen = []
        for _ in range(1500):  # enough for beta_2 = 0.999
            before = params.copy()
            opt.step(params, np.zeros(4, dtype=dtype))
            moved = np.abs(params - before)
            assert ((moved == 0) | (moved >= tiny)).all()
            for name in names:
                state = getattr(opt, name)
                seen.append(state.copy())
                # 0 or at least the threshold: never subnormal
                assert ((state == 0) | (np.abs(state) >= limit[name])).all(), (name, state)
    assert all((getattr(opt, name) == 0).all() for name in names)  # it did decay to 0
    assert any((state != 0).any() for state in seen)  # through normal values first


def test_a_subclass_with_its_own_update_is_not_replaced_by_a_kernel():
    class Halved(Adam):
        def _update(self, params, grads):
            super()._update(params, grads / 2)

    with kernels.use("numpy"):
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
def test_the_cross_entropy_kernels_equal_the_reference(
    loss_class, dtype, weighted, far, kernel_mode
):
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
    # the NumPy kernel hands rows far above the label's logit to the reference; the
    # compiled one shifts every row by its maximum and takes them all
    assert (kernel(loss, z, labels, w) is None) == (far and kernel_mode == "numpy")
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


def test_bad_labels_get_the_reference_error_with_kernels_on(kernel_mode):
    loss = CategoricalCrossentropy()
    for labels in ([0, 4, 1], [0, -1, 1]):
        with pytest.raises(ValueError, match=r"labels must be 0\.\.3 for 4 logits"):
            loss.value_and_gradient(np.zeros((3, 4)), np.array(labels))


def test_training_with_and_without_kernels_gives_the_same_network(kernel_mode):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    weights = []
    for mode in (kernel_mode, "off"):
        with kernels.use(mode):
            net = Network(
                [Dense(16), ReLU(), Dense(3), Softmax()],
                loss="categorical_crossentropy",
                optimizer=Adam(0.01),
                l2=0.01,
                seed=0,
                dtype="float64",
            )
            net.fit(X, y, epochs=3, batch_size=32)
            weights.append(net.params.copy())
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-9, atol=1e-12)


@pytest.fixture
def default_mode():
    with kernels.use("auto"):  # whatever CHAINRULE_KERNELS says for the suite
        yield


@pytest.mark.usefixtures("default_mode")
def test_the_switch():
    assert kernels.enabled()
    with kernels.disabled():
        assert not kernels.enabled()
        assert kernels.mode() == "off"
        assert kernels.optimizer_kernel(Adam()) is None
    assert kernels.enabled()
    with kernels.use("numpy"):
        assert kernels.mode() == "numpy"
        assert kernels.optimizer_kernel(Adam()) is kernels.adam_update
        assert kernels.step_kernel(Network([Dense(1)], loss="mse", optimizer="sgd")) is None
    expected = "numba" if kernels.compiled_available() else "numpy"
    with kernels.use("auto"):
        assert kernels.mode() == expected
    with pytest.raises(
        ValueError, match="kernel mode must be one of auto, numba, numpy, off; received 'fast'"
    ):
        kernels.set_mode("fast")
    assert kernels.mode() == expected  # unchanged by the refused name


@pytest.mark.skipif(not kernels.compiled_available(), reason=NUMBA_MISSING)
def test_the_compiled_kernels_stand_in_in_mode_numba():
    with kernels.use("numba"):
        assert kernels.optimizer_kernel(Adam()) is kernels.compiled_adam
        assert kernels.loss_kernel(LogLoss()) is kernels.compiled_clipped_log_loss


def test_the_environment_switches_kernels_off():
    import subprocess
    import sys

    # the child sees numba when it is installed (also when this suite blocks it)
    code = (
        "from chainrule import kernels; "
        "print(kernels.mode(), 'numba' if kernels.compiled_available() else 'numpy')"
    )
    for value, expected in (("0", "off"), ("off", "off"), ("1", "auto"), ("numpy", "numpy")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**__import__("os").environ, "CHAINRULE_KERNELS": value},
            capture_output=True,
            text=True,
            check=True,
        )
        mode, auto = out.stdout.split()
        assert mode == (auto if expected == "auto" else expected)


def test_a_kernels_scratch_is_not_pickled():
    import pickle

    opt = Adam()
    params = np.zeros(10)
    opt.build(params)
    with kernels.use("numpy"):
        opt.step(params, np.ones(10))
    assert hasattr(opt, "_scratch")
    assert not hasattr(pickle.loads(pickle.dumps(opt)), "_scratch")


def test_without_numba_everything_runs_on_the_numpy_kernels():
    # numba made unimportable, as on a machine without the 'fast' extra
    import subprocess
    import sys

    code = """
import sys, warnings
sys.modules["numba"] = None  # import numba now raises ImportError
import numpy as np
from chainrule import Dense, Network, ReLU, Softmax, kernels
print(kernels.mode(), kernels.compiled_available())
X = np.random.default_rng(0).normal(size=(64, 3))
net = Network([Dense(4), ReLU(), Dense(2), Softmax()], loss="categorical_crossentropy",
              optimizer="adam", seed=0)
net.fit(X, (X[:, 0] > 0).astype(int), epochs=2, batch_size=16)
print(np.isfinite(net.params).all())
try:
    kernels.set_mode("numba")
except ValueError as exc:
    print(exc)
"""
    for env_mode, warning in (("auto", ""), ("numba", "CHAINRULE_KERNELS=numba but")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**__import__("os").environ, "CHAINRULE_KERNELS": env_mode},
            capture_output=True,
            text=True,
            check=True,
        )
        lines = out.stdout.splitlines()
        assert lines[0] == "numpy False"
        assert lines[1] == "True"
        assert "install them with pip install 'chainrule[fast]'" in lines[2]
        assert warning in out.stderr


@pytest.mark.parametrize("optimizer", WITH_MOMENTS, ids=repr)
def test_arrays_that_do_not_fit_get_numpys_error_in_every_mode(optimizer):
    # one optimizer shared by two networks of different sizes: its moments fit the last
    # one built; the compiled kernels check no bounds, so they must not run
    errors = set()
    for mode in ["off", *[m if isinstance(m, str) else m.values[0] for m in MODES]]:
        if mode == "numba" and not kernels.compiled_available():
            continue
        opt = copy.deepcopy(optimizer)
        opt.build(np.zeros(5))
        with kernels.use(mode), pytest.raises(ValueError, match="could not be broadcast") as err:
            opt.step(np.zeros(9), np.ones(9))
        errors.add(type(err.value))
    assert errors == {ValueError}


@pytest.mark.parametrize("mode", ["off", *MODES])
def test_a_two_dimensional_parameter_array_steps_as_the_formula_says(mode):
    # the compiled kernels take one flat vector; anything else takes the NumPy path
    params = np.arange(12.0).reshape(3, 4)
    with kernels.use(mode):
        SGD(0.5).step(params, np.ones((3, 4)))
    np.testing.assert_array_equal(params, np.arange(12.0).reshape(3, 4) - 0.5)


@pytest.mark.parametrize("mode", ["off", *MODES])
def test_labels_or_weights_of_the_wrong_length_get_the_reference_error(mode):
    loss = CategoricalCrossentropy()
    z = np.zeros((6, 3), dtype=np.float32)
    with kernels.use(mode):
        with pytest.raises(IndexError):
            loss.value_and_gradient(z, np.zeros(2, dtype=np.intp))
        with pytest.raises(ValueError):
            loss.value_and_gradient(z, np.zeros(6, dtype=np.intp), np.ones(2))
        # logits that are not float32 or float64 go to the reference too
        value, _ = loss.value_and_gradient(np.zeros((2, 4)).astype(np.float16), np.array([0, 1]))
        assert value == pytest.approx(np.log(4), rel=1e-3)


def test_a_bad_environment_value_warns_at_the_first_step_and_uses_auto():
    import subprocess
    import sys

    code = (
        "import warnings; from chainrule import kernels\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    mode = kernels.mode(); kernels.mode()\n"
        "print(mode == ('numba' if kernels.compiled_available() else 'numpy'))\n"
        "print(len(seen)); print(seen[0].message)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "CHAINRULE_KERNELS": "fast"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stderr == ""  # nothing at import: the warning waits for the first step
    lines = out.stdout.splitlines()
    assert lines[:2] == ["True", "1"]  # once
    assert lines[2] == (
        "CHAINRULE_KERNELS='fast' is not a kernel mode; using 'auto'. "
        "Set it to one of auto, numba, numpy, off"
    )
