"""Shared fixtures.

``CHAINRULE_TEST_WITHOUT_NUMBA=1`` runs the suite as on a machine without the ``fast``
extra: numba cannot be imported, so the NumPy kernels and the reference do all the
work (``.ci/run`` runs the suite both ways).
"""

import os
import signal
import sys

import pytest

if os.environ.get("CHAINRULE_TEST_WITHOUT_NUMBA") == "1":
    sys.modules["numba"] = None  # import numba raises ImportError


@pytest.fixture(scope="module")
def one_blas_thread():
    """Small matrices: one BLAS thread is fastest, and steady on a busy machine.

    Modules with many small fits use it with ``pytest.mark.usefixtures``.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler (KeyboardInterrupt) during the test, then the one before:
    a shell starts background jobs with SIGINT ignored, and a test that sends itself
    SIGINT must see it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
