"""The microscope's LR acquisition (msrgan.data.optics) against known answers: the PSF integrates to one and has
the stated width, binning conserves photons, the noise has the Poisson-Gaussian variance of its photon level, and an
acquisition keeps the mean and is reproducible from its seed."""
import numpy as np
import pytest

from msrgan.data.optics import Acquisition, acquire, bin_pixels, blur, detect, gaussian_psf


@pytest.mark.parametrize("sigma", [0.8, 1.0, 2.5])   # sampled at pixel centres: below ~0.8 px it aliases
def test_the_psf_integrates_to_one_with_the_stated_width(sigma):
    psf = gaussian_psf(sigma)
    r = psf.shape[0] // 2
    x = np.arange(-r, r + 1)
    assert psf.sum() == pytest.approx(1, abs=1e-12)
    assert (psf.sum(axis=0) * x**2).sum() == pytest.approx(sigma**2, rel=2e-3)   # second moment = sigma^2
    assert np.allclose(psf, psf.T) and np.allclose(psf, psf[::-1])


def test_blur_conserves_light_and_spreads_a_point_by_the_psf():
    point = np.zeros((41, 41), np.float32)
    point[20, 20] = 1000
    out = blur(point, 1.5)
    assert out.sum() == pytest.approx(1000, rel=1e-5)
    psf = gaussian_psf(1.5)
    r = psf.shape[0] // 2
    assert np.allclose(out[20 - r:21 + r, 20 - r:21 + r], 1000 * psf, atol=1e-3)


def test_binning_conserves_photons():
    rng = np.random.default_rng(0)
    image = rng.random((64, 48, 3))
    binned = bin_pixels(image, 4)
    assert binned.shape == (16, 12, 3)
    assert binned.sum() == pytest.approx(image.sum(), rel=1e-12)
    assert binned[0, 0, 1] == pytest.approx(image[:4, :4, 1].sum())
    assert bin_pixels(image[:66 - 3], 4).shape == (15, 12, 3)   # rows beyond a multiple of the scale are dropped


@pytest.mark.parametrize("photons, read", [(50.0, 3.0), (5.0, 0.0), (400.0, 6.0)])
def test_the_noise_variance_matches_the_photon_level(photons, read):
    counts = detect(np.full(200_000, photons), read, np.random.default_rng(1))
    assert counts.mean() == pytest.approx(photons, abs=4 * np.sqrt((photons + read**2) / counts.size))
    assert counts.var() == pytest.approx(photons + read**2, rel=0.02)


def test_an_acquisition_keeps_the_mean_and_has_the_noise_of_its_photon_level():
    flat = np.full((256, 256, 3), 128, np.uint8)
    acq = Acquisition(scale=4, psf_sigma=1.0, photons=200, read_noise=2)
    lr = acquire(flat, acq, np.random.default_rng(2))
    assert lr.shape == (64, 64, 3) and lr.dtype == np.uint8
    assert lr.mean() == pytest.approx(128, abs=0.5)
    expected = 200 * 128 / 255                                          # photons per LR pixel
    assert lr.std() == pytest.approx(np.sqrt(expected + 4) / 200 * 255, rel=0.05)   # in 8-bit levels
    assert np.array_equal(lr, acquire(flat, acq, np.random.default_rng(2)))   # seeded
    assert not np.array_equal(lr, acquire(flat, acq, np.random.default_rng(3)))


def test_more_blur_and_fewer_photons_degrade_a_16bit_edge_more():
    edge = np.zeros((128, 128), np.uint16)
    edge[:, 64:] = 40000
    sharp = acquire(edge, Acquisition(4, psf_sigma=0.0, photons=1e6, read_noise=0), np.random.default_rng(0))
    soft = acquire(edge, Acquisition(4, psf_sigma=6.0, photons=1e6, read_noise=0), np.random.default_rng(0))
    noisy = acquire(edge, Acquisition(4, psf_sigma=0.0, photons=20, read_noise=2), np.random.default_rng(0))
    assert sharp.dtype == np.uint16 and sharp[:, 15].mean() < 100 and sharp[:, 16].mean() > 39000   # binning only
    assert soft[:, 15].mean() > 4000 and soft[:, 16].mean() < 36000                               # wider PSF
    assert noisy[:, 20:].std() > 20 * sharp[:, 20:].std() + 1000


def test_the_lr_consistency_follows_the_recorded_degradation():
    """An LR that is exactly the microscope's expected acquisition of an image is consistent with that image under
    the microscope domain, and not under bicubic decimation; without a domain it is bicubic, as before."""
    from msrgan.data.degrade import downscale
    from msrgan.data.optics import expected_lr, redownscale
    from msrgan.evaluation.metrics import lr_consistency
    rng = np.random.default_rng(4)
    hr = np.clip(blur(rng.random((96, 96, 3)) * 255, 2.0) * 3 - 200, 0, 255).astype(np.uint8)
    domain = {"degradation": "microscope", "microscope": {"psf_sigma": 1.5, "photons": 200, "read_noise": 2}}
    lr = np.clip(np.rint(expected_lr(hr, 4, 1.5)), 0, 255).astype(np.uint8)
    assert np.array_equal(redownscale(hr, 4, domain), lr)
    assert np.array_equal(redownscale(hr, 4, None), downscale(hr, 4))
    assert lr_consistency(hr, lr, domain) == float("inf")
    assert lr_consistency(hr, lr, None) < 40 < lr_consistency(hr, downscale(hr, 4), {"degradation": "bicubic"})
