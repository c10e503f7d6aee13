"""The ``chainrule`` command run as a user runs it (subprocesses) on CSV files written
here, plus in-process ``main([...])`` calls for the finer points.

Checks outputs, exit codes (0 success, 1 data/model error, 2 usage error, 130
interrupted) and that error messages are one line naming the file, column or row.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

import chainrule
from chainrule.cli import main
from chainrule.tabular import TabularModel
from helpers import first_checkpoint_save_fails, mixed_frame

QUICK = ["--epochs", "15", "--quiet"]


def run(*args, cwd=None, timeout=120):
    """``python -m chainrule.cli ARGS`` -> (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 2)).round(3)
    numeric = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] > x[:, 1]).astype(int)})
    numeric.to_csv(d / "numeric.csv", index=False)
    mixed = mixed_frame()
    mixed.to_csv(d / "mixed.csv", index=False)
    holes = mixed.astype({"size": float}).copy()
    holes.loc[[4, 9], "size"] = np.nan
    holes.loc[[9], "colour"] = None
    holes.to_csv(d / "holes.csv", index=False)
    (d / "header_only.csv").write_text("size,weight,colour,fruit\n")
    (d / "empty.csv").write_text("")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 4)
    reg = pd.DataFrame(
        {"area": rng.uniform(50, 150, 150).round(1), "town": rng.choice(["north", "south"], 150)}
    )
    reg["price"] = (2000 * reg["area"] + np.where(reg["town"] == "north", 40000, 0)).round(0)
    reg.to_csv(d / "houses.csv", index=False)
    return d


@pytest.fixture(scope="module")
def fruit_model(files):
    """A classifier of the text target trained through the command (one subprocess)."""
    code, out, err = run(
        "train",
        files / "mixed.csv",
        "--target",
        "fruit",
        "--out",
        files / "fruit.npz",
        "--epochs",
        "60",
        "--seed",
        "2",
    )
    assert code == 0, err
    assert "task: classify (guessed: 'fruit' holds text)" in out
    assert f"model saved to {files / 'fruit.npz'}" in out
    assert "lowest validation loss" in out and "(accuracy there " in out
    return files / "fruit.npz"


# ---------------------------------------------------------------- subprocess: as a user


def test_python_dash_m_chainrule_is_the_command():
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"chainrule {chainrule.__version__}"
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule", "train"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.startswith("usage: chainrule train")


def test_train_and_predict_numeric_csv(files):
    code, out, err = run(
        "train",
        files / "numeric.csv",
        "--target",
        "y",
        "--out",
        files / "numeric.npz",
        "--hidden",
        "8",
        "--epochs",
        "100",
        "--learning-rate",
        "0.03",
    )
    assert code == 0, err
    assert "task: classify (guessed: 'y' holds 2 distinct whole numbers" in out
    assert "data: 120 rows, 2 input columns (0 text) -> 2 features; 96 rows to train, 24" in out
    code, out, err = run("predict", files / "numeric.npz", files / "numeric.csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "y" and len(lines) == 121
    predicted = np.array(lines[1:], dtype=int)  # the original labels 0/1, in row order
    truth = pd.read_csv(files / "numeric.csv")["y"].to_numpy()
    assert np.mean(predicted == truth) > 0.9


def test_text_target_predict_proba_and_evaluate(files, fruit_model):
    code, out, err = run(
        "predict", fruit_model, files / "mixed.csv", "--proba", "--out", files / "pred.csv"
    )
    assert code == 0, err
    assert "wrote 160 predictions of 'fruit'" in out
    pred = pd.read_csv(files / "pred.csv")
    assert list(pred.columns) == ["fruit", "proba_apple", "proba_pear", "proba_plum"]
    np.testing.assert_allclose(pred.iloc[:, 1:].sum(axis=1), 1.0, atol=1e-4)
    truth = pd.read_csv(files / "mixed.csv")["fruit"]
    accuracy = np.mean(pred["fruit"] == truth)
    assert accuracy > 0.85

    code, out, err = run("evaluate", fruit_model, files / "mixed.csv")
    assert code == 0, err
    assert f"accuracy  {accuracy:.4f}" in out  # the same rows, the same predictions
    assert "confusion matrix (rows: true class, columns: predicted class)" in out
    lines = out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("class ")))
    table = {
        row.split()[0]: [float(v) for v in row.split()[1:]] for row in lines[start + 1 : start + 4]
    }
    p, r, _, n = precision_recall_fscore_support(truth, pred["fruit"], zero_division=0)
    for k, label in enumerate(["apple", "pear", "plum"]):
        assert table[label] == pytest.approx([p[k], r[k], n[k]], abs=5e-4)


def test_missing_values_error_then_impute(files):
    code, out, err = run(
        "train", files / "holes.csv", "--target", "fruit", "--out", files / "holes.npz", *QUICK
    )
    assert code == 1
    assert_one_line_error(
        err,
        "holes.csv",
        "missing values in 2 row(s)",
        "'size': 2 (rows 6, 11)",
        "'colour': 1 (row 11)",
        "--impute",
    )
    assert not (files / "holes.npz").exists()
    code, out, err = run(
        "train",
        files / "holes.csv",
        "--target",
        "fruit",
        "--out",
        files / "holes.npz",
        "--impute",
        *QUICK,
    )
    assert code == 0, err
    assert out == ""  # --quiet
    assert isinstance(chainrule.load(files / "holes.npz"), TabularModel)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("header_only.csv", "has a header (size, weight, colour, fruit) but no data rows"),
        ("empty.csv", "the file is empty"),
        ("binary.csv", "not a CSV text file"),
    ],
)
def test_unusable_data_files(files, name, needle):
    code, _, err = run("train", files / name, "--target", "fruit", "--out", files / "x.npz")
    assert code == 1
    assert_one_line_error(err, f"{files / name}: ", needle)


def test_predict_with_missing_or_extra_columns(files, fruit_model):
    mixed = pd.read_csv(files / "mixed.csv")
    mixed.drop(columns=["colour", "fruit"]).to_csv(files / "no_colour.csv", index=False)
    code, out, err = run("predict", fruit_model, files / "no_colour.csv")
    assert code == 1
    assert_one_line_error(err, "no_colour.csv", "missing column(s) ['colour']")

    mixed.assign(comment="hello").to_csv(files / "extra.csv", index=False)
    code, out, err = run("predict", fruit_model, files / "extra.csv")
    assert code == 0, err
    assert "warning: ignoring 1 column(s) the model was not trained with: 'comment'" in err
    assert len(out.splitlines()) == 161


def test_tampered_model_file_is_refused(files, fruit_model):
    data = bytearray(fruit_model.read_bytes())
    with zipfile.ZipFile(fruit_model) as zf:  # a byte of the parameters
        info = zf.getinfo("params.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.file_size - 8] ^= 0xFF
    bad = files / "tampered.npz"
    bad.write_bytes(bytes(data))
    code, _, err = run("predict", bad, files / "mixed.csv")
    assert code == 1
    assert_one_line_error(err, "tampered.npz")
    assert "SHA-256" in err or "damaged" in err


def test_usage_errors_exit_2(files):
    code, _, err = run(
        "train",
        files / "mixed.csv",
        "--target",
        "fruit",
        "--out",
        "m.npz",
        "--activation",
        "wiggle",
    )
    assert code == 2
    assert "invalid choice: 'wiggle'" in err and "relu" in err


def test_debug_shows_the_traceback(files):
    code, _, err = run("--debug", "predict", files / "missing_model.npz", files / "mixed.csv")
    assert code == 1
    assert "Traceback" in err and "no such model file" in err


def test_inspect(fruit_model):
    code, out, err = run("inspect", fruit_model)
    assert code == 0, err
    for needle in [
        "format chainrule-model version 1",
        "kind TabularModel",
        "classifier of 'fruit' into 3 classes: apple, pear, plum",
        "columns it expects (3",
        "colour",
        "one-hot: blue, green, red",
        "Dense(32)",
        "Total params: 291",
        "optimizer adam, learning rate 0.003",
        "epochs 60, batch size 32",
        "best validation loss",
    ]:
        assert needle in out, needle


def test_l1_is_trained_inspected_and_in_the_evaluated_loss(files, tmp_path, capsys):
    out = tmp_path / "l1.npz"
    argv = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(out), *QUICK]
    assert main([*argv, "--l1", "0.01"]) == 0
    model = chainrule.load(out)
    assert model.network_.l1 == 0.01
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    assert "learning rate 0.003; l2 0; l1 0.01" in capsys.readouterr().out
    assert main(["evaluate", str(out), str(files / "mixed.csv")]) == 0
    loss = model.evaluate(pd.read_csv(files / "mixed.csv"))["loss"]
    assert f"loss      {loss:.4f} (cross-entropy + L1 penalty)" in capsys.readouterr().out
    assert main([*argv, "--l1", "0.01", "--l2", "0.001"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), str(files / "mixed.csv")]) == 0
    assert "(cross-entropy + L2 penalty + L1 penalty)" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, which is POSIX")
