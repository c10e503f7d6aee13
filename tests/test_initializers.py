"""Weight initialisers (chainrule.initializers): each draws at the scale its formula
gives, and the registry holds exactly the five names."""

import numpy as np
import pytest

from chainrule.initializers import INITIALIZERS, get_initializer


def test_initializers_have_the_right_scale():
    rng = np.random.default_rng(0)
    w = np.empty((400, 200))
    get_initializer("glorot_uniform")(w, rng)
    limit = np.sqrt(6 / 600)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    get_initializer("he_uniform")(w, rng)
    assert np.abs(w).max() <= np.sqrt(6 / 400)
    get_initializer("glorot_normal")(w, rng)
    assert w.std() == pytest.approx(np.sqrt(2 / 600), rel=0.02)
    get_initializer("he_normal")(w, rng)
    assert w.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    get_initializer("zeros")(w, rng)
    assert not w.any()
    assert set(INITIALIZERS) == {
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
        "zeros",
    }
