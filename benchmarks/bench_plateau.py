"""The plateau workload: does training slow down as it goes on?

Inputs uniform in [0, 1) (60,000 x 784 float32, like pixels), random labels 0..9 (there
is nothing to learn, so training sits on a plateau), 784-256-10 ReLU, Adam 1e-3,
batch 256, 10 epochs. Many ReLU units die on such data, their weights' gradients are
exactly 0, and Adam's first moments of those weights decay by ``beta_1`` at every step
until they are subnormal floats, whose arithmetic is slow on most CPUs: the late
epochs get slower than the first ones. ``last/first`` (last epoch's time over the
first's) measures it; ``late/early`` (the median of the last 3 epochs over that of the
first 3) says the same with less weight on one epoch a neighbour's burst of work slowed.

Each library trains its own model from its initial weights for 10 epochs, the epochs
interleaved between libraries (epoch 1 of each, then epoch 2 of each, ...) so that
machine load is shared. Before that, a throwaway model of each library trains on a
few batches, and each timed model prepares the data (JAX copies it to its device and
compiles its step for its shapes), so epoch 1 holds no one-off costs.

Contenders: chainrule in its default kernel mode (``CHAINRULE_KERNELS``, by default
``"auto"``: the compiled kernels when numba is installed) and in the NumPy kernel mode
(``"numpy"``: no compiled accelerator), scikit-learn float32, JAX jit, PyTorch with
its default Adam and with ``Adam(fused=True)``. At the end, each row's note counts the
subnormal values among Adam's first moments (``0 < |m| < np.finfo(np.float32).tiny``)
and the zeros.
"""

from __future__ import annotations

import numpy as np

from benchmarks import common, contenders
from benchmarks.common import blas_threads, epoch_flops, median, short_note, time_interleaved

NAME = "plateau"
GROUP = "plateau"
EPOCHS = 10
BATCH = 256
HIDDEN = (256,)
#: rows of data: in a full run, and with ``--quick``
ROWS, QUICK_ROWS = 60_000, 6_000


def make_plateau_data(n_rows: int, n_features: int = 784, n_classes: int = 10, seed: int = 13):
    """Inputs uniform in [0, 1) (float32) and random integer labels: nothing to learn."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_rows, n_features), dtype=np.float32)
    y = rng.integers(0, n_classes, n_rows)
    return X, y


def subnormal_count(values: np.ndarray) -> int:
    """How many of ``values`` are subnormal: ``0 < |v| < finfo(dtype).tiny``."""
    magnitude = np.abs(values)
    tiny = np.finfo(values.dtype).tiny
    return int(np.count_nonzero((magnitude > 0) & (magnitude < tiny)))


def lineup() -> list[tuple[str, str, str | None, str | None]]:
    """``(label, library, chainrule kernel mode, why skipped)`` for every contender."""
    return [
        ("chainrule", "chainrule", None, None),
        ("chainrule numpy kernels", "chainrule", "numpy", None),
        ("scikit-learn", "scikit-learn", None, None),
        *(
            (lib, lib, None, contenders.missing_reason(lib))
            for lib in ("JAX jit", "PyTorch", "PyTorch fused Adam")
        ),
    ]


def run(args) -> list[dict]:
    """Train every contender 10 epochs, interleaved; one row per contender."""
    rows_n = QUICK_ROWS if args.quick else ROWS
    n_features, n_classes = 784, 10
    X, y = make_plateau_data(rows_n, n_features, n_classes)
    sizes = [n_features, *HIDDEN, n_classes]
    workload = f"plateau {'-'.join(map(str, sizes))}, {rows_n} x {n_features} in [0, 1), "
    workload += f"random labels, batch {BATCH}"
    spec = {
        "hidden": list(HIDDEN),
        "task": "multiclass",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": BATCH,
        "n_classes": n_classes,
        "n_features": n_features,
    }
    threads = blas_threads()
    # the warm-up rows: two full batches and one of the last batch's size
    warm = 2 * BATCH + rows_n % BATCH
    models, results, contestants = {}, [], lineup()
    for label, library, mode, skip in contestants:
        if skip is not None:
            print(f"  {skip}")
            results.append(common.skipped_row(GROUP, workload, label, skip))
            continue
        contenders.make(library, spec, "float32", threads, kernels=mode).warm_up(X[:warm], y[:warm])
        model = contenders.make(library, spec, "float32", threads, kernels=mode)
        model.prepare(X, y)
        models[label] = model
    print(f"  {workload}: {len(models)} contenders, {EPOCHS} epochs each", flush=True)
    calls = {label: (lambda m=m: m.epoch(X, y)) for label, m in models.items()}
    others: dict[str, list[float]] = {}
    times = time_interleaved(calls, EPOCHS, budget=120.0, others=others)
    flops = epoch_flops(sizes, rows_n)
    for label, t in times.items():
        row = {
            "group": GROUP,
            "workload": workload,
            "library": label,
            "dtype": "float32",
            "seconds": median(t),
            "times": t,
            "last_over_first": t[-1] / t[0],
            "late_over_early": median(t[-3:]) / median(t[:3]),
            "gflop": flops / 1e9,
        }
        notes = [short_note(t, EPOCHS).get("note")]
        if isinstance(models[label], contenders.ChainruleModel):
            notes.append(f"kernel mode {models[label].mode}")
        if label in others:
            row["others_cpu"] = others[label]
            notes.append(common.disturbed_note(t, others[label]))
        moments = models[label].first_moments()
        if moments is not None:
            row["subnormal_first_moments"] = subnormal_count(moments)
            row["zero_first_moments"] = int(np.count_nonzero(moments == 0))
            row["first_moments"] = int(moments.size)
            notes.append(
                f"after {len(t)} epochs, {row['subnormal_first_moments']:,} of Adam's "
                f"{moments.size:,} first moments are subnormal "
                f"({row['zero_first_moments']:,} exactly 0)"
            )
        row["note"] = "; ".join(filter(None, notes))
        epochs = ", ".join(f"{s:.3f}" for s in t)
        print(f"    {label:24s} last/first {row['last_over_first']:.2f}: {epochs}", flush=True)
        results.append(row)
    # in the table's order: chainrule's rows, then the peers
    order = {label: i for i, (label, *_) in enumerate(contestants)}
    return sorted(results, key=lambda row: order.get(row["library"], len(order)))
