"""The same model in chainrule, scikit-learn, PyTorch and JAX, one epoch per call.

A *spec* describes the model: ``hidden`` (hidden layer widths), ``task``
(``"multiclass"``, ``"binary"`` or ``"lesson"``: the lesson's sigmoid neuron with the
squared error), ``optimizer`` (``"adam"`` or ``"sgd"``), ``lr``, ``batch_size`` and
``n_classes``. ``make(library, spec)`` returns an object with ``warm_up(X, y)``
(builds the model and its buffers on a few rows), ``prepare(X, y)`` (untimed one-off
work on the data before timed epochs, such as JAX's copy to its device),
``epoch(X, y)`` (one shuffled pass over all rows) and ``first_moments()`` (Adam's
first moments as one flat NumPy array, or None).

Libraries: ``"chainrule"``, ``"scikit-learn"``, ``"PyTorch"`` (default Adam, the
``foreach`` implementation), ``"PyTorch fused Adam"`` (``Adam(..., fused=True)``) and
``"JAX jit"`` (multiclass Adam only).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

#: the libraries :func:`make` knows
LIBRARIES = ("chainrule", "scikit-learn", "PyTorch", "PyTorch fused Adam", "JAX jit")


def kernel_mode_available(mode: str | None) -> bool:
    """Whether :func:`kernel_mode` can switch chainrule's kernels to ``mode`` here:
    ``"numba"`` needs the compiled kernels (the ``fast`` extra); every other mode of
    :mod:`chainrule.kernels` always can."""
    if mode in (None, "default"):
        return True
    from chainrule import kernels

    if mode == "numba":
        return kernels.compiled_available()
    return mode in kernels.MODES or mode == "reference"


@contextmanager
def kernel_mode(mode: str | None) -> Iterator[None]:
    """A context in which chainrule's kernels run in ``mode``; the mode before comes back.

    ``None`` or ``"default"`` changes nothing (whatever ``CHAINRULE_KERNELS`` chose);
    any other name goes to ``chainrule.kernels.use``: ``"auto"``, ``"numba"``,
    ``"numpy"``, ``"off"`` (``"reference"`` is the same).
    """
    if mode in (None, "default"):
        yield
        return
    from chainrule import kernels

    with kernels.use(mode):
        yield


class ChainruleModel:
    """chainrule's ``Network``: ``[Dense(h), ReLU()] * k`` and a fused output layer.

    ``kernels`` is the kernel mode (see :func:`kernel_mode`) the model is built and
    trained in; the mode is set around every call and restored after it, so models in
    different modes can be timed interleaved in one process.
    """

    library = "chainrule"

    def __init__(self, spec: dict, dtype: str = "float32", kernels: str | None = None) -> None:
        from chainrule import kernels as chainrule_kernels

        self.kernels = kernels
        with kernel_mode(kernels):
            self._build(spec, dtype)
            #: the mode that runs (``chainrule.kernels.mode()``: numba, numpy or off)
            self.mode = chainrule_kernels.mode()

    def _build(self, spec: dict, dtype: str) -> None:
        from chainrule import Dense, Network, ReLU, Sigmoid, Softmax
        from chainrule.optimizers import SGD, Adam

        layers = []
        for width in spec["hidden"]:
            layers += [Dense(width), ReLU()]
        task = spec["task"]
        if task == "multiclass":
            layers += [Dense(spec["n_classes"]), Softmax()]
            loss = "categorical_crossentropy"
        else:
            layers += [Dense(1), Sigmoid()]
            loss = "mse" if task == "lesson" else "binary_crossentropy"
        opt = Adam(spec["lr"]) if spec["optimizer"] == "adam" else SGD(spec["lr"])
        self.net = Network(layers, loss=loss, optimizer=opt, seed=0, dtype=dtype)
        self.batch_size = spec["batch_size"]

    def warm_up(self, X, y) -> None:
        with kernel_mode(self.kernels):
            self.net.fit(X, y, epochs=1, batch_size=self.batch_size)

    def prepare(self, X, y) -> None:
        """Nothing to do: chainrule trains on the NumPy arrays as they are."""

    def epoch(self, X, y) -> None:
        with kernel_mode(self.kernels):
            self.net.fit(X, y, epochs=1, batch_size=self.batch_size, shuffle=True)

    def first_moments(self) -> np.ndarray | None:
        return getattr(self.net.optimizer, "m", None)


def chainrule_network(hidden, n_features: int, n_classes: int, dtype: str, batch_size: int):
    """:class:`ChainruleModel`'s network for a multiclass task with Adam, built."""
    spec = {
        "hidden": list(hidden),
        "task": "multiclass",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": batch_size,
        "n_classes": n_classes,
    }
    return ChainruleModel(spec, dtype).net.build(n_features)


