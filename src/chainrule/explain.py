"""Explain one prediction: the lesson's chain rule, replayed inside any trained network.

``explain(model, x)`` runs one example forward and backward through copies of the
model's own layers, bound to its parameters (as :meth:`Network.loss_and_gradient`
does), and keeps every value on the way, named as the lesson names them:

- forward, ``layer_1``, ``layer_2``, ..., ``prediction``: every layer's output, the
  layers counted one by one (a Dense layer and its activation are two layers), the last
  one's output called ``prediction``;
- backward, each local derivative (``dprediction_dlayer3``, ``dlayer3_dlayer2`` ...,
  ``dlayer1_dweights``, ``dlayer1_dbias``) and each chain product (``derror_dprediction``,
  ``derror_dlayer3``, ..., ``derror_dweights``, ``derror_dbias``).

No formula is written twice: the values are those the layers' ``forward`` and
``backward`` compute in training. An activation's local derivative is its ``backward``
applied to ones (its derivative at each unit); a Dense layer's are its input
(``dlayer_dweights``), 1 (``dlayer_dbias``) and its weights (``dlayer_dinput``).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.layers import Activation, Dense, Softmax
from chainrule.network import Network

__all__ = ["Trace", "explain"]

#: values shown per array in the terminal table (to_dict keeps them all)
SHOWN = 6

_CLASSIFYING_LOSSES = (
    "binary_crossentropy",
    "categorical_crossentropy",
    "multilabel_crossentropy",
)


def _fmt(value: Any) -> str:
    """A number with 8 significant digits (the lesson prints 0.87101915)."""
    value = float(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.8g}"


def _fmt_array(value: Any, shown: int | None = SHOWN) -> str:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0 or array.size == 1:
        return _fmt(array.ravel()[0])
    flat = array.ravel()
    if shown is None or flat.size <= shown:
        text = ", ".join(_fmt(v) for v in flat)
    else:
        text = ", ".join(_fmt(v) for v in flat[: shown - 1]) + ", ..., " + _fmt(flat[-1])
    shape = "" if array.ndim == 1 else f"{'x'.join(map(str, array.shape))}: "
    return f"{shape}[{text}]"


def _json(value: Any) -> Any:
    """JSON-safe: arrays as (nested) lists of floats, one value as a float."""
    array = np.asarray(value)
    if array.dtype.kind in "fiub":
        array = array.astype(np.float64)
        return float(array) if array.ndim == 0 else array.tolist()
    return value


def _squeeze(value: np.ndarray) -> np.ndarray:
    """One example's values: drop the batch axis (1, k) -> (k,), a single value -> ()."""
    value = np.asarray(value)
    if value.ndim == 2 and value.shape[0] == 1:
        value = value[0]
    if value.ndim == 1 and value.size == 1:
        value = value[0]
    return np.asarray(value, dtype=np.float64)


