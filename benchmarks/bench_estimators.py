"""chainrule.MLPClassifier against sklearn.neural_network.MLPClassifier: whole ``fit`` times.

Both estimators get the same parameters and the same data in the same dtype (each
trains in the dtype of X, float32 or float64, as scikit-learn does), with
``tol=0`` so both run exactly ``max_iter`` epochs (lbfgs: iterations) and follow the
same trajectory. Workloads:

- ``digits``: scikit-learn's 1797 x 64 digits (scaled to [0, 1]), 10 classes,
  ``hidden_layer_sizes=(100,)``, batch 200 (scikit-learn's ``"auto"``);
- ``synthetic``: 60,000 x 20 Gaussian clusters, 3 classes, the same network.

Solvers adam, sgd (momentum 0.9, Nesterov) and lbfgs. Each row's ``seconds`` is the
median fit time divided by the number of epochs (so the table's "s / epoch" column
holds); the ``note`` gives the whole fit and the ratio to scikit-learn in the same
dtype (``vs_sklearn_same_dtype``). The target is <= 0.5 for adam and sgd.
"""

from __future__ import annotations

import warnings

import numpy as np

from benchmarks.common import make_classification, median, time_interleaved

NAME = "estimators"
GROUP = "estimators"

HIDDEN = (100,)


def _workloads(quick: bool):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    yield (
        "digits 1797 x 64",
        X / 16.0,
        y,
        {"adam": 5 if quick else 30, "sgd": 5 if quick else 30, "lbfgs": 10 if quick else 50},
    )
    rows = 6_000 if quick else 60_000
    X, y = make_classification(rows, 20, 3, seed=0)
    yield (
        f"synthetic {rows} x 20",
        X,
        y,
        {"adam": 2 if quick else 5, "sgd": 2 if quick else 5, "lbfgs": 5 if quick else 20},
    )


def _params(solver: str, max_iter: int) -> dict:
    params = dict(
        hidden_layer_sizes=HIDDEN,
        solver=solver,
        max_iter=max_iter,
        random_state=0,
        tol=0.0,
        n_iter_no_change=max_iter + 1,
    )
    if solver == "sgd":
        params["learning_rate_init"] = 0.01
    return params


def run(args) -> list[dict]:
    """Time chainrule's and scikit-learn's MLPClassifier.fit on each workload, solver, dtype."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier as SklearnMLP

        from chainrule.estimators import MLPClassifier
    except ImportError as exc:  # pragma: no cover
        return [
            {
                "group": GROUP,
                "workload": "MLPClassifier.fit",
                "library": "chainrule",
                "dtype": "float64",
                "seconds": None,
                "times": [],
                "note": f"skipped: the estimators need scikit-learn ({exc})",
            }
        ]

    rows = []
    repeats = args.repeats
    for data_name, X_all, y, epochs in _workloads(args.quick):
        for solver in ("adam", "sgd", "lbfgs"):
            for dtype in ("float32", "float64"):
                X = np.ascontiguousarray(X_all, dtype=dtype)
                params = _params(solver, epochs[solver])
                workload = f"MLPClassifier {solver} {data_name} {dtype}, {epochs[solver]} epochs"
                fits = {
                    "chainrule": lambda p=params, X=X, y=y: MLPClassifier(**p).fit(X, y),
                    "scikit-learn": lambda p=params, X=X, y=y: SklearnMLP(**p).fit(X, y),
                }
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    n_iter = {lib: fit().n_iter_ for lib, fit in fits.items()}  # warm-up
                    times = time_interleaved(fits, repeats)
                fit_s = {lib: median(t) for lib, t in times.items()}
                ratio = fit_s["chainrule"] / fit_s["scikit-learn"]
                for lib, t in times.items():
                    row = {
                        "group": GROUP,
                        "workload": workload,
                        "library": lib,
                        "dtype": dtype,
                        "seconds": fit_s[lib] / n_iter[lib],
                        "times": t,
                        "fit_seconds": fit_s[lib],
                        "n_iter": n_iter[lib],
                    }
                    if lib == "chainrule":
                        row["vs_sklearn_same_dtype"] = ratio
                        row["note"] = (
                            f"whole fit {fit_s[lib]:.3f} s vs scikit-learn's "
                            f"{fit_s['scikit-learn']:.3f} s in {dtype}: {ratio:.2f}x"
                        )
                    rows.append(row)
                print(
                    f"    {workload:52s} chainrule {fit_s['chainrule']:.3f} s  scikit-learn "
                    f"{fit_s['scikit-learn']:.3f} s  ratio {ratio:.2f}",
                    flush=True,
                )
    return rows
