"""One family of errors, each a line a person can act on; the CLI catches `SynthError` once.

Every error a user can cause or meet derives from `SynthError` and carries its exit code:
`UsageError` and `InputError` (bad arguments, missing or damaged files) exit 2, `Failure`
(the work ran and something did not hold: a plan that cannot be made, a run that cannot
finish) exits 1.  The message names the place and the fix; no traceback is shown for these.

Only the standard library is imported here: the lint commands load this module.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class SynthError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code = EXIT_FAIL


class UsageError(SynthError):
    """Bad input to the command line itself (an argument, an option value)."""

    exit_code = EXIT_USAGE


class InputError(SynthError):
    """A file or folder the user gave that is missing, damaged, foreign or unreadable."""

    exit_code = EXIT_USAGE


class Failure(SynthError):
    """The command ran on good input and could not do what was asked (plan, run, sampling)."""

    exit_code = EXIT_FAIL
