"""Safe model files for scikit-learn pipelines: preprocessing steps from a fixed list,
then a chainrule estimator, saved without pickle.

``chainrule.save(pipeline, path)`` accepts a fitted :class:`sklearn.pipeline.Pipeline`
whose steps are, in order, any of :data:`TRANSFORMERS` (``StandardScaler``,
``MinMaxScaler``, ``MaxAbsScaler``, ``OneHotEncoder``, and a ``ColumnTransformer`` of
those, ``"drop"`` and ``"passthrough"``), ending in chainrule's ``MLPClassifier`` or
``MLPRegressor``. The file holds each step's parameters and learned numbers, never an
object: loading rebuilds the steps from this fixed table, sets their learned arrays
(the scalers), or fits them on a table of their own categories (the encoder, so that
its private state is scikit-learn's own), and checks the result with one prediction.
Anything else is refused at save, naming the step.

Needs scikit-learn (``pip install "chainrule[sklearn]"``); imported when a pipeline is
saved or loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from chainrule.filecheck import is_int, unique_strings
from chainrule.io import KINDS

__all__ = ["TRANSFORMERS", "PipelineFile", "pipeline_state"]

#: The steps a pipeline file may hold: class name -> (module, learned arrays, learned
#: numbers). Scalers' arrays are one value per input feature.
TRANSFORMERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "StandardScaler": ("sklearn.preprocessing", ("mean_", "var_", "scale_"), ("n_samples_seen_",)),
    "MinMaxScaler": (
        "sklearn.preprocessing",
        ("min_", "scale_", "data_min_", "data_max_", "data_range_"),
        ("n_samples_seen_",),
    ),
    "MaxAbsScaler": ("sklearn.preprocessing", ("max_abs_", "scale_"), ("n_samples_seen_",)),
    "OneHotEncoder": ("sklearn.preprocessing", (), ()),
    "ColumnTransformer": ("sklearn.compose", (), ()),
}
_PASS = ("drop", "passthrough")
_ENCODER_DTYPES = ("float64", "float32", "int64", "int32", "bool")
#: Most columns of a ColumnTransformer fitted on an array without column names.
MAX_UNNAMED_COLUMNS = 100_000


def _refuse(where: str, what: str) -> ValueError:
    known = ", ".join(sorted(TRANSFORMERS))
    return ValueError(
        f"cannot save this pipeline safely: {where} is {what}. A pipeline file holds "
        f"steps from a fixed list ({known}; a ColumnTransformer of those, 'drop' and "
        "'passthrough') and ends in chainrule's MLPClassifier or MLPRegressor. With other "
        "steps, save the preprocessing with skops.io.dump(pipeline[:-1], ...) and the "
        "estimator with chainrule.save(pipeline[-1], ...) (README, 'Pipelines')"
    )


# ---------------------------------------------------------------- saving


def pipeline_state(pipeline: Any) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    """``("Pipeline", header, arrays)`` of a fitted pipeline, for :func:`chainrule.io.save`.

    Raises
    ------
    ValueError
        Naming the first step (or setting) a pipeline file cannot hold.
    """
    from chainrule.estimator_base import _BaseMLP

    if not pipeline.steps:
        raise _refuse("the pipeline", "empty")
    *steps, (last_name, estimator) = pipeline.steps
    if not isinstance(estimator, _BaseMLP):
        raise _refuse(f"its last step {last_name!r}", f"a {type(estimator).__name__}")
    if pipeline.memory is not None or getattr(pipeline, "transform_input", None) is not None:
        raise _refuse("the pipeline's memory or transform_input", "set")
    arrays: dict[str, np.ndarray] = {}
    described = [
        _step_state(name, step, f"steps.{i}", arrays, f"step {name!r}")
        for i, (name, step) in enumerate(steps)
    ]
    kind, est_header, est_arrays = estimator._model_state()
    for key, value in est_arrays.items():
        arrays[f"estimator.{key}"] = value
    header = {
        "steps": described,
        "verbose": bool(pipeline.verbose),
        "estimator": {"name": str(last_name), "kind": kind, "header": est_header},
    }
    return "Pipeline", header, arrays


def _step_state(name: Any, step: Any, prefix: str, arrays: dict, where: str) -> dict[str, Any]:
    if isinstance(step, str) and step in _PASS:
        return {"name": str(name), "class_name": step}
    class_name = type(step).__name__
    if class_name not in TRANSFORMERS or type(step).__module__.split(".")[0] != "sklearn":
        raise _refuse(where, f"a {type(step).__module__}.{class_name}")
    if not hasattr(step, "n_features_in_"):
        raise _refuse(where, "not fitted")
    state: dict[str, Any] = {"name": str(name), "class_name": class_name}
    params = step.get_params(deep=False)
    fitted: dict[str, Any] = {"n_features_in_": int(step.n_features_in_)}
    if hasattr(step, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(f) for f in step.feature_names_in_]
    if class_name == "ColumnTransformer":
        if not (params["remainder"] in _PASS and params["transformer_weights"] is None):
            raise _refuse(f"{where}, its remainder or transformer_weights", "not the default")
        children = []
        for j, (child_name, child, columns) in enumerate(step.transformers_):
            child_where = f"{where}, entry {child_name!r}"
            columns = _columns_of(step, child_name, columns, child_where)
            if child_name == "remainder":  # rebuilt by the ColumnTransformer itself
                child_state = {"name": "remainder", "class_name": params["remainder"]}
            else:
                child_state = _step_state(child_name, child, f"{prefix}.{j}", arrays, child_where)
            child_state["columns"] = columns
            children.append(child_state)
        state["transformers"] = children
        fitted["sparse_output_"] = bool(step.sparse_output_)
        params = {k: v for k, v in params.items() if k not in ("transformers", "n_jobs")}
    elif class_name == "OneHotEncoder":
        if params["min_frequency"] is not None or params["max_categories"] is not None:
            raise _refuse(f"{where}, its min_frequency / max_categories", "set")
        if params["handle_unknown"] not in ("error", "ignore"):
            raise _refuse(f"{where}, its handle_unknown", repr(params["handle_unknown"]))
        if not (params["drop"] is None or params["drop"] in ("first", "if_binary")):
            raise _refuse(f"{where}, its drop", repr(params["drop"]))
        params["dtype"] = np.dtype(params["dtype"]).name
        if params["feature_name_combiner"] != "concat" or not isinstance(params["categories"], str):
            raise _refuse(f"{where}, its feature_name_combiner or categories", "not the default")
        names = []
        for k, cats in enumerate(step.categories_):
            if cats.dtype == object:
                if not all(isinstance(c, str) for c in cats):
                    raise _refuse(f"{where}, its categories of column {k}", "mixed or missing")
                cats = cats.astype(str)
            elif cats.dtype.kind == "f" and not np.isfinite(cats).all():
                raise _refuse(f"{where}, its categories of column {k}", "holding NaN (missing)")
            arrays[f"{prefix}.categories_.{k}"] = cats
            names.append(f"{prefix}.categories_.{k}")
        state["categories_"] = names
    else:
        for attr in TRANSFORMERS[class_name][1]:
            value = getattr(step, attr)
            if value is not None:
                arrays[f"{prefix}.{attr}"] = np.asarray(value, dtype=np.float64)
            fitted[attr] = None if value is None else f"{prefix}.{attr}"
        seen = step.n_samples_seen_
        fitted["n_samples_seen_"] = (
            int(seen) if np.ndim(seen) == 0 else [int(s) for s in np.asarray(seen)]
        )
        if "feature_range" in params:
            params["feature_range"] = [
                v.item() if isinstance(v, np.generic) else v for v in params["feature_range"]
            ]
    state["params"] = params
    state["fitted"] = fitted
    return state


def _columns_of(ct: Any, name: str, columns: Any, where: str) -> list:
    """The columns a ColumnTransformer's entry took at fit, as names (or positions)."""
    if not (
        isinstance(columns, list)
        and all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in columns)
    ):
        indices = getattr(ct, "_transformer_to_input_indices", {}).get(name)
        if indices is None:
            raise _refuse(f"{where}, its column selection", repr(columns))
        names = getattr(ct, "feature_names_in_", None)
        columns = [names[i] for i in indices] if names is not None else list(indices)
    return [c if isinstance(c, str) else int(c) for c in columns]


