"""Data-parallel training and prediction on Dask (chainrule.distributed).

Each fit is checked against the same model trained in memory: L-BFGS to 1e-6 in
float64, local SGD by held-out accuracy on scikit-learn's digits, predictions exactly.
"""

import os
import signal
import warnings

import numpy as np
import pytest

da = pytest.importorskip(
    "dask.array", reason="dask is not installed (pip install 'chainrule[dask]')"
)
dd = pytest.importorskip(
    "dask.dataframe", reason="dask.dataframe is not installed (pip install 'chainrule[dask]')"
)
distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'chainrule[dask]')"
)
pd = pytest.importorskip("pandas", reason="Dask DataFrames need pandas")
pytest.importorskip("sklearn", reason="the estimators and data sets need scikit-learn")

from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from chainrule import (  # noqa: E402
    Adam,
    Dense,
    LambdaCallback,
    MLPClassifier,
    MLPRegressor,
    Network,
    PartitionsLostError,
    ReLU,
    Softmax,
    Tanh,
)
from chainrule import distributed as cd  # noqa: E402
from chainrule.estimator_base import _minimize_lbfgs  # noqa: E402
from chainrule.partitions import local_sgd, prepare_partition  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _regression(n=400, features=6):
    X, y = make_regression(n, features, noise=5.0, random_state=0)
    return X, y / 100


def _digits():
    digits = load_digits()
    return train_test_split(digits.data / 16, digits.target, random_state=0, stratify=digits.target)


# ---------------------------------------------------------------- L-BFGS


