"""Which columns matter: permutation importance and per-prediction attributions.

- :func:`permutation_importance`: how much a score drops when one column's values are
  shuffled among the rows (the column's link to the target is broken, its
  distribution kept). For a command-line model (:class:`~chainrule.tabular.TabularModel`)
  the RAW columns are shuffled before the stored preprocessing, so a text column's
  one-hot group, or a date's parts, count as the one column they come from.
- :func:`attributions`: for each prediction, how much each input moved it away from a
  baseline input, by integrated gradients or gradient x input. The input gradients come
  from the network's own backward pass (the layers' ``backward``, as in training),
  then are summed back to raw columns for command-line models.

Both work on a :class:`~chainrule.Network`, on ``MLPClassifier`` / ``MLPRegressor`` and
on a ``TabularModel``; :func:`importance_for_command` is what ``chainrule explain MODEL
DATA.csv --importance`` prints.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule._validation import check_array, check_positive_int
from chainrule.errors import UserError
from chainrule.metrics import R2
from chainrule.network import Network

__all__ = [
    "AttributionResult",
    "ImportanceResult",
    "attributions",
    "importance_for_command",
    "importance_report",
    "permutation_importance",
]

SCORINGS = ("accuracy", "r2")


# ---------------------------------------------------------------- what kind of model


def _is_tabular(model: Any) -> bool:
    return hasattr(model, "preprocessor_") and hasattr(model, "network_")


def _is_estimator(model: Any) -> bool:
    return (
        hasattr(model, "network_") and hasattr(model, "n_features_in_") and not _is_tabular(model)
    )


def _network_of(model: Any) -> Network:
    if isinstance(model, Network):
        model._require_built()
        return model
    if _is_tabular(model) or _is_estimator(model):
        if hasattr(model, "_sync_network"):
            model._sync_network()
        return model.network_
    raise TypeError(
        "model must be a chainrule Network, MLPClassifier, MLPRegressor or a command-line "
        f"TabularModel, fitted; received {type(model).__name__}"
    )


def _is_classifier(model: Any) -> bool:
    if _is_tabular(model):
        return model.task_ == "classify"
    if _is_estimator(model):
        return hasattr(model, "classes_")
    if isinstance(model, Network):
        return getattr(model.layers[-1], "name", None) in ("softmax", "logistic")
    raise TypeError(f"unsupported model {type(model).__name__}")


def _column_names(model: Any, X: Any) -> list:
    """Raw column names: the table's for a TabularModel, else names or indices."""
    if _is_tabular(model):
        return [c["name"] for c in model.preprocessor_.columns_]
    if hasattr(X, "columns"):
        return list(X.columns)
    return list(range(np.shape(X)[1]))


def _feature_groups(model: Any, n_features: int) -> list[slice]:
    """For each raw column, the slice of the network's features it becomes."""
    if not _is_tabular(model):
        return [slice(j, j + 1) for j in range(n_features)]
    groups, start = [], 0
    for col in model.preprocessor_.columns_:
        if col["kind"] == "numeric":
            width = 1
        elif col["kind"] == "datetime":
            width = len(col["parts"])
        else:
            width = len(col["categories"])
        groups.append(slice(start, start + width))
        start += width
    return groups


# ---------------------------------------------------------------- permutation importance


