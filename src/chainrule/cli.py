"""The ``chainrule`` command: a thin layer over the library.

Sub-commands: ``train``, ``predict``, ``evaluate``, ``inspect``, ``plot`` (CSV files
and model files, through :mod:`chainrule.tabular` and :mod:`chainrule.io`), ``export``
(ONNX, through :mod:`chainrule.onnx_export`) and ``tutorial`` (the lesson, step by step).

Exit codes: 0 on success, 2 for usage errors (options, the ``--config`` file, an
output path that is a folder or would overwrite an input), 1 for data or model errors
(a one-line message on stderr naming the file, column or row; ``--debug`` shows the
traceback), 130 when interrupted. Any other error is a bug in chainrule: its traceback
is shown with a request to report it (exit code 1). Rows are numbered as a spreadsheet
or an editor shows them: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chainrule import io, plotting
from chainrule._validation import (
    check_fraction,
    check_non_negative_float,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from chainrule._version import __version__
from chainrule.callbacks import Callback, Checkpoint, EpochBar, LambdaCallback
from chainrule.dates import DATE_PARTS
from chainrule.errors import DataError, ModelFileError, TrainingDivergedError
from chainrule.layers import HIDDEN_ACTIVATIONS
from chainrule.onnx_export import to_onnx
from chainrule.optimizers import OPTIMIZERS
from chainrule.preprocessing import _rows_text, explain_task_guess, guess_task
from chainrule.readers import check_marks, delimiter_name
from chainrule.report import (
    describe_model,
    describe_training,
    fmt,
    history_of,
    kept_epoch,
    printable,
    spreadsheet_safe,
    table,
)
from chainrule.tabular import TabularModel, parse_hidden, read_csv
from chainrule.tutorial import walkthrough


class Interrupted(KeyboardInterrupt):
    """Ctrl-C at a moment the command can describe: its message says what was left undone."""


class UserError(Exception):
    """An error in the user's data, files or options found by the command: reported in one
    line, exit code 1. (The library's own finds are :class:`chainrule.tabular.DataError`,
    which :func:`_about` turns into a UserError naming the file.)"""


def _cmd_tutorial(args: argparse.Namespace) -> int:
    walkthrough(out_dir=args.out_dir, plot=not args.no_plot, seed=args.seed)
    return 0


# ---------------------------------------------------------------- helpers

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
}


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


def _positionals_after_lists(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
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


def _one_line(text: Any) -> str:
    """One line for the terminal: names from files cannot carry control sequences."""
    return printable(" ".join(str(text).split()))


def _a(noun: str) -> str:
    """``"a Network"``, ``"an MLPClassifier"`` (an initialism is read letter by letter)."""
    first = noun[:1].upper()
    initialism = len(noun) > 1 and noun[:2].isupper()
    vowel_sound = first in ("AEFHILMNORSX" if initialism else "AEIOU")
    return f"{'an' if vowel_sound else 'a'} {noun}"


@contextlib.contextmanager
def _about(path: str) -> Iterator[None]:
    """Report what the library finds wrong with the rows of ``path`` (a DataError) as a
    UserError naming the file. Other errors pass: they are bugs, shown with a traceback."""
    try:
        yield
    except DataError as exc:
        raise UserError(f"{path}: {exc}") from exc


def _same_file(a: str, b: str) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _check_output(
    parser: argparse.ArgumentParser, option: str, path: str, inputs: dict[str, str | None]
) -> None:
    """Before any work: refuse writing ``path`` over a folder or over one of ``inputs``
    (usage errors, exit code 2), or into a folder that does not exist (exit code 1)."""
    if os.path.isdir(path):
        parser.error(f"argument {option}: {path!r} is a folder; give a file name in it")
    for what, other in inputs.items():
        if other is not None and _same_file(path, other):
            parser.error(
                f"argument {option}: {path!r} is the {what}; writing there would destroy "
                "it: choose another file name"
            )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(
            f"{option} {path}: cannot write there, the folder does not exist ({folder}); "
            "create it first"
        )
    try:  # a read-only folder (or a full disk) found now, not after hours of training
        fd, probe = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".probe"
        )
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(
            f"{option} {path}: cannot write there ({exc.strerror or exc}); choose a folder "
            "you can write to"
        ) from None


def _plotting():
    """:mod:`chainrule.plotting`, or a UserError saying how to install matplotlib."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError(
            "pictures need matplotlib; install it with pip install 'chainrule[plot]'"
        ) from None
    return plotting


