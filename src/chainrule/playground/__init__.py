"""``chainrule playground``: TensorFlow Playground's controls and pictures in a local web
page, training chainrule's own :class:`~chainrule.Network` in Python.

:func:`serve` runs the server (:mod:`chainrule.playground.server`, the standard
library's ``http.server``) on ``127.0.0.1`` until Ctrl-C; each page is a
:class:`~chainrule.playground.session.Session` with one training thread
(:mod:`chainrule.playground.session`); the toy data sets, the input features and the
CSV reader are in :mod:`chainrule.playground.datasets`; the page itself (plain
JavaScript and canvas, no CDN) is in ``static/``.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable

from chainrule.playground.datasets import Table, read_table
from chainrule.playground.server import PlaygroundServer, make_server

__all__ = ["PlaygroundServer", "make_server", "read_table", "serve"]


def serve(
    port: int = 8750,
    table: Table | None = None,
    open_browser: bool = True,
    print_fn: Callable[[str], None] | None = None,
) -> None:
    """Serve the playground on ``http://127.0.0.1:port/`` until Ctrl-C.

    Parameters
    ----------
    port : int, default=8750
        0 picks a free port.
    table : Table, optional
        A CSV file (:func:`read_table`) every new page starts on.
    open_browser : bool, default=True
        Open the page in the default browser.
    print_fn : callable, optional
        Where the address and the goodbye go (default: printed, flushed).
    """
    if print_fn is None:

        def print_fn(text: str) -> None:
            print(text, flush=True)

    server = make_server(port, table)
    print_fn(f"chainrule playground: serving on {server.url} (Ctrl-C to stop)")
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print_fn("chainrule playground: stopped")
    finally:
        server.server_close()
