"""ONNX export: a fitted model as an ONNX graph that runs without Python.

:func:`to_onnx` writes the same computation ``predict`` does, one ONNX node per
formula, for the three kinds of model:

- a :class:`~chainrule.Network`: input ``X`` ``(n, n_features)`` in the network's
  dtype, output ``output``, the network's output (what ``predict`` returns);
- ``MLPClassifier`` / ``MLPRegressor``: input ``X``; a classifier gives ``label``
  ``(n,)`` (``(n, n_classes)`` of 0/1 for multilabel) and ``probabilities``
  ``(n, n_classes)``, as skl2onnx's classifiers do; a regressor gives ``variable``
  ``(n, n_outputs)``;
- a command-line model (:class:`~chainrule.tabular.TabularModel`): one input per raw
  column, named as the column, shape ``(n, 1)``, float64 for numbers (float32 with
  ``number_dtype="float32"``) and string for text. The stored preprocessing is part of
  the graph: missing numbers (NaN) and missing text (``""`` or ``"nan"``) filled when
  the model was trained with ``--impute``, ``(value - mean) / scale``, one-hot over the
  categories seen in training (an unseen category is all zeros, as in ``predict``).
  A date column (kind ``"datetime"``) is float64 seconds since 1970-01-01, NaN when
  missing. Without ``--impute`` a missing number makes its row's outputs NaN, where
  ``predict`` refuses the row. Outputs: ``label`` (the classes' own values, strings as
  strings) and ``probabilities``, or ``variable`` in the target's own units.

Each layer and each preprocessing step is one small function in a table
(:data:`LAYER_CONVERTERS`, :data:`COLUMN_CONVERTERS`); anything not in a table is
refused with "cannot export ... yet". :func:`register_skl2onnx` lets skl2onnx convert
scikit-learn pipelines that end in chainrule's estimators.

The exporter needs the ``onnx`` package, imported only here, when called (the ``onnx``
extra: ``pip install "chainrule[onnx]"``, which also brings onnxruntime to run the
result and skl2onnx).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._version import __version__
from chainrule.io import _atomic_write
from chainrule.layers import (
    GELU,
    Dense,
    Dropout,
    Exp,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.network import Network
from chainrule.tabular import TabularModel

if TYPE_CHECKING:  # pragma: no cover
    import onnx

__all__ = [
    "COLUMN_CONVERTERS",
    "LAYER_CONVERTERS",
    "OPSET",
    "register_skl2onnx",
    "to_onnx",
]

#: the ONNX operator sets the graphs use (ai.onnx 17 and ai.onnx.ml 3 run on
#: onnxruntime 1.12 and later)
OPSET = {"": 17, "ai.onnx.ml": 3}
#: the file format version that goes with opset 17
_IR_VERSION = 8
#: text that stands for a missing value in a string input: what pandas' ``astype(str)``
#: and ``str(float("nan"))`` make of one, and an empty cell
MISSING_TEXT = ("", "nan")


def _onnx():
    """The ``onnx`` package, or an ImportError saying how to install it."""
    try:
        import onnx
        from onnx import numpy_helper  # noqa: F401
    except ImportError:
        raise ImportError(
            'ONNX export needs the onnx package; install it with pip install "chainrule[onnx]"'
        ) from None
    return onnx


# ---------------------------------------------------------------- the graph being built


class _Graph:
    """Nodes and constants being built; every name made here is unique.

    ``op`` adds one node and returns its output's name; ``const`` adds a constant. The
    standalone exporter collects ONNX protos (this class); the skl2onnx converter
    hands the same calls to skl2onnx's container (:class:`_Skl2onnxGraph`).
    """

    def __init__(self, reserved: set[str]) -> None:
        self.used = set(reserved)
        self.counts: dict[str, int] = {}
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def name(self, hint: str) -> str:
        """A fresh name starting with ``hint``: ``hint``, ``hint_1``, ``hint_2``, ..."""
        name = hint
        while name in self.used:
            self.counts[hint] = self.counts.get(hint, 0) + 1
            name = f"{hint}_{self.counts[hint]}"
        self.used.add(name)
        return name

    def const(self, value: Any, hint: str) -> str:
        """A constant tensor (NumPy array; text as str arrays); returns its name."""
        name = self.name(hint)
        self._add_constant(name, np.asarray(value))
        return name

    def op(
        self,
        op_type: str,
        inputs: list[str],
        hint: str | None = None,
        *,
        out: str | None = None,
        domain: str = "",
        **attrs: Any,
    ) -> str:
        """Add one node ``op_type(inputs)``; returns the name of its output (``out``)."""
        out = out if out is not None else self.name(hint or op_type.lower())
        self._add_node(op_type, inputs, out, domain, attrs)
        return out

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        self.initializers.append(_tensor(name, value))

    def _add_node(self, op_type, inputs, out, domain, attrs) -> None:
        onnx = _onnx()
        self.nodes.append(
            onnx.helper.make_node(
                op_type, inputs, [out], name=self.name(f"{op_type}_node"), domain=domain, **attrs
            )
        )


def _tensor(name: str, value: np.ndarray):
    onnx = _onnx()
    if value.dtype.kind in "USO":  # text: ONNX strings are bytes
        data = [str(v).encode("utf-8") for v in value.ravel()]
        return onnx.helper.make_tensor(name, onnx.TensorProto.STRING, value.shape, data)
    return onnx.numpy_helper.from_array(value, name)


def _elem_type(dtype: np.dtype) -> int:
    onnx = _onnx()
    if np.dtype(dtype).kind in "USO":
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _cast(g: _Graph, x: str, dtype: np.dtype, hint: str = "cast") -> str:
    return g.op("Cast", [x], hint, to=_elem_type(dtype))


# ---------------------------------------------------------------- layers


def _dense(g: _Graph, layer: Dense, x: str) -> str:
    """``y = x @ W + b``."""
    y = g.op("MatMul", [x, g.const(np.array(layer.weights), "W")], "layer")
    if layer.use_bias:
        y = g.op("Add", [y, g.const(np.array(layer.bias), "b")], "layer")
    return y


def _identity(g: _Graph, layer: Layer, x: str) -> str:
    """``y = x`` (Identity, and Dropout at prediction time): no node."""
    return x


def _leaky_relu(g: _Graph, layer: LeakyReLU, x: str) -> str:
    """``y = x`` where ``x > 0``, else ``negative_slope * x``, as chainrule writes it."""
    dtype = layer.dtype
    scaled = g.op("Mul", [x, g.const(np.array(layer.negative_slope, dtype), "slope")])
    positive = g.op("Greater", [x, g.const(np.array(0, dtype), "zero")])
    return g.op("Where", [positive, x, scaled], "leaky_relu")


def _gelu(g: _Graph, layer: GELU, x: str) -> str:
    """``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (the tanh approximation)."""

    def c(value: float, hint: str) -> str:
        return g.const(np.array(value, layer.dtype), hint)

    cube = g.op("Mul", [g.op("Mul", [x, x]), x], "cube")
    inner = g.op("Add", [x, g.op("Mul", [cube, c(0.044715, "k")])])
    t = g.op("Tanh", [g.op("Mul", [inner, c(np.sqrt(2.0 / np.pi), "sqrt_2_over_pi")])])
    half_x = g.op("Mul", [x, c(0.5, "half")])
    return g.op("Mul", [half_x, g.op("Add", [t, c(1.0, "one")])], "gelu")


def _elementwise(op_type: str, **attrs: Any) -> Callable[[_Graph, Layer, str], str]:
    def convert(g: _Graph, layer: Layer, x: str) -> str:
        return g.op(op_type, [x], op_type.lower(), **attrs)

    convert.__doc__ = f"The ONNX operator {op_type}."
    return convert


#: one function per layer class: ``convert(graph, layer, input_name) -> output_name``
LAYER_CONVERTERS: dict[type[Layer], Callable[[_Graph, Any, str], str]] = {
    Dense: _dense,
    Identity: _identity,
    Dropout: _identity,
    ReLU: _elementwise("Relu"),
    LeakyReLU: _leaky_relu,
    Sigmoid: _elementwise("Sigmoid"),
    Tanh: _elementwise("Tanh"),
    GELU: _gelu,
    Softmax: _elementwise("Softmax", axis=1),
    Exp: _elementwise("Exp"),
}


def _network(g: _Graph, net: Network, x: str) -> str:
    """The network's layers, first to last, from the input ``x``."""
    for i, layer in enumerate(net.layers):
        convert = LAYER_CONVERTERS.get(type(layer))
        if convert is None:
            known = ", ".join(cls.__name__ for cls in LAYER_CONVERTERS)
            raise ValueError(
                f"cannot export layer {i} ({type(layer).__name__}) to ONNX yet; the layers "
                f"chainrule exports are {known}"
            )
        x = convert(g, layer, x)
    return x


