"""transfer.json: the transfer test's result, written atomically and read back for the cohort card.

It sits in the cohort folder by default (beside validation.json; cohort.json does not vouch for either, so
writing it leaves the cohort intact) or wherever `--out` says.  `read_transfer` gives the card the file's
gate outcome, checking that the result belongs to this very cohort (its content hash).  Nothing is trained
or judged here.
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

from synthspec.cohort import layout
from synthspec.cohort.atomic import read_regular, write_text_atomic
from synthspec.errors import InputError

FORMAT = 1


def versions() -> dict[str, str]:
    import monai
    import numpy
    import torch

    from synthspec import __version__

    return {"synthspec": __version__, "torch": torch.__version__, "monai": monai.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def _clean(value):
    """JSON has no NaN: a number that is not finite is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_result(result: dict, target: Path) -> Path:
    target = Path(target)
    if target.is_dir():
        target = target / layout.TRANSFER
    try:
        write_text_atomic(target, json.dumps(_clean(result), indent=2, sort_keys=True, allow_nan=False) + "\n")
    except OSError as error:
        raise InputError(f"cannot write {target} ({error.strerror or error}); make the folder writable or give "
                         "--out a file in a folder you can write to") from None
    return target


def read_transfer(folder: Path, content_hash: str | None = None) -> dict | None:
    """The transfer.json in a cohort folder, or None when the test has not been run there.

    A file from another cohort (another content hash) or a damaged one is an InputError naming the fix."""
    path = Path(folder) / layout.TRANSFER
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{path} is damaged or unreadable ({type(error).__name__}); rerun `synth transfer` on the "
                         "cohort or delete the file to report without it") from None
    if not isinstance(data, dict) or not isinstance(data.get("gate"), dict):
        raise InputError(f"{path} is not a transfer result; rerun `synth transfer` or delete the file")
    if content_hash and data.get("content_hash") != content_hash:
        raise InputError(f"{path} is the transfer result of another cohort (its content hash differs); rerun "
                         "`synth transfer` on this cohort or delete the file")
    return data
