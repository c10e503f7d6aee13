"""Data-parallel training on Dask: time and accuracy against one process.

``python -m benchmarks.data_parallel --rows 200000 --workers 2``

- **lbfgs**: ``MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs")``, float64, on a
  synthetic ``rows x 50`` problem (a random tanh network's outputs plus noise): the fit
  in one process, then :func:`chainrule.distributed.fit` on a ``LocalCluster`` of
  ``--workers`` processes of one thread each, the data persisted on the workers first
  (the time is the fit's, not the data's transfer). Both with the workers' default
  environment (Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536``) and with
  :data:`chainrule.distributed.WORKER_MALLOC` in the environment the nanny starts them
  from.
  A third table times one partition's evaluation in fresh processes under each malloc
  setting.
  The largest difference of the parameters to the one-process fit is printed.
- **local SGD**: scikit-learn's digits (75/25 split, stratified), ``MLPClassifier(64,
  adam, batch 32)``: 40 epochs in one process against 40 rounds of local SGD (one pass
  over each partition a round) on 2 and 4 partitions; held-out accuracy.

On one machine a cluster cannot be faster than the process it splits: the workers
share its cores and memory bandwidth, and every L-BFGS evaluation adds a round trip.
The route exists for data that does not fit on one machine, or that already lives on
several.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def _local_cluster(workers: int):
    """A LocalCluster of ``workers`` single-threaded worker processes on the loopback,
    and its client."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    return cluster, Client(cluster)


