"""The machinery behind the estimators (chainrule.estimator_base): pickling (also into
joblib's worker processes), model files, warm starts from set or earlier weights,
dtype handling, and driving L-BFGS-B."""

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")

from sklearn import neural_network as sk
from sklearn.model_selection import cross_val_score

import chainrule
from chainrule import LambdaCallback
from chainrule.estimators import MLPClassifier, MLPRegressor
from helpers import toy_data

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("one_blas_thread"),
]


# ---------------------------------------------------------------- pickles and model files


def test_cross_val_score_in_worker_processes():
    """joblib pickles the estimator into other processes and back."""
    X, y = toy_data(90)
    scores = cross_val_score(MLPClassifier(max_iter=50, random_state=0), X, y, cv=2, n_jobs=2)
    serial = cross_val_score(MLPClassifier(max_iter=50, random_state=0), X, y, cv=2)
    np.testing.assert_allclose(scores, serial)


def test_pickle_round_trip_keeps_predictions_and_training_state():
    X, y = toy_data()
    clf = MLPClassifier(hidden_layer_sizes=(6,), random_state=0).partial_fit(
        X, y, classes=[0, 1, 2]
    )
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert np.shares_memory(copy.coefs_[0], copy.network_.params)
    assert np.shares_memory(copy.intercepts_[1], copy.network_.params)
    assert copy._optimizer is copy.network_.optimizer
    # the optimizer state travels too: the next partial_fit steps are identical
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    for a, b in zip(clf.coefs_ + clf.intercepts_, copy.coefs_ + copy.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_file_round_trip(tmp_path):
    from chainrule import io

    X, y = toy_data()
    labels = np.array(["low", "mid", "high"])[y]
    clf = MLPClassifier(
        hidden_layer_sizes=(6,), max_iter=20, random_state=0, class_weight={"low": 2.0}, dropout=0.1
    ).fit(X, labels)
    path = clf.save(tmp_path / "clf.npz")
    loaded = chainrule.load(path)
    assert isinstance(loaded, MLPClassifier)
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    assert list(loaded.classes_) == list(clf.classes_)
    assert loaded.loss_curve_ == clf.loss_curve_ and loaded.n_iter_ == clf.n_iter_
    reg = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20, random_state=0).fit(
        X, np.column_stack([y, -y])
    )
    io.save(reg, tmp_path / "reg.npz")
    loaded_reg = chainrule.load(tmp_path / "reg.npz")
    np.testing.assert_allclose(loaded_reg.predict(X), reg.predict(X))
    assert loaded_reg.loss_ == reg.loss_
    # a loaded model keeps training (warm start from the saved weights)
    loaded_reg.set_params(warm_start=True, max_iter=5).fit(X, np.column_stack([y, -y]))
    counts = MLPRegressor(loss="poisson", max_iter=5, random_state=0).fit(X, y)
    loaded_counts = chainrule.load(counts.save(tmp_path / "counts.npz"))
    assert loaded_counts.out_activation_ == "exp"
    np.testing.assert_allclose(loaded_counts.predict(X), counts.predict(X))
    multilabel = MLPClassifier(max_iter=5, random_state=0).fit(X, np.column_stack([y == 0, y > 0]))
    loaded_ml = chainrule.load(multilabel.save(tmp_path / "ml.npz"))
    np.testing.assert_array_equal(loaded_ml.predict(X), multilabel.predict(X))


def test_model_file_keeps_feature_names(tmp_path):
    pd = pytest.importorskip("pandas", reason="feature names come from data frames")
    X, y = toy_data()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier(max_iter=5, random_state=0).fit(frame, y)
    loaded = chainrule.load(clf.save(tmp_path / "m.npz"))
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(loaded.predict(frame), clf.predict(frame))


# ---------------------------------------------------------------- warm starts


def test_warm_start_from_coefs_set_on_a_fresh_estimator():
    X, y = toy_data()
    ref = sk.MLPClassifier(hidden_layer_sizes=(5,), max_iter=200, random_state=0).fit(X, y)
    clf = MLPClassifier(
        hidden_layer_sizes=(5,),
        warm_start=True,
        solver="sgd",
        max_iter=1,
        learning_rate_init=1e-9,
        random_state=0,
    )
    clf.coefs_ = [c.copy() for c in ref.coefs_]
    clf.intercepts_ = [b.copy() for b in ref.intercepts_]
    clf.fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-7)


