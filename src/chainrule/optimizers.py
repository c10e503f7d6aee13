"""Optimizers and learning-rate schedules.

An optimizer updates the network's one flat parameter vector ``params`` from the
flat gradient vector ``grads`` with a few in-place, vectorised NumPy calls; it
never computes gradients. Ordered simple to complex: SGD, SGD with momentum
(and Nesterov), RMSprop, Adam, AdamW. Formulas follow Keras (and, for SGD and
Adam, scikit-learn's ``_stochastic_optimizers``, which is the same update).

``learning_rate`` is a number or a schedule (:class:`StepDecay`,
:class:`ExponentialDecay`, :class:`CosineDecay`) evaluated once per epoch.

Adding an optimizer: subclass :class:`Optimizer`, allocate its state in ``build`` and
write the update in ``_update``, then register it in :data:`OPTIMIZERS`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import kernels
from chainrule._validation import (
    check_fraction,
    check_like,
    check_non_negative_float,
    check_positive_float,
    check_positive_int,
    lookup,
)
from chainrule.functions import flush_to_zero

__all__ = [
    "Schedule",
    "Constant",
    "StepDecay",
    "ExponentialDecay",
    "CosineDecay",
    "SCHEDULES",
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "get_optimizer",
    "get_schedule",
]


# ---------------------------------------------------------------- schedules


class Schedule:
    """A learning rate as a function of the epoch number (0-based)."""

    name = ""

    def __call__(self, epoch: int) -> float:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr(epoch) = initial_learning_rate``."""

    name = "constant"

    def __init__(self, initial_learning_rate: float) -> None:
        self.initial_learning_rate = check_positive_float(
            initial_learning_rate, "initial_learning_rate"
        )

    def __call__(self, epoch):
        return self.initial_learning_rate