def _check_picture(parser: argparse.ArgumentParser, option: str, path: str, inputs) -> None:
    """Refuse a picture path matplotlib cannot write (by its extension), then as outputs."""
    formats = _plotting().picture_formats()
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in formats:
        known = ", ".join("." + f for f in sorted(formats))
        problem = f".{suffix} is not a picture format" if suffix else "it has no extension"
        parser.error(
            f"argument {option}: cannot draw {path!r}: {problem}; use one of {known} "
            "(.png is a good default)"
        )
    _check_output(parser, option, path, inputs)


def _read_csv(
    path: str,
    options: Any = None,
    *,
    undone: str = "nothing was done",
    text_columns: Sequence[str] = (),
    note: Callable[[str], Any] | None = None,
):
    """:func:`chainrule.tabular.read_csv` with the reading options (``--sep``,
    ``--decimal``, ``--thousands``, ``--na-values``) of ``options`` (a dict or the parsed
    arguments); pandas' absence is a one-line error, Ctrl-C an :class:`Interrupted`
    saying what was ``undone``. ``note`` hears which delimiter was sniffed, if not a comma.
    """
    if options is not None and not isinstance(options, dict):
        options = vars(options)
    options = options or {}
    sep, decimal = options.get("sep"), options.get("decimal") or "."
    thousands = options.get("thousands") or "auto"
    thousands = None if thousands == "none" else thousands
    try:
        check_marks(sep, decimal, thousands)
    except ValueError as exc:  # --sep, --decimal, --thousands contradict each other
        raise UserError(str(exc)) from None
    try:
        frame = read_csv(
            path,
            sep=sep,
            decimal=decimal,
            thousands=thousands,
            na_values=options.get("na_values") or (),
            text_columns=text_columns,
        )
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while reading {path}; {undone}") from None
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise UserError(str(exc)) from None
    if note is not None and frame.attrs.get("sep_sniffed") and frame.attrs["sep"] != ",":
        note(f"{path}: read as {delimiter_name(frame.attrs['sep'])}-separated (--sep to choose)")
    return frame


def _load(path: str) -> Any:
    if not os.path.exists(path):
        raise UserError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise UserError(f"{path}: is a folder, not a model file")
    return io.load(path)


def _load_tabular(path: str, command: str):
    model = _load(path)
    if not isinstance(model, TabularModel):
        raise UserError(
            f"{path}: holds {_a(type(model).__name__)}, not a model made by `chainrule train`; "
            f"`chainrule {command}` needs one that knows its CSV columns"
        )
    return model


# ---------------------------------------------------------------- train


