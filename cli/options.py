"""Options several commands share: whole numbers with their minimums, the critical-path tolerance."""

from __future__ import annotations

import argparse

from spanscope.cli.common import UsageError


def add_count_argument(parser: argparse.ArgumentParser, flag: str, default: int, help: str) -> None:
    """A whole-number option ``flag N``; check_counts checks its minimum."""
    parser.add_argument(flag, type=int, default=default, metavar="N", help=help)


def check_counts(args: argparse.Namespace, **least: int) -> None:
    """Each named count is at least its minimum: ``check_counts(args, top=1)`` checks ``--top >= 1``."""
    for name, minimum in least.items():
        if getattr(args, name) < minimum:
            raise UsageError(f"--{name.replace('_', '-')} must be {minimum} or more")


def add_cp_tolerance_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cp-tolerance",
        type=float,
        default=0.01,
        metavar="F",
        help="sibling overlap tolerated on the critical path, as a fraction of the parent's duration (0 = strict)",
    )


def check_cp_tolerance(args: argparse.Namespace) -> None:
    if not 0 <= args.cp_tolerance < 1:
        raise UsageError("--cp-tolerance must be a fraction in [0, 1)")
