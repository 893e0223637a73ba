"""The thorax builder's structure codes, named as in anatomy_thorax.synth.

The numba kernels write these codes; `build.py` maps them to the plan's label table by name at the
end, so the ids in labels.nii.gz are always the stdlib's (today the two agree, and a test says so).
"""

# Label codes: anatomy_thorax.synth (tests check they agree).
AIR, BODY_WALL, SUBCUT_FAT, MUSCLE = 0, 1, 2, 3
RUL, RML, RLL, LUL, LLL, PLEURA = 10, 11, 12, 13, 14, 15
TRACHEA, BRONCHI = 20, 21
PULM_ARTERY, PULM_VEIN = 30, 31
HEART, AORTA = 40, 41
VERTEBRAE, SPINAL_CANAL, RIBS, STERNUM = 50, 51, 52, 53
LOBES = (RUL, RML, RLL, LUL, LLL)
ORGANS = {
    "body_wall": BODY_WALL, "subcutaneous_fat": SUBCUT_FAT, "muscle": MUSCLE,
    "right_upper_lobe": RUL, "right_middle_lobe": RML, "right_lower_lobe": RLL,
    "left_upper_lobe": LUL, "left_lower_lobe": LLL, "pleura": PLEURA, "trachea": TRACHEA, "bronchi": BRONCHI,
    "pulmonary_arteries": PULM_ARTERY, "pulmonary_veins": PULM_VEIN, "heart": HEART, "aorta": AORTA,
    "vertebrae": VERTEBRAE, "spinal_canal": SPINAL_CANAL, "ribs": RIBS, "sternum": STERNUM,
}
