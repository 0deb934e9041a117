"""Judges the generators never trained against: the independent judge network's feature distance, KID over the
test split in its feature space and its localisation mAP on SR images (task fidelity), and weight-free
full-reference perceptual metrics from torchmetrics (VIF, MS-SSIM). The miniVGG19 distance (metrics.py) is the
GAN's own loss space and is kept apart from these."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torchmetrics.functional.image import (multiscale_structural_similarity_index_measure,
                                           visual_information_fidelity)
from torchmetrics.image.kid import KernelInceptionDistance

from msrgan.classes import CLASSES
from msrgan.evaluation.metrics import PerceptualDistance
from msrgan.models.judge import Judge
from msrgan.multilabel import classification_report

# MS-SSIM with the first three of Wang et al.'s (2003) five scale weights: five scales of an 11-px window need
# 161 px, more than a 96-px tile has; torchmetrics normalises the weights it is given
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001)


def _tensor(images: list[np.ndarray] | np.ndarray, device) -> torch.Tensor:
    """N x H x W x 3 uint8 -> N x 3 x H x W float32 in [0, 1] on `device`."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(images))).permute(0, 3, 1, 2).float().div(255).to(device)


@torch.no_grad()
def weight_free(hrs: list[np.ndarray], srs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per image (same-size H x W x 3 uint8 lists): VIF-p (Sheikh and Bovik 2006; 1 = as much visual information as
    HR, higher is better) and 3-scale MS-SSIM, both torchmetrics' implementations on the RGB images in [0, 1].
    Returns {'vif': N floats, 'ms_ssim': N floats}; MS-SSIM is NaN for images under 41 px a side."""
    hr, sr = _tensor(hrs, "cpu"), _tensor(srs, "cpu")
    vif = visual_information_fidelity(sr, hr, reduction="none").double().numpy()
    if min(hr.shape[-2:]) > 40:
        ms = multiscale_structural_similarity_index_measure(sr, hr, data_range=1.0, betas=MS_SSIM_BETAS,
                                                            normalize="relu", reduction="none").double().numpy()
    else:
        ms = np.full(len(hrs), np.nan)
    return {"vif": vif, "ms_ssim": ms}


class _Embedding(torch.nn.Module):
    """The judge's pooled features of uint8 N x 3 x H x W images, the feature extractor KID is given."""

    def __init__(self, judge: Judge):
        super().__init__()
        self.judge = judge

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.judge.embedding(images.float() / 255).double()


@dataclass
class IndependentJudge:
    """The trained judge (msrgan/models/judge.py) on `device`, and what the evaluate stage asks of it."""
    judge: Judge
    blocks: tuple[int, ...] = (2, 3, 4)
    device: str = "cpu"

    def __post_init__(self):
        self.distance = PerceptualDistance(self.judge, self.blocks, self.device)

    @torch.no_grad()
    def probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """N x 13 class probabilities (sigmoid) of H x W x 3 uint8 images (batched where they share a size)."""
        if len({im.shape for im in images}) > 1:
            return np.concatenate([self.probabilities([im]) for im in images])
        return torch.sigmoid(self.judge(_tensor(images, self.device)).float()).cpu().numpy()

    def task_map(self, probabilities: np.ndarray, labels: list[tuple[int, ...]]) -> float:
        """Macro mean average precision of the judge's predictions over the classes present in `labels`."""
        truth = np.zeros((len(labels), len(CLASSES)), bool)
        for i, classes in enumerate(labels):
            truth[i, list(classes)] = True
        return classification_report(probabilities, truth, 0.5, CLASSES)["map"]

    def kid(self, subsets: int, subset_size: int) -> "KidAccumulator":
        """A KID accumulator in this judge's feature space (fed chunk by chunk: the test split is streamed)."""
        return KidAccumulator(self.judge, subsets, subset_size, self.device)


class KidAccumulator:
    """Kernel inception distance (Binkowski et al. 2018; unbiased, so fair at small sample sizes) between the judge's
    features of HR and SR images, torchmetrics' implementation with the judge as its feature extractor."""

    def __init__(self, judge: Judge, subsets: int, subset_size: int, device: str = "cpu"):
        with warnings.catch_warnings():   # its note that features are kept in memory: a few hundred floats each
            warnings.simplefilter("ignore", UserWarning)
            self.metric = KernelInceptionDistance(feature=_Embedding(judge), subsets=subsets, subset_size=subset_size)
        self.subset_size, self.device, self.n = subset_size, device, 0

    @torch.no_grad()
    def update(self, hrs: list[np.ndarray], srs: list[np.ndarray]) -> None:
        """Add HR (real) and SR (generated) images, H x W x 3 uint8 of one size per call."""
        for images, real in ((hrs, True), (srs, False)):
            self.metric.update(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(self.device), real=real)
        self.n += len(hrs)

    @torch.no_grad()
    def compute(self, seed: int) -> tuple[float, float]:
        """(mean, standard deviation) of KID over the random subsets (of subset_size images, capped at the number
        seen), drawn with `seed`; 0 = the same distribution. torch's global generator is left as it was."""
        self.metric.subset_size = min(self.subset_size, self.n)
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)        # torchmetrics draws the subsets with torch's global generator
        try:
            mean, std = self.metric.compute()
        finally:
            torch.random.set_rng_state(state)
        return float(mean), float(std)


