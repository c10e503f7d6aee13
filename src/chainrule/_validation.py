"""Input checks shared by every face of the library.

Every error names the argument, what was expected, what was received, and how to
fix it. ``ValueError`` for wrong values, ``TypeError`` for wrong types.
"""

from __future__ import annotations

import mmap
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: Any, what: str) -> T:
    """Return ``registry[name]`` or raise a ValueError listing the known names."""
    if not isinstance(name, str):
        raise TypeError(
            f"{what} must be given as a name (one of {sorted(registry)}) or an object; "
            f"received {type(name).__name__} {name!r}"
        )
    key = name.lower()
    if key not in registry:
        raise ValueError(
            f"unknown {what} {name!r}; expected one of {sorted(registry)}. "
            "Check the spelling, or pass an object instead of a name."
        )
    return registry[key]


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer; received {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer; received {name}={value!r}")
    return int(value)


def check_positive_float(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a positive number; received {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; received {name}={value!r}")
    return float(value)


def check_non_negative_float(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number >= 0; received {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; received {name}={value!r}")
    return float(value)


def check_fraction(value: Any, name: str, *, allow_zero: bool = True) -> float:
    """Return ``value`` as a float in [0, 1) (or (0, 1) when ``allow_zero`` is False)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1); received {name}={value!r}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        bound = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be in {bound}; received {name}={value!r}")
    return float(value)


def check_array(
    array: Any,
    name: str,
    *,
    dtype: Any = None,
    ndim: int | tuple[int, ...] = 2,
    allow_empty: bool = False,
    keep_mapped: bool = False,
) -> np.ndarray:
    """Convert ``array`` to a NumPy array and check its shape and values.

    No copy is made when ``array`` already has the requested dtype and is
    C-contiguous. With ``keep_mapped``, a memory-mapped array (``np.load(path,
    mmap_mode="r")``) of numbers is returned as it is, whatever its dtype, for a caller
    that reads and converts it batch by batch (the values are checked here, block by
    block). Raises ValueError for the wrong number of dimensions, an empty
    array, or NaN / infinity; TypeError for values that are not numbers.
    """
    if hasattr(array, "tocsr") and hasattr(array, "nnz"):
        raise TypeError(
            f"{name} is a scipy.sparse matrix; the Network takes dense arrays. "
            f"Convert with {name}.toarray() (or use chainrule.MLPClassifier / MLPRegressor)."
        )
    if np.iscomplexobj(array):
        raise TypeError(
            f"{name} holds complex numbers; received dtype {np.asarray(array).dtype}. "
            f"Pass real values (for example {name}.real or abs({name}))."
        )
    try:
        if (
            keep_mapped
            and isinstance(array, np.ndarray)
            and array.dtype.kind in "fiu"
            and is_memory_mapped(array)
        ):
            # a file larger than memory stays on disk: its batches are read (and converted
            # to the dtype) one by one
            result = array
        elif dtype is None:
            result = np.asarray(array)
            if result.dtype.kind in "biu":
                result = result.astype(np.float64)
        else:
            result = np.ascontiguousarray(array, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an array of numbers; received {type(array).__name__} "
            f"that NumPy could not convert ({exc})"
        ) from None
    if result.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} must hold numbers; received an array of dtype {result.dtype}. "
            "Encode text columns as numbers first."
        )
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if result.ndim not in ndims:
        hint = ""
        if 2 in ndims and result.ndim == 1:
            hint = (
                f" Reshape it: {name}.reshape(-1, 1) for one feature, "
                f"or {name}.reshape(1, -1) for one sample."
            )
        expected = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be a {expected} array; received shape {result.shape}.{hint}")
    if not allow_empty and result.size == 0:
        raise ValueError(
            f"{name} is empty (shape {result.shape}); at least one sample "
            "and one feature are needed."
        )
    if result.dtype.kind == "f" and not _all_finite(result):
        bad = np.argwhere(~np.isfinite(result))
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name} contains NaN or infinity ({len(bad)} value(s), first at index "
            f"{first}); every value must be finite: remove or impute them first."
        )
    return result


def is_memory_mapped(array: Any) -> bool:
    """Whether ``array`` (or the array it is a view of) lives in a memory-mapped file."""
    while array is not None:
        if isinstance(array, (np.memmap, mmap.mmap)):
            return True
        array = getattr(array, "base", None)
    return False


def _all_finite(array: np.ndarray) -> bool:
    """Whether every value is finite, without a boolean temporary the size of ``array``.

    A finite sum proves it (NaN and infinity propagate); only when the sum is not
    finite (a NaN, an infinity, or finite values whose sum overflows) are the values
    checked one by one, in chunks. The row sums of a matrix come from ``X @ ones``,
    which the BLAS runs on every core (2.5 times faster than ``np.sum`` here).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if array.ndim == 2:
            total = np.sum(array @ np.ones(array.shape[1], dtype=array.dtype))
        else:
            total = np.sum(array)
        if np.isfinite(total):
            return True
    flat = array.ravel(order="K")
    step = 1 << 20
    return all(np.isfinite(flat[i : i + step]).all() for i in range(0, flat.size, step))


def check_consistent_length(X: np.ndarray, y: np.ndarray, x_name: str = "X", y_name: str = "y"):
    """Raise ValueError when X and y have different numbers of samples."""
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples; received "
            f"{x_name} with {X.shape[0]} rows and {y_name} with {y.shape[0]}."
        )


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """Return ``seed`` if it is None or a non-negative integer, else raise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be None or a non-negative integer; received {name}={seed!r} "
            f"of type {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{name} must be None or a non-negative integer; received {name}={seed!r}")
    return int(seed)


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: Any) -> np.ndarray:
    """Check ``sample_weight``: 1-D, one finite, non-negative weight per sample."""
    weights = check_array(sample_weight, "sample_weight", dtype=dtype, ndim=1)
    if weights.shape[0] != n_samples:
        raise ValueError(
            f"X and sample_weight must have the same number of samples; received X with "
            f"{n_samples} rows and sample_weight with {weights.shape[0]}."
        )
    if np.any(weights < 0):
        raise ValueError(
            f"sample_weight must be >= 0; received {int(np.sum(weights < 0))} negative "
            f"weight(s), the smallest {weights.min():g}"
        )
    return weights


def check_like(value: np.ndarray, reference: np.ndarray, what: str) -> None:
    """Refuse an array (from a file) unless it has ``reference``'s shape and dtype and
    finite values: ``what`` names it in the message."""
    if value.shape != reference.shape or value.dtype != reference.dtype:
        raise ValueError(
            f"{what} must have shape {reference.shape} and dtype {reference.dtype}; got "
            f"shape {value.shape} and dtype {value.dtype}"
        )
    if not np.isfinite(value).all():
        raise ValueError(f"{what} holds values that are not finite")
