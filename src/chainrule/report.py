"""What the command line reports: ``chainrule inspect``'s description of a model file,
``chainrule train``'s summary, and the formatting they share.

:func:`describe_model` describes a loaded model file: its format, what it predicts,
the columns it expects, the network, its settings and its training history.
:func:`describe_training` sums up a training run.
"""

from __future__ import annotations

import math
import re
from typing import Any

from chainrule.network import Network
from chainrule.tabular import TabularModel

__all__ = [
    "describe_model",
    "describe_training",
    "fmt",
    "history_of",
    "kept_epoch",
    "printable",
    "spreadsheet_safe",
    "table",
]

# C0 and C1 controls and DEL (ESC starts terminal escape sequences, CR rewrites a line),
# and the bidirectional overrides, which make text read differently than it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# what a spreadsheet reads as the start of a formula (OWASP's CSV injection rule)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def printable(text: Any) -> str:
    """``text`` safe to show on a terminal: control characters written as Python's
    ``repr`` writes them (``\\x1b``, ``\\r``, ``\\u202e``); newlines and tabs kept.

    Names and labels come from files (model files, CSV headers); an escape sequence
    in one must not drive the user's terminal.
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string starting with ``=``, ``+``,
    ``-``, ``@``, tab or carriage return gets a leading ``'`` (OWASP's rule against CSV
    injection: ``=HYPERLINK(...)`` would run as a formula); a plain number such as
    ``-1.5`` is left as it is, and so is anything that is not a string."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def fmt(value: float) -> str:
    return f"{value:.5g}"


def table(rows: list[list[str]], right: int = 1) -> str:
    """Columns padded to the widest cell; cells from column ``right`` on right-aligned.

    Cells are shown :func:`printable`."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if c < right else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _describe_columns(pre) -> list[str]:
    rows = [["column", "kind", "scaling / values", "missing ->"]]
    for col in pre.columns_:
        if col["kind"] == "numeric":
            rows.append(
                [
                    col["name"],
                    "number",
                    f"mean {fmt(col['mean'])}, std {fmt(col['scale'])}",
                    f"{fmt(col['fill'])} (mean)" if pre.impute else "error",
                ]
            )
        elif col["kind"] == "datetime":
            rows.append(
                [
                    col["name"],
                    "date",
                    f"{col['format'] or 'typed dates'} -> "
                    + ", ".join(p["part"] for p in col["parts"]),
                    "each part's mean" if pre.impute else "error",
                ]
            )
        else:
            cats = col["categories"]
            shown = ", ".join(cats[:6]) + (f", ... ({len(cats)} values)" if len(cats) > 6 else "")
            rows.append(
                [
                    col["name"],
                    "text",
                    f"one-hot: {shown}",
                    f"{col['fill']} (most frequent)" if pre.impute else "error",
                ]
            )
    return ["  " + line for line in table(rows, right=99).splitlines()]


def history_of(model: Any) -> dict[str, list[float]]:
    """Per-epoch values from a model's Network history, or an estimator's ``loss_curve_``."""
    if getattr(model, "solver", None) is not None:  # MLPClassifier, MLPRegressor
        if not getattr(model, "loss_curve_", None):
            return {}  # lbfgs records no curve (as scikit-learn)
        record = {"loss": [float(v) for v in model.loss_curve_]}
        if getattr(model, "validation_scores_", None):
            record["val_score"] = [float(v) for v in model.validation_scores_]
        return record
    net = getattr(model, "network_", model)
    history = getattr(getattr(net, "history", None), "history", None)
    if history and history.get("loss"):
        return history
    return {}


def kept_epoch(model: Any) -> int | None:
    """The epoch (from 1) whose weights a TabularModel kept, or None when not known."""
    info = getattr(model, "training_", None)
    if not info or not info.get("epochs_run"):
        return None
    if model.patience is not None and info.get("best_epoch"):
        return int(info["best_epoch"])  # early stopping put the best epoch's weights back
    return int(info["epochs_run"])  # the last epoch's (a checkpoint's is its last epoch)


