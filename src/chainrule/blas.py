"""One thread for the BLAS libraries other than NumPy's, while L-BFGS runs.

NumPy's and SciPy's wheels each bring an OpenBLAS with its own thread pool. In an
lbfgs fit, SciPy's L-BFGS-B (SciPy's BLAS) and the network's matrix products (NumPy's)
take turns, and the pool that has just finished keeps its threads spinning on the
cores the other needs: a digits fit ran 8x slower. L-BFGS-B's BLAS work is on vectors,
as fast with one thread. :func:`other_blas_single_threaded` limits every BLAS but
NumPy's to one thread, and restores them afterwards.

Thread pools belong to the whole process, so the limit is shared: overlapping fits
(threads) hold one limit, set by the first and lifted by the last. Nothing changes
when NumPy's BLAS cannot be told apart or is the only one (a single shared library,
as with conda's MKL). Needs threadpoolctl (a dependency of scikit-learn).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["other_blas", "other_blas_single_threaded"]


def other_blas() -> list[str]:
    """The file paths of the BLAS libraries loaded besides NumPy's (none when NumPy's
    cannot be told apart)."""
    from threadpoolctl import threadpool_info

    numpy_dir = Path(np.__file__).resolve().parent
    own = {numpy_dir, numpy_dir.parent / "numpy.libs"}
    blas = [info["filepath"] for info in threadpool_info() if info["user_api"] == "blas"]
    numpy_blas = [path for path in blas if Path(path).resolve().parent in own]
    return [path for path in blas if path not in numpy_blas] if numpy_blas else []


class _SharedLimit:
    """The process's one limit: how many fits hold it, and how to lift it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.limit = None

    def acquire(self, libraries: list[str]) -> None:
        from threadpoolctl import ThreadpoolController

        with self.lock:
            if self.holders == 0:
                self.limit = ThreadpoolController().select(filepath=libraries).limit(limits=1)
            self.holders += 1

    def release(self) -> None:
        with self.lock:
            self.holders -= 1
            if self.holders == 0:
                self.limit.restore_original_limits()
                self.limit = None


_LIMIT = _SharedLimit()


@contextmanager
def other_blas_single_threaded() -> Iterator[None]:
    """A context in which the BLAS libraries other than NumPy's run one thread each."""
    libraries = other_blas()
    if not libraries:
        yield
        return
    _LIMIT.acquire(libraries)
    try:
        yield
    finally:
        _LIMIT.release()
