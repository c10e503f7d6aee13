"""The ``chainrule`` command's grammar: its sub-commands and options, the checks and
conversions of option values, and the ``--config`` TOML file read as the same options.

:func:`build_parser` makes the parser, :func:`positionals_after_lists` gives back the
positional arguments a list option (``--ignore a b``) swallowed, :func:`read_config`
reads a ``--config`` file. What each sub-command does is in :mod:`chainrule.cli`, which
runs the one the command line names. Option values are checked by the library's own
checks (:mod:`chainrule._validation`), so the command line and the library refuse the
same values; a refused value is argparse's usage error (exit code 2).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from chainrule._validation import (
    check_fraction,
    check_non_negative_float,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from chainrule._version import __version__
from chainrule.dates import DATE_PARTS
from chainrule.errors import UserError
from chainrule.layers import HIDDEN_ACTIVATIONS
from chainrule.optimizers import OPTIMIZERS
from chainrule.report import printable
from chainrule.tabular import parse_hidden

__all__ = ["TRAIN_DEFAULTS", "build_parser", "positionals_after_lists", "read_config"]

#: ``train``'s defaults; a ``--config`` file overrides them, the command line overrides both.
TRAIN_DEFAULTS: dict[str, Any] = {
    "target": None,
    "out": None,
    "task": None,
    "hidden": (32,),
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 0.003,
    "epochs": 200,
    "batch_size": 32,
    "validation_fraction": 0.2,
    "patience": 10,
    "l2": 0.0,
    "l1": 0.0,
    "seed": 0,
    "impute": False,
    "ignore": [],
    "sep": None,
    "decimal": ".",
    "thousands": "auto",
    "na_values": [],
    "drop_missing_target": False,
    "checkpoint": None,
    "quiet": False,
    "stream": None,
    "chunk_rows": None,
}


# ---------------------------------------------------------------- option values


def _option_type(convert: Callable[[str], Any], check: Callable[..., Any], expected: str):
    """An argparse ``type``: ``convert`` the text, then ``check`` it with the library's check.

    The check is the one the library applies (``chainrule._validation``); its
    ValueError or TypeError becomes argparse's usage error (exit code 2).
    """

    def parse(text: str) -> Any:
        try:
            return check(convert(text))
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    parse.__name__ = expected  # argparse names the type in some messages
    return parse


def _patience_check(value: int) -> int:
    return 0 if value == 0 else check_positive_int(value, "patience")


_positive_int = _option_type(int, lambda v: check_positive_int(v, "N"), "a positive integer")
_patience = _option_type(int, _patience_check, "an integer >= 0 (0: no early stopping)")
_seed = _option_type(int, lambda v: check_seed(v, "seed"), "an integer >= 0")
_positive_float = _option_type(
    float, lambda v: check_positive_float(v, "RATE"), "a positive number"
)
_non_negative_float = _option_type(
    float, lambda v: check_non_negative_float(v, "ALPHA"), "a number >= 0"
)
_fraction = _option_type(float, lambda v: check_fraction(v, "F"), "a number in [0, 1)")


def _port_check(value: int) -> int:
    if not 0 <= value <= 65535:
        raise ValueError(f"port must be from 0 to 65535; received {value}")
    return value


_port = _option_type(int, _port_check, "a port number from 0 to 65535")


def _weight(text: str) -> tuple[int, int, int]:
    """``"2,3,1"`` -> ``(2, 3, 1)``: a Dense layer and an entry of its weights, from 1."""
    try:
        values = tuple(int(v) for v in text.split(","))
        if len(values) != 3 or min(values) < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected L,I,J (three positive integers: the L-th Dense layer, entry [I, J] "
            f"of its weights), got {text!r}"
        ) from None
    return values  # type: ignore[return-value]


def _hidden(text: str) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``; ``"none"`` or ``""`` -> no hidden layer (as the library)."""
    try:
        return parse_hidden(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            "expected positive layer sizes separated by commas such as 64,32 (or 'none' "
            f"for no hidden layer), got {text!r}"
        ) from None


def _sep(text: str) -> str:
    """``--sep``: one character; ``tab`` or ``\\t`` for a tab."""
    if text.lower() in ("tab", "\\t", "\t"):
        return "\t"
    if len(text) != 1 or text in '\r\n"':
        raise argparse.ArgumentTypeError(
            f"expected one character such as ';' (or 'tab'), got {text!r}"
        )
    return text


