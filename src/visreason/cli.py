"""The `visreason` command. Each stage module adds its own subcommand.

Modules are imported only when their subcommand runs... except for argument
parsing: every stage module must keep heavy imports (torch, transformers,
trl, mlflow) inside functions so that `visreason --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from visreason import VisreasonError, __version__

# Subcommand modules, in pipeline order. Each defines `add_cli(subparsers)`,
# which registers its parser(s) and sets `func` to a callable taking the args.
STAGE_MODULES = [
    "visreason.data",
    "visreason.models",
    "visreason.captions",
    "visreason.rewards",
    "visreason.train",
    "visreason.evaluate",
    "visreason.report",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visreason",
        description="Reward design for GRPO on visual puzzles: data, captions, training, evaluation, report.",
    )
    parser.add_argument("--version", action="version", version=f"visreason {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in STAGE_MODULES:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except VisreasonError as err:
        print(f"visreason: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visreason: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
