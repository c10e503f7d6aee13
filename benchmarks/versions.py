"""Two versions of chainrule, timed in turn: ``python -m benchmarks.versions A B``.

``A`` and ``B`` are source directories (such as a ``git worktree`` of an older commit's
``src`` and this checkout's ``src``). Each round starts one child process per version,
alternating, with that directory first on ``sys.path``; a child times every workload
once after a warm-up and prints JSON. The table gives each workload's fastest time per
version over the rounds (the least disturbed one on a shared machine) and B / A.

Workloads use only what every version has (``Network``, ``fit``, ``MLPClassifier``):
the MNIST-sized networks (60,000 x 784 float32, Adam, batch 256, one epoch), the
lesson's neuron (batch 1) and 8-64-1 (batch 32), and the estimators' whole fits of
``benchmarks.bench_estimators`` (digits and the synthetic set; adam, sgd, lbfgs;
float32 and float64).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _network_workloads(rows: int):
    from benchmarks.common import make_classification
    from chainrule import Dense, Network, ReLU, Sigmoid, Softmax

    X, y = make_classification(rows, 784, 10, seed=0)
    for hidden in ((256,), (512, 512)):
        layers = [layer for width in hidden for layer in (Dense(width), ReLU())]
        net = Network(
            [*layers, Dense(10), Softmax()],
            loss="categorical_crossentropy",
            optimizer="adam",
            seed=0,
        )
        name = "-".join(map(str, (784, *hidden, 10))) + " epoch"
        yield name, lambda net=net: net.fit(X, y, epochs=1, batch_size=256)
    rng = np.random.default_rng(0)
    Xs = rng.normal(size=(10_000, 8)).astype(np.float32)
    ys = (Xs @ rng.normal(size=8) > 0).astype(np.float32)
    small = Network(
        [Dense(64), ReLU(), Dense(1), Sigmoid()],
        loss="binary_crossentropy",
        optimizer="adam",
        seed=0,
    )
    yield "8-64-1 epoch (batch 32)", lambda: small.fit(Xs, ys, epochs=1, batch_size=32)
    Xn = rng.normal(size=(10_000, 2)).astype(np.float32)
    yn = (Xn[:, 0] > 0).astype(np.float32)
    neuron = Network([Dense(1), Sigmoid()], loss="mse", optimizer="sgd", seed=0)
    yield "lesson neuron epoch (batch 1)", lambda: neuron.fit(Xn, yn, epochs=1, batch_size=1)


def _estimator_workloads():
    from benchmarks.bench_estimators import _params, _workloads
    from chainrule.estimators import MLPClassifier

    for data_name, X_all, y, epochs in _workloads(quick=False):
        for solver in ("adam", "sgd", "lbfgs"):
            for dtype in ("float32", "float64"):
                X = np.ascontiguousarray(X_all, dtype=dtype)
                params = _params(solver, epochs[solver])
                name = f"MLPClassifier {solver} {data_name.split()[0]} {dtype} (whole fit)"
                yield name, lambda p=params, X=X, y=y: MLPClassifier(**p).fit(X, y)


def child(rows: int) -> None:
    """Time each workload once after a warm-up; print ``{name: seconds}`` as JSON."""
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    times = {}
    for name, call in [*_network_workloads(rows), *_estimator_workloads()]:
        call()  # warm-up: buffers, compiled kernels, BLAS threads
        start = time.perf_counter()
        call()
        times[name] = time.perf_counter() - start
    print(json.dumps(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.versions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("before", help="source directory of version A (holds chainrule/)")
    parser.add_argument("after", help="source directory of version B")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.rows)
        return
    results: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
    for round_ in range(args.rounds):
        for label, src in (("A", args.before), ("B", args.after)):
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath(src), HERE])}
            command = [sys.executable, "-m", "benchmarks.versions", "--child", "x", "y"]
            out = subprocess.run(
                [*command, "--rows", str(args.rows)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=HERE,
            )
            for name, seconds in json.loads(out.stdout.splitlines()[-1]).items():
                results[label].setdefault(name, []).append(seconds)
            print(f"  round {round_ + 1}: {label} done", file=sys.stderr, flush=True)
    print(f"| workload | A: {args.before} | B: {args.after} | B / A |")
    print("| --- | ---: | ---: | ---: |")
    for name, a_times in results["A"].items():
        a, b = min(a_times), min(results["B"][name])
        print(f"| {name} | {a:.4g} | {b:.4g} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