def test_ctrl_c_keeps_the_last_checkpoint(files, tmp_path):
    frame = pd.concat([mixed_frame(400, seed=s) for s in range(5)])
    frame.to_csv(tmp_path / "big.csv", index=False)
    ckpt = tmp_path / "ckpt.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chainrule.cli",
            "train",
            str(tmp_path / "big.csv"),
            "--target",
            "fruit",
            "--out",
            str(tmp_path / "final.npz"),
            "--epochs",
            "100000",
            "--patience",
            "0",
            "--hidden",
            "64,64",
            "--checkpoint",
            str(ckpt),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell may start background jobs with SIGINT ignored; Ctrl-C must reach it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ckpt.exists()
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted after" in err and "the best model so far (epoch" in err
    assert str(ckpt) in err
    assert not (tmp_path / "final.npz").exists()
    model = chainrule.load(ckpt)
    assert isinstance(model, TabularModel)
    assert len(model.predict(frame.head(3))) == 3


# ---------------------------------------------------------------- in process: main([...])


def test_regression_guess_evaluate_and_proba_refusal(files, capsys):
    model = files / "houses.npz"
    assert (
        main(
            [
                "train",
                str(files / "houses.csv"),
                "--target",
                "price",
                "--out",
                str(model),
                "--epochs",
                "150",
                "--learning-rate",
                "0.01",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "task: regress (guessed: 'price' holds numbers with" in out
    assert "lowest validation loss" in out and "(r2 there " in out
    assert "(losses are on the standardised target: " in out and "in 'price' units)" in out
    assert main(["evaluate", str(model), str(files / "houses.csv")]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(maxsplit=1) for line in out.splitlines()[1:])
    assert float(lines["r2"]) > 0.95
    assert float(lines["mae"]) < 10000  # in the target's units (prices ~ 200 000)
    assert main(["predict", str(model), str(files / "houses.csv"), "--proba"]) == 1
    assert "--proba needs a classifier" in capsys.readouterr().err


def test_data_errors_name_file_column_and_row(files, tmp_path, capsys):
    args = ["--out", str(tmp_path / "m.npz"), *QUICK]
    assert main(["train", str(files / "mixed.csv"), "--target", "taste", *args]) == 1
    assert (
        "mixed.csv: no column 'taste' to use as the target; the columns are size, weight, "
        "colour, fruit" in capsys.readouterr().err
    )
    assert (
        main(["train", str(files / "mixed.csv"), "--target", "fruit", "--ignore", "nope", *args])
        == 1
    )
    assert "ignored column 'nope' is not in the data" in capsys.readouterr().err
    (tmp_path / "latin1.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    assert main(["train", str(tmp_path / "latin1.csv"), "--target", "b", *args]) == 1
    assert "not UTF-8 text" in capsys.readouterr().err
    (tmp_path / "semicolons.csv").write_text("a;b\n1;2\n3;4\n")
    semicolons = ["train", str(tmp_path / "semicolons.csv"), "--target", "b", *args]
    assert main([*semicolons, "--sep", ","]) == 1
    assert (
        "the header 'a;b' looks semicolon-separated, but the file was read as comma-separated; "
        "leave --sep out to sniff the delimiter, or give --sep ';'" in capsys.readouterr().err
    )
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5,6\n")
    assert main(["train", str(tmp_path / "ragged.csv"), "--target", "b", *args]) == 1
    assert "ragged.csv: line 3 has 4 fields but the header names 2 columns" in (
        capsys.readouterr().err
    )
    assert main(["train", str(tmp_path / "nothere.csv"), "--target", "b", *args]) == 1
    assert "nothere.csv: no such file" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                str(files / "mixed.csv"),
                "--target",
                "fruit",
                "--out",
                str(tmp_path / "no" / "m.npz"),
                *QUICK,
            ]
        )
        == 1
    )
    assert "--out " in (err := capsys.readouterr().err) and "the folder does not exist" in err


def test_predict_errors_name_rows_and_values(files, fruit_model, tmp_path, capsys):
    mixed = pd.read_csv(files / "mixed.csv").astype({"size": object})
    mixed.loc[2, "size"] = "big"
    mixed.loc[5, "colour"] = "violet"
    mixed.to_csv(tmp_path / "odd.csv", index=False)
    assert main(["predict", str(fruit_model), str(tmp_path / "odd.csv")]) == 1
    err = capsys.readouterr().err
    assert "odd.csv: column 'size' must hold numbers, as in training; row 4 hold" in err
    mixed.loc[2, "size"] = 10.0
    mixed.to_csv(tmp_path / "odd.csv", index=False)
    assert main(["predict", str(fruit_model), str(tmp_path / "odd.csv")]) == 0
    captured = capsys.readouterr()
    assert "'colour' has 1 value(s) not seen in training ('violet', row 7)" in captured.err
    assert len(captured.out.splitlines()) == 161
    # a CSV is not a model, a model is not a CSV
    assert main(["predict", str(files / "mixed.csv"), str(files / "mixed.csv")]) == 1
    assert "looks like a text file" in capsys.readouterr().err
    assert main(["predict", str(fruit_model), str(fruit_model)]) == 1
    assert "not a CSV text file" in capsys.readouterr().err
    assert main(["evaluate", str(fruit_model), str(files / "numeric.csv")]) == 1
    assert "numeric.csv: no column 'fruit' (the target)" in capsys.readouterr().err


def test_non_tabular_model_files(tmp_path, capsys, files):
    net = chainrule.Network(
        [chainrule.Dense(2), chainrule.Softmax()],
        loss="categorical_crossentropy",
        optimizer="sgd",
        seed=0,
    )
    net.fit(np.eye(2), np.array([0, 1]), epochs=2)
    net.save(tmp_path / "net.npz")
    assert main(["inspect", str(tmp_path / "net.npz")]) == 0
    out = capsys.readouterr().out
    assert "kind Network" in out and "Total params: 6" in out and "2 epochs" in out
    assert main(["predict", str(tmp_path / "net.npz"), str(files / "mixed.csv")]) == 1
    assert "holds a Network, not a model made by `chainrule train`" in capsys.readouterr().err


# ---------------------------------------------------------------- pictures


def _png_size(path):
    import matplotlib.image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape[:2]


def test_plot_learning_curves(fruit_model, tmp_path):
    code, out, err = run("plot", fruit_model, "--out", tmp_path / "curves.png")
    assert code == 0, err
    assert f"plot saved to {tmp_path / 'curves.png'}" in out
    height, width = _png_size(tmp_path / "curves.png")
    assert width > height > 300  # two panels side by side: loss and accuracy


def test_evaluate_plots_and_decision_boundary(files, fruit_model, tmp_path, capsys):
    assert (
        main(
            [
                "evaluate",
                str(fruit_model),
                str(files / "mixed.csv"),
                "--plot",
                str(tmp_path / "cm.png"),
            ]
        )
        == 0
    )
    assert _png_size(tmp_path / "cm.png")[0] > 300
    houses = tmp_path / "houses.npz"
    train = ["train", str(files / "houses.csv"), "--target", "price", "--out", str(houses)]
    assert main([*train, *QUICK]) == 0
    assert (
        main(
            [
                "evaluate",
                str(houses),
                str(files / "houses.csv"),
                "--plot",
                str(tmp_path / "pvt.png"),
            ]
        )
        == 0
    )
    assert _png_size(tmp_path / "pvt.png")[0] > 300
    capsys.readouterr()

    assert (
        main(
            [
                "plot",
                str(fruit_model),
                "--out",
                str(tmp_path / "b.png"),
                "--boundary",
                str(files / "mixed.csv"),
            ]
        )
        == 1
    )
    assert "needs a classifier with two numeric input columns; this model reads 3" in (
        capsys.readouterr().err
    )
    two = tmp_path / "two.npz"
    assert (
        main(
            [
                "train",
                str(files / "mixed.csv"),
                "--target",
                "fruit",
                "--ignore",
                "colour",
                "--out",
                str(two),
                *QUICK,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "plot",
                str(two),
                "--out",
                str(tmp_path / "b.png"),
                "--boundary",
                str(files / "mixed.csv"),
            ]
        )
        == 0
    )
    assert _png_size(tmp_path / "b.png")[0] > 300


# ---------------------------------------------------------------- the shipped example


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_csvs_are_reproduced_by_their_script(tmp_path, monkeypatch):
    import runpy

    script = runpy.run_path(str(EXAMPLES / "make_penguins.py"))
    monkeypatch.setitem(script["main"].__globals__, "HERE", tmp_path)
    script["main"]()
    for name in ("penguins.csv", "penguins_test.csv", "penguins_new.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), name


def test_readme_quickstart_on_the_example(tmp_path, capsys):
    data, model = str(EXAMPLES / "penguins.csv"), str(tmp_path / "penguins.npz")
    assert main(["train", data, "--target", "species", "--out", model]) == 1
    assert "missing values in 11 row(s)" in capsys.readouterr().err
    assert main(["train", data, "--target", "species", "--out", model, "--impute"]) == 0
    assert "model saved to" in capsys.readouterr().out
    assert main(["evaluate", model, str(EXAMPLES / "penguins_test.csv")]) == 0
    accuracy = float(capsys.readouterr().out.splitlines()[1].split()[1])
    assert accuracy >= 0.9
    assert main(["predict", model, str(EXAMPLES / "penguins_new.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "species" and len(lines) == 6
    assert set(lines[1:]) <= {"Adelie", "Chinstrap", "Gentoo"}


def test_example_config_file(tmp_path, capsys):
    out = tmp_path / "from_config.npz"
    args = ["train", str(EXAMPLES / "penguins.csv"), "--config", str(EXAMPLES / "penguins.toml")]
    assert main([*args, "--out", str(out), "--epochs", "5"]) == 0
    assert "9 -> 16 -> 16 -> 3 (tanh hidden layers)" in capsys.readouterr().out
    settings = chainrule.load(out).get_config()
    assert settings["hidden"] == [16, 16] and settings["impute"] and settings["epochs"] == 5


# ---------------------------------------------------------------- review fixes


def test_out_over_the_data_or_the_model_is_refused_before_any_work(files, fruit_model, tmp_path):
    data = tmp_path / "victim.csv"
    data.write_bytes((files / "mixed.csv").read_bytes())
    before = data.read_bytes()
    code, out, err = run("train", data, "--target", "fruit", "--out", data)
    assert code == 2
    assert "argument --out: " in err and "is the training data (DATA)" in err
    assert out == "" and "Traceback" not in err  # refused before reading: no task guess
    assert data.read_bytes() == before

    model = tmp_path / "m.npz"
    model.write_bytes(fruit_model.read_bytes())
    before = model.read_bytes()
    code, out, err = run("predict", model, files / "mixed.csv", "--out", model)
    assert code == 2
    assert "argument --out: " in err and "is the model file" in err
    assert model.read_bytes() == before
    assert isinstance(chainrule.load(model), TabularModel)


def test_huge_finite_values_train_a_model_that_loads(tmp_path):
    (tmp_path / "big2.csv").write_text("a,y\n1e300,x\n-1e300,y\n3,x\n4,y\n")
    code, out, err = run(
        "train", "big2.csv", "--target", "y", "--out", "o.npz", "--validation-fraction", "0",
        "--epochs", "3", cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "Warning" not in err and "overflow" not in err
    code, out, err = run("inspect", "o.npz", cwd=tmp_path)
    assert code == 0, err
    assert "mean 1.75, std 7.0711e+299" in out  # sqrt(mean((a - 1.75)**2)) = 1e300 / sqrt(2)
    code, out, err = run("predict", "o.npz", "big2.csv", cwd=tmp_path)
    assert code == 0 and "Warning" not in err, err
    assert len(out.splitlines()) == 5


def test_output_paths_are_checked_up_front(files, fruit_model, tmp_path, capsys):
    train = ["train", str(files / "mixed.csv"), "--target", "fruit", *QUICK]
    (tmp_path / "outdir").mkdir()
    for option, extra in [
        ("--out", []),
        ("--checkpoint", ["--out", str(tmp_path / "m.npz")]),
    ]:
        with pytest.raises(SystemExit) as info:
            main([*train, *extra, option, str(tmp_path / "outdir")])
        assert info.value.code == 2
        assert f"argument {option}: " in capsys.readouterr().err
    for args, needle in [
        (["--out", str(tmp_path / "m.npz"), "--checkpoint", str(tmp_path / "m.npz")], "--out"),
        (["--out", str(tmp_path / "m.npz"), "--checkpoint", str(files / "mixed.csv")], "DATA"),
    ]:
        with pytest.raises(SystemExit) as info:
            main([*train, *args])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "argument --checkpoint: " in err and needle in err
    assert not (tmp_path / "m.npz").exists()

    missing = str(tmp_path / "no" / "x.png")
    for argv, option in [
        (["predict", str(fruit_model), str(files / "mixed.csv"), "--out", missing], "--out"),
        (["evaluate", str(fruit_model), str(files / "mixed.csv"), "--plot", missing], "--plot"),
        (["plot", str(fruit_model), "--out", missing], "--out"),
    ]:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert f"error: {option} {missing}: cannot write there, the folder does not exist" in err

    for argv in (
        ["plot", str(fruit_model), "--out", str(tmp_path / "b.txt")],
        ["evaluate", str(fruit_model), str(files / "mixed.csv"), "--plot", "cm.csv"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "is not a picture format; use one of" in err and ".png" in err and ".svg" in err
        assert ("argument --out: " if argv[0] == "plot" else "argument --plot: ") in err
    assert not (tmp_path / "b.txt").exists()


def test_bugs_show_a_traceback_and_user_errors_do_not(files, tmp_path, capsys, monkeypatch):
    def broken_fit(self, frame, callbacks=()):
        raise ValueError("an internal mistake")

    monkeypatch.setattr(TabularModel, "fit", broken_fit)
    args = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(tmp_path / "m")]
    assert main([*args, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: an internal mistake" in err
    assert "internal error: this is a bug in chainrule" in err and "report it" in err
    assert "mixed.csv" not in err  # not blamed on the data file
    with pytest.raises(ValueError, match="an internal mistake"):
        main([*args, "--quiet", "--debug"])


def test_training_that_diverges_names_the_file_and_the_learning_rate(files, tmp_path, capsys):
    argv = ["train", str(files / "houses.csv"), "--target", "price", "--out", str(tmp_path / "m")]
    assert main([*argv, "--optimizer", "sgd", "--learning-rate", "1e6", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(err, "houses.csv: training diverged", "--learning-rate 100000")
    assert not (tmp_path / "m").exists()


def test_data_problems_named_in_one_line(files, tmp_path, capsys):
    args = ["--out", str(tmp_path / "m.npz"), *QUICK]
    with pytest.raises(SystemExit) as info:
        main(["train", str(files / "mixed.csv"), "--target", "fruit", "--ignore", "fruit", *args])
    assert info.value.code == 2
    assert "argument --ignore: 'fruit' is the target (--target fruit)" in capsys.readouterr().err

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    pd.DataFrame({"x": x, "y": (3 * x).round(3)}).to_csv(tmp_path / "cont.csv", index=False)
    assert main(["train", str(tmp_path / "cont.csv"), "--target", "y", "--task", "classify", *args])
    assert_one_line_error(
        capsys.readouterr().err, "cont.csv: target column 'y' holds 60 distinct numbers in 60",
        "--task regress",
    )  # fmt: skip

    (tmp_path / "dup.csv").write_text("a,b,a,y\n1,2,3,x\n4,5,6,y\n")
    assert main(["train", str(tmp_path / "dup.csv"), "--target", "y", *args]) == 1
    assert_one_line_error(
        capsys.readouterr().err, "dup.csv: the header names the column 'a' more than once"
    )


def test_messages_agree_in_number(files, fruit_model, tmp_path, capsys):
    mixed = pd.read_csv(files / "mixed.csv").astype({"size": object})
    mixed.loc[[2, 3], "size"] = "big"
    mixed.to_csv(tmp_path / "odd.csv", index=False)
    assert main(["predict", str(fruit_model), str(tmp_path / "odd.csv")]) == 1
    assert "rows 4, 5 hold text such as 'big'" in capsys.readouterr().err

    from chainrule.cli import _a

    assert [_a(n) for n in ("MLPClassifier", "Network", "TabularModel", "Adam")] == [
        "an MLPClassifier",
        "a Network",
        "a TabularModel",
        "an Adam",
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="reads a pipe through /dev/fd, POSIX")
def test_csv_from_a_pipe_is_read_once(files, fruit_model, capsys):
    import os

    text = (files / "mixed.csv").read_text().splitlines()
    data = ("\n".join(text[:4]) + "\n").encode()
    read_end, write_end = os.pipe()
    os.write(write_end, data)  # small: fits in the pipe's buffer
    os.close(write_end)
    try:
        assert main(["predict", str(fruit_model), f"/dev/fd/{read_end}"]) == 0
    finally:
        os.close(read_end)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "fruit" and len(lines) == 4


def test_inspect_and_plot_scikit_learn_estimators(tmp_path, capsys):
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    lbfgs = chainrule.MLPClassifier(
        hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached: ConvergenceWarning
        lbfgs.fit(X, y)
    lbfgs.save(tmp_path / "lbfgs.npz")
    assert main(["inspect", str(tmp_path / "lbfgs.npz")]) == 0
    out = capsys.readouterr().out
    assert "solver: lbfgs" in out and "SGD(" not in out and "none recorded" not in out
    assert f"solver lbfgs: {lbfgs.n_iter_} iterations, final training loss {lbfgs.loss_:.4f}" in out
    assert main(["plot", str(tmp_path / "lbfgs.npz"), "--out", str(tmp_path / "l.png")]) == 1
    assert "no training history to plot (lbfgs records no loss curve)" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "lbfgs.npz"), str(tmp_path / "l.png")]) == 1
    assert "holds an MLPClassifier, not a model made by" in capsys.readouterr().err

    adam = chainrule.MLPClassifier(hidden_layer_sizes=(5,), max_iter=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adam.fit(X, y)
    adam.save(tmp_path / "adam.npz")
    assert main(["inspect", str(tmp_path / "adam.npz")]) == 0
    out = capsys.readouterr().out
    curve = adam.loss_curve_
    assert "solver: adam" in out
    assert f"solver adam: 8 epochs; training loss {curve[0]:.4f} -> {curve[-1]:.4f}" in out


def test_plot_marks_the_kept_weights(fruit_model, tmp_path, capsys, monkeypatch):
    from chainrule import plotting

    seen = {}
    monkeypatch.setattr(
        plotting, "plot_learning_curves", lambda history, path, **kw: seen.update(kw)
    )
    assert main(["plot", str(fruit_model), "--out", str(tmp_path / "c.png")]) == 0
    model = chainrule.load(fruit_model)
    val_loss = model.history_.history["val_loss"]
    assert seen["kept_epoch"] == int(np.argmin(val_loss)) + 1 == model.training_["best_epoch"]
    assert seen["title"] == "Learning curves of 'fruit'"
    capsys.readouterr()
    assert main(["inspect", str(fruit_model)]) == 0
    assert f"the model holds the weights of epoch {seen['kept_epoch']}" in capsys.readouterr().out


def test_names_and_labels_from_files_reach_terminals_escaped_and_spreadsheets_inert(
    tmp_path, capsys
):
    """A column name or label holding an escape sequence drove the terminal, and a label
    such as =HYPERLINK(...) became a formula in the predictions CSV."""
    rng = np.random.default_rng(0)
    n = 90
    x = rng.normal(size=n)
    evil_column = "\x1b]0;owned\x07size\x1b[2J"
    link = '=HYPERLINK("http://example.com","click")'
    labels = np.where(x > 0.4, link, np.where(x > -0.4, "-5", "@SUM(A1)\x1b[0m"))
    frame = pd.DataFrame({evil_column: x, "noise": rng.normal(size=n), "label": labels})
    data = tmp_path / "evil.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.npz"
    assert (
        main(["train", str(data), "--target", "label", "--out", str(model), "--epochs", "5"]) == 0
    )
    for command in (["inspect", str(model)], ["evaluate", str(model), str(data)]):
        capsys.readouterr()
        assert main(command) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\r" not in out, out
        assert "\\x1b]0;owned\\x07size\\x1b[2J" in out or "@SUM(A1)\\x1b[0m" in out
    out_csv = tmp_path / "predictions.csv"
    assert main(["predict", str(model), str(data), "--proba", "--out", str(out_csv)]) == 0
    cells = pd.read_csv(out_csv, dtype=str, keep_default_na=False)
    predicted = set(cells["label"])
    assert predicted <= {"'" + link, "-5", "'@SUM(A1)\x1b[0m"}
    assert "'" + link in predicted and "-5" in predicted  # a plain negative number stays
    assert list(cells.columns)[1:] == [f"proba_{c}" for c in sorted(set(labels))]
    # a message naming a column from the file: escaped too
    capsys.readouterr()
    frame.drop(columns=[evil_column]).to_csv(tmp_path / "missing.csv", index=False)
    assert main(["predict", str(model), str(tmp_path / "missing.csv")]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err, err


def test_a_header_too_large_to_save_is_refused_before_training(tmp_path, capsys, monkeypatch):
    """A header past 16 MB (text categories) was found only at the save: the trained
    model was lost. Now the check runs once the preprocessing is learned."""
    import chainrule.io as cio
    from chainrule.network import Network

    rng = np.random.default_rng(0)
    n = 1500
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "ticket": [f"T-{i:05d}" for i in range(n)],  # a distinct value per row
            "y": rng.choice(["a", "b"], size=n),
        }
    )
    frame.to_csv(tmp_path / "tickets.csv", index=False)
    epochs = []
    real_fit = Network.fit

    def counting_fit(self, *args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), chainrule.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epochs.append(epoch))]  # fmt: skip
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Network, "fit", counting_fit)
    monkeypatch.setattr(cio, "MAX_HEADER_BYTES", 10_000)
    out = tmp_path / "m.npz"
    argv = ["train", str(tmp_path / "tickets.csv"), "--target", "y", "--out", str(out)]
    assert main([*argv, "--epochs", "3"]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(
        err, "tickets.csv: cannot train", "over the limit of 10,000 bytes", "'ticket'",
        "--ignore ticket",
    )  # fmt: skip
    assert epochs == [] and not out.exists()
    assert main([*argv, "--epochs", "3", "--ignore", "ticket", "--quiet"]) == 0
    assert epochs == [0, 1, 2] and out.exists()


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_as_the_model_is_one_line_error_not_a_hang(tmp_path):
    import os

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    code, _, err = run("inspect", fifo, timeout=60)  # a hang fails with TimeoutExpired
    assert code == 1
    assert_one_line_error(err, str(fifo), "named pipe (FIFO)", "regular file")


# ---------------------------------------------------------------- resuming, interruptions


def _train(data, out, *extra):
    return ["train", str(data), "--target", "fruit", "--out", str(out), "--quiet", *map(str, extra)]


def test_resume_a_checkpoint_equals_one_run(files, tmp_path, capsys):
    """10 epochs at once, or 4 with --checkpoint and then --resume up to 10: the same
    model file contents (weights, history, what the summary reports)."""
    from threadpoolctl import threadpool_limits

    data, ck = files / "mixed.csv", tmp_path / "ck.npz"
    settings = ["--hidden", "16", "--patience", "3", "--seed", "4"]
    with threadpool_limits(1):
        assert main(_train(data, tmp_path / "whole.npz", "--epochs", "10", *settings)) == 0
        assert (
            main(
                _train(data, tmp_path / "part.npz", "--epochs", "4", "--checkpoint", ck, *settings)
            )
            == 0
        )
        # the run's settings come from the file; giving the same ones again (or naming
        # the task it guessed) is fine
        assert (
            main(
                _train(
                    data,
                    tmp_path / "res.npz",
                    "--epochs",
                    "10",
                    "--resume",
                    ck,
                    "--seed",
                    "4",
                    "--task",
                    "classify",
                )
            )
            == 0
        )
    whole, resumed = chainrule.load(tmp_path / "whole.npz"), chainrule.load(tmp_path / "res.npz")
    np.testing.assert_array_equal(resumed.network_.params, whole.network_.params)
    assert (
        resumed.network_.history.history["val_loss"] == whole.network_.history.history["val_loss"]
    )
    assert resumed.training_["best_epoch"] == whole.training_["best_epoch"]
    capsys.readouterr()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--hidden", "8"], "--hidden 8 differs from the run in {ck} (16); a resumed run keeps"),
        (["--target", "size"], "--target size differs from the run in {ck} (fruit)"),
        (["--l1", "0.01"], "--l1 0.01 differs from the run in {ck} (0"),
        (
            ["--epochs", "3"],
            "--resume {ck}: the run has trained 3 epochs already; --epochs is the total",
        ),
    ],
)
def test_resume_refuses_changed_settings(files, tmp_path, capsys, extra, needle):
    ck = tmp_path / "ck.npz"
    args = ["--epochs", "3", "--hidden", "16", "--checkpoint", ck, "--patience", "0"]
    assert main(_train(files / "mixed.csv", tmp_path / "m.npz", *args)) == 0
    capsys.readouterr()
    assert main(_train(files / "mixed.csv", tmp_path / "r.npz", "--resume", ck, *extra)) == 1
    assert_one_line_error(capsys.readouterr().err, needle.format(ck=ck))
    assert not (tmp_path / "r.npz").exists()


def test_resume_refuses_other_data_and_files_without_state(files, tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    assert (
        main(_train(files / "mixed.csv", tmp_path / "m.npz", "--epochs", "3", "--checkpoint", ck))
        == 0
    )
    mixed_frame(160, seed=9).to_csv(tmp_path / "other.csv", index=False)
    capsys.readouterr()
    assert (
        main(_train(tmp_path / "other.csv", tmp_path / "r.npz", "--resume", ck, "--epochs", "6"))
        == 1
    )
    assert_one_line_error(
        capsys.readouterr().err, "other.csv: the data differ from those the run being resumed"
    )
    untrained = TabularModel("fruit", epochs=1).fit(mixed_frame())
    untrained.network_.optimizer.iterations = untrained.network_.epoch = 0
    untrained.save(tmp_path / "old.npz")
    assert (
        main(_train(files / "mixed.csv", tmp_path / "r.npz", "--resume", tmp_path / "old.npz")) == 1
    )
    assert_one_line_error(capsys.readouterr().err, "holds no training state to resume")


def test_resume_names_the_reading_options_it_does_not_keep(tmp_path, capsys):
    # bikes.csv trained with --decimal , --drop-missing-target, resumed without them:
    # the refusal said only "resume with the same file", and it was the same file
    data = _write_messy(tmp_path / "weather.csv", _messy())
    ck = tmp_path / "ck.npz"
    reading = ["--decimal", ",", "--na-values", "n/a (sensor off)", "--drop-missing-target"]
    first = ["--ignore", "id", "--impute", "--epochs", "3", "--quiet"]
    assert main(["train", data, "--target", "rain", "--out", str(tmp_path / "m.npz"),
                 "--checkpoint", str(ck), *first, *reading]) == 0  # fmt: skip
    again = ["train", data, "--target", "rain", "--out", str(tmp_path / "r.npz"),
             "--resume", str(ck), "--epochs", "5"]  # fmt: skip
    assert main(again) == 1
    assert_one_line_error(
        capsys.readouterr().err,
        "weather.csv: the run being resumed trained on 118 rows; this data has 120: resume "
        "with the same file, read with the reading options of the first run (--sep, "
        "--decimal, --thousands, --na-values, --drop-missing-target: a resumed run does not "
        "keep them)",
    )
    assert main([*again, *reading]) == 0
    assert chainrule.load(tmp_path / "r.npz").network_.epoch == 5
    out = capsys.readouterr().out
    assert "resuming " + str(ck) + " at epoch 4\n" in out
    assert "trained 5 of 5 epochs (epochs 4 to 5 in this run, " in out


def test_unwritable_outputs_are_refused_before_training(files, tmp_path, capsys, monkeypatch):
    """A read-only folder is found before the data are read, naming the file."""
    import tempfile

    real = tempfile.mkstemp
    readonly = tmp_path / "readonly"
    readonly.mkdir()

    def mkstemp(*args, dir=None, **kwargs):
        if os.path.samefile(dir, readonly):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(TabularModel, "fit", lambda *a, **k: pytest.fail("training started"))
    for option, extra in [("--out", []), ("--checkpoint", ["--out", str(tmp_path / "m.npz")])]:
        path = readonly / "m2.npz"
        args = ["train", str(files / "mixed.csv"), "--target", "fruit", *extra, option, str(path)]
        assert main(args) == 1
        assert_one_line_error(
            capsys.readouterr().err,
            f"{option} {path}: cannot write there (Permission denied); choose a folder",
        )
    assert sorted(os.listdir(readonly)) == []


def test_a_failed_checkpoint_save_warns_and_training_goes_on(files, tmp_path, capsys, monkeypatch):
    calls = first_checkpoint_save_fails(monkeypatch, OSError(28, "No space left on device"))
    ck = tmp_path / "ck.npz"
    args = ["--epochs", "4", "--checkpoint", ck, "--patience", "0"]
    assert main(_train(files / "mixed.csv", tmp_path / "m.npz", *args)) == 0
    err = capsys.readouterr().err
    assert (
        f"chainrule train: warning: could not save the checkpoint {str(ck)!r} after epoch 1 "
        "(No space left on device); training goes on and the next epoch tries again"
    ) in err
    assert len(calls) >= 2 and chainrule.load(ck).network_.epoch >= 2
    assert (tmp_path / "m.npz").exists()


def _interrupt_at(monkeypatch, moment):
    """Raise KeyboardInterrupt, as Ctrl-C would, at one moment of training."""
    from chainrule.callbacks import Callback, Monitor
    from chainrule.network import Network

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if moment == "before on_train_begin":  # the first callback's: the checkpoint's never ran
        monkeypatch.setattr(Monitor, "on_train_begin", interrupt)
    elif moment == "inside the first batch":
        monkeypatch.setattr(Network, "train_step", interrupt)
    else:  # at the start of the third epoch
        real = Callback.on_epoch_begin

        def third(self, epoch):
            if epoch == 2:
                raise KeyboardInterrupt
            return real(self, epoch)

        monkeypatch.setattr(Callback, "on_epoch_begin", third)


@pytest.mark.parametrize(
    "moment", ["before on_train_begin", "inside the first batch", "between epochs"]
)
def test_ctrl_c_at_any_moment(files, tmp_path, capsys, monkeypatch, moment):
    """Regression: Ctrl-C in the first second crashed with AttributeError ('Checkpoint'
    object has no attribute 'saved_epoch'); now exit 130 and a one-line account."""
    _interrupt_at(monkeypatch, moment)
    ck, out = tmp_path / "ck.npz", tmp_path / "m.npz"
    args = ["--epochs", "5", "--checkpoint", ck, "--patience", "0", "--validation-fraction", "0"]
    assert main(_train(files / "mixed.csv", out, *args)) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()
    if moment == "between epochs":
        assert err == (
            "chainrule train: interrupted after 2 epoch(s); the best model so far (epoch 2) is "
            f"in {ck}; --resume {ck} continues from epoch 3\n"
        )
        assert chainrule.load(ck).network_.epoch == 2
    else:
        assert err == "chainrule train: interrupted after 0 epoch(s); no model was saved\n"
        assert not ck.exists()


def test_ctrl_c_then_resume_equals_one_run(files, tmp_path):
    """A real SIGINT to `chainrule train` after a checkpoint, then --resume: the model of
    one uninterrupted run (one BLAS thread in both processes)."""
    frame = pd.concat([mixed_frame(400, seed=s) for s in range(3)])
    frame.to_csv(tmp_path / "big.csv", index=False)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    ck = tmp_path / "ck.npz"
    settings = ["--epochs", "60", "--patience", "0", "--hidden", "64,64", "--quiet"]
    common = [
        sys.executable,
        "-m",
        "chainrule.cli",
        "train",
        str(tmp_path / "big.csv"),
        "--target",
        "fruit",
    ]
    proc = subprocess.Popen(
        [*common, "--out", str(tmp_path / "cut.npz"), "--checkpoint", str(ck), *settings],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not ck.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if proc.returncode == 0:
        pytest.fail("training finished before the interrupt; make the run longer")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert f"--resume {ck} continues" in err, err
    done = chainrule.load(ck).network_.epoch
    assert 0 < done < 60
    # where the checkpoint's run goes on (the epochs after the best one run again)
    assert f"--resume {ck} continues from epoch {done + 1}\n" in err
    for out, extra in [("whole.npz", []), ("resumed.npz", ["--resume", str(ck)])]:
        subprocess.run(
            [*common, "--out", str(tmp_path / out), *settings, *extra], env=env, check=True
        )
    whole, resumed = (chainrule.load(tmp_path / name) for name in ("whole.npz", "resumed.npz"))
    np.testing.assert_array_equal(resumed.network_.params, whole.network_.params)
    assert resumed.network_.history.epoch == list(range(60))


def test_ctrl_c_inside_a_checkpoint_save_reports_the_saved_file(
    files, tmp_path, capsys, monkeypatch
):
    """The signal may land after the file was replaced but before the checkpoint noted it:
    the message reads the epoch from the file, so --resume is offered."""
    from chainrule import io as chainrule_io

    real, calls = chainrule_io._fsync_folder, []

    def interrupted(folder):
        calls.append(folder)
        real(folder)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(chainrule_io, "_fsync_folder", interrupted)
    ck = tmp_path / "ck.npz"
    args = ["--epochs", "5", "--checkpoint", ck, "--patience", "0", "--validation-fraction", "0"]
    assert main(_train(files / "mixed.csv", tmp_path / "m.npz", *args)) == 130
    err = capsys.readouterr().err
    assert err == (
        "chainrule train: interrupted after 2 epoch(s); the best model so far (epoch 2) is "
        f"in {ck}; --resume {ck} continues from epoch 3\n"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT to itself, which is POSIX")
@pytest.mark.usefixtures("python_sigint")
def test_a_real_ctrl_c_inside_zipfile_during_a_checkpoint_save(
    files, tmp_path, capsys, monkeypatch
):
    """Regression (the flaky test_ctrl_c_then_resume_equals_one_run): a SIGINT landing in
    zipfile's code during a checkpoint save became a ValueError ("Can't close the ZIP
    file while there is an open writing handle"), reported as "interrupted" without the
    checkpoint, and a traceback from ZipFile.__del__. Now the save completes first."""
    real_init, opened = zipfile._ZipWriteFile.__init__, []

    def ctrl_c_in_the_second_save(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        opened.append(args[1].filename)
        if opened.count("header.json") == 2 and opened[-1] == "header.json":
            os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler right here

    monkeypatch.setattr(zipfile._ZipWriteFile, "__init__", ctrl_c_in_the_second_save)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    ck = tmp_path / "ck.npz"
    args = ["--epochs", "5", "--checkpoint", ck, "--patience", "0", "--validation-fraction", "0"]
    assert main(_train(files / "mixed.csv", tmp_path / "m.npz", *args)) == 130
    gc.collect()
    assert capsys.readouterr().err == (
        "chainrule train: interrupted after 2 epoch(s); the best model so far (epoch 2) is "
        f"in {ck}; --resume {ck} continues from epoch 3\n"
    )
    assert unraisable == []
    assert chainrule.load(ck).network_.epoch == 2
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]


@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_swallowed_by_the_csv_reader_still_exits_130(files, tmp_path, capsys, monkeypatch):
    """Regression: Ctrl-C while pandas' C reader reads the file became its ParserError
    ("Calling read(nbytes) on source failed"), reported as an internal error."""
    import chainrule.cli as cli

    def reading(path, **options):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, while the file is read
            time.sleep(1)
        except KeyboardInterrupt:  # what pandas' tokenizer does with it
            raise pd.errors.ParserError(
                "Calling read(nbytes) on source failed. Try engine='python'."
            ) from None
        pytest.fail("no KeyboardInterrupt")

    monkeypatch.setattr(cli, "read_csv", reading)
    args = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(tmp_path / "m")]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err == "interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_failed_final_save_names_the_model_file(files, tmp_path, capsys, monkeypatch):
    """Disk full at the end: the message names --out (not a temporary file) and the
    checkpoint that is left."""
    from chainrule import io as chainrule_io

    real = chainrule_io._atomic_write
    ck, out = tmp_path / "ck.npz", tmp_path / "m.npz"

    def full(target, write):
        if target == out:
            raise OSError(28, "No space left on device")
        return real(target, write)

    monkeypatch.setattr(chainrule_io, "_atomic_write", full)
    args = ["--epochs", "2", "--checkpoint", ck, "--patience", "0", "--validation-fraction", "0"]
    assert main(_train(files / "mixed.csv", out, *args)) == 1
    assert_one_line_error(
        capsys.readouterr().err,
        f"--out {out}: could not save the model (No space left on device); the checkpoint "
        f"of epoch 2 is in {ck}",
    )
    assert not out.exists() and chainrule.load(ck).network_.epoch == 2


# ---------------------------------------------------------------- files as they come (issue 11)


def _messy(n=120, seed=0):
    """A European export: an ID, day-first dates, decimal commas, a sensor gap, holes."""
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    temp = rng.normal(15, 8, n).round(1)
    wind = rng.gamma(2, 800, n).round(1)
    rain = np.where(temp + 4 * np.sin(2 * np.pi * day.month / 12) > 15, "dry", "wet")
    frame = pd.DataFrame(
        {
            "id": [f"{i:05d}" for i in range(1, n + 1)],
            "day": day.strftime("%d/%m/%Y"),
            "temp": [f"{t:.1f}".replace(".", ",") for t in temp],
            "wind": [
                f"{w:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".") for w in wind
            ],
            "rain": rain,
        }
    )
    frame.loc[4, "temp"] = "n/a (sensor off)"
    frame.loc[[7, 30], "rain"] = ""
    return frame


def _write_messy(path, frame):
    text = frame.to_csv(sep=";", index=False, lineterminator="\r\n")
    path.write_bytes("\ufeff".encode() + text.encode())
    return str(path)


def test_a_messy_european_file_trains_and_predicts_with_ids_kept(tmp_path, capsys):
    data = _write_messy(tmp_path / "weather.csv", _messy())
    model = str(tmp_path / "m.npz")
    argv = ["train", data, "--target", "rain", "--out", model, "--epochs", "30"]
    assert main([*argv, "--ignore", "id", "--decimal", ","]) == 1
    captured = capsys.readouterr()
    assert "weather.csv: read as semicolon-separated (--sep to choose)" in captured.out
    assert_one_line_error(
        captured.err, "target column 'rain' has 2 missing value(s) (rows 9, 32)",
        "--drop-missing-target",
    )  # fmt: skip
    assert main([*argv, "--ignore", "id", "--decimal", ",", "--drop-missing-target"]) == 0
    assert "warning: column 'temp' holds numbers except 1 value(s): 'n/a (sensor off)' (row 6)" in (
        capsys.readouterr().err
    )
    full = [*argv, "--ignore", "id", "--decimal", ",", "--na-values", "n/a (sensor off)"]
    assert main([*full, "--drop-missing-target", "--impute"]) == 0
    captured = capsys.readouterr()
    assert (
        "dropped 2 of 120 rows with no 'rain' value (--drop-missing-target): rows 9, 32"
        in captured.out
    )
    assert "data: 118 rows, 3 input columns (0 text, 1 date) -> 8 features" in captured.out
    loaded = chainrule.load(model)
    kinds = {c["name"]: c["kind"] for c in loaded.preprocessor_.columns_}
    assert kinds == {"day": "datetime", "temp": "numeric", "wind": "numeric"}
    assert loaded.preprocessor_.columns_[0]["format"] == "%d/%m/%Y"
    assert main(["inspect", model]) == 0
    described = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["day", "date", "%d/%m/%Y", "->", "year,", "month_sin,", "month_cos,", "day,",
            "weekday_sin,", "weekday_cos", "each", "part's", "mean"] in described  # fmt: skip

    out = tmp_path / "pred.csv"
    assert main(["predict", model, data, "--decimal", ",", "--na-values", "n/a (sensor off)",
                 "--keep", "id", "day", "--out", str(out)]) == 0  # fmt: skip
    assert "wrote 120 predictions of 'rain'" in capsys.readouterr().out
    pred = pd.read_csv(out, dtype=str)
    assert list(pred.columns) == ["id", "day", "rain"]
    assert pred["id"].tolist()[:3] == ["00001", "00002", "00003"]  # as written, zeros kept
    assert pred["day"].tolist() == _messy()["day"].tolist()
    # the natural order: --keep before the files
    assert main(["predict", "--keep", "id", model, data, "--decimal", ",",
                 "--na-values", "n/a (sensor off)"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "id,rain"
    assert "read as semicolon-separated" in captured.err  # stdout holds the predictions
    assert main(["predict", model, data, "--keep", "rain", "--decimal", ","]) == 1
    assert_one_line_error(  # the stray value, not the decimal commas, is what to fix
        capsys.readouterr().err, "'temp' must hold numbers, as in training; row 6 holds text "
        "such as 'n/a (sensor off)' (if it means 'missing': --na-values 'n/a (sensor off)')",
    )  # fmt: skip
    assert main(["predict", model, data, "--keep", "rain", "--decimal", ",",
                 "--na-values", "n/a (sensor off)"]) == 1  # fmt: skip
    assert_one_line_error(capsys.readouterr().err, "--keep 'rain': the predictions have a column")
    assert main(["predict", model, data, "--keep", "ID", "--decimal", ","]) == 1
    assert_one_line_error(
        capsys.readouterr().err, "weather.csv: --keep 'ID': no such column; the columns are id,"
    )


def test_evaluate_drops_missing_targets_when_asked(tmp_path, capsys):
    # bikes.csv-like files have rows without a target: evaluate said "remove those rows"
    # and had no --drop-missing-target to leave them out as train does
    data = _write_messy(tmp_path / "weather.csv", _messy())
    model = str(tmp_path / "m.npz")
    assert main(["train", data, "--target", "rain", "--out", model, "--epochs", "3", "--quiet",
                 "--ignore", "id", "--decimal", ",", "--na-values", "n/a (sensor off)",
                 "--drop-missing-target", "--impute"]) == 0  # fmt: skip
    reading = ["--decimal", ",", "--na-values", "n/a (sensor off)"]
    assert main(["evaluate", model, data, *reading]) == 1
    assert_one_line_error(
        capsys.readouterr().err,
        "weather.csv: target column 'rain' has 2 missing value(s) (rows 9, 32); remove those "
        "rows (--drop-missing-target leaves them out)",
    )
    assert main(["evaluate", model, data, *reading, "--drop-missing-target"]) == 0
    out = capsys.readouterr().out
    assert "dropped 2 of 120 rows with no 'rain' value (--drop-missing-target): rows 9, 32" in out
    assert "weather.csv: 118 rows; target 'rain'" in out
    frame = chainrule.tabular.read_csv(data, decimal=",", na_values=["n/a (sensor off)"])
    scores = chainrule.load(model).evaluate(frame.dropna(subset=["rain"]))
    assert f"accuracy  {scores['accuracy']:.4f}" in out


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".csv.xz", ".zip", ".parquet"])
def test_compressed_and_parquet_files(files, tmp_path, capsys, suffix):
    frame = pd.read_csv(files / "mixed.csv")
    path = tmp_path / f"mixed{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)  # pandas compresses by the suffix
    model = str(tmp_path / "m.npz")
    assert main(["train", str(path), "--target", "fruit", "--out", model, *QUICK]) == 0
    assert main(["evaluate", model, str(path)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_parquet_without_pyarrow_names_the_extra(files, tmp_path, capsys, monkeypatch):
    pd.read_csv(files / "mixed.csv").to_parquet(tmp_path / "t.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    out = str(tmp_path / "m.npz")
    argv = ["train", str(tmp_path / "t.parquet"), "--target", "fruit", "--out", out]
    assert main(argv) == 1
    assert_one_line_error(capsys.readouterr().err, "pip install 'chainrule[parquet]'")


def test_a_row_longer_than_the_header_is_refused(tmp_path, capsys):
    # pandas made the first field of every row the index and trained on shifted columns
    rows = "".join(f"{i},{i % 3},{i * 0.5},{'ab'[i % 2]}\n" for i in range(40))
    (tmp_path / "shifted.csv").write_text("a,b,y\n" + rows)
    out = tmp_path / "m.npz"
    argv = ["train", str(tmp_path / "shifted.csv"), "--target", "y", "--out", str(out), *QUICK]
    assert main(argv) == 1
    assert_one_line_error(
        capsys.readouterr().err, "shifted.csv: line 2 has 4 fields but the header names 3"
    )
    assert not out.exists()


def test_missing_values_at_predict_do_not_suggest_a_predict_option(files, fruit_model, capsys):
    # predict has no --impute; the message said "--impute"
    assert main(["predict", str(fruit_model), str(files / "holes.csv")]) == 1
    err = capsys.readouterr().err
    assert_one_line_error(
        err, "holes.csv: missing values in 2 row(s)", "trained without imputation"
    )
    assert "train again with imputation (chainrule train ... --impute" in err


def test_a_huge_value_at_predict_is_a_data_error(files, fruit_model, tmp_path, capsys):
    # 1e308 overflowed float32 after scaling: "internal error"
    frame = pd.read_csv(files / "mixed.csv").head(5)
    frame.loc[3, "size"] = 1e308
    frame.to_csv(tmp_path / "huge.csv", index=False)
    assert main(["predict", str(fruit_model), str(tmp_path / "huge.csv")]) == 1
    assert_one_line_error(
        capsys.readouterr().err, "huge.csv: column 'size': row 5 holds a value too large",
        "1e+308",
    )  # fmt: skip


@pytest.mark.parametrize("chained", [False, True])
def test_ctrl_c_while_reading_the_csv(files, fruit_model, tmp_path, capsys, monkeypatch, chained):
    def interrupted(*args, **kwargs):
        if not chained:
            raise KeyboardInterrupt
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # what pandas' C reader makes of it
            raise pd.errors.ParserError(
                "Error tokenizing data. C error: Calling read(nbytes) on source failed. "
                "Try engine='python'."
            ) from None

    monkeypatch.setattr(pd, "read_csv", interrupted)
    out = tmp_path / "m.npz"
    argv = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(out)]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.strip() == (
        f"chainrule train: interrupted while reading {files / 'mixed.csv'}; nothing was "
        "trained or saved"
    )
    assert not out.exists()
    assert main(["predict", str(fruit_model), str(files / "mixed.csv")]) == 130
    assert "nothing was predicted or written" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="a named pipe and SIGINT are POSIX")
def test_a_real_ctrl_c_while_reading_from_a_pipe(tmp_path):
    import os

    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "train", str(fifo), "--target", "y",
         "--out", str(tmp_path / "m.npz")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        with open(fifo, "w") as writer:  # returns once the command has opened the pipe
            writer.write("x,y\n1,a\n")
            writer.flush()
            time.sleep(0.5)  # the command waits in read() for the rest
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == (
        f"chainrule train: interrupted while reading {fifo}; nothing was trained or saved"
    )


# ---------------------------------------------------------------- explain


def test_explain_one_row_with_its_columns_a_weight_and_json(files, fruit_model, tmp_path, capsys):
    out = tmp_path / "trace.json"
    code = main(
        [
            *("explain", str(fruit_model), str(files / "mixed.csv"), "--row", "3"),
            *("--weight", "1,3,2", "--json", str(out)),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    frame = pd.read_csv(files / "mixed.csv")
    row = frame.iloc[2]  # --row 3: the third data row
    assert text.startswith(f"{files / 'mixed.csv'}, row 3\n")
    assert (
        f"target 0 (row 3's fruit = {row['fruit']})" in text or f"fruit = {row['fruit']})" in text
    )
    assert f"  colour = {row['colour']} -> colour=blue " in text
    assert "backward: take the partial derivatives, evaluate, and multiply" in text
    assert (
        "derror_dweights_1[3, 2] = derror_dlayer2[2] * dlayer2_dlayer1[2] * dlayer1_dweights[3]"
        in text
    )
    data = json.loads(out.read_text())
    model = chainrule.load(fruit_model)
    proba = model.predict_proba(frame.iloc[[2]])[0]
    np.testing.assert_allclose(data["values"]["prediction"], proba, rtol=1e-6)
    assert data["columns"]["colour"] == ["colour=blue", "colour=green", "colour=red"]
    assert data["weight"]["index"] == [1, 3, 2]
    # the row's own target: the error is the loss of the true class
    assert data["error"] == pytest.approx(
        -np.log(proba[list(model.classes_).index(row["fruit"])]), abs=1e-6
    )


def test_explain_without_the_target_column_uses_the_prediction(
    files, fruit_model, tmp_path, capsys
):
    data = tmp_path / "no_target.csv"
    pd.read_csv(files / "mixed.csv").drop(columns="fruit").head(5).to_csv(data, index=False)
    assert main(["explain", str(fruit_model), str(data), "--row", "5"]) == 0
    assert "none given: the predicted class" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--row", "999"], "--row 999: the file has 160 data row(s)"),
        (["--row", "1", "--weight", "9,1,1"], "--weight: weight=(k, i, j): k must be between 1"),
    ],
)
def test_explain_errors_are_one_line(files, fruit_model, capsys, extra, needle):
    assert main(["explain", str(fruit_model), str(files / "mixed.csv"), *extra]) == 1
    assert_one_line_error(capsys.readouterr().err, needle)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--row", "1", "--weight", "1,x"], "argument --weight: expected L,I,J"),
        (["--row", "0"], "argument --row: expected a positive integer"),
    ],
)
def test_explain_usage_errors_exit_2(files, fruit_model, capsys, extra, needle):
    with pytest.raises(SystemExit) as info:
        main(["explain", str(fruit_model), str(files / "mixed.csv"), *extra])
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


def test_explain_importance_ranks_raw_columns_and_draws_the_chart(
    files, fruit_model, tmp_path, capsys
):
    """--importance: the permutation table over the file's raw columns (the text column
    as one), the picture with --plot, and the row's trace too when --row is given."""
    from chainrule.importance import permutation_importance

    picture = tmp_path / "bars.png"
    argv = ["explain", str(fruit_model), str(files / "mixed.csv"), "--importance"]
    assert main([*argv, "--plot", str(picture), "--row", "2"]) == 0
    out = capsys.readouterr().out
    frame = pd.read_csv(files / "mixed.csv")
    expected = permutation_importance(chainrule.load(fruit_model), frame, random_state=0)
    top = expected.names[int(np.argmax(expected.importances_mean))]
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("column")) + 2
    table = [line.split()[0] for line in lines[start : start + 3]]  # under the dashes
    assert table[0] == top and sorted(table) == ["colour", "size", "weight"]
    assert picture.exists() and picture.stat().st_size > 1000
    assert f"{files / 'mixed.csv'}, row 2" in out  # the trace follows


def test_explain_needs_a_row_or_importance_and_a_plot_needs_importance(files, fruit_model, capsys):
    base = ["explain", str(fruit_model), str(files / "mixed.csv")]
    with pytest.raises(SystemExit) as info:
        main(base)
    assert info.value.code == 2
    assert "give --row N (trace one row), --importance, or both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([*base, "--row", "1", "--plot", "x.png"])
    assert info.value.code == 2
    assert "--plot draws the importance chart: add --importance" in capsys.readouterr().err


# ---------------------------------------------------------------- training's health


def test_train_diagnose_warns_keeps_the_record_and_plot_health_draws_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(300, 2)).round(3)
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x.sum(axis=1) > 1).astype(int)})
    frame.to_csv(tmp_path / "pos.csv", index=False)
    model_path, picture = tmp_path / "m.npz", tmp_path / "health.png"
    code, out, err = run(
        "train", tmp_path / "pos.csv", "--target", "y", "--out", model_path, "--diagnose",
        "--learning-rate", "3", "--hidden", "8", "--epochs", "6", "--patience", "0", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert out == ""  # --quiet: the warnings alone, on stderr
    assert (
        "chainrule train: warning: 62% of layer 1's ReLU units output 0 for every sample "
        "(epoch 3): lower the learning rate, or use leaky_relu"
    ) in err
    record = chainrule.load(model_path).training_["diagnostics"]
    assert record["epoch"] == list(range(6))
    assert record["layers"][0]["dead"] == [0.0, 0.0, 0.625, 0.625, 0.625, 0.625]
    assert record["warnings"][0].startswith("62% of layer 1's ReLU units")

    assert main(["plot", str(model_path), "--health", str(picture)]) == 0
    assert f"plot saved to {picture}" in capsys.readouterr().out
    height, width = _png_size(picture)
    assert width > height > 500  # two rows of three panels

    # a model trained without --diagnose has no record; --out or --health is needed
    code, _, err = run("train", tmp_path / "pos.csv", "--target", "y", "--out",
                       tmp_path / "plain.npz", "--epochs", "2", "--quiet")  # fmt: skip
    assert code == 0, err
    assert main(["plot", str(tmp_path / "plain.npz"), "--health", str(picture)]) == 1
    assert (
        "plain.npz: the model file holds no record of training's health; train it with "
        "chainrule train --diagnose"
    ) in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(model_path)])
    assert exit_info.value.code == 2
    assert "the following argument is required: --out (or --health)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plot", str(model_path), "--health", str(picture), "--out", str(picture)])
    assert "leave out --out and --boundary" in capsys.readouterr().err


