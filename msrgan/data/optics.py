"""The microscope's low-resolution acquisition, as a physical model: extra optical blur, camera binning,
Poisson-Gaussian noise, quantisation. One definition, for `prepare.degradation: microscope`, for the LR
consistency (evaluate, `msrgan upscale --consistency-map`), which follows the degradation a generator was trained on,
and for the simulator (msrgan.data.simulator.acquisition), whose fields and LR acquisitions go through the same PSF
blur, binning, detector and digitisation.

An LR acquisition of the same specimen as an HR image differs from it by
- optics: a lower-NA objective has a wider PSF. Both PSFs are close to Gaussians (the Airy core: sigma about
  0.21 lambda / NA, Zhang et al. 2007, Appl. Opt. 46:1819), and a Gaussian of width sigma_LR is the HR image's
  Gaussian of width sigma_HR blurred by one of sqrt(sigma_LR^2 - sigma_HR^2): `psf_sigma`, in HR pixels;
- the camera: one LR pixel collects the light of scale x scale HR pixels (binning sums, so photons are conserved);
- the detector: photon shot noise (Poisson) and read noise (Gaussian, in photons RMS) at a photon level: `photons`
  expected per LR pixel where the HR image is at full scale (255 for 8 bit, 65535 for 16 bit);
- digitisation: back to the input's intensity scale and bit depth (a mean-preserving map: a flat HR field gives
  an LR field of the same value on average).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from msrgan.data.degrade import downscale


@dataclass(frozen=True)
class Acquisition:
    """One LR acquisition of the microscope; no defaults here: params.Microscope (prepare.microscope) states them."""
    scale: int                  # binning: one LR pixel per scale x scale HR pixels
    psf_sigma: float            # extra Gaussian blur of the LR optics, HR pixels (0: the same optics)
    photons: float              # expected photons per LR pixel at full scale
    read_noise: float           # detector read noise, photons RMS

    def __post_init__(self):
        if self.scale < 1 or self.psf_sigma < 0 or self.photons <= 0 or self.read_noise < 0:
            raise ValueError(f"not a valid acquisition: {self}")


def psf_radius(sigma: float) -> int:
    """Half width in pixels of gaussian_psf(sigma)'s kernel: OpenCV's rule for float images, round(8 sigma + 1) made
    odd, halved (4 sigma to within half a pixel), so that blur is cv2.GaussianBlur with exactly this kernel, the
    blur the simulated fields were made with."""
    return (int(np.rint(8 * sigma + 1)) | 1) // 2


def gaussian_psf(sigma: float, radius: int | None = None) -> np.ndarray:
    """A (2r+1) x (2r+1) float64 Gaussian PSF of standard deviation `sigma` pixels, sampled at pixel centres and
    normalised to integrate to 1 (r = psf_radius(sigma) by default; sigma 0: the 1 x 1 identity). blur applies the
    same kernel through OpenCV; this explicit one is what the tests check it against."""
    if sigma == 0:
        return np.ones((1, 1))
    radius = psf_radius(sigma) if radius is None else radius
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-x**2 / (2 * sigma**2))
    psf = np.outer(g, g)
    return psf / psf.sum()


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """`image` (H x W[ x C]) convolved with gaussian_psf(sigma), mirrored at the border (BORDER_REFLECT); float32,
    or float64 for a float64 image (integers become float32)."""
    image = np.asarray(image)
    if image.dtype not in (np.float32, np.float64):
        image = image.astype(np.float32)
    if sigma == 0:
        return image.copy()
    size = 2 * psf_radius(sigma) + 1    # cv2.getGaussianKernel(size, sigma) is gaussian_psf's separable factor
    return cv2.GaussianBlur(image, (size, size), sigma, borderType=cv2.BORDER_REFLECT)


def bin_pixels(image: np.ndarray, scale: int) -> np.ndarray:
    """Sum of each scale x scale block (H x W[ x C] -> H//scale x W//scale[ x C], float64); rows and columns beyond
    a multiple of `scale` are dropped. Photons are conserved: the sum over the kept area is unchanged."""
    h, w = image.shape[0] // scale * scale, image.shape[1] // scale * scale
    kept = np.asarray(image[:h, :w], np.float64)
    return kept.reshape(h // scale, scale, w // scale, scale, *kept.shape[2:]).sum(axis=(1, 3))


def detect(expected: np.ndarray, read_noise: float, rng: np.random.Generator, gain: float = 1.0,
           offset: float = 0.0, dtype=np.float64) -> np.ndarray:
    """A camera's reading of `expected` photons per pixel (array, any shape): gain x Poisson(expected) + offset +
    Gaussian read noise of `read_noise` RMS in the reading's units (ADU; photons with the default gain 1 and offset
    0), as `dtype`, its normal deviates drawn in that dtype. Mean gain x expected + offset, variance
    gain^2 x expected + read_noise^2."""
    counts = rng.poisson(np.clip(expected, 0, None)).astype(dtype)
    return counts * gain + (offset + read_noise * rng.standard_normal(np.shape(expected), dtype=dtype))


def digitise(values: np.ndarray, dtype=np.uint16) -> np.ndarray:
    """An analogue reading as the integer `dtype` the camera or file records: rounded, saturating at its range."""
    return np.clip(np.rint(values), 0, np.iinfo(dtype).max).astype(dtype)


def acquire(hr: np.ndarray, acquisition: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """The LR acquisition of the specimen that `hr` (H x W[ x C], uint8 or uint16) shows: blurred by the extra PSF,
    binned, detected at the photon level, digitised back to hr's scale and dtype (H//scale x W//scale[ x C])."""
    full = np.iinfo(hr.dtype).max
    signal = expected_lr(hr.astype(np.float32) / full, acquisition.scale, acquisition.psf_sigma)   # of full scale
    photons = detect(signal * acquisition.photons, acquisition.read_noise, rng)
    return digitise(photons / acquisition.photons * full, hr.dtype)          # mean-preserving


def expected_lr(image: np.ndarray, scale: int, psf_sigma: float) -> np.ndarray:
    """What the LR acquisition of `image` (H x W[ x C]) records on average: blurred by the extra PSF and binned,
    in image's intensity units (float64, H//scale x W//scale[ x C]): acquire's mean, without its noise, which cannot
    be reproduced, so this is what an SR image, downscaled again, is compared with its LR input by."""
    return bin_pixels(blur(image, psf_sigma), scale) / scale**2


def redownscale(image: np.ndarray, scale: int, domain: dict | None) -> np.ndarray:
    """`image` (H x W[ x C]) made small the way its LR input was made, by a generator file's (or prepare's)
    recorded `domain`: bicubic decimation (the default, and without a domain), or the microscope's expected LR.
    Same dtype as `image` (integers rounded and clipped)."""
    if not domain or domain.get("degradation", "bicubic") == "bicubic":
        return downscale(image, scale)
    small = expected_lr(image, scale, float(domain["microscope"]["psf_sigma"]))
    if np.issubdtype(image.dtype, np.integer):
        return np.clip(np.rint(small), 0, np.iinfo(image.dtype).max).astype(image.dtype)
    return small.astype(image.dtype)
