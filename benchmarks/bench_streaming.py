"""Streaming: ``chainrule train --stream`` on a CSV file larger than memory.

A generated CSV (``CHAINRULE_BENCH_STREAM_MB`` megabytes, default 2100; 210 with
``--quick``): 8 number columns, a text column of 5 categories and a 0/1 label that
depends on them (a classifier can learn it), written into a temporary folder. Each
run is ``chainrule train`` (one epoch, hidden 32, batch 256, 5 % held out) in a child
Python that resets its peak resident set (``VmHWM``, as :mod:`benchmarks.memchild`
does) before the command and reports it after; the model file tells the epoch's
seconds.

Rows:

- ``streamed``: the whole file, ``--stream --chunk-rows 50000``;
- ``streamed, a tenth``: the first tenth of the rows, streamed (peak memory must not
  grow with the file: compare with the row above);
- ``in memory, a tenth``: the same tenth read whole (``--no-stream``), the speed to
  compare with, and the memory a whole file costs.

Rows per second are the epoch's (training and scoring the held-out rows), without the
first pass. "Fit adds" is the peak over the resident set with NumPy, pandas and
chainrule imported, before the command starts. Memory, not time, is the target: the
streamed peak stays under 500 MB for any file size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

NAME = "streaming"
GROUP = "streaming"
#: file size in MB: full run, and with --quick (``CHAINRULE_BENCH_STREAM_MB`` wins)
SIZE_MB, QUICK_SIZE_MB = 2100, 210
CHUNK_ROWS = 50_000
_TRAIN = ["--epochs", "1", "--hidden", "32", "--batch-size", "256"]
_TRAIN += ["--validation-fraction", "0.05", "--patience", "0", "--quiet"]


def write_csv(path: str, megabytes: float, seed: int = 0, block: int = 200_000) -> int:
    """Write the benchmark's CSV of about ``megabytes`` MB at ``path``; returns its rows."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    target = megabytes * 1e6
    rows = 0
    with open(path, "w", newline="") as f:
        header = True
        while f.tell() < target:
            X = rng.normal(size=(block, 8)).round(4)
            colour = rng.choice(np.array(["red", "green", "blue", "cyan", "grey"]), block)
            logit = X[:, 0] - 2 * X[:, 1] + X[:, 2] * X[:, 3] + (colour == "red")
            frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
            frame["colour"] = colour
            frame["label"] = (logit + 0.3 * rng.normal(size=block) > 0).astype(int)
            frame.to_csv(f, index=False, header=header)
            header, rows = False, rows + block
    return rows


def head_csv(path: str, out: str, rows: int) -> None:
    """The header and the first ``rows`` data rows of ``path`` into ``out``."""
    with open(path) as src, open(out, "w") as dst:
        for i, line in enumerate(src):
            if i > rows:
                break
            dst.write(line)


def child(argv: list[str]) -> int:
    """In the child: reset the peak, run ``chainrule`` with ``argv``, print JSON."""
    import pandas  # noqa: F401  (imported before: "fit adds" is what the command adds)

    from benchmarks.memchild import _reset_peak, _status_mb
    from chainrule import io
    from chainrule.cli import main

    reset = _reset_peak()
    before = _status_mb("VmRSS")
    started = time.perf_counter()
    code = main(argv)
    wall = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    out = argv[argv.index("--out") + 1]
    model = io.load(out) if code == 0 else None
    history = model.network_.history.history if model is not None else {}
    report = {
        "code": code,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "peak_reset": reset,
        "wall_seconds": wall,
        "epoch_seconds": float(history["seconds"][0]) if history.get("seconds") else None,
        "rows": model.training_["rows"] if model is not None else None,
        "val_accuracy": float(history["val_accuracy"][-1]) if "val_accuracy" in history else None,
    }
    print(json.dumps(report))
    return code


def measure(argv: list[str], timeout: float = 3600.0) -> dict:
    """Run :func:`child` in a fresh Python; its report."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    src = os.path.join(root, "src")
    if os.path.isdir(src):  # this checkout's chainrule, not another installed one
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "benchmarks.bench_streaming", json.dumps(argv)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root, env=env)
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        return {"error": tail}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(workload: str, library: str, report: dict, mb: float) -> dict:
    if "error" in report:
        return {
            "group": GROUP,
            "workload": workload,
            "library": library,
            "seconds": None,
            "note": f"failed: {report['error']}",
        }
    seconds = report["epoch_seconds"]
    rate = report["rows"] / seconds
    note = (
        f"{mb:.0f} MB CSV, {report['rows']:,} rows: {rate:,.0f} rows/s per epoch; peak RSS "
        f"{report['peak_rss_mb']:.0f} MB; whole command {report['wall_seconds']:.0f} s"
    )
    if report.get("val_accuracy") is not None:
        note += f"; validation accuracy {report['val_accuracy']:.3f}"
    return {
        "group": GROUP,
        "workload": workload,
        "library": library,
        "dtype": "float32",
        "seconds": seconds,
        "times": [seconds],
        "rows_per_second": rate,
        "rows": report["rows"],
        "file_mb": mb,
        "peak_rss_mb": report["peak_rss_mb"],
        "fit_rss_mb": max(0.0, report["peak_rss_mb"] - report["rss_before_mb"]),
        "note": note,
    }


def run(args) -> list[dict]:
    """Generate the file, train on it streamed and (a tenth) in memory; three rows."""
    default = QUICK_SIZE_MB if getattr(args, "quick", False) else SIZE_MB
    megabytes = float(os.environ.get("CHAINRULE_BENCH_STREAM_MB", default))
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="chainrule-stream-") as folder:
        big = os.path.join(folder, "big.csv")
        started = time.perf_counter()
        # rows are ~66 bytes: blocks of a tenth of the file at most, 200,000 rows at most
        n_rows = write_csv(big, megabytes, block=min(200_000, int(megabytes * 1e6 / 660) + 1))
        mb = os.path.getsize(big) / 1e6
        print(f"  wrote {mb:.0f} MB ({n_rows:,} rows) in {time.perf_counter() - started:.0f} s")
        tenth = os.path.join(folder, "tenth.csv")
        head_csv(big, tenth, max(1, n_rows // 10))
        tenth_mb = os.path.getsize(tenth) / 1e6
        model = os.path.join(folder, "model.npz")
        common = ["--target", "label", "--out", model, *_TRAIN]
        stream = ["--stream", "--chunk-rows", str(CHUNK_ROWS)]
        workload = "CSV 8 numbers + 1 text -> 0/1, 10-32-2, batch 256, 1 epoch"
        runs = [
            ("chainrule streamed", ["train", big, *common, *stream], mb),
            ("chainrule streamed, a tenth", ["train", tenth, *common, *stream], tenth_mb),
            ("chainrule in memory, a tenth", ["train", tenth, *common, "--no-stream"], tenth_mb),
        ]
        for label, argv, size in runs:
            report = measure(argv)
            row = _row(workload, label, report, size)
            print(f"  {label}: {row['note']}", flush=True)
            rows_out.append(row)
    return rows_out


if __name__ == "__main__":
    sys.exit(child(json.loads(sys.argv[1])))
