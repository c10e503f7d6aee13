"""It learns, on real data: scikit-learn's bundled data sets, held-out scores.

Each test trains in well under a second. The settings were checked over network
seeds 0..4 or more (the range is stated beside each threshold); the tests run three
of them. The train/test splits are fixed (``random_state`` below).
"""

import pytest

from chainrule import Adam, Dense, Network, ReLU, Sigmoid, Softmax, Tanh

sklearn = pytest.importorskip("sklearn", reason="the real-data tests use scikit-learn's data sets")

from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_friedman1,
)
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_digits_one_hidden_layer(seed):
    # held-out accuracy over seeds 0..4: 0.971 to 0.982
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    net = Network(
        [Dense(64), ReLU(), Dense(10), Softmax()],
        loss="categorical_crossentropy",
        optimizer=Adam(0.005),
        metrics=["accuracy"],
        seed=seed,
    )
    net.fit(X_train, y_train, epochs=30, batch_size=32)
    accuracy = accuracy_score(y_test, net.predict(X_test).argmax(axis=1))
    assert accuracy >= 0.96
    assert net.evaluate(X_test, y_test)["accuracy"] == pytest.approx(accuracy)


@pytest.mark.parametrize("seed", SEEDS)
def test_breast_cancer_standardised(seed):
    # held-out accuracy over seeds 0..7: 0.958 to 0.972 (143 test samples: 0.95 allows
    # 7 errors; scikit-learn's LogisticRegression makes 4 on this split)
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=2, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    net = Network(
        [Dense(16), ReLU(), Dense(1), Sigmoid()],
        loss="binary_crossentropy",
        optimizer=Adam(0.001),
        l2=0.01,
        seed=seed,
    )
    net.fit(scaler.transform(X_train), y_train, epochs=40, batch_size=32)
    proba = net.predict_proba(scaler.transform(X_test))
    assert accuracy_score(y_test, proba.argmax(axis=1)) >= 0.95


@pytest.mark.parametrize("seed", SEEDS)
def test_diabetes_regression(seed):
    # held-out R2 over seeds 0..9: 0.318 to 0.392; asserted: R2 >= 0.30.
    # (A noisy set: ordinary least squares reaches 0.359 on this split.)
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    mean, std = y_train.mean(), y_train.std()
    net = Network(
        [Dense(4), ReLU(), Dense(1)], loss="mse", optimizer=Adam(0.005), l2=0.01, seed=seed
    )
    net.fit(scaler.transform(X_train), (y_train - mean) / std, epochs=40, batch_size=32)
    prediction = net.predict(scaler.transform(X_test))[:, 0] * std + mean
    assert r2_score(y_test, prediction) >= 0.30


@pytest.mark.parametrize("seed", SEEDS)
def test_friedman1_nonlinear_regression(seed):
    # held-out R2 over seeds 0..4: 0.954 to 0.968; asserted: R2 >= 0.93
    # (y = 10 sin(pi x1 x2) + 20 (x3 - 0.5)^2 + 10 x4 + 5 x5 + noise; a linear model gets ~0.75)
    X, y = make_friedman1(n_samples=1500, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    mean, std = y_train.mean(), y_train.std()
    net = Network(
        [Dense(64), Tanh(), Dense(1)], loss="mse", optimizer=Adam(0.01), metrics=["r2"], seed=seed
    )
    net.fit(X_train, (y_train - mean) / std, epochs=100, batch_size=64)
    prediction = net.predict(X_test)[:, 0] * std + mean
    assert r2_score(y_test, prediction) >= 0.93
    # the network's own r2 metric agrees on the scaled targets
    assert net.evaluate(X_test, (y_test - mean) / std)["r2"] == pytest.approx(
        r2_score(y_test, prediction), abs=1e-5
    )