class SklearnModel:
    """scikit-learn's ``MLPClassifier``, one epoch per ``fit`` (``max_iter=1``, warm start).

    ``alpha=0`` (no L2 penalty) to train the same model as the others.
    """

    library = "scikit-learn"

    def __init__(self, spec: dict, dtype: str = "float32") -> None:
        from sklearn.neural_network import MLPClassifier

        self.dtype = dtype
        self.model = MLPClassifier(
            hidden_layer_sizes=tuple(spec["hidden"]),
            activation="relu",
            solver=spec["optimizer"],
            learning_rate_init=spec["lr"],
            momentum=0.0,
            batch_size=spec["batch_size"],
            shuffle=True,
            alpha=0.0,
            max_iter=1,
            warm_start=True,
            random_state=0,
        )

    def warm_up(self, X, y) -> None:
        self.epoch(X, y)

    def prepare(self, X, y) -> None:
        """Nothing to do."""

    def epoch(self, X, y) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter=1 on purpose
            self.model.fit(X, y)

    def first_moments(self) -> np.ndarray | None:
        ms = getattr(getattr(self.model, "_optimizer", None), "ms", None)
        return None if ms is None else np.concatenate([m.ravel() for m in ms])


class TorchModel:
    """PyTorch on the CPU: ``nn.Sequential`` of ``Linear``/``ReLU``, the same optimizer,
    ``CrossEntropyLoss`` (or ``BCEWithLogitsLoss`` / sigmoid and ``MSELoss``).

    ``fused=True`` gives the optimizer ``fused=True`` (one kernel for the whole update;
    on the CPU since PyTorch 2.4); by default PyTorch picks its ``foreach`` version.
    """

    library = "PyTorch"

    def __init__(
        self,
        spec: dict,
        dtype: str = "float32",
        threads: int | None = None,
        fused: bool = False,
    ) -> None:
        import torch

        if fused:
            self.library = "PyTorch fused Adam"

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        torch.manual_seed(0)
        widths = [spec["n_features"], *spec["hidden"]]
        modules: list = []
        for fan_in, fan_out in itertools.pairwise(widths):
            modules += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        task = spec["task"]
        n_out = spec["n_classes"] if task == "multiclass" else 1
        modules.append(torch.nn.Linear(widths[-1], n_out))
        if task == "lesson":
            modules.append(torch.nn.Sigmoid())
        self.model = torch.nn.Sequential(*modules).to(getattr(torch, dtype))
        params = self.model.parameters()
        options = {"fused": True} if fused else {}
        if spec["optimizer"] == "adam":
            self.opt = torch.optim.Adam(params, lr=spec["lr"], **options)
        else:
            self.opt = torch.optim.SGD(params, lr=spec["lr"], **options)
        self.loss = {
            "multiclass": torch.nn.CrossEntropyLoss,
            "binary": torch.nn.BCEWithLogitsLoss,
            "lesson": torch.nn.MSELoss,
        }[task]()
        self.task = task
        self.batch_size = spec["batch_size"]
        self.generator = torch.Generator().manual_seed(0)
        self._data = None

    def _tensors(self, X, y):
        if self._data is None or self._data[0] is not X:
            Xt = self.torch.from_numpy(X)  # shares memory with X: no copy
            yt = self.torch.from_numpy(np.asarray(y))
            if self.task != "multiclass":
                yt = yt.to(Xt.dtype).reshape(-1, 1)
            self._data = (X, Xt, yt)
        return self._data[1], self._data[2]

    def warm_up(self, X, y) -> None:
        self.epoch(X, y)

    def prepare(self, X, y) -> None:
        self._tensors(X, y)

    def epoch(self, X, y) -> None:
        Xt, yt = self._tensors(X, y)
        n = Xt.shape[0]
        order = self.torch.randperm(n, generator=self.generator)
        for lo in range(0, n, self.batch_size):
            idx = order[lo : lo + self.batch_size]
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(self.model(Xt[idx]), yt[idx])
            loss.backward()
            self.opt.step()

    def first_moments(self) -> np.ndarray | None:
        moments = [
            state["exp_avg"].detach().numpy().ravel()
            for state in self.opt.state.values()
            if "exp_avg" in state
        ]
        return np.concatenate(moments) if moments else None


