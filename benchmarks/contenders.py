"""The same model in chainrule, scikit-learn and PyTorch, one epoch per call.

A *spec* describes the model: ``hidden`` (hidden layer widths), ``task``
(``"multiclass"``, ``"binary"`` or ``"lesson"``: the lesson's sigmoid neuron with the
squared error), ``optimizer`` (``"adam"`` or ``"sgd"``), ``lr``, ``batch_size`` and
``n_classes``. ``make(library, spec)`` returns an object with ``warm_up(X, y)``
(builds the model and its buffers on a few rows) and ``epoch(X, y)`` (one shuffled
pass over all rows).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np


class ChainruleModel:
    """chainrule's ``Network``: ``[Dense(h), ReLU()] * k`` and a fused output layer."""

    library = "chainrule"

    def __init__(self, spec: dict, dtype: str = "float32") -> None:
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
        self.net.fit(X, y, epochs=1, batch_size=self.batch_size)

    def epoch(self, X, y) -> None:
        self.net.fit(X, y, epochs=1, batch_size=self.batch_size, shuffle=True)


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

    def epoch(self, X, y) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter=1 on purpose
            self.model.fit(X, y)


class TorchModel:
    """PyTorch on the CPU: ``nn.Sequential`` of ``Linear``/``ReLU``, the same optimizer,
    ``CrossEntropyLoss`` (or ``BCEWithLogitsLoss`` / sigmoid and ``MSELoss``)."""

    library = "PyTorch"

    def __init__(self, spec: dict, dtype: str = "float32", threads: int | None = None) -> None:
        import torch

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
        if spec["optimizer"] == "adam":
            self.opt = torch.optim.Adam(params, lr=spec["lr"])
        else:
            self.opt = torch.optim.SGD(params, lr=spec["lr"])
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


def torch_missing_reason() -> str | None:
    """``None`` when ``import torch`` works, else why PyTorch is skipped."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything
        return f"PyTorch skipped: import torch failed ({type(exc).__name__}: {exc})"
    return None


def make(library: str, spec: dict, dtype: str = "float32", threads: int | None = None):
    """The model for ``library`` (``"chainrule"``, ``"scikit-learn"``, ``"PyTorch"``)."""
    if library == "chainrule":
        return ChainruleModel(spec, dtype)
    if library == "scikit-learn":
        return SklearnModel(spec, dtype)
    if library == "PyTorch":
        return TorchModel(spec, dtype, threads)
    raise ValueError(f"unknown library {library!r}")