def _batched(fn, hrs: list[np.ndarray], srs: list[np.ndarray]) -> np.ndarray:
    """fn(HR N x H x W x 3, SR N x H x W x 3) -> N values, in one batch when the images share a size, else one by
    one (tiles of several sizes)."""
    if len({im.shape for im in hrs + srs}) == 1:
        return np.asarray(fn(np.stack(hrs), np.stack(srs)), np.float64)
    return np.array([fn(hr[None], sr[None])[0] for hr, sr in zip(hrs, srs)], np.float64)


class NetworkJudges:
    """The learned measures of one evaluate run, fed chunk by chunk: per image the miniVGG19 distance (the GAN's own
    loss space, `perceptual`), the judge network's feature distance, VIF and MS-SSIM; per method the KID and the
    judge's localisation mAP (and HR's mAP, the ceiling)."""

    def __init__(self, vgg: PerceptualDistance, judge: IndependentJudge, kid_subsets: int, kid_subset_size: int):
        self.vgg, self.judge = vgg, judge
        self.kid_subsets, self.kid_subset_size = kid_subsets, kid_subset_size
        self.kids: dict[str, KidAccumulator] = {}
        self.probabilities: dict[str, list[np.ndarray]] = {}
        self.labels: list[tuple[int, ...]] = []

    def reference(self, hrs: list[np.ndarray], labels: list[tuple[int, ...]]) -> None:
        """A chunk's HR images and their classes (call once per chunk, before its methods)."""
        self.labels += labels
        self.probabilities.setdefault("hr", []).extend(self.judge.probabilities(hrs))

    def score(self, method: str, hrs: list[np.ndarray], srs: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Per-image values of `method`'s SR images of the chunk: perceptual, judge_distance, vif, ms_ssim."""
        self.probabilities.setdefault(method, []).extend(self.judge.probabilities(srs))
        kid = self.kids.setdefault(method, self.judge.kid(self.kid_subsets, self.kid_subset_size))
        for hr, sr in zip(hrs, srs):
            kid.update([hr], [sr])
        same = len({im.shape for im in hrs + srs}) == 1
        free = weight_free(hrs, srs) if same else {
            k: np.concatenate(v) for k, v in zip(("vif", "ms_ssim"), zip(*[weight_free([h], [s]).values()
                                                                         for h, s in zip(hrs, srs)]))}
        return {"perceptual": _batched(self.vgg, hrs, srs), "judge_distance": _batched(self.judge.distance, hrs, srs),
                **free}

    def summary(self, method: str, seed: int) -> dict[str, float]:
        """{'judge_map': .., and for a method (not 'hr') 'kid', 'kid_std'} over everything fed so far."""
        out = {"judge_map": self.judge.task_map(np.stack(self.probabilities[method]), self.labels)}
        if method in self.kids:
            out["kid"], out["kid_std"] = self.kids[method].compute(seed)
        return out
