"""What the shortcut probes read on an MRI cohort: the channel, the region standing in for the lungs, the windows.

    channel = probe_channel(plan)      # "dwi_b1000" (highest-b trace), else a post-contrast sequence, else the first
    region = region_ids(plan)          # brain parenchyma labels (grey and white matter)
    window, low = windows(plan)        # stored-unit windows of the probe's input channels

The CT probes read HU slabs in a lung window inside the lung labels.  On MRI the finding is
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


def region_ids(plan) -> tuple[int, ...]:
    """The labels the lesion branch looks inside: the lungs on CT, the brain parenchyma on MRI."""
    from synthspec.cohort.labels import ids, lung_ids

    if not is_mri(plan):
        return lung_ids(plan)
    return tuple(sorted(set(ids(plan, tissue="grey_matter")) | set(ids(plan, tissue="white_matter"))))


def windows(plan):
    """(main window, low window) of the probe inputs; None: the CT defaults."""
    return (MR_WINDOW, MR_LOW_WINDOW) if is_mri(plan) else None


def image_of(generated, channel: str | None):
    """A regenerated subject's probe channel (GeneratedSubject.channels), or its first image."""
    return generated.channels[channel] if channel else generated.image


def read(subject, channel: str | None):
    """A cohort subject's probe channel (SubjectFiles), or its first image."""
    return subject.channel(channel) if channel else subject.image()