class JaxModel:
    """JAX on the CPU, float32: one ``jax.jit``-compiled training step per batch.

    The step gathers the batch from the data (copied to JAX's device once, in
    :meth:`prepare`) by the batch's indices, runs the forward pass (``Dense``/ReLU,
    logits), the mean softmax cross-entropy from ``jax.nn.log_softmax``,
    ``jax.value_and_grad`` and a hand-written Adam identical in formula to
    PyTorch's default (``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
    ``p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)``, eps 1e-8).
    Parameters and moments are donated to the step (``donate_argnums``), so it updates
    them in place. Rows are visited in a new random permutation each epoch (NumPy,
    seeded), as the other contenders do; the epoch ends with ``block_until_ready``.
    Weights and biases start uniform in +-1/sqrt(fan_in), as PyTorch's ``Linear``.
    The first call of each batch shape compiles (the warm-up pays for it). XLA runs on
    its own thread pool, one thread per core.
    """

    library = "JAX jit"

    def __init__(self, spec: dict, dtype: str = "float32", threads: int | None = None) -> None:
        if spec["task"] != "multiclass" or spec["optimizer"] != "adam" or dtype != "float32":
            raise ValueError("the JAX contender trains multiclass Adam in float32 only")
        jax = import_jax()
        jnp = jax.numpy
        self.jax = jax
        rng = np.random.default_rng(0)
        widths = [spec["n_features"], *spec["hidden"], spec["n_classes"]]
        params = []
        for fan_in, fan_out in itertools.pairwise(widths):
            bound = 1.0 / math.sqrt(fan_in)
            w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
            b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
            params.append((jnp.asarray(w), jnp.asarray(b)))
        m = [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params]
        v = [(jnp.zeros_like(w), jnp.zeros_like(b)) for w, b in params]
        self.state = (params, m, v)
        self.t = jnp.zeros((), dtype=jnp.int32)
        self.step = _jax_adam_step(float(spec["lr"]), 0.9, 0.999, 1e-8)
        self.batch_size = spec["batch_size"]
        self.rng = np.random.default_rng(0)
        self._data = None

    def prepare(self, X, y) -> None:
        """Copy ``X`` and ``y`` to JAX's device once and compile the step for their
        shapes (the data is an argument of the step: new shapes compile anew), on a
        copy of the state so the model's own training is untouched. Not timed."""
        if self._data is not None and self._data[0] is X:
            return
        jax, jnp = self.jax, self.jax.numpy
        Xd = jnp.asarray(np.asarray(X, dtype=np.float32))
        yd = jnp.asarray(np.asarray(y, dtype=np.int32))
        self._data = (X, Xd, yd)
        n = Xd.shape[0]
        for size in {min(self.batch_size, n), n % self.batch_size} - {0}:
            state = jax.tree_util.tree_map(jnp.copy, (*self.state, self.t))
            jax.block_until_ready(self.step(*state, Xd, yd, np.arange(size, dtype=np.int32)))

    def warm_up(self, X, y) -> None:
        self.epoch(X, y)

    def epoch(self, X, y) -> None:
        self.prepare(X, y)
        _, Xd, yd = self._data
        n = Xd.shape[0]
        order = self.rng.permutation(n).astype(np.int32)
        (params, m, v), t = self.state, self.t
        for lo in range(0, n, self.batch_size):
            params, m, v, t, _ = self.step(
                params, m, v, t, Xd, yd, order[lo : lo + self.batch_size]
            )
        self.jax.block_until_ready((params, m, v, t))
        self.state, self.t = (params, m, v), t

    def first_moments(self) -> np.ndarray | None:
        return np.concatenate([np.asarray(a).ravel() for pair in self.state[1] for a in pair])