# ---------------------------------------------------------------- columns (TabularModel)


def _numeric_column(g: _Graph, column: dict[str, Any], x: str, impute: bool) -> str:
    """``(value - mean) / scale`` in float64, a missing value (NaN) filled first when the
    model imputes (else it stays NaN, where ``predict`` refuses the row)."""
    x = _cast(g, x, np.float64, "number")
    if impute:
        fill = g.const(np.array(column["fill"], np.float64), "fill")
        x = g.op("Where", [g.op("IsNaN", [x], "missing"), fill, x], "filled")
    centred = g.op("Sub", [x, g.const(np.array(column["mean"], np.float64), "mean")])
    return g.op("Div", [centred, g.const(np.array(column["scale"], np.float64), "scale")])


def _category_column(g: _Graph, column: dict[str, Any], x: str, impute: bool) -> str:
    """One-hot over the training categories, float64 ``(n, k)``: an unseen value is all
    zeros; a missing one (``""`` or ``"nan"``) is the most frequent category when the
    model imputes."""
    categories = list(column["categories"])
    k = len(categories)
    to_rows = g.const(np.array([-1, k], np.int64), "shape")

    def one_hot(cats: list[str], hint: str) -> str:
        # ai.onnx.ml OneHotEncoder: (n, 1) -> (n, 1, len(cats)), zeros=1: unseen -> 0
        encoded = g.op("OneHotEncoder", [x], hint, domain="ai.onnx.ml", cats_strings=cats, zeros=1)
        shape = to_rows if len(cats) == k else g.const(np.array([-1, len(cats)], np.int64), "shape")
        return g.op("Reshape", [encoded, shape], hint)

    encoded = one_hot(categories, "one_hot")
    missing = [m for m in MISSING_TEXT if m not in categories]
    if impute and missing:
        # each missing spelling's row of this matrix is the fill's one-hot row
        fill_rows = np.zeros((len(missing), k), np.float32)
        fill_rows[:, categories.index(column["fill"])] = 1.0
        filled = g.op("MatMul", [one_hot(missing, "missing"), g.const(fill_rows, "fill")])
        encoded = g.op("Add", [encoded, filled], "one_hot")
    return _cast(g, encoded, np.float64, "one_hot")


