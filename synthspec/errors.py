"""One family of errors, each a line a person can act on; the CLI catches `SynthError` once.

Every error a user can cause or meet derives from `SynthError` and carries its exit code:
`UsageError` and `InputError` (bad arguments, missing or damaged files) exit 2, `Failure`
(the work ran and something did not hold: a plan that cannot be made, a run that cannot
finish) exits 1, `Interrupted` (Ctrl-C, with what to run to continue) exits 130.  The
message names the place and the fix; no traceback is shown for these.

The error classes of the other rooms derive from these:

    Failure      PlanError (plan.lower), RunError (engine.executor), SamplingError (engine.sample),
                 ScreenshotError (report.screenshot), UnknownFamily (families.registry), SpecError
    InputError   CohortError (cohort.read), VerifyError (engine.verify), ReferenceError
                 (validate.reference), ReportError (report.card), ReaderPackError (report.reader_pack)

Only the standard library is imported here: the lint commands load this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


class SpecError(Failure):
    """A spec that has errors, so it cannot be planned; exit 1 like the findings of `synth check`.

    `diagnostics` holds the errors (compiler `Diagnostic`s), `result` the whole `FileResult`.
    """

    def __init__(self, message: str, diagnostics: Iterable[Any] = (), result: Any = None) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)
        self.result = result


class Interrupted(SynthError):
    """Ctrl-C during work that can be continued; the message says how (exit 130)."""

    exit_code = EXIT_INTERRUPTED


def one_line(error: BaseException) -> str:
    """The message of `error` on one line (a message that spans lines is joined with spaces)."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__
