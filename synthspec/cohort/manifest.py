"""Cohort tables: manifest.csv / manifest.json (one row per subject) and provenance.json.

manifest.json is {"format": 1, "columns": [...], "rows": [...]} with rows sorted
by "index" and values as they are, nested details included (lesions, files, hashes).
manifest.csv is flat, for spreadsheets and pandas: one column per scalar (the flat
rows' keys, first row's keys in order, then any new keys in order of appearance)
and one line per subject; no nested JSON and no hashes (those are in manifest.json
and SHA256SUMS).  Booleans are `true`/`false`, None is an empty cell, numbers use
Python's repr (which reads back exactly).  `read_manifest_csv` turns the CSV back
into flat rows.  Both files are written atomically.
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
PACKAGES = ("synthspec", "numpy", "torch", "SimpleITK", "pydicom", "highdicom", "pyjpegls", "lark", "pydantic")


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
        raise ValueError("manifest.csv holds scalars only; nested values belong in manifest.json")
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


def _scalars(row: dict) -> dict:
    return {k: v for k, v in row.items() if not isinstance(v, (list, dict))}


def write_manifest(folder: Path, rows: list[dict], flat: list[dict] | None = None) -> tuple[Path, Path]:
    """Write manifest.csv and manifest.json into `folder`; returns (csv path, json path).

    `rows` go to manifest.json as they are; `flat` (one scalar-only row per subject, with the same
    "index" values) to manifest.csv.  Without `flat`, the CSV holds each row's scalar values."""
    folder = Path(folder)
    ordered = _ordered(rows)
    flat_rows = _ordered(flat) if flat is not None else [_scalars(row) for row in ordered]
    if [row["index"] for row in flat_rows] != [row["index"] for row in ordered]:
        raise ValueError("the flat manifest rows are not the rows of the manifest")
    columns = _columns(ordered)
    flat_columns = _columns(flat_rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(flat_columns)
    for row in flat_rows:
        writer.writerow([_cell(row.get(column)) for column in flat_columns])
    csv_path, json_path = folder / layout.MANIFEST_CSV, folder / layout.MANIFEST_JSON
    write_text_atomic(csv_path, buffer.getvalue())
    document = {"format": MANIFEST_FORMAT, "synthetic": True, "columns": columns, "rows": ordered}
    write_text_atomic(json_path, json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return csv_path, json_path


def _ordered(rows: list[dict]) -> list[dict]:
    if any("index" not in row for row in rows):
        raise ValueError("every manifest row needs an 'index'")
    ordered = sorted((_plain(row) for row in rows), key=lambda row: row["index"])
    indices = [row["index"] for row in ordered]
    if len(set(indices)) != len(indices):
        raise ValueError("manifest rows have duplicate indices")
    return ordered


def _parse_cell(text: str):
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_manifest_csv(path: Path) -> list[dict]:
    """Inverse of the CSV writer: flat rows with numbers, booleans and None restored.

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
