"""Where one training step's time goes: ``python -m benchmarks.breakdown``.

For the MNIST-sized networks of ``bench_mlp`` (float32, Adam, batch 256) this times,
each on its own and repeated, the parts of one chainrule step on real buffers:

- gathering the shuffled batch (``np.take(X, idx, axis=0, out=buffer, mode="clip")``);
- the matrix products of every Dense layer: ``x @ W``, ``x.T @ delta`` and, for every
  layer but the first, ``delta @ W.T``;
- the Adam update over the flat parameter vector;
- the whole step (gather plus ``Network.train_step``).

"the rest" is the whole step minus the timed parts: bias and ReLU forward and backward,
the bias gradients, the fused softmax and cross-entropy, and Python. Each kernel mode
(:mod:`chainrule.kernels`: ``numba``, the compiled kernels and the fused step, when
numba is installed; ``numpy``; ``off``, the readable reference alone) is measured on
its own network. Parts are timed separately because a sampling profiler misattributes
time under threaded BLAS. Medians of ``--repeats`` rounds; the shares depend on the
machine, so quote them with the date.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import make_classification, threading_check

NETWORKS = ((256,), (512, 512))
BATCH = 256


def _median_seconds(fn, repeats: int, number: int) -> float:
    fn()  # warm-up: buffers, BLAS threads
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return float(np.median(times))


def breakdown(
    hidden: tuple[int, ...], X, y, repeats: int = 7, number: int = 20, mode: str = "auto"
) -> dict:
    """Median seconds per step of each part, for one network, in one kernel mode."""
    from chainrule import kernels

    with kernels.use(mode):
        return _breakdown(hidden, X, y, repeats, number)


def _breakdown(hidden, X, y, repeats, number) -> dict:
    from benchmarks.contenders import chainrule_network
    from chainrule import Dense

    net = chainrule_network(hidden, X.shape[1], int(y.max()) + 1, "float32", BATCH)
    target = y.astype(np.intp)
    # a new shuffled batch at every call, as in an epoch (one batch over and over
    # would be learnt by heart, and its vanishing gradients slow the arithmetic)
    n_batches = X.shape[0] // BATCH
    order = np.random.default_rng(0).permutation(n_batches * BATCH).reshape(n_batches, BATCH)
    calls = iter(range(10**9))
    x_buf = np.empty((BATCH, X.shape[1]), dtype=X.dtype)
    t_buf = np.empty(BATCH, dtype=target.dtype)

    def gather():
        idx = order[next(calls) % n_batches]
        np.take(X, idx, axis=0, out=x_buf, mode="clip")
        np.take(target, idx, axis=0, out=t_buf, mode="clip")

    def step():
        gather()
        net.train_step(x_buf, t_buf)

    step()  # fills every layer's input and output buffers
    dense = [layer for layer in net.layers if isinstance(layer, Dense)]
    products = []
    for i, layer in enumerate(dense):
        x, w = layer.input, layer.weights
        out = np.empty((BATCH, layer.units), dtype=w.dtype)
        dw = np.empty_like(w)
        delta = np.ones((BATCH, layer.units), dtype=w.dtype)
        products.append(lambda x=x, w=w, out=out: np.matmul(x, w, out=out))
        products.append(lambda x=x, d=delta, dw=dw: np.matmul(x.T, d, out=dw))
        if i:
            dx = np.empty_like(x)
            products.append(lambda d=delta, w=w, dx=dx: np.matmul(d, w.T, out=dx))

    def all_products():
        for product in products:
            product()

    grads = net.grads.copy()
    params = net.params.copy()

    def adam():
        net.optimizer.step(params, grads)

    parts = {
        "step": _median_seconds(step, repeats, number),
        "matrix products": _median_seconds(all_products, repeats, number),
        "Adam": _median_seconds(adam, repeats, number),
        "gather": _median_seconds(gather, repeats, number),
    }
    parts["the rest"] = parts["step"] - sum(v for k, v in parts.items() if k != "step")
    return parts


def markdown(results: dict) -> str:
    """The parts as a table: one column per network and kernel mode."""
    columns = list(results)
    lines = [
        f"| part (float32, Adam, batch {BATCH}) | " + " | ".join(columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for part in ("matrix products", "Adam", "gather", "the rest"):
        cells = [
            f"{100 * results[c][part] / results[c]['step']:.0f}% ({1e6 * results[c][part]:.0f} us)"
            for c in columns
        ]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    cells = [f"{1e6 * results[c]['step']:.0f} us" for c in columns]
    lines.append("| whole step | " + " | ".join(cells) + " |")
    cells = [
        f"{100 * (1 - results[c]['matrix products'] / results[c]['step']):.0f}%" for c in columns
    ]
    lines.append("| all but the products | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.breakdown", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeats", type=int, default=7, help="rounds per part (median)")
    parser.add_argument("--rows", type=int, default=60_000, help="rows of synthetic data")
    parser.add_argument(
        "--mode",
        action="append",
        choices=("numba", "numpy", "off"),
        help="kernel mode(s) to measure (repeatable); default: numba (when installed), "
        "numpy and off",
    )
    args = parser.parse_args(argv)
    from chainrule import kernels

    modes = args.mode or [
        m for m in ("numba", "numpy", "off") if m != "numba" or kernels.compiled_available()
    ]
    X, y = make_classification(args.rows, 784, 10, seed=0)
    check_before = threading_check()
    results = {}
    for hidden in NETWORKS:
        arch = "-".join(map(str, (784, *hidden, 10)))
        for mode in modes:
            results[f"{arch} {mode}"] = breakdown(hidden, X, y, repeats=args.repeats, mode=mode)
    print(markdown(results))
    check_after = threading_check()
    if check_before is not None and check_after is not None:
        print(
            f"\nThreaded-BLAS check: {check_before:.2f}x before, {check_after:.2f}x after "
            "(below 1 when the threads help; see benchmarks.common.threading_check)."
        )


if __name__ == "__main__":
    main()
