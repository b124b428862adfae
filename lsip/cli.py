"""The ``lsip`` command line: one sub-command module per area under ``lsip/commands``.

Each module in :data:`COMMAND_MODULES` defines ``register(subparsers)``, which adds its sub-command(s) and sets
``func`` (taking the parsed namespace and returning an exit code). Errors derived from
:class:`lsip.errors.LSIPError` are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from lsip.errors import LSIPError

COMMAND_MODULES = ("calibrate", "evaluate", "library", "optimize", "predict", "reference", "validate")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="lsip", description="LSIP: latent-space interatomic potential")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"lsip.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lsip`` console script."""
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LSIPError as exc:
        print(f"lsip {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
