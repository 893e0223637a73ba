"""The real-prior thorax's structure codes (anatomy_thorax_real.synth) and where each comes from in the scan.

`CODES` are the stdlib label ids by name (a test checks they agree with the stdlib file); `TS_TO_CODE` maps the
TotalSegmentator ids of the development scan's label map (its `structures.csv`) onto them.  Structures the map
has no label for (fat, lean tissue, skin, intrapulmonary vessels, bronchi) are derived in template.py.
"""

CODES = {
    "body_wall": 1, "subcutaneous_fat": 2, "muscle": 3, "visceral_fat": 4, "breasts": 5,
    "right_upper_lobe": 10, "right_middle_lobe": 11, "right_lower_lobe": 12, "left_upper_lobe": 13,
    "left_lower_lobe": 14, "pleura": 15, "trachea": 20, "bronchi": 21, "lung_vessels": 30,
    "heart": 40, "aorta": 41, "great_vessels": 42, "oesophagus": 44,
    "vertebrae": 50, "spinal_canal": 51, "ribs": 52, "sternum": 53, "costal_cartilage": 54, "clavicles": 55,
    "scapulae": 56, "humeri": 57,
    "liver": 60, "spleen": 61, "kidneys": 62, "stomach": 63, "bowel": 64, "pancreas": 65, "adrenal_glands": 66,
    "thyroid": 67,
}
LOBES = ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe", "left_upper_lobe", "left_lower_lobe")

_TS_GROUPS = {
    "spleen": (1,), "kidneys": (2, 3, 23, 24), "liver": (5,), "stomach": (6,), "pancreas": (7,),
    "adrenal_glands": (8, 9), "left_upper_lobe": (10,), "left_lower_lobe": (11,), "right_upper_lobe": (12,),
    "right_middle_lobe": (13,), "right_lower_lobe": (14,), "oesophagus": (15,), "trachea": (16,), "thyroid": (17,),
    "bowel": (18, 19, 20), "vertebrae": tuple(range(25, 51)), "heart": (51, 61), "aorta": (52,),
    "great_vessels": (53, 54, 55, 56, 57, 58, 59, 60, 62, 63, 64), "humeri": (69, 70), "scapulae": (71, 72),
    "clavicles": (73, 74), "spinal_canal": (79,), "muscle": (86, 87, 88, 89), "ribs": tuple(range(92, 116)),
    "sternum": (116,), "costal_cartilage": (118,),
}
TS_TO_CODE = {ts: name for name, ids in _TS_GROUPS.items() for ts in ids}
"""TotalSegmentator id -> structure name.  The central pulmonary veins (53) join the great vessels: inside the
lungs arteries and veins are not told apart (both are `lung_vessels`)."""