@dataclass
class ImportanceResult:
    """Permutation importances, one per raw column (scikit-learn's fields, plus names).

    Attributes
    ----------
    names : list
        The raw column names (indices for arrays without names), in input order.
    importances : ndarray of shape (n_columns, n_repeats)
        ``baseline_score - score with the column shuffled``, per repeat.
    importances_mean, importances_std : ndarray of shape (n_columns,)
        Their mean and (population) standard deviation over the repeats.
    baseline_score : float
        The score on the rows as given.
    scoring : str
        The score's name (``"accuracy"``, ``"r2"`` or the callable's name).
    """

    names: list
    importances: np.ndarray
    baseline_score: float
    scoring: str
    importances_mean: np.ndarray = field(init=False)
    importances_std: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.importances_mean = self.importances.mean(axis=1)
        self.importances_std = self.importances.std(axis=1)

    def __getitem__(self, name: Any) -> dict[str, float]:
        """``result["age"]`` -> ``{"mean": ..., "std": ...}`` for one column."""
        try:
            j = self.names.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; the columns are {self.names}") from None
        return {"mean": float(self.importances_mean[j]), "std": float(self.importances_std[j])}

    def ranked(self) -> list:
        """The column names, most important first (ties keep input order)."""
        order = np.argsort(-self.importances_mean, kind="stable")
        return [self.names[j] for j in order]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``{"scoring", "baseline_score", "columns": {name: {mean, std}}}``."""
        return {
            "scoring": self.scoring,
            "baseline_score": float(self.baseline_score),
            "columns": {str(name): self[name] for name in self.names},
        }


def _scorer(model: Any, scoring: str | Callable | None) -> tuple[Callable, str]:
    """``score(X, y) -> float`` for ``model`` and its name."""
    if callable(scoring):
        return (lambda X, y: float(scoring(model, X, y))), getattr(scoring, "__name__", "score")
    if scoring is None:
        scoring = "accuracy" if _is_classifier(model) else "r2"
    if scoring not in SCORINGS:
        raise ValueError(
            f"scoring must be one of {list(SCORINGS)}, a callable scoring(model, X, y) or "
            f"None; received scoring={scoring!r}"
        )
    predict = _predict_labels if scoring == "accuracy" else _predict_values

    def score(X, y):
        predicted = predict(model, X)
        if scoring == "accuracy":
            return float(np.mean(predicted == y))
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return float(R2()(predicted.reshape(y.shape), y))

    return score, scoring


def _predict_labels(model: Any, X: Any) -> np.ndarray:
    if isinstance(model, Network):
        out = model.predict(X)
        return (out[:, 0] > 0.5).astype(np.intp) if out.shape[1] == 1 else np.argmax(out, 1)
    return np.asarray(model.predict(X))


def _predict_values(model: Any, X: Any) -> np.ndarray:
    out = np.asarray(model.predict(X), dtype=np.float64)
    return out


def _network_labels(model: Any, y: Any) -> Any:
    """A Network's class targets as indices (one-hot rows become their argmax)."""
    y = np.asarray(y)
    if isinstance(model, Network) and _is_classifier(model) and y.ndim == 2:
        return np.argmax(y, axis=1) if y.shape[1] > 1 else y[:, 0].astype(np.intp)
    return y


