import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from chainrule.estimators import MLPClassifier, MLPRegressor

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([
    MLPClassifier(max_iter=100, dropout=0.1, class_weight={0: 2.0}, activation="gelu"),
    MLPRegressor(max_iter=100, dtype="float32", early_stopping=True, activation="leaky_relu"),
    MLPClassifier(solver="sgd", max_iter=100, early_stopping=True),
])
def test_checks(estimator, check):
    check(estimator)
