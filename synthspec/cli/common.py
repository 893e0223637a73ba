"""Helpers every command room shares: argument types, colour, progress bars.

Only the standard library and `synthspec.errors` are imported here (the lint commands load it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
DEVICES = ("auto", "cpu", "cuda")
DEVICE_HELP = "where to compute: auto (CUDA when available, else CPU), cpu or cuda (default: auto)"


def colour(stream) -> bool:
    """Colour only on a terminal that wants it (NO_COLOR, TERM=dumb and pipes get plain text)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def count(what: str, fix: str, minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse `type=` for a whole number of `what`, at least `minimum` (and at most `maximum`).

    A bad value is an argparse error (one line, exit 2) that argparse prefixes with the option,
    e.g. `synth run: error: argument --subjects: must be a whole number of subjects, at least 1,
    not -3; <fix>`.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number of {what}, at least {minimum}, not {text!r}; {fix}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number of {what}, at least {minimum}, not {value}; {fix}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,} {what} (the cap of a cohort), not {value:,}; "
                                             "split the work into several cohorts")
        return value

    parse.__name__ = f"count of {what}"  # argparse names the type in some messages
    return parse


def whole_number(what: str) -> Callable[[str], int]:
    """An argparse `type=` for any whole number (a seed, say)."""

    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number ({what}), not {text!r}") from None

    parse.__name__ = what
    return parse


def progress(unit: str) -> Callable[[Iterable[T], str], Iterable[T]] | None:
    """A `progress(items, desc)` wrapper drawing a tqdm bar on stderr, or None when there is no bar to draw.

    No bar when SYNTH_NO_PROGRESS=1 (as for `synth run`), when stderr is not a terminal (logs and pipes
    stay clean) or when tqdm is not installed (a bar is a convenience, never a requirement).
    """
    if os.environ.get("SYNTH_NO_PROGRESS") == "1" or not _is_terminal(sys.stderr):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None

    def wrap(items: Iterable[T], desc: str) -> Iterator[T]:
        items = list(items)
        with tqdm(total=len(items), desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
            for item in items:
                yield item
                bar.update()

    return wrap


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False
