"""``python -m benchmarks``: run the benchmark modules, write JSON and a markdown table.

Benchmark modules are listed in ``MODULES``; each exposes ``NAME`` and
``run(args) -> list[dict]`` (rows as described in :mod:`benchmarks.common`). A listed
module that is not there (``bench_estimators`` is optional) is skipped with a note.

Recommended command (this machine sets ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``,
which pin an older OpenBLAS kernel; unset both for this command only)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import sys
import time

from benchmarks.common import DISTURBED, gemm_rate, machine_info, median, threading_check

#: benchmark modules, in the order they run
MODULES = (
    "benchmarks.bench_mlp",
    "benchmarks.bench_small",
    "benchmarks.bench_estimators",
    "benchmarks.bench_activations",
    "benchmarks.bench_plateau",
    "benchmarks.bench_search",
    "benchmarks.bench_streaming",
)

#: the peers every row is compared with, among rows of the same workload:
#: (row key, the peer's library, column title)
PEERS = (
    ("vs_pytorch", "PyTorch", "vs PyTorch"),
    ("vs_pytorch_fused", "PyTorch fused Adam", "vs PyTorch fused"),
    ("vs_jax", "JAX jit", "vs JAX jit"),
)

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="chainrule against scikit-learn, PyTorch, JAX and the matrix-multiply limit.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small smoke run: a tenth of the rows, 3 repeats, smaller GEMM",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this benchmark module (mlp, small, estimators, activations, "
        "plateau, search, streaming); repeatable or comma-separated",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed epochs per contender (median reported); default 5, 3 with --quick",
    )
    parser.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the peak-memory child processes",
    )
    parser.add_argument(
        "--json",
        default=None,
        help="where to write the JSON results (default: "
        "benchmarks/results/latest.json, quick.json with --quick)",
    )
    parser.add_argument(
        "--markdown",
        default=None,
        help="where to write the markdown table (default: benchmarks/RESULTS.md; "
        "with --quick the table is only printed)",
    )
    args = parser.parse_args(argv)
    args.only = {name.strip() for item in args.only for name in item.split(",") if name.strip()}
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.json is None:
        args.json = os.path.join(HERE, "results", "quick.json" if args.quick else "latest.json")
    if args.markdown is None and not args.quick:
        args.markdown = os.path.join(HERE, "RESULTS.md")
    return args


def load_modules(only: set[str]) -> tuple[list, list[str]]:
    """Import the benchmark modules (those named in ``only``, if given)."""
    found, notes = [], []
    for path in MODULES:
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name != path:
                raise
            notes.append(f"{path} not present: skipped")
            continue
        name = getattr(module, "NAME", path.rsplit(".", 1)[-1].removeprefix("bench_"))
        if only and name not in only:
            continue
        found.append((name, module))
    unknown = only - {name for name, _ in found}
    if unknown:
        known = sorted({name for name, _ in found} | {p.rsplit("_", 1)[-1] for p in MODULES})
        raise SystemExit(f"--only: unknown benchmark(s) {sorted(unknown)}; known: {known}")
    return found, notes


def add_ratios(rows: list[dict]) -> None:
    """Per workload: the ratio to scikit-learn, to each of :data:`PEERS` (PyTorch,
    PyTorch with fused Adam, JAX), and the fraction of the limit.

    chainrule and the peers' rows are compared with scikit-learn in the same dtype when
    the workload has it, else with scikit-learn float32; scikit-learn rows with
    scikit-learn float32. ``vs_sklearn_dtype`` says which.
    """
    refs: dict[str, dict[str, float]] = {}
    peers = {library for _, library, _ in PEERS} | {"limit"}
    for row in rows:
        if row.get("seconds") is None:
            continue
        mine = refs.setdefault(row["workload"], {})
        if row["library"] == "scikit-learn":
            mine[f"sklearn {row.get('dtype')}"] = row["seconds"]
        elif row["library"] in peers:
            mine[row["library"]] = row["seconds"]
    for row in rows:
        mine, s = refs.get(row["workload"], {}), row.get("seconds")
        if s is None or row["library"] == "limit":
            continue
        dtype = row.get("dtype", "float32")
        if row["library"] == "scikit-learn" or f"sklearn {dtype}" not in mine:
            dtype = "float32"
        if f"sklearn {dtype}" in mine:
            row["vs_sklearn"] = s / mine[f"sklearn {dtype}"]
            row["vs_sklearn_dtype"] = dtype
        for key, library, _ in PEERS:
            if library in mine:
                row[key] = s / mine[library]
        if "limit" in mine:
            row["fraction_of_limit"] = mine["limit"] / s


def markdown(result: dict) -> str:
    """The results as a markdown section: date, machine, command, one table."""
    m = result["machine"]
    blas = "; ".join(
        f"{b['library']} {b.get('internal_api')} {b.get('version')} kernel "
        f"{b.get('architecture')}, {b.get('num_threads')} threads"
        for b in m.get("blas", [])
    )
    lines = [
        f"Measured {result['date']} with `{result['command']}`",
        f"(median of {result['repeats']} epochs after a warm-up epoch, interleaved).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, NumPy {m['numpy']}, "
        f"scikit-learn {m.get('sklearn')}, PyTorch {m.get('torch') or 'not installed'}, "
        f"JAX {m.get('jax') or 'not installed'}, numba {m.get('numba') or 'not installed'}, "
        f"chainrule {m.get('chainrule')}.",
        f"BLAS (threadpoolctl): {blas or 'unknown'}.",
        f"Matrix-multiply limit: {result['gemm_gflops']:.0f} GFLOP/s (float32 `A @ B`, "
        f"{result['gemm_size']} x {result['gemm_size']}, best of the run; timed between "
        "the contenders' epochs too).",
        *_threading_line(result.get("threading_check")),
        "",
    ]
    # "vs PyTorch" always (as before); the other peers' columns when a row has them
    peers = [
        (key, title)
        for key, _, title in PEERS
        if key == "vs_pytorch" or any(row.get(key) is not None for row in result["rows"])
    ]
    titles = ["s / epoch", "best", "vs scikit-learn", *(t for _, t in peers), "of limit"]
    lines += [
        "| workload | library | " + " | ".join(titles) + " | peak RSS (fit adds) |",
        "| --- | --- | " + " | ".join("---:" for _ in titles) + " | ---: |",
    ]

    def fmt(value, spec):
        return "" if value is None else format(value, spec)

    for row in result["rows"]:
        lib = _label(row)
        seconds = "skipped" if row.get("seconds") is None else f"{row['seconds']:.4g}"
        best = ""
        if row.get("times") and row.get("seconds"):
            # in the row's unit (some modules time whole fits of several epochs)
            best = f"{row['seconds'] * min(row['times']) / median(row['times']):.4g}"
        ratio_sk = fmt(row.get("vs_sklearn"), ".2f")
        if ratio_sk and row.get("vs_sklearn_dtype") != "float32":
            ratio_sk += f" (vs {row['vs_sklearn_dtype']})"
        ratios = [fmt(row.get(key), ".2f") for key, _ in peers]
        limit = fmt(row.get("fraction_of_limit"), ".0%")
        mem = ""
        if row.get("peak_rss_mb") is not None:
            mem = f"{row['peak_rss_mb']:.0f} MB (+{row['fit_rss_mb']:.0f})"
        cells = [row["workload"], lib, seconds, best, ratio_sk, *ratios, limit, mem]
        lines.append("| " + " | ".join(cells) + " |")
    lines += _epochs_table(result["rows"])
    notes = [
        f"{_label(r)} ({r['workload']}): {r['note']}"
        for r in result["rows"]
        if r.get("note") and r["library"] != "limit"
    ]
    notes += result.get("notes", [])
    if notes:
        lines += ["", "Notes:", *(f"- {n}" for n in notes)]
    lines += [
        "",
        "s / epoch is the median, best the fastest epoch (on a busy machine compare the "
        "best ones). Ratios are median seconds per epoch divided by the reference's "
        "(below 1 is faster); "
        '"vs scikit-learn" compares with scikit-learn float32 unless marked. '
        "The limit is the epoch's matrix-product flops (forward, weight gradients, input "
        'gradients except the first layer) divided by the measured rate; "of limit" is '
        "limit time / measured time. Peak RSS is `VmHWM` of a child process that loads "
        'the data and fits one epoch; "fit adds" is the peak minus the resident set just '
        "before `fit` (X already loaded).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    modules, notes = load_modules(args.only)
    for note in notes:
        print(note)
    checks = {"start": threading_check()}
    size = args.gemm_size = 2048 if args.quick else 4096
    args.gemm_rate = gemm_rate(size)
    print(f"float32 GEMM ({size} x {size}): {args.gemm_rate / 1e9:.0f} GFLOP/s", flush=True)
    rows = []
    for name, module in modules:
        print(f"[{name}]", flush=True)
        rows += module.run(args)
        checks[f"after {name}"] = threading_check()
    for row in rows:  # the limit at the best rate the whole run saw
        if row["library"] == "limit" and row.get("gflop"):
            row["seconds"] = row["gflop"] * 1e9 / args.gemm_rate
            row["note"] = f"{row['gflop']:.1f} GFLOP at {args.gemm_rate / 1e9:.0f} GFLOP/s"
    add_ratios(rows)
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(_command(argv)),
        "quick": args.quick,
        "repeats": args.repeats,
        "gemm_size": size,
        "gemm_gflops": args.gemm_rate / 1e9,  # the best rate seen in the run
        # a small step's time with all BLAS threads over one: at the start, after each module
        "threading_check": None if None in checks.values() else checks,
        "machine": machine_info(),
        "notes": notes,
        "rows": rows,
        "wall_seconds": time.perf_counter() - started,
    }
    written = [path for path in (args.json, args.markdown) if path]
    for path in written:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    text = markdown(result)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("# Benchmark results\n\n" + text)
    print()
    print(text)
    print(f"wrote {' and '.join(written)} in {result['wall_seconds']:.0f} s")
    return 0


def _label(row: dict) -> str:
    """The row's library as the table names it (scikit-learn with its dtype)."""
    return row["library"] + (f" {row['dtype']}" if row["library"] == "scikit-learn" else "")