def test_warm_start_follows_changed_activation_and_dropout_but_not_sizes():
    X, y = toy_data()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    before = [c.copy() for c in clf.coefs_]
    clf.set_params(
        warm_start=True, activation="tanh", dropout=0.2, max_iter=1, learning_rate_init=1e-12
    )
    clf.fit(X, y)
    assert any(type(layer).__name__ == "Tanh" for layer in clf.network_.layers)
    assert any(type(layer).__name__ == "Dropout" for layer in clf.network_.layers)
    for a, b in zip(before, clf.coefs_, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)
    clf.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="Use the same hidden_layer_sizes"):
        clf.fit(X, y)
    lbfgs_then_adam = MLPClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    lbfgs_then_adam.set_params(solver="adam", warm_start=True, max_iter=3).fit(X, y)
    assert len(lbfgs_then_adam.loss_curve_) == 3


# ---------------------------------------------------------------- dtype


def test_dtype_float32_on_float64_data():
    X, y = toy_data()
    clf64 = MLPClassifier(max_iter=20, random_state=0).fit(X, y)
    clf32 = MLPClassifier(max_iter=20, random_state=0, dtype="float32").fit(X, y)
    assert clf64.coefs_[0].dtype == np.float64 and clf32.coefs_[0].dtype == np.float32
    np.testing.assert_allclose(clf32.predict_proba(X), clf64.predict_proba(X), atol=1e-4)
    auto32 = MLPClassifier(max_iter=20, random_state=0).fit(X.astype(np.float32), y)
    assert auto32.network_.dtype == np.float32


# ---------------------------------------------------------------- lbfgs


def test_callbacks_with_lbfgs_see_every_iteration():
    X, y = toy_data()
    seen = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
    clf = MLPRegressor(solver="lbfgs", max_iter=15, random_state=0, callbacks=[record])
    clf.fit(X, y)
    assert len(seen) == clf.n_iter_ == 15
    assert seen[-1] == pytest.approx(clf.loss_)


# ---------------------------------------------------------------- found in review


def test_lbfgs_callbacks_see_each_iterations_weights(tmp_path):
    # a checkpoint of the last iteration holds the fitted weights, not the first ones
    X, y = toy_data(80)
    every = chainrule.Checkpoint(tmp_path / "last.npz", monitor="loss", save_best_only=False)
    seen = []
    spy = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(spy.network.params.copy()))
    clf = MLPClassifier(
        hidden_layer_sizes=(5,), solver="lbfgs", max_iter=15, random_state=0, callbacks=[every, spy]
    ).fit(X, y)
    assert len(seen) == clf.n_iter_ and not np.array_equal(seen[0], seen[-1])
    np.testing.assert_array_equal(chainrule.load(tmp_path / "last.npz").params, seen[-1])
    np.testing.assert_array_equal(clf.network_.params, seen[-1])


