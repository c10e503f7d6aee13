"""scikit-learn's own estimator checks on chainrule's MLPClassifier and MLPRegressor.

Every check runs and none is marked as expected to fail. scikit-learn itself skips a
few as not applicable, with its reason shown by ``pytest -ra``: the array-API checks
(they need ``SCIPY_ARRAY_API=1`` set before SciPy is imported) and the
``decision_function`` checks (the MLPs, like scikit-learn's, have none).
"""

import pytest

pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")

from sklearn.utils.estimator_checks import parametrize_with_checks

from chainrule.estimators import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.usefixtures("one_blas_thread")

# max_iter=100 as scikit-learn's own test suite runs its MLPs (instance_generator.py);
# the lbfgs instances cover the full-batch path, the last two chainrule's activations.
ESTIMATORS = [
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    MLPClassifier(solver="lbfgs", max_iter=100),
    MLPRegressor(solver="lbfgs", max_iter=100),
    MLPClassifier(activation="gelu", max_iter=100),
    MLPRegressor(activation="leaky_relu", max_iter=100),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
