"""The argument checks (chainrule._validation) as fit, predict, evaluate and the
constructors meet them: arrays (non-finite values, shapes, emptiness, text, complex
numbers, lengths), sample weights, seeds, names looked up in a registry, and the
ranges and types of hyperparameters. Every error names the argument, what was expected
and what was received."""

import numpy as np
import pytest

from chainrule import (
    SGD,
    AdamW,
    Dense,
    Dropout,
    LeakyReLU,
    Network,
    Softmax,
)
from helpers import X, Y, fitted, linear_net, net

# ---------------------------------------------------------------- arrays


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x(bad):
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(
        ValueError,
        match=r"X contains NaN or infinity \(1 value\(s\), first at "
        r"index \(3, 1\)\); every value must be finite",
    ):
        net().fit(Xb, Y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y(bad):
    yb = Y.copy()
    yb[5] = bad
    with pytest.raises(ValueError, match=r"y contains NaN or infinity .*index \(5,\)"):
        net().fit(X, yb)


def test_non_finite_at_predict_evaluate_and_validation():
    model = fitted()
    Xb = X.copy()
    Xb[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.predict(Xb)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.evaluate(Xb, Y)
    with pytest.raises(ValueError, match="X_val contains NaN or infinity"):
        model.fit(X, Y, validation_data=(Xb, Y))
    with pytest.raises(ValueError, match="sample_weight contains NaN or infinity"):
        model.fit(X, Y, sample_weight=np.r_[np.nan, np.ones(19)])


def test_nan_message_does_not_assume_training():
    net = linear_net(seed=0)
    net.fit(np.ones((4, 2)), np.ones(4))
    with pytest.raises(
        ValueError, match=r"X contains NaN or infinity.*remove or impute them first"
    ):
        net.predict(np.array([[np.nan, 1.0]]))


def test_one_dimensional_x():
    with pytest.raises(
        ValueError,
        match=r"X must be a 2-D array; received shape \(20,\)\. "
        r"Reshape it: X\.reshape\(-1, 1\)",
    ):
        net().fit(X[:, 0], Y)
    with pytest.raises(ValueError, match=r"X must be a 2-D array; received shape \(3,\)"):
        fitted().predict(X[0])


def test_empty_x():
    with pytest.raises(ValueError, match=r"X is empty \(shape \(0, 3\)\); at least one sample"):
        net().fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match=r"X is empty \(shape \(0, 3\)\)"):
        fitted().predict(np.empty((0, 3)))


def test_text_instead_of_numbers():
    with pytest.raises(TypeError, match="X must be an array of numbers; received list"):
        net().fit([["a", "b", "c"]] * 20, Y)
    model = Network([Dense(3), Softmax()], loss="categorical_crossentropy", optimizer="sgd")
    with pytest.raises(TypeError, match="y must hold numbers; received an array of dtype <U1"):
        model.fit(X[:3], ["a", "b", "c"])


def test_complex_input_is_refused():
    X = np.ones((4, 2)) + 1j
    with pytest.raises(TypeError, match=r"X holds complex numbers.*X.real"):
        linear_net().fit(X, np.ones(4))


def test_lengths_of_x_and_y_differ():
    with pytest.raises(
        ValueError,
        match="X and y must have the same number of samples; received X with 20 rows and y with 19",
    ):
        net().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="X and sample_weight must have the same number"):
        net().fit(X, Y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="X_val and y_val must have the same number of samples"):
        net().fit(X, Y, validation_data=(X, Y[:3]))


# ---------------------------------------------------------------- sample weights and seeds


def test_negative_sample_weight_is_refused():
    X, y = np.ones((4, 2)), np.ones(4)
    with pytest.raises(ValueError, match=r"sample_weight must be >= 0; received 1 negative"):
        linear_net().fit(X, y, sample_weight=[1, 1, -1, 1])
    with pytest.raises(
        ValueError, match=r"X and sample_weight must have the same number of samples"
    ):
        linear_net().fit(X, y, sample_weight=[1, 1, 1])


@pytest.mark.parametrize(
    ("seed", "error", "match"),
    [
        (-1, ValueError, "seed must be None or a non-negative integer; received seed=-1"),
        (1.5, TypeError, "seed must be None or a non-negative integer; received seed=1.5"),
    ],
)
def test_seed_is_checked(seed, error, match):
    with pytest.raises(error, match=match):
        linear_net(seed=seed)


# ---------------------------------------------------------------- unknown names


def test_unknown_layer_name():
    with pytest.raises(ValueError, match=r"unknown layer 'relux'; expected one of \[.*'relu'"):
        Network([Dense(2), "relux"], loss="mse", optimizer="sgd")


def test_unknown_loss_name():
    with pytest.raises(ValueError, match=r"unknown loss 'msa'; expected one of \[.*'mse'"):
        Network([Dense(1)], loss="msa", optimizer="sgd")
    with pytest.raises(TypeError, match=r"loss must be given as a name .* received int 3"):
        Network([Dense(1)], loss=3, optimizer="sgd")


def test_unknown_optimizer_name():
    with pytest.raises(
        ValueError,
        match=r"unknown optimizer 'adamm'; expected one of "
        r"\['adam', 'adamw', 'rmsprop', 'sgd'\]",
    ):
        Network([Dense(1)], loss="mse", optimizer="adamm")


def test_unknown_metric_and_initializer_names():
    with pytest.raises(ValueError, match=r"unknown metric 'auc'; expected one of \[.*'r2'"):
        Network([Dense(1)], loss="mse", optimizer="sgd", metrics=["auc"])
    with pytest.raises(ValueError, match=r"unknown kernel_initializer 'xavier'; expected one of"):
        Dense(2, kernel_initializer="xavier")


# ---------------------------------------------------------------- hyperparameters


def test_other_hyperparameters():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\); received rate=1.0"):
        Dropout(1.0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\); received momentum=1.5"):
        SGD(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0; received l2=-1"):
        net(l2=-1)
    with pytest.raises(TypeError, match="l2 must be a number >= 0; received l2='big' of type str"):
        net(l2="big")
    with pytest.raises(TypeError, match="negative_slope must be a number >= 0; received"):
        LeakyReLU("a")
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        AdamW(weight_decay=-0.1)
    with pytest.raises(
        ValueError, match="dtype must be 'float32' or 'float64'; received dtype='int32'"
    ):
        net(dtype="int32")
    with pytest.raises(
        ValueError,
        match=r"validation_split must be in \(0, 1\); received "
        r"validation_split=1.5",
    ):
        net().fit(X, Y, validation_split=1.5)
    with pytest.raises(
        TypeError,
        match=r"validation_data must be a tuple \(X_val, y_val\) or \(X_val, y_val, "
        r"sample_weight_val\); received ndarray",
    ):
        net().fit(X, Y, validation_data=X)
    with pytest.raises(
        TypeError, match=r"layers must be a non-empty list of layers.*received \[\]"
    ):
        Network([], loss="mse", optimizer="sgd")
    with pytest.raises(TypeError, match=r"layers\[1\] must be a Layer .* received int 3"):
        Network([Dense(1), 3], loss="mse", optimizer="sgd")
    with pytest.raises(
        TypeError, match=r"callbacks must be chainrule Callback objects .*received 1"
    ):
        net().fit(X, Y, callbacks=[1])