class Trace:
    """One example's forward and backward pass, value by value, with the lesson's names.

    Made by :func:`explain`. ``trace["derror_dprediction"]`` gives one value (an array,
    or a float for a single one); ``trace.rows`` lists every step in order as
    ``(name, value, how)``. ``str(trace)`` is the terminal table, :meth:`to_markdown`
    the same as a markdown table, :meth:`to_dict` a JSON-safe dict.

    Attributes
    ----------
    rows : list of (str, ndarray, str)
        Every value in the order the chain rule meets it: the input, the forward
        values, the error, then the backward derivatives and chain products.
    features : list of str
        The input features' names (``x1``, ``x2`` ... when the model has none).
    columns : dict or None
        For a command-line model: which raw column became which features
        (``{"island": ["island=Biscoe", "island=Dream", ...], ...}``).
    target : ndarray
        The target whose error was backpropagated, as the loss takes it.
    target_note : str
        Where the target came from.
    error : float
        The loss for this example.
    weight : dict or None
        With ``weight=(k, i, j)``: ``{"weight": "weights_k[i, j]", "value", "gradient",
        "steps": [(name, formula, value), ...]}``, the factors whose product is that
        weight's gradient.
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, np.ndarray, str]] = []
        self.features: list[str] = []
        self.columns: dict[str, list[str]] | None = None
        self.raw: dict[str, Any] | None = None
        self.target: np.ndarray = np.zeros(0)
        self.target_note = ""
        self.loss = ""
        self.error = math.nan
        self.model = ""
        self.fused_note = ""
        self.notes: list[str] = []
        self.weight: dict[str, Any] | None = None

    def _add(self, name: str, value: Any, how: str) -> None:
        self.rows.append((name, _squeeze(value), how))

    def __getitem__(self, name: str) -> Any:
        for row_name, value, _ in self.rows:
            if row_name == name:
                return float(value) if value.ndim == 0 else value
        raise KeyError(f"{name!r} is not in this trace; its names are {self.names}")

    def __contains__(self, name: object) -> bool:
        return any(row[0] == name for row in self.rows)

    @property
    def names(self) -> list[str]:
        """The names of every value, in order."""
        return [row[0] for row in self.rows]

    # ------------------------------------------------------------ renders

    def _header(self) -> list[str]:
        lines = [
            f"Trace of one prediction ({self.model}, loss {self.loss}); "
            f"target {_fmt_array(self.target)} ({self.target_note})"
        ]
        if self.columns:
            lines.append("input features from the raw columns:")
            values = dict(zip(self.features, np.ravel(self.rows[0][1]), strict=True))
            for column, names in self.columns.items():
                raw = "" if self.raw is None else f" = {self.raw.get(column)!s}"
                made = ", ".join(f"{name} {_fmt(values[name])}" for name in names)
                lines.append(f"  {column}{raw} -> {made}")
        if self.fused_note:
            lines.append(self.fused_note)
        lines += self.notes
        return lines

    def _weight_lines(self) -> list[str]:
        if self.weight is None:
            return []
        lines = [
            f"Following {self.weight['weight']} = {_fmt(self.weight['value'])} (from "
            f"{self.weight['joins']}): "
            f"its gradient is {_fmt(self.weight['gradient'])}"
        ]
        lines += [f"  {name} = {formula}" for name, formula, _ in self.weight["steps"]]
        return lines

    def __str__(self) -> str:
        width = max(len(name) for name in self.names)
        values = [_fmt_array(value) for _, value, _ in self.rows]
        value_width = min(max(len(v) for v in values), 48)
        lines = self._header()
        after_error = False
        for (name, _, how), value in zip(self.rows, values, strict=True):
            if name == "input_vector":
                lines.append("forward")
            if after_error:
                lines.append("backward: take the partial derivatives, evaluate, and multiply")
            after_error = name == "error"
            lines.append(f"  {name:<{width}}  {value:<{value_width}}  {how}".rstrip())
        lines += self._weight_lines()
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Trace of {self.model}: {len(self.rows)} values, error {_fmt(self.error)}>"

    def to_markdown(self) -> str:
        """The trace as a markdown table (name, value, how it is computed)."""
        lines = [line + "  " for line in self._header()]
        lines += ["", "| name | value | how |", "|---|---|---|"]
        for name, value, how in self.rows:
            shown = _fmt_array(value).replace("|", "\\|")
            lines.append(f"| `{name}` | {shown} | {how.replace('|', chr(92) + '|')} |")
        weight = self._weight_lines()
        if weight:
            lines += ["", weight[0], ""]
            lines += [f"- `{line.strip()}`" for line in weight[1:]]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``{"values": {name: value}, "how": {name: formula}, ...}``.

        ``values`` holds every forward value and derivative under the lesson's names,
        arrays as lists (full, unlike the terminal table); ``features``, ``columns``
        (command-line models), ``target``, ``error``, ``loss`` and ``weight`` (when one
        is followed) say the rest.
        """
        result: dict[str, Any] = {
            "model": self.model,
            "loss": self.loss,
            "error": float(self.error),
            "target": _json(self.target),
            "target_note": self.target_note,
            "features": list(self.features),
            "values": {name: _json(value) for name, value, _ in self.rows},
            "how": {name: how for name, _, how in self.rows},
        }
        if self.columns is not None:
            result["columns"] = {k: list(v) for k, v in self.columns.items()}
        if self.raw is not None:
            result["raw"] = {
                k: _json(v) if isinstance(v, (int, float, np.number)) else str(v)
                for k, v in self.raw.items()
            }
        if self.fused_note:
            result["fused"] = self.fused_note
        if self.notes:
            result["notes"] = list(self.notes)
        if self.weight is not None:
            result["weight"] = {
                "weight": self.weight["weight"],
                "joins": self.weight["joins"],
                "index": list(self.weight["index"]),
                "value": float(self.weight["value"]),
                "gradient": float(self.weight["gradient"]),
                "steps": [
                    {"name": name, "formula": formula, "value": float(value)}
                    for name, formula, value in self.weight["steps"]
                ],
            }
        json.dumps(result)  # JSON-safe by construction; fail here rather than in a caller
        return result