def _read_config(path: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
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
        parser.error(f"--config {path}: not a valid TOML file ({_one_line(exc)})")
    actions = {a.dest: a for a in parser._actions if a.dest in TRAIN_DEFAULTS}
    config: dict[str, Any] = {}
    for key, value in raw.items():
        dest = key.replace("-", "_")
        if dest not in actions:
            known = ", ".join(sorted(k.replace("_", "-") for k in actions))
            parser.error(f"--config {path}: unknown option {key!r}; the options are {known}")
        action = actions[dest]
        problem = f"--config {path}: option {key!r}"
        if isinstance(action, argparse._StoreTrueAction):
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


#: ``train`` options that say how DATA is read: not kept in the model file, so a resumed
#: run needs them again.
_READING_OPTIONS = "--sep, --decimal, --thousands, --na-values, --drop-missing-target"

#: ``train`` options a resumed run takes from its file (they must not change).
_RUN_OPTIONS = (
    "target",
    "task",
    "hidden",
    "activation",
    "optimizer",
    "learning_rate",
    "batch_size",
    "validation_fraction",
    "patience",
    "l2",
    "seed",
    "impute",
    "ignore",
)


def _resumed(path: str, given: dict[str, Any]) -> tuple[TabularModel, dict[str, Any]]:
    """The model to resume and its run's settings; refuse options that differ from them."""
    model = _load_tabular(path, "train --resume")
    if model.network_.optimizer.iterations == 0 and model.network_.epoch == 0:
        raise UserError(
            f"--resume {path}: the file holds no training state to resume (it was written "
            "by an older chainrule); train anew without --resume"
        )
    saved = model.get_config()
    run = {k: saved[k] for k in _RUN_OPTIONS}
    run["hidden"] = tuple(run["hidden"])
    run["patience"] = run["patience"] or 0
    run["task"] = run["task"] or model.task_  # a guessed task may be named now
    for key, value in given.items():
        if key not in run:
            continue
        mine = tuple(value) if key == "hidden" else value
        if key == "ignore":
            mine, theirs = sorted(value), sorted(run[key])
        else:
            theirs = run[key]
        if key == "patience":
            mine = mine or 0
        if mine != theirs:
            option = "--" + key.replace("_", "-")
            shown = ",".join(map(str, theirs)) if key == "hidden" else theirs
            value = ",".join(map(str, value)) or "none" if key == "hidden" else value
            raise UserError(
                f"{option} {_one_line(value)} differs from the run in {path} ({shown}); a "
                "resumed run keeps its settings: leave the option out or give the same value"
            )
    run["epochs"] = saved["epochs"]
    return model, run


def _stat(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _saved_epoch(checkpoint: Checkpoint, before: tuple | None) -> int | None:
    """The epoch (0-based) the checkpoint file holds after an interrupt: read from the file
    when this run replaced it (Ctrl-C may land inside a save, after the file was
    replaced but before the checkpoint noted it), else the checkpoint's own record."""
    now = _stat(checkpoint.path)
    if now is None:
        return None
    if now == before:  # not saved in this run: what a resumed run's checkpoint recorded
        return checkpoint.saved_epoch
    try:
        return int(io.read_header(checkpoint.path)["training_state"]["epoch"]) - 1
    except (OSError, ValueError, KeyError, TypeError):
        return checkpoint.saved_epoch


def _cmd_train(args: argparse.Namespace) -> int:
    parser = args.subparser
    settings = dict(TRAIN_DEFAULTS)
    given: dict[str, Any] = {}
    if args.config:
        given.update(_read_config(args.config, parser))
    given.update({k: v for k, v in vars(args).items() if k in TRAIN_DEFAULTS and v is not None})
    resumed = None
    if args.resume:
        resumed, run = _resumed(args.resume, given)
        settings.update(run)
        settings["resumed_at"] = resumed.network_.epoch
    settings.update(given)
    if resumed is not None and resumed.network_.epoch >= settings["epochs"]:
        raise UserError(
            f"--resume {args.resume}: the run has trained {resumed.network_.epoch} epochs "
            f"already; --epochs is the total to reach (not more epochs): give more than "
            f"{resumed.network_.epoch}"
        )
    for required in ("target", "out"):
        if not settings[required]:
            parser.error(
                f"the following argument is required: --{required} "
                f"(or '{required}' in the --config file)"
            )
    target, out = settings["target"], settings["out"]
    if target in settings["ignore"]:
        parser.error(
            f"argument --ignore: {target!r} is the target (--target {target}); a column "
            "cannot be both the target and ignored"
        )
    inputs = {"training data (DATA)": args.data, "--config file": args.config}
    _check_output(parser, "--out", out, inputs)
    if settings["checkpoint"]:
        _check_output(parser, "--checkpoint", settings["checkpoint"], {**inputs, "--out file": out})
    say = (lambda *a, **k: None) if settings["quiet"] else print
    frame = _read_csv(
        args.data, settings, undone="nothing was trained or saved", note=lambda t: say(t)
    )
    if target not in frame.columns:
        raise UserError(
            f"{args.data}: no column {target!r} to use as the target; the columns are "
            f"{', '.join(map(str, frame.columns))}"
        )
    if settings["drop_missing_target"]:
        frame = _drop_missing_target(frame, target, args.data, say)
    if settings["task"] is None:
        say(printable(f"task: {explain_task_guess(frame[target])}; use --task to choose"))
    model = resumed or TabularModel(
        target,
        task=settings["task"],
        hidden=settings["hidden"],
        activation=settings["activation"],
        optimizer=settings["optimizer"],
        learning_rate=settings["learning_rate"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation_fraction=settings["validation_fraction"],
        patience=settings["patience"] or None,
        l2=settings["l2"],
        impute=settings["impute"],
        ignore=settings["ignore"],
        seed=settings["seed"],
    )
    callbacks: list[Callback] = []
    checkpoint = None
    task = settings["task"] or guess_task(frame[target])
    metric = "accuracy" if task == "classify" else "r2"
    if settings["checkpoint"]:
        monitor = "val_loss" if settings["validation_fraction"] > 0 else "loss"
        checkpoint = Checkpoint(settings["checkpoint"], monitor=monitor, model=model)
        callbacks.append(checkpoint)
    callbacks.insert(0, LambdaCallback(on_train_begin=lambda logs: _check_savable(model, args)))
    if not settings["quiet"] and sys.stderr.isatty():
        try:
            import tqdm  # noqa: F401

            start = 0 if resumed is None else resumed.network_.epoch
            callbacks.append(EpochBar(settings["epochs"], metric, initial=start))
        except ImportError:
            pass
    before = _stat(settings["checkpoint"]) if checkpoint is not None else None
    started = time.perf_counter()
    try:
        with _about(args.data):
            if resumed is None:
                model.fit(frame, callbacks=callbacks)
            else:
                say(f"resuming {args.resume} at epoch {resumed.network_.epoch + 1}")
                try:
                    model.resume(frame, epochs=settings["epochs"], callbacks=callbacks)
                except DataError as exc:
                    if not str(exc).endswith("resume with the same file"):
                        raise
                    raise DataError(
                        f"{exc}, read with the reading options of the first run "
                        f"({_READING_OPTIONS}: a resumed run does not keep them)"
                    ) from exc
    except TrainingDivergedError as exc:
        rate = settings["learning_rate"]
        what = str(exc).split(";")[0]  # "the loss became nan at optimizer step 3"
        raise UserError(
            f"{args.data}: training diverged ({what}) and no model was saved; lower the "
            f"learning rate (it was {rate:g}), e.g. --learning-rate {rate / 10:g}, or check "
            "the data for extreme values"
        ) from exc
    except KeyboardInterrupt:
        runs = (
            len(model.network_.history.history.get("loss", []))
            if hasattr(model, "network_") and model.network_.history
            else 0
        )
        saved = None if checkpoint is None else _saved_epoch(checkpoint, before)
        if saved is not None:  # (Ctrl-C may land between finding a better epoch and saving it)
            kept = (
                f"the best model so far (epoch {saved + 1}) is in "
                f"{settings['checkpoint']}; --resume {settings['checkpoint']} continues "
                f"from epoch {saved + 2}"
            )
        else:
            kept = "no model was saved" + ("" if checkpoint else " (--checkpoint keeps one)")
        print(f"chainrule train: interrupted after {runs} epoch(s); {kept}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - started
    try:
        model.save(out)
    except OSError as exc:  # a full disk: name the model file, not the temporary one
        kept = ""
        if checkpoint is not None and checkpoint.saved_epoch is not None:
            epoch, path = checkpoint.saved_epoch + 1, settings["checkpoint"]
            kept = f"; the checkpoint of epoch {epoch} is in {path}"
        raise UserError(
            f"--out {out}: could not save the model ({exc.strerror or exc}){kept}"
        ) from exc
    for line in describe_training(model, settings, seconds):
        say(line)
    return 0


def _check_savable(model: TabularModel, args: argparse.Namespace) -> None:
    """Once the preprocessing is learned and before the first epoch: refuse a model
    that could not be saved at the end (a header past the limit, from too many text
    categories), rather than lose the trained model."""
    try:
        # with room for some history (a run of many epochs may stop early or be stopped)
        io.check_savable(model, growth=_HISTORY_BYTES_PER_EPOCH * min(int(model.epochs), 2000))
    except ValueError as exc:
        text = [c for c in model.preprocessor_.columns_ if c["kind"] == "category"]
        widest = max(text, key=lambda c: len(c["categories"]), default=None)
        hint = (
            f"; its largest text column is {widest['name']!r} with "
            f"{len(widest['categories']):,} different values: leave it out with --ignore "
            f"{widest['name']}"
            if widest
            else ""
        )
        raise UserError(f"{args.data}: cannot train: {exc}{hint}") from None


_HISTORY_BYTES_PER_EPOCH = 512  # what an epoch adds to the header's history, at most


def _drop_missing_target(
    frame, target: str, path: str, say: Callable[..., Any], verb: str = "train on"
):
    """The rows that hold a target value; says how many (and which) were dropped."""
    missing = frame[target].isna().to_numpy()
    if not missing.any():
        return frame
    rows = [str(r) for r in frame.index[missing][:5]]
    more = f" and {int(missing.sum()) - 5} more" if missing.sum() > 5 else ""
    say(
        f"dropped {int(missing.sum())} of {len(frame)} rows with no {target!r} value "
        f"(--drop-missing-target): row{'s' if missing.sum() > 1 else ''} "
        f"{', '.join(rows)}{more}"
    )
    if missing.all():
        raise UserError(f"{path}: every row's target {target!r} is missing; nothing to {verb}")
    return frame[~missing]


# ---------------------------------------------------------------- predict, evaluate


def _cmd_predict(args: argparse.Namespace) -> int:
    if args.out:
        _check_output(
            args.subparser, "--out", args.out, {"model file": args.model, "data file": args.data}
        )
    model = _load_tabular(args.model, "predict")
    if args.proba and model.task_ != "classify":
        raise UserError(f"{args.model}: --proba needs a classifier; this model is a regressor")
    keep = list(dict.fromkeys(args.keep or []))
    inputs = {c["name"] for c in model.preprocessor_.columns_}
    frame = _read_csv(
        args.data,
        args,
        undone="nothing was predicted or written",
        text_columns=[c for c in keep if c not in inputs],
        note=lambda t: print(t, file=sys.stdout if args.out else sys.stderr),
    )
    import pandas as pd  # _read_csv checked it is there

    absent = [c for c in keep if c not in frame.columns]
    if absent:
        raise UserError(
            f"{args.data}: --keep {absent[0]!r}: no such column; the columns are "
            f"{', '.join(map(str, frame.columns))}"
        )
    with _about(args.data):
        result = pd.DataFrame({model.target: model.predict(frame)})
        if args.proba:
            proba = model.predict_proba(frame)
            for k, label in enumerate(model.classes_):
                result[f"proba_{label}"] = proba[:, k].round(6)
    clash = [c for c in keep if c in result.columns]
    if clash:
        raise UserError(
            f"--keep {clash[0]!r}: the predictions have a column of that name; compare "
            f"predictions with the true values with chainrule evaluate"
        )
    if keep:
        result = pd.concat([frame[keep].reset_index(drop=True), result], axis=1)
    # labels and names from files: no cell may start a spreadsheet formula (see README)
    result = result.rename(columns=spreadsheet_safe)
    for column in result.columns:
        if not pd.api.types.is_numeric_dtype(result[column]):  # text, or mixed objects
            result[column] = result[column].map(spreadsheet_safe)
    if args.out:
        result.to_csv(args.out, index=False, float_format="%.8g")
        print(f"wrote {len(result)} predictions of {model.target!r} to {args.out}")
    else:
        result.to_csv(sys.stdout, index=False, float_format="%.8g")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    if args.plot:
        _check_picture(
            args.subparser, "--plot", args.plot, {"model file": args.model, "data file": args.data}
        )
    model = _load_tabular(args.model, "evaluate")
    frame = _read_csv(args.data, args, undone="nothing was evaluated", note=print)
    if model.target not in frame.columns:
        raise UserError(
            f"{args.data}: no column {model.target!r} (the target) to compare the predictions with"
        )
    if args.drop_missing_target:
        frame = _drop_missing_target(frame, model.target, args.data, print, "score")
    elif frame[model.target].isna().any():
        missing = frame.index[frame[model.target].isna().to_numpy()]
        raise UserError(
            f"{args.data}: target column {model.target!r} has {len(missing)} missing "
            f"value(s) ({_rows_text(missing)}); remove those rows (--drop-missing-target "
            "leaves them out)"
        )
    with _about(args.data):
        scores = model.evaluate(frame)
    print(f"{args.data}: {len(frame)} rows; target {model.target!r} ({model.task_})")
    if model.task_ == "classify":
        labels = [str(c) for c in scores["labels"]]
        print(f"accuracy  {scores['accuracy']:.4f}")
        if model.network_.l2:
            print(f"loss      {scores['loss']:.4f} (cross-entropy + L2 penalty)\n")
        else:
            print(f"log loss  {scores['loss']:.4f}\n")
        rows = [["class", "precision", "recall", "support"]]
        for k, label in enumerate(labels):
            rows.append(
                [
                    label,
                    f"{scores['precision'][k]:.3f}",
                    f"{scores['recall'][k]:.3f}",
                    str(int(scores["support"][k])),
                ]
            )
        print(table(rows))
        print("\nconfusion matrix (rows: true class, columns: predicted class)")
        cm = scores["confusion_matrix"]
        rows = [["", *labels]] + [
            [label, *(str(int(v)) for v in cm[k])] for k, label in enumerate(labels)
        ]
        print(table(rows))
    else:
        scores["rmse"] = math.sqrt(scores["mse"])
        for name in ("mse", "rmse", "mae", "r2"):
            print(f"{name:<4}  {fmt(scores[name])}")
    if args.plot:
        plotting = _plotting()
        if model.task_ == "classify":
            plotting.plot_confusion_matrix(
                scores["confusion_matrix"], [str(c) for c in scores["labels"]], args.plot
            )
        else:
            y_true = model.preprocessor_.decode_target(model.preprocessor_.encode_target(frame))
            plotting.plot_predicted_vs_true(
                y_true,
                model.predict(frame),
                args.plot,
                title=f"Predicted against true {model.target!r}",
            )
        print(f"plot saved to {args.plot}")
    return 0


# ---------------------------------------------------------------- inspect, plot


def _cmd_inspect(args: argparse.Namespace) -> int:
    model = _load(args.model)  # checks every array's checksum, not just the header
    print(describe_model(model, io.read_header(args.model), args.model))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    _check_picture(
        args.subparser, "--out", args.out, {"model file": args.model, "data file": args.boundary}
    )
    plotting = _plotting()
    model = _load(args.model)
    if args.boundary:
        if not isinstance(model, TabularModel):
            raise UserError(f"{args.model}: --boundary needs a model made by `chainrule train`")
        pre = model.preprocessor_
        numeric = [c["name"] for c in pre.columns_ if c["kind"] == "numeric"]
        if model.task_ != "classify" or len(pre.columns_) != 2 or len(numeric) != 2:
            raise UserError(
                f"{args.model}: a decision boundary needs a classifier with two numeric input "
                f"columns; this model reads {len(pre.columns_)} column(s) "
                f"({', '.join(c['name'] for c in pre.columns_)}). Train one with --ignore "
                "for the other columns."
            )
        frame = _read_csv(args.boundary)
        with _about(args.boundary):
            plotting.plot_table_boundary(model, frame, args.out)
    else:
        history = history_of(model)
        if not history:
            why = (
                " (lbfgs records no loss curve)" if getattr(model, "solver", "") == "lbfgs" else ""
            )
            raise UserError(f"{args.model}: the model file holds no training history to plot{why}")
        options: dict[str, Any] = {}
        if isinstance(model, TabularModel):
            options = {
                "title": f"Learning curves of {model.target!r}",
                "kept_epoch": kept_epoch(model),
            }
        plotting.plot_learning_curves(history, args.out, **options)
    print(f"plot saved to {args.out}")
    return 0


# ---------------------------------------------------------------- export


def _cmd_export(args: argparse.Namespace) -> int:
    _check_output(args.subparser, "--onnx", args.onnx, {"model file": args.model})
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError(
            'ONNX export needs the onnx package; install it with pip install "chainrule[onnx]"'
        ) from None
    model = _load(args.model)
    if type(model).__name__ == "Pipeline":  # scikit-learn's: skl2onnx converts it
        raise UserError(
            f"{args.model}: holds a scikit-learn Pipeline, which chainrule export does not "
            "write; in Python, call chainrule.onnx_export.register_skl2onnx() and then "
            "skl2onnx.to_onnx(pipeline, X[:1]) (README, 'Export to ONNX')"
        )
    try:
        proto = to_onnx(model, args.onnx, number_dtype=args.number_dtype)
    except ValueError as exc:  # a layer or a preprocessing step it cannot export yet
        raise UserError(f"{args.model}: {exc}") from None
    # repr: names from a file reach the terminal escaped
    inputs = [repr(v.name) for v in proto.graph.input]
    shown = ", ".join(inputs[:8]) + (f" and {len(inputs) - 8} more" if len(inputs) > 8 else "")
    outputs = ", ".join(repr(v.name) for v in proto.graph.output)
    dates = [
        repr(c["name"])
        for c in getattr(getattr(model, "preprocessor_", None), "columns_", [])
        if c["kind"] == "datetime"
    ]
    when = (
        f"; date input{'s' * (len(dates) > 1)} {', '.join(dates)}: float64 seconds since "
        "1970-01-01 (NaN when missing)"
        if dates
        else ""
    )
    print(f"ONNX model saved to {args.onnx} (inputs {shown}; outputs {outputs}){when}")
    return 0


# ---------------------------------------------------------------- parser


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
    train.set_defaults(handler=_cmd_train, subparser=train)

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
    predict.set_defaults(handler=_cmd_predict, subparser=predict)

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
    evaluate.set_defaults(handler=_cmd_evaluate, subparser=evaluate)

    inspect = sub.add_parser(
        "inspect",
        parents=[common],
        help="describe a model file",
        description="Architecture, parameter counts, training settings and history, file "
        "format version and the columns the model expects.",
    )
    inspect.add_argument("model", metavar="MODEL")
    inspect.set_defaults(handler=_cmd_inspect)

    plot = sub.add_parser(
        "plot",
        parents=[common],
        help="draw learning curves or a decision boundary",
        description="Learning curves (loss and metric per epoch, training and validation); "
        "with --boundary, the decision regions of a two-column classifier over the data.",
    )
    plot.add_argument("model", metavar="MODEL")
    plot.add_argument("--out", metavar="FILE.png", required=True, help="the picture to write")
    plot.add_argument(
        "--boundary", metavar="DATA.csv", help="draw the decision boundary over these rows instead"
    )
    plot.set_defaults(handler=_cmd_plot, subparser=plot)

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
    export.set_defaults(handler=_cmd_export, subparser=export)

    tutorial = sub.add_parser(
        "tutorial",
        help="run the lesson step by step, printing each value beside the lesson's",
        description="Run the 'neural network from scratch' lesson step by step.",
    )
    tutorial.add_argument("--out-dir", default=".", help="where cumulative_error.png goes")
    tutorial.add_argument("--no-plot", action="store_true", help="skip the picture")
    tutorial.add_argument("--seed", type=_seed, default=8, help="seed of the training run")
    tutorial.set_defaults(handler=_cmd_tutorial)
    return parser


@contextlib.contextmanager
def _noting_ctrl_c() -> Iterator[list[bool]]:
    """Raise KeyboardInterrupt on Ctrl-C as Python does, and note that it came: pandas'
    C reader catches the KeyboardInterrupt and raises a ParserError ("Calling
    read(nbytes) on source failed") instead. Only where Python's own handler is in place
    (the main thread, SIGINT not ignored)."""
    seen: list[bool] = []
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield seen
        return

    def on_ctrl_c(signum, frame):
        seen.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` command; returns the exit code.

    Errors in the user's data, files or options (:class:`UserError`,
    :class:`chainrule.tabular.DataError`, :class:`chainrule.ModelFileError`, a training
    run that diverged, an OSError on a file named on the command line) are one line on
    stderr and exit code 1; argparse's usage errors exit with 2. Anything else is a bug:
    its traceback is shown with a request to report it (exit code 1).
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_positionals_after_lists(parser, argv))
    prefix = f"chainrule {args.command}"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings(), _noting_ctrl_c() as ctrl_c:
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show_warning
        try:
            return args.handler(args)
        except BrokenPipeError:
            # the reader went away (`chainrule predict ... | head`): stop quietly, as
            # command-line tools killed by SIGPIPE do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 141
        except (UserError, DataError, ModelFileError, TrainingDivergedError, OSError) as exc:
            if args.debug:
                raise
            print(f"{prefix}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt as exc:
            what = f"{prefix}: {exc}" if isinstance(exc, Interrupted) else "interrupted"
            print(what, file=sys.stderr)
            return 130
        except Exception:
            if ctrl_c:  # a library turned Ctrl-C into another error (pandas' C reader does)
                print("interrupted", file=sys.stderr)
                return 130
            if args.debug:
                raise
            traceback.print_exc()
            print(
                f"{prefix}: internal error: this is a bug in chainrule {__version__}, not in "
                "your data; please report it to the chainrule maintainers with the command "
                "you ran and the traceback above",
                file=sys.stderr,
            )
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
