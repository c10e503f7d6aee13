"""Shared fixtures."""

import pytest


@pytest.fixture(scope="module")
def one_blas_thread():
    """Small matrices: one BLAS thread is fastest, and steady on a busy machine.

    Modules with many small fits use it with ``pytest.mark.usefixtures``.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
