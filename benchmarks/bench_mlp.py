"""MNIST-sized workloads: 60,000 x 784 float32, 10 classes, ReLU, Adam, batch 256.

Networks 784-256-10 and 784-512-512-10. Per network, in one process on the same
data: chainrule (float32), scikit-learn's MLPClassifier (float32 and float64),
PyTorch (float32, same thread count) with its default Adam and with
``Adam(fused=True)``, JAX with a jitted training step (float32, XLA's thread pool: one
thread per core) when installed, and the matrix-multiply limit. Each contender trains
one epoch as a warm-up (JAX compiles its step there), then ``repeats`` epochs
interleaved with the others; the table shows the median.
"""

from __future__ import annotations

from benchmarks import common, contenders
from benchmarks.common import (
    blas_threads,
    epoch_flops,
    gemm_product,
    make_classification,
    measure_memory,
    median,
    short_note,
    time_interleaved,
)

NAME = "mlp"
GROUP = "mnist-sized"
NETWORKS = ((256,), (512, 512))


def run(args) -> list[dict]:
    """Time every contender on both networks; rows as described in ``benchmarks.common``."""
    rows_n = 6_000 if args.quick else 60_000
    n_features, n_classes = 784, 10
    X, y = make_classification(rows_n, n_features, n_classes, seed=0)
    threads = blas_threads()
    peers = ("JAX jit", "PyTorch", "PyTorch fused Adam")
    skips = {lib: contenders.missing_reason(lib) for lib in peers}
    for reason in filter(None, skips.values()):
        print(f"  {reason}")
    X64 = None
    results = []
    for hidden in NETWORKS:
        sizes = [n_features, *hidden, n_classes]
        arch = "-".join(map(str, sizes))
        workload = f"{arch}, {rows_n} x {n_features}, batch 256"
        spec = {
            "hidden": list(hidden),
            "task": "multiclass",
            "optimizer": "adam",
            "lr": 1e-3,
            "batch_size": 256,
            "n_classes": n_classes,
            "n_features": n_features,
        }
        # PyTorch last but scikit-learn float64: what runs right after PyTorch pays for
        # its spinning threads, and that should not be chainrule or a float32 peer
        lineup = [("chainrule", "float32"), ("scikit-learn", "float32")]
        lineup += [(lib, "float32") for lib in peers if skips[lib] is None]
        lineup.append(("scikit-learn", "float64"))
        models, data = {}, {}
        for library, dtype in lineup:
            if dtype == "float64" and X64 is None:
                X64 = X.astype("float64")
            key = f"{library} {dtype}"
            models[key] = contenders.make(library, spec, dtype, threads)
            data[key] = X if dtype == "float32" else X64
        print(f"  {workload}: warm-up epoch for {len(models)} contenders", flush=True)
        for key, model in models.items():
            model.warm_up(data[key], y)
            model.prepare(data[key], y)
        calls = {key: (lambda m=m, d=data[key]: m.epoch(d, y)) for key, m in models.items()}
        # the limit is timed in the same rounds, so it sees the same machine load
        calls["limit"] = gemm_product(args.gemm_size)
        others: dict[str, list[float]] = {}
        times = time_interleaved(calls, args.repeats, others=others)
        gemm_seconds = times.pop("limit")
        args.gemm_rate = max(args.gemm_rate, 2.0 * args.gemm_size**3 / min(gemm_seconds))
        flops = epoch_flops(sizes, rows_n)
        for (library, dtype), (key, t) in zip(lineup, times.items(), strict=True):
            row = {
                "group": GROUP,
                "workload": workload,
                "library": library,
                "dtype": dtype,
                "seconds": median(t),
                "times": t,
                **short_note(t, args.repeats),
                "gflop": flops / 1e9,
            }
            if key in others:
                row["others_cpu"] = others[key]
                disturbed = common.disturbed_note(t, others[key])
                if disturbed:
                    row["note"] = "; ".join(filter(None, (row.get("note"), disturbed)))
            # --quick measures memory for chainrule only (each child costs seconds)
            if args.memory and dtype == "float32" and (library == "chainrule" or not args.quick):
                mem = measure_memory(
                    {
                        "library": library,
                        "spec": spec,
                        "rows": rows_n,
                        "dtype": dtype,
                        "threads": threads,
                    }
                )
                row.update(mem if "error" not in mem else {"note": f"memory: {mem['error']}"})
            results.append(row)
            print(f"    {key:28s} {row['seconds']:.3f} s/epoch", flush=True)
        for lib in peers:
            if skips[lib] is not None:
                results.append(common.skipped_row(GROUP, workload, lib, skips[lib]))
        results.append(
            {
                "group": GROUP,
                "workload": workload,
                "library": "limit",
                "dtype": "float32",
                "seconds": flops / args.gemm_rate,
                "times": [],
                "gflop": flops / 1e9,
                "note": f"{flops / 1e9:.1f} GFLOP at {args.gemm_rate / 1e9:.0f} GFLOP/s",
            }
        )
    return results