def _epochs_table(rows: list[dict]) -> list[str]:
    """Every epoch's time of the rows that keep them in order (``last_over_first``
    set: the plateau workload), one table per workload; no lines without such rows."""
    lines: list[str] = []
    workloads: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("last_over_first") is not None:
            workloads.setdefault(row["workload"], []).append(row)
    for workload, mine in workloads.items():
        n = max(len(row["times"]) for row in mine)
        lines += [
            "",
            f"Epoch by epoch, {workload} (seconds; each library trains its own model from "
            "its initial weights, the epochs interleaved between libraries):",
            "",
            "| library | "
            + " | ".join(str(i + 1) for i in range(n))
            + " | last/first | late/early |",
            "| --- | " + " | ".join("---:" for _ in range(n)) + " | ---: | ---: |",
        ]
        for row in mine:
            others = row.get("others_cpu") or [0.0] * len(row["times"])
            cells = [
                f"{t:.3f}" + ("*" if o > DISTURBED * t else "")
                for t, o in zip(row["times"], others, strict=False)
            ]
            cells += [""] * (n - len(cells))
            cells += [f"{row['last_over_first']:.2f}", f"{row['late_over_early']:.2f}"]
            lines.append(f"| {_label(row)} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "last/first is the last epoch's time over the first's; late/early the median of "
            "the last 3 epochs over that of the first 3 (less sensitive to one slow epoch). "
            "* marks an epoch during which other processes used the CPU (more than "
            f"{DISTURBED:.0%} of a core on average): the machine, not the library, slowed it.",
        ]
    return lines


def _threading_line(checks) -> list[str]:
    """The header line for ``common.threading_check``'s ratios (none without them)."""
    if not checks:
        return []
    rounded = {when: round(ratio, 2) for when, ratio in checks.items()}
    values = ", ".join(f"{ratio:.2f}x {when}" for when, ratio in rounded.items())
    if max(rounded.values()) < 1:
        verdict = "all below 1: the threads helped, the other cores were free"
    else:
        verdict = (
            "1 or more: the threads did not help, most likely because something else "
            "held a core, and threaded timings (small ones most) were slow for every "
            "library around then"
        )
    return [
        f"Threaded-BLAS check (a small training step's time with all threads over one "
        f"thread): {values}; {verdict}."
    ]


def _command(argv: list[str] | None) -> list[str]:
    unset = [f"-u {k}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k not in os.environ]
    prefix = ["env", *unset] if unset else []
    return [*prefix, "python", "-m", "benchmarks", *(sys.argv[1:] if argv is None else argv)]
