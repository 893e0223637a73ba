"""The probe models: MONAI inputs, the two small networks, and how one is trained and asked.

Input channels (MONAI ScaleIntensityRange windows, then Resize to size x size):
    0-2  slices z-1, z, z+1 in the lung window (W 1500, L -600)
    3    slice z, lung window, inside the eroded lung label only (flat lung median outside:
         no edges); twins share the labels, so it adds no label information
    4    slice z in a low-density window (W 300, L -950): faint offsets in air and padding
On MRI (`reading.py`) the same channels read the probe channel in stored units: windows 0..2500 and
0..150 instead of the lung and low-density windows, the brain parenchyma instead of the lung; on head
CT the brain window (0..80 HU) and the intracranial labels instead of the lung window and lungs.
The probes are measuring instruments, not detectors worth shipping: tens of thousands of
weights, CPU-fast, deterministic: weight initialisation and data order come from
`analysis_rng("shortcut", seed, kind, ...)` (the initialisation inside `torch.random.fork_rng`,
so the global torch state is left as it was).  Which subjects a probe sees, and what its
predictions mean, is `crossval.py`'s and `verdicts.py`'s business.
"""

from __future__ import annotations

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.validate.shortcut.settings import CONTEXT, LOW_DENSITY_WINDOW_HU, LUNG_WINDOW_HU, ShortcutSettings


class Inputs:
    """HU slab + eroded lung mask -> the five input channels at size x size (MONAI transforms)."""

    def __init__(self, size: int, window=LUNG_WINDOW_HU, low_window=LOW_DENSITY_WINDOW_HU):
        from monai.transforms import Resize, ScaleIntensityRange

        self.size = size
        self.lung_window = ScaleIntensityRange(a_min=window[0], a_max=window[1], b_min=0.0, b_max=1.0, clip=True)
        self.low_window = ScaleIntensityRange(a_min=low_window[0], a_max=low_window[1], b_min=0.0, b_max=1.0,
                                              clip=True)
        self.resize = Resize((size, size), mode="area")

    def __call__(self, slab: np.ndarray, lung: np.ndarray):
        import torch

        hu = torch.as_tensor(slab, dtype=torch.float32)
        lung_w = torch.as_tensor(self.lung_window(hu), dtype=torch.float32)
        centre = lung_w[1:2]
        inside = torch.as_tensor(np.asarray(lung)[None], dtype=torch.bool)
        fill = centre[inside].median() if bool(inside.any()) else centre.new_tensor(0.33)
        lung_only = torch.where(inside, centre, fill)   # flat outside the lung: no edges to respond to
        channels = torch.cat([lung_w, lung_only, torch.as_tensor(self.low_window(hu[1:2]), dtype=torch.float32)])
        if tuple(channels.shape[1:]) != (self.size, self.size):
            channels = torch.as_tensor(self.resize(channels), dtype=torch.float32)
        return channels


def _stack_blocks(c_in: int, widths):
    import torch
    from monai.networks.blocks import Convolution

    layers = []
    for c in widths:
        layers += [Convolution(spatial_dims=2, in_channels=c_in, out_channels=c, kernel_size=3, act="RELU",
                               norm="BATCH"), torch.nn.MaxPool2d(2)]
        c_in = c
    return torch.nn.Sequential(*layers)


def probe_model(kind: str = "detector", lesion_channels=(16, 32, 64), context_channels=(8, 16, 16), grid: int = 4):
    """The probes, built from MONAI conv-batchnorm-ReLU blocks with max pooling; one logit out.

    detector: a lesion branch on the lung-only channel (global max and mean pooling: a small
    finding anywhere in the lungs) and a context branch on the other channels, max-pooled on a
    coarse grid x grid layout (position-aware: a marker, text or padding in a fixed place is as
    easy to learn as the finding).  twin: the context branch alone."""
    import torch

    class Detector(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lesion = _stack_blocks(1, lesion_channels)
            self.context = _stack_blocks(len(CONTEXT), context_channels)
            self.pool = torch.nn.AdaptiveMaxPool2d(grid)
            self.head = torch.nn.Linear(2 * lesion_channels[-1] + context_channels[-1] * grid * grid, 1)

        def forward(self, x):
            h = self.lesion(x[:, 3:4])
            c = self.pool(self.context(x[:, CONTEXT])).flatten(1)
            return self.head(torch.cat([h.amax(dim=(2, 3)), h.mean(dim=(2, 3)), c], dim=1))

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.context = _stack_blocks(len(CONTEXT), context_channels)
            self.pool = torch.nn.AdaptiveMaxPool2d(grid)
            self.head = torch.nn.Linear(context_channels[-1] * grid * grid, 1)

        def forward(self, x):
            return self.head(self.pool(self.context(x)).flatten(1))

    if kind not in ("detector", "twin"):
        raise ValueError(f"probe kind must be 'detector' or 'twin', got {kind!r}")
    return Detector() if kind == "detector" else Twin()


def folds_of(positive: list[bool], n_folds: int) -> list[int]:
    """Fold of each subject: positives and negatives dealt round-robin in index order."""
    fold, counters = [0] * len(positive), {True: 0, False: 0}
    for k, p in enumerate(positive):
        fold[k] = counters[p] % n_folds
        counters[p] += 1
    return fold


def train(kind: str, x, y, epochs: int, s: ShortcutSettings, *stream):
    """A probe of `kind` trained on (x, y); `stream` (fold, tag, ...) keys its initialisation and data order."""
    import torch

    rng = analysis_rng("shortcut", s.seed, kind, *stream)
    init_seed, order_seed = (int(v) for v in rng.integers(0, 2**63 - 1, size=2))
    with torch.random.fork_rng(devices=[]):   # layers initialise from the global generator: seed it, then restore
        torch.manual_seed(init_seed)
        model = probe_model(kind)
    model = model.to(s.device)
    opt = torch.optim.Adam(model.parameters(), lr=s.learning_rate, weight_decay=1e-4)
    pos = float(y.sum())
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / max(pos, 1.0), device=s.device))
    gen = torch.Generator().manual_seed(order_seed)
    x, y = x.to(s.device), y.to(s.device)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), s.batch_size):
            idx = order[start:start + s.batch_size]
            if len(idx) < 2:   # batch norm needs two
                continue
            opt.zero_grad()
            loss_fn(model(x[idx].float()).squeeze(1), y[idx]).backward()
            opt.step()
    model.eval()
    return model


def predict(model, x, s: ShortcutSettings) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = [torch.sigmoid(model(x[i:i + 64].to(s.device).float()).squeeze(1)).cpu() for i in range(0, len(x), 64)]
    return torch.cat(out).numpy().astype(np.float64)
