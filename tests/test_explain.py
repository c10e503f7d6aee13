"""chainrule.explain: the lesson's neuron pinned, and every traced gradient of small
multi-layer networks equal to the engine's backward pass and a finite difference."""

import json

import numpy as np
import pytest

from chainrule import Dense, Network, Sigmoid, Softmax, Trace, explain
from chainrule.layers import HIDDEN_ACTIVATIONS, Exp, get_layer


def lesson_neuron() -> Network:
    net = Network([Dense(1), Sigmoid()], loss="mse", optimizer="sgd", dtype="float64").build(2)
    net.set_weights([np.array([[1.45], [-0.66]]), np.array([0.0])])
    return net


def test_lesson_neuron_pinned():
    trace = explain(lesson_neuron(), [2, 1.5], target=0)
    assert isinstance(trace, Trace)
    assert trace["layer_1"] == pytest.approx(1.91, rel=1e-12)
    assert trace["prediction"] == pytest.approx(0.87101915, rel=1e-8)
    assert trace["derror_dprediction"] == pytest.approx(1.7420383, rel=1e-7)
    assert trace["dprediction_dlayer1"] == pytest.approx(0.1123448, rel=1e-6)
    assert trace["derror_dbias"] == pytest.approx(0.1957089, rel=1e-6)
    np.testing.assert_allclose(trace["derror_dweights"], [0.3914179, 0.2935634], rtol=1e-6)
    np.testing.assert_allclose(trace["dlayer1_dweights"], [2, 1.5])
    assert trace["dlayer1_dbias"] == 1
    assert trace.names[:4] == ["input_vector", "layer_1", "prediction", "error"]


def test_lesson_neuron_followed_weight_is_the_lessons_product():
    trace = explain(lesson_neuron(), [2, 1.5], target=0, weight=(1, 2, 1))
    assert trace.weight["weight"] == "weights[2, 1]"
    assert trace.weight["gradient"] == pytest.approx(0.2935634, rel=1e-6)
    ((_, formula, _),) = trace.weight["steps"]
    assert formula == (
        "derror_dprediction * dprediction_dlayer1 * dlayer1_dweights[2] = "
        "1.7420383 * 0.11234479 * 1.5 = 0.29356339"
    )
    assert "derror_dprediction * dprediction_dlayer1 * dlayer1_dweights[2]" in str(trace)


def test_terminal_table_reads_like_the_lesson():
    text = str(explain(lesson_neuron(), [2, 1.5], target=0))
    lines = text.splitlines()
    assert lines[1] == "forward"
    assert "backward: take the partial derivatives, evaluate, and multiply" in lines
    assert any(line.split()[:2] == ["derror_dweights", "[0.39141786,"] for line in lines)
    markdown = explain(lesson_neuron(), [2, 1.5], target=0).to_markdown()
    assert "| `derror_dbias` | 0.19570893 | derror_dlayer1 * dlayer1_dbias |" in markdown


OUTPUTS = {  # loss -> (output layer, number of outputs, a target for one example)
    "mse": (None, 2, np.array([[0.3, -1.2]])),
    "half_squared_error": (None, 2, np.array([[0.3, -1.2]])),
    "binary_crossentropy": (Sigmoid, 1, np.array([[1.0]])),
    "multilabel_crossentropy": (Sigmoid, 2, np.array([[1.0, 0.0]])),
    "categorical_crossentropy": (Softmax, 3, np.array([2])),
    "poisson": (Exp, 2, np.array([[1.0, 3.0]])),
}


def small_network(activation: str, loss: str, seed: int = 0) -> Network:
    output, units, _ = OUTPUTS[loss]
    hidden = get_layer(activation)
    layers = [Dense(4), hidden(), Dense(3), hidden(), Dense(units)]
    if output is not None:
        layers.append(output())
    net = Network(layers, loss=loss, optimizer="sgd", seed=seed, dtype="float64").build(3)
    # a bias away from 0, so the biases' gradients are tested too
    net.params[net.n_weights :] = np.random.default_rng(seed + 1).normal(
        0, 0.3, net.params.size - net.n_weights
    )
    return net


