"""What a model file keeps so that training can resume exactly where it stopped.

An interrupted run resumed from its last checkpoint ends with the same weights, bit
for bit on one thread, as the run that was never interrupted. That needs more than the
weights (the same list as Keras's ``BackupAndRestore`` and PyTorch's
``optimizer.state_dict()`` plus the sampler's generator):

- the optimizer's state: its step count and current learning rate, and its arrays
  (SGD's ``velocity``, RMSprop's ``mean_square``, Adam's ``m`` and ``v``);
- the epoch reached (the next ``initial_epoch``); a schedule is a function of it;
- the network's random generator (dropout, and the batch order in ``Network.fit``),
  as ``numpy.random.Generator.bit_generator.state``;
- the order of the rows in the last epoch: :class:`~chainrule.training.ArrayBatches`
  shuffles it in place from epoch to epoch (as scikit-learn does), so the next order
  depends on it;
- every callback's state (:meth:`~chainrule.callbacks.Callback.get_state`: the best
  value, the epochs without improvement, early stopping's best weights).

In a model file the scalars are one header entry, ``"training_state"``::

    {"epoch": 4,
     "optimizer": {"iterations": 28, "learning_rate": 0.003},
     "rng": {"bit_generator": "PCG64", "state": {"state": ..., "inc": ...},
             "has_uint32": 0, "uinteger": 0},
     "callbacks": [{"key": "EarlyStopping{...}", "state": {"best": 0.41, ...}}]}

and the arrays are members named ``optimizer.<name>`` (``optimizer.m``,
``optimizer.v``, ``optimizer.velocity``, ``optimizer.mean_square``),
``training.order`` and ``callbacks.<i>.<name>`` (``callbacks.0.best_weights``).
The scikit-learn estimators shuffle with a ``RandomState`` instead: its state is
``"random_state": {"pos": ..., "has_gauss": ..., "gauss": ...}`` in the same entry and
its 624 words the array ``training.random_state``. A network that never trained has
no training state.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._validation import check_like

if TYPE_CHECKING:  # pragma: no cover
    from chainrule.network import Network

__all__ = [
    "HEADER_KEY",
    "array_names",
    "random_state_from_file",
    "random_state_to_file",
    "restore_training_state",
    "training_state",
]

#: The header entry holding the scalars.
HEADER_KEY = "training_state"
_CALLBACK_ARRAY = re.compile(r"^callbacks\.(\d{1,3})\.([A-Za-z_][A-Za-z0-9_]{0,40})$")


def array_names(names) -> list[str]:
    """The names among ``names`` that belong to the training state (for io's checks)."""
    return [
        n
        for n in names
        if n.startswith("optimizer.")
        or n in ("training.order", "training.random_state")
        or _CALLBACK_ARRAY.match(n)
    ]


def training_state(network: Network) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """The network's training state as ``(JSON-safe scalars, arrays)``; ``(None, {})``
    for a network that never trained."""
    optimizer = network.optimizer
    if not network.built or (optimizer.iterations == 0 and network.epoch == 0):
        return None, {}
    scalars, optimizer_arrays = optimizer.get_state()
    arrays = {f"optimizer.{name}": value for name, value in optimizer_arrays.items()}
    if network._batch_order is not None:
        order = network._batch_order
        small = order.size < np.iinfo(np.int32).max
        arrays["training.order"] = order.astype(np.int32 if small else np.int64)
    callbacks = []
    for i, (key, state) in enumerate(network._callback_states()):
        plain = {}
        for name, value in state.items():
            if isinstance(value, np.ndarray):
                arrays[f"callbacks.{i}.{name}"] = value
            else:
                plain[name] = value
        callbacks.append({"key": key, "state": plain})
    header = {
        "epoch": int(network.epoch),
        "optimizer": scalars,
        "rng": network.rng.bit_generator.state,
        "callbacks": callbacks,
    }
    return header, arrays


def restore_training_state(
    network: Network, header: Any, arrays: dict[str, np.ndarray], n_samples: int | None = None
) -> None:
    """Put a saved training state back on a built network, checking every value.

    Raises
    ------
    ValueError
        Naming the value that does not fit (``chainrule.io.load`` reports it as a
        :class:`~chainrule.ModelFileError`).
    """
    if not isinstance(header, dict):
        raise ValueError(f"its {HEADER_KEY} must be a table; got {type(header).__name__}")
    unknown = sorted(set(header) - {"epoch", "optimizer", "rng", "callbacks", "random_state"})
    if unknown:
        raise ValueError(f"its {HEADER_KEY} has unknown entries {unknown}")
    epoch = header.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"its {HEADER_KEY} epoch must be an integer >= 0; got {epoch!r}")
    optimizer_arrays = {
        name.partition(".")[2]: value
        for name, value in arrays.items()
        if name.startswith("optimizer.")
    }
    network.optimizer.set_state(header.get("optimizer"), optimizer_arrays)
    network.rng.bit_generator.state = _check_rng_state(header.get("rng"))

    order = arrays.get("training.order")
    if order is not None:
        if order.ndim != 1 or order.dtype.kind != "i":
            raise ValueError(
                f"training.order must be a 1-D integer array; got {order.dtype} {order.shape}"
            )
        # in range first: bincount allocates up to the largest value
        in_range = order.size == 0 or (order.min() >= 0 and order.max() < order.size)
        if not in_range or not (np.bincount(order, minlength=order.size) == 1).all():
            raise ValueError("training.order is not an order of the rows (a permutation)")
        order = order.astype(np.intp)
    network._batch_order = order

    callbacks = header.get("callbacks", [])
    if not isinstance(callbacks, list):
        raise ValueError(f"its {HEADER_KEY} callbacks must be a list")
    states = []
    for i, entry in enumerate(callbacks):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("key"), str)
            or not isinstance(entry.get("state"), dict)
        ):
            raise ValueError(f"callback state {i} must be a table with a key and a state")
        state = dict(entry["state"])
        for name, value in arrays.items():
            match = _CALLBACK_ARRAY.match(name)
            if match and int(match.group(1)) == i:
                state[match.group(2)] = value.copy()
        states.append((entry["key"], state))
    taken = {name for name in arrays if _CALLBACK_ARRAY.match(name)}
    for name in sorted(taken):  # early stopping's best weights: like the parameters
        check_like(arrays[name], network.params, name)
    stray = sorted(n for n in taken if int(_CALLBACK_ARRAY.match(n).group(1)) >= len(callbacks))
    if stray:
        raise ValueError(f"the arrays {stray} belong to no saved callback")
    network._saved_callback_states = states
    network._callbacks = []
    network.epoch = epoch