def _datetime_column(g: _Graph, column: dict[str, Any], x: str, impute: bool) -> str:
    """The stored date parts (year, month and weekday on circles, day, hour of day), each
    ``(part - mean) / scale``, from the date as float64 seconds since 1970-01-01 (UTC, or
    the naive time read as UTC: ``dates.astype("datetime64[s]").astype("int64")``); a
    missing date (NaN) gives each part its mean, as ``transform`` does."""

    def c(value: float) -> str:
        return g.const(np.array(value, np.float64), "k")

    def add(a: str, b: str) -> str:
        return g.op("Add", [a, b])

    def sub(a: str, b: str) -> str:
        return g.op("Sub", [a, b])

    def mul(a: str, k: float) -> str:
        return g.op("Mul", [a, c(k)])

    def floordiv(a: str, k: float) -> str:
        # exact for whole numbers below 2**53
        return g.op("Floor", [g.op("Div", [a, c(k)])])

    def angle(turns: str) -> dict[str, str]:
        radians = mul(turns, 2 * np.pi)
        return {"sin": g.op("Sin", [radians]), "cos": g.op("Cos", [radians])}

    t = _cast(g, x, np.float64, "seconds")
    days = floordiv(t, 86400.0)
    seconds = sub(t, mul(days, 86400.0))
    # civil_from_days (H. Hinnant, "chrono-compatible low-level date algorithms")
    z = add(days, c(719468.0))
    era = floordiv(z, 146097.0)
    doe = sub(z, mul(era, 146097.0))
    yoe = floordiv(
        sub(add(sub(doe, floordiv(doe, 1460.0)), floordiv(doe, 36524.0)), floordiv(doe, 146096.0)),
        365.0,
    )
    doy = sub(doe, sub(add(mul(yoe, 365.0), floordiv(yoe, 4.0)), floordiv(yoe, 100.0)))
    mp = floordiv(add(mul(doy, 5.0), c(2.0)), 153.0)
    day = add(sub(doy, floordiv(add(mul(mp, 153.0), c(2.0)), 5.0)), c(1.0))
    late = _cast(g, g.op("GreaterOrEqual", [mp, c(10.0)]), np.float64)
    month = sub(add(mp, c(3.0)), mul(late, 12.0))
    early = _cast(g, g.op("LessOrEqual", [month, c(2.0)]), np.float64)
    year = add(add(yoe, mul(era, 400.0)), early)
    shifted = add(days, c(3.0))  # 1970-01-01 was a Thursday; Monday is 0
    weekday = sub(shifted, mul(floordiv(shifted, 7.0), 7.0))
    month_angle = angle(mul(sub(month, c(1.0)), 1 / 12))
    weekday_angle = angle(mul(weekday, 1 / 7))
    hour_angle = angle(mul(seconds, 1 / 86400))
    parts = {"year": year, "day": day}
    for base, turns in (("month", month_angle), ("weekday", weekday_angle), ("hour", hour_angle)):
        parts.update({f"{base}_{f}": v for f, v in turns.items()})
    blocks = []
    for part in column["parts"]:
        if part["part"] not in parts:
            raise ValueError(
                f"cannot export column {column['name']!r} to ONNX yet: its date part "
                f"{part['part']!r} is not one the exporter computes ({sorted(parts)})"
            )
        value = parts[part["part"]]
        mean = c(part["mean"])
        value = g.op("Where", [g.op("IsNaN", [value]), mean, value])
        blocks.append(g.op("Div", [sub(value, mean), c(part["scale"])], part["part"]))
    return g.op("Concat", blocks, "date_parts", axis=1) if len(blocks) > 1 else blocks[0]