def permutation_importance(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    n_repeats: int = 5,
    scoring: str | Callable | None = None,
    random_state: int | np.random.Generator | None = None,
) -> ImportanceResult:
    """Importance of a column: ``score(X, y) - score(X with the column shuffled, y)``.

    Each column is shuffled ``n_repeats`` times (a new permutation of the rows each
    time, the other columns untouched). A column the model ignores scores about 0; a
    negative value means the shuffled column scored better by chance.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
        Fitted.
    X : array-like of shape (n_samples, n_features), or a DataFrame
        For a TabularModel, a DataFrame of RAW columns: each raw column is shuffled
        before the model's stored preprocessing, so a one-hot group or a date's parts
        move together and count as one column.
    y : array-like of shape (n_samples,), optional
        The targets (a Network's classes as indices or one-hot rows). For a
        TabularModel, None takes the target column from ``X``.
    n_repeats : int, default=5
    scoring : {"accuracy", "r2"}, callable or None, default=None
        None: accuracy for classifiers, R² for regressors. A callable is called as
        ``scoring(model, X, y)`` (scikit-learn's scorers can be passed).
    random_state : int, Generator or None, default=None
        Seeds the permutations (a ``numpy.random.Generator``).

    Returns
    -------
    ImportanceResult
        ``names``, ``importances`` (n_columns, n_repeats), ``importances_mean``,
        ``importances_std``, ``baseline_score``; ``result[name]`` gives one column's.

    Examples
    --------
    >>> result = permutation_importance(model, frame, random_state=0)  # doctest: +SKIP
    >>> result.ranked()[:2]                                            # doctest: +SKIP
    ['flipper_length_mm', 'island']
    """
    _network_of(model)
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    rng = np.random.default_rng(random_state)
    score, name = _scorer(model, scoring)
    tabular = _is_tabular(model)
    if tabular:
        if not hasattr(X, "columns"):
            raise TypeError(
                "X must be a DataFrame of the raw columns for a TabularModel; received "
                f"{type(X).__name__}"
            )
        if y is None:
            if model.target not in X.columns:
                raise ValueError(
                    f"y is None and X has no target column {model.target!r}: pass y, or rows "
                    "that hold the target"
                )
            y = X[model.target]
        y = np.asarray(y)
        if _is_classifier(model):
            y = np.asarray(
                model.preprocessor_.decode_target(
                    model.preprocessor_.encode_target(_series(y, model.target))
                )
            )
        names = _column_names(model, X)
    else:
        if y is None:
            raise ValueError("y is required for a Network or an estimator (the targets of X)")
        names = _column_names(model, X)
        if not hasattr(X, "columns"):
            X = check_array(X, "X", dtype=np.float64)
        y = _network_labels(model, y)
    n = len(y)
    if len(X) != n:
        raise ValueError(f"X and y must have the same rows; received {len(X)} and {n}")
    baseline = score(X, y)
    importances = np.empty((len(names), n_repeats))
    for j, column in enumerate(names):
        shuffled = X.copy()
        for r in range(n_repeats):
            rows = rng.permutation(n)
            if hasattr(X, "columns"):
                shuffled[column] = X[column].to_numpy()[rows]
            else:
                shuffled[:, j] = X[rows, j]
            importances[j, r] = baseline - score(shuffled, y)
    return ImportanceResult(names, importances, baseline, name)


def _series(values: np.ndarray, name: str):
    from chainrule.preprocessing import _pandas

    return _pandas().Series(values, name=name)


# ---------------------------------------------------------------- attributions


@dataclass
class AttributionResult:
    """Per-prediction attributions, one column per raw column.

    Attributes
    ----------
    names : list
        The raw column names (indices for arrays), in input order.
    values : ndarray of shape (n_rows, n_columns)
        How much each column moved each prediction away from the baseline's.
    prediction, baseline_prediction : ndarray of shape (n_rows,)
        The explained output at each row and at the baseline: the predicted class's
        probability for classifiers, the regression output (in the target's units for
        a TabularModel).
    target : ndarray of shape (n_rows,)
        The output explained: the predicted class's index (0 for regressors).
    method : str
    steps : int
    """

    names: list
    values: np.ndarray
    prediction: np.ndarray
    baseline_prediction: np.ndarray
    target: np.ndarray
    method: str
    steps: int

    @property
    def gap(self) -> np.ndarray:
        """``prediction - baseline_prediction - values.sum(axis=1)`` per row: integrated
        gradients' completeness error (0 up to the integration's error)."""
        return self.prediction - self.baseline_prediction - self.values.sum(axis=1)

    def mean_absolute(self) -> np.ndarray:
        """Mean ``|value|`` of each column over the rows, shape (n_columns,)."""
        return np.abs(self.values).mean(axis=0)


def _input_gradient(net: Network, X: np.ndarray, target: np.ndarray, scale: float):
    """The explained outputs at ``X`` and their gradients with respect to ``X``.

    Runs the network's own layers, copied (``forward`` keeps what ``backward`` needs,
    as in :meth:`Network.loss_and_gradient`), in float64, every layer asked for its
    input gradient, and seeds the backward pass with ``d output[target] / d output``.
    """
    params = net.params.astype(np.float64)
    layers = [copy.copy(layer) for layer in net.layers]
    net._bind(layers, params, np.empty_like(params))
    output = X
    for layer in layers:
        layer.needs_input_grad = True
        output = layer.forward(output, False)
    rows = np.arange(X.shape[0])
    gradient = np.zeros_like(output)
    gradient[rows, target] = scale
    for layer in reversed(layers):
        gradient = layer.backward(gradient)
    return scale * output[rows, target], gradient


