"""The lesson reproduced (chainrule.tutorial): the numbers it prints, its walkthrough and
picture, and its NeuralNetwork class built on the engine."""

import subprocess
import sys

import numpy as np
import pytest

from chainrule import Dense, Network, Sigmoid
from chainrule.functions import squared_error, squared_error_deriv
from chainrule.tutorial import (
    INPUT_VECTORS,
    TARGETS,
    NeuralNetwork,
    make_prediction,
    sigmoid,
    sigmoid_deriv,
    walkthrough,
)


def test_first_predictions():
    weights_1 = np.array([1.45, -0.66])
    bias = np.array([0.0])
    prediction = make_prediction(np.array([1.66, 1.56]), weights_1, bias)
    assert str(prediction) == "[0.7985731]"
    prediction = make_prediction(np.array([2, 1.5]), weights_1, bias)
    assert str(prediction) == "[0.87101915]"


def test_error_derivative_and_update():
    input_vector = np.array([2, 1.5])
    weights_1 = np.array([1.45, -0.66])
    bias = np.array([0.0])
    target = 0
    prediction = make_prediction(input_vector, weights_1, bias)
    mse = squared_error(prediction, target)
    # The lesson squared the prediction as it printed it (0.87101915 ** 2 gives its
    # 0.7586743596667225), so the exact value agrees with it to 8 significant digits.
    assert mse[0] == pytest.approx(0.7586743596667225, rel=1e-8)
    assert mse[0] != pytest.approx(0.7586743596667225, rel=1e-10)
    derivative = squared_error_deriv(prediction, target)
    assert str(derivative) == "[1.7420383]"
    weights_1 = weights_1 - derivative
    prediction = make_prediction(input_vector, weights_1, bias)
    error = squared_error(prediction, target)
    assert str(prediction) == "[0.01496248]"
    assert str(error) == "[0.00022388]"


def _lesson_gradients(weights, bias, input_vector, target):
    """The lesson's own _compute_gradients, written out as in the text."""
    layer_1 = np.dot(input_vector, weights) + bias
    prediction = sigmoid(layer_1)
    derror_dprediction = 2 * (prediction - target)
    dprediction_dlayer1 = sigmoid_deriv(layer_1)
    dlayer1_dbias = 1
    dlayer1_dweights = (0 * weights) + (1 * input_vector)
    derror_dbias = derror_dprediction * dprediction_dlayer1 * dlayer1_dbias
    derror_dweights = derror_dprediction * dprediction_dlayer1 * dlayer1_dweights
    return derror_dbias, derror_dweights


@pytest.mark.parametrize("index", range(len(INPUT_VECTORS)))
def test_compute_gradients_is_the_engine_backward_pass_and_the_lessons_product(index):
    neural_network = NeuralNetwork(learning_rate=0.1, seed=3)
    input_vector, target = INPUT_VECTORS[index], TARGETS[index]
    derror_dbias, derror_dweights = neural_network._compute_gradients(input_vector, target)

    # the lesson's product derror_dprediction * dprediction_dlayer1 * dlayer1_dweights
    lesson_dbias, lesson_dweights = _lesson_gradients(
        neural_network.weights.copy(), neural_network.bias, input_vector, target
    )
    assert derror_dbias == pytest.approx(lesson_dbias, rel=1e-12)
    assert np.allclose(derror_dweights, lesson_dweights, rtol=1e-12, atol=0)

    # an engine Network with the same weights, through its generic backward pass
    network = Network([Dense(1), Sigmoid()], loss="mse", optimizer="sgd", dtype="float64")
    network.build(2)
    network.set_weights([neural_network.weights.reshape(2, 1), np.array([neural_network.bias])])
    _, gradient = network.loss_and_gradient(
        network.params, input_vector.reshape(1, 2), np.array([[target]])
    )
    engine_dweights, engine_dbias = network.unflatten(gradient)
    assert np.allclose(derror_dweights, engine_dweights[:, 0], rtol=1e-12, atol=0)
    assert derror_dbias == pytest.approx(engine_dbias[0], rel=1e-12)