def _thousands(text: str) -> str:
    """``--thousands``: one character, ``none``, or ``auto``."""
    if text.lower() in ("none", "auto"):
        return text.lower()
    if len(text) != 1 or text in '\r\n"':
        raise argparse.ArgumentTypeError(
            f"expected one character such as '.' or ',', 'none' or 'auto', got {text!r}"
        )
    return text


class _Columns(argparse.Action):
    """``--ignore a b``: the values of every use, in order, in one list."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *values])


# ---------------------------------------------------------------- list options


def positionals_after_lists(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``argv`` with the positional arguments a list option swallowed given back.

    ``chainrule train --ignore Name data.csv --target y`` would give ``data.csv`` to
    ``--ignore`` (it takes one or more values). When a sub-command's positional
    arguments are missing, the last values of its list options are taken as them (a
    value naming an existing file first): ``--ignore Name data.csv`` becomes
    ``--ignore=Name data.csv``.
    """
    try:
        at = next(i for i, t in enumerate(argv) if not t.startswith("-"))
    except StopIteration:
        return argv
    sub_action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = sub_action.choices.get(argv[at])
    if sub is None:
        return argv
    tokens = argv[at + 1 :]
    options = sub._option_string_actions
    free, groups = 0, []  # groups: (option index, first value, end)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            free += len(tokens) - i - 1
            break
        if not token.startswith("-") or token == "-":
            free, i = free + 1, i + 1
            continue
        name = token.split("=", 1)[0]
        matches = [o for o in options if o == name] or [o for o in options if o.startswith(name)]
        action = options[matches[0]] if len(matches) == 1 else None
        if action is None or "=" in token or action.nargs == 0:
            i += 1
        elif action.nargs == "+":
            end = i + 1
            while end < len(tokens) and not tokens[end].startswith("-"):
                end += 1
            groups.append((i, i + 1, end))
            i = end
        else:
            i += 2
    needed = sum(a.nargs is None for a in sub._get_positional_actions()) - free
    spare = [g for g in groups if g[2] - g[1] > needed]
    if needed <= 0 or not spare:
        return argv
    existing = [g for g in spare if os.path.exists(tokens[g[2] - 1])]
    option, first, end = (existing or spare)[-1]
    name = tokens[option]
    rewritten = [f"{name}={value}" for value in tokens[first : end - needed]]
    tokens = [*tokens[:option], *rewritten, *tokens[end - needed :]]
    return [*argv[: at + 1], *tokens]


# ---------------------------------------------------------------- --config


