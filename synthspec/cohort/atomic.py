"""Atomic writes: no half-written file or folder is ever visible under its final name.

A file is written to a temporary name in the same folder (so the final rename
never crosses a filesystem), flushed and fsynced, then renamed over the final
name with `os.replace`; the folder is fsynced so the rename itself is durable.
A folder (one subject) is built under a `.tmp-*` name by `staged_dir` and
renamed into place only when its body finishes without an exception.
Temporary names always start with `.tmp-`, so a resumed run can find and
remove what an interrupted one left behind.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


def temp_name(final: Path, suffix: str = "") -> Path:
    """A fresh hidden temporary path next to `final` (same folder, same filesystem)."""
    return final.with_name(f"{TMP_PREFIX}{final.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def fsync_dir(folder: Path) -> None:
    """fsync a folder so renames and creations inside it survive a crash (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomic(tmp: Path, final: Path) -> None:
    """fsync `tmp`, rename it over `final`, fsync the folder; removes `tmp` if anything fails."""
    try:
        fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one.

    Only a regular file is ever replaced: renaming over /dev/null or a link (which a privileged
    user could do) is refused with NotRegularFile before anything is written."""
    path = Path(path)
    if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
        raise NotRegularFile(errno.EEXIST, "it exists and is not a regular file, so it is not replaced", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    """UTF-8 text, newline written as-is (no platform translation), atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _rename_noreplace(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, failing with FileExistsError if `dst` exists (even an empty folder).

    Uses renameat2(RENAME_NOREPLACE) where the C library has it (Linux), so the
    check and the rename are one step; elsewhere it checks first, then renames.
    """
    if _renameat2 is not None:
        AT_FDCWD, RENAME_NOREPLACE = -100, 1
        if _renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "refusing to replace an existing path", str(dst))
        if err not in (errno.ENOSYS, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EINVAL)):
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
        # the filesystem does not support the flag: fall through to check-then-rename
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, "refusing to replace an existing path", str(dst))
    os.rename(src, dst)


def _load_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                fsync_file(path)
        fsync_dir(Path(folder))


@contextmanager
def staged_dir(final: Path, durable: bool = True) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it to `final` when the body succeeds.

    Yields an empty folder `.tmp-<name>.<pid>.<random>` next to `final`.  On a
    clean exit every file in it is fsynced (unless `durable=False`) and it is
    renamed to `final`; if `final` already exists nothing is replaced and
    FileExistsError is raised (the staged folder is removed).  If the body
    raises, the staged folder is removed and `final` is untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(final):
        raise FileExistsError(errno.EEXIST, "refusing to replace an existing path", str(final))
    tmp = temp_name(final)
    tmp.mkdir()
    try:
        yield tmp
        if durable:
            _fsync_tree(tmp)
        _rename_noreplace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)


class NotRegularFile(OSError):
    """A link, device, FIFO, socket or folder where a file written by synthspec belongs."""


def open_regular(path: Path):
    """Open a regular file for reading; a link, folder, device, FIFO or socket is refused before it is
    opened (NotRegularFile).  Everything synthspec reads back from a cohort it wrote itself as a
    regular file: a link to /dev/zero or a FIFO in its place would otherwise hash forever or block."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(info.st_mode) else "a folder" if stat.S_ISDIR(info.st_mode)
                else "a special file (device, FIFO or socket)")
        raise NotRegularFile(errno.EINVAL, f"it is {kind}, not a file synthspec wrote", str(path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    return os.fdopen(fd, "rb")


def sha256_file(path: Path) -> str:
    """SHA-256 of a regular file (see `open_regular`)."""
    h = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


MAX_READ_BYTES = 256 * 2**20
"""No JSON file synthspec writes comes near this; a larger one is not synthspec's."""


def read_regular(path: Path, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a regular file (see `open_regular`), refused when over `limit`."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotRegularFile(errno.EFBIG, f"it is over {limit:,} bytes", str(path))
    return data


rename_noreplace = _rename_noreplace


def link_or_copy(source: Path, target: Path, copy: bool = False) -> bool:
    """Hard-link `source` to `target` where the filesystem allows it (never a symlink), else copy; True when
    linked.  An export places the cohort's own bytes this way: edit neither name in place."""
    if not copy:
        try:
            os.link(source, target, follow_symlinks=False)
            return True
        except OSError:   # another filesystem (EXDEV), or links not allowed there
            pass
    shutil.copyfile(source, target)
    return False
