"""Small cases, where Python overhead per step dominates.

- ``lesson neuron``: the lesson's 2-input sigmoid neuron (squared error, plain SGD,
  learning rate 0.1) trained per sample (batch 1), one epoch over the lesson's eight
  points repeated to 10,000 rows. scikit-learn has no squared error for a classifier:
  its row is ``MLPClassifier(hidden_layer_sizes=())`` (a logistic neuron with log-loss,
  same SGD), the nearest it offers.
- ``8-64-1``: 10,000 x 8 binary classification, ReLU, Adam 1e-3, batch 32.
"""

from __future__ import annotations

import numpy as np

from benchmarks import common, contenders
from benchmarks.common import blas_threads, epoch_flops, median, short_note, time_interleaved

NAME = "small"
GROUP = "small"

#: the lesson's eight points and targets
LESSON_X = np.array(
    [[3, 1.5], [2, 1], [4, 1.5], [3, 4], [3.5, 0.5], [2, 0.5], [5.5, 1], [1, 1]],
    dtype=np.float32,
)
LESSON_Y = np.array([0, 1, 0, 1, 0, 1, 1, 0])


def _cases(quick: bool):
    rows = 2_000 if quick else 10_000
    reps = rows // len(LESSON_X)
    yield (
        f"lesson neuron 2-1, {reps * 8} rows, batch 1",
        {
            "hidden": [],
            "task": "lesson",
            "optimizer": "sgd",
            "lr": 0.1,
            "batch_size": 1,
            "n_classes": 2,
            "n_features": 2,
        },
        np.tile(LESSON_X, (reps, 1)),
        np.tile(LESSON_Y, reps),
    )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 8), dtype=np.float32)
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(np.int64)
    yield (
        f"8-64-1, {rows} x 8, batch 32",
        {
            "hidden": [64],
            "task": "binary",
            "optimizer": "adam",
            "lr": 1e-3,
            "batch_size": 32,
            "n_classes": 2,
            "n_features": 8,
        },
        X,
        y,
    )


def run(args) -> list[dict]:
    """Time chainrule, scikit-learn (float32) and PyTorch on the two small cases."""
    threads = blas_threads()
    torch_skip = contenders.torch_missing_reason()
    results = []
    for workload, spec, X, y in _cases(args.quick):
        lineup = ["chainrule", "scikit-learn"] + (["PyTorch"] if torch_skip is None else [])
        models = {lib: contenders.make(lib, spec, "float32", threads) for lib in lineup}
        for model in models.values():
            model.warm_up(X[:256], y[:256])
        times = time_interleaved(
            {lib: (lambda m=m, X=X, y=y: m.epoch(X, y)) for lib, m in models.items()}, args.repeats
        )
        sizes = [spec["n_features"], *spec["hidden"], 1]
        for lib, t in times.items():
            row = {
                "group": GROUP,
                "workload": workload,
                "library": lib,
                "dtype": "float32",
                "seconds": median(t),
                "times": t,
                **short_note(t, args.repeats),
                "gflop": epoch_flops(sizes, X.shape[0]) / 1e9,
            }
            if lib == "scikit-learn" and spec["task"] == "lesson":
                row["note"] = "logistic neuron with log-loss (no squared error in MLPClassifier)"
            results.append(row)
            print(f"    {workload:36s} {lib:14s} {row['seconds']:.4f} s/epoch", flush=True)
        if torch_skip is not None:
            results.append(common.skipped_row(GROUP, workload, "PyTorch", torch_skip))
    return results
