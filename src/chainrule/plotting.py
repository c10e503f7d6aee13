"""Pictures of training and of what a model learned (matplotlib).

- :func:`plot_error_curve`: the lesson's cumulative training error.
- :func:`plot_learning_curves`: training and validation loss and metric per epoch.
- :func:`plot_decision_boundary`: a classifier's regions over two input features.
- :func:`plot_confusion_matrix`: counts of true against predicted classes.
- :func:`plot_predicted_vs_true`: a regressor's predictions against the targets.
- :func:`plot_importance`: permutation importances of the columns, as bars.
- :func:`plot_health`: a :class:`~chainrule.Diagnostics` record, layer by layer.

matplotlib is imported only when a picture is asked for (``pip install
'chainrule[plot]'``). Figures are drawn with the Agg renderer and never through
pyplot, so no window opens, no display is needed and pyplot's current figure is
left alone. Every function writes ``path`` (PNG, or any format matplotlib knows
from the suffix) and returns it; with ``path=None`` it returns the
:class:`matplotlib.figure.Figure` instead (Jupyter shows it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainrule._validation import check_array
from chainrule.errors import DataError
from chainrule.metrics import R2

__all__ = [
    "picture_formats",
    "plot_error_curve",
    "plot_learning_curves",
    "plot_decision_boundary",
    "plot_table_boundary",
    "plot_confusion_matrix",
    "plot_predicted_vs_true",
    "plot_importance",
    "plot_health",
]

_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#ff7f0e"
_NOT_METRICS = ("loss", "lr", "seconds")


def _figure(ncols: int = 1, width: float = 6.4, height: float = 4.8):
    """A Figure with ``ncols`` axes on an Agg canvas, outside pyplot."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "pictures need matplotlib: pip install 'chainrule[plot]' (or matplotlib)"
        ) from None
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def picture_formats() -> dict[str, str]:
    """The file extensions the pictures can be written as, e.g. ``{"png": "Portable Network
    Graphics", "svg": ..., "pdf": ...}`` (what matplotlib's Agg canvas writes)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise ImportError(
            "pictures need matplotlib: pip install 'chainrule[plot]' (or matplotlib)"
        ) from None
    return dict(FigureCanvasAgg.get_supported_filetypes())


def _finish(fig, path: str | os.PathLike | None, dpi: int):
    """Save and release ``fig`` when a path is given; return the path, else the figure."""
    if path is None:
        return fig
    path = Path(path)
    try:
        fig.savefig(path, dpi=dpi)
    finally:
        fig.clear()
    return path


def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# ---------------------------------------------------------------- the lesson


def plot_error_curve(
    errors: Sequence[float] | np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    every: int = 100,
    title: str = "Training error of the neural network",
    dpi: int = 120,
):
    """The lesson's picture: ``plt.plot(training_error)`` with labelled axes.

    Parameters
    ----------
    errors : sequence of float
        The cumulative error over all training instances, recorded every ``every``
        iterations (what ``NeuralNetwork.train`` returns).
    path : str or path-like, optional
        Where to write the picture (``"cumulative_error.png"``); None returns the figure.
    every : int, default=100
        Iterations between two recorded errors: the x axis counts iterations.
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    errors = check_array(errors, "errors", dtype=np.float64, ndim=1)
    fig, (ax,) = _figure()
    iterations = np.arange(errors.size) * every
    ax.plot(iterations, errors, color=_TRAIN_COLOR, label="cumulative squared error")
    ax.set_xlabel("Iterations")
    ax.set_ylabel("Error for all training instances")
    ax.set_title(_plain(title))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------- training


def _history_dict(history: Any) -> dict[str, list[float]]:
    """The per-epoch lists from a History, a Network, a fitted model or a plain dict."""
    record = history
    if not isinstance(record, Mapping) and getattr(record, "history_", None) is not None:
        record = record.history_  # TabularModel
    for _ in range(2):  # Network -> History -> dict
        if not isinstance(record, Mapping) and hasattr(record, "history"):
            record = record.history
    if not isinstance(record, Mapping) and hasattr(history, "loss_curve_"):
        record = {"loss": history.loss_curve_}  # MLPClassifier, MLPRegressor
        scores = getattr(history, "validation_scores_", None)
        if scores:
            record["val_score"] = scores
    if isinstance(record, Mapping) and "history" in record and "epoch" in record:
        record = record["history"]  # the "history" table of a model file's header
    if not isinstance(record, Mapping) or not record.get("loss"):
        raise ValueError(
            "history must be a History (network.fit's result), a fitted Network or a dict "
            "of per-epoch lists with a non-empty 'loss'; received "
            f"{type(history).__name__}. Train the model first."
        )
    return {str(k): [float(v) for v in values] for k, values in record.items()}


