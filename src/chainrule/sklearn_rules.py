"""scikit-learn's MLP training rules, as pieces of chainrule's engine.

The estimators (:mod:`chainrule.estimators`) train through chainrule's one training
loop; what scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` do differently is here,
each plugged into one of the loop's seams:

- its losses (:class:`LogLoss`, :class:`BinaryLogLoss`, :class:`SquaredLoss`): the
  values scikit-learn reports, with the gradients it steps along;
- ``learning_rate="invscaling"``, a schedule (:class:`InverseScaling`);
- what scikit-learn does after every epoch, one callback (:class:`SklearnEpochs`): the
  fitted attributes, ``n_iter_no_change``/``tol``, ``learning_rate="adaptive"`` and
  ``early_stopping``.

The batch order needs nothing of its own: :class:`~chainrule.training.ArrayBatches`
shuffled by scikit-learn's ``RandomState`` visits scikit-learn's batches.
"""

from __future__ import annotations

import numpy as np

from chainrule import functions as F
from chainrule import kernels
from chainrule.callbacks import Callback
from chainrule.layers import Exp, Sigmoid, Softmax
from chainrule.losses import (
    CategoricalCrossentropy,
    HalfPoissonDeviance,
    HalfSquaredError,
    MultilabelCrossentropy,
)
from chainrule.optimizers import Schedule

__all__ = ["OUTPUTS", "BinaryLogLoss", "InverseScaling", "LogLoss", "SklearnEpochs", "SquaredLoss"]


def _clipped(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities clipped to ``[eps, 1 - eps]``, as scikit-learn clips them before
    taking logs (so a sample's loss is at most about 36 in float64, 16 in float32)."""
    eps = np.finfo(probabilities.dtype).eps
    return np.clip(probabilities, eps, 1 - eps)


class LogLoss(CategoricalCrossentropy):
    """scikit-learn's ``log_loss`` for a softmax output: ``-log(p[label])`` from clipped
    probabilities for the value, ``softmax(z) - onehot`` (the unclipped loss's gradient)
    for the gradient. L-BFGS's line search compares the values, so lbfgs takes
    scikit-learn's steps. Integer labels only."""

    def per_sample(self, output, target):
        rows = np.arange(output.shape[0])
        probabilities = F.softmax(output, axis=1)
        losses = -np.log(_clipped(probabilities[rows, target]))
        derror_dz = probabilities
        derror_dz[rows, target] -= 1.0
        return losses, derror_dz


class BinaryLogLoss(MultilabelCrossentropy):
    """scikit-learn's ``binary_log_loss`` for sigmoid outputs (binary and multilabel):
    ``-sum_j [t_j log p_j + (1 - t_j) log(1 - p_j)]`` from clipped probabilities, with
    the gradient ``sigmoid(z) - t``."""

    def per_sample(self, output, target):
        probabilities = F.sigmoid(output)
        p = _clipped(probabilities)
        losses = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p), axis=1)
        return losses, probabilities - target


class SquaredLoss(HalfSquaredError):
    """scikit-learn's ``squared_loss``: it *reports* the half squared error averaged
    over the outputs, but steps along the gradient of its sum over the outputs."""

    def per_sample(self, output, target):
        losses, derror_doutput = super().per_sample(output, target)
        return losses / output.shape[1], derror_doutput


kernels.register_loss(LogLoss, kernels.clipped_log_loss, kernels.compiled_clipped_log_loss)

#: out_activation_ -> (output layer appended after the last Dense, scikit-learn's loss)
OUTPUTS = {
    "softmax": (Softmax, LogLoss),
    "logistic": (Sigmoid, BinaryLogLoss),
    "identity": (None, SquaredLoss),
    "exp": (Exp, HalfPoissonDeviance),
}


# ---------------------------------------------------------------- scikit-learn's rules


class InverseScaling(Schedule):
    """``learning_rate="invscaling"``: after each epoch scikit-learn sets the rate to
    ``learning_rate_init / (t + 1) ** power_t``, ``t`` the samples seen so far (``t_``).

    For one call to ``fit`` or ``partial_fit`` that started with ``samples_before`` seen
    and a rate of ``first_rate``, with ``samples_per_epoch`` rows per epoch.
    """

    def __init__(self, initial, power_t, samples_before, samples_per_epoch, first_rate):
        self.initial, self.power_t, self.first_rate = initial, power_t, first_rate
        self.samples_before, self.samples_per_epoch = samples_before, samples_per_epoch

    def __call__(self, epoch):
        if epoch == 0:
            return self.first_rate
        seen = self.samples_before + epoch * self.samples_per_epoch
        return self.initial / (seen + 1) ** self.power_t


class SklearnEpochs(Callback):
    """scikit-learn's bookkeeping after every epoch of sgd and adam, as one callback.

    It updates ``n_iter_``, ``t_``, ``loss_`` and ``loss_curve_``, scores the validation
    rows with ``early_stopping`` (``validation_scores_``, ``best_validation_score_``,
    the best weights, put back at the end), and applies scikit-learn's stopping rule:
    after more than ``n_iter_no_change`` epochs that did not improve the training loss
    (or the validation score) by ``tol``, stop, or with sgd's ``"adaptive"`` rate divide
    the rate by 5 (stopping once it is at most 1e-6). A ``partial_fit`` stops after
    one epoch.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    n_samples : int
        Training rows per epoch.
    validation : tuple (X_val, y_val, sample_weight_val) or None
        The early-stopping rows; ``y_val`` as ``predict`` returns labels.
    incremental : bool
    """

    def __init__(self, estimator, n_samples: int, validation, incremental: bool) -> None:
        self.estimator = estimator
        self.n_samples = n_samples
        self.validation = validation
        self.incremental = incremental
        self.stopped = False

    def on_epoch_end(self, epoch, logs):
        est = self.estimator
        est.n_iter_ += 1
        est.loss_ = logs["loss"]
        est.t_ += self.n_samples
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.validation is not None:
            score = est._score(*self.validation)
            logs[est._score_name] = score  # for the user's callbacks after this one
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = self.network.params.copy()
        else:
            if est.loss_ > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, est.loss_)
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            message = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if self._stop_or_slow_down(message):
                self.stopped = self.network.stop_training = True
            else:
                est._no_improvement_count = 0
        if self.incremental:
            self.network.stop_training = True

    def _stop_or_slow_down(self, message: str) -> bool:
        """scikit-learn's ``trigger_stopping``: True to stop; sgd's "adaptive" rate is
        divided by 5 instead, until it is at most 1e-6."""
        est, optimizer = self.estimator, self.network.optimizer
        if est.solver != "sgd" or est.learning_rate != "adaptive":
            message += " Stopping."
        elif optimizer.learning_rate <= 1e-6:
            message += " Learning rate too small. Stopping."
        else:
            optimizer.learning_rate /= 5.0
            message += f" Setting learning rate to {optimizer.learning_rate:f}"
            if est.verbose:
                print(message)
            return False
        if est.verbose:
            print(message)
        return True

    def on_train_end(self, logs):
        if self.validation is not None:
            self.network.params[...] = self.estimator._best_params  # the best epoch's