def read_config(path: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The options in a TOML file, checked and converted as the command line does.

    A mistake in the file (TOML syntax, an unknown option, a wrong value) is a usage
    error, as the same mistake on the command line: exit code 2, naming file and option.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise UserError(
                f"{path}: reading TOML needs Python 3.11+ or the tomli package (pip install tomli)"
            ) from None
    if not os.path.exists(path):
        raise UserError(f"{path}: no such config file")
    if os.path.isdir(path):
        raise UserError(f"{path}: is a folder, not a config file")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        parser.error(
            f"--config {path}: not a valid TOML file ({printable(' '.join(str(exc).split()))})"
        )
    actions = {a.dest: a for a in parser._actions if a.dest in TRAIN_DEFAULTS}
    config: dict[str, Any] = {}
    for key, value in raw.items():
        dest = key.replace("-", "_")
        if dest not in actions:
            known = ", ".join(sorted(k.replace("_", "-") for k in actions))
            parser.error(f"--config {path}: unknown option {key!r}; the options are {known}")
        action = actions[dest]
        problem = f"--config {path}: option {key!r}"
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            if not isinstance(value, bool):
                parser.error(f"{problem} must be true or false; received {value!r}")
            config[dest] = value
            continue
        if dest in ("ignore", "na_values"):
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                what = "column names" if dest == "ignore" else "values"
                parser.error(f"{problem} must be a list of {what}; received {value!r}")
            config[dest] = value
            continue
        if dest == "hidden" and isinstance(value, list):
            value = ",".join(str(v) for v in value) if value else "none"
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            parser.error(f"{problem}: unexpected value {value!r}")
        text = str(value)
        try:
            converted = action.type(text) if action.type else text
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{problem}: {exc}")
        if action.choices is not None and converted not in action.choices:
            choices = ", ".join(map(str, action.choices))
            parser.error(f"{problem} must be one of {choices}; received {value!r}")
        config[dest] = converted
    return config


# ---------------------------------------------------------------- the parser


def _add_reading_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """``--sep``, ``--decimal``, ``--thousands``, ``--na-values``: how DATA is read."""
    d = TRAIN_DEFAULTS
    p.add_argument(
        "--sep",
        type=_sep,
        metavar="C",
        help="the delimiter, one character ('tab' for a tab); default: sniffed among comma, "
        "semicolon, tab and pipe (said when not a comma)",
    )
    p.add_argument(
        "--decimal",
        choices=[".", ","],
        metavar="C",
        default=d["decimal"] if defaults else None,
        help="the decimal mark of numbers (default '.'; ',' for 3,14)",
    )
    p.add_argument(
        "--thousands",
        type=_thousands,
        metavar="C",
        default=d["thousands"] if defaults else None,
        help="the thousands separator in numbers; default 'auto': '.' with --decimal , "
        "(1.037,5), none otherwise; 'none' for none",
    )
    p.add_argument(
        "--na-values",
        action=_Columns,
        nargs="+",
        metavar="TEXT",
        help="values that mean missing, besides empty, NA, n/a, NaN, null ... "
        "(e.g. --na-values '?' 'n/a (sensor off)')",
    )


def _add_stream_options(p: argparse.ArgumentParser) -> None:
    """``--stream``, ``--no-stream``, ``--chunk-rows``: read DATA a chunk at a time."""
    p.add_argument(
        "--stream",
        action="store_true",
        default=None,
        help="read DATA a chunk of rows at a time, for files larger than memory (chosen "
        "by itself for files over 1 GiB; see the README, 'Files larger than memory')",
    )
    p.add_argument(
        "--no-stream",
        dest="stream",
        action="store_false",
        default=None,
        help="read DATA whole, even when it is larger than 1 GiB",
    )
    p.add_argument(
        "--chunk-rows",
        type=_positive_int,
        metavar="N",
        help="rows per chunk when streaming (default 50000)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train, use and inspect neural networks; or walk through the lesson.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # --debug also after the sub-command; SUPPRESS keeps a top-level --debug
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors"
    )

    d = TRAIN_DEFAULTS
    train = sub.add_parser(
        "train",
        parents=[common],
        help="train a network on a CSV file and save it",
        description="Train a network to predict one column of a CSV file from the others. "
        "Numbers are standardised and text columns one-hot encoded; a column of dates or "
        "times (every value read by one date format) becomes the numbers "
        f"{', '.join(DATE_PARTS)}: the year and the day of the month as numbers, the "
        "month, the weekday and (for times) the hour of the day as points on a circle "
        "(sin, cos); parts that do not vary are left out. All of it is kept in the model "
        "file, so predict and evaluate take raw rows. DATA may be CSV (delimiter sniffed; "
        "UTF-8, with or without BOM), compressed CSV (.gz, .bz2, .xz, .zip) or Parquet "
        "(needs the parquet extra).",
        epilog="Options may also come from a TOML file (--config): the same names, e.g. "
        'hidden = "64,32" or [64, 32], learning-rate = 0.01, impute = true, ignore = ["id"]. '
        "The command line wins over the file.",
    )
    train.add_argument(
        "data",
        metavar="DATA.csv",
        help="training rows, with a header row (before or after the options)",
    )
    train.add_argument("--target", metavar="COLUMN", help="the column to predict (required)")
    train.add_argument(
        "--out", metavar="MODEL", help="where to save the model (required), e.g. model.npz"
    )
    train.add_argument("--config", metavar="FILE", help="TOML file with any of these options")
    train.add_argument(
        "--task",
        choices=["classify", "regress"],
        help="default: guessed (text, or at most 10 distinct whole numbers: "
        "classify; other numbers: regress) and printed",
    )
    train.add_argument(
        "--hidden",
        type=_hidden,
        metavar="SIZES",
        help="hidden layer sizes (each > 0), e.g. 64,32; 'none' for a linear model "
        f"(default {','.join(map(str, d['hidden']))})",
    )
    train.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        help=f"hidden-layer activation (default {d['activation']})",
    )
    train.add_argument(
        "--optimizer", choices=sorted(OPTIMIZERS), help=f"(default {d['optimizer']})"
    )
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="RATE",
        help=f"(default {d['learning_rate']})",
    )
    train.add_argument(
        "--epochs",
        type=_positive_int,
        metavar="N",
        help=f"most passes over the data (default {d['epochs']})",
    )
    train.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        help=f"rows per gradient step (default {d['batch_size']})",
    )
    train.add_argument(
        "--validation-fraction",
        type=_fraction,
        metavar="F",
        help="share of the rows held out to score each epoch, stratified by "
        f"class (default {d['validation_fraction']}; 0 for none)",
    )
    train.add_argument(
        "--patience",
        type=_patience,
        metavar="N",
        help="early stopping: stop after N epochs without a better validation "
        f"loss and keep the best weights (default {d['patience']}; 0: off)",
    )
    train.add_argument(
        "--l2",
        type=_non_negative_float,
        metavar="ALPHA",
        help=f"L2 weight decay (default {d['l2']})",
    )
    train.add_argument(
        "--l1",
        type=_non_negative_float,
        metavar="RATE",
        help="L1 penalty: RATE * sum(|W|) joins the loss, pulling the weights towards 0 "
        f"(default {d['l1']})",
    )
    train.add_argument(
        "--seed",
        type=_seed,
        metavar="N",
        help=f"seed of the split, the weights and the shuffling (default {d['seed']})",
    )
    train.add_argument(
        "--impute",
        action="store_true",
        default=None,
        help="fill missing values (column mean for numbers, most frequent "
        "value for text) instead of stopping with an error",
    )
    train.add_argument(
        "--ignore",
        action=_Columns,
        nargs="+",
        metavar="COL",
        help="columns to leave out (identifiers, free text, leaks): --ignore a b; "
        "DATA.csv may follow",
    )
    train.add_argument(
        "--drop-missing-target",
        action="store_true",
        default=None,
        help="drop the rows whose target is missing (says how many) instead of stopping "
        "with an error",
    )
    _add_reading_options(train, defaults=False)
    _add_stream_options(train)
    train.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="save the best model so far here after each improving epoch "
        "(kept if training is interrupted)",
    )
    train.add_argument(
        "--resume",
        metavar="FILE",
        help="continue the run saved in this checkpoint or model file (from chainrule "
        "train) on the same data, exactly where it stopped; its training settings are "
        "kept (give the reading options --sep, --decimal, --thousands, --na-values, "
        "--drop-missing-target again) and --epochs is the total to reach",
    )
    train.add_argument(
        "--quiet", action="store_true", default=None, help="print nothing but errors and warnings"
    )
    train.add_argument(
        "--diagnose",
        action="store_true",
        help="watch training's health (gradient norms, dead ReLU and saturated units, the "
        "loss's trend), warn with a fix, and keep the record in the model file "
        "(chainrule plot MODEL --health FILE.png draws it)",
    )
    train.set_defaults(subparser=train)

    predict = sub.add_parser(
        "predict",
        parents=[common],
        help="predict the target for the rows of a CSV file",
        description="Predict the target of every row of DATA.csv, in the original label "
        "values and the rows' order. Extra columns are ignored (with a warning).",
    )
    predict.add_argument("model", metavar="MODEL", help="a model file from chainrule train")
    predict.add_argument("data", metavar="DATA.csv")
    predict.add_argument("--out", metavar="PRED.csv", help="write here instead of stdout")
    predict.add_argument(
        "--proba", action="store_true", help="add one probability column per class (classifiers)"
    )
    predict.add_argument(
        "--keep",
        action=_Columns,
        nargs="+",
        metavar="COL",
        help="copy these columns of DATA (as written) into the output, first, in this "
        "order: --keep id name",
    )
    _add_reading_options(predict)
    _add_stream_options(predict)
    predict.set_defaults(subparser=predict)

    explain = sub.add_parser(
        "explain",
        parents=[common],
        help="show the chain rule for one row: every forward value and derivative",
        description="Trace one row of DATA.csv through the model, as the lesson's "
        "backpropagation: the forward values layer_1, ..., prediction and, backward, each "
        "local derivative and chain product (derror_dprediction, ..., derror_dweights), "
        "naming which raw column became which feature. The error traced is that of the "
        "row's own target when DATA holds the target column (else of the model's own "
        "prediction: its predicted class, or for a regressor the prediction, error 0).",
    )
    explain.add_argument("model", metavar="MODEL", help="a model file from chainrule train")
    explain.add_argument("data", metavar="DATA.csv")
    explain.add_argument(
        "--row",
        type=_positive_int,
        metavar="N",
        help="the N-th data row, counting from 1 (the first row under the header); "
        "--row or --importance (or both) is required",
    )
    explain.add_argument(
        "--weight",
        type=_weight,
        metavar="L,I,J",
        help="follow entry [I, J] of the L-th Dense layer's weights (each from 1) and "
        "print the product that gives its gradient, factor by factor",
    )
    explain.add_argument("--json", metavar="OUT.json", help="also write the trace as JSON")
    explain.add_argument(
        "--importance",
        action="store_true",
        help="which raw columns matter: permutation importance over DATA's rows (which "
        "must hold the target) and the mean |attribution| of integrated gradients",
    )
    explain.add_argument(
        "--plot", metavar="FILE.png", help="with --importance: draw the importance bar chart"
    )
    explain.add_argument(
        "--drop-missing-target",
        action="store_true",
        help="with --importance: leave out the rows whose target is missing (says how many)",
    )
    _add_reading_options(explain)
    explain.set_defaults(subparser=explain)

    evaluate = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score a model on a CSV file that holds the target",
        description="Accuracy, per-class precision and recall and the confusion matrix for "
        "classifiers; MSE, MAE and R2 for regressors.",
    )
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("data", metavar="DATA.csv")
    evaluate.add_argument(
        "--plot", metavar="FILE.png", help="draw the confusion matrix (or predicted vs true values)"
    )
    evaluate.add_argument(
        "--drop-missing-target",
        action="store_true",
        help="leave out the rows whose target is missing (says how many) instead of "
        "stopping with an error",
    )
    _add_reading_options(evaluate)
    _add_stream_options(evaluate)
    evaluate.set_defaults(subparser=evaluate)

    inspect = sub.add_parser(
        "inspect",
        parents=[common],
        help="describe a model file",
        description="Architecture, parameter counts, training settings and history, file "
        "format version and the columns the model expects.",
    )
    inspect.add_argument("model", metavar="MODEL")

    plot = sub.add_parser(
        "plot",
        parents=[common],
        help="draw learning curves or a decision boundary",
        description="Learning curves (loss and metric per epoch, training and validation); "
        "with --boundary, the decision regions of a two-column classifier over the data.",
    )
    plot.add_argument("model", metavar="MODEL")
    plot.add_argument("--out", metavar="FILE.png", help="the picture to write")
    plot.add_argument(
        "--boundary", metavar="DATA.csv", help="draw the decision boundary over these rows instead"
    )
    plot.add_argument(
        "--health",
        metavar="FILE.png",
        help="draw training's health (a model trained with --diagnose) into this picture",
    )
    plot.set_defaults(subparser=plot)

    export = sub.add_parser(
        "export",
        parents=[common],
        help="write a model as an ONNX file, to run without Python",
        description="Write MODEL as an ONNX graph (needs the onnx extra: pip install "
        "'chainrule[onnx]'). A model from chainrule train takes the raw columns, one input "
        "per column, named as the column, shape (n, 1): numbers as float64 (NaN when "
        "missing), dates as float64 seconds since 1970-01-01 (NaN when missing), text as "
        "strings; its outputs are label and probabilities (classifiers) "
        "or variable (regressors, in the target's units).",
    )
    export.add_argument(
        "model",
        metavar="MODEL",
        help="a model file of a Network, an MLPClassifier or MLPRegressor, or from chainrule "
        "train (a pipeline: see the README)",
    )
    export.add_argument("--onnx", metavar="OUT.onnx", required=True, help="the file to write")
    export.add_argument(
        "--number-dtype",
        choices=("float64", "float32"),
        default="float64",
        help="type of the numeric column inputs of a chainrule train model (default float64)",
    )
    export.set_defaults(subparser=export)

    tutorial = sub.add_parser(
        "tutorial",
        help="run the lesson step by step, printing each value beside the lesson's",
        description="Run the 'neural network from scratch' lesson step by step.",
    )
    tutorial.add_argument("--out-dir", default=".", help="where cumulative_error.png goes")
    tutorial.add_argument("--no-plot", action="store_true", help="skip the picture")
    tutorial.add_argument("--seed", type=_seed, default=8, help="seed of the training run")

    # ---- playground (issue 15): a local web page training the engine
    playground = sub.add_parser(
        "playground",
        parents=[common],
        help="a local web page to watch a network learn (TensorFlow Playground's controls)",
        description="Serve the playground on 127.0.0.1 (nothing else can reach it) and open "
        "it in the browser: toy data sets or your CSV file, layers, activations, a heatmap "
        "in every neuron, the chain-rule trace of any point, and the chainrule train "
        "command that trains the same network. Ctrl-C stops it.",
    )
    playground.add_argument(
        "data",
        metavar="DATA.csv",
        nargs="?",
        help="a CSV file (header row, UTF-8) to start on; the page can also upload one",
    )
    playground.add_argument(
        "--port",
        type=_port,
        default=8750,
        metavar="N",
        help="the port on 127.0.0.1 (default 8750; 0: any free port)",
    )
    playground.add_argument(
        "--no-browser", action="store_true", help="print the address, do not open a browser"
    )
    return parser
