"""scikit-learn's training rules (chainrule.sklearn_rules) against scikit-learn itself:
with the same random_state, the invscaling schedule, the adaptive rate, early stopping
(also on sparse data with sample weights) and the stopping rule leave the same fit,
and verbose prints scikit-learn's lines."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")

import sklearn

from helpers import data_of_kind, estimator_weights, sklearn_pair

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("one_blas_thread"),
]


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam", batch_size=16),
        dict(solver="sgd", batch_size=10, learning_rate="invscaling", learning_rate_init=0.2),
        dict(
            solver="sgd",
            batch_size=10,
            learning_rate="adaptive",
            tol=1e-2,
            n_iter_no_change=2,
            learning_rate_init=0.05,
        ),
        dict(
            solver="adam",
            early_stopping=True,
            validation_fraction=0.25,
            n_iter_no_change=3,
            learning_rate_init=0.02,
            batch_size=8,
        ),
        dict(solver="lbfgs", alpha=0.0),
    ],
    ids=["adam-minibatch", "invscaling", "adaptive", "early-stopping", "lbfgs"],
)
def test_same_random_state_same_fit(kind, params):
    """Initial weights, shuffles and the validation split come from the same stream."""
    X, y = data_of_kind(kind, n=60)
    ref, ours = sklearn_pair(kind, hidden_layer_sizes=(8,), max_iter=30, random_state=3, **params)
    ref.fit(X, y)
    ours.fit(X, y)
    assert ours.n_iter_ == ref.n_iter_
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-6)
    if params["solver"] != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
        if params.get("early_stopping"):
            np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_)
            assert ours.best_validation_score_ == ref.best_validation_score_
            assert ours.best_loss_ is ref.best_loss_ is None
        else:
            assert ours.validation_scores_ is ref.validation_scores_ is None
        if params["solver"] == "sgd":  # the schedule left the same learning rate
            assert ours._optimizer.learning_rate == pytest.approx(
                ref._optimizer.learning_rate, rel=1e-12
            )
    if kind == "multiclass":
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9, atol=1e-9)


def test_early_stopping_with_sparse_data_and_sample_weight_matches_sklearn():
    import scipy.sparse

    X, y = data_of_kind("binary", n=80)
    X[np.abs(X) < 0.5] = 0
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=80)
    params = dict(
        hidden_layer_sizes=(6,),
        early_stopping=True,
        n_iter_no_change=4,
        validation_fraction=0.2,
        max_iter=40,
        batch_size=16,
        random_state=2,
        learning_rate_init=0.02,
    )
    ref, ours = sklearn_pair("binary", **params)
    try:
        ref.fit(scipy.sparse.csr_matrix(X), y, sample_weight=sw)
    except TypeError as exc:  # scikit-learn 1.7 (the last for Python 3.10) fails here itself
        pytest.skip(f"scikit-learn {sklearn.__version__} cannot fit this reference: {exc}")
    ours.fit(scipy.sparse.csr_matrix(X), y, sample_weight=sw)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_)
    for w_ref, w_ours in zip(estimator_weights(ref), estimator_weights(ours), strict=True):
        np.testing.assert_allclose(w_ours, w_ref, rtol=0, atol=1e-6)


def test_verbose_output_is_sklearns(capsys):
    X, y = data_of_kind("regression", n=30)
    params = dict(
        hidden_layer_sizes=(4,),
        max_iter=3,
        verbose=True,
        random_state=0,
        early_stopping=True,
        validation_fraction=0.3,
    )
    ref, ours = sklearn_pair("regression", **params)
    ref.fit(X, y)
    theirs = capsys.readouterr().out
    ours.fit(X, y)
    mine = capsys.readouterr().out
    assert mine.splitlines()[0].startswith("Iteration 1, loss = ")
    assert [line[:24] for line in mine.splitlines()] == [line[:24] for line in theirs.splitlines()]
