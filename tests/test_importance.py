"""Which columns matter (chainrule.importance): on data where only known columns carry
signal, the signal columns rank first and the noise column scores about 0; raw columns
(a one-hot group, a date's parts) count as one; integrated gradients' completeness;
input gradients against finite differences; the estimators against scikit-learn's
permutation_importance; the report, the command's helper and the bar chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import chainrule
from chainrule import Dense, Network, Softmax, Tanh
from chainrule.errors import UserError
from chainrule.importance import (
    _input_gradient,
    attributions,
    importance_for_command,
    importance_report,
    permutation_importance,
)
from chainrule.tabular import TabularModel


def signal_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """label depends on a (strongly), b (less) and colour (a one-hot group); noise is noise."""
    rng = np.random.default_rng(seed)
    a, b, noise = rng.normal(size=(3, n))
    colour = rng.choice(["red", "green", "blue"], size=n)
    score = 2 * a + b + np.where(colour == "red", 2.5, np.where(colour == "green", -2.5, 0.0))
    return pd.DataFrame(
        {"a": a, "b": b, "colour": colour, "noise": noise, "label": np.where(score > 0, "y", "n")}
    )


@pytest.fixture(scope="module")
def tabular():
    frame = signal_frame()
    model = TabularModel("label", hidden=(16,), epochs=60, seed=0).fit(frame)
    return model, frame


def regression_net(seed: int = 0):
    """A tanh network (smooth) fitted to y = 3 x0 - 2 x1 + 0 x2."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 3))
    y = 3 * X[:, 0] - 2 * X[:, 1]
    net = Network([Dense(8), Tanh(), Dense(1)], loss="mse", optimizer="adam", seed=seed)
    net.fit(X, y, epochs=40, batch_size=32)
    return net, X, y


# ---------------------------------------------------------------- permutation importance


def test_signal_columns_rank_first_and_noise_is_near_zero(tabular):
    model, frame = tabular
    result = chainrule.permutation_importance(model, frame, n_repeats=5, random_state=0)
    # raw columns: colour's three one-hot features count as one column
    assert model.preprocessor_.n_features_ == 6
    assert result.names == ["a", "b", "colour", "noise"]
    assert result.importances.shape == (4, 5)
    assert result.scoring == "accuracy"
    assert result.baseline_score == pytest.approx(model.evaluate(frame)["accuracy"])
    assert set(result.ranked()[:3]) == {"a", "b", "colour"}
    assert result.ranked()[-1] == "noise"
    assert abs(result["noise"]["mean"]) < 0.02
    assert min(result[c]["mean"] for c in ("a", "b", "colour")) > 0.1
    np.testing.assert_allclose(result.importances_mean, result.importances.mean(axis=1))
    np.testing.assert_allclose(result.importances_std, result.importances.std(axis=1))
    # the same seed gives the same importances; y=None took the target column
    again = permutation_importance(model, frame, frame["label"], random_state=0)
    np.testing.assert_array_equal(again.importances, result.importances)
    assert set(result.to_dict()["columns"]) == {"a", "b", "colour", "noise"}


def test_a_date_column_counts_as_one_column():
    rng = np.random.default_rng(1)
    n = 400
    days = pd.date_range("2024-01-01", periods=366, freq="D")
    day = days[rng.integers(0, 366, size=n)]
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {"day": day.strftime("%Y-%m-%d"), "x": x, "y": x + 2 * (day.month > 6) + 0.1}
    )
    model = TabularModel("y", task="regress", hidden=(8,), epochs=40, seed=0).fit(frame)
    assert model.preprocessor_.n_features_ > 2  # the date's parts
    result = permutation_importance(model, frame, random_state=0)
    assert result.names == ["day", "x"] and result.scoring == "r2"
    assert result["day"]["mean"] > 0.2 and result["x"]["mean"] > 0.2
    values = attributions(model, frame.head(10)).values
    assert values.shape == (10, 2)


