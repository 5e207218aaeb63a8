"""How a sub-command module adds its parser to ``gnnkit``'s (see :mod:`gnnkit.cli`)."""
from __future__ import annotations

import argparse

__all__ = ["add_command"]


def add_command(subparsers, name: str, help: str, doc: str) -> argparse.ArgumentParser:
    """The parser of ``gnnkit NAME``: ``help`` is its line in ``gnnkit --help``, ``doc`` (the
    module docstring, line breaks kept) its ``gnnkit NAME --help`` text."""
    return subparsers.add_parser(name, help=help, description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