def attributions(
    model: Any,
    X: Any,
    *,
    method: str = "integrated_gradients",
    baseline: Any = None,
    steps: int = 50,
) -> AttributionResult:
    """Attribute each prediction to the input columns.

    The explained output is the predicted class's probability (classifiers; with one
    sigmoid output, as a binary MLPClassifier has, the positive class's probability) or
    the regression output (in the target's original units for a TabularModel). With
    ``x'`` the baseline and ``F`` that output:

    - ``"integrated_gradients"``: ``(x - x') * mean of dF/dx along the straight path
      from x' to x`` (the trapezoid rule over ``steps`` intervals). Completeness: a
      row's attributions add up to ``F(x) - F(x')``, up to the integration's error,
      which shrinks like ``1/steps**2`` for smooth activations (tanh, sigmoid, GELU)
      and like ``1/steps`` for ReLU's kinks; :attr:`AttributionResult.gap` holds it
      (below 1e-3 of the output's range with the default 50 steps on the tests' data).
    - ``"gradient_x_input"``: ``(x - x') * dF/dx at x``: one backward pass; exact
      completeness only for a linear model.

    The gradients come from the network's own backward pass (each layer's ``backward``,
    the same code as training); for a TabularModel the features a raw column became
    (its one-hot group, a date's parts) are summed back into that column.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
    X : array-like of shape (n_rows, n_features), or a DataFrame of raw columns for a
        TabularModel
    method : {"integrated_gradients", "gradient_x_input"}
    baseline : array-like of shape (n_features,), "zeros" or None
        In the network's feature space. None: zeros for a TabularModel (the training
        mean of every number and date part, after standardisation, and no category of
        a text column); the mean of ``X``'s rows otherwise (pass the training mean when
        explaining a few rows).
    steps : int, default=50
        Intervals of the path integral (integrated gradients only).

    Returns
    -------
    AttributionResult
    """
    if method not in ("integrated_gradients", "gradient_x_input"):
        raise ValueError(
            "method must be 'integrated_gradients' or 'gradient_x_input'; received "
            f"method={method!r}"
        )
    steps = check_positive_int(steps, "steps")
    net = _network_of(model)
    names = _column_names(model, X)
    scale = 1.0
    if _is_tabular(model):
        features = model.preprocessor_.transform(X)
        if not _is_classifier(model):
            scale = float(getattr(model.preprocessor_, "target_scale_", 1.0))
        offset = float(getattr(model.preprocessor_, "target_mean_", 0.0))
    else:
        if _is_estimator(model):
            X = model._validate_predict_input(X)
        features = check_array(X, "X", dtype=np.float64)
        offset = 0.0
    features = np.asarray(features, dtype=np.float64)
    if features.shape[1] != net.n_features:
        raise ValueError(f"X must have {net.n_features} features; received {features.shape[1]}")
    if baseline is None:
        baseline = np.zeros(net.n_features) if _is_tabular(model) else features.mean(axis=0)
    elif isinstance(baseline, str) and baseline == "zeros":
        baseline = np.zeros(net.n_features)
    baseline = check_array(baseline, "baseline", dtype=np.float64, ndim=1)
    if baseline.shape != (net.n_features,):
        raise ValueError(
            f"baseline must have one value per feature ({net.n_features}); received shape "
            f"{baseline.shape}"
        )
    n = features.shape[0]
    out = net.forward(features.astype(net.dtype))
    classify = _is_classifier(model) and out.shape[1] > 1
    target = np.argmax(out, axis=1) if classify else np.zeros(n, dtype=np.intp)
    prediction, gradient = _input_gradient(net, features, target, scale)
    base_prediction, _ = _input_gradient(net, np.tile(baseline, (n, 1)), target, scale)
    if method == "integrated_gradients":
        alphas = np.linspace(0.0, 1.0, steps + 1)
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2  # the trapezoid rule
        total = np.zeros_like(features)
        for alpha, weight in zip(alphas, weights, strict=True):
            _, g = _input_gradient(net, baseline + alpha * (features - baseline), target, scale)
            total += weight * g
        gradient = total
    per_feature = (features - baseline) * gradient
    groups = _feature_groups(model, net.n_features)
    values = np.stack([per_feature[:, g].sum(axis=1) for g in groups], axis=1)
    return AttributionResult(
        names,
        values,
        prediction + offset,
        base_prediction + offset,
        target,
        method,
        steps if method == "integrated_gradients" else 1,
    )