#: one function per kind of stored column: ``convert(graph, column, input, impute)``
#: gives that column's features (float64, ``(n, width)``)
COLUMN_CONVERTERS: dict[str, Callable[[_Graph, dict[str, Any], str, bool], str]] = {
    "numeric": _numeric_column,
    "category": _category_column,
    "datetime": _datetime_column,
}
#: the input type of a column kind other than numbers (``number_dtype``)
_INPUT_DTYPES = {"category": np.dtype(object), "datetime": np.dtype(np.float64)}


# ---------------------------------------------------------------- outputs


def _label_array(classes: Any) -> np.ndarray:
    """The class labels as an ONNX-able array: int64, float64, bool or text."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64)
    if classes.dtype.kind in "fb":
        return classes
    return classes.astype(str)


def _label_of_argmax(g: _Graph, proba: str, classes: Any, out: str) -> str:
    """``classes[argmax(proba, axis=1)]`` (the first of equal maxima, as NumPy)."""
    index = g.op("ArgMax", [proba], "class_index", axis=1, keepdims=0)
    return g.op("Gather", [g.const(_label_array(classes), "classes"), index], out=out)


def _binary_outputs(g: _Graph, p: str, classes: Any, dtype: np.dtype, label: str, proba: str):
    """One sigmoid output ``p``: probabilities ``[1 - p, p]``; label ``classes[p > 0.5]``."""
    one_minus = g.op("Sub", [g.const(np.array(1, dtype), "one"), p])
    g.op("Concat", [one_minus, p], out=proba, axis=1)
    positive = _cast(g, g.op("Greater", [p, g.const(np.array(0.5, dtype), "half")]), np.int64)
    index = g.op("Reshape", [positive, g.const(np.array([-1], np.int64), "flat")], "class_index")
    g.op("Gather", [g.const(_label_array(classes), "classes"), index], out=label)


def _multilabel_outputs(g: _Graph, p: str, dtype: np.dtype, label: str, proba: str):
    """Independent sigmoids: label ``p > 0.5`` as 0/1 int64, probabilities ``p``."""
    g.op("Identity", [p], out=proba)
    positive = g.op("Greater", [p, g.const(np.array(0.5, dtype), "half")])
    g.op("Cast", [positive], out=label, to=_elem_type(np.int64))


# ---------------------------------------------------------------- the three kinds of model


def _estimator_kind(model: Any) -> str | None:
    """``"classifier"`` / ``"regressor"`` for chainrule's estimators, else None.

    An estimator exists only once :mod:`chainrule.estimators` was imported, so this
    looks there without importing scikit-learn for the other models.
    """
    estimators = sys.modules.get("chainrule.estimators")
    if estimators is None:
        return None
    if isinstance(model, estimators.MLPClassifier):
        return "classifier"
    if isinstance(model, estimators.MLPRegressor):
        return "regressor"
    return None


def _fitted_network(model: Any, what: str) -> Network:
    net = getattr(model, "network_", None) if not isinstance(model, Network) else model
    if net is None or not net.built:
        raise ValueError(f"this {what} is not fitted yet: call fit() before exporting it")
    return net


def _estimator_outputs(g: _Graph, model: Any, kind: str, x: str, outputs: list[str]) -> None:
    """An estimator's graph from input ``x`` to ``outputs`` (label, probabilities) or
    (variable,)."""
    model._sync_network()  # coefs_ assigned by hand reach the network first
    net = model.network_
    out = _network(g, net, x)
    if kind == "regressor":
        g.op("Identity", [out], out=outputs[0])
        return
    label, proba = outputs
    y_type = model._label_binarizer.y_type_
    if y_type == "multilabel-indicator":
        _multilabel_outputs(g, out, net.dtype, label, proba)
    elif y_type == "binary" and net.n_outputs == 1:
        _binary_outputs(g, out, model.classes_, net.dtype, label, proba)
    elif y_type == "multiclass":
        g.op("Identity", [out], out=proba)
        _label_of_argmax(g, proba, model.classes_, label)
    else:
        raise ValueError(f"cannot export a classifier of targets of type {y_type!r} yet")


def _tabular_graph(g: _Graph, model: TabularModel, outputs: list[str]) -> None:
    """The preprocessing (from one input per column, named as the column), the network
    and the decoding of a command-line model."""
    pre = model.preprocessor_
    blocks = []
    for column in pre.columns_:
        convert = COLUMN_CONVERTERS.get(column["kind"])
        if convert is None:
            raise ValueError(
                f"cannot export column {column['name']!r} to ONNX yet: chainrule does not "
                f"know how to write its {column['kind']!r} preprocessing as ONNX; the kinds "
                f"it exports are {sorted(COLUMN_CONVERTERS)}"
            )
        blocks.append(convert(g, column, column["name"], bool(pre.impute)))
    features = g.op("Concat", blocks, "features", axis=1) if len(blocks) > 1 else blocks[0]
    net = model.network_
    out = _network(g, net, _cast(g, features, net.dtype, "features"))
    if model.task_ == "classify":
        label, proba = outputs
        g.op("Identity", [out], out=proba)
        _label_of_argmax(g, proba, np.asarray(pre.classes_), label)
    else:
        # decode_target: float64 ``encoded * scale + mean``
        scaled = g.op(
            "Mul",
            [_cast(g, out, np.float64), g.const(np.float64(pre.target_scale_), "target_scale")],
        )
        g.op("Add", [scaled, g.const(np.float64(pre.target_mean_), "target_mean")], out=outputs[0])


def _value_info(name: str, dtype: np.dtype, shape: list[Any]):
    onnx = _onnx()
    return onnx.helper.make_tensor_value_info(name, _elem_type(dtype), shape)


def _check_number_dtype(number_dtype: Any) -> np.dtype:
    if not isinstance(number_dtype, str) or number_dtype not in ("float32", "float64"):
        raise ValueError(
            "number_dtype must be 'float64' (chainrule's own precision) or 'float32'; "
            f"received number_dtype={number_dtype!r}"
        )
    return np.dtype(number_dtype)


def to_onnx(
    model: Any,
    path: str | os.PathLike | None = None,
    *,
    number_dtype: str = "float64",
    name: str | None = None,
) -> onnx.ModelProto:
    """The model's predictions as an ONNX graph; written to ``path`` when given.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or TabularModel
        A fitted model (``chainrule.load`` gives back any of them from a model file).
    path : str or path-like, optional
        Where to write the ``.onnx`` file (atomically: a temporary file next to it,
        then renamed). The folder must exist.
    number_dtype : {"float64", "float32"}, default="float64"
        TabularModel only: the type of the numeric columns' inputs. float64 computes the
        scaling exactly as ``predict`` does; float32 rounds each raw value first.
    name : str, optional
        The graph's name (default: the model's class name).

    Returns
    -------
    onnx.ModelProto
        Opset :data:`OPSET`. Inputs and outputs:

        - Network: ``X`` ``(n, n_features)`` -> ``output`` ``(n, n_outputs)``, in the
          network's dtype;
        - MLPClassifier: ``X`` -> ``label`` ``(n,)`` (``(n, n_classes)`` int64 0/1 when
          multilabel) and ``probabilities`` ``(n, n_classes)``; MLPRegressor: ``X`` ->
          ``variable`` ``(n, n_outputs)``. ``X`` has the network's dtype;
        - TabularModel: one input per column, named as the column, ``(n, 1)``, numbers
          ``number_dtype`` (NaN when missing) and text as strings (``""`` when
          missing) -> ``label`` ``(n,)`` and ``probabilities`` ``(n, n_classes)``, or
          ``variable`` ``(n, 1)`` float64 in the target's units.

    Raises
    ------
    ImportError
        Without the ``onnx`` package (``pip install "chainrule[onnx]"``).
    TypeError
        For a model of another type.
    ValueError
        For a model not fitted, or with a layer or a preprocessing step the exporter
        does not know ("cannot export ... yet").

    Examples
    --------
    >>> import onnxruntime as ort                                   # doctest: +SKIP
    >>> to_onnx(model, "model.onnx")                                # doctest: +SKIP
    >>> session = ort.InferenceSession("model.onnx")                # doctest: +SKIP
    >>> label, probabilities = session.run(None, {"X": X.astype("float32")})  # doctest: +SKIP
    """
    onnx = _onnx()
    number_dtype = _check_number_dtype(number_dtype)
    kind = _estimator_kind(model)
    if isinstance(model, TabularModel):
        inputs, outputs, build = _tabular_signature(model, number_dtype)
    elif kind is not None:
        inputs, outputs, build = _estimator_signature(model, kind)
    elif isinstance(model, Network):
        inputs, outputs, build = _network_signature(model)
    else:
        raise TypeError(
            "model must be a fitted chainrule Network, MLPClassifier, MLPRegressor or "
            f"TabularModel (a model file from chainrule train); received {type(model).__name__}"
        )
    reserved = {v.name for v in inputs} | {v.name for v in outputs}
    g = _Graph(reserved)
    build(g)
    graph_name = name or type(model).__name__
    graph = onnx.helper.make_graph(g.nodes, graph_name, inputs, outputs, g.initializers)
    proto = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in OPSET.items()],
        producer_name="chainrule",
        producer_version=__version__,
        ir_version=_IR_VERSION,
    )
    onnx.checker.check_model(proto)
    if path is not None:
        _write(proto, path)
    return proto


# Each ``_*_signature`` gives the graph's inputs, its outputs and the function that
# builds the nodes between them.


def _network_signature(net: Network):
    net = _fitted_network(net, "Network")
    inputs = [_value_info("X", net.dtype, [None, net.n_features])]
    outputs = [_value_info("output", net.dtype, [None, net.n_outputs])]

    def build(g: _Graph) -> None:
        g.op("Identity", [_network(g, net, "X")], out="output")

    return inputs, outputs, build


def _estimator_signature(model: Any, kind: str):
    net = _fitted_network(model, type(model).__name__)
    x = [_value_info("X", net.dtype, [None, net.n_features])]
    if kind == "regressor":
        outputs = [_value_info("variable", net.dtype, [None, net.n_outputs])]
        names = ["variable"]
    else:
        if model._label_binarizer.y_type_ == "multilabel-indicator":
            label = _value_info("label", np.int64, [None, net.n_outputs])
        else:
            label = _value_info("label", _label_array(model.classes_).dtype, [None])
        n_classes = max(net.n_outputs, 2)
        outputs = [label, _value_info("probabilities", net.dtype, [None, n_classes])]
        names = ["label", "probabilities"]
    return x, outputs, lambda g: _estimator_outputs(g, model, kind, "X", names)


def _tabular_signature(model: TabularModel, number_dtype: np.dtype):
    if not hasattr(model, "network_"):
        raise ValueError("this TabularModel is not fitted yet: call fit() before exporting it")
    pre = model.preprocessor_
    if model.task_ == "classify":
        outputs = [
            _value_info("label", _label_array(pre.classes_).dtype, [None]),
            _value_info("probabilities", model.network_.dtype, [None, len(pre.classes_)]),
        ]
    else:
        outputs = [_value_info("variable", np.float64, [None, 1])]
    names = [v.name for v in outputs]
    for column in pre.columns_:
        if column["name"] in names:
            raise ValueError(
                f"cannot export this model to ONNX: its input column {column['name']!r} has "
                f"the name of an output ({', '.join(names)}); train it with that column "
                "renamed"
            )
    inputs = [
        _value_info(c["name"], _INPUT_DTYPES.get(c["kind"], number_dtype), [None, 1])
        for c in pre.columns_
    ]
    return inputs, outputs, lambda g: _tabular_graph(g, model, names)


def _write(proto: onnx.ModelProto, path: str | os.PathLike) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name; received {type(path).__name__} {path!r}")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {str(target)!r}: it is a folder")
    data = proto.SerializeToString()
    _atomic_write(target, lambda f: f.write(data))


# ---------------------------------------------------------------- skl2onnx


def register_skl2onnx() -> None:
    """Teach skl2onnx to convert chainrule's ``MLPClassifier`` and ``MLPRegressor``.

    After this call, ``skl2onnx.to_onnx(pipeline, X[:1])`` converts a scikit-learn
    ``Pipeline`` (or any composition skl2onnx knows) that holds chainrule's
    estimators, with skl2onnx's usual outputs (``label`` and ``probabilities``,
    ZipMap'd unless ``options={"zipmap": False}``; ``variable`` for regressors).
    Calling it again does nothing more.

    Examples
    --------
    >>> from chainrule.onnx_export import register_skl2onnx       # doctest: +SKIP
    >>> register_skl2onnx()                                        # doctest: +SKIP
    >>> onx = skl2onnx.to_onnx(pipe, X[:1].astype("float32"),
    ...                        options={"zipmap": False})          # doctest: +SKIP
    """
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes
    except ImportError:
        raise ImportError(
            'converting pipelines needs skl2onnx; install it with pip install "chainrule[onnx]"'
        ) from None
    from chainrule.estimators import MLPClassifier, MLPRegressor

    update_registered_converter(
        MLPClassifier,
        "ChainruleMLPClassifier",
        _classifier_shapes,
        _convert_skl2onnx,
        options={"zipmap": [True, False, "columns"], "nocl": [False]},
    )
    update_registered_converter(
        MLPRegressor,
        "ChainruleMLPRegressor",
        calculate_linear_regressor_output_shapes,
        _convert_skl2onnx,
    )


def _classifier_shapes(operator: Any) -> None:
    """skl2onnx's shapes for a classifier; a multilabel one's label is ``(n, n_classes)``."""
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)
    model = operator.raw_operator
    if model._label_binarizer.y_type_ == "multilabel-indicator":
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n, len(model.classes_)])


class _Skl2onnxGraph(_Graph):
    """The graph calls, made in skl2onnx's scope (names) and container (nodes)."""

    def __init__(self, scope: Any, container: Any) -> None:
        super().__init__(set())
        self.scope, self.container = scope, container

    def name(self, hint: str) -> str:
        return self.scope.get_unique_variable_name(hint)

    def _add_constant(self, name: str, value: np.ndarray) -> None:
        tensor = _tensor(name, value)
        if value.dtype.kind in "USO":
            content = [str(v).encode("utf-8") for v in value.ravel()]
        else:
            content = tensor
        self.container.add_initializer(name, tensor.data_type, list(value.shape), content)

    def _add_node(self, op_type, inputs, out, domain, attrs) -> None:
        version = self.container.target_opset if domain == "" else OPSET[domain]
        self.container.add_node(
            op_type,
            inputs,
            [out],
            op_domain=domain,
            op_version=version,
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )


