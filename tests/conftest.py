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


def _dask_client(processes: bool):
    """A Dask client on a LocalCluster of this machine: 2 workers of 1 thread."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'chainrule[dask]')"
    )
    # worker processes listen on the loopback only; threads talk in-process (inproc://),
    # where a host is refused
    network = {"host": "127.0.0.1"} if processes else {}
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=":0",
        **network,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster with its workers as threads of this process (cheap; shared by the
    session's Dask tests)."""
    yield from _dask_client(processes=False)


@pytest.fixture(scope="session")
def dask_process_client():
    """A LocalCluster with two worker processes: what a real cluster does (pickling,
    imports in another interpreter). Shared by the session's Dask tests; a test that
    kills a worker makes its own cluster."""
    yield from _dask_client(processes=True)
