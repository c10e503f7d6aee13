"""BLAS threads (chainrule.blas): during an lbfgs fit SciPy's BLAS runs one thread while
NumPy's keeps its own setting, overlapping fits share the limit, and the last one out
restores every library's setting."""

import pytest

pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")

from chainrule import LambdaCallback
from chainrule.estimators import MLPClassifier
from helpers import toy_data

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("one_blas_thread"),
]


def test_lbfgs_runs_scipys_blas_on_one_thread_and_restores_it():
    # NumPy's and SciPy's wheels each bring an OpenBLAS; while L-BFGS-B (SciPy's) and
    # the products (NumPy's) take turns, SciPy's runs one thread. Outside the fit,
    # every library keeps its own setting.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from chainrule import blas

    def blas_threads():
        return {
            i["filepath"]: i["num_threads"]
            for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"
        }

    others = blas.other_blas()
    if not others:
        pytest.skip("one BLAS library serves NumPy and SciPy here: nothing to limit")
    seen = []
    X, y = toy_data()
    # two threads everywhere (this module's fixture holds one), so the limit shows
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert set(before.values()) == {2}
        MLPClassifier(
            hidden_layer_sizes=(5,),
            solver="lbfgs",
            max_iter=3,
            random_state=0,
            callbacks=[
                LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(blas_threads()))
            ],
        ).fit(X, y)
        assert blas_threads() == before
        # overlapping fits (threads) share the limit; the last one out restores it
        first, second = (blas.other_blas_single_threaded() for _ in range(2))
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert all(blas_threads()[path] == 1 for path in others)
        second.__exit__(None, None, None)
        assert blas_threads() == before
    assert seen
    for threads in seen:
        for path, n in threads.items():
            assert n == (1 if path in others else 2), path
