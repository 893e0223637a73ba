"""The cohort folder as a place to write: is `--out` usable, is another run writing it, what failed.

`check_out` refuses an output path that cannot hold a cohort (a system tree, an existing file,
a device, a folder that cannot be written) before anything is created; `locked` holds an
exclusive lock on the folder while a run writes it, so a concurrent run or `--resume` is
refused instead of racing it; `write_failure` turns an OS error met while writing (a full
disk, a folder made read-only) into one line that says what was kept and how to continue.

Nothing here generates or decides what is written; every executor calls these the same way.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthspec.cohort.atomic import TMP_PREFIX
from synthspec.errors import Failure, InputError

SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))


class OutError(InputError):
    """An `--out` that cannot hold a cohort (exit 2); nothing was written."""


class Busy(Failure):
    """Another run holds the cohort folder (exit 1); nothing was written."""


class WriteFailed(Failure):
    """Writing failed part-way (exit 1); finished subjects are kept and `--resume` continues."""


def system_tree(path: Path) -> Path | None:
    """The pseudo-filesystem (/proc, /sys, /dev) `path` resolves into, or None; nothing is ever written there."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return next((t for t in SYSTEM_TREES if real == t or t in real.parents), None)


def file_target_problem(path: Path) -> str | None:
    """Why `path` cannot take a file synthspec writes (`plan --save`, `report --out`), or None:
    inside a system tree, a folder, or an existing link, device or FIFO.  The caller adds its fix."""
    tree = system_tree(path)
    if tree is not None:
        return f"is inside the system tree {tree}"
    if Path(path).is_dir():
        return "is a folder"
    if os.path.lexists(path) and not Path(path).is_file():
        return "exists and is not a regular file"
    return None


def check_out(out: Path) -> None:
    """Refuse an `--out` that cannot be a cohort folder, before anything is created."""
    out = Path(out)
    try:
        real = out.resolve()
    except (OSError, RuntimeError, ValueError):
        raise OutError(f"--out {out} cannot be resolved (a symlink loop or a bad name); choose another folder") from None
    if system_tree(out) is not None:
        raise OutError(f"--out {out} is inside the system tree {system_tree(out)}, not a place for a cohort; "
                       "choose a folder on a disk, e.g. --out cohorts/NAME")
    if os.path.lexists(out) and not out.is_dir():
        raise OutError(f"--out {out} exists and is not a folder; choose a new or empty folder (nothing was changed)")
    existing = next((p for p in (real, *real.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise OutError(f"--out {out}: {existing} is not a folder, so the cohort folder cannot be made there; "
                       "choose another --out")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutError(f"--out {out}: {existing} is not writable by this user; make it writable or choose another "
                       "--out (nothing was changed)")


def only_leftovers(out: Path) -> bool:
    """True when `out` holds nothing but temporary files an interrupted start left (`.tmp-*`)."""
    return all(p.name.startswith(TMP_PREFIX) for p in Path(out).iterdir())


def remove_leftovers(out: Path) -> int:
    """Delete the `.tmp-*` files an interrupted write left at the top of `out`; returns how many."""
    removed = 0
    for p in Path(out).iterdir():
        if p.name.startswith(TMP_PREFIX) and p.is_file():
            p.unlink(missing_ok=True)
            removed += 1
    return removed


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder `out` (which must exist) for the body.

    The lock is on the folder itself (flock on its descriptor), so no lock file is left behind
    and a killed run releases it with its process.  Where flock does not exist the body runs
    unlocked."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    fd = os.open(out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise Busy(f"another synth run is writing {out}; wait for it to finish (or stop it), then run "
                           "again with --resume (nothing was changed)") from None
            raise
        yield
    finally:
        os.close(fd)


@contextmanager
def write_failure(out: Path, resume: str) -> Iterator[None]:
    """Turn an OS error while writing `out` into one line naming the cause and how to continue."""
    try:
        yield
    except (Busy, OutError):
        raise
    except OSError as error:
        where = error.filename or out
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            cause = f"the disk holding {out} is full"
        elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            cause = f"{where} cannot be written ({error.strerror})"
        else:
            cause = f"writing {where} failed ({error.strerror or error})"
        raise WriteFailed(f"{cause}; the subjects already finished are kept and the unfinished one was removed. "
                          f"Fix that, then continue with `{resume}`") from None