def synthetic(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows x features`` standard normal inputs; targets from a random tanh network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    W1 = rng.standard_normal((features, 16)) / np.sqrt(features)
    w2 = rng.standard_normal(16)
    return X, np.tanh(X @ W1) @ w2 + 0.1 * rng.standard_normal(rows)


def _regressor(max_iter: int):
    from chainrule import MLPRegressor

    return MLPRegressor(
        hidden_layer_sizes=(32,), solver="lbfgs", max_iter=max_iter, random_state=0, dtype="float64"
    )


def evaluation_seconds(X: np.ndarray, y: np.ndarray, repeat: int = 10) -> float:
    """Median seconds of one partition's loss and gradient (what a worker computes at
    every L-BFGS evaluation), where this runs: on a worker, in the benchmark."""
    from chainrule import Dense, Network, ReLU
    from chainrule.partitions import partition_loss_and_gradient, prepare_partition

    net = Network([Dense(32), ReLU(), Dense(1)], loss="mse", optimizer="sgd", dtype="float64")
    partition = prepare_partition(0, X, y, net.build(X.shape[1]))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        partition_loss_and_gradient(partition, net.params)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_lbfgs(args) -> list[dict]:
    """One process against a LocalCluster, with and without the malloc setting."""
    import dask
    import dask.array as da
    from threadpoolctl import threadpool_limits

    from chainrule import distributed as cd

    X, y = synthetic(args.rows, args.features)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached: the point is the time
        for threads in sorted({1, args.workers}):
            times = []
            for _ in range(args.repeat):
                with threadpool_limits(limits=threads, user_api="blas"):
                    start = time.perf_counter()
                    reference = _regressor(args.max_iter).fit(X, y)
                    times.append(time.perf_counter() - start)
            with threadpool_limits(limits=threads, user_api="blas"):
                here = evaluation_seconds(
                    X[: -(-args.rows // args.workers)], y[: -(-args.rows // args.workers)]
                )
            rows.append(
                {
                    "setup": f"one process, {threads} BLAS thread(s)",
                    "times": times,
                    "ms per partition evaluation (here)": 1e3 * here,
                }
            )
        for malloc in ("Dask's default", "chainrule.distributed.WORKER_MALLOC"):
            # the nanny takes these from the environment before its configuration (and
            # leaves its own there): set them, or clear them for Dask's default
            for name in cd.WORKER_MALLOC:
                os.environ.pop(name, None)
            if malloc != "Dask's default":
                os.environ.update({k: str(v) for k, v in cd.WORKER_MALLOC.items()})
            try:
                cluster, client = _local_cluster(args.workers)
            finally:
                for name in cd.WORKER_MALLOC:
                    os.environ.pop(name, None)
            try:
                chunk = -(-args.rows // args.workers)
                Xd = client.persist(da.from_array(X, chunks=(chunk, -1)))
                yd = client.persist(da.from_array(y, chunks=chunk))
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    model = cd.fit(_regressor(args.max_iter), Xd, yd, client=client)
                    times.append(time.perf_counter() - start)
                gap = float(np.max(np.abs(model.network_.params - reference.network_.params)))
                block = dask.delayed(evaluation_seconds)(Xd.to_delayed()[0, 0], yd.to_delayed()[0])
                on_worker = client.compute(block).result()
                rows.append(
                    {
                        "setup": f"LocalCluster, {args.workers} workers x 1 thread, {malloc}",
                        "times": times,
                        "max |params - one process|": gap,
                        "ms per partition evaluation (on a worker)": 1e3 * on_worker,
                    }
                )
            finally:
                client.close()
                cluster.close()
    return rows


#: the environments of the malloc check: a plain process, Dask's nanny's setting, the fix
MALLOC_ENVIRONMENTS = {
    "no malloc variables": {},
    "MALLOC_TRIM_THRESHOLD_=65536 (Dask's nanny)": {"MALLOC_TRIM_THRESHOLD_": "65536"},
    "MALLOC_TRIM_THRESHOLD_=65536, MALLOC_MMAP_THRESHOLD_=67108864": {
        "MALLOC_TRIM_THRESHOLD_": "65536",
        "MALLOC_MMAP_THRESHOLD_": "67108864",
    },
    "both at 67108864 (chainrule.distributed.WORKER_MALLOC)": {
        "MALLOC_TRIM_THRESHOLD_": "67108864",
        "MALLOC_MMAP_THRESHOLD_": "67108864",
    },
}

_CHILD = """
from benchmarks.data_parallel import evaluation_seconds, synthetic
X, y = synthetic({rows}, {features})
print(min(evaluation_seconds(X, y) for _ in range(3)))
"""


def bench_malloc(args) -> list[dict]:
    """One partition's evaluation in a fresh process (one BLAS thread) per malloc
    environment: glibc reads the variables at start-up."""
    import subprocess
    import sys

    rows = []
    code = _CHILD.format(rows=-(-args.rows // args.workers), features=args.features)
    for name, variables in MALLOC_ENVIRONMENTS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        env.update(variables, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        times = []
        for _ in range(args.repeat):
            done = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            times.append(1e3 * float(done.stdout.split()[-1]))
        rows.append({"setup": name, "times": times})
    return rows


def bench_local_sgd(args) -> list[dict]:
    """Held-out accuracy on digits: serial adam against local SGD on 2 and 4 partitions."""
    import dask.array as da
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from chainrule import MLPClassifier
    from chainrule import distributed as cd

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data / 16, digits.target, random_state=0, stratify=digits.target
    )
    params = {"hidden_layer_sizes": (64,), "solver": "adam", "batch_size": 32, "random_state": 0}
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        serial = MLPClassifier(**params, max_iter=40).fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "setup": "one process, 40 epochs",
                "accuracy": serial.score(X_test, y_test),
                "times": [seconds],
            }
        )
        cluster, client = _local_cluster(args.workers)
        try:
            # the workers' first fit imports chainrule (and loads its kernels): not timed
            warm = da.from_array(X_train, chunks=(400, -1)), da.from_array(y_train, chunks=400)
            cd.fit(MLPClassifier(**params), *warm, client=client, method="local_sgd", rounds=1)
            for partitions in (2, 4):
                chunk = -(-len(X_train) // partitions)
                Xd = da.from_array(X_train, chunks=(chunk, -1))
                yd = da.from_array(y_train, chunks=chunk)
                start = time.perf_counter()
                model = cd.fit(
                    MLPClassifier(**params), Xd, yd, client=client, method="local_sgd", rounds=40
                )
                seconds = time.perf_counter() - start
                rows.append(
                    {
                        "setup": f"local SGD, {partitions} partitions, 40 rounds",
                        "accuracy": model.score(X_test, y_test),
                        "times": [seconds],
                    }
                )
        finally:
            client.close()
            cluster.close()
    return rows


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n")
    keys = [k for k in rows[0] if k not in ("setup", "times")]
    for row in rows[1:]:
        keys += [k for k in row if k not in keys and k not in ("setup", "times")]
    unit = "ms" if title.startswith("malloc") else "seconds"
    print("| " + " | ".join(["setup", f"{unit} (each run)", *keys]) + " |")
    print("|" + " --- |" * (2 + len(keys)))
    for row in rows:
        times = ", ".join(f"{t:.3g}" if unit == "ms" else f"{t:.2f}" for t in row["times"])
        values = []
        for key in keys:
            value = row.get(key, "")
            values.append(f"{value:.3g}" if isinstance(value, float) else str(value))
        print("| " + " | ".join([row["setup"], times, *values]) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the lbfgs problem")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--max-iter", type=int, default=50, help="L-BFGS iterations")
    parser.add_argument("--repeat", type=int, default=2, help="timed fits per setup")
    parser.add_argument("--skip-sgd", action="store_true", help="only the lbfgs benchmark")
    args = parser.parse_args(argv)
    _print(
        f"lbfgs, MLPRegressor(32), float64, {args.rows} x {args.features}, "
        f"{args.max_iter} iterations",
        bench_lbfgs(args),
    )
    partition_rows = -(-args.rows // args.workers)
    _print(
        f"malloc: milliseconds of one partition's loss and gradient ({partition_rows} "
        f"x {args.features}, hidden 32), fresh process, one BLAS thread",
        bench_malloc(args),
    )
    if not args.skip_sgd:
        _print("local SGD, digits, MLPClassifier(64, adam, batch 32)", bench_local_sgd(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