def import_jax():
    """``import jax`` on the CPU (``JAX_PLATFORMS=cpu`` unless set otherwise)."""
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    return jax


@functools.cache
def _jax_adam_step(lr: float, beta_1: float, beta_2: float, eps: float):
    """The jitted training step, one per set of hyperparameters (so models of the same
    shapes share its compiled code: a warm-up model compiles it for a timed one)."""
    jax = import_jax()
    jnp = jax.numpy

    def loss(params, x, labels):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        log_p = jax.nn.log_softmax(x @ w + b)
        return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))

    def step(params, m, v, t, X, y, idx):
        value, grads = jax.value_and_grad(loss)(params, X[idx], y[idx])
        t = t + 1
        tf = t.astype(jnp.float32)
        step_size = lr / (1.0 - beta_1**tf)
        correction_2 = jnp.sqrt(1.0 - beta_2**tf)
        tree = jax.tree_util.tree_map
        m = tree(lambda m, g: beta_1 * m + (1.0 - beta_1) * g, m, grads)
        v = tree(lambda v, g: beta_2 * v + (1.0 - beta_2) * g * g, v, grads)
        params = tree(
            lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / correction_2 + eps), params, m, v
        )
        return params, m, v, t, value

    return jax.jit(step, donate_argnums=(0, 1, 2, 3))


def torch_missing_reason() -> str | None:
    """``None`` when ``import torch`` works, else why PyTorch is skipped."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything
        return f"PyTorch skipped: import torch failed ({type(exc).__name__}: {exc})"
    return None


def torch_fused_missing_reason() -> str | None:
    """``None`` when PyTorch's ``Adam(..., fused=True)`` takes a step on the CPU, else why
    the fused contender is skipped."""
    missing = torch_missing_reason()
    if missing is not None:
        return missing.replace("PyTorch skipped", "PyTorch fused Adam skipped")
    try:
        import torch

        layer = torch.nn.Linear(3, 2)
        opt = torch.optim.Adam(layer.parameters(), lr=1e-3, fused=True)
        layer(torch.ones(4, 3)).sum().backward()
        opt.step()
    except Exception as exc:
        return (
            f"PyTorch fused Adam skipped: torch {torch.__version__} refused "
            f"Adam(fused=True) on the CPU ({type(exc).__name__}: {exc})"
        )
    return None


def jax_missing_reason() -> str | None:
    """``None`` when ``import jax`` works and has a CPU device, else why JAX is skipped."""
    try:
        jax = import_jax()
        jax.devices("cpu")
    except Exception as exc:  # ImportError, or a broken install raising anything
        return f"JAX skipped: import jax failed ({type(exc).__name__}: {exc})"
    return None


def missing_reason(library: str) -> str | None:
    """Why ``library`` cannot run here, or ``None`` when it can (chainrule and
    scikit-learn always can: the suite needs them)."""
    if library == "PyTorch":
        return torch_missing_reason()
    if library == "PyTorch fused Adam":
        return torch_fused_missing_reason()
    if library == "JAX jit":
        return jax_missing_reason()
    return None


def make(
    library: str,
    spec: dict,
    dtype: str = "float32",
    threads: int | None = None,
    kernels: str | None = None,
):
    """The model for ``library`` (one of :data:`LIBRARIES`); ``kernels`` is chainrule's
    kernel mode (see :func:`kernel_mode`), ignored by the others."""
    if library == "chainrule":
        return ChainruleModel(spec, dtype, kernels)
    if library == "scikit-learn":
        return SklearnModel(spec, dtype)
    if library == "PyTorch":
        return TorchModel(spec, dtype, threads)
    if library == "PyTorch fused Adam":
        return TorchModel(spec, dtype, threads, fused=True)
    if library == "JAX jit":
        return JaxModel(spec, dtype, threads)
    raise ValueError(f"unknown library {library!r}; known: {', '.join(LIBRARIES)}")