def test_update_parameters_is_gradient_descent():
    neural_network = NeuralNetwork(learning_rate=0.1, seed=0)
    weights, bias = neural_network.weights.copy(), neural_network.bias
    neural_network._update_parameters(0.5, np.array([1.0, -2.0]))
    assert np.allclose(neural_network.weights, weights - 0.1 * np.array([1.0, -2.0]))
    assert neural_network.bias == pytest.approx(bias - 0.05)


def test_predict_matches_make_prediction():
    neural_network = NeuralNetwork(learning_rate=0.1, seed=1)
    expected = make_prediction([2, 1.5], neural_network.weights, neural_network.bias)
    assert neural_network.predict(np.array([2, 1.5])) == pytest.approx(expected, rel=1e-14)
    batch = neural_network.predict(INPUT_VECTORS)
    assert batch.shape == (8,)


def test_seed_reproduces_start_values_and_training():
    a, b = NeuralNetwork(0.1, seed=7), NeuralNetwork(0.1, seed=7)
    assert np.array_equal(a.weights, b.weights) and a.bias == b.bias
    assert a.train(INPUT_VECTORS, TARGETS, 500) == b.train(INPUT_VECTORS, TARGETS, 500)
    assert not np.array_equal(NeuralNetwork(0.1, seed=8).weights, a.weights)


@pytest.mark.parametrize("seed", range(10))
def test_train_records_100_values_and_the_error_goes_down(seed):
    # Checked for seeds 0-9: with learning rate 0.1 the mean of the last ten recorded
    # errors is below the first recorded error and below the mean of the first ten.
    training_error = NeuralNetwork(learning_rate=0.1, seed=seed).train(
        INPUT_VECTORS, TARGETS, 10000
    )
    assert len(training_error) == 100
    errors = np.array(training_error)
    assert np.all(errors > 0) and np.all(errors < len(TARGETS))
    assert errors[-10:].mean() < errors[0]
    assert errors[-10:].mean() < errors[:10].mean()


def test_walkthrough_prints_every_step_beside_the_lesson(tmp_path):
    lines = []
    results = walkthrough(out_dir=str(tmp_path), plot=False, seed=0, print_fn=lines.append)
    text = "\n".join(lines)
    for lesson_value in [
        "2.1672",
        "4.1259",
        "[0.7985731]",
        "[0.87101915]",
        "[0.7586743596667225]",
        "[1.7420383]",
        "[0.01496248]",
        "[0.00022388]",
    ]:
        assert f"lesson: {lesson_value}" in text
    assert text.count("matches") == 9
    assert "DIFFERS" not in text and "DIFFERENT" not in text
    assert len(results["training_error"]) == 100
    assert results["Dot product with weights_2"] == pytest.approx(4.1259, abs=1e-4)
    assert str(results["Second prediction"]) == "[0.87101915]"
    assert str(results["Prediction after one update"]) == "[0.01496248]"
    assert str(results["Error after one update"]) == "[0.00022388]"


def test_walkthrough_shows_the_trace_at_the_backpropagation_step():
    lines = []
    results = walkthrough(plot=False, seed=0, print_fn=lines.append)
    text = "\n".join(lines)
    trace = results["trace"]
    assert trace["prediction"] == pytest.approx(0.87101915, rel=1e-8)
    assert trace["derror_dprediction"] == pytest.approx(1.7420383, rel=1e-7)
    assert trace["layer_1"] == pytest.approx(1.91)
    assert trace["dprediction_dlayer1"] == pytest.approx(0.1123448, rel=1e-6)
    assert trace["derror_dbias"] == pytest.approx(0.1957089, rel=1e-6)
    np.testing.assert_allclose(trace["derror_dweights"], [0.3914179, 0.2935634], rtol=1e-6)
    # printed after the lesson's chain-rule steps, before the training run
    assert text.index("Chain rule: derror_dweights") < text.index("derror_dprediction   1.7420383")
    assert text.index("derror_dprediction   1.7420383") < text.index("NeuralNetwork.predict")
    assert (
        "derror_dweights[1, 1] = derror_dprediction * dprediction_dlayer1 * dlayer1_dweights[1]"
        " = 1.7420383 * 0.11234479 * 2 = 0.39141786" in text
    )


def test_tutorial_command_saves_the_picture(tmp_path):
    pytest.importorskip("matplotlib", reason="the picture needs the plot extra")
    done = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "tutorial", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "matches" in done.stdout
    picture = tmp_path / "cumulative_error.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
