"""The machinery behind the estimators (chainrule.estimator_base): pickling (also into
joblib's worker processes), model files, warm starts from set or earlier weights,
dtype handling, and driving L-BFGS-B."""

import pickle
from itertools import pairwise

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


# ---------------------------------------------------------------- chunk sources


def _chunks(X, y, bounds, w=None):
    """(X, y) in chunks of rows [0, b0), [b0, b1), ..., as a list (re-iterable)."""
    edges = [0, *bounds, X.shape[0]]
    return [(X[a:b], y[a:b]) if w is None else (X[a:b], y[a:b], w[a:b]) for a, b in pairwise(edges)]


def _assert_same_fit(a, b):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(p, q)
    assert a.loss_curve_ == b.loss_curve_
    assert a.t_ == b.t_ and a.n_iter_ == b.n_iter_ and a.n_features_in_ == b.n_features_in_


@pytest.mark.parametrize(
    "kind, params",
    [
        ("multiclass", dict(solver="adam")),
        ("multiclass", dict(solver="sgd", learning_rate="invscaling")),
        ("multiclass", dict(solver="sgd", class_weight={0: 2.0, 2: 0.5})),
        ("binary", dict(solver="adam", batch_size="auto")),
        ("multilabel", dict(solver="adam")),
        ("strings", dict(solver="adam")),
        ("regression", dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.01)),
        ("poisson", dict(solver="adam", loss="poisson")),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_on_chunks_in_order_equals_fit_on_the_arrays(kind, params, weighted):
    """In order, the batches run across the chunks' edges: the fit on uneven chunks is
    the fit on the arrays, step for step (the first pass finds rows and classes)."""
    X, y = toy_data(90)
    cls = MLPClassifier
    if kind == "binary":
        y = (y > 0).astype(int)
    elif kind == "multilabel":
        y = np.column_stack([y == 0, y > 0, y == 2]).astype(int)
    elif kind == "strings":
        y = np.array(["low", "mid", "high"])[y]
    elif kind in ("regression", "poisson"):
        cls, y = MLPRegressor, np.abs(X @ np.array([1.0, -0.5, 0.3, 2.0]))
    w = np.random.default_rng(1).uniform(0.5, 2.0, 90) if weighted else None
    settings = dict(hidden_layer_sizes=(6,), shuffle=False, max_iter=6, random_state=0)
    settings = {"batch_size": 20, **settings, **params}
    on_arrays = cls(**settings).fit(X, y, sample_weight=w)
    on_chunks = cls(**settings).fit(_chunks(X, y, [25, 31, 70], w))
    _assert_same_fit(on_arrays, on_chunks)
    if cls is MLPClassifier:
        np.testing.assert_array_equal(on_chunks.classes_, on_arrays.classes_)
    np.testing.assert_array_equal(on_chunks.predict(X), on_arrays.predict(X))


def test_fit_on_chunks_skips_empty_chunks():
    X, y = toy_data(90)
    settings = dict(hidden_layer_sizes=(6,), shuffle=False, max_iter=3, random_state=0)
    empty = (X[:0], y[:0])
    on_arrays = MLPClassifier(**settings).fit(X, y)
    on_chunks = MLPClassifier(**settings).fit([empty, (X[:40], y[:40]), empty, (X[40:], y[40:])])
    _assert_same_fit(on_arrays, on_chunks)
    with pytest.raises(ValueError, match="X yielded no chunks with rows"):
        MLPRegressor().fit([empty])


def test_fit_on_one_shuffled_chunk_equals_one_epoch_on_the_arrays():
    """One chunk, one epoch: the buffer shuffles the rows with scikit-learn's RandomState
    as the arrays' batches do (later epochs draw a new order from the rows' first
    order, where the arrays reshuffle the last one)."""
    X, y = toy_data(90)
    settings = dict(hidden_layer_sizes=(6,), batch_size=16, max_iter=1, random_state=3)
    _assert_same_fit(MLPClassifier(**settings).fit(X, y), MLPClassifier(**settings).fit([(X, y)]))


def test_fit_on_chunks_finds_classes_spread_over_chunks_and_warm_starts():
    X, y = toy_data(120)
    order = np.argsort(y, kind="stable")  # sorted by class: chunk 0 holds only class 0
    X, y = X[order], y[order]
    passes = []
    source = chainrule.Chunks(lambda: passes.append(1) or iter(_chunks(X, y, [30, 60, 90])))
    settings = dict(hidden_layer_sizes=(8,), max_iter=40, learning_rate_init=0.01, random_state=0)
    clf = MLPClassifier(**settings).fit(source)
    assert list(clf.classes_) == [0, 1, 2] and clf.n_outputs_ == 3 and clf.t_ == 40 * 120
    assert len(passes) == 1 + 40  # the first pass, then one per epoch
    copy = pickle.loads(pickle.dumps(clf))  # nothing of the source is kept
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    # shuffled within the buffer of 4 chunks (all of them here): as good as the arrays
    assert clf.score(X, y) >= MLPClassifier(**settings).fit(X, y).score(X, y) - 0.05 > 0.8
    # a warm start goes on from the fit (max_iter split over two fits, in order)
    settings = dict(hidden_layer_sizes=(8,), shuffle=False, random_state=0, batch_size=32)
    whole = MLPClassifier(max_iter=5, **settings).fit(source)
    split = MLPClassifier(max_iter=2, warm_start=True, **settings).fit(source)
    split.set_params(max_iter=3).fit(source)
    assert split.loss_curve_ == whole.loss_curve_ and split.t_ == whole.t_
    np.testing.assert_array_equal(split.network_.params, whole.network_.params)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        split.fit(_chunks(X[y < 2], y[y < 2], [10]))


def test_chunk_sources_that_cannot_work_are_refused_with_the_fix():
    X, y = toy_data(60)
    chunks = _chunks(X, y, [30])
    for params, match in [
        (dict(solver="lbfgs"), "solver='lbfgs' evaluates every row"),
        (dict(early_stopping=True), "early_stopping=True holds out"),
        (dict(class_weight="balanced"), "class_weight='balanced' counts every label"),
    ]:
        with pytest.raises(ValueError, match=match) as info:
            MLPClassifier(**params).fit(chunks)
        assert "load the rows and fit the arrays" in str(info.value)
    with pytest.raises(ValueError, match="put each chunk's weights in the chunk"):
        MLPClassifier().fit(chunks, sample_weight=np.ones(60))
    with pytest.raises(TypeError, match=r"wrapped as chainrule\.Chunks"):
        MLPClassifier().fit(iter(chunks))
    with pytest.raises(ValueError, match="yielded no chunks"):
        MLPRegressor().fit([])
    with pytest.raises(TypeError, match="chunk 1 must be a tuple"):
        MLPClassifier().fit([chunks[0], X])
    with pytest.raises(ValueError, match=r"chunk 1 \(0-based\): X has 3 features, but"):
        MLPClassifier().fit([chunks[0], (X[:, :3], y)])
    with pytest.raises(ValueError, match=r"chunk 0 \(0-based\): Input X contains NaN"):
        MLPRegressor().fit([(np.full((3, 4), np.nan), np.zeros(3))])
    with pytest.raises(ValueError, match="same number of outputs"):
        MLPRegressor().fit([(X[:5], y[:5]), (X[5:9], np.zeros((4, 2)))])
    passes = []

    def changing():  # a new label after the first pass
        passes.append(1)
        return iter([(X, y if len(passes) == 1 else np.where(y == 2, 7, y))])

    with pytest.raises(ValueError, match=r"chunk 0 \(0-based\): y has labels \[7\] that the"):
        MLPClassifier().fit(chainrule.Chunks(changing))
    with pytest.raises(ValueError, match="requires y to be passed"):  # an array without y
        MLPClassifier().fit(X)
    for source in (chainrule.array_chunks(X, y, 10), chunks):  # y beside the chunks
        with pytest.raises(TypeError, match=r"X is a chunk source, so y must be left out"):
            MLPClassifier().fit(source, y)


# ---------------------------------------------------------------- memory-mapped arrays


def _memory_mapped(tmp_path, array, name="X.npy"):
    np.save(tmp_path / name, array)
    return np.load(tmp_path / name, mmap_mode="r")


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        dict(solver="adam", dtype="float32"),
        dict(solver="sgd", early_stopping=True, validation_fraction=0.2, dtype="float32"),
        dict(solver="lbfgs", max_iter=15),
        dict(solver="lbfgs", max_iter=15, dtype="float32"),
    ],
)
@pytest.mark.parametrize("file_dtype", [np.float64, np.float32, np.int16])
def test_fit_on_a_memory_mapped_array_equals_fit_in_memory(tmp_path, params, file_dtype):
    X, y = toy_data(120)
    X = (X * 100).astype(file_dtype)
    mapped = _memory_mapped(tmp_path, X)
    settings = {"hidden_layer_sizes": (6,), "max_iter": 8, "random_state": 0, **params}
    in_memory = MLPClassifier(**settings, callbacks=[]).fit(X, y)
    watched = []  # with callbacks, early stopping scores val_loss too
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: watched.append(logs))
    from_file = MLPClassifier(**settings, callbacks=[record]).fit(mapped, y)
    np.testing.assert_array_equal(from_file.network_.params, in_memory.network_.params)
    assert in_memory.loss_ == from_file.loss_
    assert getattr(in_memory, "validation_scores_", None) == getattr(
        from_file, "validation_scores_", None
    )
    if params.get("early_stopping"):
        assert all(np.isfinite(logs["val_loss"]) for logs in watched)
    np.testing.assert_array_equal(from_file.predict_proba(mapped), in_memory.predict_proba(X))