def test_lbfgs_regressor_matches_the_fit_in_memory(dask_client):
    X, y = _regression()
    params = {"hidden_layer_sizes": (12,), "solver": "lbfgs", "max_iter": 60, "alpha": 1e-3}
    params.update(random_state=0, dtype="float64")
    in_memory = MLPRegressor(**params).fit(X, y)
    model = MLPRegressor(**params)
    fitted = cd.fit(
        model, da.from_array(X, chunks=90), da.from_array(y, chunks=90), client=dask_client
    )
    assert fitted is model
    for a, b in zip(
        fitted.coefs_ + fitted.intercepts_, in_memory.coefs_ + in_memory.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert fitted.n_iter_ == in_memory.n_iter_
    assert fitted.loss_ == pytest.approx(in_memory.loss_, rel=1e-9)
    assert fitted.n_features_in_ == 6 and fitted.n_outputs_ == 1
    np.testing.assert_allclose(fitted.predict(X), in_memory.predict(X), atol=1e-6)


def test_lbfgs_warns_as_the_estimator_does(dask_client):
    X, y = _regression(100)
    model = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3"):
        cd.fit(model, da.from_array(X, chunks=40), da.from_array(y, chunks=40), client=dask_client)
    assert model.n_iter_ == 3


def test_lbfgs_classifier_on_a_dataframe_with_text_labels(dask_process_client):
    X_train, _, y_train, _ = _digits()
    X_train, y_train = X_train[:600, :20], y_train[:600]
    columns = [f"pixel{i}" for i in range(20)]
    frame = pd.DataFrame(X_train, columns=columns)
    labels = pd.Series(np.array(list("abcdefghij"))[y_train], name="digit")
    params = {"hidden_layer_sizes": (10,), "solver": "lbfgs", "max_iter": 40}
    params.update(random_state=1, dtype="float64")
    in_memory = MLPClassifier(**params).fit(frame, labels)
    model = cd.fit(
        MLPClassifier(**params),
        dd.from_pandas(frame, npartitions=3),
        dd.from_pandas(labels, npartitions=3),
        client=dask_process_client,
    )
    np.testing.assert_array_equal(model.classes_, in_memory.classes_)
    np.testing.assert_array_equal(model.feature_names_in_, columns)
    for a, b in zip(
        model.coefs_ + model.intercepts_, in_memory.coefs_ + in_memory.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert model.n_iter_ == in_memory.n_iter_ == 40


def test_lbfgs_network_matches_single_machine_lbfgs(dask_client):
    X, y = _digits()[0][:500], _digits()[2][:500]

    def network():
        return Network(
            [Dense(16), Tanh(), Dense(10), Softmax()],
            loss="categorical_crossentropy",
            optimizer="sgd",
            l2=1e-3,
            seed=3,
            dtype="float64",
        ).build(64)

    reference = network()
    result, _ = _minimize_lbfgs(
        lambda p: reference.loss_and_gradient(p, X, y),
        reference.params,
        max_iter=50,
        max_fun=15000,
        tol=1e-4,
    )
    net = cd.fit(
        network(),
        da.from_array(X, chunks=(120, 16)),  # columns in several chunks: joined
        da.from_array(y, chunks=200),  # other row chunks than X's: aligned
        client=dask_client,
        max_iter=50,
    )
    np.testing.assert_allclose(net.params, result.x, atol=1e-6)
    assert len(net.history.history["loss"]) == result.nit
    assert net.history.history["loss"][-1] == pytest.approx(result.fun, rel=1e-9)


def test_a_networks_callbacks_see_every_iteration_and_round_and_may_stop(dask_client):
    X, y = _regression(120, 3)
    Xd, yd = da.from_array(X, chunks=50), da.from_array(y, chunks=50)
    seen = []

    def stop_at_3(epoch, logs):
        seen.append((epoch, logs["loss"]))
        if epoch == 2:
            net.stop_training = True

    for method in ("lbfgs", "local_sgd"):
        seen.clear()
        net = Network([Dense(4), Tanh(), Dense(1)], loss="mse", optimizer="adam", seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)  # stopped on purpose
            cd.fit(
                net,
                Xd,
                yd,
                client=dask_client,
                method=method,
                callbacks=[LambdaCallback(on_epoch_end=stop_at_3)],
            )
        assert [epoch for epoch, _ in seen] == [0, 1, 2]
        assert net.history.history["loss"] == [loss for _, loss in seen]


# ---------------------------------------------------------------- local SGD


def test_local_sgd_reaches_the_serial_accuracy_on_digits(dask_client):
    X_train, X_test, y_train, y_test = _digits()
    params = {"hidden_layer_sizes": (64,), "solver": "adam", "batch_size": 32}
    serial = MLPClassifier(**params, max_iter=40, random_state=0).fit(X_train, y_train)
    rows = -(-len(X_train) // 2)
    model = cd.fit(
        MLPClassifier(**params, random_state=0),
        da.from_array(X_train, chunks=rows),
        da.from_array(y_train, chunks=rows),
        client=dask_client,
        method="local_sgd",
        rounds=40,
    )
    serial_accuracy, accuracy = serial.score(X_test, y_test), model.score(X_test, y_test)
    assert serial_accuracy == pytest.approx(0.971, abs=0.01)
    assert accuracy >= serial_accuracy - 0.02  # measured: 0.967 vs 0.971
    assert model.n_iter_ == len(model.loss_curve_) == 40
    assert model.loss_curve_[-1] < model.loss_curve_[0] / 5
    assert model.t_ == 40 * len(X_train)  # 22 steps a round: a pass over each partition


def test_local_sgd_round_is_the_row_weighted_average_of_the_partitions(dask_client):
    """One round by hand: each partition's local_sgd from the same start, then the
    average weighted by the partitions' rows (parameters and Adam's moments): every row
    counts alike, as in serial training, however uneven the partitions (each copy takes
    the same steps, so a small partition's rows are trained on more often)."""
    X, y = _regression(150, 4)

    def network():
        return Network([Dense(8), ReLU(), Dense(1)], loss="mse", optimizer=Adam(0.01), seed=2)

    net = cd.fit(
        network(),
        da.from_array(X, chunks=(100, 4)),
        da.from_array(y, chunks=100),
        client=dask_client,
        method="local_sgd",
        rounds=1,
        local_steps=3,
        batch_size=40,
        seed=7,
    )
    start = network().build(4)
    parts = [
        prepare_partition(i, X[s], y[s], start)
        for i, s in enumerate([slice(0, 100), slice(100, 150)])
    ]
    state = start.optimizer.get_state()
    results = [
        local_sgd(p, start.params, state, round_index=0, steps=3, batch_size=40, seed=7)
        for p in parts
    ]
    trained = [r.n_trained for r in results]
    assert trained == [40 + 40 + 20, 40 + 10 + 40]  # a pass ends in a short batch
    rows = [100, 50]
    average = sum(
        n / sum(rows) * r.params.astype(np.float64) for n, r in zip(rows, results, strict=True)
    )
    np.testing.assert_allclose(net.params, average, rtol=1e-6)
    moment = sum(
        n / sum(rows) * r.optimizer_state[1]["v"].astype(np.float64)
        for n, r in zip(rows, results, strict=True)
    )
    np.testing.assert_allclose(net.optimizer.v, moment, rtol=1e-6)
    assert net.optimizer.iterations == 3 and net.epoch == 1
    loss = sum(r.loss_sum for r in results) / sum(trained)
    assert net.history.history["loss"] == [pytest.approx(loss, rel=1e-6)]


# ---------------------------------------------------------------- predict


def test_predict_on_arrays_and_dataframes_equals_predict_in_memory(dask_process_client):
    X_train, X_test, y_train, _ = _digits()
    model = MLPClassifier(hidden_layer_sizes=(12,), solver="lbfgs", max_iter=30, random_state=0)
    model.fit(X_train, y_train)
    blocks = da.from_array(X_test, chunks=(100, 32))
    labels = cd.predict(model, blocks)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(
        dask_process_client.compute(labels).result(), model.predict(X_test)
    )
    proba = dask_process_client.compute(cd.predict_proba(model, blocks)).result()
    # the BLAS may round a block's product in another order than the whole array's
    np.testing.assert_allclose(proba, model.predict_proba(X_test), rtol=1e-12)

    net = Network(
        [Dense(5), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer="sgd",
        seed=0,
    ).build(64)
    frame = dd.from_pandas(
        pd.DataFrame(X_test, index=np.arange(1000, 1000 + len(X_test))), npartitions=4
    )
    out = dask_process_client.compute(cd.predict_proba(net, frame)).result()
    assert list(out.index) == list(range(1000, 1000 + len(X_test)))  # the rows' order
    in_memory = net.predict_proba(X_test)
    np.testing.assert_allclose(out.to_numpy(), in_memory, rtol=1e-6)  # float32
    by_blocks = np.vstack([net.predict_proba(p.compute().to_numpy()) for p in frame.partitions])
    np.testing.assert_array_equal(out.to_numpy(), by_blocks)
    assert cd.predict(net, frame).compute().shape == (len(X_test), 3)


def test_predict_a_dataframe_with_an_estimators_column_names(dask_client):
    X_train, X_test, y_train, _ = _digits()
    columns = [f"c{i}" for i in range(64)]
    model = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=20, random_state=0)
    model.fit(pd.DataFrame(X_train, columns=columns), y_train.astype(float))
    test = pd.DataFrame(X_test, columns=columns)
    shuffled = dd.from_pandas(test[columns[::-1]], npartitions=3)  # in another order
    result = dask_client.compute(cd.predict(model, shuffled)).result()
    assert isinstance(result, pd.Series)
    np.testing.assert_array_equal(result.to_numpy(), model.predict(test))


# ---------------------------------------------------------------- errors


def test_refusals_name_the_problem_and_the_fix(dask_client, monkeypatch):
    X, y = _regression(60, 3)
    Xd, yd = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    net = Network([Dense(1)], loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="method must be one of"):
        cd.fit(net, Xd, yd, client=dask_client, method="adam")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['rounds'\] for method='lbfgs'"):
        cd.fit(net, Xd, yd, client=dask_client, rounds=3)
    with pytest.raises(TypeError, match="X must be a Dask array or a Dask DataFrame"):
        cd.fit(net, X, yd, client=dask_client)
    with pytest.raises(TypeError, match="y must be a Dask array"):
        cd.fit(net, Xd, y, client=dask_client)
    with pytest.raises(ValueError, match="rounds must be a positive integer"):
        cd.fit(net, Xd, yd, client=dask_client, method="local_sgd", rounds=0)
    with pytest.raises(ValueError, match=r"solver='adam'.*method='local_sgd'"):
        cd.fit(MLPRegressor(), Xd, yd, client=dask_client)
    with pytest.raises(TypeError, match="set them on the estimator"):
        cd.fit(MLPRegressor(solver="lbfgs"), Xd, yd, client=dask_client, max_iter=5)
    X_bad = X.copy()
    X_bad[45, 0] = np.inf
    with pytest.raises(ValueError, match=r"partition 1 \(0-based\): X contains NaN or infinity"):
        cd.fit(net, da.from_array(X_bad, chunks=30), yd, client=dask_client)

    def no_client():
        raise ValueError("No clients found")

    import dask.distributed

    monkeypatch.setattr(dask.distributed, "get_client", no_client)
    with pytest.raises(ValueError, match=r"needs a Dask client.*Client\(LocalCluster\(\)\)"):
        cd.fit(net, Xd, yd)


def test_without_dask_the_error_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask", None)  # import dask raises ImportError
    net = Network([Dense(1)], loss="mse", optimizer="sgd")
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[dask\]'"):
        cd.fit(net, None, None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[dask\]'"):
        cd.predict(net, None)


# ---------------------------------------------------------------- faults


def _kill(client, address):
    """End a worker's process as a crash would (its nanny starts a new, empty one)."""
    pid = client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def own_process_cluster(monkeypatch):
    """Three worker processes of this test's own (a worker of it gets killed), started
    with the malloc settings the docs recommend. (In the environment: Dask's nanny puts
    its own MALLOC_TRIM_THRESHOLD_ in this process's environment when it starts a
    worker, and takes the environment's values over its configuration's.)"""
    for name, value in cd.WORKER_MALLOC.items():
        monkeypatch.setenv(name, str(value))
    cluster = distributed.LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    )
    client = distributed.Client(cluster, set_as_default=False)
    seen = client.run(lambda: {k: os.environ.get(k) for k in cd.WORKER_MALLOC})
    assert list(seen.values()) == [{k: str(v) for k, v in cd.WORKER_MALLOC.items()}] * 3
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_a_worker_dying_mid_fit_is_recovered_or_reported_never_ignored(own_process_cluster):
    client = own_process_cluster
    X, y = _regression(600, 8)
    params = {"hidden_layer_sizes": (16,), "solver": "lbfgs", "max_iter": 25}
    params.update(random_state=0, dtype="float64")
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    uninterrupted = cd.fit(MLPRegressor(**params), Xd, yd, client=client)

    # the data has a graph (from_array): Dask computes the dead worker's partitions again
    killed = []

    def kill_one(epoch, logs):
        if epoch == 2 and not killed:
            killed.append(sorted(client.scheduler_info()["workers"])[0])
            _kill(client, killed[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = cd.fit(
            MLPRegressor(**params, callbacks=[LambdaCallback(on_epoch_end=kill_one)]),
            Xd,
            yd,
            client=client,
        )
    assert killed
    np.testing.assert_allclose(model.network_.params, uninterrupted.network_.params, rtol=1e-12)
    assert model.n_iter_ == uninterrupted.n_iter_

    # local SGD too: a round's result depends on the partitions, not on their workers
    client.wait_for_workers(3)

    def network():
        return Network([Dense(8), Tanh(), Dense(1)], loss="mse", optimizer=Adam(0.01), seed=1)

    sgd = {"client": client, "method": "local_sgd", "rounds": 4, "batch_size": 25}
    uninterrupted = cd.fit(network(), Xd, yd, **sgd)
    killed.clear()
    net = cd.fit(network(), Xd, yd, callbacks=[LambdaCallback(on_epoch_end=kill_one)], **sgd)
    assert killed
    np.testing.assert_allclose(net.params, uninterrupted.params, rtol=1e-6)
    assert net.history.history["loss"] == pytest.approx(uninterrupted.history.history["loss"])

    # scattered data lives only on its worker: losing it is an error naming the partitions
    client.wait_for_workers(3)
    victim = sorted(client.scheduler_info()["workers"])[0]
    x_blocks = client.scatter([X[i : i + 100] for i in range(0, 600, 100)], workers=[victim])
    y_blocks = client.scatter([y[i : i + 100] for i in range(0, 600, 100)], workers=[victim])
    Xs = da.concatenate([da.from_delayed(b, (100, 8), float) for b in x_blocks])
    ys = da.concatenate([da.from_delayed(b, (100,), float) for b in y_blocks])

    def kill_victim(epoch, logs):
        if epoch == 3:
            _kill(client, victim)

    model = MLPRegressor(**params, callbacks=[LambdaCallback(on_epoch_end=kill_victim)])
    with pytest.raises(PartitionsLostError, match=r"lost partitions \[.*\] \(0-based\)") as info:
        cd.fit(model, Xs, ys, client=client)
    assert info.value.partitions and set(info.value.partitions) <= set(range(6))
    assert "not returned" in str(info.value)
    assert not hasattr(model, "coefs_")  # left unfitted, as it was given
