"""The lesson, runnable: its functions, its ``NeuralNetwork`` class, its numbers.

Everything here keeps the lesson's names. The functions (``sigmoid``,
``sigmoid_deriv``, ``make_prediction``) are the lesson's first steps; the class
``NeuralNetwork`` is the lesson's last one, built on chainrule's engine: a
``Network([Dense(1), Sigmoid()], loss="mse", optimizer=SGD(learning_rate))`` in
float64. Its ``_compute_gradients`` is the engine's backward pass and its
``_update_parameters`` is the engine's SGD step, so what a learner reads in the
lesson is exactly what the library runs.

``walkthrough()`` (the ``chainrule tutorial`` command) replays the lesson in
the terminal, printing every value beside the one the lesson prints.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable

import numpy as np

from chainrule.explain import explain
from chainrule.functions import (
    dot_product,
    sigmoid,
    sigmoid_deriv,
    squared_error,
    squared_error_deriv,
)
from chainrule.layers import Dense, Sigmoid
from chainrule.network import Network
from chainrule.optimizers import SGD
from chainrule.plotting import plot_error_curve

__all__ = [
    "sigmoid",
    "sigmoid_deriv",
    "dot_product",
    "make_prediction",
    "NeuralNetwork",
    "INPUT_VECTORS",
    "TARGETS",
    "walkthrough",
]

#: The lesson's eight training instances and their targets.
INPUT_VECTORS = np.array(
    [[3, 1.5], [2, 1], [4, 1.5], [3, 4], [3.5, 0.5], [2, 0.5], [5.5, 1], [1, 1]]
)
TARGETS = np.array([0, 1, 0, 1, 0, 1, 1, 0])


def make_prediction(input_vector, weights, bias):
    """The lesson's two-layer network: ``layer_2 = sigmoid(np.dot(input_vector, weights) + bias)``.

    Parameters
    ----------
    input_vector : array-like of shape (n_features,)
    weights : array-like of shape (n_features,)
    bias : float or array-like of shape (1,)

    Returns
    -------
    The prediction, a number between 0 and 1 (same shape as ``bias``).
    """
    layer_1 = np.dot(input_vector, weights) + bias
    layer_2 = sigmoid(layer_1)
    return layer_2


class NeuralNetwork:
    """The lesson's ``NeuralNetwork``: one neuron, a sigmoid, squared error, SGD.

    ``prediction = sigmoid(np.dot(input_vector, weights) + bias)``, trained by
    stochastic gradient descent on ``error = np.square(prediction - target)``.

    Parameters
    ----------
    learning_rate : float
        Fraction of the gradient subtracted at each update (the lesson uses 0.1).
    seed : int or None, default=None
        Seeds the random start values and the choice of training instances.
        ``None`` gives a different run each time, as in the lesson.
    n_inputs : int, default=2
        Length of the input vectors (the lesson's are 2 long).

    Attributes
    ----------
    weights : ndarray of shape (n_inputs,)
        The weight vector (a view of the engine's parameters).
    bias : float
    network : chainrule.Network
        The engine network underneath: ``[Dense(1), Sigmoid()]`` with MSE and SGD.

    Examples
    --------
    >>> from chainrule.tutorial import NeuralNetwork, INPUT_VECTORS, TARGETS
    >>> neural_network = NeuralNetwork(learning_rate=0.1, seed=42)
    >>> training_error = neural_network.train(INPUT_VECTORS, TARGETS, 10000)
    >>> len(training_error)
    100
    """

    def __init__(self, learning_rate: float, *, seed: int | None = None, n_inputs: int = 2):
        self.learning_rate = learning_rate
        self.network = Network(
            [Dense(1), Sigmoid()],
            loss="mse",
            optimizer=SGD(learning_rate=learning_rate),
            seed=seed,
            dtype="float64",
        ).build(n_inputs)
        self._dense: Dense = self.network.layers[0]
        rng = self.network.rng
        # As in the lesson: weights and bias start as standard normal draws.
        self.weights = np.array([rng.standard_normal() for _ in range(n_inputs)])
        self.bias = rng.standard_normal()

    @property
    def weights(self) -> np.ndarray:
        return self._dense.weights[:, 0]

    @weights.setter
    def weights(self, value) -> None:
        self._dense.weights[:, 0] = value

    @property
    def bias(self) -> float:
        return float(self._dense.bias[0])

    @bias.setter
    def bias(self, value) -> None:
        self._dense.bias[0] = np.asarray(value, dtype=np.float64).reshape(-1)[0]

    def predict(self, input_vector):
        """``sigmoid(np.dot(input_vector, weights) + bias)`` for one vector (a number)
        or for each row of a 2-D array (an array)."""
        x = np.asarray(input_vector, dtype=np.float64)
        prediction = self.network.predict(np.atleast_2d(x))[:, 0]
        return prediction[0] if x.ndim == 1 else prediction

    def _compute_gradients(self, input_vector, target):
        """The chain rule for one instance: returns ``(derror_dbias, derror_dweights)``.

        ``derror_dweights = derror_dprediction * dprediction_dlayer1 * dlayer1_dweights``
        with ``derror_dprediction = 2 * (prediction - target)``,
        ``dprediction_dlayer1 = sigmoid_deriv(layer_1)`` and
        ``dlayer1_dweights = input_vector``; the engine's backward pass computes it.
        """
        x = np.asarray(input_vector, dtype=np.float64).reshape(1, -1)
        net = self.network
        _, gradient = net.loss_and_gradient(net.params, x, np.array([[target]], dtype=np.float64))
        derror_dweights, derror_dbias = net.unflatten(gradient)
        return float(derror_dbias[0]), derror_dweights[:, 0]

    def _update_parameters(self, derror_dbias, derror_dweights):
        """Gradient descent: ``bias -= derror_dbias * learning_rate``, same for the weights.

        Runs the engine's SGD step over the network's flat parameter vector.
        """
        self._dense.derror_dweights[:, 0] = derror_dweights
        self._dense.derror_dbias[0] = derror_dbias
        self.network.optimizer.step(self.network.params, self.network.grads)

    def train(self, input_vectors, targets, iterations: int) -> list[float]:
        """Stochastic gradient descent for ``iterations`` steps.

        Each step picks one instance at random, computes its gradients and
        updates the parameters. Every 100 iterations (starting with the first)
        the squared error summed over all instances is recorded.

        Returns
        -------
        list of float
            ``cumulative_errors``, one value per 100 iterations.
        """
        input_vectors = np.asarray(input_vectors, dtype=np.float64)
        targets = np.asarray(targets, dtype=np.float64)
        rng = self.network.rng
        cumulative_errors = []
        for current_iteration in range(iterations):
            # Pick a data instance at random
            random_data_index = rng.integers(len(input_vectors))
            input_vector = input_vectors[random_data_index]
            target = targets[random_data_index]
            # Compute the gradients and update the weights
            derror_dbias, derror_dweights = self._compute_gradients(input_vector, target)
            self._update_parameters(derror_dbias, derror_dweights)
            # Measure the cumulative error for all the instances
            if current_iteration % 100 == 0:
                errors = np.square(self.predict(input_vectors) - targets)
                cumulative_errors.append(float(np.sum(errors)))
        return cumulative_errors


# ---------------------------------------------------------------- walkthrough


def _fmt(value) -> str:
    """What ``print`` shows for the value, as in the lesson's IPython session."""
    return str(np.asarray(value)) if np.ndim(value) else str(float(value))


def walkthrough(
    out_dir: str = ".", plot: bool = True, seed: int | None = 8, print_fn: Callable = print
) -> dict:
    """Replay the lesson step by step, printing chainrule's value beside the lesson's.

    Parameters
    ----------
    out_dir : str, default="."
        Folder for ``cumulative_error.png``.
    plot : bool, default=True
        Save the picture of the training error (needs matplotlib: ``chainrule[plot]``).
    seed : int or None, default=8
        Seed of the training run (the lesson's run was unseeded). Every seed shows the
        error falling; 8 starts from a high error, so the picture shows the fall clearly.
    print_fn : callable, default=print

    Returns
    -------
    dict
        The values computed at each step, and ``"plot"``: the picture's path or None.
    """
    results: dict = {}
    step = [0]

    def show(title: str, explanation: str, value, lesson: str | None, rtol: float = 0.0) -> None:
        step[0] += 1
        print_fn(f"\nStep {step[0]}. {title}")
        print_fn(textwrap.fill(explanation, 88, initial_indent="   ", subsequent_indent="   "))
        line = f"   chainrule: {_fmt(value)}"
        if lesson is not None:
            ours = np.asarray(value, dtype=np.float64).ravel()
            theirs = np.array([float(v) for v in lesson.strip("[]").split()])
            decimals = max(
                len(v.split(".")[1]) if "." in v else 0 for v in lesson.strip("[]").split()
            )
            # the lesson prints values cut to `decimals` places: agree to that precision
            tolerance = max(10.0**-decimals, rtol * float(np.max(np.abs(theirs))))
            same = bool(np.all(np.abs(ours - theirs) <= tolerance))
            line += f"   lesson: {lesson}   {'matches' if same else 'DIFFERS'}"
        print_fn(line)
        results[title] = value

    print_fn("The lesson 'build a neural network from scratch', replayed with chainrule.")
    print_fn("Each step prints chainrule's value beside the value the lesson prints.")

    input_vector = [1.72, 1.23]
    weights_1 = [1.26, 0]
    weights_2 = [2.17, 0.32]
    show(
        "Dot product by hand",
        "input_vector [1.72, 1.23] and weights_1 [1.26, 0]: multiply index by index, then sum",
        dot_product(input_vector, weights_1),
        "2.1672",
    )
    show(
        "Dot product with np.dot",
        "np.dot(input_vector, weights_1)",
        float(np.dot(input_vector, weights_1)),
        "2.1672",
    )
    show(
        "Dot product with weights_2",
        "np.dot(input_vector, [2.17, 0.32]): larger, so weights_2 is more similar to the input",
        float(np.dot(input_vector, weights_2)),
        "4.1259",
    )

    input_vector = np.array([1.66, 1.56])
    weights_1 = np.array([1.45, -0.66])
    bias = np.array([0.0])
    prediction = make_prediction(input_vector, weights_1, bias)
    show(
        "First prediction",
        "sigmoid(np.dot([1.66, 1.56], [1.45, -0.66]) + 0.0); "
        "above 0.5, so class 1: right (target 1)",
        prediction,
        "[0.7985731]",
    )
    input_vector = np.array([2, 1.5])
    prediction = make_prediction(input_vector, weights_1, bias)
    show(
        "Second prediction",
        "the same network on [2, 1.5]; above 0.5 but the target is 0: wrong",
        prediction,
        "[0.87101915]",
    )

    target = 0
    mse = squared_error(prediction, target)  # np.square(prediction - target)
    show(
        "Squared error",
        "np.square(prediction - target) with target 0. The lesson squared "
        "the prediction as printed (0.87101915 ** 2 = 0.7586743596667225); chainrule squares "
        "the exact prediction, so the two agree to the 8 digits the lesson printed",
        mse,
        "[0.7586743596667225]",
        rtol=1e-8,
    )
    derivative = squared_error_deriv(prediction, target)  # 2 * (prediction - target)
    show(
        "Derivative of the error",
        "2 * (prediction - target): positive, so lower the weights",
        derivative,
        "[1.7420383]",
    )
    weights_1 = weights_1 - derivative
    prediction = make_prediction(input_vector, weights_1, bias)
    show(
        "Prediction after one update",
        "weights_1 - derivative, then predict again",
        prediction,
        "[0.01496248]",
    )
    error = squared_error(prediction, target)  # (prediction - target) ** 2
    show("Error after one update", "(prediction - target) ** 2: nearly gone", error, "[0.00022388]")

    # The chain rule for the bias and the weights, checked against the engine.
    weights_1 = np.array([1.45, -0.66])
    bias = np.array([0.0])
    prediction = make_prediction(input_vector, weights_1, bias)
    derror_dprediction = 2 * (prediction - target)
    layer_1 = np.dot(input_vector, weights_1) + bias
    dprediction_dlayer1 = sigmoid_deriv(layer_1)
    dlayer1_dbias = 1
    dlayer1_dweights = input_vector
    derror_dbias = derror_dprediction * dprediction_dlayer1 * dlayer1_dbias
    derror_dweights = derror_dprediction * dprediction_dlayer1 * dlayer1_dweights
    show(
        "Chain rule: derror_dbias",
        "derror_dprediction * dprediction_dlayer1 * dlayer1_dbias",
        derror_dbias,
        None,
    )
    show(
        "Chain rule: derror_dweights",
        "derror_dprediction * dprediction_dlayer1 * dlayer1_dweights",
        derror_dweights,
        None,
    )
    neural_network = NeuralNetwork(learning_rate=0.1, seed=seed)
    neural_network.weights = weights_1
    neural_network.bias = bias
    engine_dbias, engine_dweights = neural_network._compute_gradients(input_vector, target)
    same = np.allclose(engine_dweights, derror_dweights) and np.isclose(
        engine_dbias, derror_dbias[0]
    )
    print_fn(
        f"   the engine's backward pass gives {_fmt(engine_dweights)} and "
        f"{engine_dbias:.8g}: {'the same' if same else 'DIFFERENT'}"
    )
    trace = explain(neural_network.network, input_vector, target, weight=(1, 1, 1))
    print_fn(
        "\n   chainrule.explain(network, [2, 1.5], target=0) traces the same backward pass "
        "through the\n   engine's own layers, value by value:\n"
    )
    print_fn(textwrap.indent(str(trace), "   "))
    results["trace"] = trace

    neural_network = NeuralNetwork(learning_rate=0.1, seed=seed)
    show(
        "NeuralNetwork.predict",
        "a new NeuralNetwork(0.1) on [2, 1.5]; its start weights "
        "are random, so this differs from the lesson's 0.79412963",
        neural_network.predict(input_vector),
        None,
    )

    training_error = neural_network.train(INPUT_VECTORS, TARGETS, 10000)
    show(
        "Training",
        "train(input_vectors, targets, 10000) on the eight instances: the "
        "cumulative error every 100 iterations (first, last)",
        np.array([training_error[0], training_error[-1]]),
        None,
    )
    print_fn(
        f"   {len(training_error)} values recorded; the error goes from "
        f"{training_error[0]:.3f} to {training_error[-1]:.3f}"
    )
    results["training_error"] = training_error

    results["plot"] = None
    if plot:
        path = os.path.join(out_dir, "cumulative_error.png")
        try:
            plot_error_curve(training_error, path)
        except ImportError:
            print_fn("\nmatplotlib is not installed: pip install 'chainrule[plot]' for the picture")
        else:
            results["plot"] = path
            print_fn(f"\nSaved the training error picture to {path}")
    print_fn(
        "\nNext: more layers and ReLU (chainrule.Network), held-out data to judge "
        "generalisation, and fast vectorised training: see docs/lesson.md and the README."
    )
    return results
