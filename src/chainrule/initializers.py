"""Weight initialisers: Glorot (Xavier) and He, uniform and normal, plus zeros.

Each initialiser fills an array in place from a ``numpy.random.Generator`` so that
one seed reproduces a whole network. ``fan_in`` and ``fan_out`` are the first and
second dimension of a Dense weight matrix of shape (in_features, out_features).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule._validation import lookup

__all__ = [
    "INITIALIZERS",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "zeros",
    "get_initializer",
]


def glorot_uniform(array: np.ndarray, rng: np.random.Generator) -> None:
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(array)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    array[...] = rng.uniform(-limit, limit, size=array.shape)


def glorot_normal(array: np.ndarray, rng: np.random.Generator) -> None:
    """Normal with mean 0 and ``std = sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(array)
    array[...] = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=array.shape)


def he_uniform(array: np.ndarray, rng: np.random.Generator) -> None:
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / fan_in)`` (for ReLU)."""
    fan_in, _ = _fans(array)
    limit = np.sqrt(6.0 / fan_in)
    array[...] = rng.uniform(-limit, limit, size=array.shape)


def he_normal(array: np.ndarray, rng: np.random.Generator) -> None:
    """Normal with mean 0 and ``std = sqrt(2 / fan_in)`` (for ReLU)."""
    fan_in, _ = _fans(array)
    array[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=array.shape)


def zeros(array: np.ndarray, rng: np.random.Generator) -> None:
    """All zeros (the default for biases)."""
    array[...] = 0


def _fans(array: np.ndarray) -> tuple[int, int]:
    if array.ndim == 1:
        return array.shape[0], array.shape[0]
    return array.shape[0], array.shape[1]


INITIALIZERS: dict[str, Callable[[np.ndarray, np.random.Generator], None]] = {
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "zeros": zeros,
}


def get_initializer(name: str) -> Callable[[np.ndarray, np.random.Generator], None]:
    """Return the initialiser registered under ``name`` (see ``INITIALIZERS``)."""
    return lookup(INITIALIZERS, name, "initializer")
