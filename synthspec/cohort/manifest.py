"""Cohort tables: manifest.csv / manifest.json (one row per subject) and provenance.json.

manifest.json is {"format": 1, "columns": [...], "rows": [...]} with rows sorted
by "index" and values as they are.  manifest.csv has the same columns (first
row's keys in order, then any new keys in order of appearance) and one line
per row; lists and dicts are JSON-encoded (compact, sorted keys), booleans
are `true`/`false`, None is an empty cell, numbers use Python's repr (which
reads back exactly).  `read_manifest_csv` turns the CSV back into the rows.
Both files are written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from importlib import metadata
from pathlib import Path

from synthspec.cohort.atomic import write_text_atomic
from synthspec.cohort import layout

MANIFEST_FORMAT = 1
PACKAGES = ("synthspec", "numpy", "torch", "SimpleITK", "pydicom", "lark", "pydantic")


def _json_default(value):
    """numpy scalars/arrays and paths in rows or records become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _plain(value):
    """A JSON round trip: numpy scalars -> Python, tuples -> lists, NaN refused."""
    return json.loads(json.dumps(value, default=_json_default, allow_nan=False))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"manifest value {value} is not finite")
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return str(value)


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    seen = set()
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(str(key))
    return columns


def write_manifest(folder: Path, rows: list[dict]) -> tuple[Path, Path]:
    """Write manifest.csv and manifest.json into `folder`; returns (csv path, json path)."""
    folder = Path(folder)
    if any("index" not in row for row in rows):
        raise ValueError("every manifest row needs an 'index'")
    ordered = sorted((_plain(row) for row in rows), key=lambda row: row["index"])
    indices = [row["index"] for row in ordered]
    if len(set(indices)) != len(indices):
        raise ValueError("manifest rows have duplicate indices")
    columns = _columns(ordered)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in ordered:
        writer.writerow([_cell(row.get(column)) for column in columns])
    csv_path, json_path = folder / layout.MANIFEST_CSV, folder / layout.MANIFEST_JSON
    write_text_atomic(csv_path, buffer.getvalue())
    document = {"format": MANIFEST_FORMAT, "synthetic": True, "columns": columns, "rows": ordered}
    write_text_atomic(json_path, json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return csv_path, json_path


def _parse_cell(text: str):
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    if text[0] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_manifest_csv(path: Path) -> list[dict]:
    """Inverse of the CSV writer: rows with numbers, booleans, None, lists and dicts restored.

    Strings that look like numbers come back as numbers; manifest.json keeps every type exactly.
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return [{key: _parse_cell(value) for key, value in row.items()} for row in reader]


def write_provenance(folder: Path, record: dict) -> Path:
    """provenance.json: sorted keys, indent 2, atomic."""
    path = Path(folder) / layout.PROVENANCE
    write_text_atomic(path, json.dumps(_plain(record), indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the output (missing ones say "not installed")."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    from synthspec import __version__

    if versions["synthspec"] != __version__:  # a source tree, or an editable install older than its code
        versions["synthspec"] = f"{__version__} (source tree)"
    return versions