# ------------------------------------------------------------ the model and the example


def _resolve(model: Any, x: Any, target: Any):
    """``(network, X of shape (1, n_features), features, columns, raw, target as the loss
    takes it, target_note, model name)`` for any model explain accepts."""
    name = type(model).__name__
    if isinstance(model, Network):
        network, features, columns, raw = model, None, None, None
        X = np.asarray(x, dtype=np.float64)
        X = X.reshape(1, -1) if X.ndim <= 1 else X
        encoded_target = None if target is None else np.asarray(target)
    elif hasattr(model, "preprocessor_") and hasattr(model, "network_"):
        network = model.network_
        frame = _one_row_frame(x)
        raw = {k: frame.iloc[0][k] for k in frame.columns}
        pre = model.preprocessor_
        X = pre.transform(frame.drop(columns=[pre.target], errors="ignore"))
        features = list(pre.feature_names_)
        columns = {}
        for col in pre.columns_:
            if col["kind"] == "numeric":
                columns[col["name"]] = [col["name"]]
            elif col["kind"] == "datetime":
                columns[col["name"]] = [f"{col['name']}:{p['part']}" for p in col["parts"]]
            else:
                columns[col["name"]] = [f"{col['name']}={c}" for c in col["categories"]]
        encoded_target = None if target is None else pre.encode_target([target])
    elif hasattr(model, "network_"):
        network, columns, raw = model.network_, None, None
        X = np.asarray(x, dtype=np.float64).reshape(1, -1)
        features = [str(f) for f in getattr(model, "feature_names_in_", [])] or None
        encoded_target = None
        if target is not None:
            if hasattr(model, "classes_"):
                classes = list(np.asarray(model.classes_).ravel())
                if target not in classes:
                    raise ValueError(
                        f"target must be one of the classifier's classes {classes}; "
                        f"received target={target!r}"
                    )
                encoded_target = np.asarray([classes.index(target)])
            else:
                encoded_target = np.asarray(target, dtype=np.float64).reshape(1, -1)
    else:
        raise TypeError(
            "model must be a chainrule Network, an MLPClassifier/MLPRegressor or a "
            f"command-line model (TabularModel); received {name}"
        )
    if not getattr(network, "built", False):
        raise ValueError(f"the {name} is not trained yet: fit it before explaining it")
    if X.shape != (1, network.n_features):
        raise ValueError(
            f"x must be one example with {network.n_features} features; received "
            f"shape {np.shape(x)}. Pass one row, e.g. X[0]."
        )
    X = np.ascontiguousarray(X, dtype=network.dtype)
    if features is None:
        features = [f"x{i + 1}" for i in range(network.n_features)]
    if encoded_target is None:
        note = "none given: the model's own prediction"
    else:
        note = "given"
    return network, X, features, columns, raw, encoded_target, note, name


def _one_row_frame(x: Any):
    from chainrule.preprocessing import _pandas

    pd = _pandas()
    if isinstance(x, dict):
        return pd.DataFrame([x])
    if isinstance(x, pd.Series):
        return x.to_frame().T
    if isinstance(x, pd.DataFrame) and len(x) == 1:
        return x
    raise ValueError(
        "x for a command-line model must be one raw row: a dict {column: value} or a "
        f"one-row DataFrame; received {type(x).__name__}"
        + (f" with {len(x)} rows" if isinstance(x, pd.DataFrame) else "")
    )


def _default_target(network: Network, prediction: np.ndarray) -> tuple[np.ndarray, str]:
    """With no target: the predicted class (a classifying loss), else the prediction."""
    if network.loss.name in _CLASSIFYING_LOSSES:
        if prediction.shape[1] == 1 or network.loss.name == "multilabel_crossentropy":
            return (prediction >= 0.5).astype(network.dtype), (
                "none given: the predicted class, so the trace shows what makes the model "
                "surer of its own answer"
            )
        return np.argmax(prediction, axis=1), (
            "none given: the predicted class, so the trace shows what makes the model "
            "surer of its own answer"
        )
    return prediction.copy(), (
        "none given: the prediction itself, so the error and every gradient are 0; "
        "pass target= to see a real error flow back"
    )


