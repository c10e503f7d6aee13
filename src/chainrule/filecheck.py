"""What a model file may hold, per kind of model: the header checked against its
architecture before anything is allocated, then every array after reading.

:func:`check_header` walks the architecture (layer shapes only, nothing allocated)
to learn the parameter count and the number of outputs, and checks every field the
loader reads against them: the top-level keys a kind may have (:data:`HEADER_KEYS`),
the arrays it may hold (:data:`ARRAYS`, each with the shape and dtype its role
implies), the history's types and ranges. It returns what each array must be, so the
loader refuses an unexpected member or shape before inflating a byte of it.
:func:`check_arrays` checks the values once read: finite weights, unique classes.

What belongs to one kind (an estimator's parameters, a tabular model's preprocessing)
is checked by that kind's ``_from_model_state``; everything here is shared. Every
problem is a ``ValueError`` whose text the loader puts after the file's name.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import numpy as np

from chainrule.layers import LAYERS, layer_from_config
from chainrule.losses import LOSSES
from chainrule.optimizers import OPTIMIZERS, SCHEDULES

__all__ = ["ARRAYS", "HEADER_KEYS", "OPTIMIZER_ARRAYS", "check_arrays", "check_header"]

#: The optimizer's state, sized like the parameter vector (for resumable training).
OPTIMIZER_ARRAYS = ("optimizer.m", "optimizer.v", "optimizer.velocity", "optimizer.mean_square")

_NETWORK_KEYS = ("architecture", "n_features", "n_params", "dtype", "history")
_ESTIMATOR_KEYS = (*_NETWORK_KEYS, "n_outputs", "estimator_params", "fitted")
#: ``kind`` -> (required header keys, optional header keys), beside the format's own.
HEADER_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Network": ((*_NETWORK_KEYS, "n_outputs"), ("training_state",)),
    "MLPClassifier": ((*_ESTIMATOR_KEYS, "label_type"), ("training_state",)),
    "MLPRegressor": (_ESTIMATOR_KEYS, ("training_state",)),
    "TabularModel": (
        (*_NETWORK_KEYS, "task", "classes", "preprocessing", "settings", "training"),
        ("training_state",),
    ),
}
#: The rest of the training state (:mod:`chainrule.resume`): the rows' order, and the
#: scikit-learn estimators' RandomState (624 words of Mersenne Twister).
_ORDER, _RANDOM_STATE = "training.order", "training.random_state"
#: a callback's weights (early stopping's best), numbered as the callbacks were
_CALLBACK_WEIGHTS = re.compile(r"^callbacks\.\d{1,3}\.best_weights$")
_RESUME = (*OPTIMIZER_ARRAYS, _ORDER)
#: ``kind`` -> (required arrays, optional arrays); any kind may also hold callbacks'
#: weights (``callbacks.<i>.best_weights``).
ARRAYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Network": (("params",), _RESUME),
    "MLPClassifier": (("params", "classes"), (*_RESUME, _RANDOM_STATE)),
    "MLPRegressor": (("params",), (*_RESUME, _RANDOM_STATE)),
    "TabularModel": (("params",), _RESUME),
}
_FORMAT_KEYS = ("format", "format_version", "library_version", "kind", "arrays")
_LABEL_TYPES = ("binary", "multiclass", "multilabel-indicator")
_FLOAT_DTYPES = {"float32": "<f4", "float64": "<f8"}


def is_int(value: Any) -> bool:
    """An integer from JSON (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number a float can hold (``10**400`` cannot; NaN and inf pass)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def finite_number(value: Any, what: str) -> float:
    """``float(value)`` for a finite JSON number; a ValueError naming ``what`` otherwise."""
    if not is_number(value) or not math.isfinite(float(value)):
        raise ValueError(f"{what} is {_short(value)}, not a finite number")
    return float(value)


def unique_strings(values: Any, what: str) -> list[str]:
    """A list of distinct strings, or a ValueError naming ``what``."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} must be a list of strings; found {_short(values)}")
    if len(set(values)) != len(values):
        seen: set[str] = set()
        twice = next(v for v in values if v in seen or seen.add(v))
        raise ValueError(f"{what} holds {twice!r} twice")
    return values


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_header(header: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], tuple[str, ...]]]:
    """Check a model file's header against its architecture, before any array is read.

    Parameters
    ----------
    header : dict
        The parsed ``header.json``; ``kind`` is known and ``arrays`` is a table of
        well-formed ``dtype``/``shape`` entries (:mod:`chainrule.io` checked both).

    Returns
    -------
    dict
        For every array the file must hold: its shape and the dtypes it may have.

    Raises
    ------
    ValueError
        Naming the first field that contradicts the architecture or has the wrong type.
    """
    kind = header["kind"]
    if kind == "Pipeline":
        return _check_pipeline(header)
    for key in _NETWORK_KEYS:
        if key not in header:
            raise ValueError(f"its header has no {key!r}")
    n_features, n_params, n_outputs = _check_architecture(header)
    required, optional = HEADER_KEYS[kind]
    missing = [k for k in required if k not in header]
    if missing:
        raise ValueError(f"its header lacks {missing} (a {kind} file has them)")
    unknown = sorted(set(header) - set(required) - set(optional) - set(_FORMAT_KEYS))
    if unknown:
        raise ValueError(f"its header has fields a {kind} file does not have: {unknown}")
    if "n_outputs" in header and header["n_outputs"] != n_outputs:
        raise ValueError(
            f"its n_outputs {_short(header['n_outputs'])} is not the {n_outputs} outputs "
            "of its architecture"
        )
    if header["n_params"] != n_params:
        raise ValueError(
            f"its n_params {_short(header['n_params'])} is not the {n_params:,} parameters "
            f"its architecture has for {n_features} input features"
        )
    _check_history(header["history"])

    float_dtype = _FLOAT_DTYPES[header["dtype"]]
    expected = {"params": ((n_params,), (float_dtype,))}
    if kind == "MLPClassifier":
        expected["classes"] = (_classes_shape(header, n_outputs), ())
    declared = header["arrays"]
    req_arrays, opt_arrays = ARRAYS[kind]
    for name in declared:
        if name.startswith("optimizer.") or _CALLBACK_WEIGHTS.match(name):
            expected[name] = ((n_params,), ("<f4", "<f8"))
        elif name == _ORDER:  # its length is the training rows': resume checks it
            expected[name] = (None, ("<i4", "<i8"))
        elif name == _RANDOM_STATE:
            expected[name] = ((624,), ("<u4",))
    unexpected = sorted(
        name
        for name in set(declared) - set(req_arrays) - set(opt_arrays)
        if not _CALLBACK_WEIGHTS.match(name)
    )
    absent = sorted(set(req_arrays) - set(declared))
    if unexpected or absent:
        raise ValueError(
            f"its arrays are not what a {kind} holds (missing: {absent or 'none'}; not "
            f"used by a {kind}: {unexpected or 'none'})"
        )
    for name, (shape, dtypes) in expected.items():
        spec = declared[name]
        if shape is not None and tuple(spec["shape"]) != shape:
            raise ValueError(
                f"its array {name!r} has shape {tuple(spec['shape'])}; its architecture "
                f"needs {shape}"
            )
        if dtypes and spec["dtype"] not in dtypes:
            raise ValueError(
                f"its array {name!r} has dtype {spec['dtype']}; expected {' or '.join(dtypes)}"
            )
    return expected


_PIPELINE_ARRAY = re.compile(r"^steps(\.\d{1,4}){1,2}\.[a-z_]{1,20}(\.\d{1,6})?$")


def _check_pipeline(header: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], tuple[str, ...]]]:
    """A scikit-learn pipeline file: its estimator checked as a file of its own kind,
    and every other array one its steps name (one value per feature or category)."""
    unknown = sorted(set(header) - {"steps", "verbose", "estimator", *_FORMAT_KEYS})
    if unknown or not all(k in header for k in ("steps", "verbose", "estimator")):
        raise ValueError(f"its header is not a pipeline's (fields {sorted(header)})")
    est = header["estimator"]
    if (
        not isinstance(est, dict)
        or est.get("kind") not in ("MLPClassifier", "MLPRegressor")
        or not isinstance(est.get("header"), dict)
        or not isinstance(est.get("name"), str)
    ):
        raise ValueError("its pipeline does not end in an MLPClassifier or MLPRegressor")
    declared = header["arrays"]
    prefix = "estimator."
    sub = {
        **est["header"],
        "kind": est["kind"],
        "arrays": {k[len(prefix) :]: v for k, v in declared.items() if k.startswith(prefix)},
    }
    if set(sub) & {"format", "format_version", "library_version"}:
        raise ValueError("its estimator's header holds format fields")
    expected = {prefix + k: v for k, v in check_header(sub).items()}
    if not isinstance(header["steps"], list):
        raise ValueError("its pipeline steps are not a list")
    named = _step_arrays(header["steps"])
    others = {k for k in declared if not k.startswith(prefix)}
    if others != named:
        raise ValueError(
            f"its arrays are not its steps' (missing: {sorted(named - others) or 'none'}; "
            f"not used: {sorted(others - named) or 'none'})"
        )
    for name in named:
        if not _PIPELINE_ARRAY.match(name) or len(declared[name]["shape"]) != 1:
            raise ValueError(f"its array {name!r} is not a step's list of values")
        expected[name] = (tuple(declared[name]["shape"]), ())
    return expected


def _step_arrays(steps: list) -> set[str]:
    """The array names the steps of a pipeline file refer to."""
    names: set[str] = set()
    for step in steps:
        if not isinstance(step, dict):
            raise ValueError("a step of its pipeline is not a table")
        fitted = step.get("fitted", {})
        if not isinstance(fitted, dict):
            raise ValueError("a step of its pipeline has no table of learned values")
        for key, value in fitted.items():
            if isinstance(value, str) and key != "n_samples_seen_":
                names.add(value)
        categories = step.get("categories_", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ValueError("a step of its pipeline has malformed categories")
        names.update(categories)
        children = step.get("transformers", [])
        if not isinstance(children, list):
            raise ValueError("a ColumnTransformer of its pipeline has malformed steps")
        names |= _step_arrays(children)
    return names


def _classes_shape(header: dict[str, Any], n_outputs: int) -> tuple[int, ...]:
    """An estimator's classes: one per output, or 1-2 for a single (binary) output."""
    label_type = header["label_type"]
    if label_type not in _LABEL_TYPES:
        raise ValueError(f"its label_type {_short(label_type)} is not one of {_LABEL_TYPES}")
    shape = header["arrays"]["classes"]["shape"]
    n = shape[0] if len(shape) == 1 else None
    if label_type == "binary":
        ok = n_outputs == 1 and n in (1, 2)
        wanted = "1 output and 1 or 2 classes"
    elif label_type == "multiclass":
        ok = n_outputs >= 2 and n == n_outputs
        wanted = "as many classes as outputs"
    else:
        ok = n == n_outputs
        wanted = "one class per output"
    if not ok:
        raise ValueError(
            f"its classes (shape {tuple(shape)}) do not fit its {n_outputs} outputs: a "
            f"{label_type} classifier has {wanted}"
        )
    return (n,)


def _check_architecture(header: dict[str, Any]) -> tuple[int, int, int]:
    """``(n_features, n_params, n_outputs)`` of a checked architecture; nothing allocated."""
    arch = header["architecture"]
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list):
        raise ValueError("its 'architecture' is not a network description with a list of layers")
    if not arch["layers"]:
        raise ValueError("its architecture has no layers")
    known = {
        "layers",
        "loss",
        "optimizer",
        "metrics",
        "l2",
        "l2_divided_by_batch",
        "l1",
        "seed",
        "dtype",
    }
    unknown = sorted(set(arch) - known)
    if unknown:
        raise ValueError(f"its architecture has unknown fields {unknown}")
    dtype = header["dtype"]
    if not isinstance(dtype, str) or dtype not in _FLOAT_DTYPES or arch.get("dtype") != dtype:
        raise ValueError(
            f"its dtype {_short(dtype)} (architecture: {_short(arch.get('dtype'))}) is not "
            "float32 or float64 in both places"
        )
    loss = arch.get("loss")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"its loss {_short(loss)} is unknown; known losses are {sorted(LOSSES)}")
    _check_optimizer(arch.get("optimizer"))
    metrics = arch.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"its metrics {_short(metrics)} are not a list of names")
    finite_number(arch.get("l2", 0.0), "its l2")
    finite_number(arch.get("l1", 0.0), "its l1")
    if not isinstance(arch.get("l2_divided_by_batch", False), bool):
        raise ValueError("its l2_divided_by_batch is not true or false")
    seed = arch.get("seed")
    if seed is not None and not (is_int(seed) and 0 <= seed < 2**128):
        raise ValueError(f"its seed {_short(seed)} is not a non-negative integer")

    n_features = header["n_features"]
    if not is_int(n_features) or n_features < 1:
        raise ValueError(f"its n_features {_short(n_features)} is not a positive integer")
    width, n_params = n_features, 0
    for i, config in enumerate(arch["layers"]):
        name = config.get("class_name") if isinstance(config, dict) else None
        if not isinstance(name, str) or name not in LAYERS:
            raise ValueError(
                f"layer {i} of its architecture is {_short(name)}, not a known layer; "
                f"known layers are {sorted(LAYERS)}"
            )
        if not isinstance(config.get("config", {}), dict) or set(config) - {
            "class_name",
            "config",
        }:
            raise ValueError(f"layer {i} of its architecture has an invalid config")
        try:
            layer = layer_from_config(config)
            width = layer.build(width, None, np.float32)  # shapes only: nothing allocated
            n_params += sum(math.prod(shape) for _, shape in layer.param_shapes())
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"its architecture is invalid: layer {i}: {exc}") from None
    # the weights are the params array (the optimizer's moments are not weights)
    params = header["arrays"].get("params")
    declared = math.prod(params["shape"]) if isinstance(params, dict) else 0
    if n_params > declared:
        raise ValueError(
            f"its architecture needs {n_params:,} parameters for {n_features} input features, "
            f"but its arrays hold only {declared:,} values"
        )
    return n_features, n_params, width


