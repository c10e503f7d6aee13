"""The warnings about columns that look wrong, while a
:class:`~chainrule.preprocessing.Preprocessor` learns them, and the messages' words
for rows.

A column is used as it reads; these warn when it likely means something else: an
identifier or row number (a different value in every row) that the network would
learn by heart, a column of numbers or dates with a few stray values (a marker of
"missing", a typing slip) or numbers written with commas, read as text categories.
Each warning names the column, the values and their rows, and the option that helps
(``--ignore``, ``--na-values``, ``--decimal``, ``--thousands``). Rows are named by
the frame's index (the command line's spreadsheet row numbers).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "not_numbers",
    "rows_text",
    "rows_verb",
    "warn_if_identifier_dates",
    "warn_if_identifier_text",
    "warn_if_mostly_numbers",
    "warn_if_row_numbers",
    "warn_stray",
]

#: more distinct values than this (and than half the rows) in a text column draws a warning
MANY_CATEGORIES = 50
#: a numeric or date column with a different value in each of at least this many rows
#: draws the identifier warning (a text column: ``MANY_CATEGORIES``)
MIN_ID_ROWS = 20
#: a text column whose values are numbers (or dates) but for at least this share is
#: read as "numbers with a few stray values" and draws a warning naming them
MOSTLY = 0.8
#: numbers written with thousands separators or a decimal comma: "1,037", "1.037,5", "2,5"
_COMMA_NUMBER = r"^[-+]?(\d{1,3}([,.' ]\d{3})+([.,]\d+)?|\d+,\d+)$"


def rows_text(labels: Sequence[Any], limit: int = 5) -> str:
    """``"row 3"`` or ``"rows 3, 8, 9 and 12 more"``."""
    labels = list(labels)
    shown = ", ".join(str(r) for r in labels[:limit])
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return f"{'row' if len(labels) == 1 else 'rows'} {shown}{more}"


def rows_verb(labels: Sequence[Any], singular: str, plural: str) -> str:
    """``"row 3 holds"`` or ``"rows 3, 8 hold"``: :func:`rows_text` and a verb that agrees."""
    return f"{rows_text(labels)} {singular if len(list(labels)) == 1 else plural}"


def warn_if_row_numbers(name: str, observed: np.ndarray, scope: str = "") -> None:
    """Warn when a number column holds a different whole number in every row, densely
    (such as 1..n, in any order): a row number or identifier, not a measurement.
    ``scope`` follows "every row" (such as " of its first chunk")."""
    n = observed.size
    if n < MIN_ID_ROWS or not np.all(np.mod(observed, 1) == 0):
        return
    low, high = float(observed.min()), float(observed.max())
    if high - low + 1 <= 2 * n and np.unique(observed).size == n:
        warnings.warn(
            f"column {name!r} holds a different whole number in every row{scope} ({low:.0f} to "
            f"{high:.0f}): it looks like a row number or identifier, and is used as a "
            f"number feature. Ignore it (--ignore {name}) unless its value matters.",
            UserWarning,
            stacklevel=5,
        )


def warn_stray(name: str, what: str, stray: pd.Series, commas: pd.Series) -> None:
    """Warn that a column of ``what`` (numbers, dates) holds a few other values (``stray``)
    or numbers written with commas (``commas``), naming up to three with their rows, and
    say what would read them."""
    shown = stray if len(stray) else commas
    values = list(dict.fromkeys(shown.tolist()))
    listed = ", ".join(repr(v) for v in values[:3]) + (" ..." if len(values) > 3 else "")
    fixes = []
    if len(stray):
        fixes.append(
            "add values that mean 'missing' to the missing-value markers "
            f"(--na-values {values[0]!r}; read_csv's na_values)"
        )
    if len(commas):
        fixes.append(
            "read numbers written with a decimal comma or a thousands separator (such as "
            f"{commas.iloc[0]!r}) with --decimal , or --thousands , (read_csv's decimal, "
            "thousands)"
        )
    if len(stray):
        found = f"{what} except {len(shown)} value(s): {listed}"
    else:
        found = f"numbers written with commas, such as {listed}"
    warnings.warn(
        f"column {name!r} holds {found} ({rows_text(shown.index, limit=3)}), so it is "
        f"used as text categories, not as {what}. Fix the file, or "
        f"{'; or '.join(fixes) or 'leave it out (--ignore)'}",
        UserWarning,
        stacklevel=5,
    )


def warn_if_mostly_numbers(name: str, text: pd.Series) -> bool:
    """Warn (and return True) when a text column's values are numbers but for a few, or
    numbers written with thousands separators or decimal commas."""
    import pandas as pd  # the caller's Series: pandas is there

    if text.empty:
        return False
    stripped = text.str.strip()
    plain = pd.to_numeric(stripped, errors="coerce").notna().to_numpy()
    commas = stripped.str.match(_COMMA_NUMBER).to_numpy() & ~plain
    numberish = plain | commas
    if numberish.mean() < MOSTLY or plain.all():
        return False
    warn_stray(name, "numbers", text[~numberish], text[commas])
    return True


def not_numbers(name: str, text: pd.Series) -> str:
    """The message for text in a number column: values that are not numbers at all
    first (with a hint at missing-value markers), else numbers written with commas."""
    commas = text.astype(str).str.strip().str.match(_COMMA_NUMBER).to_numpy()
    if commas.all():
        hint = " (a thousands separator or decimal comma: --thousands, --decimal)"
    else:
        text = text[~commas]
        hint = f" (if it means 'missing': --na-values {str(text.iloc[0])!r})"
    return (
        f"column {name!r} must hold numbers, as in training; "
        f"{rows_verb(text.index, 'holds', 'hold')} text such as {text.iloc[0]!r}{hint}"
    )


def warn_if_identifier_text(name: str, n_categories: int, n_rows: int, scope: str = "") -> None:
    """Warn when a text column has more than ``MANY_CATEGORIES`` distinct values and
    more than half as many as rows: an identifier or free text, not a category.
    ``scope`` follows the rows (such as " of its first chunk")."""
    if n_categories > MANY_CATEGORIES and n_categories > 0.5 * n_rows:
        becomes = "" if scope else f" and becomes {n_categories} one-hot features"
        warnings.warn(
            f"column {name!r} has {n_categories} distinct values in "
            f"{n_rows} rows{scope}; it looks like an identifier or free text"
            f"{becomes}. Ignore it "
            f"(--ignore {name}) unless it is a category.",
            UserWarning,
            stacklevel=5,
        )


def warn_if_identifier_dates(name: str, observed: pd.Series, parts: Sequence[str]) -> None:
    """Warn when a date column holds a different date in every row (of at least
    ``MIN_ID_ROWS``): a time stamp or identifier of each row."""
    if observed.size >= MIN_ID_ROWS and observed.nunique() == observed.size:
        warnings.warn(
            f"column {name!r} holds a different date in every row: it looks like a "
            "time stamp or identifier of each row and becomes the features "
            f"{', '.join(parts)}. Ignore it (--ignore {name}) "
            "unless the date matters (as a season, a weekday, a trend).",
            UserWarning,
            stacklevel=5,
        )