def _describe_estimator_training(model: Any) -> list[str]:
    """What an MLPClassifier / MLPRegressor's solver did: its loss curve, or lbfgs's result."""
    curve = getattr(model, "loss_curve_", None)
    if not curve:
        if getattr(model, "loss_", None) is None:
            return ["  none recorded"]
        return [
            f"  solver {model.solver}: {model.n_iter_} iterations, final training loss "
            f"{model.loss_:.4f} (lbfgs records no per-iteration curve, as scikit-learn)"
        ]
    lines = [
        f"  solver {model.solver}: {len(curve)} epochs; training loss {curve[0]:.4f} -> "
        f"{curve[-1]:.4f}"
    ]
    scores = getattr(model, "validation_scores_", None)
    if scores:
        best = max(range(len(scores)), key=scores.__getitem__)
        lines.append(
            f"  best validation score {scores[best]:.4f} at epoch {best + 1} "
            "(those weights are kept)"
        )
    elif getattr(model, "best_loss_", None) is not None:
        lines.append(f"  lowest training loss {model.best_loss_:.4f}")
    return lines


def describe_model(model: Any, header: dict[str, Any], path: str) -> str:
    """The ``chainrule inspect`` report of a loaded model and its file's header.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
        What :func:`chainrule.io.load` rebuilt from ``path``.
    header : dict
        :func:`chainrule.io.read_header`'s checked header of the same file.
    path : str
        The file, as the user named it.

    Returns
    -------
    str
        The report: format, what the model predicts, the columns it expects, the
        network, its settings and its training history.
    """
    lines: list[str] = []
    say = lines.append
    say(f"model file: {path}")
    say(
        f"  format {header['format']} version {header['format_version']}, written by "
        f"chainrule {header['library_version']}; kind {header['kind']}"
    )
    if header["kind"] == "Pipeline":  # a scikit-learn Pipeline: its steps, then its estimator
        steps = [
            f"{name} ({step if isinstance(step, str) else type(step).__name__})"
            for name, step in model.steps
        ]
        say(f"  scikit-learn Pipeline: {' -> '.join(steps)}")
        model = model.steps[-1][1]
        header = {**header, **header["estimator"]["header"]}
    net = getattr(model, "network_", model)  # TabularModel and estimators wrap a Network
    estimator = getattr(model, "solver", None) is not None
    if isinstance(model, TabularModel):
        pre = model.preprocessor_
        what = (
            f"classifier of {model.target!r} into {len(model.classes_)} classes: "
            + ", ".join(map(str, model.classes_))
            if model.task_ == "classify"
            else f"regressor of {model.target!r} (predictions in its units; learned as "
            f"(y - {fmt(pre.target_mean_)}) / {fmt(pre.target_scale_)})"
        )
        say(f"  {what}")
        say(f"\ncolumns it expects ({len(pre.columns_)}; others are ignored with a warning):")
        lines += _describe_columns(pre)
        if pre.ignore_:
            say(f"  ignored in training: {', '.join(pre.ignore_)}")
        say("  text values not seen in training become all-zero one-hot rows (a warning)")
    if isinstance(net, Network):
        summary = net.summary(print_fn=None)
        if estimator:  # the estimator's solver trains it, not the network's optimizer
            summary = summary.replace(f"optimizer: {net.optimizer!r}", f"solver: {model.solver}")
        say("\nnetwork:")
        lines += ["  " + line for line in summary.splitlines()]
    else:
        arch = header.get("architecture") or {}
        names = [layer.get("class_name") for layer in arch.get("layers", [])]
        say(f"\nlayers: {', '.join(map(str, names)) or 'not recorded'}")
    if isinstance(model, TabularModel):
        s = model.get_config()
        say("\ntraining settings:")
        say(
            f"  hidden {','.join(map(str, s['hidden'])) or 'none'}; activation "
            f"{s['activation']}; optimizer {s['optimizer']}, learning rate "
            f"{s['learning_rate']:g}; l2 {s['l2']:g}; l1 {s['l1']:g}"
        )
        say(
            f"  epochs {s['epochs']}, batch size {s['batch_size']}, validation fraction "
            f"{s['validation_fraction']:g}, patience {s['patience'] or '0 (no early stopping)'}, "
            f"seed {s['seed']}, "
            f"impute {'yes' if s['impute'] else 'no'}"
        )
    elif hasattr(model, "get_params"):
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(model.get_params().items()))
        say(f"\nsettings: {params}")
    say("\nhistory:")
    if estimator:
        lines += _describe_estimator_training(model)
        return printable("\n".join(lines))
    history = history_of(model)
    if not history.get("loss"):
        say("  none recorded")
        return printable("\n".join(lines))
    loss = history["loss"]
    line = f"  {len(loss)} epochs; training loss {loss[0]:.4f} -> {loss[-1]:.4f}"
    if isinstance(model, TabularModel) and "seconds" in model.training_:
        line += f" in {model.training_['seconds']:.2f} s"
    say(line)
    if history.get("val_loss"):
        val = history["val_loss"]
        best = min(range(len(val)), key=val.__getitem__)
        extra = ", ".join(
            f"{k} {history[k][best]:.4f}"
            for k in history
            if k.startswith("val_") and k != "val_loss"
        )
        say(
            f"  best validation loss {val[best]:.4f} at epoch {best + 1}"
            + (f" ({extra})" if extra else "")
        )
        if isinstance(model, TabularModel) and model.task_ == "regress":
            say(_regression_loss_units(model, val[best]))
    if isinstance(model, TabularModel) and kept_epoch(model):
        say(f"  the model holds the weights of epoch {kept_epoch(model)}")
    return printable("\n".join(lines))


