"""The command line's streamed paths: ``train``, ``predict`` and ``evaluate`` with ``--stream``.

:mod:`chainrule.cli` calls these when :func:`chainrule.streaming.should_stream` says
so (``--stream``, or a file over :data:`chainrule.streaming.STREAM_AUTO_BYTES`); they
turn the options into :mod:`chainrule.streaming`'s calls and its problems into the
command line's one-line errors (:class:`~chainrule.errors.UserError`, naming the file).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from chainrule.column_warnings import rows_text
from chainrule.errors import DataError, UserError
from chainrule.readers import delimiter_name
from chainrule.report import printable
from chainrule.streaming import (
    StreamedTraining,
    evaluate_streamed,
    limit_fragmentation,
    predict_streamed,
)
from chainrule.table_chunks import DEFAULT_CHUNK_ROWS

__all__ = ["evaluate_stream", "predict_stream", "train_streamed_from"]


@contextlib.contextmanager
def _about(path: str) -> Iterator[None]:
    """A :class:`DataError` (or a bad option value) as a UserError naming ``path``."""
    try:
        yield
    except DataError as exc:
        text = str(exc)  # the reader's own errors name the file already
        raise UserError(text if text.startswith(f"{path}: ") else f"{path}: {text}") from exc


def _reading(options: Any) -> dict[str, Any]:
    options = options if isinstance(options, dict) else vars(options)
    return {k: options.get(k) for k in ("sep", "decimal", "thousands", "na_values")}


def _dropped(n: int, rows: list[int], total: int, target: str) -> str:
    more = f" and {n - len(rows)} more" if n > len(rows) else ""
    return (
        f"dropped {n} of {total} rows with no {target!r} value (--drop-missing-target): "
        f"{rows_text(rows)}{more}"
    )


def train_streamed_from(
    path: str, settings: dict[str, Any], say: Callable[[str], Any]
) -> StreamedTraining:
    """The first pass over ``path`` for ``chainrule train --stream``; says what it found
    (the sniffed delimiter, dropped rows, the guessed task) through ``say``."""
    limit_fragmentation()
    chunk_rows = settings.get("chunk_rows") or DEFAULT_CHUNK_ROWS
    say(f"{path}: streamed in chunks of {chunk_rows:,} rows; first pass: learning the scaling")
    try:
        with _about(path):
            streamed = StreamedTraining(
                path,
                settings["target"],
                chunk_rows=chunk_rows,
                reading=_reading(settings),
                task=settings["task"],
                impute=settings["impute"],
                ignore=settings["ignore"],
                validation_fraction=settings["validation_fraction"],
                seed=settings["seed"],
                drop_missing_target=bool(settings["drop_missing_target"]),
            )
    except ValueError as exc:  # --sep, --decimal, --thousands contradict each other
        if isinstance(exc, DataError):
            raise
        raise UserError(str(exc)) from None
    table, first = streamed.table, streamed.first
    if table.sep_sniffed and table.sep != ",":
        say(f"{path}: read as {delimiter_name(table.sep)}-separated (--sep to choose)")
    if first.n_dropped:
        total = first.rows + first.n_dropped
        say(_dropped(first.n_dropped, first.dropped_rows, total, settings["target"]))
    say(
        f"{path}: {first.rows:,} rows, {first.train_rows:,} to train on and "
        f"{first.validation_rows:,} held out for validation"
    )
    if settings["task"] is None:
        say(printable(f"task: {first.task_note}; use --task to choose"))
    return streamed


def predict_stream(
    model, args: argparse.Namespace, keep: list[str], inputs: set[str], table_of: Callable
) -> int:
    """``chainrule predict --stream``: every row's prediction written chunk by chunk, in
    order, to ``--out`` or stdout. ``table_of(model, frame, args, keep)`` makes a chunk's
    output (the in-memory command's own)."""
    from chainrule.table_chunks import TableChunks

    limit_fragmentation()
    with _about(args.data):
        header = TableChunks(args.data, args.chunk_rows or DEFAULT_CHUNK_ROWS).columns
    absent = [c for c in keep if c not in header]
    if absent:
        raise UserError(
            f"{args.data}: --keep {absent[0]!r}: no such column; the columns are "
            f"{', '.join(header)}"
        )
    with _about(args.data):
        n = predict_streamed(
            model,
            args.data,
            lambda frame: table_of(model, frame, args, keep),
            args.out or sys.stdout,
            chunk_rows=args.chunk_rows,
            reading=_reading(args),
            text_columns=[c for c in keep if c not in inputs],
        )
    if args.out:
        print(f"wrote {n} predictions of {model.target!r} to {args.out}")
    return 0


def evaluate_stream(model, args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    """``chainrule evaluate --stream``: the scores of every row, added up chunk by chunk;
    returns ``(scores, rows scored)``."""
    if args.plot and model.task_ != "classify":
        raise UserError(
            "--plot cannot be used with --stream for a regressor: the picture of predicted "
            "against true values needs every row in memory; leave out --plot, or --stream "
            "(--no-stream)"
        )
    limit_fragmentation()
    with _about(args.data):
        scores, rows, dropped, n_dropped = evaluate_streamed(
            model,
            args.data,
            chunk_rows=args.chunk_rows,
            reading=_reading(args),
            drop_missing_target=bool(args.drop_missing_target),
        )
    if n_dropped:
        print(_dropped(n_dropped, dropped, rows + n_dropped, model.target))
    return scores, rows