# ------------------------------------------------------------ the trace


def explain(
    model: Any,
    x: Any,
    target: Any = None,
    *,
    weight: Sequence[int] | None = None,
) -> Trace:
    """Replay the chain rule for one example: every forward value and derivative, named.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
        A trained model. For the estimators their ``network_`` is traced; for a
        command-line model (:class:`chainrule.tabular.TabularModel`, what
        ``chainrule.load`` returns for ``chainrule train``'s files) the raw row goes
        through the model's stored preprocessing, and the trace names which raw column
        became which feature.
    x : array-like of shape (n_features,), dict or one-row DataFrame
        One example: numbers for a Network or an estimator, one raw row (a dict
        ``{column: value}`` or a one-row DataFrame) for a command-line model.
    target : optional
        The target whose error is backpropagated: a class label for a classifier or a
        command-line classifier, a number (numbers) for a regressor, for a Network what
        its loss takes (a class index for ``categorical_crossentropy``, 0/1 for
        ``binary_crossentropy``, values for ``mse``). None: the model's own predicted
        class for a classifying loss (the gradients then show what would make the model
        surer of its answer), or the prediction itself otherwise (the error is 0 and so
        is every gradient: pass a target to see an error flow back).
    weight : (k, i, j), optional
        Follow entry ``[i, j]`` of the k-th Dense layer's weight matrix, each counted
        from 1 as the lesson's ``layer_1``: ``trace.weight`` lists the factors whose
        product is that weight's gradient.

    Returns
    -------
    Trace

    Examples
    --------
    The lesson's neuron: ``layer_1 = np.dot(input_vector, weights) + bias``, then a
    sigmoid, and the squared error.

    >>> import numpy as np
    >>> from chainrule import Network, Dense, Sigmoid, explain
    >>> net = Network([Dense(1), Sigmoid()], loss="mse", optimizer="sgd", dtype="float64")
    >>> net = net.build(2)
    >>> net.set_weights([np.array([[1.45], [-0.66]]), np.array([0.0])])
    >>> trace = explain(net, [2, 1.5], target=0)
    >>> round(trace["derror_dbias"], 7)
    0.1957089
    """
    network, X, features, columns, raw, encoded, note, name = _resolve(model, x, target)
    layers = [copy.copy(layer) for layer in network.layers]
    params = network.params
    grads = np.zeros_like(params)
    network._bind(layers, params, grads)
    for layer in layers:
        layer.needs_input_grad = True  # the trace shows every derror_dlayer

    n = len(layers)
    out_names = [f"layer_{m + 1}" for m in range(n - 1)] + ["prediction"]
    in_names = ["input_vector", *out_names[:-1]]
    short = [name.replace("_", "") for name in out_names]  # layer_2 -> layer2 (dlayer2_...)
    short_in = ["input_vector", *short[:-1]]
    dense_index = {
        i: k for k, i in enumerate(i for i, lay in enumerate(layers) if isinstance(lay, Dense))
    }
    several = len(dense_index) > 1

    trace = Trace()
    trace.model, trace.loss, trace.features = name, network.loss.name, features
    trace.columns, trace.raw = columns, raw
    pre = getattr(model, "preprocessor_", None)
    if pre is not None and pre.task_ == "regress" and pre.target_scale_ != 1.0:
        trace.notes.append(
            f"the network works in standardised units: prediction and target are "
            f"({pre.target} - {_fmt(pre.target_mean_)}) / {_fmt(pre.target_scale_)}"
        )
    trace._add("input_vector", X, "the example" + (", after preprocessing" if columns else ""))

    # forward as predict runs it (no dropout); each copy keeps what its backward needs
    output = X
    for i, layer in enumerate(layers):
        output = layer.forward(output, False)
        trace._add(
            out_names[i], output, _forward_how(layer, in_names[i], dense_index.get(i), several)
        )
    prediction = output
    logits = layers[network._n_to_loss - 1].output if network.fused else prediction

    if encoded is None:
        encoded, note = _default_target(network, prediction)
    encoded = np.asarray(encoded)
    labels = network.loss.name == "categorical_crossentropy" and encoded.size == 1
    encoded = encoded.reshape(1) if labels else encoded.reshape(1, -1)
    try:
        target_array = network.loss.prepare_target(encoded, network.n_outputs, network.dtype)
    except ValueError as exc:
        raise ValueError(f"target: {exc}") from None
    trace.target, trace.target_note = np.asarray(target_array), note
    error, gradient = network.loss.value_and_gradient(logits, target_array, None)
    trace.error = error
    trace._add("error", error, f"{network.loss.name}(prediction, target)")

    # backward: the loss's gradient, then each layer's backward, last to first
    derror = {}  # layer index -> derror_d<that layer's output>
    if network.fused:
        last = n - 1
        derror[last - 1] = gradient
        trace.fused_note = (
            f"fused: the {network.loss.name} loss works from the logits {out_names[last - 1]}; "
            f"derror_d{short[last - 1]} = derror_dprediction * dprediction_d{short[last - 1]} "
            "comes out of the loss as one factor (prediction - target)"
        )
        trace._add(
            f"derror_d{short[last - 1]}",
            gradient,
            "derror_dprediction * dprediction_d"
            + short[last - 1]
            + " = prediction - target (fused)",
        )
        top = last - 1
    else:
        derror[n - 1] = gradient
        trace._add("derror_dprediction", gradient, _loss_derivative(network))
        top = n - 1
    for i in range(top, network._first_trainable - 1, -1):
        layer, g = layers[i], derror[i]
        if isinstance(layer, Dense):
            k = dense_index[i]
            w_name = "derror_dweights" + (f"_{k + 1}" if several else "")
            b_name = "derror_dbias" + (f"_{k + 1}" if several else "")
            d_out = f"derror_d{short[i]}"
            upstream = layer.backward(g)
            if layer.use_bias:
                trace._add(f"d{short[i]}_dbias", 1.0, "1: the bias is added as it is")
                trace._add(b_name, layer.derror_dbias, f"{d_out} * d{short[i]}_dbias")
            trace._add(
                f"d{short[i]}_dweights", layer.input, f"{in_names[i]}, what the weights multiply"
            )
            trace._add(
                w_name,
                _lesson_shape(layer.derror_dweights),
                (
                    f"{d_out} * d{short[i]}_dweights"
                    if layer.units == 1
                    else f"outer(d{short[i]}_dweights, {d_out}): [i, j] = input i * unit j"
                ),
            )
            if i > 0:
                derror[i - 1] = upstream
                trace._add(
                    f"d{short[i]}_d{short_in[i]}",
                    layer.weights,
                    "weights" + (f"_{k + 1}" if several else "") + ", what multiplies it",
                )
                trace._add(
                    f"derror_d{short_in[i]}", upstream, f"{d_out} @ d{short[i]}_d{short_in[i]}.T"
                )
        elif i > 0 or layer.param_shapes():
            local = _local_derivative(layer)
            upstream = layer.backward(g)
            derror[i - 1] = upstream
            d_name = f"d{short[i]}_d{short_in[i]}"
            if local is not None:
                trace._add(d_name, local, f"{_layer_name(layer)}'({in_names[i]})")
                how = f"derror_d{short[i]} * {d_name}"
            else:
                how = f"derror_d{short[i]} through {_layer_name(layer)}'s backward"
            trace._add(f"derror_d{short_in[i]}", upstream, how)
    if weight is not None:
        trace.weight = _follow(trace, network, layers, derror, short, dense_index, weight)
    return trace


