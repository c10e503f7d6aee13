"""Cases found in review: precision of the streaming r2, and input checks."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from chainrule import Dense, EarlyStopping, Network
from chainrule.metrics import R2


def test_streaming_r2_is_exact_on_a_large_offset():
    rng = np.random.default_rng(0)
    target = 1e8 + rng.normal(size=(1000, 2))
    output = target + 0.1 * rng.normal(size=(1000, 2))
    metric = R2()
    for start in range(0, 1000, 64):
        metric.update(output[start : start + 64], target[start : start + 64])
    # sum(t**2) - sum(t)**2 / n gives 0.0 here; the merged update gives scikit-learn's value
    assert metric.result() == pytest.approx(r2_score(target, output), abs=1e-9)


def _net(**kwargs):
    return Network([Dense(1)], loss="mse", optimizer="sgd", **kwargs)


@pytest.mark.parametrize(
    ("seed", "error", "match"),
    [
        (-1, ValueError, "seed must be None or a non-negative integer; received seed=-1"),
        (1.5, TypeError, "seed must be None or a non-negative integer; received seed=1.5"),
    ],
)
def test_seed_is_checked(seed, error, match):
    with pytest.raises(error, match=match):
        _net(seed=seed)


def test_negative_sample_weight_is_refused():
    X, y = np.ones((4, 2)), np.ones(4)
    with pytest.raises(ValueError, match=r"sample_weight must be >= 0; received 1 negative"):
        _net().fit(X, y, sample_weight=[1, 1, -1, 1])
    with pytest.raises(
        ValueError, match=r"X and sample_weight must have the same number of samples"
    ):
        _net().fit(X, y, sample_weight=[1, 1, 1])


def test_complex_input_is_refused():
    X = np.ones((4, 2)) + 1j
    with pytest.raises(TypeError, match=r"X holds complex numbers.*X.real"):
        _net().fit(X, np.ones(4))


def test_callbacks_must_be_a_list():
    X, y = np.ones((4, 2)), np.ones(4)
    with pytest.raises(TypeError, match=r"callbacks must be a list of Callback objects"):
        _net().fit(X, y, callbacks=EarlyStopping(monitor="loss"))


def test_nan_message_does_not_assume_training():
    net = _net(seed=0)
    net.fit(np.ones((4, 2)), np.ones(4))
    with pytest.raises(
        ValueError, match=r"X contains NaN or infinity.*remove or impute them first"
    ):
        net.predict(np.array([[np.nan, 1.0]]))


def test_verbose_on_predict_and_evaluate(capsys):
    net = _net(seed=0)
    X, y = np.ones((10, 2)), np.ones(10)
    net.fit(X, y)
    capsys.readouterr()
    net.predict(X, batch_size=4, verbose=0)
    net.evaluate(X, y, verbose=0)
    assert capsys.readouterr().out == ""
    net.predict(X, batch_size=4, verbose=2)
    net.evaluate(X, y, batch_size=4, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("predict: 3/3 batches - ")
    assert lines[1].startswith("evaluate: 3/3 batches - ")
    net.predict(X, verbose=1)
    assert "predict" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"verbose must be 0 \(silent\), 1 .* received verbose=5"):
        net.predict(X, verbose=5)
