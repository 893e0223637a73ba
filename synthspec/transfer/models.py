"""One small MONAI network per job, the same in every arm of the transfer test.

    segment   monai.networks.nets.UNet, 3-D, one input channel, one output (lesion logit)
    detect    the same UNet: its sigmoid is a lesion probability map; lesions are its connected components
    classify  monai.networks.nets.DenseNet121 with few features (or a small ResNet with model: resnet)

Sizes are kept small so the test runs on a CPU; `describe` records what was built in transfer.json.
Weights are initialised from a given seed inside `torch.random.fork_rng`, so the global torch state is
left as it was and every arm starts from the same weights.  Training is in `train`.
"""

from __future__ import annotations

UNET_CHANNELS = (8, 16, 32)
UNET_STRIDES = (2, 2)
DENSENET_FEATURES = 8


def build(job: str, seed: int, model: str | None = None):
    """The network for `job`, initialised from `seed`; `model` (the spec's transfer.model) picks the classifier."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if job == "classify":
            if model == "resnet":
                from monai.networks.nets import resnet10

                return resnet10(spatial_dims=3, n_input_channels=1, num_classes=1)
            from monai.networks.nets import DenseNet121

            return DenseNet121(spatial_dims=3, in_channels=1, out_channels=1, init_features=DENSENET_FEATURES,
                               growth_rate=DENSENET_FEATURES, dropout_prob=0.0)
        from monai.networks.nets import UNet

        return UNet(spatial_dims=3, in_channels=1, out_channels=1, channels=UNET_CHANNELS, strides=UNET_STRIDES,
                    num_res_units=1)


def describe(job: str, model: str | None = None) -> dict:
    if job == "classify":
        if model == "resnet":
            return {"name": "monai.networks.nets.resnet10", "spatial_dims": 3, "outputs": 1}
        return {"name": "monai.networks.nets.DenseNet121", "spatial_dims": 3, "init_features": DENSENET_FEATURES,
                "growth_rate": DENSENET_FEATURES, "outputs": 1}
    return {"name": "monai.networks.nets.UNet", "spatial_dims": 3, "channels": list(UNET_CHANNELS),
            "strides": list(UNET_STRIDES), "num_res_units": 1, "outputs": 1,
            "output": "lesion probability map (sigmoid)" if job == "detect" else "lesion mask (sigmoid > 0.5)"}


def min_patch_multiple(job: str) -> int:
    """Each side of a UNet patch must be a multiple of this (the product of the strides)."""
    out = 1
    for s in UNET_STRIDES:
        out *= s
    return out if job != "classify" else 1
