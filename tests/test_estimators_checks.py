"""scikit-learn's own estimator checks on chainrule's MLPClassifier and MLPRegressor."""

import pytest

pytest.importorskip("sklearn", reason="the estimators need the sklearn extra")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from chainrule.estimators import MLPClassifier, MLPRegressor  # noqa: E402

# max_iter=100 as scikit-learn's own test suite runs its MLPs (instance_generator.py);
# the lbfgs instances cover the full-batch path.
ESTIMATORS = [
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    MLPClassifier(solver="lbfgs", max_iter=100),
    MLPRegressor(solver="lbfgs", max_iter=100),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_convergence_warning_is_scikit_learns():
    assert issubclass(ConvergenceWarning, UserWarning)
