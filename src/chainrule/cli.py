"""The ``chainrule`` command: a thin layer over the library.

Exit codes: 0 on success, 2 for usage errors, 1 for data or model errors (a
one-line message on stderr; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from chainrule import __version__


class UserError(Exception):
    """An error in the user's data, files or options: reported in one line, exit code 1."""


def _cmd_tutorial(args: argparse.Namespace) -> int:
    from chainrule.tutorial import walkthrough

    walkthrough(out_dir=args.out_dir, plot=not args.no_plot, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train, use and inspect neural networks; or walk through the lesson.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    tutorial = sub.add_parser(
        "tutorial",
        help="run the lesson step by step, printing each value beside the lesson's",
        description="Run the 'neural network from scratch' lesson step by step.",
    )
    tutorial.add_argument("--out-dir", default=".", help="where cumulative_error.png goes")
    tutorial.add_argument("--no-plot", action="store_true", help="skip the picture")
    tutorial.add_argument("--seed", type=int, default=42, help="seed of the training run")
    tutorial.set_defaults(handler=_cmd_tutorial)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``chainrule`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UserError, ValueError, TypeError, OSError) as exc:
        if args.debug:
            raise
        print(f"chainrule {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
