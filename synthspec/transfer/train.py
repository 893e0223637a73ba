"""The seeded training loop and inference of the transfer test: one budget, one optimiser, every arm.

A `Source` draws batches from a list of volumes with its own `analysis_rng` stream; `fit` runs a fixed
number of Adam steps on batches from one or two sources (a mixed batch takes `real_share` of its items
from the first), with deterministic algorithms asked of torch for the duration and restored after.
`predict` gives a probability map per volume (the whole scan at once up to MAX_WINDOW, else a sliding window;
segment and detect) or a probability per
scan (classify).  No metric is computed here and nothing is written.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.transfer import data

LEARNING_RATE = 1e-3
CLASSIFY_MIN_SIDE = 32
MAX_WINDOW = (64, 128, 128)
"""The largest window the fully convolutional UNet sees at once when predicting (larger scans are tiled)."""


def inference_window(shape, patch) -> tuple[int, int, int]:
    """The sliding window for prediction: the whole scan (sides rounded up to multiples of 4) up to MAX_WINDOW."""
    return tuple(max(p, min(m, -(-n // 4) * 4)) for n, p, m in zip(shape, patch, MAX_WINDOW))


def classify_size(patch: tuple[int, int, int]) -> tuple[int, int, int]:
    """The classifier's input: the whole scan resized to the patch size, each side at least 32 voxels."""
    return tuple(max(CLASSIFY_MIN_SIDE, p) for p in patch)


@dataclass
class Source:
    volumes: list
    job: str
    patch: tuple[int, int, int]
    rng: np.random.Generator

    @classmethod
    def of(cls, volumes, job, patch, *key):
        return cls(list(volumes), job, tuple(patch), analysis_rng("transfer", *key))

    def draw(self, count: int):
        if self.job == "classify":
            size = classify_size(self.patch)
            picks = [self.volumes[int(self.rng.integers(len(self.volumes)))] for _ in range(count)]
            x = np.stack([data.whole(v, size) for v in picks]).astype(np.float32)
            y = np.asarray([[float(v.klass)] for v in picks], np.float32)
            return x, y
        return data.batch(self.volumes, count, self.patch, self.rng)


def resolve_device(name: str) -> str:
    import torch

    from synthspec.errors import UsageError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but torch sees no CUDA device; use --device cpu or auto")
    return name


@contextmanager
def deterministic():
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    bench = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=warn_only)
        torch.backends.cudnn.benchmark = bench


HEAT_WEIGHT = 50.0
"""A detector's voxel weight is 1 + HEAT_WEIGHT x its target: a lesion is a speck of a patch, its voxels count more."""


def _heat_loss(logits, target):
    import torch

    return torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=1.0 + HEAT_WEIGHT * target)


def _loss(job: str):
    import torch

    if job == "classify":
        return torch.nn.BCEWithLogitsLoss()
    if job == "detect":
        return _heat_loss
    from monai.losses import DiceCELoss

    return DiceCELoss(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5)


def fit(net, steps: int, batch_size: int, device: str, first: Source, second: Source | None = None,
        real_share: float = 1.0):
    """Train `net` for `steps` Adam steps; batches come from `first`, or `real_share` of each from `first` and
    the rest from `second`.  Returns the mean loss of the last steps (a sanity figure)."""
    import torch

    loss_fn = _loss(first.job)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    net.to(device).train()
    losses = []
    with deterministic():
        for _ in range(steps):
            if second is None:
                x, y = first.draw(batch_size)
            else:
                n_first = int(round(batch_size * real_share))
                parts = [p for p in (first.draw(n_first) if n_first else None,
                                     second.draw(batch_size - n_first) if batch_size - n_first else None) if p]
                x = np.concatenate([p[0] for p in parts])
                y = np.concatenate([p[1] for p in parts])
            xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt), yt)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach().cpu()))
    tail = losses[-max(1, len(losses) // 5):]
    return float(np.mean(tail)) if tail else float("nan")


def predict(net, volumes, job: str, patch: tuple[int, int, int], device: str) -> list:
    """Probability map (float32, the volume's shape) per volume, or the probability of positive per scan."""
    import torch

    net.to(device).eval()
    out = []
    with deterministic(), torch.no_grad():
        for v in volumes:
            if job == "classify":
                x = torch.from_numpy(data.whole(v, classify_size(patch))[None]).to(device)
                out.append(float(torch.sigmoid(net(x)).reshape(-1)[0].cpu()))
                continue
            from monai.inferers import sliding_window_inference

            image = data.pad_to(v.image, patch)
            roi = inference_window(image.shape, patch)
            image = data.pad_to(image, roi)
            x = torch.from_numpy(image[None, None].astype(np.float32)).to(device)
            logits = sliding_window_inference(x, roi_size=roi, sw_batch_size=1, predictor=net, overlap=0.25)
            prob = torch.sigmoid(logits)[0, 0].cpu().numpy()
            z, y, xx = v.image.shape
            out.append(prob[:z, :y, :xx].astype(np.float32))
    return out
