"""What the BLAS makes of a training step's products: ``python -m benchmarks.blas_shapes``.

For the MNIST-sized networks (float32) this times the matrix products of one training
step (forward ``x @ W``, weight gradients ``x.T @ dz``, input gradients ``dz @ W.T``)
laid out three ways, and at several batch sizes:

- ``W (in, out)``: chainrule's layout, the lesson's ``np.dot(input_vector, weights)``;
- ``W.T kept``: the weights stored transposed, ``(out, in)`` as PyTorch's ``Linear``
  keeps them: forward ``x @ Wt.T``, weight gradient ``dz.T @ x``, input gradient
  ``dz @ Wt``;
- ``both``: the forward product from a transposed copy kept in step with ``W`` (the
  copy costs one pass over the weights per step, included).

It prints microseconds per step and GFLOP/s, the median of ``--repeats`` rounds.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

NETWORKS = ((784, 256, 10), (784, 512, 512, 10))


def _products(sizes, batch, layout, rng):
    layers = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        x = rng.random((batch, fan_in), dtype=np.float32)
        dz = rng.standard_normal((batch, fan_out), dtype=np.float32)
        W = rng.standard_normal((fan_in, fan_out), dtype=np.float32)
        Wt = np.ascontiguousarray(W.T)
        z = np.empty((batch, fan_out), np.float32)
        dx = np.empty_like(x)
        if layout == "W (in, out)":
            dW = np.empty_like(W)
            calls = [
                lambda x=x, W=W, z=z: np.matmul(x, W, out=z),
                lambda x=x, dz=dz, dW=dW: np.matmul(x.T, dz, out=dW),
            ]
            if i:
                calls.append(lambda dz=dz, W=W, dx=dx: np.matmul(dz, W.T, out=dx))
        elif layout == "W.T kept":
            dWt = np.empty_like(Wt)
            calls = [
                lambda x=x, Wt=Wt, z=z: np.matmul(x, Wt.T, out=z),
                lambda x=x, dz=dz, dWt=dWt: np.matmul(dz.T, x, out=dWt),
            ]
            if i:
                calls.append(lambda dz=dz, Wt=Wt, dx=dx: np.matmul(dz, Wt, out=dx))
        else:  # both: W for the gradients, a transposed copy for the forward product
            dW = np.empty_like(W)
            calls = [
                lambda W=W, Wt=Wt: np.copyto(Wt, W.T),
                lambda x=x, Wt=Wt, z=z: np.matmul(x, Wt.T, out=z),
                lambda x=x, dz=dz, dW=dW: np.matmul(x.T, dz, out=dW),
            ]
            if i:
                calls.append(lambda dz=dz, W=W, dx=dx: np.matmul(dz, W.T, out=dx))
        layers += calls
    return layers


def _flops(sizes, batch):
    pairs = list(itertools.pairwise(sizes))
    total = sum(2 * 2 * batch * a * b for a, b in pairs)  # forward and weight gradient
    total += sum(2 * batch * a * b for a, b in pairs[1:])  # input gradients
    return total


def measure(sizes, batch, layout, repeats=7, number=30) -> float:
    calls = _products(sizes, batch, layout, np.random.default_rng(0))

    def step():
        for call in calls:
            call()

    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            step()
        times.append((time.perf_counter() - start) / number)
    return float(np.median(times))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.blas_shapes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print("| network | batch | layout | us / step | us / 256 rows | GFLOP/s |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for sizes in NETWORKS:
        arch = "-".join(map(str, sizes))
        for batch in (128, 256, 512):
            layouts = ("W (in, out)", "W.T kept", "both") if batch == 256 else ("W (in, out)",)
            for layout in layouts:
                t = measure(sizes, batch, layout, args.repeats)
                rate = _flops(sizes, batch) / t / 1e9
                print(
                    f"| {arch} | {batch} | {layout} | {1e6 * t:.0f} | "
                    f"{1e6 * t * 256 / batch:.0f} | {rate:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
