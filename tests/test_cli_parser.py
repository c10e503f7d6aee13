"""The ``chainrule`` command's options (chainrule.cli_parser): values checked as the
library checks them (usage errors, exit code 2), the ``--config`` TOML file and its
precedence, and list options (``--ignore a b``) before the data file.

Through ``main([...])``, in process; what the commands do with the options is tested in
test_cli.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

import chainrule
from chainrule.cli import main
from helpers import mixed_frame

QUICK = ["--epochs", "15", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_parser")
    mixed_frame().to_csv(d / "mixed.csv", index=False)
    return d


def test_config_file_and_command_line_precedence(files, tmp_path, capsys):
    config = tmp_path / "train.toml"
    config.write_text(
        'target = "fruit"\nhidden = [6, 4]\nlearning-rate = 0.01\nepochs = 7\n'
        'validation_fraction = 0.25\nignore = ["weight"]\nquiet = true\n'
    )
    out_path = tmp_path / "c.npz"
    code = main(
        [
            "train",
            str(files / "mixed.csv"),
            "--config",
            str(config),
            "--out",
            str(out_path),
            "--epochs",
            "4",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == ""
    model = chainrule.load(out_path)
    settings = model.get_config()
    assert settings["hidden"] == [6, 4] and settings["learning_rate"] == 0.01
    assert settings["epochs"] == 4  # the command line wins
    assert settings["ignore"] == ["weight"] and model.training_["validation_rows"] == 40

    # a mistake in the file is a usage error (exit code 2), as on the command line
    for text, needle in [
        ('target = "fruit"\nlayers = 3\n', "unknown option 'layers'; the options are"),
        ('target = "fruit"\nepochs = -5\n', "option 'epochs': expected a positive integer"),
        ('target = "fruit"\nhidden = [0]\n', "option 'hidden': expected positive layer sizes"),
        ("target = [\n", "not a valid TOML file"),
    ]:
        config.write_text(text)
        with pytest.raises(SystemExit) as info:
            main(
                ["train", str(files / "mixed.csv"), "--config", str(config), "--out", str(out_path)]
            )
        assert info.value.code == 2, text
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith(f"chainrule train: error: --config {config}: "), error
        assert needle in error, error


def test_required_and_malformed_options_are_usage_errors(files, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", str(files / "mixed.csv"), "--out", "m.npz"])
    assert info.value.code == 2
    assert "--target" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(
            [
                "train",
                str(files / "mixed.csv"),
                "--target",
                "fruit",
                "--out",
                "m.npz",
                "--hidden",
                "64,x",
            ]
        )
    assert info.value.code == 2
    assert "layer sizes separated by commas" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--seed", "-1", "argument --seed: expected an integer >= 0, got '-1'"),
        ("--hidden", "0", "argument --hidden: expected positive layer sizes"),
        ("--hidden", "8,-2", "argument --hidden: expected positive layer sizes"),
        ("--epochs", "0", "argument --epochs: expected a positive integer, got '0'"),
        ("--patience", "-1", "argument --patience: expected an integer >= 0"),
        ("--learning-rate", "inf", "argument --learning-rate: expected a positive number"),
        ("--l2", "-0.1", "argument --l2: expected a number >= 0"),
        ("--l1", "-0.1", "argument --l1: expected a number >= 0, got '-0.1'"),
        ("--l1", "nan", "argument --l1: expected a number >= 0, got 'nan'"),
        ("--l1", "much", "argument --l1: expected a number >= 0, got 'much'"),
        ("--validation-fraction", "1", "argument --validation-fraction: expected a number in"),
    ],
)
def test_bad_option_values_are_usage_errors(files, capsys, option, value, needle):
    with pytest.raises(SystemExit) as info:
        main(["train", str(files / "mixed.csv"), "--target", "fruit", "--out", "m", option, value])
    assert info.value.code == 2
    assert needle in capsys.readouterr().err


def test_l1_from_the_command_line_and_the_config_file(files, tmp_path, capsys):
    out = tmp_path / "l1.npz"
    argv = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(out), *QUICK]
    assert main([*argv, "--l1", "0.004"]) == 0
    model = chainrule.load(out)
    assert model.l1 == 0.004 and model.network_.l1 == 0.004
    assert model.get_config()["l1"] == 0.004 and model.network_.l2 == 0
    assert main(argv) == 0  # the default: no L1 penalty
    assert chainrule.load(out).network_.l1 == 0.0
    config = tmp_path / "l1.toml"
    config.write_text('target = "fruit"\nl1 = 0.002\nl2 = 0.001\n')
    base = ["train", str(files / "mixed.csv"), "--config", str(config), "--out", str(out)]
    assert main([*base, *QUICK]) == 0
    network = chainrule.load(out).network_
    assert (network.l1, network.l2) == (0.002, 0.001)
    assert main([*base, *QUICK, "--l1", "0"]) == 0  # the command line wins
    assert chainrule.load(out).network_.l1 == 0.0
    for value in ("-1", '"a lot"', "true"):
        config.write_text(f'target = "fruit"\nl1 = {value}\n')
        with pytest.raises(SystemExit) as info:
            main(base)
        assert info.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith(f"chainrule train: error: --config {config}: option 'l1'"), error


def test_hidden_none_is_a_linear_model(files, tmp_path, capsys):
    out = tmp_path / "linear.npz"
    argv = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(out)]
    assert main([*argv, "--hidden", "none", "--epochs", "2"]) == 0
    assert "(no hidden layer)" in capsys.readouterr().out
    assert chainrule.load(out).get_config()["hidden"] == []


def test_ignore_before_the_data_file(files, tmp_path, capsys):
    # --ignore takes one or more values: it swallowed DATA.csv ("required: DATA.csv")
    out = tmp_path / "m.npz"
    for argv in (
        ["train", "--ignore", "colour", str(files / "mixed.csv"), "--target", "fruit"],
        ["train", str(files / "mixed.csv"), "--ignore", "colour", "--target", "fruit"],
        ["train", "--ignore", "colour", "weight", str(files / "mixed.csv"), "--target", "fruit"],
        ["train", "--target", "fruit", "--ign", "weight", str(files / "mixed.csv")],
    ):
        assert main([*argv, "--out", str(out), *QUICK]) == 0, capsys.readouterr().err
        assert "colour" not in {c["name"] for c in chainrule.load(out).preprocessor_.columns_} or (
            "--ign" in argv
        )
    assert chainrule.load(out).preprocessor_.ignore_ == ["weight"]
    with pytest.raises(SystemExit) as info:  # one value: it is a column, DATA is missing
        main(["train", "--ignore", str(files / "mixed.csv"), "--target", "fruit", "--out", "m"])
    assert info.value.code == 2
    assert "required: DATA.csv" in capsys.readouterr().err


def test_reading_options_in_the_config_file_and_usage_errors(files, tmp_path, capsys):
    frame = pd.read_csv(files / "mixed.csv")
    frame["size"] = frame["size"].astype(str).str.replace(".", ",")
    frame["weight"] = frame["weight"].astype(str).str.replace(".", ",")
    frame.loc[3, "weight"] = "?"
    frame.to_csv(tmp_path / "eu.csv", sep="|", index=False)
    (tmp_path / "c.toml").write_text(
        'target = "fruit"\nsep = "|"\ndecimal = ","\nthousands = "none"\nna-values = ["?"]\n'
        "impute = true\ndrop-missing-target = true\nepochs = 2\nquiet = true\n"
    )
    out = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "eu.csv"), "--config", str(tmp_path / "c.toml"),
                 "--out", str(out)]) == 0  # fmt: skip
    kinds = [c["kind"] for c in chainrule.load(out).preprocessor_.columns_]
    assert kinds == ["numeric", "numeric", "category"]
    for option, value, needle in [
        ("--sep", "ab", "argument --sep: expected one character"),
        ("--decimal", ";", "argument --decimal: invalid choice"),
        ("--thousands", "xy", "argument --thousands: expected one character"),
    ]:
        with pytest.raises(SystemExit) as info:
            main(["train", str(files / "mixed.csv"), "--target", "fruit", option, value])
        assert info.value.code == 2
        assert needle in capsys.readouterr().err
    argv = ["train", str(files / "mixed.csv"), "--target", "fruit", "--out", str(out)]
    assert main([*argv, "--decimal", ",", "--thousands", ","]) == 1
    assert "decimal and thousands must differ" in capsys.readouterr().err