def test_lbfgs_early_stopping_callback_keeps_the_best_iterate():
    import warnings

    X, y = toy_data(80)
    losses = []
    watch = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    stop = chainrule.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    kept = []
    snap = LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(snap.network.params.copy()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stop asked for is no failure to converge
        clf = MLPClassifier(
            hidden_layer_sizes=(5,),
            solver="lbfgs",
            max_iter=200,
            random_state=0,
            callbacks=[watch, snap, stop],
        )
        stop.min_delta = 1e-3  # stop soon: after the first iteration that gains < 1e-3
        clf.fit(X, y)
    assert stop.stopped_epoch is not None and clf.n_iter_ == len(losses) < 200
    np.testing.assert_array_equal(clf.network_.params, kept[stop.best_epoch])


def test_a_checkpoint_of_an_invscaling_fit_loads(tmp_path):
    # the schedule that makes "invscaling" is the estimator's own: files hold the rate
    X, y = toy_data(80)
    clf = MLPClassifier(
        hidden_layer_sizes=(5,), solver="sgd", learning_rate="invscaling", max_iter=5,
        random_state=0,
    )  # fmt: skip
    network_file, estimator_file = tmp_path / "net.npz", tmp_path / "est.npz"
    clf.set_params(
        callbacks=[
            chainrule.Checkpoint(network_file, monitor="loss", save_best_only=False),
            chainrule.Checkpoint(estimator_file, monitor="loss", save_best_only=False, model=clf),
        ]
    )
    clf.fit(X, y)
    network = chainrule.load(network_file)
    np.testing.assert_array_equal(network.params, clf.network_.params)
    loaded = chainrule.load(estimator_file)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # saved after the last epoch's steps, with the rate they used
    last_rate = clf.network_.history.history["lr"][-1]
    assert loaded.network_.optimizer.learning_rate == pytest.approx(last_rate, rel=1e-12)
    assert last_rate > clf._optimizer.learning_rate  # which then decayed for the next


def test_partial_fit_after_lbfgs_takes_the_new_solvers_optimizer():
    from chainrule import SGD, Adam

    X, y = toy_data(80)
    clf = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=5, random_state=0)
    clf.fit(X, y)
    clf.set_params(solver="adam")
    clf.partial_fit(X, y)
    assert type(clf._optimizer) is Adam and clf.network_.optimizer is clf._optimizer
    assert clf._optimizer.iterations == 1  # fresh, one batch of 80 rows
    clf.set_params(solver="sgd")
    clf.partial_fit(X, y)
    assert type(clf._optimizer) is SGD


# ---------------------------------------------------------------- warm starts resume


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        dict(solver="adam", dropout=0.2),
        dict(solver="sgd", momentum=0.9, learning_rate="adaptive"),
        dict(solver="sgd", learning_rate="invscaling"),
    ],
)
@pytest.mark.parametrize("through_file", [False, True])
def test_warm_start_with_max_iter_split_equals_one_fit(params, through_file, tmp_path):
    """max_iter=4 then, warm, 6 more: the weights of one fit with max_iter=10 (the
    optimizer's state, the RandomState stream and the rows' order carry on; scikit-learn
    itself starts a new optimizer and stream at every warm start)."""
    X, y = toy_data(120)
    settings = dict(hidden_layer_sizes=(8,), batch_size=32, random_state=0, tol=1e-6, **params)
    whole = MLPClassifier(max_iter=10, **settings).fit(X, y)
    split = MLPClassifier(max_iter=4, warm_start=True, **settings).fit(X, y)
    if through_file:
        split = chainrule.load(split.save(tmp_path / "half.npz"))
    split.set_params(max_iter=6).fit(X, y)
    assert split.loss_curve_ == whole.loss_curve_ and len(whole.loss_curve_) == 10
    assert split.t_ == whole.t_
    for a, b in zip(
        whole.coefs_ + whole.intercepts_, split.coefs_ + split.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(a, b)


def test_warm_start_with_weights_set_by_hand_or_new_settings_starts_a_new_optimizer():
    X, y = toy_data()
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, warm_start=True, random_state=0)
    clf.fit(X, y)
    kept = clf._optimizer
    clf.fit(X, y)
    assert clf._optimizer is kept and kept.iterations == 2 * 3 * 1  # 60 rows: 1 batch
    clf.set_params(learning_rate_init=0.01).fit(X, y)
    assert clf._optimizer is not kept and clf._optimizer.iterations == 3
    kept = clf._optimizer
    clf.coefs_ = [c.copy() for c in clf.coefs_]  # weights set by hand
    clf.fit(X, y)
    assert clf._optimizer is not kept and clf._optimizer.iterations == 3


# ---------------------------------------------------------------- search on a cluster


def _searches(estimator, X, y, n_jobs=None):
    """GridSearchCV, RandomizedSearchCV and cross_val_score of ``estimator``: their
    scores, for comparing a run on a cluster with the serial one."""
    from scipy.stats import loguniform
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    grid = {"hidden_layer_sizes": [(4,), (8,)], "alpha": [1e-4, 1e-1]}
    gs = GridSearchCV(estimator, grid, cv=3, n_jobs=n_jobs).fit(X, y)
    rs = RandomizedSearchCV(
        estimator,
        {"alpha": loguniform(1e-5, 1e-1), "learning_rate_init": [1e-3, 1e-2]},
        n_iter=3,
        cv=3,
        random_state=0,
        n_jobs=n_jobs,
    ).fit(X, y)
    cv = cross_val_score(estimator, X, y, cv=3, n_jobs=n_jobs)
    return {
        "grid": gs.cv_results_["mean_test_score"],
        "grid best": gs.best_estimator_.predict(X),
        "randomized": rs.cv_results_["mean_test_score"],
        "randomized params": [sorted(p.items()) for p in rs.cv_results_["params"]],
        "cross_val_score": cv,
    }


