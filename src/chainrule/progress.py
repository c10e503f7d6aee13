"""Progress display: a bar over batches (tqdm when installed) or one line when done.

Used by the :class:`~chainrule.callbacks.ProgressLogger` callback (``fit(verbose=...)``)
and by ``predict`` / ``evaluate``. Nothing here is printed unless asked for with
``verbose``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["check_verbose", "format_logs", "open_bar", "progress_bar"]


def check_verbose(verbose: Any) -> int:
    """Return ``verbose`` if it is 0, 1 or 2, else raise a ValueError saying what each means."""
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"verbose must be 0 (silent), 1 (progress bar) or 2 (a line per epoch); "
            f"received verbose={verbose!r}"
        )
    return int(verbose)


def format_logs(logs: dict[str, float]) -> str:
    """``"loss 0.1234 - val_loss 0.2345 - lr 0.001 - 0.52s"``."""
    parts = []
    for key, value in logs.items():
        if key == "seconds":
            parts.append(f"{value:.2f}s")
        elif key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}")
    return " - ".join(parts)


class _TextBar:
    """A minimal progress bar for when tqdm is not installed."""

    def __init__(self, total: int | None, desc: str, stream=None) -> None:
        # sys.stdout looked up now, not at import: redirections (pytest, Jupyter) apply
        self.stream = sys.stdout if stream is None else stream
        self.total, self.n, self.desc = total, 0, desc
        self.postfix = ""

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.n == self.total or self.n % max(1, (self.total or 0) // 20) == 0:
            self._draw()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text
        self._draw()

    def _draw(self) -> None:
        filled = int(30 * self.n / max(self.total or 1, 1))
        bar = "=" * filled + "." * (30 - filled)
        self.stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total} {self.postfix}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class _NoBar:
    def update(self, k: int = 1) -> None: ...

    def set_postfix_str(self, text: str) -> None: ...

    def close(self) -> None: ...


class _LineBar(_NoBar):
    """``verbose=2`` outside ``fit``: one line at the end, as Keras prints."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.n, self.desc, self.started = 0, desc, time.perf_counter()

    def update(self, k: int = 1) -> None:
        self.n += k

    def close(self) -> None:
        seconds = time.perf_counter() - self.started
        print(f"{self.desc}: {self.n}/{self.n} batches - {seconds:.2f}s", flush=True)


def open_bar(total: int | None, verbose: int, desc: str, *, line: bool = False) -> Any:
    """A progress bar over ``total`` steps when ``verbose == 1`` (tqdm if installed),
    else an object with the same methods that shows nothing; call ``close()`` when done.

    With ``line=True``, ``verbose == 2`` prints one summary line when closed (``predict``
    and ``evaluate``; ``fit`` prints its own line per epoch).
    """
    if verbose == 2 and line:
        return _LineBar(total, desc)
    if verbose != 1:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(total, desc)
    return tqdm(total=total, desc=desc, leave=True, file=sys.stdout, dynamic_ncols=True)


@contextmanager
def progress_bar(
    total: int | None, verbose: int, desc: str, *, line: bool = False
) -> Iterator[Any]:
    """:func:`open_bar` as a context: the bar is closed on the way out."""
    bar = open_bar(total, verbose, desc, line=line)
    try:
        yield bar
    finally:
        bar.close()
