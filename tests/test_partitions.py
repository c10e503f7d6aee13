"""The worker side of data-parallel training: one partition's work, without Dask."""

import warnings

import numpy as np
import pytest

from chainrule import Adam, Dense, Network, ReLU, Softmax, TrainingDivergedError
from chainrule.partitions import (
    StepBatches,
    local_sgd,
    partition_loss_and_gradient,
    predict_block,
    predict_frame,
    prepare_partition,
)
from chainrule.training import ArrayBatches


def _classifier(l2=0.0, dtype="float64"):
    net = Network(
        [Dense(8), ReLU(), Dense(3), Softmax()],
        loss="categorical_crossentropy",
        optimizer=Adam(0.01),
        l2=l2,
        seed=0,
        dtype=dtype,
    )
    return net.build(4)


def _data(n=50, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, n)


def test_prepare_partition_converts_once_and_names_the_partition_in_errors():
    net = _classifier(dtype="float32")
    X, y = _data()
    part = prepare_partition(2, X, y, net)
    assert part.index == 2 and part.X.dtype == np.float32 and part.X.flags.c_contiguous
    assert part.network is net
    np.testing.assert_array_equal(part.target, net.loss.prepare_target(y, 3, net.dtype))
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"partition 7 \(0-based\): X contains NaN"):
        prepare_partition(7, X, y, net)
    with pytest.raises(ValueError, match=r"partition 1 .*X has 5 columns, but the network takes 4"):
        prepare_partition(1, np.ones((3, 5)), np.zeros(3), net)


def test_prepare_partition_encodes_an_estimators_labels_as_its_fit_does():
    pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    from chainrule import MLPClassifier

    X, y = _data(30)
    labels = np.array(["a", "b", "c"])[y]
    est = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged: only its encoding matters
        est.fit(X, labels)
    part = prepare_partition(0, X, labels, est.network_, est)
    np.testing.assert_array_equal(part.target, y)  # softmax: integer labels of classes_


def test_partition_losses_weighted_by_rows_add_up_to_the_whole_datas_loss():
    net = _classifier()
    X, y = _data(70)
    params = net.params.copy()
    parts = [
        prepare_partition(i, X[s], y[s], net) for i, s in enumerate([slice(0, 30), slice(30, 70)])
    ]
    results = [partition_loss_and_gradient(p, params) for p in parts]
    assert [n for _, _, n in results] == [30, 40]
    loss = sum(n / 70 * value for value, _, n in results)
    gradient = sum(n / 70 * grad for _, grad, n in results)
    expected_loss, expected_gradient = net.loss_and_gradient(params, X, y)
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(net.params, params)  # the network is left as it was


def test_step_batches_take_exactly_the_steps_across_epochs():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    source = StepBatches(ArrayBatches(X, y, batch_size=4, shuffle=False), steps=4)
    sizes = [b.X.shape[0] for b in source]
    assert sizes == [4, 4, 2, 4] and source.rows == 14 and len(source) == 4


def test_local_sgd_is_reproducible_and_leaves_the_partitions_network_alone():
    net = _classifier()
    X, y = _data(40)
    part = prepare_partition(3, X, y, net)
    before = net.params.copy()
    state = net.optimizer.get_state()
    kwargs = {"round_index": 2, "steps": 5, "batch_size": 16, "seed": 11}
    first = local_sgd(part, before, state, **kwargs)
    second = local_sgd(part, before, state, **kwargs)
    np.testing.assert_array_equal(first.params, second.params)
    np.testing.assert_array_equal(first.optimizer_state[1]["m"], second.optimizer_state[1]["m"])
    assert first.optimizer_state[0]["iterations"] == 5
    assert first.n_trained == 16 + 16 + 8 + 16 + 16
    assert not np.array_equal(first.params, before)
    np.testing.assert_array_equal(net.params, before)
    assert net.optimizer.iterations == 0
    other_seed = local_sgd(part, before, state, **{**kwargs, "seed": 12})
    assert not np.array_equal(other_seed.params, first.params)
    assert 0 < first.loss_sum / first.n_trained < 5  # a mean cross-entropy of 3 classes


def test_local_sgd_names_the_partition_when_the_loss_diverges():
    net = Network([Dense(1)], loss="mse", optimizer=Adam(1e3), dtype="float64", seed=0).build(2)
    X = np.full((8, 2), 1e200)
    part = prepare_partition(5, X, np.full(8, 1e200), net)
    with pytest.raises(TrainingDivergedError, match=r"partition 5 \(0-based\), round 1"):
        local_sgd(
            part,
            net.params,
            net.optimizer.get_state(),
            round_index=0,
            steps=3,
            batch_size=4,
            seed=0,
        )


def test_predict_block_and_frame_keep_the_rows_order():
    pd = pytest.importorskip("pandas", reason="data frames need pandas")
    net = _classifier()
    X, _ = _data(9)
    np.testing.assert_array_equal(predict_block(X, net, "predict"), net.predict(X))
    frame = pd.DataFrame(X, index=np.arange(100, 109))
    result = predict_frame(frame, net, "predict_proba", [0, 1, 2])
    assert list(result.index) == list(range(100, 109)) and list(result.columns) == [0, 1, 2]
    np.testing.assert_array_equal(result.to_numpy(), net.predict_proba(X))