# ---------------------------------------------------------------- playground (issue 15)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, which is POSIX")
def test_playground_serves_on_localhost_and_stops_on_ctrl_c(tmp_path):
    import http.client

    data = tmp_path / "points.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(40)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "playground", str(data), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell may start background jobs with SIGINT ignored; Ctrl-C must reach it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("chainrule playground: serving on http://127.0.0.1:"), line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(
            "POST",
            "/api/session",
            body=b'{"config": {}}',
            headers={"Content-Type": "application/json"},
        )
        setup = json.loads(connection.getresponse().read())
        # the CSV given on the command line is where a new page starts
        assert setup["config"]["dataset"] == "csv" and setup["table"]["name"] == "points.csv"
        assert setup["config"]["x_column"] == "a" and setup["config"]["target"] == "label"
        # Ctrl-C while a network trains and a page reads its stream
        connection.request(
            "POST",
            "/api/control",
            body=json.dumps({"session": setup["session"], "action": "play"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert json.loads(connection.getresponse().read())["playing"] is True
        connection.request("GET", f"/api/stream?session={setup['session']}")
        stream = connection.getresponse()
        assert stream.fp.readline().startswith(b"data: ")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip().endswith("chainrule playground: stopped") and "Traceback" not in err


def test_playground_refuses_a_bad_csv_and_a_busy_port(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("just one column\n1\n2\n")
    code, _, err = run("playground", bad, "--no-browser")
    assert code == 1
    assert_one_line_error(err, "bad.csv: the first row must name at least 2 columns")
    code, _, err = run("playground", tmp_path / "missing.csv", "--no-browser")
    assert code == 1
    assert_one_line_error(err, "missing.csv: no such file")
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run("playground", "--port", port, "--no-browser")
    assert code == 1
    assert_one_line_error(err, f"port {port} on 127.0.0.1 is in use; pass another with --port N")
    code, _, err = run("playground", "--port", "70000")
    assert code == 2 and "a port number from 0 to 65535" in err
