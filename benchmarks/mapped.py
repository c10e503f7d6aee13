"""Training from a memory-mapped ``.npy``: ``python -m benchmarks.mapped [--rows N]``.

The library's route for arrays larger than memory (``docs/scale.md``). One ``.npy`` of
``rows x 100`` float32 (400 MB at the default million rows) and its labels are written
to a temporary folder; then one child process per way of reading it trains a 64-unit
ReLU network (Adam, batch 256) for one epoch and reports rows per second and memory:

- ``mapped``: ``fit(np.load(path, mmap_mode="r"), y)``: batches gathered from the map;
- ``chunks``: ``fit(array_chunks(mapped, y, chunk_rows=50_000))``: blocks read in order,
  shuffled within a buffer of 4 chunks;
- ``memory``: ``fit(np.load(path), y)``: the array read whole first.

Memory is read from ``/proc/self/status`` after the epoch: ``peak`` is ``VmHWM``;
``anon`` is ``RssAnon``, the process's own memory (the pages of the map are file pages,
``RssFile``, which the kernel drops when memory is short, so they do not count against
the machine's memory the way ``anon`` does).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

WAYS = ("mapped", "chunks", "memory")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES = 100


def _status() -> dict[str, float]:
    """This process's memory fields from ``/proc/self/status``, in MiB."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def write_data(folder: str, rows: int, seed: int = 0) -> tuple[str, str]:
    """Write ``X.npy`` (rows x 100 float32, in blocks) and ``y.npy``; return their paths."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=FEATURES).astype(np.float32)
    x_path, y_path = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    y = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, 100_000):
        block = rng.normal(size=(min(100_000, rows - start), FEATURES)).astype(np.float32)
        X[start : start + len(block)] = block
        y[start : start + len(block)] = block @ w > 0
    X.flush()
    del X
    np.save(y_path, y)
    return x_path, y_path


def child(way: str, x_path: str, y_path: str) -> dict:
    """Train one epoch reading ``X`` the given way; return rows/s and memory."""
    import chainrule
    from chainrule import Dense, Network, ReLU, Softmax

    y = np.load(y_path)
    X = np.load(x_path) if way == "memory" else np.load(x_path, mmap_mode="r")
    network = Network(
        [Dense(64), ReLU(), Dense(2), Softmax()],
        loss="categorical_crossentropy",
        optimizer="adam",
        dtype="float32",
        seed=0,
    )
    network.build(FEATURES)
    start = time.perf_counter()
    if way == "chunks":
        network.fit(chainrule.array_chunks(X, y, chunk_rows=50_000), epochs=1, batch_size=256)
    else:
        network.fit(X, y, epochs=1, batch_size=256)
    seconds = time.perf_counter() - start
    memory = _status()
    return {
        "way": way,
        "rows": len(y),
        "seconds": seconds,
        "rows_per_s": len(y) / seconds,
        "peak_mb": memory["VmHWM"],
        "anon_mb": memory["RssAnon"],
        "file_mb": memory["RssFile"],
        "loss": network.evaluate(X[:10_000], y[:10_000])["loss"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mapped", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1000000)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    with tempfile.TemporaryDirectory(prefix="chainrule-mapped-") as folder:
        x_path, y_path = write_data(folder, args.rows)
        size = os.path.getsize(x_path) / 2**20
        print(f"X.npy: {args.rows:,} x {FEATURES} float32, {size:,.0f} MB")
        print(f"{'way':<8} {'rows/s':>10} {'peak MB':>8} {'anon MB':>8} {'file MB':>8} {'loss':>7}")
        for way in WAYS:
            command = [sys.executable, "-m", "benchmarks.mapped", "--child", way, x_path, y_path]
            out = subprocess.run(
                command, check=True, capture_output=True, text=True, cwd=ROOT
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{way:<8} {r['rows_per_s']:>10,.0f} {r['peak_mb']:>8,.0f} "
                f"{r['anon_mb']:>8,.0f} {r['file_mb']:>8,.0f} {r['loss']:>7.4f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