def test_network_on_arrays_names_are_indices_and_one_hot_targets_work():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 1] > 0).astype(int)
    net = Network(
        [Dense(8), Tanh(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=0,
    )
    net.fit(X, y, epochs=30, batch_size=32)
    result = permutation_importance(net, X, np.eye(2)[y], random_state=0)
    assert result.names == [0, 1, 2]
    assert result.ranked()[0] == 1
    assert result[1]["mean"] > 0.3
    assert abs(result[0]["mean"]) < 0.05 and abs(result[2]["mean"]) < 0.05
    same = permutation_importance(net, X, y, random_state=0)
    np.testing.assert_array_equal(same.importances, result.importances)


def test_regression_network_scores_r2_and_custom_scoring():
    net, X, y = regression_net()
    result = permutation_importance(net, X, y, n_repeats=3, random_state=0)
    assert result.scoring == "r2" and result.ranked() == [0, 1, 2]
    assert abs(result[2]["mean"]) < 0.02

    def neg_mae(model, X, y):
        return -float(np.mean(np.abs(model.predict(X)[:, 0] - y)))

    custom = permutation_importance(net, X, y, n_repeats=3, scoring=neg_mae, random_state=0)
    assert custom.scoring == "neg_mae" and custom.ranked()[0] == 0


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_estimators_agree_with_scikit_learn(kind):
    from sklearn.datasets import make_classification, make_regression
    from sklearn.inspection import permutation_importance as sk_permutation_importance

    if kind == "classifier":
        X, y = make_classification(
            400, n_features=5, n_informative=2, n_redundant=0, shuffle=False, random_state=0
        )
        est = chainrule.MLPClassifier(hidden_layer_sizes=(16,), max_iter=1000, random_state=0).fit(
            X, y
        )
    else:
        X, y = make_regression(400, n_features=5, n_informative=2, shuffle=False, random_state=0)
        est = chainrule.MLPRegressor(hidden_layer_sizes=(16,), max_iter=1000, random_state=0).fit(
            X, y / 50
        )
        y = y / 50
    ours = permutation_importance(est, X, y, n_repeats=30, random_state=0)
    theirs = sk_permutation_importance(est, X, y, n_repeats=30, random_state=0)
    # the same definition (estimator.score's accuracy or R², the same shuffles of a
    # column), other random permutations: the means agree within their standard errors
    assert ours.baseline_score == pytest.approx(est.score(X, y))
    assert ours.scoring == ("accuracy" if kind == "classifier" else "r2")
    error = np.sqrt((ours.importances_std**2 + theirs.importances_std**2) / 30)
    assert np.all(np.abs(ours.importances_mean - theirs.importances_mean) <= 4 * error + 0.01)
    assert set(ours.ranked()[:2]) == {0, 1}
    assert np.argsort(-theirs.importances_mean)[:2].tolist() == ours.ranked()[:2]


def test_bad_arguments_are_refused(tabular):
    model, frame = tabular
    with pytest.raises(ValueError, match="scoring must be one of"):
        permutation_importance(model, frame, scoring="f1")
    with pytest.raises(ValueError, match="n_repeats"):
        permutation_importance(model, frame, n_repeats=0)
    with pytest.raises(TypeError, match="DataFrame of the raw columns"):
        permutation_importance(model, frame.to_numpy(), frame["label"])
    with pytest.raises(ValueError, match="no target column 'label'"):
        permutation_importance(model, frame.drop(columns="label"))
    with pytest.raises(TypeError, match="model must be a chainrule Network"):
        permutation_importance(object(), frame, frame["label"])
    with pytest.raises(ValueError, match="method must be"):
        attributions(model, frame, method="shap")
    with pytest.raises(ValueError, match="baseline must have one value per feature"):
        attributions(model, frame, baseline=[0.0, 1.0])


# ---------------------------------------------------------------- attributions


def test_input_gradient_is_the_finite_difference_of_the_output():
    net, X, _ = regression_net()
    x = X[:5]
    _, gradient = _input_gradient(net, x, np.zeros(5, dtype=np.intp), 1.0)
    params = net.params.astype(np.float64)
    net64 = Network([Dense(8), Tanh(), Dense(1)], loss="mse", optimizer="sgd", dtype="float64")
    net64.build(3)
    net64.params[:] = params
    eps = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = eps
        numeric = (net64.predict(x + step) - net64.predict(x - step))[:, 0] / (2 * eps)
        np.testing.assert_allclose(gradient[:, j], numeric, rtol=1e-6, atol=1e-9)


def test_integrated_gradients_completeness_shrinks_with_steps():
    net, X, _ = regression_net()
    gaps = {s: np.abs(attributions(net, X[:50], steps=s).gap).max() for s in (5, 50, 500)}
    # smooth activations (tanh): the trapezoid rule's error falls like 1/steps**2
    assert gaps[50] < 1e-3 and gaps[500] < 1e-5
    assert gaps[50] < gaps[5] / 50 and gaps[500] < gaps[50] / 50
    result = attributions(net, X[:50])
    out = net.predict(X[:50])[:, 0]
    np.testing.assert_allclose(result.prediction, out, rtol=1e-5, atol=1e-6)
    # the noise input x2 gets almost nothing; x0 (weight 3) the most
    assert np.argmax(result.mean_absolute()) == 0
    assert result.mean_absolute()[2] < 0.1 * result.mean_absolute()[0]


def test_completeness_for_a_relu_classifier_on_raw_columns(tabular):
    model, frame = tabular
    rows = frame.head(40)
    coarse = attributions(model, rows, steps=20)
    fine = attributions(model, rows, steps=2000)
    assert np.abs(fine.gap).max() < 1e-3
    assert np.abs(fine.gap).max() < np.abs(coarse.gap).max()
    # the explained output is the predicted class's probability
    proba = model.predict_proba(rows)
    np.testing.assert_allclose(fine.prediction, proba.max(axis=1), rtol=1e-5)
    assert fine.values.shape == (40, 4)
    # noise moves the predictions least
    assert np.argmin(fine.mean_absolute()) == 3


def test_gradient_x_input_is_exact_for_a_linear_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    net = Network([Dense(1)], loss="mse", optimizer="sgd", seed=0).build(3)
    result = attributions(net, X, method="gradient_x_input", baseline="zeros")
    weights = net.params[:3].astype(np.float64)
    np.testing.assert_allclose(result.values, X * weights, rtol=1e-6)
    np.testing.assert_allclose(result.gap, 0.0, atol=1e-5)


def test_regression_tabular_attributions_are_in_the_targets_units():
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=300), "y": 100 * x + 1000})
    model = TabularModel("y", hidden=(8,), epochs=80, seed=0).fit(frame)
    result = attributions(model, frame.head(20), steps=2000)
    np.testing.assert_allclose(result.prediction, model.predict(frame.head(20)), rtol=1e-5)
    # ReLU's kinks: the gap falls like 1/steps (1.2 at 50 steps, 0.015 at 2000), small
    # against the target's spread of 100
    np.testing.assert_allclose(result.gap, 0.0, atol=0.05)
    assert result.mean_absolute()[0] > 10 * result.mean_absolute()[1]