@pytest.fixture(scope="module")
def big_mapped_file(tmp_path_factory):
    """A 40 MB float64 file (100,000 x 50), memory-mapped, and its labels."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 50))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return _memory_mapped(tmp_path_factory.mktemp("mapped"), X), y


def _peak_bytes(fit_and_predict):
    import tracemalloc

    tracemalloc.start()
    try:
        fit_and_predict()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "params, limit",
    [
        # the 40 MB of X are never in memory: in float64, or converted to float32 (20 MB)
        (dict(solver="adam"), 6e6),
        # (scikit-learn's stratified split of the 100,000 labels takes 9 MB of its own)
        (dict(solver="adam", dtype="float32", early_stopping=True), 15e6),
        # lbfgs multiplies every row at every step: no copy when X is in the dtype
        # already, exactly one float32 conversion (20 MB) otherwise
        (dict(solver="lbfgs", max_iter=2), 8e6),
        (dict(solver="lbfgs", max_iter=2, dtype="float32"), 20e6 + 6e6),
    ],
)
def test_fit_on_a_memory_mapped_array_does_not_copy_it(big_mapped_file, params, limit):
    mapped, y = big_mapped_file
    settings = dict(hidden_layer_sizes=(4,), batch_size=1024, max_iter=1, random_state=0)
    settings.update(params)
    MLPClassifier(**settings).fit(mapped[:3000], y[:3000])  # compile the kernels first

    def fit_and_predict():
        MLPClassifier(**settings).fit(mapped, y).predict(mapped)

    peak = _peak_bytes(fit_and_predict)
    assert peak < limit, peak


def test_partial_fit_and_array_chunks_read_a_memory_mapped_array(tmp_path):
    from chainrule.training import array_chunks

    X, y = toy_data(90)
    mapped = _memory_mapped(tmp_path, X)
    settings = dict(hidden_layer_sizes=(5,), random_state=0, batch_size=16)
    on_array, on_map = MLPClassifier(**settings), MLPClassifier(**settings)
    for _ in range(2):
        on_array.partial_fit(X, y, classes=[0, 1, 2])
        on_map.partial_fit(mapped, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(on_map.network_.params, on_array.network_.params)
    in_order = dict(settings, shuffle=False, max_iter=3)
    whole = MLPClassifier(**in_order).fit(X, y)
    blocks = MLPClassifier(**in_order).fit(array_chunks(mapped, y, chunk_rows=25))
    _assert_same_fit(whole, blocks)
