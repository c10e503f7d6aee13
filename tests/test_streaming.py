"""Streamed training, prediction and evaluation, and ``chainrule ... --stream``."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainrule import io, streaming
from chainrule.cli import main
from chainrule.first_pass import held_out
from chainrule.readers import read_csv
from chainrule.streaming import (
    STREAM_AUTO_BYTES,
    StreamedTraining,
    evaluate_streamed,
    predict_streamed,
    should_stream,
)
from chainrule.tabular import TabularModel
from helpers import mixed_frame

QUICK = ["--epochs", "8", "--quiet"]


@pytest.fixture(autouse=True)
def _process_malloc_untouched(monkeypatch):
    """The command's mallopt would stay set for the rest of the test session (and make
    its large allocations slower): off here; the child process of the memory test has it."""
    monkeypatch.setattr("chainrule.cli_stream.limit_fragmentation", lambda: False)


@pytest.fixture(scope="module")
def fruit(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "fruit.csv"
    frame = mixed_frame(900, seed=2)
    frame.insert(0, "id", [f"r{i:04d}" for i in range(900)])
    frame.to_csv(path, index=False)
    return path


def test_validation_rows_are_the_same_every_epoch_and_for_any_chunk_size(fruit):
    held = {}
    for chunk_rows in (50, 333):
        streamed = StreamedTraining(str(fruit), "fruit", chunk_rows=chunk_rows, ignore=["id"])
        epochs = [np.concatenate([y for _, y in streamed.chunks(True)]) for _ in range(2)]
        np.testing.assert_array_equal(*epochs)
        held[chunk_rows] = np.concatenate([X for X, _ in streamed.chunks(True)])
        assert len(held[chunk_rows]) == streamed.first.validation_rows
    # the same rows (the scaling learned may differ by rounding between chunkings)
    np.testing.assert_allclose(held[50], held[333], rtol=1e-12)
    # the held-out rows are those held_out names, in file order
    whole = read_csv(str(fruit))
    rows = held_out(np.arange(900), 0.2, 0)
    expected = streamed.first.preprocessor.transform(whole[rows])
    np.testing.assert_allclose(held[333], expected, rtol=1e-12)


@pytest.fixture(scope="module")
def trained(fruit):
    streamed = StreamedTraining(str(fruit), "fruit", chunk_rows=128, ignore=["id"])
    model = TabularModel("fruit", epochs=40, ignore=["id"], seed=0)
    return streamed.fit(model)


def test_a_streamed_model_is_a_tabular_model_that_saves_and_loads(trained, fruit, tmp_path):
    assert trained.training_["rows"] == 900
    assert trained.training_["train_rows"] + trained.training_["validation_rows"] == 900
    assert trained.training_["epochs_run"] >= 5
    path = tmp_path / "m.npz"
    trained.save(str(path))
    loaded = io.load(str(path))
    assert isinstance(loaded, TabularModel)
    frame = read_csv(str(fruit))
    np.testing.assert_array_equal(loaded.predict(frame), trained.predict(frame))


def test_streamed_quality_is_close_to_in_memory_training(trained, fruit):
    frame = read_csv(str(fruit))
    memory = TabularModel("fruit", epochs=40, ignore=["id"], seed=0).fit(frame)
    test = mixed_frame(600, seed=7)
    streamed_accuracy = trained.evaluate(test)["accuracy"]
    memory_accuracy = memory.evaluate(test)["accuracy"]
    assert streamed_accuracy > 0.9 and memory_accuracy > 0.9
    assert abs(streamed_accuracy - memory_accuracy) < 0.04


def test_predict_streamed_keeps_every_row_in_order(trained, fruit, tmp_path):
    out = tmp_path / "p.csv"
    frame = read_csv(str(fruit))

    def table_of(chunk):
        return pd.DataFrame({"id": chunk["id"].to_numpy(), "fruit": trained.predict(chunk)})

    n = predict_streamed(trained, str(fruit), table_of, str(out), chunk_rows=97)
    written = pd.read_csv(out)
    assert n == 900 and written["id"].tolist() == frame["id"].tolist()
    assert written["fruit"].tolist() == trained.predict(frame).tolist()


def test_evaluate_streamed_equals_evaluate_on_the_whole_file(trained, fruit, tmp_path):
    frame = read_csv(str(fruit))
    scores, rows, dropped, n_dropped = evaluate_streamed(trained, str(fruit), chunk_rows=101)
    whole = trained.evaluate(frame)
    assert (rows, dropped, n_dropped) == (900, [], 0)
    assert scores["accuracy"] == whole["accuracy"]
    assert scores["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    np.testing.assert_array_equal(scores["confusion_matrix"], whole["confusion_matrix"])
    np.testing.assert_allclose(scores["precision"], whole["precision"])
    np.testing.assert_allclose(scores["recall"], whole["recall"])
    assert scores["labels"] == whole["labels"]
    # a regressor: mse, mae and r2 of every row at once
    rng = np.random.default_rng(0)
    reg = pd.DataFrame({"x": rng.normal(size=400), "z": rng.normal(size=400)})
    reg["y"] = 3 * reg["x"] - reg["z"] + 0.1 * rng.normal(size=400)
    path = tmp_path / "reg.csv"
    reg.to_csv(path, index=False)
    model = StreamedTraining(str(path), "y", chunk_rows=64).fit(TabularModel("y", epochs=5))
    scores, rows, _, _ = evaluate_streamed(model, str(path), chunk_rows=64)
    whole = model.evaluate(read_csv(str(path)))
    for name in ("mse", "mae", "r2"):
        assert scores[name] == pytest.approx(whole[name], rel=1e-9)


def test_should_stream_by_option_or_size(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n")
    notes = []
    assert should_stream(str(path), True, None, notes.append)
    assert not should_stream(str(path), False, None, notes.append)
    assert not should_stream(str(path), None, None, notes.append) and not notes
    # a chunk size given for a file read whole is not dropped silently
    assert not should_stream(str(path), None, 500, notes.append)
    assert notes == [
        f"{path}: --chunk-rows 500 applies when the file is streamed; at 8 bytes (not "
        "more than 1 GiB) it is read whole (--stream streams it)"
    ]
    notes.clear()
    assert STREAM_AUTO_BYTES == 2**30
    monkeypatch.setattr(streaming, "STREAM_AUTO_BYTES", 4)
    assert should_stream(str(path), None, 1000, notes.append)
    assert notes == [
        f"{path}: 0.0 GiB, more than 0 GiB: streamed in chunks of 1,000 rows "
        "(--no-stream reads it whole)"
    ]


def test_limit_fragmentation_on_glibc():
    import platform

    code = "from chainrule.streaming import limit_fragmentation as f; print(f())"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    glibc = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"
    assert done.stdout.strip() == str(glibc), done.stderr


# ---------------------------------------------------------------- the command line


def test_cli_train_predict_evaluate_streamed(fruit, tmp_path, capsys):
    model = tmp_path / "m.npz"
    code = main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--ignore", "id",
                 "--stream", "--chunk-rows", "100", "--epochs", "8"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "fruit.csv: streamed in chunks of 100 rows" in out
    assert "task: classify (guessed: 'fruit' holds text); use --task to choose" in out
    assert "900 rows, " in out and "held out for validation" in out
    assert f"model saved to {model}" in out
    pred = tmp_path / "p.csv"
    code = main(["predict", str(model), str(fruit), "--stream", "--chunk-rows", "77",
                 "--keep", "id", "--proba", "--out", str(pred)])  # fmt: skip
    assert code == 0 and capsys.readouterr().out.strip() == (
        f"wrote 900 predictions of 'fruit' to {pred}"
    )
    streamed = pd.read_csv(pred)
    assert list(streamed.columns) == ["id", "fruit", "proba_apple", "proba_pear", "proba_plum"]
    assert streamed["id"].tolist() == [f"r{i:04d}" for i in range(900)]
    whole = tmp_path / "w.csv"
    assert main(["predict", str(model), str(fruit), "--no-stream", "--keep", "id", "--proba",
                 "--out", str(whole)]) == 0  # fmt: skip
    pd.testing.assert_frame_equal(streamed, pd.read_csv(whole))
    capsys.readouterr()
    assert main(["evaluate", str(model), str(fruit), "--stream", "--chunk-rows", "50"]) == 0
    streamed_report = capsys.readouterr().out
    assert main(["evaluate", str(model), str(fruit)]) == 0
    assert streamed_report == capsys.readouterr().out
    assert main(["inspect", str(model)]) == 0
    assert "classifier of 'fruit' into 3 classes" in capsys.readouterr().out


def test_cli_streams_gzip_and_parquet_and_reads_options_from_the_config(fruit, tmp_path, capsys):
    frame = read_csv(str(fruit))
    gz = tmp_path / "f.csv.gz"
    with gzip.open(gz, "wt") as f:
        frame.to_csv(f, index=False)
    config = tmp_path / "run.toml"
    config.write_text('target = "fruit"\nstream = true\nchunk-rows = 64\nignore = ["id"]\n')
    model = tmp_path / "m.npz"
    assert main(["train", str(gz), "--config", str(config), "--out", str(model), *QUICK]) == 0
    assert io.load(str(model)).training_["rows"] == 900
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    pq = tmp_path / "f.parquet"
    frame.to_parquet(pq)
    capsys.readouterr()
    assert main(["evaluate", str(model), str(pq), "--stream", "--chunk-rows", "64"]) == 0
    from_parquet = capsys.readouterr().out
    assert main(["evaluate", str(model), str(gz), "--stream"]) == 0
    assert from_parquet.splitlines()[1:] == capsys.readouterr().out.splitlines()[1:]


def test_cli_auto_switch_note(fruit, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(streaming, "STREAM_AUTO_BYTES", 1000)
    model = tmp_path / "m.npz"
    code = main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--ignore", "id",
                 "--chunk-rows", "300", *QUICK])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    assert err.strip() == (
        f"{fruit}: 0.0 GiB, more than 0 GiB: streamed in chunks of 300 rows (--no-stream "
        "reads it whole)"
    )
    assert main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--ignore", "id",
                 "--no-stream", *QUICK]) == 0  # fmt: skip
    assert capsys.readouterr().err == ""


def _error_line(capsys) -> str:
    """The one error line on stderr (warnings before it allowed)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if ": warning: " not in line]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_stream_errors(fruit, tmp_path, capsys):
    model = tmp_path / "m.npz"
    with pytest.raises(SystemExit) as exc:
        main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--chunk-rows", "0"])
    assert exc.value.code == 2
    assert "argument --chunk-rows: expected a positive integer, got '0'" in capsys.readouterr().err
    # a category explosion (the id column), named with the fix
    from chainrule import first_pass

    first_pass.MAX_CATEGORIES, saved = 100, first_pass.MAX_CATEGORIES
    try:
        code = main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--stream",
                     *QUICK])  # fmt: skip
    finally:
        first_pass.MAX_CATEGORIES = saved
    assert code == 1
    line = _error_line(capsys)
    assert line.startswith(f"chainrule train: error: {fruit}: column 'id' holds more than 100")
    assert "--ignore id" in line
    # a bad value in a later chunk, named by its row
    bad = tmp_path / "bad.csv"
    frame = read_csv(str(fruit))
    frame["size"] = frame["size"].astype(object)
    frame.loc[700, "size"] = "n/k"  # row 700 of the file (the header is row 1)
    frame.to_csv(bad, index=False)
    assert main(["train", str(bad), "--target", "fruit", "--out", str(model), "--ignore", "id",
                 "--stream", "--chunk-rows", "100", *QUICK]) == 1  # fmt: skip
    line = _error_line(capsys)
    assert "column 'size' holds numbers in the rows before, but row 700 holds 'n/k'" in line
    assert main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--ignore", "id",
                 "--stream", *QUICK]) == 0  # fmt: skip
    assert main(["predict", str(model), str(bad), "--stream", "--chunk-rows", "100"]) == 1
    line = _error_line(capsys)
    assert line.startswith(f"chainrule predict: error: {bad}: column 'size'") and "700" in line
    assert main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--stream",
                 "--resume", str(model), *QUICK]) == 1  # fmt: skip
    assert "--resume" in _error_line(capsys)