def _regression_loss_units(model: TabularModel, loss: float) -> str:
    """What a regression loss means in the target's units: the network learns the
    standardised target, so its squared errors are in units of the target's scale."""
    rmse = math.sqrt(loss) * model.preprocessor_.target_scale_
    return (
        f"  (losses are on the standardised target: {loss:.4f} is an RMSE of {fmt(rmse)} "
        f"in {model.target!r} units)"
    )


def describe_training(model: TabularModel, settings: dict[str, Any], seconds: float) -> list[str]:
    """``chainrule train``'s summary of a fitted TabularModel, one line per entry:
    the data, the network, the epochs run, the best epoch, where the model went.

    ``settings`` are the command's options (``activation``, ``epochs``, ``patience``,
    ``out``), and for a resumed run ``resumed_at``, the epochs trained before it.
    """
    lines: list[str] = []
    say = lines.append
    info = model.training_
    net = model.network_
    pre = model.preprocessor_
    n_text = sum(c["kind"] == "category" for c in pre.columns_)
    n_dates = sum(c["kind"] == "datetime" for c in pre.columns_)
    kinds = f"{n_text} text" + (f", {n_dates} date{'s' * (n_dates > 1)}" if n_dates else "")
    say(
        f"data: {info['rows']} rows, {len(pre.columns_)} input columns ({kinds}) -> "
        f"{net.n_features} features; {info['train_rows']} rows to train, "
        f"{info['validation_rows']} to validate"
    )
    widths = [str(net.n_features), *(str(h) for h in model.hidden), str(net.n_outputs)]
    kind = f"{settings['activation']} hidden layers" if model.hidden else "no hidden layer"
    say(f"network: {' -> '.join(widths)} ({kind}), {net.n_params:,} parameters")
    stop = ""
    if info.get("early_stopped"):
        stop = f"early stopping after {settings['patience']} epochs without improvement"
    done, first = info["epochs_run"], settings.get("resumed_at", 0) + 1
    if first > 1:  # a resumed run: the seconds are this run's
        these = f"epoch {done}" if first == done else f"epochs {first} to {done}"
        say(
            f"trained {done} of {settings['epochs']} epochs ({these} in this run, "
            f"{seconds:.2f} s{'; ' + stop if stop else ''})"
        )
    else:
        stop = f" ({stop})" if stop else ""
        say(f"trained {done} of {settings['epochs']} epochs in {seconds:.2f} s{stop}")
    best = info.get("best", {})
    metric = "accuracy" if model.task_ == "classify" else "r2"
    prefix = "val_" if "val_loss" in best else ""
    if best:
        where = "validation" if prefix else "training"
        kept = "those weights are kept" if settings["patience"] else "the last epoch's are kept"
        history = history_of(model) or {}
        last = history.get(prefix + "loss", [])
        if not settings["patience"] and len(last) > info["best_epoch"]:
            # the saved model is not the one scored above: score it too
            kept += (
                f" (epoch {len(last)}: {where} loss {last[-1]:.4f}, {metric} "
                f"{history[prefix + metric][-1]:.4f})"
            )
        if not prefix:
            kept = "no validation rows"
        say(
            f"lowest {where} loss {best[prefix + 'loss']:.4f} at epoch {info['best_epoch']} "
            f"({metric} there {best[prefix + metric]:.4f}); {kept}"
        )
        if model.task_ == "regress":
            say(_regression_loss_units(model, best[prefix + "loss"]))
        scores = history.get(prefix + metric, [])
        top = max(range(len(scores)), key=scores.__getitem__) if scores else None
        if top is not None and scores[top] > best[prefix + metric]:
            say(f"highest {where} {metric} {scores[top]:.4f} at epoch {top + 1}")
    say(f"model saved to {settings['out']}")
    return [printable(line) for line in lines]