# ---------------------------------------------------------------- loading


class PipelineFile:
    """What :func:`chainrule.io.load` rebuilds a ``"Pipeline"`` file with (not public)."""

    @classmethod
    def _from_model_state(cls, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        """A fitted scikit-learn Pipeline from a checked file."""
        try:
            from sklearn.pipeline import Pipeline
        except ImportError:
            raise ValueError(
                "it holds a scikit-learn Pipeline, which needs scikit-learn: "
                'pip install "chainrule[sklearn]"'
            ) from None

        est = header["estimator"]
        module, _, class_name = KINDS[est["kind"]].partition(":")
        est_cls = getattr(importlib.import_module(module), class_name)
        prefix = "estimator."
        estimator = est_cls._from_model_state(
            est["header"], {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        )
        names = [step["name"] for step in header["steps"]] + [est["name"]]
        unique_strings(names, "its step names")
        steps = [
            (step["name"], _rebuild(step, arrays, f"steps.{i}"))
            for i, step in enumerate(header["steps"])
        ]
        pipeline = Pipeline([*steps, (est["name"], estimator)], verbose=header["verbose"])
        _probe(pipeline)
        return pipeline


def _rebuild(state: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str) -> Any:
    class_name = state["class_name"]
    if class_name in _PASS:
        return class_name
    if class_name not in TRANSFORMERS:
        raise ValueError(f"its step {state['name']!r} is a {class_name!r}, not a known step")
    module, learned, numbers = TRANSFORMERS[class_name]
    cls = getattr(importlib.import_module(module), class_name)
    params, fitted = dict(state["params"]), state["fitted"]
    n = fitted["n_features_in_"]
    if not is_int(n) or n < 1:
        raise ValueError(f"its step {state['name']!r} has n_features_in_ {n!r}")
    names = fitted.get("feature_names_in_")
    if names is not None and len(unique_strings(names, "its feature names")) != n:
        raise ValueError(f"its step {state['name']!r} has feature names for other columns")
    if class_name == "ColumnTransformer":
        if names is None and n > MAX_UNNAMED_COLUMNS:
            raise ValueError(f"its step {state['name']!r} has {n:,} unnamed columns")
        children = {
            child["name"]: (_rebuild(child, arrays, f"{prefix}.{j}"), child["columns"])
            for j, child in enumerate(state["transformers"])
            if child["name"] != "remainder"
        }
        step = cls([(k, child, cols) for k, (child, cols) in children.items()], **params)
        step._validate_params()
        step.fit(_synthetic(n, names, [(cols, child) for child, cols in children.values()]))
        # the fit made clones of the children: put the rebuilt (learned) ones back
        step.transformers_ = [
            (k, children[k][0] if k in children else fitted_child, columns)
            for k, fitted_child, columns in step.transformers_
        ]
        step.sparse_output_ = bool(fitted["sparse_output_"])
        return step
    if class_name == "OneHotEncoder":
        categories = [arrays[name] for name in state["categories_"]]
        if len(categories) != n:
            raise ValueError(f"its step {state['name']!r} has categories for other columns")
        for cats in categories:
            if cats.ndim != 1 or np.unique(cats).size != cats.size:
                raise ValueError(f"its step {state['name']!r} has repeated categories")
        if params["dtype"] not in _ENCODER_DTYPES:
            raise ValueError(f"its step {state['name']!r} has dtype {params['dtype']!r}")
        params["dtype"] = getattr(np, params["dtype"])
        step = cls(**{**params, "categories": [list(c) for c in categories]})
        step.fit(_synthetic(n, names, [(list(range(n)), categories)]))
        step.set_params(categories=params["categories"])
        return step
    if "feature_range" in params and isinstance(params["feature_range"], list):
        params["feature_range"] = tuple(params["feature_range"])
    step = cls(**params)
    step._validate_params()
    for attr in learned:
        member = fitted[attr]
        value = None if member is None else arrays[member]
        if value is not None and value.shape != (n,):
            raise ValueError(f"its step {state['name']!r} has {attr} of shape {value.shape}")
        setattr(step, attr, value)
    for attr in numbers:
        value = fitted[attr]
        setattr(step, attr, np.asarray(value) if isinstance(value, list) else value)
    step.n_features_in_ = n
    if names is not None:
        step.feature_names_in_ = np.asarray(names, dtype=object)
    return step


def _synthetic(n: int, names: list[str] | None, encoded: list):
    """A small table of ``n`` columns: the categories of each encoded column (``encoded``
    holds ``(columns, fitted OneHotEncoder or list of categories)``), zeros elsewhere."""
    rows = 2
    values: dict[int, np.ndarray] = {}
    for columns, source in encoded:
        categories = getattr(source, "categories_", source)
        if not isinstance(categories, list):
            continue  # a scaler, 'drop' or 'passthrough'
        for k, cats in zip(columns, categories, strict=True):
            index = names.index(k) if isinstance(k, str) and names is not None else k
            values[int(index)] = np.asarray(cats)
            rows = max(rows, len(cats))
    columns = []
    for i in range(n):
        c = values.get(i)
        if c is None:
            columns.append(np.zeros(rows))
        else:
            columns.append(np.resize(c, rows).astype(object if c.dtype.kind == "U" else c.dtype))
    if names is None:
        table = np.empty((rows, n), dtype=object)
        for i, c in enumerate(columns):
            table[:, i] = c
        return table
    import pandas as pd

    return pd.DataFrame(dict(zip(names, columns, strict=True)))


def _probe(pipeline: Any) -> None:
    """One prediction on a row like the training rows: the rebuilt steps fit together."""
    first = next(step for _, step in pipeline.steps if not isinstance(step, str))
    n = first.n_features_in_
    names = getattr(first, "feature_names_in_", None)
    names = None if names is None else list(names)
    if type(first).__name__ == "ColumnTransformer":
        encoded = [(cols, child) for _, child, cols in first.transformers_]
    else:
        encoded = [(list(range(n)), first)]
    table = _synthetic(n, names, encoded)
    pipeline.predict(table[:1] if names is None else table.iloc[:1])