def _loss_derivative(network: Network) -> str:
    """How the loss's derivative reads (the loss computes it; this only names it)."""
    name, k = network.loss.name, network.n_outputs
    if name == "mse":
        return "2 * (prediction - target)" + (f" / {k}" if k > 1 else "")
    if name == "half_squared_error":
        return "prediction - target"
    return f"d {name} / d prediction"


def _lesson_shape(matrix: np.ndarray) -> np.ndarray:
    """A one-unit layer's weight gradient as the lesson's vector (n_inputs,)."""
    return matrix[:, 0] if matrix.shape[1] == 1 else matrix


def _layer_name(layer) -> str:
    return type(layer).__name__


def _forward_how(layer, input_name: str, k: int | None, several: bool) -> str:
    if isinstance(layer, Dense):
        suffix = f"_{k + 1}" if several else ""
        bias = f" + bias{suffix}" if layer.use_bias else ""
        return f"np.dot({input_name}, weights{suffix}){bias}"
    return f"{_layer_name(layer)}({input_name})"


def _local_derivative(layer) -> np.ndarray | None:
    """An element-wise activation's derivative at each unit: its backward of ones.
    None for layers that mix their units (softmax) or are not activations."""
    if not isinstance(layer, Activation) or isinstance(layer, Softmax):
        return None
    return layer.backward(np.ones_like(layer.output))


