"""Shared pieces of the benchmark suite: data, timing, the GEMM limit, memory, machine.

A benchmark module exposes ``NAME`` (what ``--only`` matches) and
``run(args) -> list[dict]``; each dict is one row of the results table:

``group``      workload family, e.g. ``"mnist-sized"`` or ``"small"``
``workload``   e.g. ``"784-256-10, 60000 x 784, batch 256"``
``library``    ``"chainrule"``, ``"scikit-learn"``, ``"PyTorch"``, ``"PyTorch fused Adam"``,
               ``"JAX jit"`` or ``"limit"`` (the plateau adds chainrule's kernel modes)
``dtype``      ``"float32"`` / ``"float64"``
``seconds``    median seconds per epoch (``None`` when skipped)
``times``      every measured epoch, in seconds
optional: ``peak_rss_mb``, ``fit_rss_mb`` (resident memory of a fit, measured
in a child process), ``gflop`` (matrix-product work of one epoch), ``note``,
``last_over_first`` (``times`` are consecutive epochs of one model, in order: the
markdown shows them epoch by epoch), ``others_cpu`` (CPU seconds other processes used
during each timed epoch: see :func:`others_cpu_clock`).

The runner adds, among rows that share a ``workload``, the ratio to scikit-learn
(``vs_sklearn``: same dtype when there is one, else float32), to PyTorch
(``vs_pytorch``), to PyTorch with fused Adam (``vs_pytorch_fused``), to JAX
(``vs_jax``) and the fraction of the limit (``fraction_of_limit``).
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np


def make_classification(n_rows: int, n_features: int, n_classes: int, seed: int = 0):
    """Synthetic float32 data: Gaussian clusters around one random centre per class."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_rows)
    centres = rng.standard_normal((n_classes, n_features), dtype=np.float32)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    X *= np.float32(2.0)
    for lo in range(0, n_rows, 4096):  # in chunks: no temporary as large as X
        X[lo : lo + 4096] += centres[y[lo : lo + 4096]]
    return X, y


def others_cpu_clock() -> Callable[[], float] | None:
    """A clock of the CPU time *other* processes have used, in seconds, or None.

    It reads the busy time of all CPUs (``/proc/stat``: user, nice, system, irq,
    softirq and steal, the time a hypervisor gave to other machines) and subtracts
    this process's own (``os.times``). The difference between two readings is how much
    CPU the rest of the machine took meanwhile: about 0 in a quiet run. None where
    ``/proc/stat`` cannot be read.
    """
    try:
        hz = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            f.readline()
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not Linux
        return None

    def clock() -> float:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        own = os.times()
        return (user + nice + system + irq + softirq + steal) / hz - own.user - own.system

    return clock


#: an epoch is *disturbed* when other processes used more CPU time during it than
#: this fraction of its wall time (a quarter of a core on average)
DISTURBED = 0.25


def disturbed_note(times: Sequence[float], others: Sequence[float]) -> str | None:
    """A note naming the epochs during which other processes used the CPU, or None."""
    hit = [
        (i + 1, o) for i, (t, o) in enumerate(zip(times, others, strict=False)) if o > DISTURBED * t
    ]
    if not hit:
        return None
    listed = ", ".join(f"{o:.1f} CPU-s in epoch {i}" for i, o in hit)
    return (
        f"{len(hit)} of {len(times)} timed epochs disturbed by other processes ({listed}); "
        "compare the best epoch"
    )


def time_interleaved(
    contenders: dict[str, Callable[[], object]],
    repeats: int,
    pause: float = 0.1,
    budget: float = 60.0,
    others: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Call every contender once per round, ``repeats`` rounds, interleaved.

    Interleaving spreads the noise of a shared machine over all contenders alike;
    compare medians and ratios, not single times. ``pause`` seconds (untimed) after
    each call let the previous library's worker threads stop spinning (PyTorch's
    OpenMP threads otherwise slow down whatever runs next). A contender whose calls
    have taken more than ``budget`` seconds in total is not called again (on an
    overloaded machine threaded libraries can slow down a hundredfold), so a run
    always ends; its list then holds fewer than ``repeats`` times.

    Given a dict ``others``, it receives for every contender the CPU seconds other
    processes used during each of its calls (:func:`others_cpu_clock`; nothing where
    that clock is missing).
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    clock = others_cpu_clock() if others is not None else None
    if clock is not None:
        others.update({name: [] for name in contenders})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at max_iter=1
        for _ in range(repeats):
            for name, fn in contenders.items():
                if sum(times[name]) > budget:
                    continue
                before = clock() if clock is not None else 0.0
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
                if clock is not None:
                    others[name].append(max(0.0, clock() - before))
                time.sleep(pause)
    return times


