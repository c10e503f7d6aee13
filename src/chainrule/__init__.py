"""chainrule: neural networks from the chain rule up, in NumPy.

The public API:

- :class:`Network` with the layers :class:`Dense`, :class:`ReLU`, :class:`LeakyReLU`,
  :class:`Sigmoid`, :class:`Tanh`, :class:`GELU`, :class:`Softmax`, :class:`Dropout`;
- the optimizers :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop` and the
  learning-rate schedules;
- the training loop's callbacks :class:`EarlyStopping`, :class:`ReduceLROnPlateau`,
  :class:`Checkpoint`;
- :func:`load` and :func:`save` (model files), :func:`to_onnx` (ONNX export);
- :func:`explain` (one prediction's chain rule, value by value, as a :class:`Trace`);
- :func:`permutation_importance` and :func:`attributions` (which columns matter);
- :mod:`chainrule.tutorial` (the lesson's ``NeuralNetwork``) and
  :mod:`chainrule.gradcheck` (finite-difference gradient checks).
"""

from chainrule import gradcheck, kernels, tutorial
from chainrule._version import __version__
from chainrule.callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    History,
    LambdaCallback,
    ReduceLROnPlateau,
)
from chainrule.diagnostics import Diagnostics, TrainingHealthWarning
from chainrule.errors import (
    DataError,
    ModelFileError,
    PartitionsLostError,
    TrainingDivergedError,
)
from chainrule.explain import Trace, explain
from chainrule.importance import attributions, permutation_importance
from chainrule.io import load, save
from chainrule.layers import (
    ACTIVATIONS,
    GELU,
    LAYERS,
    Dense,
    Dropout,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.losses import LOSSES, BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError
from chainrule.metrics import METRICS
from chainrule.network import Network
from chainrule.onnx_export import to_onnx
from chainrule.optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    CosineDecay,
    ExponentialDecay,
    RMSprop,
    StepDecay,
)
from chainrule.training import Chunks, array_chunks

__all__ = [
    "Trace",
    "explain",
    "ACTIVATIONS",
    "LAYERS",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "Adam",
    "AdamW",
    "BinaryCrossentropy",
    "Callback",
    "CategoricalCrossentropy",
    "Checkpoint",
    "Chunks",
    "CosineDecay",
    "DataError",
    "Dense",
    "Diagnostics",
    "Dropout",
    "EarlyStopping",
    "ExponentialDecay",
    "GELU",
    "History",
    "Identity",
    "LambdaCallback",
    "Layer",
    "LeakyReLU",
    "MeanSquaredError",
    "ModelFileError",
    "Network",
    "PartitionsLostError",
    "RMSprop",
    "ReLU",
    "ReduceLROnPlateau",
    "SGD",
    "Sigmoid",
    "Softmax",
    "StepDecay",
    "Tanh",
    "TrainingDivergedError",
    "TrainingHealthWarning",
    "__version__",
    "array_chunks",
    "gradcheck",
    "kernels",
    "tutorial",
    "attributions",
    "load",
    "permutation_importance",
    "save",
    "to_onnx",
]


def __getattr__(name: str):
    """``chainrule.MLPClassifier`` / ``MLPRegressor``, imported on first use.

    They live in :mod:`chainrule.estimators`, which needs scikit-learn and SciPy (the
    ``sklearn`` extra); ``import chainrule`` itself stays NumPy-only.
    """
    if name in ("MLPClassifier", "MLPRegressor"):
        try:
            from chainrule import estimators
        except ImportError as exc:
            raise ImportError(
                f"chainrule.{name} needs scikit-learn and SciPy ({exc}); install them with "
                "pip install 'chainrule[sklearn]'"
            ) from exc
        return getattr(estimators, name)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