@pytest.mark.parametrize("loss", sorted(OUTPUTS))
@pytest.mark.parametrize("activation", sorted(set(HIDDEN_ACTIVATIONS) - {"linear", "sigmoid"}))
def test_every_traced_gradient_is_the_engines_and_a_finite_difference(activation, loss):
    net = small_network(activation, loss)
    x = np.array([[0.7, -1.3, 0.4]])
    target = OUTPUTS[loss][2]
    _, engine = net.loss_and_gradient(net.params, x, target)
    arrays = net.unflatten(engine)  # [W1, b1, W2, b2, W3, b3]
    trace = explain(net, x[0], target=target[0])
    np.testing.assert_allclose(trace["prediction"], net.predict(x)[0].squeeze(), rtol=1e-12)
    eps = 1e-6
    for k in range(3):
        np.testing.assert_allclose(
            trace[f"derror_dweights_{k + 1}"], arrays[2 * k].squeeze(), rtol=1e-10, atol=1e-14
        )
        np.testing.assert_allclose(
            trace[f"derror_dbias_{k + 1}"], arrays[2 * k + 1].squeeze(), rtol=1e-10, atol=1e-14
        )
        rows, cols = arrays[2 * k].shape
        for i in range(rows):
            for j in range(cols):
                followed = explain(net, x[0], target=target[0], weight=(k + 1, i + 1, j + 1)).weight
                assert followed["gradient"] == pytest.approx(
                    arrays[2 * k][i, j], rel=1e-10, abs=1e-14
                )
                # the last step's product, recomputed from the numbers it shows
                product = followed["steps"][-1][1].split(" = ")[1]
                factors = [float(f) for f in product.split(" * ")]
                assert np.prod(factors) == pytest.approx(followed["gradient"], rel=1e-6, abs=1e-12)
                position = _flat_index(net, 2 * k, i, j)
                plus, minus = net.params.copy(), net.params.copy()
                plus[position] += eps
                minus[position] -= eps
                difference = (
                    net.loss_and_gradient(plus, x, target)[0]
                    - net.loss_and_gradient(minus, x, target)[0]
                ) / (2 * eps)
                assert followed["gradient"] == pytest.approx(difference, rel=1e-5, abs=1e-8)


def _flat_index(net: Network, array: int, i: int, j: int) -> int:
    """Where entry [i, j] of net.unflatten(...)[array] sits in net.params."""
    marker = np.zeros_like(net.params)
    net.unflatten(marker)[array][i, j] = 1.0
    return int(np.flatnonzero(marker)[0])


def test_forward_values_equal_predict_and_the_layers():
    net = small_network("tanh", "categorical_crossentropy")
    x = np.array([0.1, 2.0, -0.5])
    params, grads = net.params.copy(), net.grads.copy()
    trace = explain(net, x, weight=(2, 1, 1))
    np.testing.assert_array_equal(trace["prediction"], net.predict(x[None])[0])
    # the network is left as it was: its parameters, its gradients, its layers
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(net.grads, grads)
    assert not any(hasattr(layer, "input") for layer in net.layers)
    layer_1 = x @ net.layers[0].weights + net.layers[0].bias
    np.testing.assert_allclose(trace["layer_1"], layer_1, rtol=1e-14)
    np.testing.assert_allclose(trace["layer_2"], np.tanh(layer_1), rtol=1e-14)


def test_no_target_uses_the_predicted_class_or_the_prediction():
    net = small_network("relu", "categorical_crossentropy")
    x = np.array([0.1, 2.0, -0.5])
    trace = explain(net, x)
    assert int(trace.target[0]) == int(np.argmax(net.predict(x[None])))
    assert "predicted class" in trace.target_note
    regression = explain(small_network("relu", "mse"), x)
    assert regression.error == 0
    assert not np.any(regression["derror_dweights_1"])


def test_fused_output_names_the_logits_gradient():
    trace = explain(small_network("relu", "binary_crossentropy"), [0.1, 2.0, -0.5], target=1)
    assert "derror_dprediction" not in trace
    assert trace["derror_dlayer5"] == pytest.approx(trace["prediction"] - 1)
    assert "fused" in str(trace)