def _follow(trace, network, layers, derror, short, dense_index, weight) -> dict[str, Any]:
    """The factors whose product is the gradient of weights_k[i, j]."""
    try:
        k, i, j = (int(v) for v in weight)
        if len(tuple(weight)) != 3:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(
            f"weight must be (k, i, j): entry [i, j] of the k-th Dense layer's weights, "
            f"each counted from 1; received weight={weight!r}"
        ) from None
    positions = sorted(dense_index, key=dense_index.get)
    if not 1 <= k <= len(positions):
        raise ValueError(
            f"weight=(k, i, j): k must be between 1 and {len(positions)} (the Dense "
            f"layers); received k={k}"
        )
    at = positions[k - 1]
    dense = layers[at]
    rows, cols = dense.weights.shape
    if not (1 <= i <= rows and 1 <= j <= cols):
        raise ValueError(
            f"weight=(k, i, j): Dense layer {k}'s weights are {rows}x{cols}, so i must be in "
            f"1..{rows} and j in 1..{cols}; received i={i}, j={j}"
        )
    several = len(positions) > 1
    label = f"weights{'_' + str(k) if several else ''}[{i}, {j}]"
    steps: list[tuple[str, str, float]] = []
    r, c = i - 1, j - 1

    # From this Dense layer's output (unit j) up towards the error: each element-wise
    # activation multiplies one factor; where a Dense layer (or softmax) comes next,
    # derror_d<its input>[j] is a sum over the paths through its units.
    top = len(layers) - 2 if network.fused else len(layers) - 1  # the loss's gradient
    s, factors = at, []
    while s < top and _local_derivative(layers[s + 1]) is not None:
        s += 1
        factors.append(
            (f"d{short[s]}_d{short[s - 1]}", float(_local_derivative(layers[s]).ravel()[c]))
        )
    vector = np.asarray(derror[s]).size > 1
    at_j = f"[{j}]" if vector else ""
    stop = "derror_dprediction" if s == len(layers) - 1 else f"derror_d{short[s]}"
    stop_value = float(np.asarray(derror[s]).ravel()[c])
    if s < top:
        above = layers[s + 1]
        if isinstance(above, Dense):
            g_above = np.asarray(derror[s + 1]).ravel()
            terms = " + ".join(
                f"{_fmt(g)} * {_fmt(w)}" for g, w in zip(g_above, above.weights[c], strict=True)
            )
            formula = (
                f"sum over l of derror_d{short[s + 1]}[l] * d{short[s + 1]}_d{short[s]}[{j}, l]"
                f" = {terms} = {_fmt(stop_value)}"
            )
        else:
            formula = f"through {_layer_name(above)}'s backward = {_fmt(stop_value)}"
        steps.append((f"{stop}{at_j}", formula, stop_value))
    names = [f"{stop}{at_j}"] + [f"{name}{at_j}" for name, _ in factors]
    values = [stop_value] + [value for _, value in factors]
    names.append(f"d{short[at]}_dweights[{i}]")
    values.append(float(np.asarray(dense.input).ravel()[r]))
    gradient = float(dense.derror_dweights[r, c])
    product = " * ".join(names) + " = " + " * ".join(_fmt(v) for v in values)
    steps.append((f"derror_d{label}", f"{product} = {_fmt(gradient)}", gradient))

    def lesson(name: str) -> str:  # layer2 -> layer_2
        return name.replace("layer", "layer_")

    source = trace.features[r] if at == positions[0] else f"unit {i} of {lesson(short[at - 1])}"
    return {
        "joins": f"{source} to unit {j} of {lesson(short[at])}",
        "weight": label,
        "index": (k, i, j),
        "value": float(dense.weights[r, c]),
        "gradient": gradient,
        "steps": steps,
    }