def _assert_same_scores(on_cluster, serial):
    assert on_cluster.keys() == serial.keys()
    for key, value in serial.items():
        if key == "randomized params":
            assert on_cluster[key] == value
        else:
            np.testing.assert_array_equal(on_cluster[key], value, err_msg=key)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_searches_under_the_dask_backend_score_as_the_serial_ones(cls, dask_client):
    """joblib's dask backend runs the fits as tasks on the cluster's workers (threads
    here): every score is the serial run's, bit for bit."""
    import joblib

    X, y = toy_data(90)
    if cls is MLPRegressor:
        y = X @ np.array([1.0, -0.5, 0.3, 2.0])
    estimator = cls(max_iter=20, random_state=0)
    serial = _searches(estimator, X, y)
    with dask_client.as_current(), joblib.parallel_config(backend="dask"):
        on_cluster = _searches(estimator, X, y, n_jobs=-1)
    _assert_same_scores(on_cluster, serial)


def test_a_search_in_dask_worker_processes_scores_as_the_serial_one(dask_process_client):
    """Worker processes unpickle the estimators, fit them and send them back."""
    import joblib
    from sklearn.model_selection import GridSearchCV

    X, y = toy_data(90)
    grid = {"hidden_layer_sizes": [(4,), (8,)], "solver": ["adam", "lbfgs"]}
    estimator = MLPClassifier(max_iter=20, random_state=0)
    serial = GridSearchCV(estimator, grid, cv=3, return_train_score=True).fit(X, y)
    with dask_process_client.as_current(), joblib.parallel_config(backend="dask"):
        search = GridSearchCV(estimator, grid, cv=3, return_train_score=True, n_jobs=-1)
        search.fit(X, y)
    for key in ("mean_test_score", "mean_train_score", "rank_test_score"):
        np.testing.assert_array_equal(search.cv_results_[key], serial.cv_results_[key])
    assert search.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        search.best_estimator_.predict_proba(X), serial.best_estimator_.predict_proba(X)
    )


def _dask_ml_wrappers():
    try:
        from dask_ml import wrappers
    except Exception as exc:  # dask-ml lags behind dask: an old one fails to import
        pytest.skip(f"dask_ml cannot be imported with this dask: {exc!r}")
    return wrappers


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_dask_ml_incremental_trains_through_partial_fit(cls, dask_client):
    """dask_ml.wrappers.Incremental calls partial_fit block after block: the weights of
    the same partial_fit calls made by hand."""
    wrappers = _dask_ml_wrappers()
    import dask.array as da

    X, y = toy_data(90)
    if cls is MLPRegressor:
        y = X @ np.array([1.0, -0.5, 0.3, 2.0])
    extra = {"classes": [0, 1, 2]} if cls is MLPClassifier else {}
    settings = dict(hidden_layer_sizes=(5,), batch_size=10, random_state=0)
    with dask_client.as_current():
        incremental = wrappers.Incremental(cls(**settings), shuffle_blocks=False)
        incremental.fit(da.from_array(X, chunks=30), da.from_array(y, chunks=30), **extra)
    by_hand = cls(**settings)
    for start in range(0, 90, 30):
        by_hand.partial_fit(X[start : start + 30], y[start : start + 30], **extra)
    fitted = incremental.estimator_
    assert fitted.t_ == by_hand.t_ == 90
    mine, theirs = fitted.coefs_ + fitted.intercepts_, by_hand.coefs_ + by_hand.intercepts_
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    predicted = incremental.predict(da.from_array(X, chunks=30)).compute()
    np.testing.assert_array_equal(predicted, by_hand.predict(X))
