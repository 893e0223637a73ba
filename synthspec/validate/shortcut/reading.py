"""What the shortcut probes read: the channel, the region the finding lies in, the windows.

    channel = probe_channel(plan)      # "dwi_b1000" (highest-b trace), else a post-contrast sequence, else the first
    region = region_ids(plan)          # lungs (chest CT), intracranial labels (head CT), brain parenchyma (MRI)
    window, low = windows(plan)        # windows of the probe's input channels (None: the chest CT defaults)

The chest CT probes read HU slabs in a lung window inside the lung labels.  A head CT has no lungs:
its probes read the brain window (W 80, L 40: acute blood at 50-90 HU stands out from brain at
20-40 HU, where the lung window would flatten it to 2 % of its range) inside every intracranial
label (grey and white matter and the CSF spaces: blood lies in the brain, under the dura and in
the sulci), with the chest's low-density window for faint offsets in air.  On MRI the finding is
looked for where it shows: an infarct on the highest-b diffusion trace image (DWI bright), an
enhancing tumour on the post-contrast T1; the lesion channel is the brain parenchyma (grey and
white matter labels, from the plan's label table) instead of the lungs; the main window is 0..2500
stored units (white matter ~1000, CSF and lesions up to ~2x that) and the low window 0..150 units
(background noise, a few to ~15 units, and faint offsets such as the planted marker).  Only
choices: the probes, folds and verdicts are the shared shortcut machinery's.
"""

from __future__ import annotations

MR_WINDOW = (0.0, 2500.0)
MR_LOW_WINDOW = (0.0, 150.0)
HEAD_CT_WINDOW = (0.0, 80.0)
"""The brain window, W 80 / L 40 HU."""


def is_mri(plan) -> bool:
    return getattr(plan, "modality", None) == "mri"


def _get(obj, key, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def probe_channel(plan) -> str | None:
    """The channel the probes read (None: the first channel, as on CT)."""
    if not is_mri(plan):
        return None
    settings = plan.stage("acquire").params.settings
    seqs = list(_get(settings, "sequences") or [])
    for seq in seqs:
        bs = [float(b) for b in (_get(seq, "b_values") or []) if float(b) > 0]
        if _get(seq, "type") == "diffusion" and bs:
            return f"{_get(seq, 'name')}_b{int(round(max(bs)))}"
    for seq in seqs:
        if _get(seq, "post_contrast"):
            return str(_get(seq, "name"))
    return None


def is_head_ct(plan) -> bool:
    """A CT cohort of a head: no lung labels, brain labels."""
    from synthspec.cohort.labels import ids, lung_ids

    return not is_mri(plan) and not lung_ids(plan) and bool(ids(plan, tissue="grey_matter"))


def region_ids(plan) -> tuple[int, ...]:
    """The labels the lesion branch looks inside: the lungs on chest CT, the intracranial labels on head CT,
    the brain parenchyma on MRI."""
    from synthspec.cohort.labels import ids, lung_ids

    brain = set(ids(plan, tissue="grey_matter")) | set(ids(plan, tissue="white_matter"))
    if is_mri(plan):
        return tuple(sorted(brain))
    if is_head_ct(plan):
        return tuple(sorted(brain | set(ids(plan, tissue="csf"))))
    return lung_ids(plan)


def windows(plan):
    """(main window, low window) of the probe inputs; None: the chest CT defaults."""
    from synthspec.validate.shortcut.settings import LOW_DENSITY_WINDOW_HU

    if is_mri(plan):
        return MR_WINDOW, MR_LOW_WINDOW
    if is_head_ct(plan):
        return HEAD_CT_WINDOW, LOW_DENSITY_WINDOW_HU
    return None


def image_of(generated, channel: str | None):
    """A regenerated subject's probe channel (GeneratedSubject.channels), or its first image."""
    return generated.channels[channel] if channel else generated.image


def read(subject, channel: str | None):
    """A cohort subject's probe channel (SubjectFiles), or its first image."""
    return subject.channel(channel) if channel else subject.image()