def _plain(text: Any) -> str:
    """``text`` drawn as it is: matplotlib reads ``$...$`` as math (mathtext), which
    breaks on a column name or label such as ``y$a_b_c$``; ``\\$`` is a plain dollar."""
    return str(text).replace("$", r"\$")


def _pretty(name: str) -> str:
    return _plain(
        {"accuracy": "Accuracy", "r2": "R²", "mse": "MSE", "mae": "MAE", "score": "Score"}.get(
            name, name.replace("_", " ").capitalize()
        )
    )


def plot_learning_curves(
    history: Any,
    path: str | os.PathLike | None = None,
    *,
    metric: str | None = None,
    kept_epoch: int | None = None,
    title: str = "Learning curves",
    dpi: int = 120,
):
    """Training and validation loss (left) and metric (right) per epoch.

    A star marks the best validation epoch of each panel: the lowest validation loss,
    and the highest validation accuracy / R² (lowest for an error such as MSE); the two
    may be different epochs. ``kept_epoch`` draws a dotted line at the epoch whose
    weights the model holds (with early stopping that restores the best weights, the
    lowest-validation-loss epoch). Overfitting shows as the validation loss turning up.

    Parameters
    ----------
    history : History, Network, dict or fitted estimator
        ``network.fit``'s result, a network that was fitted (its ``history``), a dict
        such as ``{"loss": [...], "val_loss": [...], "accuracy": [...]}``, or an
        estimator with ``loss_curve_`` (and ``validation_scores_``).
    path : str or path-like, optional
        Where to write the picture; None returns the figure.
    metric : str, optional
        The metric for the right panel (default: the first one recorded, such as
        ``"accuracy"`` or ``"r2"``). Without any metric only the loss is drawn.
    kept_epoch : int, optional
        The epoch (counted from 1) whose weights the model kept; marked on both panels.
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    record = _history_dict(history)
    if metric is None:
        names = [k for k in record if k not in _NOT_METRICS and not k.startswith("val_")]
        names += [k[4:] for k in record if k.startswith("val_") and k[4:] not in _NOT_METRICS]
        metric = names[0] if names else None
    elif metric not in record and f"val_{metric}" not in record:
        raise ValueError(f"metric {metric!r} was not recorded; the history has {sorted(record)}")
    n_epochs = max(len(v) for v in record.values())
    if kept_epoch is not None and not (
        isinstance(kept_epoch, (int, np.integer)) and 1 <= kept_epoch <= n_epochs
    ):
        raise ValueError(
            f"kept_epoch must be an epoch number from 1 to {n_epochs}; received "
            f"kept_epoch={kept_epoch!r}"
        )
    fig, axes = _figure(ncols=2 if metric else 1, width=11 if metric else 6.4, height=4.4)
    panels = [("loss", "Loss")] + ([(metric, _pretty(metric))] if metric else [])
    for ax, (key, label) in zip(axes, panels, strict=True):
        for prefix, name, color in (
            ("", "training", _TRAIN_COLOR),
            ("val_", "validation", _VAL_COLOR),
        ):
            values = record.get(prefix + key)
            if values:
                epochs = np.arange(1, len(values) + 1)
                ax.plot(
                    epochs,
                    values,
                    color=color,
                    marker="o" if len(values) < 30 else None,
                    markersize=3,
                    label=name,
                )
        val = record.get("val_" + key)
        if val:
            higher_is_better = key in ("accuracy", "r2", "score")
            best = int(np.nanargmax(val) if higher_is_better else np.nanargmin(val))
            word = "highest" if higher_is_better else "lowest"
            what = _plain({"r2": "R²", "mse": "MSE", "mae": "MAE"}.get(key, key.replace("_", " ")))
            first = "first at " if np.sum(np.asarray(val) == val[best]) > 1 else ""
            ax.plot(
                best + 1,
                val[best],
                marker="*",
                markersize=13,
                color=_VAL_COLOR,
                markeredgecolor="black",
                linestyle="none",
                label=f"{word} validation {what} ({first}epoch {best + 1})",
            )
        if kept_epoch is not None:
            ax.axvline(
                kept_epoch,
                color="black",
                linestyle=":",
                linewidth=1.2,
                label=f"weights kept (epoch {kept_epoch})",
            )
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per epoch")
        ax.grid(alpha=0.3)
        _integer_ticks(ax)
        ax.legend()
    fig.suptitle(_plain(title))
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------- classifiers


def _looks_like_probabilities(out: np.ndarray) -> bool:
    """Floats in [0, 1] that are not all 0 and 1: one probability per point, not labels."""
    return (
        out.dtype.kind == "f"
        and bool(np.all((out >= 0) & (out <= 1)))
        and not bool(np.all(out == np.round(out)))
    )


def _predicted_classes(model: Any, points: np.ndarray):
    """Predicted class index per point, with the classes and how confident it was."""
    classes = getattr(model, "classes_", None)
    if hasattr(model, "predict_proba"):
        out = np.asarray(model.predict_proba(points))
    elif callable(model):
        out = np.asarray(model(points))
    elif hasattr(model, "predict"):
        out = np.asarray(model.predict(points))
    else:
        raise TypeError(
            "model must be a fitted classifier (with predict_proba or predict) or a "
            f"function of the points; received {type(model).__name__}"
        )
    if out.ndim == 2 and out.shape[1] > 1:  # probabilities, one column per class
        index = np.argmax(out, axis=1)
        confidence = np.max(out, axis=1)
        if classes is None:
            classes = np.arange(out.shape[1])
    elif out.ndim == 2 or (classes is None and _looks_like_probabilities(out)):
        p = out.reshape(-1)  # probability of the positive class
        index = (p >= 0.5).astype(int)
        confidence = np.where(index == 1, p, 1 - p)
        if classes is None:
            classes = np.arange(2)
    else:  # labels
        if classes is None:
            classes = np.unique(out)
        index = np.searchsorted(classes, out)
        confidence = None
    return index, np.asarray(classes), confidence


def plot_decision_boundary(
    model: Any | Callable[[np.ndarray], np.ndarray],
    X,
    y,
    path: str | os.PathLike | None = None,
    *,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    resolution: int = 300,
    title: str = "Decision boundary",
    dpi: int = 120,
):
    """A classifier's predicted class over the plane of two input features, with the data.

    Each region is coloured by the class predicted there (paler where the model is
    less sure); the black lines are the decision boundaries; the points are the
    samples, coloured by their true class.

    Parameters
    ----------
    model : classifier or callable
        A fitted Network, MLPClassifier, ... (its ``predict_proba`` or ``predict`` is
        used) or a function taking an array of shape (n, 2) and returning class
        probabilities (n, k), the positive-class probability (n,) / (n, 1), or labels.
    X : array-like of shape (n_samples, 2)
    y : array-like of shape (n_samples,)
        True classes: labels from the model's ``classes_``, or class indices.
    path : str or path-like, optional
        Where to write the picture; None returns the figure.
    feature_names : sequence of 2 str, optional
        Axis labels (default "feature 0", "feature 1").
    class_names : sequence of str, optional
        Legend labels, one per class (default: the class labels).
    resolution : int, default=300
        Grid points per axis.
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    X = check_array(X, "X", dtype=np.float64)
    if X.shape[1] != 2:
        raise ValueError(
            f"X must have exactly 2 features to draw a decision boundary; received "
            f"{X.shape[1]}. Pick two columns, e.g. X[:, [0, 1]], and train on them."
        )
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have shape ({X.shape[0]},); received shape {y.shape}")
    if feature_names is None:
        feature_names = ["feature 0", "feature 1"]
    if len(feature_names) != 2:
        raise ValueError(f"feature_names must name 2 features; received {list(feature_names)}")

    pad = 0.08 * np.ptp(X, axis=0) + 1e-9 + 0.05 * (np.ptp(X, axis=0) == 0)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    index, classes, confidence = _predicted_classes(model, grid)
    k = max(len(classes), 2)
    y_index = np.array(
        [np.flatnonzero(classes == label)[0] if np.any(classes == label) else -1 for label in y]
    )
    if np.any(y_index < 0):
        unknown = sorted({str(v) for v in y[y_index < 0]})[:5]
        raise ValueError(
            f"y holds {unknown}, which are not among the model's classes "
            f"{[str(c) for c in classes]}; pass the true labels (or class indices)"
        )
    if class_names is None:
        class_names = [str(c) for c in classes]
    if len(class_names) != len(classes):
        raise ValueError(
            f"class_names must have {len(classes)} names (one per class); "
            f"received {len(class_names)}"
        )

    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, to_rgb

    palette = colormaps["tab10"].colors if k <= 10 else colormaps["tab20"].colors
    colors = np.array([to_rgb(palette[i % len(palette)]) for i in range(k)])
    # region colour: the class colour mixed with white, paler where less confident
    strength = 0.3 if confidence is None else 0.08 + 0.3 * (confidence - 1 / k) / (1 - 1 / k)
    image = 1 - np.asarray(strength)[..., None] * (1 - colors[index])
    image = image.reshape(resolution, resolution, 3)

    fig, (ax,) = _figure(width=6.8, height=5.6)
    ax.imshow(
        image,
        origin="lower",
        extent=(lo[0], hi[0], lo[1], hi[1]),
        aspect="auto",
        interpolation="nearest",
    )
    grid_index = index.reshape(resolution, resolution)
    if len(np.unique(grid_index)) > 1:
        ax.contour(xx, yy, grid_index, levels=np.arange(k) + 0.5, colors="black", linewidths=1.2)
    cmap = ListedColormap(colors)
    for i, name in enumerate(class_names):
        mask = y_index == i
        ax.scatter(
            X[mask, 0],
            X[mask, 1],
            color=cmap(i),
            edgecolors="black",
            linewidths=0.6,
            s=30,
            label=f"{_plain(name)} (true class)",
        )
    ax.plot([], [], color="black", linewidth=1.2, label="decision boundary")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(_plain(feature_names[0]))
    ax.set_ylabel(_plain(feature_names[1]))
    ax.set_title(_plain(title))
    ax.legend(loc="best", framealpha=0.9)
    return _finish(fig, path, dpi)