# ---------------------------------------------------------------- report, command, picture


def test_report_and_command_lines(tabular, tmp_path):
    model, frame = tabular
    result = permutation_importance(model, frame, random_state=0)
    lines = importance_report(result)
    assert lines[0].startswith("Permutation importance: the drop in accuracy")
    table = lines[4:8]
    assert [line.split()[0] for line in table] == result.ranked()
    lines = importance_for_command(model, frame, plot=tmp_path / "imp.png")
    assert "mean |attribution|" in lines[2]
    assert lines[-1] == f"Wrote the bar chart to {tmp_path / 'imp.png'}"
    assert (tmp_path / "imp.png").read_bytes().startswith(b"\x89PNG")
    assert any(line.startswith("Attributions: integrated gradients") for line in lines)
    with pytest.raises(UserError, match="target column 'label'"):
        importance_for_command(model, frame.drop(columns="label"))


def test_plot_importance_draws_one_bar_per_column(tabular, tmp_path):
    pytest.importorskip("matplotlib", reason="the pictures need matplotlib (chainrule[plot])")
    from chainrule.plotting import plot_importance

    model, frame = tabular
    result = permutation_importance(model, frame, random_state=0)
    result.names = ["a", "b$x$", "colour", "noise"]  # a dollar in a name stays plain text
    fig = plot_importance(result)
    (ax,) = fig.axes
    assert len(ax.patches) == 4
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == result.ranked()[0]  # the top bar is the most important
    assert r"b\$x\$" in labels
    widths = sorted(p.get_width() for p in ax.patches)
    np.testing.assert_allclose(widths, np.sort(result.importances_mean))
    path = plot_importance(result, tmp_path / "bars.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    fig = plot_importance(result, top=2)
    assert len(fig.axes[0].patches) == 2


def test_attributions_change_nothing_on_the_network():
    from chainrule import Dropout

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    net = Network([Dense(8), Tanh(), Dropout(0.5), Dense(1)], loss="mse", optimizer="adam", seed=0)
    net.fit(X, X[:, 0], epochs=2, batch_size=10)
    params, grads, state = net.params.copy(), net.grads.copy(), net.rng.bit_generator.state
    before = net.predict(X)
    result = attributions(net, X, steps=400)
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(net.grads, grads)
    assert net.rng.bit_generator.state == state
    assert net.layers[0].needs_input_grad is False  # set on the copies only
    np.testing.assert_array_equal(net.predict(X), before)
    # Dropout is the identity at prediction time, and so in the explained output
    np.testing.assert_allclose(result.prediction, before[:, 0], rtol=1e-5, atol=1e-6)
    assert np.abs(result.gap).max() < 1e-5
