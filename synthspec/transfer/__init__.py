"""The transfer test (`synth transfer`): train on synthetic data, judge on held-out real scans from other sites.

    inputs    read and check the real cases (a MONAI-style datalist JSON or a CSV)
    data      volumes to arrays at one working spacing, CT windowing / MR scaling, detector heatmaps,
              seeded patch sampling
    regions   where lesions can be, from the image alone (the lungs of a chest CT, the head of an MRI)
    models    one small MONAI network per job (UNet for segment and detect, DenseNet for classify)
    real      the built-in real sets (builtin:chest-ct, builtin:brain-mri), fetched, pinned and cached
    train     the seeded training loop, the same budget and optimiser in every arm
    metrics   Dice, lesion-level sensitivity at fixed false positives per scan, AUC, accuracy, bootstrap CIs
    protocol  leave-one-site-out over the real sites, the four arms, evaluation
    gate      the spec's `transfer` rule (mixed minus real only >= min_gain on every held-out site)
    result    transfer.json: written atomically, read back for the cohort card

The room sits above the cohort and below validate: it reads cohorts through `synthspec.cohort.read.load`
and generates nothing.
"""
