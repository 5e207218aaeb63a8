"""The ``gnnkit`` command line.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code).  ``main`` only dispatches.
"""
from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser"]

# Sub-command modules, in the order they appear in ``gnnkit --help``.
_COMMANDS = ["bench", "embed", "data", "datasets", "analyze", "plot"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gnnkit", description="gnnkit: scalable graph neural networks")
    from gnnkit import __version__

    parser.add_argument("--version", action="version", version=f"gnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"gnnkit.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"gnnkit.cli.{name}":
                continue  # sub-command not part of this build
            raise
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("gnnkit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the CLI reports errors; the library raises them
        from gnnkit.cli._errors import report

        return report(e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