def test_cli_regressor_plot_is_refused_when_streamed(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "r.csv"
    pd.DataFrame({"x": rng.normal(size=200), "y": rng.normal(size=200)}).to_csv(path, index=False)
    model = tmp_path / "m.npz"
    assert main(["train", str(path), "--target", "y", "--out", str(model), "--stream", *QUICK]) == 0
    assert main(["evaluate", str(model), str(path), "--stream", "--plot", str(tmp_path / "p.png")])
    assert "--plot cannot be used with --stream for a regressor" in _error_line(capsys)


def _peak_rss_mb(path: Path, tmp_path: Path) -> float:
    """Peak resident memory (MB) of a streamed ``chainrule train`` in a fresh Python."""
    code = f"""
import json
from benchmarks.memchild import _reset_peak, _status_mb
from chainrule.cli import main
import numpy, pandas  # imported before the reset: their size is not the stream's
_reset_peak()
assert main(["train", {str(path)!r}, "--target", "label", "--out", {str(tmp_path / "m.npz")!r},
             "--stream", "--chunk-rows", "5000", "--epochs", "1", "--quiet"]) == 0
print(json.dumps(_status_mb("VmHWM")))
"""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CHAINRULE_KERNELS": "numpy"}
    env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    from benchmarks.bench_streaming import write_csv

    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_csv(str(small), 2, block=5_000)
    write_csv(str(large), 10, block=5_000)
    assert os.path.getsize(large) > 4 * os.path.getsize(small)
    peaks = [_peak_rss_mb(small, tmp_path), _peak_rss_mb(large, tmp_path)]
    # five times the rows (~8 MB more as text, ~5 MB as float64 features): the same peak
    assert peaks[1] - peaks[0] < 3, peaks


def test_cli_drop_missing_target_streamed(fruit, tmp_path, capsys):
    frame = read_csv(str(fruit))
    frame.loc[[6, 532], "fruit"] = np.nan  # rows 6 and 532 of the file
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    model = tmp_path / "m.npz"
    argv = ["train", str(path), "--target", "fruit", "--out", str(model), "--ignore", "id",
            "--stream", "--chunk-rows", "100", "--epochs", "3"]  # fmt: skip
    assert main(argv) == 1
    assert "target column 'fruit' has 2 missing value(s) (rows 6, 532)" in _error_line(capsys)
    assert main([*argv, "--drop-missing-target"]) == 0
    out = capsys.readouterr().out
    assert "dropped 2 of 900 rows with no 'fruit' value (--drop-missing-target): rows 6, 532" in out
    assert io.load(str(model)).training_["rows"] == 898
    assert main(["evaluate", str(model), str(path), "--stream", "--chunk-rows", "100"]) == 1
    assert "has missing values (row 6, perhaps more further on)" in _error_line(capsys)
    assert main(["evaluate", str(model), str(path), "--stream", "--drop-missing-target"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "dropped 2 of 900 rows with no 'fruit' value (--drop-missing-target): rows 6, 532",
        f"{path}: 898 rows; target 'fruit' (classify)",
    ]


def test_a_streamed_model_exports_to_onnx(trained, tmp_path, capsys):
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
    path = tmp_path / "m.npz"
    trained.save(str(path))
    assert main(["export", str(path), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "outputs 'label', 'probabilities'" in capsys.readouterr().out


def test_cli_streamed_predict_warns_once_per_kind(fruit, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", str(fruit), "--target", "fruit", "--out", str(model), "--ignore", "id",
                 "--stream", *QUICK]) == 0  # fmt: skip
    frame = read_csv(str(fruit))
    frame["note"] = "x"  # a column the model was not trained with: every chunk has it
    frame.loc[[10, 400, 800], "colour"] = "purple"  # unseen, in three chunks
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    capsys.readouterr()
    assert main(["predict", str(model), str(path), "--stream", "--chunk-rows", "100",
                 "--out", str(tmp_path / "p.csv")]) == 0  # fmt: skip
    warned = capsys.readouterr().err.strip().splitlines()
    assert warned == [
        "chainrule predict: warning: ignoring 1 column(s) the model was not trained with: 'note'",
        "chainrule predict: warning: column 'colour' has 1 value(s) not seen in training "
        "('purple', row 10); they are encoded as all zeros (no category)",
        "chainrule predict: warning: 10 more warning(s) like the one(s) above, from later "
        "chunks of rows",
    ]


def test_predict_and_evaluate_streamed_read_a_code_column_as_text_in_every_chunk(tmp_path):
    # "A1".."A4" in the first and last chunks, "01".."04" (numbers to pandas) between:
    # the column is text in training, and must be read as text in every chunk after it
    n = 300
    rng = np.random.default_rng(3)
    codes = [f"A{i % 4}" if i < 100 or i >= 200 else f"0{i % 4}" for i in range(n)]
    frame = pd.DataFrame({"code": codes, "x": rng.normal(size=n)})
    frame["y"] = (frame["x"] + (frame["code"] == "01") > 0.5).astype(int)
    frame["flag"] = rng.choice([True, False], size=n)  # true/false: read as such
    path = tmp_path / "codes.csv"
    frame.to_csv(path, index=False)
    model = StreamedTraining(str(path), "y", chunk_rows=50).fit(TabularModel("y", epochs=3))
    whole = read_csv(str(path))
    assert model.preprocessor_.columns_[0]["categories"] == [
        *["00", "01", "02", "03"],
        *["A0", "A1", "A2", "A3"],
    ]
    out = tmp_path / "p.csv"

    def table_of(chunk):
        return pd.DataFrame({"y": model.predict_proba(chunk)[:, 1]})

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "value(s) not seen in training"
        predict_streamed(model, str(path), table_of, str(out), chunk_rows=50)
        scores, rows, _, _ = evaluate_streamed(model, str(path), chunk_rows=50)
    np.testing.assert_allclose(
        pd.read_csv(out)["y"].to_numpy(), model.predict_proba(whole)[:, 1], rtol=1e-6
    )
    assert rows == n and scores["accuracy"] == model.evaluate(whole)["accuracy"]


def test_predict_streamed_writes_no_partial_file_when_a_later_chunk_fails(trained, fruit, tmp_path):
    out = tmp_path / "p.csv"
    out.write_text("earlier results\n")
    seen = []

    def table_of(chunk):
        seen.append(len(chunk))
        if len(seen) == 3:
            raise streaming.DataError("row 300 is bad")
        return pd.DataFrame({"fruit": trained.predict(chunk)})

    with pytest.raises(streaming.DataError, match="row 300 is bad"):
        predict_streamed(trained, str(fruit), table_of, str(out), chunk_rows=100)
    # the file named by --out is as it was; no temporary file is left behind
    assert out.read_text() == "earlier results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv"]


def test_evaluate_streamed_reads_a_text_target_as_text_in_every_chunk(tmp_path):
    # classes "A1", "B2" in the first and last chunks, "01", "02" between them
    n = 300
    rng = np.random.default_rng(4)
    x = rng.normal(size=n)
    labels = np.where(x > 0, "A1", "B2").astype(object)
    labels[100:200] = np.where(x[100:200] > 0, "01", "02")
    path = tmp_path / "labels.csv"
    pd.DataFrame({"x": x, "z": rng.normal(size=n), "y": labels}).to_csv(path, index=False)
    model = StreamedTraining(str(path), "y", chunk_rows=50).fit(TabularModel("y", epochs=2))
    assert list(model.classes_) == ["01", "02", "A1", "B2"]
    scores, rows, _, _ = evaluate_streamed(model, str(path), chunk_rows=50)
    whole = model.evaluate(read_csv(str(path)))
    assert rows == n and scores["accuracy"] == whole["accuracy"]
    np.testing.assert_array_equal(scores["confusion_matrix"], whole["confusion_matrix"])


def test_cli_stream_errors_name_the_file_once(tmp_path, capsys):
    empty, header = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty.write_text("")
    header.write_text("x,y\n")
    for path, says in [(empty, "the file is empty"), (header, "the file has a header (x, y)")]:
        assert main(["train", str(path), "--target", "y", "--out", str(tmp_path / "m.npz"),
                     "--stream", *QUICK]) == 1  # fmt: skip
        assert _error_line(capsys) == f"chainrule train: error: {path}: {says}" + (
            "; expected a CSV file with a header row and data rows"
            if path == empty
            else " but no data rows"
        )


def test_once_per_kind_tells_columns_apart():
    # an unseen category in one column, then in another: both columns are named
    once = streaming.OncePerKind()
    messages = [
        "column 'colour' has 1 value(s) not seen in training ('purple', row 10)",
        "column 'colour' has 2 value(s) not seen in training ('pink', rows 110 and 120)",
        "column 'city' has 1 value(s) not seen in training ('Oslo', row 230)",
    ]
    with pytest.warns(UserWarning) as shown:
        for message in messages:
            with once.chunk():
                warnings.warn(message, UserWarning, stacklevel=1)
        once.summary()
    assert [str(w.message) for w in shown] == [
        messages[0],
        messages[2],
        "1 more warning(s) like the one(s) above, from later chunks of rows",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and links need POSIX")
def test_predict_streamed_writes_through_a_link_and_into_a_pipe(trained, fruit, tmp_path):
    import threading

    def table_of(chunk):
        return pd.DataFrame({"fruit": trained.predict(chunk)})

    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old\n")
    link.symlink_to(real)
    predict_streamed(trained, str(fruit), table_of, str(link), chunk_rows=300)
    assert link.is_symlink() and len(pd.read_csv(real)) == 900
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    predict_streamed(trained, str(fruit), table_of, str(pipe), chunk_rows=300)
    reader.join(timeout=30)
    assert received and received[0].count("\n") == 901
    assert not pipe.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [
        "link.csv",
        "pipe",
        "real.csv",
    ]
