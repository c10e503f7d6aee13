"""The ``chainrule`` command: a thin layer over the library.

Sub-commands: ``train``, ``predict``, ``evaluate``, ``inspect``, ``plot`` (CSV files
and model files, through :mod:`chainrule.tabular` and :mod:`chainrule.io`), ``export``
(ONNX, through :mod:`chainrule.onnx_export`) and ``tutorial`` (the lesson, step by step).
This module holds what each does (:data:`COMMANDS`) and :func:`main`, which runs the one
the command line names and turns errors into exit codes; the options themselves (the
parser, their checks, the ``--config`` file) are in :mod:`chainrule.cli_parser`.

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

from chainrule import io, playground, plotting
from chainrule._version import __version__
from chainrule.callbacks import Callback, Checkpoint, EpochBar, LambdaCallback
from chainrule.cli_parser import TRAIN_DEFAULTS, build_parser, positionals_after_lists, read_config
from chainrule.cli_stream import evaluate_stream, predict_stream, train_streamed_from
from chainrule.column_warnings import rows_text
from chainrule.diagnostics import Diagnostics
from chainrule.errors import DataError, ModelFileError, TrainingDivergedError, UserError
from chainrule.onnx_export import to_onnx
from chainrule.playground.datasets import MAX_CSV_BYTES, TableError
from chainrule.preprocessing import explain_task_guess, guess_task
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
from chainrule.streaming import should_stream
from chainrule.tabular import TabularModel, read_csv
from chainrule.tutorial import walkthrough


class Interrupted(KeyboardInterrupt):
    """Ctrl-C at a moment the command can describe: its message says what was left undone."""


def _cmd_tutorial(args: argparse.Namespace) -> int:
    walkthrough(out_dir=args.out_dir, plot=not args.no_plot, seed=args.seed)
    return 0


# ---------------------------------------------------------------- helpers


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


def _note(text: str) -> None:
    """A one-line note on stderr (such as streaming chosen for a large file)."""
    print(printable(text), file=sys.stderr)


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
    "l1",
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
        given.update(read_config(args.config, parser))
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
    streamed = None
    if should_stream(args.data, settings["stream"], settings["chunk_rows"], _note):
        if resumed is not None:
            raise UserError(
                f"--resume {args.resume} cannot be used with --stream: a streamed run starts "
                "anew; leave out --resume, or --stream (--no-stream) to resume in memory"
            )
        streamed = train_streamed_from(args.data, settings, say)
        task = streamed.first.preprocessor.task_
    else:
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
        task = settings["task"] or guess_task(frame[target])
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
        l1=settings["l1"],
        impute=settings["impute"],
        ignore=settings["ignore"],
        seed=settings["seed"],
    )
    callbacks: list[Callback] = []
    checkpoint = None
    metric = "accuracy" if task == "classify" else "r2"
    if settings["checkpoint"]:
        monitor = "val_loss" if settings["validation_fraction"] > 0 else "loss"
        checkpoint = Checkpoint(settings["checkpoint"], monitor=monitor, model=model)
        callbacks.append(checkpoint)
    callbacks.insert(0, LambdaCallback(on_train_begin=lambda logs: _check_savable(model, args)))
    if args.diagnose:  # its warnings print as the run goes; the record goes in the file
        callbacks.insert(1, Diagnostics())
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
            if streamed is not None:
                streamed.fit(model, callbacks=callbacks)
            elif resumed is None:
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
    if should_stream(args.data, args.stream, args.chunk_rows, _note):
        return predict_stream(model, args, keep, inputs, _prediction_table)
    frame = _read_csv(
        args.data,
        args,
        undone="nothing was predicted or written",
        text_columns=[c for c in keep if c not in inputs],
        note=lambda t: print(t, file=sys.stdout if args.out else sys.stderr),
    )
    absent = [c for c in keep if c not in frame.columns]
    if absent:
        raise UserError(
            f"{args.data}: --keep {absent[0]!r}: no such column; the columns are "
            f"{', '.join(map(str, frame.columns))}"
        )
    result = _prediction_table(model, frame, args, keep)
    if args.out:
        result.to_csv(args.out, index=False, float_format="%.8g")
        print(f"wrote {len(result)} predictions of {model.target!r} to {args.out}")
    else:
        result.to_csv(sys.stdout, index=False, float_format="%.8g")
    return 0


def _prediction_table(model: TabularModel, frame, args: argparse.Namespace, keep: list[str]):
    """The output of ``predict`` for ``frame``'s rows: the kept columns, the predictions
    and (``--proba``) the probabilities, spreadsheet-safe."""
    import pandas as pd  # the reader checked it is there

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
    return result


def _cmd_evaluate(args: argparse.Namespace) -> int:
    if args.plot:
        _check_picture(
            args.subparser, "--plot", args.plot, {"model file": args.model, "data file": args.data}
        )
    model = _load_tabular(args.model, "evaluate")
    frame = None
    if should_stream(args.data, args.stream, args.chunk_rows, _note):
        scores, n_rows = evaluate_stream(model, args)
    else:
        frame = _read_csv(args.data, args, undone="nothing was evaluated", note=print)
        if model.target not in frame.columns:
            raise UserError(
                f"{args.data}: no column {model.target!r} (the target) to compare the "
                "predictions with"
            )
        frame = _rows_with_target(frame, model, args)
        with _about(args.data):
            scores = model.evaluate(frame)
        n_rows = len(frame)
    print(f"{args.data}: {n_rows} rows; target {model.target!r} ({model.task_})")
    if model.task_ == "classify":
        labels = [str(c) for c in scores["labels"]]
        print(f"accuracy  {scores['accuracy']:.4f}")
        net = model.network_
        penalties = [name for name, rate in (("L2", net.l2), ("L1", net.l1)) if rate]
        if penalties:
            terms = " + ".join(f"{name} penalty" for name in penalties)
            print(f"loss      {scores['loss']:.4f} (cross-entropy + {terms})\n")
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
    if args.health:
        return _plot_health(args)
    if not args.out:
        args.subparser.error("the following argument is required: --out (or --health)")
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


def _plot_health(args: argparse.Namespace) -> int:
    """``plot MODEL --health FILE.png``: the Diagnostics record of ``train --diagnose``."""
    if args.out or args.boundary:
        args.subparser.error("argument --health: draws one picture; leave out --out and --boundary")
    _check_picture(args.subparser, "--health", args.health, {"model file": args.model})
    plotting = _plotting()
    model = _load(args.model)
    record = getattr(model, "training_", {}).get("diagnostics")
    if not record or not record.get("epoch"):
        raise UserError(
            f"{args.model}: the model file holds no record of training's health; train it "
            "with chainrule train --diagnose"
        )
    title = f"Training's health: {model.target!r}"
    plotting.plot_health(record, args.health, title=title)
    print(f"plot saved to {args.health}")
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


def _cmd_explain(args: argparse.Namespace) -> int:
    from chainrule.explain import explain

    if args.json:
        _check_output(
            args.subparser, "--json", args.json, {"model file": args.model, "data file": args.data}
        )
    if args.row is None and not args.importance:
        args.subparser.error("give --row N (trace one row), --importance, or both")
    if args.plot and not args.importance:
        args.subparser.error("--plot draws the importance chart: add --importance")
    if args.plot:
        _check_picture(args.subparser, "--plot", args.plot, {"data file": args.data})
    model = _load_tabular(args.model, "explain")
    frame = _read_csv(args.data, args, undone="nothing was explained", note=print)
    if args.importance:
        from chainrule.importance import importance_for_command

        if model.target in frame.columns:  # else importance_for_command says it needs it
            frame = _rows_with_target(frame, model, args)
        with _about(args.data):
            print("\n".join(importance_for_command(model, frame, plot=args.plot)))
        if args.row is None:
            return 0
    if args.row > len(frame):
        raise UserError(
            f"{args.data}: --row {args.row}: the file has {len(frame)} data row(s); rows "
            "count from 1, the first under the header"
        )
    row = frame.iloc[[args.row - 1]]
    target = None
    if model.target in row.columns and not row[model.target].isna().iloc[0]:
        target = row[model.target].iloc[0]
    with _about(args.data):
        try:
            trace = explain(model, row, target, weight=args.weight)
        except ValueError as exc:
            if args.weight is None or "weight" not in str(exc):
                raise
            raise UserError(f"--weight: {exc}") from None
    if target is not None:
        trace.target_note = f"row {args.row}'s {model.target} = {_one_line(target)}"
    print(f"{args.data}, row {args.row}")
    print(trace)
    if args.json:
        import json

        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(trace.to_dict(), file, indent=1)
        print(f"trace written to {args.json}")
    return 0


def _rows_with_target(frame, model: TabularModel, args: argparse.Namespace):
    """The rows to score: those without a target are left out with
    ``--drop-missing-target``, and refused (naming them) without it."""
    if args.drop_missing_target:
        return _drop_missing_target(frame, model.target, args.data, print, "score")
    if frame[model.target].isna().any():
        missing = frame.index[frame[model.target].isna().to_numpy()]
        raise UserError(
            f"{args.data}: target column {model.target!r} has {len(missing)} missing "
            f"value(s) ({rows_text(missing)}); remove those rows (--drop-missing-target "
            "leaves them out)"
        )
    return frame


def _cmd_playground(args: argparse.Namespace) -> int:
    """``chainrule playground [DATA.csv] [--port N] [--no-browser]`` (issue 15)."""
    table = None
    if args.data is not None:
        if not os.path.isfile(args.data):
            raise UserError(f"{args.data}: no such file")
        with open(args.data, "rb") as f:
            data = f.read(MAX_CSV_BYTES + 1)
        try:
            table = playground.read_table(data, os.path.basename(args.data))
        except TableError as exc:
            raise UserError(str(exc)) from None
    try:
        playground.serve(args.port, table, open_browser=not args.no_browser)
    except OSError as exc:
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise UserError(
                f"port {args.port} on 127.0.0.1 is in use; pass another with --port N "
                "(or --port 0 for any free one)"
            ) from None
        raise
    return 0


#: What runs each sub-command of :func:`chainrule.cli_parser.build_parser`.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _cmd_train,
    "predict": _cmd_predict,
    "explain": _cmd_explain,
    "evaluate": _cmd_evaluate,
    "inspect": _cmd_inspect,
    "plot": _cmd_plot,
    "export": _cmd_export,
    "tutorial": _cmd_tutorial,
    "playground": _cmd_playground,
}


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
    args = parser.parse_args(positionals_after_lists(parser, argv))
    prefix = f"chainrule {args.command}"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings(), _noting_ctrl_c() as ctrl_c:
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show_warning
        try:
            return COMMANDS[args.command](args)
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
