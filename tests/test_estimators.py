"""chainrule.MLPClassifier / MLPRegressor (chainrule.estimators): the same parameters as
scikit-learn's, accuracy against it, its tooling and its own estimator checks (and
test_mlp.py), input errors, the additions (dropout, class_weight, callbacks,
activations), sparse and pandas input, threads, and the training trajectory against
scikit-learn's for every solver, activation and kind of output."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")

import scipy.sparse
import sklearn
from sklearn import datasets
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import chainrule
from chainrule import EarlyStopping, LambdaCallback, Network
from chainrule import estimators as cr
from chainrule.estimators import MLPClassifier, MLPRegressor
from helpers import data_of_kind, estimator_weights, sklearn_pair, toy_data

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("one_blas_thread"),
]


def _scaled(X):
    return StandardScaler().fit_transform(X)


# ---------------------------------------------------------------- the switch


def test_one_line_switch_from_chainrule_namespace():
    assert chainrule.MLPClassifier is MLPClassifier
    assert chainrule.MLPRegressor is MLPRegressor
    with pytest.raises(AttributeError, match="no attribute 'MLPClassiffier'"):
        chainrule.MLPClassiffier


@pytest.mark.parametrize(
    "cls_pair", [(MLPClassifier, sk.MLPClassifier), (MLPRegressor, sk.MLPRegressor)]
)
def test_same_parameters_and_defaults_as_sklearn(cls_pair):
    ours, theirs = cls_pair
    ours_params, their_params = ours().get_params(), theirs().get_params()
    additions = {"dropout", "callbacks", "dtype"} | (
        {"class_weight"} if ours is MLPClassifier else set()
    )
    assert set(ours_params) == set(their_params) | additions
    for name, value in their_params.items():
        assert ours_params[name] == value, name
    assert ours_params["dropout"] == 0.0
    assert ours_params["callbacks"] is None and ours_params["dtype"] is None


def test_fitted_attributes_and_network_views():
    X, y = toy_data()
    clf = MLPClassifier(hidden_layer_sizes=(5, 3), max_iter=5, random_state=0).fit(X, y)
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.n_features_in_ == 4 and clf.n_layers_ == 4 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax"
    assert clf.n_iter_ == 5 and clf.t_ == 5 * 60 and len(clf.loss_curve_) == 5
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.loss_ == clf.loss_curve_[-1]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert [c.shape for c in clf.coefs_] == [(4, 5), (5, 3), (3, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (3,), (3,)]
    assert isinstance(clf.network_, Network)
    # coefs_ are views into the network's one flat parameter vector
    assert np.shares_memory(clf.coefs_[0], clf.network_.params)
    clf.coefs_[2][...] = 0
    clf.intercepts_[2][...] = [0, 5, 0]
    assert (clf.predict(X) == 1).all()


def test_binary_multilabel_and_multioutput_shapes():
    X, y = toy_data()
    binary = MLPClassifier(max_iter=20, random_state=0).fit(X, y > 0)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    assert binary.predict_proba(X).shape == (60, 2)
    np.testing.assert_allclose(binary.predict_proba(X).sum(axis=1), 1)
    Y = np.column_stack([y == 0, y == 1, X[:, 3] > 0]).astype(int)
    multilabel = MLPClassifier(max_iter=20, random_state=0).fit(X, Y)
    assert multilabel.predict(X).shape == (60, 3) and multilabel.predict_proba(X).shape == (60, 3)
    assert set(np.unique(multilabel.predict(X))) <= {0, 1}
    reg = MLPRegressor(max_iter=20, random_state=0).fit(X, np.column_stack([y, 2 * y]))
    assert reg.predict(X).shape == (60, 2) and reg.n_outputs_ == 2


def test_predict_log_proba_is_log_of_predict_proba():
    X, y = toy_data()
    clf = MLPClassifier(max_iter=30, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)))


def test_poisson_regression_predicts_positive_rates():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 0.2))
    params = dict(
        loss="poisson", solver="lbfgs", hidden_layer_sizes=(8,), max_iter=50, random_state=0
    )
    reg = MLPRegressor(**params).fit(X, y)
    assert reg.out_activation_ == "exp"
    assert (reg.predict(X) > 0).all()
    theirs = sk.MLPRegressor(**params).fit(X, y)
    np.testing.assert_allclose(reg.predict(X), theirs.predict(X), rtol=1e-6)
    assert reg.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


# ---------------------------------------------------------------- accuracy vs sklearn


def _classification(name):
    loader = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "breast_cancer": datasets.load_breast_cancer,
    }[name]
    X, y = loader(return_X_y=True)
    return train_test_split(_scaled(X), y, test_size=0.3, random_state=0, stratify=y)


@pytest.mark.parametrize("name", ["digits", "iris", "breast_cancer"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_accuracy_matches_sklearn(name, solver):
    X_train, X_test, y_train, y_test = _classification(name)
    params = dict(
        hidden_layer_sizes=(32,),
        solver=solver,
        max_iter=60,
        random_state=0,
        learning_rate_init=0.01 if solver != "lbfgs" else 0.001,
    )
    ours = MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    theirs = sk.MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= theirs - 0.01
    assert ours > {"digits": 0.9, "iris": 0.85, "breast_cancer": 0.9}[name]


def _regression(name):
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
    else:
        X, y = datasets.make_friedman1(n_samples=600, noise=0.5, random_state=0)
    return train_test_split(_scaled(X), (y - y.mean()) / y.std(), random_state=0)


@pytest.mark.parametrize(("name", "floor"), [("diabetes", 0.2), ("friedman1", 0.8)])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_r2_matches_sklearn(name, floor, solver):
    X_train, X_test, y_train, y_test = _regression(name)
    params = dict(
        hidden_layer_sizes=(16,),
        solver=solver,
        max_iter=200,
        random_state=0,
        learning_rate_init=0.01,
        alpha=10.0 if solver == "lbfgs" else 1.0,
    )
    ours = MLPRegressor(**params).fit(X_train, y_train).score(X_test, y_test)
    theirs = sk.MLPRegressor(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= theirs - 0.01
    assert ours > floor


# ---------------------------------------------------------------- scikit-learn tools


def test_clone_pipeline_gridsearch_cross_val_score():
    X, y = datasets.load_iris(return_X_y=True)
    clf = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=200, random_state=0, learning_rate_init=0.01
    )
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params() and not hasattr(fresh, "coefs_")
    pipe = make_pipeline(StandardScaler(), clf)
    assert pipe.fit(X, y).score(X, y) > 0.9
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.85
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


# ---------------------------------------------------------------- input


def test_sparse_input_gives_the_dense_result():
    X, y = toy_data()
    X[np.abs(X) < 0.8] = 0
    for solver in ("adam", "lbfgs"):
        dense = MLPClassifier(solver=solver, max_iter=10, random_state=0).fit(X, y)
        for fmt in (scipy.sparse.csr_matrix, scipy.sparse.csc_array):
            sparse = MLPClassifier(solver=solver, max_iter=10, random_state=0).fit(fmt(X), y)
            for a, b in zip(dense.coefs_, sparse.coefs_, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-12)
            np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X))


def test_string_labels_and_dataframes_keep_feature_names():
    pd = pytest.importorskip("pandas", reason="feature names come from data frames")
    X, y = toy_data()
    frame = pd.DataFrame(X, columns=["w", "x", "y", "z"])
    labels = pd.Series(np.array(["cat", "dog", "eel"])[y])
    clf = MLPClassifier(max_iter=30, random_state=0).fit(frame, labels)
    assert list(clf.feature_names_in_) == ["w", "x", "y", "z"]
    assert set(clf.predict(frame)) <= {"cat", "dog", "eel"}
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame[["z", "y", "x", "w"]])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_input_errors_match_sklearn(cls):
    X, y = toy_data()
    theirs = {MLPClassifier: sk.MLPClassifier, MLPRegressor: sk.MLPRegressor}[cls]
    bad_inputs = {
        "nan in X": (np.where(X > 2, np.nan, X), y),
        "inf in X": (np.where(X > 2, np.inf, X), y),
        "1-D X": (X[:, 0], y),
        "empty X": (X[:0], y[:0]),
        "complex X": (X + 1j, y),
        "y length": (X, y[:-1]),
    }
    if cls is MLPRegressor:
        bad_inputs["nan in y"] = (X, np.where(y > 1, np.nan, y))
    for what, (bad_X, bad_y) in bad_inputs.items():
        with pytest.raises(ValueError) as ours:
            cls(max_iter=5).fit(bad_X, bad_y)
        with pytest.raises(ValueError) as reference:
            theirs(max_iter=5).fit(bad_X, bad_y)
        assert str(ours.value) == str(reference.value), what


def test_predict_errors():
    X, y = toy_data()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        MLPClassifier().predict(X)
    clf = MLPClassifier(max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        clf.predict(X[0])


def test_classifier_refuses_continuous_targets():
    X, _ = toy_data()
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        MLPClassifier(max_iter=5).fit(X, X[:, 0])


def test_partial_fit_errors():
    X, y = toy_data()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    clf = MLPClassifier(random_state=0).partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        clf.partial_fit(X, y)
    for cls in (MLPClassifier, sk.MLPClassifier):  # no partial_fit for lbfgs, as sklearn
        assert not hasattr(cls(solver="lbfgs"), "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            cls(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_diverging_fit_raises_a_clear_error():
    X, _ = toy_data()
    y = 1e200 * X[:, 0]
    for cls in (MLPRegressor, sk.MLPRegressor):
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's overflow
                cls(solver="sgd", learning_rate_init=1.0, max_iter=20).fit(X, y)


def test_parameter_errors():
    X, y = toy_data()
    with pytest.raises(ValueError, match="'activation' parameter of MLPClassifier must be"):
        MLPClassifier(activation="softmax").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(4, 0)).fit(X, y)
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        MLPClassifier(solver="lbfgs", dropout=0.2).fit(X, y)
    with pytest.raises(ValueError, match="'dropout' parameter of MLPRegressor"):
        MLPRegressor(dropout=1.0).fit(X, y)
    with pytest.raises(TypeError, match="callbacks must be chainrule Callback objects"):
        MLPClassifier(callbacks=[print]).fit(X, y)
    with pytest.raises(ValueError, match="loss='poisson' needs targets y >= 0"):
        MLPRegressor(loss="poisson").fit(X, X[:, 0])
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, warm_start=True).fit(X, y)
    clf.coefs_ = [np.zeros((4, 6)), clf.coefs_[1]]
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(4, 5\)"):
        clf.fit(X, y)


# ---------------------------------------------------------------- additions


def test_more_hidden_activations_train():
    X_train, X_test, y_train, y_test = _classification("iris")
    for activation in ("leaky_relu", "gelu", "sigmoid", "linear"):
        clf = MLPClassifier(
            hidden_layer_sizes=(16,),
            activation=activation,
            max_iter=300,
            learning_rate_init=0.01,
            random_state=0,
        ).fit(X_train, y_train)
        assert clf.score(X_test, y_test) > 0.85, activation


def test_dropout_is_reproducible_and_off_at_predict_time():
    X, y = toy_data(120)
    a = MLPClassifier(dropout=0.3, max_iter=30, random_state=0).fit(X, y)
    b = MLPClassifier(dropout=0.3, max_iter=30, random_state=0).fit(X, y)
    plain = MLPClassifier(max_iter=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.allclose(a.coefs_[0], plain.coefs_[0])
    np.testing.assert_array_equal(a.predict_proba(X), a.predict_proba(X))  # deterministic
    assert a.score(X, y) > 0.75


def test_class_weight_dict_equals_sample_weight():
    X, y = toy_data()
    weights = {0: 3.0, 1: 1.0, 2: 0.5}
    a = MLPClassifier(class_weight=weights, max_iter=10, random_state=0).fit(X, y)
    b = MLPClassifier(max_iter=10, random_state=0).fit(
        X, y, sample_weight=np.vectorize(weights.get)(y)
    )
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-12)


def test_class_weight_balanced_lifts_the_rare_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 1.3).astype(int)  # about 10% positives
    params = dict(hidden_layer_sizes=(8,), max_iter=100, random_state=0, alpha=1.0)
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    recall = lambda clf: np.mean(clf.predict(X)[y == 1] == 1)  # noqa: E731
    assert recall(balanced) > recall(plain)
    assert recall(balanced) > 0.9


def test_callbacks_see_every_epoch_and_can_stop():
    X, y = toy_data()
    seen = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))))
    clf = MLPClassifier(max_iter=7, random_state=0, callbacks=[record]).fit(X, y)
    assert [e for e, _ in seen] == list(range(7))
    assert [logs["loss"] for _, logs in seen] == clf.loss_curve_
    assert seen[0][1]["lr"] == 0.001
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    seen.clear()
    clf = MLPClassifier(
        max_iter=500,
        early_stopping=True,
        n_iter_no_change=500,
        tol=0,
        learning_rate_init=0.05,
        random_state=0,
        callbacks=[stopper, record],
    ).fit(X, y)
    assert clf.n_iter_ < 500 and stopper.stopped_epoch == clf.n_iter_ - 1
    assert {"loss", "val_loss", "val_accuracy", "lr"} <= set(seen[-1][1])
    assert seen[-1][1]["val_accuracy"] == clf.validation_scores_[-1]


def test_convergence_warning_like_sklearn():
    X, y = toy_data()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        MLPClassifier(max_iter=3).fit(X, y)


def test_import_chainrule_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, chainrule; print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- threads


def test_predictions_from_many_threads_equal_the_sequential_ones():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    X, y = toy_data()
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=30, random_state=0).fit(X, y)
    inputs = [rng.normal(size=(40 + 13 * i, X.shape[1])) for i in range(8)]
    barrier = threading.Barrier(8)
    for fn in (clf.predict, clf.predict_proba):
        sequential = [fn(x) for x in inputs]

        def run(x, fn=fn):
            barrier.wait()
            return [fn(x) for _ in range(20)]

        with ThreadPoolExecutor(8) as pool:
            threaded = list(pool.map(run, inputs))
        for got, want in zip(threaded, sequential, strict=True):
            for g in got:
                np.testing.assert_array_equal(g, want)


# ---------------------------------------------------------------- scikit-learn's own tests


def test_scikit_learns_own_mlp_tests_pass(tmp_path):
    # scikit-learn's test_mlp.py, with only its import changed to chainrule's, run as it
    # is shipped with the installed scikit-learn. Left out: test_gradient, which calls
    # the private _loss_grad_lbfgs(packed, X, Y, activations, deltas, ...) with
    # scikit-learn's internal arrays (chainrule's gradients are checked in
    # test_gradcheck.py). global_random_seed is scikit-learn's conftest fixture.
    import re
    import subprocess
    import sys
    from pathlib import Path

    source = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not source.exists():
        pytest.skip(f"this scikit-learn install ships without its tests ({source})")
    original = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
    text = source.read_text()
    assert text.count(original) == 1
    (tmp_path / "test_mlp_on_chainrule.py").write_text(
        text.replace(original, "from chainrule import MLPClassifier, MLPRegressor")
    )
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef global_random_seed():\n    return 42\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--deselect", "test_mlp_on_chainrule.py::test_gradient", "test_mlp_on_chainrule.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 57 and "failed" not in summary and "error" not in summary, summary


# ---------------------------------------------------------------- scikit-learn's estimator checks


# Every check runs and none is marked as expected to fail. scikit-learn itself skips a
# few as not applicable, with its reason shown by ``pytest -ra``: the array-API checks
# (they need ``SCIPY_ARRAY_API=1`` set before SciPy is imported) and the
# ``decision_function`` checks (the MLPs, like scikit-learn's, have none).


# max_iter=100 as scikit-learn's own test suite runs its MLPs (instance_generator.py);
# the lbfgs instances cover the full-batch path, the last two chainrule's activations.
ESTIMATORS = [
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    MLPClassifier(solver="lbfgs", max_iter=100),
    MLPRegressor(solver="lbfgs", max_iter=100),
    MLPClassifier(activation="gelu", max_iter=100),
    MLPRegressor(activation="leaky_relu", max_iter=100),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- the trajectory


# Same initial weights (set on both through ``coefs_`` / ``intercepts_``, then
# ``warm_start=True``), ``shuffle=False`` and full batches: after 20 iterations in
# float64 the weights agree with scikit-learn's to 1e-6, for every solver, hidden
# activation and kind of output.


SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
    "sgd-momentum": dict(
        solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.05
    ),
    "sgd-nesterov": dict(
        solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.05
    ),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "lbfgs": dict(solver="lbfgs"),
}
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


def _fit_from_same_start(kind, solver, activation, n_iter=20, sample_weight=None):
    X, y = data_of_kind(kind)
    params = dict(
        hidden_layer_sizes=(6, 4),
        activation=activation,
        shuffle=False,
        batch_size=X.shape[0],
        alpha=1e-3,
        random_state=1,
        **SOLVERS[solver],
    )
    ref, ours = sklearn_pair(kind, max_iter=1, **params)
    ref.fit(X, y)
    ours.fit(X, y)
    rng = np.random.default_rng(7)
    start = [rng.uniform(-0.5, 0.5, size=w.shape) for w in estimator_weights(ref)]
    for est in (ref, ours):
        n_layers = len(est.coefs_)
        est.coefs_ = [w.copy() for w in start[:n_layers]]
        est.intercepts_ = [w.copy() for w in start[n_layers:]]
        est.set_params(warm_start=True, max_iter=n_iter)
        est.fit(X, y, sample_weight=sample_weight)
    return ref, ours


@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "multilabel", "regression", "multioutput", "poisson"]
)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_trajectory_matches_sklearn(kind, activation, solver):
    ref, ours = _fit_from_same_start(kind, solver, activation)
    assert ours.n_iter_ == ref.n_iter_
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-6)
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-9, abs=1e-12)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
        assert ours.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-9)
        assert ours.t_ == ref.t_


@pytest.mark.parametrize("solver", ["sgd-nesterov", "adam", "lbfgs"])
def test_trajectory_with_sample_weight(solver):
    X, _ = data_of_kind("multiclass")
    sw = np.random.default_rng(3).uniform(0.1, 3.0, size=X.shape[0])
    ref, ours = _fit_from_same_start("multiclass", solver, "tanh", sample_weight=sw)
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-6)
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-9)


def test_partial_fit_matches_sklearn():
    X, y = data_of_kind("multiclass", n=50)
    ref, ours = sklearn_pair("multiclass", hidden_layer_sizes=(7,), random_state=0, batch_size=20)
    for start in range(0, 50, 25):
        for est in (ref, ours):
            est.partial_fit(X[start : start + 25], y[start : start + 25], classes=[0, 1, 2])
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-10)
    assert ours.t_ == ref.t_ and ours.n_iter_ == ref.n_iter_ == 1


def test_float32_follows_sklearn_closely():
    """float32 data trains in float32 (as scikit-learn): the same path to float32 rounding."""
    X, y = data_of_kind("multiclass", n=80)
    X = X.astype(np.float32)
    ref, ours = sklearn_pair("multiclass", hidden_layer_sizes=(10,), random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y)
        ours.fit(X, y)
    assert ours.coefs_[0].dtype == np.float32 == ref.coefs_[0].dtype
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-4)


def test_warm_start_refuses_new_classes_like_sklearn():
    X, y = data_of_kind("multiclass")
    for cls in (sk.MLPClassifier, cr.MLPClassifier):
        est = cls(max_iter=2, warm_start=True).fit(X, y)
        with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
            est.fit(X, np.where(y == 2, 5, y))


# ---------------------------------------------------------------- partial_fit's semantics


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
        dict(solver="sgd", momentum=0.0),
    ],
)
def test_partial_fit_on_two_halves_equals_one_pass_over_both(cls, params):
    """partial_fit keeps the optimizer's state (moments, step count) from call to call:
    in order, with a batch size that divides the halves, the two calls take exactly the
    steps of one pass over all the rows."""
    X, y = data_of_kind("multiclass", n=80)
    settings = dict(hidden_layer_sizes=(7,), shuffle=False, batch_size=20, random_state=0)
    extra = {"classes": [0, 1, 2]} if cls is MLPClassifier else {}
    whole = cls(**settings, **params).partial_fit(X, y, **extra)
    halves = cls(**settings, **params).partial_fit(X[:40], y[:40], **extra)
    halves.partial_fit(X[40:], y[40:])
    for a, b in zip(estimator_weights(whole), estimator_weights(halves), strict=True):
        np.testing.assert_array_equal(a, b)
    assert whole.t_ == halves.t_ == 80 and whole.n_iter_ == halves.n_iter_ == 1
    assert halves._optimizer.iterations == whole._optimizer.iterations == 4
    assert len(halves.loss_curve_) == 2 and len(whole.loss_curve_) == 1


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", learning_rate="invscaling", power_t=0.5),
        # tol=10: no call improves the loss by 10, so after the first call the rate is
        # divided by 5 every second call (calls 3, 5, 7, 9), as scikit-learn's rule says
        dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=1, tol=10.0),
        dict(solver="adam", learning_rate_init=0.01),
    ],
)
def test_partial_fit_follows_sklearns_schedules_across_calls(params):
    """The invscaling rate counts the samples of every call (t_), the adaptive rate
    follows scikit-learn's no-improvement rule across calls: the weights, rates and
    counters of ten partial_fit calls are scikit-learn's."""
    X, y = data_of_kind("multiclass", n=80)
    ref, ours = sklearn_pair(
        "multiclass", hidden_layer_sizes=(7,), random_state=0, batch_size=20, **params
    )
    for call in range(10):
        rows = slice(20 * (call % 4), 20 * (call % 4) + 20)
        for est in (ref, ours):
            est.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        assert ours._no_improvement_count == ref._no_improvement_count
        if params["solver"] == "sgd":
            assert ours._optimizer.learning_rate == pytest.approx(
                ref._optimizer.learning_rate, rel=1e-12
            )
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-10)
    assert ours.t_ == ref.t_ == 200 and ours.n_iter_ == ref.n_iter_ == 1
    if params.get("learning_rate") == "invscaling":
        assert ours._optimizer.learning_rate == pytest.approx(0.001 / 201**0.5, rel=1e-12)
    if params.get("learning_rate") == "adaptive":
        assert ours._optimizer.learning_rate == pytest.approx(0.001 / 5**4, rel=1e-12)