def random_state_to_file(random_state: np.random.RandomState) -> tuple[dict, np.ndarray]:
    """A ``RandomState``'s state as ``(JSON-safe scalars, its 624 words)``."""
    state = random_state.get_state(legacy=False)
    scalars = {
        "pos": int(state["state"]["pos"]),
        "has_gauss": int(state["has_gauss"]),
        "gauss": float(state["gauss"]),
    }
    return scalars, np.asarray(state["state"]["key"], dtype=np.uint32)


def random_state_from_file(scalars: Any, key: Any) -> np.random.RandomState:
    """The ``RandomState`` :func:`random_state_to_file` described, checked."""
    if (
        not isinstance(scalars, dict)
        or set(scalars) != {"pos", "has_gauss", "gauss"}
        or not isinstance(scalars["pos"], int)
        or isinstance(scalars["pos"], bool)
        or not 0 <= scalars["pos"] <= 624
        or scalars["has_gauss"] not in (0, 1)
        or not isinstance(scalars["gauss"], (int, float))
        or isinstance(scalars["gauss"], bool)
        or not np.isfinite(scalars["gauss"])
    ):
        raise ValueError(f"its RandomState state is invalid; got {str(scalars)[:200]}")
    if not isinstance(key, np.ndarray) or key.shape != (624,) or key.dtype != np.uint32:
        raise ValueError("training.random_state must be 624 uint32 words (an MT19937 key)")
    random_state = np.random.RandomState()
    random_state.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": key.copy(), "pos": scalars["pos"]},
            "has_gauss": scalars["has_gauss"],
            "gauss": float(scalars["gauss"]),
        }
    )
    return random_state


def _check_rng_state(state: Any) -> dict[str, Any]:
    """``Generator.bit_generator.state`` of a PCG64 generator (what ``default_rng`` makes)."""

    def uint(value: Any, bits: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**bits

    inner = state.get("state") if isinstance(state, dict) else None
    if (
        not isinstance(state, dict)
        or state.get("bit_generator") != "PCG64"
        or set(state) != {"bit_generator", "state", "has_uint32", "uinteger"}
        or not isinstance(inner, dict)
        or set(inner) != {"state", "inc"}
        or not (uint(inner["state"], 128) and uint(inner["inc"], 128))
        or state["has_uint32"] not in (0, 1)
        or not uint(state["uinteger"], 32)
    ):
        raise ValueError(
            f"its random generator state is not a PCG64 state "
            f"(numpy.random.Generator.bit_generator.state); got {str(state)[:200]}"
        )
    return state