def _skl2onnx_dtype(variable: Any) -> np.dtype:
    from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType, StringTensorType

    if isinstance(variable.type, DoubleTensorType):
        return np.dtype(np.float64)
    if isinstance(variable.type, Int64TensorType):
        return np.dtype(np.int64)
    if isinstance(variable.type, StringTensorType):
        return np.dtype(object)
    return np.dtype(np.float32)


def _convert_skl2onnx(scope: Any, operator: Any, container: Any) -> None:
    """skl2onnx's converter for chainrule's estimators: the graph :func:`to_onnx` makes,
    with casts where skl2onnx's variables have another type than the network."""
    model = operator.raw_operator
    kind = _estimator_kind(model)
    g = _Skl2onnxGraph(scope, container)
    net = _fitted_network(model, type(model).__name__)
    x = operator.inputs[0].full_name
    if _skl2onnx_dtype(operator.inputs[0]) != net.dtype:
        x = _cast(g, x, net.dtype, "X")
    names = [g.name(f"{v.onnx_name}_chainrule") for v in operator.outputs]
    _estimator_outputs(g, model, kind, x, names)
    for i, (name, variable) in enumerate(zip(names, operator.outputs, strict=True)):
        dtype = _skl2onnx_dtype(variable)
        if kind == "classifier" and i == 0:  # the label: int64 for numbers, else strings
            made = np.dtype(np.int64)
            if model._label_binarizer.y_type_ != "multilabel-indicator":
                made = _label_array(model.classes_).dtype
            same = made == dtype or (made.kind in "USO" and dtype.kind in "USO")
        else:
            same = dtype == net.dtype
        if same:
            g.op("Identity", [name], out=variable.full_name)
        else:
            g.op("Cast", [name], out=variable.full_name, to=_elem_type(dtype))
