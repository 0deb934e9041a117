"""How the microscope records the specimen: the confocal's HR field and, optionally, a low-resolution acquisition
of the same specimen.

The stains' densities become light: uneven illumination, crosstalk into the next detector, photobleaching (later
stains and later rows more), a per-stain exposure and out-of-focus haze. That light (an `Exposure`, with the
stain's PSF, background and camera) is recorded through the optics of msrgan.data.optics, the one definition of the
microscope's PSF blur, binning, detector and digitisation: the HR field through the confocal's Gaussian PSF at
full resolution; the LR acquisition through a PSF widened by `psf_sigma` (sigma_LR^2 = sigma_HR^2 + psf_sigma^2),
scale x scale binning (photons are conserved: an LR pixel collects scale^2 x dose x an HR pixel's photons) and the
same camera with its own noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from msrgan.data.optics import bin_pixels, blur, detect, digitise
from msrgan.data.simulator.drawing import smooth_noise

# The physical width of a simulated field: an HPA confocal field (Leica SP5, 63x/1.4 NA oil objective; the
# CYTO2017 fields are 2048 x 2048 px at about 0.08 µm per pixel), about 164 µm. The simulator's lengths scale with
# `size`, so a field of `size` pixels has pixels of FIELD_WIDTH_UM / size µm (0.32 µm at the default 512).
FIELD_WIDTH_UM = 2048 * 0.08
ORDER = ("blue", "green", "yellow", "red")      # the stains are acquired one after another, in this order
PHOTONS = {"blue": (80, 200), "green": (90, 260), "yellow": (40, 120), "red": (40, 120)}   # per HR px at unit signal
PSF_WIDTH = {"blue": 0.85, "green": 1.0, "yellow": 1.05, "red": 1.1}    # x 1.2 px at 512: wider at longer wavelength


def pixel_size_um(size: int) -> float:
    """Physical size in µm of the pixels of a simulated field `size` pixels wide."""
    return FIELD_WIDTH_UM / size


@dataclass
class Exposure:
    """One stain's acquisition: the light that reaches the objective and the microscope and camera that record it."""
    light: np.ndarray       # float64 H x W, signal units (a stain is about 1 where bright) on the HR pixel grid
    psf_sigma: float        # the confocal's Gaussian PSF, HR pixels
    background: float       # autofluorescence and stray light, signal units per HR pixel
    photons: float          # expected photons per HR pixel at unit signal (the SNR)
    gain: float             # camera gain, ADU per photon
    offset: float           # camera offset, ADU
    read_noise: float       # camera read noise, ADU RMS


def _haze(img: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur, done at a quarter of the resolution (it is smooth anyway): fast."""
    h, w = img.shape
    small = cv2.resize(img, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(blur(small, sigma / 4), (w, h), interpolation=cv2.INTER_LINEAR)


def record(rng: np.random.Generator, signal: dict[str, np.ndarray], u: float
           ) -> tuple[dict[str, np.ndarray], dict[str, Exposure]]:
    """Stain densities (colour -> float32 H x W) -> what the confocal records (colour -> uint16 H x W, ADU), and
    each stain's Exposure, from which an LR acquisition of the same specimen is made (record_lr)."""
    size = signal["red"].shape[0]
    yy, xx = np.ogrid[0:size, 0:size]
    yy, xx = yy.astype(np.float32) / size, xx.astype(np.float32) / size
    cy, cx = rng.uniform(0.2, 0.8, 2)
    # uneven illumination: vignetting around an off-centre optical axis, and a slow ripple
    illum = (1 - rng.uniform(0.1, 0.4) * ((yy - cy) ** 2 + (xx - cx) ** 2) / 0.5) \
        * (1 + 0.06 * smooth_noise(rng, (size, size), 60 * u))
    # crosstalk: each dye bleeds a little into the next detector up the spectrum
    sig = {k: v.copy() for k, v in signal.items()}
    sig["green"] += rng.uniform(0.005, 0.03) * signal["blue"]
    sig["yellow"] += rng.uniform(0.01, 0.05) * signal["green"]
    sig["red"] += rng.uniform(0.005, 0.03) * signal["yellow"]
    stains, exposures = {}, {}
    # acquired one after another: later stains are more bleached, and bleaching grows along the scan (rows)
    for order, colour in enumerate(ORDER):
        bleach = np.exp(-rng.uniform(0, 0.08) * order) * (1 - rng.uniform(0, 0.1) * yy)
        light = sig[colour] * illum * bleach * np.exp(rng.normal(0, 0.25))   # exposure / staining strength
        light = light + rng.uniform(0.05, 0.2) * _haze(light, 10 * u)         # out-of-focus light
        psf = 1.2 * u * PSF_WIDTH[colour]
        background = rng.uniform(0.001, 0.006)                                # autofluorescence / background
        photons = rng.uniform(*PHOTONS[colour])
        gain, offset, read = rng.uniform(8, 20), rng.uniform(100, 400), rng.uniform(2, 6)
        exposures[colour] = e = Exposure(light, psf, background, photons, gain, offset, read)
        expected = (blur(e.light, e.psf_sigma) + e.background) * e.photons    # photons per pixel
        stains[colour] = digitise(detect(expected, e.read_noise, rng, e.gain, e.offset, np.float32), np.uint16)
    return stains, exposures


def noise_free(exposures: dict[str, Exposure]) -> dict[str, np.ndarray]:
    """What record's camera reads on average, without photon or read noise and undigitised (colour -> float64 H x W,
    ADU): gain x the expected photons + offset, the same exposure as the recorded stain's."""
    expected = {colour: (blur(e.light, e.psf_sigma) + e.background) * e.photons for colour, e in exposures.items()}
    return {colour: expected[colour].astype(np.float64) * e.gain + e.offset for colour, e in exposures.items()}


def record_lr(exposures: dict[str, Exposure], scale: int, psf_sigma: float, dose: float,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The same specimen's LR acquisition (colour -> uint16 H/scale x W/scale, ADU): each stain's light through the
    HR PSF widened by `psf_sigma` HR pixels, binned scale x scale at `dose` times the HR exposure, read by the same
    camera (gain, offset, read noise) with noise drawn from `rng`, not the HR field's."""
    out = {}
    for colour in ORDER:
        e = exposures[colour]
        light = blur(e.light, math.hypot(e.psf_sigma, psf_sigma)) + e.background
        expected = bin_pixels(light, scale) * (e.photons * dose)              # photons per LR pixel
        out[colour] = digitise(detect(expected, e.read_noise, rng, e.gain, e.offset, np.float32), np.uint16)
    return out
