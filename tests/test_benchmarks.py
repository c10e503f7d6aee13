"""The benchmark command runs end to end (a smoke run; timings are never asserted)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the benchmark compares with scikit-learn")

from benchmarks import contenders
from benchmarks.common import blas_threads
from benchmarks.runner import add_ratios, main, markdown


def _in_a_child(request) -> bool:
    """Run this test again in a child interpreter and say so (True), unless this is it or
    JAX is not installed (then the test itself says why it skips).

    JAX starts threads when imported, and a process holding them must not fork: later
    tests start subprocesses (JAX warns that this "will likely lead to a deadlock"). So
    the tests that import JAX run where nothing forks after them.
    """
    if os.environ.get("CHAINRULE_TEST_CHILD") == "1" or importlib.util.find_spec("jax") is None:
        return False
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", request.node.nodeid],
        env={**os.environ, "CHAINRULE_TEST_CHILD": "1"},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    return True


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


# ------------------------------------------------------------ issue 13: peers, plateau

TINY_SPEC = {
    "hidden": [16],
    "task": "multiclass",
    "optimizer": "adam",
    "lr": 1e-2,
    "batch_size": 50,
    "n_classes": 3,
    "n_features": 5,
}
TINY_PARAMS = 5 * 16 + 16 + 16 * 3 + 3


def _tiny_data(n=230):
    rng = np.random.default_rng(1)
    return rng.standard_normal((n, 5), dtype=np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("library", contenders.LIBRARIES)
def test_every_contender_trains_and_shows_its_first_moments(library, request):
    if library == "JAX jit" and _in_a_child(request):
        return
    reason = contenders.missing_reason(library)
    if reason is not None:
        pytest.skip(reason)
    X, y = _tiny_data()
    model = contenders.make(library, TINY_SPEC)
    model.warm_up(X[:110], y[:110])
    model.prepare(X, y)
    before = model.first_moments().copy()
    model.epoch(X, y)  # 230 rows: four batches of 50 and one of 30
    moments = model.first_moments()
    assert moments.shape == (TINY_PARAMS,) and moments.dtype == np.float32
    assert not np.array_equal(moments, before)  # the epoch trained: the moments moved
    assert model.library == library


def test_jax_step_is_pytorchs_adam(request):
    """The JAX contender's jitted step trains like PyTorch's default Adam (and its fused
    one) from the same weights on the same batches."""
    if _in_a_child(request):
        return
    for name in ("JAX jit", "PyTorch fused Adam"):
        if contenders.missing_reason(name) is not None:
            pytest.skip(contenders.missing_reason(name))
    import torch

    X, y = _tiny_data(200)
    for fused in (False, True):
        jax_model = contenders.make("JAX jit", TINY_SPEC)
        torch_model = contenders.TorchModel(TINY_SPEC, fused=fused)
        linears = [m for m in torch_model.model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for linear, (w, b) in zip(linears, jax_model.state[0], strict=True):
                linear.weight.copy_(torch.tensor(np.asarray(w).T))
                linear.bias.copy_(torch.tensor(np.asarray(b)))
        jax_model.prepare(X, y)
        _, Xd, yd = jax_model._data
        (params, m, v), t = jax_model.state, jax_model.t
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        for k in range(30):
            idx = np.arange(50 * (k % 4), 50 * (k % 4) + 50, dtype=np.int32)
            params, m, v, t, jax_loss = jax_model.step(params, m, v, t, Xd, yd, idx)
            torch_model.opt.zero_grad()
            torch_loss = torch_model.loss(torch_model.model(Xt[idx]), yt[idx])
            torch_loss.backward()
            torch_model.opt.step()
        assert float(jax_loss) == pytest.approx(torch_loss.item(), rel=1e-5)
        for linear, (w, b) in zip(linears, params, strict=True):
            np.testing.assert_allclose(np.asarray(w).T, linear.weight.detach(), atol=2e-5)
            np.testing.assert_allclose(np.asarray(b), linear.bias.detach(), atol=2e-5)


def test_kernel_mode_sets_chainrules_mode_and_restores_it():
    from chainrule import kernels

    before = kernels.mode()
    for mode, runs in (("numpy", "numpy"), ("off", "off"), ("reference", "off")):
        assert contenders.kernel_mode_available(mode)
        with contenders.kernel_mode(mode):
            assert kernels.mode() == runs
        assert kernels.mode() == before
    with contenders.kernel_mode("default"), contenders.kernel_mode(None):
        assert kernels.mode() == before  # the default mode changes nothing
    assert contenders.kernel_mode_available("numba") == kernels.compiled_available()
    assert not contenders.kernel_mode_available("fastest")
    model = contenders.make("chainrule", TINY_SPEC, kernels="numpy")
    assert model.mode == "numpy" and kernels.mode() == before


def test_ratios_to_every_peer_and_their_columns():
    work = "784-256-10"
    rows = [
        {"workload": work, "library": lib, "dtype": "float32", "seconds": s, "times": [s]}
        for lib, s in (
            ("chainrule", 0.3),
            ("scikit-learn", 0.6),
            ("PyTorch", 0.4),
            ("PyTorch fused Adam", 0.5),
            ("JAX jit", 0.25),
        )
    ]
    add_ratios(rows)
    mine = rows[0]
    assert mine["vs_sklearn"] == pytest.approx(0.5)
    assert mine["vs_pytorch"] == pytest.approx(0.75)
    assert mine["vs_pytorch_fused"] == pytest.approx(0.6)
    assert mine["vs_jax"] == pytest.approx(1.2)
    result = {
        "date": "today",
        "command": "python -m benchmarks",
        "repeats": 1,
        "machine": {"cpu": "cpu", "cores": 2, "python": "3", "numpy": "2", "blas": []},
        "gemm_gflops": 100.0,
        "gemm_size": 64,
        "rows": rows,
    }
    lines = markdown(result).splitlines()
    header = next(line for line in lines if line.startswith("| workload"))
    assert "| vs PyTorch | vs PyTorch fused | vs JAX jit |" in header
    chainrule_line = next(line for line in lines if "| chainrule |" in line)
    assert "| 0.50 | 0.75 | 0.60 | 1.20 |" in chainrule_line
    # without the peers, their columns are left out
    for row in rows:
        row.pop("vs_pytorch_fused"), row.pop("vs_jax")
    assert "vs JAX jit" not in markdown(result)


def test_quick_plateau_trains_every_library_ten_epochs(tmp_path, monkeypatch, request):
    if _in_a_child(request):
        return
    from benchmarks import bench_plateau, runner

    monkeypatch.setattr(bench_plateau, "QUICK_ROWS", 700)  # three batches an epoch
    # the run's other measurements are tested above
    monkeypatch.setattr(runner, "threading_check", lambda: None)
    monkeypatch.setattr(runner, "gemm_rate", lambda size: 1e11)
    out_json, out_md = tmp_path / "p.json", tmp_path / "p.md"
    argv = ["--quick", "--only", "plateau", "--json", str(out_json), "--markdown", str(out_md)]
    assert main(argv) == 0
    rows = json.loads(out_json.read_text())["rows"]
    labels = [label for label, *_ in bench_plateau.lineup()]
    assert [row["library"] for row in rows] == labels
    assert labels[:3] == ["chainrule", "chainrule numpy kernels", "scikit-learn"]
    table = out_md.read_text()
    header = "| library | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | last/first | late/early |"
    assert header in table
    for row in rows:
        if row["seconds"] is None:  # a peer that is not installed says why
            assert "skipped" in row["note"]
            continue
        assert len(row["times"]) == bench_plateau.EPOCHS
        times = row["times"]
        assert row["last_over_first"] == pytest.approx(times[-1] / times[0])
        late, early = np.median(times[-3:]), np.median(times[:3])
        assert row["late_over_early"] == pytest.approx(late / early)
        label = row["library"] + (" float32" if row["library"] == "scikit-learn" else "")
        assert f"| {label} | {row['times'][0]:.3f}" in table  # "*" if disturbed
        assert row["first_moments"] == 784 * 256 + 256 + 256 * 10 + 10
        assert 0 <= row["subnormal_first_moments"] <= row["first_moments"]
        assert f"{row['first_moments']:,} first moments are subnormal" in row["note"]
        assert len(row["others_cpu"]) == len(times) and min(row["others_cpu"]) >= 0
        if row["library"] == "chainrule numpy kernels":
            assert "kernel mode numpy" in row["note"]


def test_subnormal_count():
    from benchmarks.bench_plateau import subnormal_count

    tiny = np.finfo(np.float32).tiny
    values = np.array([0.0, -0.0, tiny, tiny / 2, -tiny / 8, 1e-45, 1.0, -3.0], np.float32)
    assert subnormal_count(values) == 3
    assert subnormal_count(values.astype(np.float64)) == 0  # all normal in float64


def test_disturbed_epochs_are_named():
    from benchmarks.common import disturbed_note, others_cpu_clock

    assert disturbed_note([1.0, 2.0, 1.0], [0.0, 0.4, 0.1]) is None  # under a quarter core
    note = disturbed_note([1.0, 2.0, 1.0], [0.3, 0.4, 3.0])
    assert note.startswith("2 of 3 timed epochs disturbed by other processes")
    assert "0.3 CPU-s in epoch 1, 3.0 CPU-s in epoch 3" in note
    clock = others_cpu_clock()
    if clock is not None:  # Linux: the rest of the machine's CPU seconds, growing
        assert isinstance(clock(), float)


def test_mapped_trains_from_the_map_as_from_memory(tmp_path, capsys):
    from benchmarks import mapped

    x_path, y_path = mapped.write_data(str(tmp_path), rows=3000)
    assert np.load(x_path, mmap_mode="r").shape == (3000, mapped.FEATURES)
    results = {way: mapped.child(way, x_path, y_path) for way in mapped.WAYS}
    # batches gathered from the map are the batches of the array in memory
    assert results["mapped"]["loss"] == results["memory"]["loss"]
    assert all(r["rows"] == 3000 and r["anon_mb"] > 0 for r in results.values())
    assert results["chunks"]["loss"] < 0.69  # learnt something (chance is log 2)
    assert mapped.main(["--rows", "2000"]) == 0
    table = capsys.readouterr().out
    assert all(f"\n{way} " in table for way in mapped.WAYS), table


# ------------------------------------------------------------ issue 14: search on a cluster


def test_quick_search_runs_serial_one_blas_thread_and_on_local_clusters(tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="the search benchmark's cluster rows need Dask")
    from benchmarks import bench_search, runner

    monkeypatch.setattr(bench_search, "QUICK_MAX_ITER", 2)
    monkeypatch.setattr(runner, "threading_check", lambda: None)
    monkeypatch.setattr(runner, "gemm_rate", lambda size: 1e11)
    out_json, out_md = tmp_path / "s.json", tmp_path / "s.md"
    argv = ["--quick", "--only", "search", "--no-memory", "--repeats", "1", "--json", str(out_json)]
    assert main([*argv, "--markdown", str(out_md)]) == 0
    rows = json.loads(out_json.read_text())["rows"]
    assert [row["library"] for row in rows] == [
        "chainrule serial",
        "chainrule serial, 1 BLAS thread",
        "chainrule on LocalCluster (threads)",
        "chainrule on LocalCluster (threads, 1 BLAS thread)",
        "chainrule on LocalCluster (processes)",
    ]
    for row in rows:  # every way of running the search finds the serial best score
        assert row["seconds"] > 0 and len(row["times"]) == 1
        assert row["best_score"] == rows[0]["best_score"] > 0.15  # chance: 0.1
        assert "same best score as serial" in row["note"]
    assert "4 settings x 3 folds, adam 2 epochs" in out_md.read_text()


def test_streaming_benchmark_at_a_tiny_size(monkeypatch, capsys):
    from types import SimpleNamespace

    from benchmarks import bench_streaming
    from benchmarks.runner import load_modules

    assert [name for name, _ in load_modules({"streaming"})[0]] == ["streaming"]
    monkeypatch.setenv("CHAINRULE_BENCH_STREAM_MB", "3")
    rows = bench_streaming.run(SimpleNamespace(quick=True))
    labels = [row["library"] for row in rows]
    assert labels == [
        "chainrule streamed",
        "chainrule streamed, a tenth",
        "chainrule in memory, a tenth",
    ]
    for row in rows:
        assert row["seconds"] > 0 and row["peak_rss_mb"] > 0, row
        assert "rows/s per epoch" in row["note"]
    assert rows[1]["rows"] == rows[2]["rows"] and 9 * rows[1]["rows"] <= rows[0]["rows"]
    assert rows[0]["file_mb"] > 2.5
    assert "wrote 3 MB" in capsys.readouterr().out


def test_playground_frame_rate_smoke(capsys):
    from benchmarks import playground_fps

    (result,) = playground_fps.main(["--seconds", "0.5", "--speed", "0"])
    assert result["client"] == "python" and result["frames_per_s"] > 0
    assert result["kB_per_frame"] > 10  # every neuron's heatmap, the weights, the losses
    assert '"network": "2-8-8-1"' in capsys.readouterr().out