# ---------------------------------------------------------------- reports


def importance_report(
    result: ImportanceResult, attributed: AttributionResult | None = None
) -> list[str]:
    """The importances as text lines, most important first, for a terminal.

    With ``attributed``, a column with each column's mean absolute attribution.
    """
    names = [str(name) for name in result.names]
    width = max([len("column"), *map(len, names)])
    order = np.argsort(-result.importances_mean, kind="stable")
    repeats = result.importances.shape[1]
    lines = [
        f"Permutation importance: the drop in {result.scoring} (baseline "
        f"{result.baseline_score:.4f}) when a column's values are shuffled, mean ± std "
        f"over {repeats} shuffle{'s' if repeats != 1 else ''}",
        "",
    ]
    header = f"{'column':<{width}}  {'drop':>9}  {'± std':>8}"
    if attributed is not None:
        header += f"  {'mean |attribution|':>18}"
    lines += [header, "-" * len(header)]
    top = max(float(result.importances_mean.max()), 1e-12)
    for j in order:
        mean, std = result.importances_mean[j], result.importances_std[j]
        line = f"{names[j]:<{width}}  {mean:>9.4f}  {std:>8.4f}"
        if attributed is not None:
            line += f"  {attributed.mean_absolute()[j]:>18.4f}"
        bar = "#" * max(0, round(20 * mean / top)) if mean > 0 else ""
        lines.append(f"{line}  {bar}")
    noise = [names[j] for j in order if result.importances_mean[j] <= result.importances_std[j]]
    if noise:
        lines += [
            "",
            "No clear effect (drop within one std of 0): " + ", ".join(noise),
        ]
    return lines


def importance_for_command(
    model: Any,
    frame: Any,
    *,
    plot: str | os.PathLike | None = None,
    n_repeats: int = 5,
    random_state: int | None = 0,
) -> list[str]:
    """What ``chainrule explain MODEL DATA.csv --importance [--plot FILE.png]`` prints.

    Permutation importance of each raw column of ``frame`` (which must hold the
    target), the mean absolute integrated-gradients attribution of each, and, with
    ``plot``, the bar chart written there. Raises :class:`~chainrule.errors.UserError`
    for rows without the target column.
    """
    if not _is_tabular(model):
        raise UserError("--importance needs a model trained by the chainrule command")
    if model.target not in frame.columns:
        raise UserError(
            f"--importance needs the target column {model.target!r} in the data, to score "
            "the predictions; give rows that hold it"
        )
    result = permutation_importance(model, frame, n_repeats=n_repeats, random_state=random_state)
    attributed = attributions(model, frame, steps=200)
    lines = importance_report(result, attributed)
    gap = float(np.max(np.abs(attributed.gap))) if len(frame) else 0.0
    lines.append(
        f"Attributions: integrated gradients from the training mean ({attributed.steps} "
        "steps); each row's add up to its prediction minus the baseline's within "
        f"{gap:.2g}"
    )
    if plot is not None:
        from chainrule.plotting import plot_importance

        path = plot_importance(result, plot)
        lines.append(f"Wrote the bar chart to {path}")
    return lines
