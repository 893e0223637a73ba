"""Synthetic identities: patient id/name and DICOM UIDs derived from the spec, never from a person.

Every UID is a UUID-derived UID ("2.25." followed by the decimal value of a
128-bit UUID, PS3.5 §B.2).  The UUID is not random: it is a name-based UUID
(version 5 layout: the first 16 bytes of a SHA-256 over the spec hash, cohort
seed, subject index and the role of the UID, with the version and variant bits
set), so the same spec, seed and index always give the same UIDs, and any
change to one of them gives different ones.  The longest possible UID is
5 + 39 = 44 characters, inside the 64-character limit.

Patient ids look like `SYN-<first 8 hex of the spec hash>-<index:06d>` and
names like `SYNTHETIC^S000017`: obviously synthetic, never real-looking.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

UID_ROOT = "2.25."
_NAMESPACE = "synthspec-uid-v1"


def derived_uid(*parts: object) -> str:
    """A deterministic UUID-derived DICOM UID for the given parts (each str()-ed, joined unambiguously)."""
    h = hashlib.sha256()
    h.update(_NAMESPACE.encode())
    for part in parts:
        data = str(part).encode("utf-8")
        h.update(len(data).to_bytes(8, "big") + data)
    value = uuid.UUID(bytes=h.digest()[:16], version=5).int
    return f"{UID_ROOT}{value}"


# Our own implementation class UID for the DICOM file meta (same for every file of every version).
IMPLEMENTATION_CLASS_UID = derived_uid("implementation", "synthspec")


@dataclass(frozen=True)
class SyntheticIdentity:
    patient_id: str
    patient_name: str
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str

    def instance_uid(self, n: int) -> str:
        """SOP Instance UID of image `n` (1-based, as InstanceNumber) of this subject's series.

        Derived from the series UID, which already encodes spec hash, seed and index.
        """
        return derived_uid(self.series_uid, "instance", int(n))


def identity_for(model_key: str, cohort_seed: int, index: int) -> SyntheticIdentity:
    """The synthetic identity of subject `index`: a function of the checked model's key (the plan's
    `seed_key`), the cohort seed and the index only, so reformatting or renaming the spec keeps it."""
    key = (str(model_key), int(cohort_seed), int(index))
    return SyntheticIdentity(
        patient_id=f"SYN-{str(model_key)[:8]}-{int(index):06d}",
        patient_name=f"SYNTHETIC^S{int(index):06d}",
        study_uid=derived_uid(*key, "study"),
        series_uid=derived_uid(*key, "series"),
        frame_of_reference_uid=derived_uid(*key, "frame_of_reference"),
    )
