"""The benchmark command runs end to end (a smoke run; timings are never asserted)."""

import json

import pytest

pytest.importorskip("sklearn", reason="the benchmark compares with scikit-learn")

from benchmarks.common import blas_threads
from benchmarks.runner import main


def test_quick_benchmark_writes_its_json_and_table(tmp_path, capsys):
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["--quick", "--only", "small", "--no-memory", "--repeats", "1"]
    assert main([*argv, "--json", str(out_json), "--markdown", str(out_md)]) == 0
    result = json.loads(out_json.read_text())
    libraries = {row["library"] for row in result["rows"] if row.get("seconds")}
    assert {"chainrule", "scikit-learn"} <= libraries
    assert result["gemm_gflops"] > 0
    assert all(r["seconds"] > 0 for r in result["rows"] if r.get("seconds") is not None)
    table = out_md.read_text()
    assert "8-64-1" in table and "lesson neuron" in table
    assert "vs scikit-learn" in table
    checks = result["threading_check"]  # all BLAS threads over one, on a small step
    if blas_threads() > 1:
        assert list(checks) == ["start", "after small"] and min(checks.values()) > 0
        assert f"{checks['start']:.2f}x start, {checks['after small']:.2f}x after small" in table
    else:  # nothing to compare with one BLAS thread
        assert checks is None and "Threaded-BLAS check" not in table


def test_step_breakdown_prints_every_part(capsys):
    from benchmarks.breakdown import main as breakdown_main

    breakdown_main(["--rows", "2000", "--repeats", "1", "--mode", "numpy", "--mode", "off"])
    table = capsys.readouterr().out
    assert "784-256-10" in table and "784-512-512-10" in table
    lines = table.splitlines()
    rows = {line.split("|")[1].strip(): line for line in lines[2:] if line.startswith("| ")}
    assert list(rows) == [
        "matrix products",
        "Adam",
        "gather",
        "the rest",
        "whole step",
        "all but the products",
    ]
    assert "784-256-10 numpy" in lines[0] and "784-512-512-10 off" in lines[0]
    for part in ("matrix products", "Adam", "gather"):  # timed on their own: never 0 us
        cells = rows[part].split("|")[2:6]
        assert all(int(cell.split("(")[1].split()[0]) > 0 for cell in cells), rows[part]
    assert lines[-1].startswith("Threaded-BLAS check: ") == (blas_threads() > 1)