def short_note(times: Sequence[float], repeats: int) -> dict:
    """``{"note": ...}`` when the time budget cut a contender's repeats, else ``{}``."""
    if len(times) >= repeats:
        return {}
    return {"note": f"only {len(times)} of {repeats} epochs timed (time budget; machine busy?)"}


def skipped_row(group: str, workload: str, library: str, note: str) -> dict:
    """A result row for a contender that could not run (the note says why)."""
    return {
        "group": group,
        "workload": workload,
        "library": library,
        "dtype": "float32",
        "seconds": None,
        "times": [],
        "note": note,
    }


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(np.median(np.asarray(values, dtype=np.float64)))


def gemm_product(size: int = 4096) -> Callable[[], object]:
    """A function computing one float32 ``A @ B`` of ``size x size`` matrices
    (``2 size**3`` flops), already run once (threads started, pages touched)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)

    def product():
        return np.matmul(a, b, out=out)

    product()
    return product


def gemm_rate(size: int = 4096, repeats: int = 3) -> float:
    """This machine's float32 matrix-multiply rate in flop/s: best of ``repeats``
    square products of ``size``. Benchmarks also time the product interleaved with
    their contenders and keep the best rate seen (``args.gemm_rate``)."""
    product = gemm_product(size)
    best = min(_timed(product) for _ in range(repeats))
    return 2.0 * size**3 / best


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def epoch_flops(layer_sizes: Sequence[int], n_rows: int) -> float:
    """Flops of one epoch's matrix products for a dense network of ``layer_sizes``.

    Per row and layer ``in x out``: ``2 in out`` forward, ``2 in out`` for the
    weight gradient, and ``2 in out`` for the input gradient except in the first
    layer (nothing consumes the gradient with respect to ``X``).
    """
    total = 0
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(layer_sizes)):
        products = 2 if i == 0 else 3
        total += products * 2 * fan_in * fan_out
    return float(total) * n_rows


def blas_threads() -> int:
    """Threads NumPy's BLAS uses (from threadpoolctl), else the CPU count."""
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
                return int(pool["num_threads"])
    except ImportError:  # pragma: no cover
        pass
    return os.cpu_count() or 1


def threading_check(steps: int = 72, repeats: int = 9) -> float | None:
    """Time of a small training step with all BLAS threads over its time with one.

    A digits-sized chainrule step (64-100-10, float64, batch 200) is short enough
    that threaded BLAS only pays when the other cores are free: about 0.87 on the
    2-core machine of the README when quiet. At 1 or above, the other cores were
    most likely busy elsewhere (on a shared virtual machine, often outside it), and
    threaded timings, small ones most, are slow for every library. The two settings
    alternate, so a change of load affects both. ``None`` without threadpoolctl or
    with a one-thread BLAS (nothing to compare).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return None
    if blas_threads() <= 1:
        return None
    from benchmarks.contenders import chainrule_network

    rng = np.random.default_rng(0)
    X = rng.random((1800, 64))
    y = rng.integers(0, 10, 1800)
    net = chainrule_network((100,), 64, 10, "float64", batch_size=200)
    start = net.params.copy()
    batches = [slice(i, i + 200) for i in range(0, 1800, 200)]

    def run():
        net.params[...] = start
        net.optimizer.build(net.params)
        for i in range(steps):
            b = batches[i % len(batches)]
            net.train_step(X[b], y[b])

    times: dict[int | None, list[float]] = {None: [], 1: []}
    for _ in range(repeats + 1):  # the first round warms up
        for limit in times:
            with threadpool_limits(limits=limit, user_api="blas"):
                t = time.perf_counter()
                run()
                times[limit].append(time.perf_counter() - t)
    return median(times[None][1:]) / median(times[1][1:])


def machine_info() -> dict:
    """CPU model, cores, Python, library versions and the BLAS kernels in use."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:  # pragma: no cover
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "env": {
            k: os.environ[k]
            for k in (
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
            )
            if k in os.environ
        },
    }
    for name in ("sklearn", "torch", "chainrule"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    for name in ("jax", "numba"):  # versions without importing them (JAX starts threads)
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                k: pool.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "architecture",
                    "num_threads",
                    "threading_layer",
                )
            }
            | {"library": os.path.basename(pool.get("filepath", ""))}
            for pool in threadpool_info()
            if pool.get("user_api") == "blas"
        ]
    except ImportError:  # pragma: no cover
        info["blas"] = []
    return info


def measure_memory(spec: dict, timeout: float = 600.0) -> dict:
    """Run one fit in a fresh Python (``benchmarks.memchild``) and return what it reports.

    The child builds the data, records its resident set before the fit, fits one
    epoch and reports the peak (``VmHWM``), so peaks of different libraries
    never mix.
    """
    cmd = [sys.executable, "-m", "benchmarks.memchild", json.dumps(spec)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0]}
    return json.loads(done.stdout.strip().splitlines()[-1])
