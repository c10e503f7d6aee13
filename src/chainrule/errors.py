"""The exceptions users catch.

Each is a subclass of a built-in exception, so ``except ValueError`` (or
``except FloatingPointError``) catches it too; the message names what was wrong and
how to fix it.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["DataError", "ModelFileError", "TrainingDivergedError"]


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


class UserError(Exception):
    """The ``chainrule`` command's own find of an error in the user's data, files or
    options: reported in one line, exit code 1, no traceback (see :func:`chainrule.cli.main`).
    Not raised by the library. (The library's finds in the rows are :class:`DataError`,
    which the command turns into a UserError naming the file.)"""
