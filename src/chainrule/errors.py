"""The exceptions users catch.

Each is a subclass of a built-in exception, so ``except ValueError`` (or
``except FloatingPointError``) catches it too; the message names what was wrong and
how to fix it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["DataError", "ModelFileError", "PartitionsLostError", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """A training step produced a non-finite loss or non-finite weights.

    Training stops before the update that would spoil the weights; the last finite
    weights are kept.
    """


class ModelFileError(ValueError):
    """A file that is not a readable chainrule model file; the message says why.

    Attributes
    ----------
    path : str
        The file in question.
    problem : str
        What is wrong with it.
    """

    def __init__(self, path: Any, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"cannot load model file {self.path!r}: {problem}")


class DataError(ValueError):
    """The rows of a table cannot be used as they are; the message names the column or
    row and says how to fix it.

    A ValueError, so ``except ValueError`` catches it; the ``chainrule`` command reports
    it in one line naming the file, and reports other errors as bugs.
    """


class PartitionsLostError(RuntimeError):
    """Data-parallel training (:mod:`chainrule.distributed`) lost partitions of its data.

    Raised when a Dask worker died with partitions that cannot be made again (data
    scattered to it, or a task that kept killing its workers), so training cannot go on
    with all the rows; no model is returned trained on part of the data. The message
    names the partitions and what to do.

    Attributes
    ----------
    partitions : list of int
        The lost partitions' numbers (0-based, in the data's order); empty when Dask did
        not say which.
    reason : str
        What Dask reported.
    """

    def __init__(self, partitions: list[int], reason: str) -> None:
        self.partitions = list(partitions)
        self.reason = reason
        which = f"partitions {self.partitions} (0-based)" if self.partitions else "some partitions"
        super().__init__(
            f"data-parallel training lost {which} of its data: {reason}. The model was not "
            "trained on all the rows and is not returned. Run the fit again (with more "
            "memory per worker if workers ran out of it); to survive the loss of a worker, "
            "build the Dask collection from its source (read_parquet, from_array, ...) so "
            "that Dask can compute lost partitions again, rather than client.scatter-ed "
            "data, or keep copies with client.replicate."
        )


class UserError(Exception):
    """The ``chainrule`` command's own find of an error in the user's data, files or
    options: reported in one line, exit code 1, no traceback (see :func:`chainrule.cli.main`).
    Not raised by the library. (The library's finds in the rows are :class:`DataError`,
    which the command turns into a UserError naming the file.)"""
