"""Which tissue class a reference label is: structure-name rules and user mapping files.

`tissue_for_structure` maps TotalSegmentator-style names (lobes -> lung, vertebrae -> bone,
...); `read_mapping` reads a user's JSON or CSV table of label id -> tissue class.  Nothing here
reads an image or derives a class from CT numbers (that is `classes.py`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from synthspec.validate.reference.model import TISSUES, ReferenceError

_NAME_RULES: list[tuple[str, str]] = [
    (r"trachea|bronch|nodule|airway|cartilage|spinal_cord|canal|brain", ""),
    (r"lung", "lung"),
    (r"fat|adipose", "fat"),
    (r"muscle|autochthon|psoas|gluteus|pectoral|erector|latissimus|trapezius|deltoid|intercostal|diaphragm|"
     r"soft_tissue|^soft$", "muscle_soft"),
    (r"vertebra|^rib|_rib|rib_|^ribs?$|sternum|^bone$|cortical_bone|cancellous_bone|^bones?$", "bone"),
    (r"^heart|^aorta|^blood$|blood_pool|ventricle|atrium", "blood"),
]


_SYNONYMS = {"muscle": "muscle_soft", "soft_tissue": "muscle_soft", "soft": "muscle_soft", "skeletal_muscle": "muscle_soft",
             "cortical_bone": "bone", "cancellous_bone": "bone", "heart": "blood", "aorta": "blood",
             "adipose": "fat", "subcutaneous_fat": "fat", "lungs": "lung"}


_IGNORE = {"", "none", "ignore", "other", "-"}


def tissue_for_structure(name: str) -> str | None:
    """Tissue class of a TotalSegmentator-style structure name, None where it is not compared.

    Lobes -> lung; *fat* -> fat; skeletal muscles (autochthon, iliopsoas, gluteus, ...) -> muscle_soft;
    vertebrae, ribs, sternum -> bone (costal cartilage, scapula, humerus, clavicle ... are not);
    heart (and chambers), aorta -> blood.  Trachea, bronchi, spinal cord, brain and organs -> None.
    """
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in TISSUES:
        return key
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    for pattern, tissue in _NAME_RULES:
        if re.search(pattern, key):
            return tissue or None
    return None


def _tissue_value(value: Any, where: str) -> str | None:
    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if text in _IGNORE:
        return None
    tissue = text if text in TISSUES else _SYNONYMS.get(text)
    if tissue is None:
        raise ReferenceError(f"{where}: unknown tissue class {value!r}; use one of {', '.join(TISSUES)} (or 'ignore')")
    return tissue


def read_mapping(mapping: Any) -> tuple[dict[int, str | None], dict[int, str]]:
    """Label id -> tissue class (None: not compared), and label id -> structure name where the table names them."""
    names: dict[int, str] = {}
    out: dict[int, str | None] = {}
    where = "mapping"
    if isinstance(mapping, (str, Path)):
        path = Path(mapping)
        where = str(path)
        if not path.is_file():
            raise ReferenceError(f"label mapping {path} does not exist; give a JSON ({{\"10\": \"lung\"}}) or CSV "
                                 "(id,tissue) file")
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            try:
                mapping = json.loads(text)
            except ValueError as error:
                raise ReferenceError(f"label mapping {path} is not valid JSON ({error}); fix the file") from None
        else:
            return _read_mapping_csv(text, where)
    if not isinstance(mapping, dict):
        raise ReferenceError(f"{where}: a label mapping must be a JSON object or an id,tissue CSV")
    try:
        for key, value in mapping.items():
            if isinstance(value, (list, tuple)):  # {"lung": [10, 11]}
                tissue = _tissue_value(key, where)
                for label in value:
                    out[int(label)] = tissue
            else:  # {"10": "lung"}
                out[int(key)] = _tissue_value(value, where)
                names[int(key)] = str(value)
    except (TypeError, ValueError):
        raise ReferenceError(f"{where}: label ids must be integers "
                             "({\"10\": \"lung\"} or {\"lung\": [10, 11]})") from None
    return out, names


def _read_mapping_csv(text: str, where: str) -> tuple[dict[int, str | None], dict[int, str]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise ReferenceError(f"label mapping {where} is empty; write one `id,tissue` row per label")
    header = [c.strip().lower() for c in rows[0]]
    out: dict[int, str | None] = {}
    names: dict[int, str] = {}
    if "id" in header and ("structure" in header or "tissue" in header or "name" in header):
        i_id = header.index("id")
        i_name = header.index("tissue") if "tissue" in header else header.index("structure") if "structure" in header \
            else header.index("name")
        by_rules = header[i_name] != "tissue"
        body = rows[1:]
    else:
        i_id, i_name, by_rules, body = 0, 1, False, rows
    for n, row in enumerate(body, start=2 if body is not rows else 1):
        try:
            label = int(row[i_id])
            value = row[i_name].strip()
        except (IndexError, ValueError):
            raise ReferenceError(f"label mapping {where}, row {n}: expected `id,tissue` with an integer id, got "
                                 f"{','.join(row)[:60]!r}") from None
        names[label] = value
        out[label] = tissue_for_structure(value) if by_rules else _tissue_value(value, f"{where}, row {n}")
    return out, names
