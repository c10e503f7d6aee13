"""Hyperparameter search on a cluster: GridSearchCV of chainrule's MLPClassifier.

scikit-learn's digits (1,797 x 64, standardised), a grid of 4 settings (hidden units
32 or 64, alpha 1e-4 or 1e-2) x 3 folds: 12 fits of adam, ``max_iter`` epochs each
(``MAX_ITER``, fewer with ``--quick``), then the refit of the best one. The search runs

- serially (joblib's default backend, ``n_jobs=None``), BLAS as configured;
- serially with the BLAS limited to 1 thread (``threadpoolctl``): the products of a
  small network are too small for several threads, which then mostly wait;
- under ``joblib.parallel_config(backend="dask")`` on a ``LocalCluster`` of one
  single-threaded worker per core (at most 4), the workers threads of this process,
  with the BLAS as configured and then limited to 1 thread (the limit is the
  process's, so it holds in the worker threads: each product then runs on its
  worker's core instead of all threads contending for all cores);
- the same with the workers as processes (which start with their BLAS at one thread,
  as Dask's nannies set it).

Each row is the median of ``--repeats`` searches (after an untimed one that starts the
workers and imports chainrule in them); cluster start-up is not timed. Every row's
best score must equal the serial search's (a note says so).
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import nullcontext

from benchmarks.common import median, skipped_row

NAME = "search"
GROUP = "search"
MAX_ITER, QUICK_MAX_ITER = 40, 8
GRID = {"hidden_layer_sizes": [(32,), (64,)], "alpha": [1e-4, 1e-2]}
FOLDS = 3


def digits():
    """scikit-learn's digits, standardised (no download: the data ship with it)."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def search(X, y, max_iter: int, n_jobs=None):
    """One GridSearchCV of chainrule's MLPClassifier over :data:`GRID`; returns it."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    from chainrule import MLPClassifier

    estimator = MLPClassifier(max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GridSearchCV(estimator, GRID, cv=FOLDS, n_jobs=n_jobs).fit(X, y)


def _timed(run, repeats: int) -> tuple[list[float], float]:
    """``run()`` once untimed, then ``repeats`` times timed: (seconds, best score)."""
    best = run().best_score_
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    assert result.best_score_ == best
    return times, best


def _cluster(processes: bool, n_workers: int):
    """A LocalCluster of ``n_workers`` single-threaded workers and its client."""
    from distributed import Client, LocalCluster

    network = {"host": "127.0.0.1"} if processes else {}
    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=":0",
        **network,
    )
    return cluster, Client(cluster)


def run(args) -> list[dict]:
    """Time the search serially, with one BLAS thread, and on a LocalCluster."""
    max_iter = QUICK_MAX_ITER if args.quick else MAX_ITER
    repeats = args.repeats or (1 if args.quick else 3)
    X, y = digits()
    n_workers = max(1, min(os.cpu_count() or 1, 4))
    settings = len(GRID["hidden_layer_sizes"]) * len(GRID["alpha"])
    workload = (
        f"GridSearchCV digits {X.shape[0]} x {X.shape[1]}, {settings} settings x {FOLDS} "
        f"folds, adam {max_iter} epochs"
    )
    rows, serial_best = [], None

    def row(library, times, best, note):
        nonlocal serial_best
        if serial_best is None:
            serial_best = best
        same = "same best score as serial" if best == serial_best else "BEST SCORE DIFFERS"
        print(f"    {library:40s} {median(times):.3f} s ({same})", flush=True)
        return {
            "group": GROUP,
            "workload": workload,
            "library": library,
            "dtype": "float64",
            "seconds": median(times),
            "times": times,
            "best_score": best,
            "note": f"seconds per search; {note}; {same} ({best:.4f})",
        }

    print(f"  {workload}", flush=True)
    times, best = _timed(lambda: search(X, y, max_iter), repeats)
    rows.append(row("chainrule serial", times, best, "BLAS threads as configured"))
    with _one_blas_thread():
        times, best = _timed(lambda: search(X, y, max_iter), repeats)
    rows.append(row("chainrule serial, 1 BLAS thread", times, best, "threadpoolctl"))
    try:
        import distributed  # noqa: F401
        import joblib
    except ImportError:
        for kind in ("threads", "threads, 1 BLAS thread", "processes"):
            label = f"chainrule on LocalCluster ({kind})"
            note = "dask.distributed is not installed (pip install 'chainrule[dask]')"
            rows.append(skipped_row(GROUP, workload, label, note))
        return rows
    for processes, one_blas in ((False, False), (False, True), (True, False)):
        kind = "processes" if processes else "threads"
        label = f"chainrule on LocalCluster ({kind}{', 1 BLAS thread' if one_blas else ''})"
        cluster, client = _cluster(processes, n_workers)
        try:
            with (
                client.as_current(),
                joblib.parallel_config(backend="dask"),
                _one_blas_thread() if one_blas else nullcontext(),
            ):
                times, best = _timed(lambda: search(X, y, max_iter, n_jobs=-1), repeats)
        finally:
            client.close()
            cluster.close()
        note = f"joblib dask backend, {n_workers} workers x 1 thread ({kind})"
        rows.append(row(label, times, best, note))
    return rows


def _one_blas_thread():
    """NumPy's BLAS limited to one thread in this process (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency of scikit-learn
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