def plot_table_boundary(model: Any, frame: Any, path: str | os.PathLike | None = None, **kwargs):
    """:func:`plot_decision_boundary` of a two-column TabularModel classifier over the
    rows of ``frame`` (a DataFrame with the model's two input columns and its target).

    Raises
    ------
    DataError
        When ``frame`` lacks a column, or holds text or non-finite numbers in them.
    """
    import pandas as pd

    columns = [c["name"] for c in model.preprocessor_.columns_]
    for name in (*columns, model.target):
        if name not in frame.columns:
            raise DataError(f"no column {name!r}, which the plot needs")
    rows = frame[[*columns, model.target]].dropna()
    values = rows[columns].apply(pd.to_numeric, errors="coerce")
    text = values.isna().any(axis=1)
    if text.any():
        raise DataError(
            f"the columns {', '.join(map(repr, columns))} must hold numbers; row "
            f"{rows.index[text.to_numpy()][0]} does not"
        )
    X = values.to_numpy(dtype=np.float64)
    if rows.empty or not np.all(np.isfinite(X)):
        raise DataError(
            f"the plot needs rows with finite numbers in {', '.join(map(repr, columns))} "
            f"and a value of {model.target!r}"
        )

    def predict_proba(points: np.ndarray) -> np.ndarray:
        return model.predict_proba(pd.DataFrame(points, columns=columns))

    options = {
        "feature_names": columns,
        "class_names": [str(c) for c in model.classes_],
        "title": f"Decision regions of {model.target!r}",
        **kwargs,
    }
    encoded = model.preprocessor_.encode_target(rows)
    return plot_decision_boundary(predict_proba, X, encoded, path, **options)


