"""Data makers and network builders shared by several test modules.

A plain module, not a conftest: pytest puts this folder on ``sys.path``, so a test
module imports what it uses with ``from helpers import ...``. Importing it needs only
NumPy and chainrule; the helpers that use pandas or scikit-learn import them inside.
"""

import contextlib
import threading

import numpy as np

from chainrule import SGD, Dense, Dropout, Network, ReLU, Softmax, Tanh

# ---------------------------------------------------------------- small data sets


def regression_data(n=80, seed=0):
    """Three features and a noisy linear target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    return X, y


def classification_data(n=90, seed=0):
    """Four features and integer labels 0, 1 and 2."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def binary_data(n_features=3, n=40, seed=0):
    """``n_features`` features and 0/1 labels from the first and last of them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] + 0.5 * X[:, -1] > 0).astype(int)
    return X, y


def toy_data(n=60, seed=0):
    """Four features and labels 0, 1 and 2 for the scikit-learn-style estimators."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def tabular_frame(n=200, seed=0):
    """A DataFrame: two numbers, one text column, a text target that depends on all three."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.normal(10, 3, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    score = a + (b - 10) / 3 + np.where(colour == "red", 1.5, 0.0)
    label = np.where(score > 0.5, "yes", "no")
    return pd.DataFrame({"a": a, "b": b, "colour": colour, "label": label})


# ---------------------------------------------------------------- small networks


def mixed_frame(n=160, seed=0):
    """A DataFrame of numbers, a text column and a text target (``fruit``): what the
    ``chainrule`` command's tests train on."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    size = rng.normal(10, 2, n).round(2)
    weight = rng.normal(50, 10, n).round(1)
    colour = rng.choice(["red", "green", "blue"], n)
    score = (size - 10) / 2 + np.where(colour == "red", 1.2, -0.4)
    fruit = np.where(score > 0.3, "apple", np.where(score > -0.8, "pear", "plum"))
    return pd.DataFrame({"size": size, "weight": weight, "colour": colour, "fruit": fruit})


def regressor(seed=0, lr=0.05, **kwargs):
    """A 3-8-1 tanh network with MSE and plain SGD."""
    return Network([Dense(8), Tanh(), Dense(1)], loss="mse", optimizer=SGD(lr), seed=seed, **kwargs)


def classifier(seed=0, **kwargs):
    """A 16-unit ReLU network with dropout and a 3-class softmax, trained with Adam."""
    return Network(
        [Dense(16), ReLU(), Dropout(0.1), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        seed=seed,
        **kwargs,
    )


# ---------------------------------------------------------------- argument checks

# 20 rows of 3 features and an exact linear target, for the tests of what fit,
# predict and evaluate refuse.
X = np.random.default_rng(0).normal(size=(20, 3))
Y = X @ np.array([1.0, 2.0, -1.0])


def net(**kwargs):
    """A 4-unit ReLU regressor with MSE (optimizer "sgd" unless given)."""
    kwargs.setdefault("optimizer", "sgd")
    return Network([Dense(4), ReLU(), Dense(1)], loss="mse", **kwargs)


def fitted():
    """``net(seed=0)`` after one epoch on ``X``, ``Y``."""
    model = net(seed=0)
    model.fit(X, Y, epochs=1)
    return model


def linear_net(**kwargs):
    """A single Dense(1) layer with MSE and SGD."""
    return Network([Dense(1)], loss="mse", optimizer="sgd", **kwargs)


# ---------------------------------------------------------------- against scikit-learn


def data_of_kind(kind, n=40, n_features=5, seed=0):
    """X and y for one kind of output: binary, multiclass, multilabel, regression, ..."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    w = rng.normal(size=(n_features, 3))
    scores = X @ w
    if kind == "binary":
        y = np.where(scores[:, 0] > 0, "yes", "no")
    elif kind == "multiclass":
        y = np.argmax(scores, axis=1)
    elif kind == "multilabel":
        y = (scores > 0).astype(int)
    elif kind == "regression":
        y = scores[:, 0]
    elif kind == "multioutput":
        y = scores[:, :2]
    else:  # poisson counts
        y = rng.poisson(np.exp(0.3 * scores[:, 0])).astype(float)
    return X, y


def sklearn_pair(kind, **params):
    """scikit-learn's MLP for ``kind`` and chainrule's, both made with ``params``."""
    from sklearn import neural_network as sk

    from chainrule import estimators as cr

    if kind in ("binary", "multiclass", "multilabel"):
        return sk.MLPClassifier(**params), cr.MLPClassifier(**params)
    loss = "poisson" if kind == "poisson" else "squared_error"
    return sk.MLPRegressor(loss=loss, **params), cr.MLPRegressor(loss=loss, **params)


def estimator_weights(est):
    """A fitted MLP's coefs_ followed by its intercepts_."""
    return list(est.coefs_) + list(est.intercepts_)


# ---------------------------------------------------------------- pipelines


def pipeline_frame(n=120, seed=0):
    """Numbers, text and integer categories, and a text label (for the pipeline files)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "weight": rng.normal(50, 10, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "grade": rng.choice([3, 1, 2], n),
            "extra": rng.normal(size=n),
        }
    )
    y = np.where(frame["size"] + 3 * (frame["colour"] == "red") > 11, "big", "small")
    return frame, y


def small_pipeline():
    """ColumnTransformer (scaler, one-hot, passthrough) -> MaxAbsScaler -> MLPClassifier."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder, StandardScaler

    from chainrule import MLPClassifier

    prep = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["size", "weight"]),
            ("text", OneHotEncoder(handle_unknown="ignore"), ["colour", "grade"]),
        ],
        remainder="passthrough",
    )
    return Pipeline(
        [
            ("prep", prep),
            ("scale", MaxAbsScaler()),
            ("mlp", MLPClassifier(hidden_layer_sizes=(8,), max_iter=40, random_state=0)),
        ]
    )


# ---------------------------------------------------------------- failures


def first_checkpoint_save_fails(monkeypatch, error: OSError) -> list:
    """Make the first model save of a :class:`Checkpoint` raise ``error`` (a full disk,
    a read-only folder) and the later ones work; returns the list of paths saved to."""
    from chainrule import callbacks as callbacks_module

    real_save, calls = callbacks_module.save, []

    def fails_once(model, path):
        calls.append(path)
        if len(calls) == 1:
            raise error
        return real_save(model, path)

    monkeypatch.setattr(callbacks_module, "save", fails_once)
    return calls


@contextlib.contextmanager
def playground_server():
    """``chainrule playground``'s server on a free local port, in a thread, for a test
    module; shut down and closed after."""
    from chainrule.playground.server import make_server

    server = make_server(0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
