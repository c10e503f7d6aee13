"""Bad input: every error names the argument, what was expected and what was received."""

import numpy as np
import pytest

import chainrule
from chainrule import (
    SGD,
    Adam,
    AdamW,
    Dense,
    Dropout,
    LeakyReLU,
    Network,
    ReLU,
    Softmax,
    TrainingDivergedError,
)

X = np.random.default_rng(0).normal(size=(20, 3))
Y = X @ np.array([1.0, 2.0, -1.0])


def net(**kwargs):
    kwargs.setdefault("optimizer", "sgd")
    return Network([Dense(4), ReLU(), Dense(1)], loss="mse", **kwargs)


def fitted():
    model = net(seed=0)
    model.fit(X, Y, epochs=1)
    return model


# ---------------------------------------------------------------- non-finite values


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


# ---------------------------------------------------------------- shapes


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


def test_wrong_number_of_features_at_predict():
    model = fitted()
    with pytest.raises(ValueError, match="X has 4 features, but the network was trained with 3"):
        model.predict(np.ones((2, 4)))
    with pytest.raises(ValueError, match="X has 2 features, but the network was trained with 3"):
        model.evaluate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="X has 4 features, but the network was built for 3"):
        model.fit(np.ones((2, 4)), np.ones(2))


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


def test_text_instead_of_numbers():
    with pytest.raises(TypeError, match="X must be an array of numbers; received list"):
        net().fit([["a", "b", "c"]] * 20, Y)
    model = Network([Dense(3), Softmax()], loss="categorical_crossentropy", optimizer="sgd")
    with pytest.raises(TypeError, match="y must hold numbers; received an array of dtype <U1"):
        model.fit(X[:3], ["a", "b", "c"])


def test_predict_before_fit():
    with pytest.raises(ValueError, match=r"no weights yet: call fit\(\) or build\(\)"):
        net().predict(X)


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


# ---------------------------------------------------------------- non-positive numbers


@pytest.mark.parametrize("units", [0, -3])
def test_non_positive_units(units):
    with pytest.raises(
        ValueError, match=f"units must be a positive integer; received units={units}"
    ):
        Dense(units)


@pytest.mark.parametrize("units", [2.5, "8", True])
def test_units_of_the_wrong_type(units):
    with pytest.raises(
        TypeError, match=r"units must be a positive integer; received units=.* of type"
    ):
        Dense(units)


@pytest.mark.parametrize("epochs", [0, -1])
def test_non_positive_epochs(epochs):
    with pytest.raises(
        ValueError, match=f"epochs must be a positive integer; received epochs={epochs}"
    ):
        net().fit(X, Y, epochs=epochs)


def test_epochs_of_the_wrong_type():
    with pytest.raises(
        TypeError, match=r"epochs must be a positive integer; received epochs=1\.5 of type float"
    ):
        net().fit(X, Y, epochs=1.5)


@pytest.mark.parametrize("batch_size", [0, -32])
def test_non_positive_batch_size(batch_size):
    message = f"batch_size must be a positive integer; received batch_size={batch_size}"
    with pytest.raises(ValueError, match=message):
        net().fit(X, Y, batch_size=batch_size)
    model = fitted()
    with pytest.raises(ValueError, match=message):
        model.predict(X, batch_size=batch_size)
    with pytest.raises(ValueError, match=message):
        model.evaluate(X, Y, batch_size=batch_size)


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
    with pytest.raises(TypeError, match="callbacks must be Callback objects; received 1"):
        net().fit(X, Y, callbacks=[1])


# ---------------------------------------------------------------- divergence


def test_divergence_raises_and_keeps_finite_weights():
    # a huge learning rate with MSE on big targets: the loss overflows within a few steps
    big = 1e6 * np.random.default_rng(1).normal(size=64)
    Xb = np.random.default_rng(2).normal(size=(64, 3))
    model = net(optimizer=SGD(1e3), seed=0)
    with pytest.raises(
        TrainingDivergedError,
        match=r"the loss became (nan|inf) at optimizer "
        r"step \d+; training stopped and the last finite weights were kept",
    ):
        model.fit(Xb, big, epochs=5, batch_size=16)
    assert np.isfinite(model.params).all()
    assert isinstance(TrainingDivergedError("x"), FloatingPointError)
    assert chainrule.TrainingDivergedError is TrainingDivergedError


def test_divergence_in_the_last_update_of_an_epoch():
    # one full-batch step whose update itself overflows (no later step sees the loss):
    # the weights from before the epoch come back
    big = 1e6 * np.random.default_rng(1).normal(size=64)
    Xb = np.random.default_rng(2).normal(size=(64, 3))
    model = net(optimizer=SGD(1e35), seed=0)
    model.build(3)
    before = model.params.copy()
    with pytest.raises(TrainingDivergedError, match="the weights became non-finite in epoch 1"):
        model.fit(Xb, big, epochs=1, batch_size=64)
    np.testing.assert_array_equal(model.params, before)


def test_validation_data_with_the_wrong_number_of_features():
    with pytest.raises(ValueError, match="X_val has 4 features, but the network was built for 3"):
        net().fit(X, Y, validation_data=(np.ones((2, 4)), np.ones(2)))


@pytest.mark.parametrize("loss", ["binary_crossentropy", "multilabel_crossentropy"])
def test_binary_targets_outside_0_1(loss):
    model = Network([Dense(1), chainrule.Sigmoid()], loss=loss, optimizer="sgd")
    with pytest.raises(
        ValueError,
        match=rf"y for {loss} must hold 0/1 labels \(or probabilities "
        r"in \[0, 1\]\); received values in \[-1, 2\]",
    ):
        model.fit(X[:4], [0, 1, 2, -1])


def test_one_metric_given_as_a_string():
    model = net(metrics="mae")
    assert [m.name for m in model.metrics] == ["mae"]


def test_loss_and_gradient_checks_its_input():
    model = net().build(X.shape[1])
    params = model.params
    with pytest.raises(ValueError, match="X and y must have the same number of samples"):
        model.loss_and_gradient(params, X, Y[:5])
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        model.loss_and_gradient(params, X, np.full(20, np.nan))
    with pytest.raises(ValueError, match="X and sample_weight must have the same number"):
        model.loss_and_gradient(params, X, Y, np.ones(3))