def plot_confusion_matrix(
    cm,
    labels: Sequence[str],
    path: str | os.PathLike | None = None,
    *,
    normalize: bool = False,
    title: str = "Confusion matrix",
    dpi: int = 120,
):
    """A heat map of ``cm[i, j]``: samples of true class ``i`` predicted as class ``j``.

    Parameters
    ----------
    cm : array-like of shape (n_classes, n_classes)
        Counts, rows the true classes and columns the predicted ones (as
        ``sklearn.metrics.confusion_matrix``).
    labels : sequence of str
        Class names, in the order of the rows.
    path : str or path-like, optional
        Where to write the picture; None returns the figure.
    normalize : bool, default=False
        Show each row as fractions of its true class (the recall on the diagonal).
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    cm = check_array(cm, "cm", dtype=np.float64)
    if cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square matrix; received shape {cm.shape}")
    labels = [str(label) for label in labels]
    if len(labels) != cm.shape[0]:
        raise ValueError(
            f"labels must have {cm.shape[0]} names (one per row of cm); received {len(labels)}"
        )
    values = cm
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        values = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    n = cm.shape[0]
    size = min(4.0 + 0.5 * n, 14.0)
    fig, (ax,) = _figure(width=size + 1.2, height=size)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1e-12))
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("Fraction of the true class" if normalize else "Samples")
    if n <= 30:
        threshold = values.max() / 2
        for i in range(n):
            for j in range(n):
                text = f"{values[i, j]:.2f}" if normalize else f"{round(cm[i, j])}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=10 if n <= 10 else 7,
                    color="white" if values[i, j] > threshold else "black",
                )
    ax.set_xticks(
        range(n),
        [_plain(label) for label in labels],
        rotation=45 if max(map(len, labels)) > 4 else 0,
        ha="right" if max(map(len, labels)) > 4 else "center",
    )
    ax.set_yticks(range(n), [_plain(label) for label in labels])
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    accuracy = np.trace(cm) / cm.sum() if cm.sum() else float("nan")
    ax.set_title(f"{_plain(title)} (accuracy {accuracy:.3f})")
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------- regressors


def plot_predicted_vs_true(
    y_true,
    y_pred,
    path: str | os.PathLike | None = None,
    *,
    title: str = "Predicted against true values",
    dpi: int = 120,
):
    """A regressor's predictions against the targets; perfect ones lie on the diagonal.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
    path : str or path-like, optional
        Where to write the picture; None returns the figure.
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    y_true = check_array(y_true, "y_true", dtype=np.float64, ndim=(1, 2))
    y_pred = check_array(y_pred, "y_pred", dtype=np.float64, ndim=(1, 2))
    if y_true.size != y_pred.size or y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"y_true and y_pred must have the same shape; received {y_true.shape} and "
            f"{y_pred.shape}"
        )
    y_true = y_true.reshape(y_true.shape[0], -1)
    y_pred = y_pred.reshape(y_true.shape)
    fig, (ax,) = _figure(width=6.0, height=5.6)
    n_outputs = y_true.shape[1]
    for j in range(n_outputs):
        t, p = y_true[:, j], y_pred[:, j]
        r2 = R2()(p[:, None], t[:, None])
        name = "samples" if n_outputs == 1 else f"output {j}"
        ax.scatter(t, p, s=18, alpha=0.6, edgecolors="none", label=f"{name} (R² = {r2:.3f})")
    lo = float(min(y_true.min(), y_pred.min()))
    hi = float(max(y_true.max(), y_pred.max()))
    margin = 0.05 * (hi - lo) or 1.0
    lo, hi = lo - margin, hi + margin
    ax.plot(
        [lo, hi], [lo, hi], color="black", linestyle="--", linewidth=1, label="perfect prediction"
    )
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("True value")
    ax.set_ylabel("Predicted value")
    ax.set_title(_plain(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------- which columns matter


def plot_importance(
    result: Any,
    path: str | os.PathLike | None = None,
    *,
    top: int | None = 30,
    title: str = "Which columns matter",
    dpi: int = 120,
):
    """Horizontal bars of permutation importances, most important on top, with their
    standard deviation as error bars.

    Parameters
    ----------
    result : ImportanceResult
        From :func:`chainrule.permutation_importance` (anything with ``names``,
        ``importances_mean``, ``importances_std``, ``scoring`` and ``importances``).
    path : str or path-like, optional
        Where to write the picture; None returns the figure.
    top : int or None, default=30
        Draw only the most important columns (None: all of them).
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    means = np.asarray(result.importances_mean, dtype=np.float64)
    stds = np.asarray(result.importances_std, dtype=np.float64)
    names = [str(name) for name in result.names]
    if means.size == 0:
        raise ValueError("result holds no columns to draw")
    order = np.argsort(-means, kind="stable")
    if top is not None:
        order = order[: int(top)]
    n = len(order)
    fig, (ax,) = _figure(width=7.0, height=min(1.6 + 0.38 * n, 14.0))
    positions = np.arange(n)[::-1]  # the most important at the top
    colors = ["#1f77b4" if means[j] > stds[j] else "#b0b0b0" for j in order]
    ax.barh(
        positions,
        means[order],
        xerr=stds[order],
        color=colors,
        error_kw={"ecolor": "black", "capsize": 3, "linewidth": 1},
    )
    ax.set_yticks(positions, [_plain(names[j]) for j in order])
    ax.axvline(0, color="black", linewidth=0.8)
    repeats = np.shape(result.importances)[1]
    score = "R²" if result.scoring == "r2" else _plain(result.scoring)
    ax.set_xlabel(f"Drop in {score} when the column is shuffled (mean ± std of {repeats})")
    ax.set_title(_plain(title))
    ax.grid(axis="x", alpha=0.3)
    return _finish(fig, path, dpi)


# ---------------------------------------------------------------- training's health


def _health_record(record: Any) -> dict[str, Any]:
    """A Diagnostics record from the callback, a TabularModel or the record itself."""
    from chainrule.diagnostics import Diagnostics, check_record

    if isinstance(record, Diagnostics):
        record = record.record
    elif not isinstance(record, Mapping) and isinstance(getattr(record, "training_", None), dict):
        record = record.training_.get("diagnostics")  # TabularModel (chainrule train --diagnose)
    if not isinstance(record, Mapping) or not record.get("epoch"):
        raise ValueError(
            "record must be a Diagnostics callback that watched a training run, its "
            "record, or a model trained with one (chainrule train --diagnose); received "
            f"{type(record).__name__} without a record of any epoch"
        )
    return check_record(dict(record))


def plot_health(
    record: Any,
    path: str | os.PathLike | None = None,
    *,
    title: str = "Training's health",
    dpi: int = 120,
):
    """Training's health, epoch by epoch: the loss, and per Dense layer the gradient
    norm, the update-to-weight ratio, the dead ReLU fraction and the saturated
    sigmoid/tanh fraction; the warnings of the run under the curves.

    Parameters
    ----------
    record : Diagnostics, dict or TabularModel
        A :class:`~chainrule.Diagnostics` callback after training, its ``record``, or a
        model trained with one (``chainrule train --diagnose``).
    path : str or path-like, optional
        Where to write the picture; None returns the figure.
    title : str
    dpi : int, default=120

    Returns
    -------
    pathlib.Path or matplotlib.figure.Figure
    """
    record = _health_record(record)
    fig, _ = _figure(1, width=12.0, height=7.5)
    fig.clear()
    axes = fig.subplots(2, 3)
    epochs = np.asarray(record["epoch"]) + 1
    layers = record["layers"]
    colors = [f"C{i % 10}" for i in range(len(layers))]

    def series(values):
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    def label(row):
        act = row["activation"]
        act = "sigmoid" if act == "logistic" else act
        return f"layer {row['layer']} ({row['units']}{', ' + act if act else ''})"

    ax = axes[0, 0]
    ax.plot(epochs, series(record["loss"]), color="black", marker="o", markersize=3)
    ax.set_title("Loss")
    ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
    panels = [
        (axes[0, 1], "grad_norm", "Gradient norm (mean per step)", True),
        (axes[0, 2], "update_ratio", "Update / weight norm (per epoch)", True),
        (axes[1, 0], "dead", "Dead ReLU units (fraction)", False),
        (axes[1, 1], "saturated", "Saturated sigmoid/tanh units (fraction)", False),
    ]
    for ax, key, name, log in panels:
        drawn = False
        for row, color in zip(layers, colors, strict=True):
            values = series(row.get(key, []))
            if values.size and np.isfinite(values).any():
                if log and not (values[np.isfinite(values)] > 0).any():
                    continue
                ax.plot(epochs, values, color=color, marker="o", markersize=3, label=label(row))
                drawn = True
        ax.set_title(name)
        if drawn and log:
            ax.set_yscale("log")
        if not log:
            ax.set_ylim(-0.03, 1.03)
        if not log and drawn:  # the fraction at which Diagnostics warns
            ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        if drawn:
            ax.legend(fontsize="small")
        else:
            none = "no ReLU layer" if key == "dead" else "no sigmoid or tanh layer"
            ax.text(
                0.5,
                0.5,
                none if not log else "not measured",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="grey",
            )
    for ax in axes.flat[:5]:
        ax.set_xlabel("Epoch")
        ax.grid(True, alpha=0.3)
        _integer_ticks(ax)
    ax = axes[1, 2]
    ax.axis("off")
    messages = record["warnings"] or ["No problem found."]
    import textwrap

    text = "\n\n".join(textwrap.fill(_plain(m), 52) for m in messages[:6])
    ax.text(
        0.0,
        1.0,
        "Warnings\n\n" + text,
        va="top",
        ha="left",
        fontsize="small",
        transform=ax.transAxes,
        wrap=True,
    )
    fig.suptitle(_plain(title))
    return _finish(fig, path, dpi)