def test_to_dict_json_round_trip():
    trace = explain(
        small_network("gelu", "mse"), [0.1, 2.0, -0.5], target=[0.0, 1.0], weight=(2, 3, 1)
    )
    data = trace.to_dict()
    again = json.loads(json.dumps(data))
    assert again == data
    assert again["values"]["layer_1"] == pytest.approx(list(trace["layer_1"]))
    assert again["weight"]["gradient"] == trace.weight["gradient"]
    assert len(again["values"]["derror_dweights_1"]) == 3  # full arrays, unlike the table


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_and_command_line_models():
    sklearn = pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    import pandas as pd

    from chainrule import MLPClassifier
    from chainrule.tabular import TabularModel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=50, random_state=0).fit(X, y)
    trace = explain(clf, X[0], target="yes")
    np.testing.assert_allclose(trace["prediction"], clf.predict_proba(X[:1])[0, 1], rtol=1e-6)
    with pytest.raises(ValueError, match="one of the classifier's classes"):
        explain(clf, X[0], target="maybe")

    frame = pd.DataFrame(
        {"size": X[:, 0], "colour": np.where(X[:, 1] > 0, "red", "blue"), "label": y}
    )
    model = TabularModel("label", hidden=(4,), epochs=5, seed=0).fit(frame)
    trace = explain(model, frame.iloc[[0]], target="yes")
    assert trace.columns == {"size": ["size"], "colour": ["colour=blue", "colour=red"]}
    assert trace.features == ["size", "colour=blue", "colour=red"]
    np.testing.assert_allclose(
        trace["prediction"], model.predict_proba(frame.iloc[[0]])[0], rtol=1e-6
    )
    assert "colour = " in str(trace) and "-> colour=blue " in str(trace)
    as_dict = explain(model, frame.iloc[0].to_dict())
    assert as_dict.target_note.startswith("none given")
    del sklearn


def test_bad_arguments_are_refused_clearly():
    net = lesson_neuron()
    with pytest.raises(ValueError, match="one example with 2 features"):
        explain(net, [1, 2, 3])
    with pytest.raises(ValueError, match="k must be between 1 and 1"):
        explain(net, [1, 2], target=0, weight=(2, 1, 1))
    with pytest.raises(ValueError, match=r"i must be in 1\.\.2"):
        explain(net, [1, 2], target=0, weight=(1, 3, 1))
    with pytest.raises(ValueError, match=r"weight must be \(k, i, j\)"):
        explain(net, [1, 2], target=0, weight=(1, 1))
    with pytest.raises(TypeError, match="model must be"):
        explain("model.npz", [1, 2])


def test_softmax_with_mse_and_dropout_go_through_their_own_backward():
    """Layers that mix units (Softmax without its fused loss) or have no local derivative
    to show (Dropout) are stepped through with their backward; the gradients stay exact."""
    from chainrule import Dropout, ReLU

    net = Network(
        [Dense(3), ReLU(), Dropout(0.5), Dense(2), Softmax()],
        loss="mse",
        optimizer="sgd",
        seed=3,
        dtype="float64",
    ).build(2)
    x, target = np.array([[0.3, -0.2]]), np.array([[0.0, 1.0]])
    _, gradient = net.loss_and_gradient(net.params, x, target)
    for k, (i, j) in [(1, (2, 3)), (2, (3, 2))]:
        trace = explain(net, x[0], target=target[0], weight=(k, i, j))
        expected = net.unflatten(gradient)[2 * (k - 1)][i - 1, j - 1]
        assert trace.weight["gradient"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
        assert "backward" in trace.weight["steps"][0][1]
    assert "derror_dprediction" in trace and "dprediction_dlayer4" not in trace


def test_command_line_regressor_names_its_standardised_units():
    import pandas as pd

    from chainrule.tabular import TabularModel

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(50, 150, 60), "town": rng.choice(["n", "s"], 60)})
    frame["price"] = 2000 * frame["area"] + np.where(frame["town"] == "n", 40000, 0)
    model = TabularModel("price", hidden=(3,), epochs=3, seed=0).fit(frame)
    trace = explain(model, frame.iloc[0].to_dict(), target=frame["price"].iloc[0])
    pre = model.preprocessor_
    assert trace.target[0, 0] == pytest.approx(
        (frame["price"].iloc[0] - pre.target_mean_) / pre.target_scale_, rel=1e-6
    )
    assert "the network works in standardised units: prediction and target are (price - " in str(
        trace
    )
    decoded = pre.decode_target(np.atleast_1d(trace["prediction"]))[0]
    assert decoded == pytest.approx(model.predict(frame.iloc[[0]])[0], rel=1e-6)
    assert trace.to_dict()["notes"]


def test_followed_weight_names_what_it_joins():
    net = small_network("relu", "mse")
    first = explain(net, [0.1, 2.0, -0.5], target=[0.0, 1.0], weight=(1, 2, 4))
    assert first.weight["joins"] == "x2 to unit 4 of layer_1"
    assert "(from x2 to unit 4 of layer_1)" in str(first)
    last = explain(net, [0.1, 2.0, -0.5], target=[0.0, 1.0], weight=(3, 3, 2))
    assert last.to_dict()["weight"]["joins"] == "unit 3 of layer_4 to unit 2 of prediction"