def _check_optimizer(opt: Any) -> None:
    name = opt.get("class_name") if isinstance(opt, dict) else opt
    if not isinstance(opt, dict) or not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(
            f"its optimizer {_short(name)} is unknown; known optimizers are {sorted(OPTIMIZERS)}"
        )
    config = opt.get("config", {})
    if not isinstance(config, dict):
        raise ValueError("its optimizer has an invalid config")
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        schedules = {cls.__name__ for cls in SCHEDULES.values()}
        rate_name = rate.get("class_name")
        if not isinstance(rate_name, str) or rate_name not in schedules:
            raise ValueError(
                f"its learning-rate schedule {_short(rate_name)} is unknown; known "
                f"schedules are {sorted(schedules)}"
            )
    try:
        OPTIMIZERS[name].from_config(config)
    except (TypeError, ValueError, OverflowError, KeyError) as exc:
        raise ValueError(f"its optimizer's settings are invalid: {exc}") from None


def _check_history(history: Any) -> None:
    """None, or ``{"epoch": [int, ...], "history": {name: [number, ...]}}``."""
    if history is None:
        return
    if not isinstance(history, dict) or set(history) != {"epoch", "history"}:
        raise ValueError("its history is not a table of 'epoch' and 'history'")
    epochs, record = history["epoch"], history["history"]
    if not isinstance(epochs, list) or not all(is_int(e) and 0 <= e < 2**31 for e in epochs):
        raise ValueError("its history's epochs are not a list of epoch numbers")
    if not isinstance(record, dict):
        raise ValueError("its history is not a table of values per epoch")
    for key, values in record.items():
        if not isinstance(values, list) or not all(is_number(v) for v in values):
            raise ValueError(f"its history of {key!r} is not a list of numbers")


def check_arrays(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Check the arrays' values: finite weights and optimizer state, distinct classes."""
    for name, arr in arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"its array {name!r} holds {bad:,} NaN or infinite values")
    classes = arrays.get("classes")
    if classes is not None and np.unique(classes).size != classes.size:
        raise ValueError("its classes hold the same label twice")