class StepDecay(Schedule):
    """``lr(epoch) = initial_learning_rate * gamma ** (epoch // step_size)``."""

    name = "step"

    def __init__(self, initial_learning_rate: float, step_size: int = 10, gamma: float = 0.1):
        self.initial_learning_rate = check_positive_float(
            initial_learning_rate, "initial_learning_rate"
        )
        self.step_size = check_positive_int(step_size, "step_size")
        self.gamma = check_positive_float(gamma, "gamma")

    def __call__(self, epoch):
        return self.initial_learning_rate * self.gamma ** (epoch // self.step_size)


class ExponentialDecay(Schedule):
    """``lr(epoch) = initial_learning_rate * decay_rate ** (epoch / decay_epochs)``."""

    name = "exponential"

    def __init__(
        self, initial_learning_rate: float, decay_rate: float = 0.96, decay_epochs: int = 1
    ):
        self.initial_learning_rate = check_positive_float(
            initial_learning_rate, "initial_learning_rate"
        )
        self.decay_rate = check_positive_float(decay_rate, "decay_rate")
        self.decay_epochs = check_positive_int(decay_epochs, "decay_epochs")

    def __call__(self, epoch):
        return self.initial_learning_rate * self.decay_rate ** (epoch / self.decay_epochs)


class CosineDecay(Schedule):
    """Cosine from ``initial_learning_rate`` down to ``alpha * initial_learning_rate``
    over ``decay_epochs`` epochs, then flat:
    ``lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(epoch, E) / E)) + alpha)``.
    """

    name = "cosine"

    def __init__(self, initial_learning_rate: float, decay_epochs: int, alpha: float = 0.0):
        self.initial_learning_rate = check_positive_float(
            initial_learning_rate, "initial_learning_rate"
        )
        self.decay_epochs = check_positive_int(decay_epochs, "decay_epochs")
        self.alpha = check_fraction(alpha, "alpha")

    def __call__(self, epoch):
        progress = min(epoch, self.decay_epochs) / self.decay_epochs
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


SCHEDULES: dict[str, type[Schedule]] = {
    cls.name: cls for cls in (Constant, StepDecay, ExponentialDecay, CosineDecay)
}


def get_schedule(config: dict[str, Any]) -> Schedule:
    """Build a schedule from ``{"class_name": ..., "config": {...}}``."""
    by_class = {cls.__name__: cls for cls in SCHEDULES.values()}
    cls = lookup({k.lower(): v for k, v in by_class.items()}, config["class_name"], "schedule")
    return cls(**config["config"])


# ---------------------------------------------------------------- optimizers


class Optimizer:
    """Base class: the learning rate, the step count ``iterations`` and the update.

    Parameters
    ----------
    learning_rate : float or Schedule
        Step size, or a schedule of the epoch number.

    Attributes
    ----------
    learning_rate : float
        The rate the next step uses. A schedule sets it at the start of training and
        after every epoch (for the next one); callbacks such as ReduceLROnPlateau lower it.
    schedule : Schedule or None
        The schedule given as ``learning_rate``, if any.
    iterations : int
        Steps taken since :meth:`build`.
    """

    name = ""
    _config_keys: tuple[str, ...] = ()
    #: the names of the state arrays ``build`` allocates (model files store them as
    #: ``optimizer.<name>``)
    _state_arrays: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | Schedule) -> None:
        if isinstance(learning_rate, Schedule):
            self.schedule = learning_rate
            self.learning_rate = float(learning_rate(0))
        else:
            self.schedule = None
            self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        self.iterations = 0

    def set_epoch(self, epoch: int) -> None:
        """Take the learning rate of ``epoch`` (0-based) from the schedule, if there is one."""
        if self.schedule is not None:
            self.learning_rate = float(self.schedule(epoch))

    def build(self, params: np.ndarray) -> None:
        """Allocate the state (momentum, moments) for a flat parameter vector."""
        self.iterations = 0

    def step(
        self, params: np.ndarray, grads: np.ndarray, l2: float = 0.0, n_weights: int = 0
    ) -> None:
        """Update ``params`` in place from ``grads``: the formula of ``_update``, or the
        kernel that stands in for it (:mod:`chainrule.kernels`) when kernels are on.

        With ``l2``, the L2 penalty's gradient joins ``grads`` first:
        ``grads[:n_weights] += l2 * params[:n_weights]`` (the weights come first in the
        flat vector; biases are not penalised).
        """
        self.iterations += 1
        kernel = kernels.optimizer_kernel(self)
        if kernel is None:
            if l2:
                grads[:n_weights] += l2 * params[:n_weights]
            self._update(params, grads)
        else:
            kernel(self, params, grads, l2, n_weights)

    def _update(self, params, grads):  # pragma: no cover
        """The update, as the formula reads (the reference a kernel is tested against)."""
        raise NotImplementedError

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What resuming needs, as PyTorch's ``optimizer.state_dict()``: the step count and
        the current rate (JSON-safe), and the state arrays by name (the moments)."""
        arrays = {name: getattr(self, name) for name in self._state_arrays}
        scalars = {"iterations": int(self.iterations), "learning_rate": float(self.learning_rate)}
        return scalars, {k: v for k, v in arrays.items() if v is not None}

    def set_state(self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Put back what :meth:`get_state` returned, after :meth:`build`; checks every value
        (a ``ValueError`` names what does not fit)."""
        iterations = scalars.get("iterations") if isinstance(scalars, dict) else None
        rate = scalars.get("learning_rate") if isinstance(scalars, dict) else None
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
            raise ValueError(
                f"the optimizer's iterations must be an integer >= 0; got {iterations!r}"
            )
        if (
            not isinstance(rate, (int, float))
            or isinstance(rate, bool)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValueError(
                f"the optimizer's learning_rate must be a positive number; got {rate!r}"
            )
        wanted = {name for name in self._state_arrays if getattr(self, name) is not None}
        if set(arrays) != wanted:
            raise ValueError(
                f"{type(self).__name__} keeps the arrays {sorted(wanted)}; the state holds "
                f"{sorted(arrays)}"
            )
        for name in sorted(wanted):
            check_like(np.asarray(arrays[name]), getattr(self, name), f"the optimizer's {name}")
        for name in wanted:
            getattr(self, name)[...] = arrays[name]
        self.iterations = iterations
        self.learning_rate = float(rate)

    def __getstate__(self) -> dict[str, Any]:
        # a kernel's scratch vector is made again when needed
        return {k: v for k, v in self.__dict__.items() if k != "_scratch"}

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-safe values: the schedule, or the current rate
        (also for a schedule not in ``SCHEDULES``, which a model file cannot name)."""
        config = {k: getattr(self, k) for k in self._config_keys}
        if type(self.schedule) in SCHEDULES.values():
            name = type(self.schedule).__name__
            config["learning_rate"] = {"class_name": name, "config": self.schedule.get_config()}
        else:
            config["learning_rate"] = self.learning_rate
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = get_schedule(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Plain: ``p -= lr * g`` (the lesson's ``_update_parameters``).
    Momentum: ``v = momentum * v - lr * g``; ``p += v``.
    Nesterov: ``v = momentum * v - lr * g``; ``p += momentum * v - lr * g``.

    Parameters
    ----------
    learning_rate : float or Schedule, default=0.01
    momentum : float, default=0.0
        In [0, 1).
    nesterov : bool, default=False
    """

    name = "sgd"
    _config_keys = ("momentum", "nesterov")
    _state_arrays = ("velocity",)

    def __init__(
        self, learning_rate: float | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False
    ) -> None:
        super().__init__(learning_rate)
        self.momentum = check_fraction(momentum, "momentum")
        self.nesterov = bool(nesterov)

    def build(self, params):
        super().build(params)
        self.velocity = np.zeros_like(params) if self.momentum else None

    def _update(self, params, grads):
        lr, momentum = self.learning_rate, self.momentum
        if not momentum:
            params -= lr * grads
            return
        self.velocity *= momentum
        self.velocity -= lr * grads  # v = momentum v - lr g
        flush_to_zero(self.velocity)
        if self.nesterov:
            params += momentum * self.velocity - lr * grads
        else:
            params += self.velocity


class RMSprop(Optimizer):
    """RMSprop: ``s = rho * s + (1 - rho) * g**2``; ``p -= lr * g / (sqrt(s) + epsilon)``.

    Parameters
    ----------
    learning_rate : float or Schedule, default=0.001
    rho : float, default=0.9
    epsilon : float, default=1e-7
    """

    name = "rmsprop"
    _config_keys = ("rho", "epsilon")
    _state_arrays = ("mean_square",)

    def __init__(
        self, learning_rate: float | Schedule = 0.001, rho: float = 0.9, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.rho = check_fraction(rho, "rho")
        self.epsilon = check_positive_float(epsilon, "epsilon")

    def build(self, params):
        super().build(params)
        self.mean_square = np.zeros_like(params)

    def _update(self, params, grads):
        s = self.mean_square
        s *= self.rho
        s += (1.0 - self.rho) * grads**2  # s = rho s + (1 - rho) g^2
        flush_to_zero(s, np.finfo(s.dtype).tiny)
        params -= self.learning_rate * grads / (np.sqrt(s) + self.epsilon)


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), with the bias corrections folded into the rate.

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
    ``lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)``;
    ``p -= lr_t * m / (sqrt(v) + epsilon)``

    (the paper's Section 2 ordering, which scikit-learn uses too).

    Parameters
    ----------
    learning_rate : float or Schedule, default=0.001
    beta_1 : float, default=0.9
    beta_2 : float, default=0.999
    epsilon : float, default=1e-7

    Attributes
    ----------
    m, v : ndarray
        The first- and second-moment estimates, shaped like the parameters.
    """

    name = "adam"
    _config_keys = ("beta_1", "beta_2", "epsilon")
    _state_arrays = ("m", "v")

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1 = check_fraction(beta_1, "beta_1")
        self.beta_2 = check_fraction(beta_2, "beta_2")
        self.epsilon = check_positive_float(epsilon, "epsilon")

    def build(self, params):
        super().build(params)
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)

    def _update(self, params, grads):
        beta_1, beta_2, t = self.beta_1, self.beta_2, self.iterations
        m, v = self.m, self.v
        m *= beta_1
        m += (1.0 - beta_1) * grads  # m = b1 m + (1 - b1) g
        v *= beta_2
        v += (1.0 - beta_2) * grads**2  # v = b2 v + (1 - b2) g^2
        flush_to_zero(m)  # a moment of a weight whose gradient stays 0 decays towards
        flush_to_zero(v, np.finfo(v.dtype).tiny)  # 0: it becomes 0, never subnormal
        lr_t = self.learning_rate * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
        params -= lr_t * m / (np.sqrt(v) + self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    Before the Adam step: ``p -= lr * weight_decay * p``.

    Parameters
    ----------
    learning_rate : float or Schedule, default=0.001
    weight_decay : float, default=0.004
    beta_1, beta_2, epsilon : float
        As for :class:`Adam`.
    """

    name = "adamw"
    _config_keys = ("weight_decay", "beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        self.weight_decay = check_non_negative_float(weight_decay, "weight_decay")

    def _update(self, params, grads):
        params *= 1.0 - self.learning_rate * self.weight_decay
        super()._update(params, grads)


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.name: cls for cls in (SGD, RMSprop, Adam, AdamW)}

kernels.register_optimizer(SGD, kernels.sgd_update, kernels.compiled_sgd)
kernels.register_optimizer(RMSprop, kernels.rmsprop_update, kernels.compiled_rmsprop)
kernels.register_optimizer(Adam, kernels.adam_update, kernels.compiled_adam)
kernels.register_optimizer(AdamW, kernels.adamw_update, kernels.compiled_adamw)


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """Return an Optimizer from a name in ``OPTIMIZERS`` (default settings) or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    return lookup(OPTIMIZERS, optimizer, "optimizer")()
