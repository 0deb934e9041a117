"""The simulator's LR acquisition (fetch.synthetic.lr_acquisition) against physical known answers: binning conserves
photons (an LR pixel reads scale^2 x dose x an HR pixel's photons), the LR noise is its own Poisson-Gaussian noise and
independent of the HR field's, the HR files do not change when it is made; merge puts it on the HR's 8-bit scale; the
TIFFs record their pixel size."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from msrgan.data.merge import merge, stain_window
from msrgan.data.optics import bin_pixels, blur
from msrgan.data.raw import scan_raw
from msrgan.data.simulator import COLOURS, simulate, simulate_fov
from msrgan.data.simulator.acquisition import FIELD_WIDTH_UM, ORDER, record, record_lr
from msrgan.errors import UserError
from msrgan.imageio import read_png_rgb
from msrgan.params import LrAcquisition, Merge, SyntheticSource, parse_section

LR_ON = {"enabled": True, "scale": 4, "psf_sigma": 1.0, "dose": 0.0625}


def run(tmp_path: Path, name: str, lr: dict | None = None, n_fov: int = 2, seed: int = 3) -> Path:
    out = tmp_path / name
    out.mkdir()
    simulate(SyntheticSource(n_fov=n_fov, size=128, workers=1, lr_acquisition=LrAcquisition(**(lr or {}))), seed, out)
    return out


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def pixel_size_um(path: Path) -> float:
    """The x pixel size a TIFF's resolution tags record, in µm (they must be in pixels per centimetre)."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert page.resolutionunit == tifffile.RESUNIT.CENTIMETER
        return 1e4 / page.get_resolution()[0]


def flat_specimen_exposures(dose_seed: int = 0):
    """A uniform specimen (every stain at 0.5) through the confocal: HR stains and exposures."""
    signal = {c: np.full((128, 128), 0.5, np.float32) for c in COLOURS}
    return record(np.random.default_rng(dose_seed), signal, 128 / 512)


def test_the_lr_acquisition_is_written_beside_an_unchanged_hr_field(tmp_path):
    plain, with_lr = digests(run(tmp_path, "plain")), digests(run(tmp_path, "lr", LR_ON))
    lr_files = {k for k in with_lr if k.startswith("lr/")}
    assert lr_files == {f"lr/images/S001_A0{i}_1_{c}.tif" for i in (1, 2) for c in COLOURS}
    assert {k: v for k, v in with_lr.items() if k not in lr_files} == plain      # HR, masks, labels: byte for byte
    assert digests(run(tmp_path, "again", LR_ON)) == with_lr                      # seeded: reproducible
    other = digests(run(tmp_path, "other", LR_ON, seed=4))
    assert all(other[k] != with_lr[k] for k in lr_files)
    raw = tmp_path / "lr"
    for colour in COLOURS:
        hr = tifffile.imread(raw / "images" / f"S001_A01_1_{colour}.tif")
        lr = tifffile.imread(raw / "lr" / "images" / f"S001_A01_1_{colour}.tif")
        assert lr.dtype == np.uint16 and lr.shape == (32, 32) and lr.std() > 0
        assert hr.shape == (128, 128)
    fovs = scan_raw(raw)                                  # lr/ is a FOV's second acquisition, not more FOVs
    assert [f.id for f in fovs] == ["S001_A01_1", "S001_A02_1"]
    assert all(sorted(f.lr) == sorted(COLOURS) for f in fovs)
    assert all(f.lr is None for f in scan_raw(tmp_path / "plain"))


def test_the_tiffs_record_the_pixel_size_of_an_hpa_field(tmp_path):
    """A simulated field is as wide as an HPA confocal field (2048 px of 0.08 µm), whatever its size; the LR pixels
    are scale times coarser."""
    assert FIELD_WIDTH_UM == pytest.approx(163.84)
    raw = run(tmp_path, "raw", LR_ON, n_fov=1)
    assert pixel_size_um(raw / "images" / "S001_A01_1_green.tif") == pytest.approx(163.84 / 128, rel=1e-9)
    assert pixel_size_um(raw / "lr" / "images" / "S001_A01_1_green.tif") == pytest.approx(4 * 163.84 / 128, rel=1e-9)
    assert simulate_fov(512, 0, 0).pixel_size == pytest.approx(0.32)


@pytest.mark.parametrize("dose", [0.0625, 0.25])
def test_binning_conserves_photons_at_the_dose(dose):
    """Mean photons per LR pixel (ADU less the camera offset, over the gain) = scale^2 x dose x those per HR pixel:
    the PSF blur moves light but keeps it, and binning adds 16 pixels' photons."""
    stains, exposures = flat_specimen_exposures()
    lr = record_lr(exposures, 4, 1.0, dose, np.random.default_rng(1))
    for colour in ORDER:
        e = exposures[colour]
        hr_photons = (stains[colour].astype(float) - e.offset) / e.gain
        lr_photons = (lr[colour].astype(float) - e.offset) / e.gain
        assert lr[colour].shape == (32, 32) and lr[colour].max() < 65535            # no saturation
        expected, read = 16 * dose * hr_photons.mean(), (e.read_noise / e.gain) ** 2
        sd = np.sqrt((expected + read) / lr_photons.size + (16 * dose) ** 2 * (hr_photons.mean() + read) / 128**2)
        assert abs(lr_photons.mean() - expected) < 4 * sd                          # within the shot noise


def test_the_lr_noise_is_its_own_poisson_gaussian_noise():
    """Around its expectation the LR reading varies as Poisson photons plus read noise (and rounding), and not
    with the HR field's noise: it is a second exposure, not the first one binned."""
    stains, exposures = flat_specimen_exposures()
    lr = record_lr(exposures, 4, 1.0, 0.0625, np.random.default_rng(1))
    for colour in ORDER:
        e = exposures[colour]
        hr_expected = (blur(e.light, e.psf_sigma) + e.background) * e.photons
        lr_expected = bin_pixels(blur(e.light, np.hypot(e.psf_sigma, 1.0)) + e.background, 4) * e.photons * 0.0625
        hr_noise = (stains[colour] - e.offset) / e.gain - hr_expected
        lr_noise = (lr[colour] - e.offset) / e.gain - lr_expected
        variance = lr_expected.mean() + (e.read_noise**2 + 1 / 12) / e.gain**2
        assert lr_noise.var() == pytest.approx(variance, rel=0.15)
        assert abs(np.corrcoef(lr_noise.ravel(), bin_pixels(hr_noise, 4).ravel())[0, 1]) < 0.15   # 1024 pixels
    again = record_lr(exposures, 4, 1.0, 0.0625, np.random.default_rng(1))
    assert all(np.array_equal(lr[c], again[c]) for c in COLOURS)


def test_merge_puts_the_lr_acquisition_on_the_hr_fields_scale(tmp_path):
    raw = run(tmp_path, "raw", LR_ON)
    for colour in COLOURS:                                # the second FOV without an LR acquisition
        (raw / "lr" / "images" / f"S001_A02_1_{colour}.tif").unlink()
    params = Merge()
    merge(params, raw, tmp_path / "merged", workers=1)
    assert sorted(p.name for p in (tmp_path / "merged" / "lr").iterdir()) == ["S001_A01_1.png"]
    lr = read_png_rgb(tmp_path / "merged" / "lr" / "S001_A01_1.png")
    hr = read_png_rgb(tmp_path / "merged" / "S001_A01_1.png")
    assert lr.dtype == np.uint8 and lr.shape == (32, 32, 3)
    for c, colour in enumerate(params.rgb):
        hr_stain = tifffile.imread(raw / "images" / f"S001_A01_1_{colour}.tif")
        lo, hi = stain_window(hr_stain, params, f"S001_A01_1:{colour}")
        stain = tifffile.imread(raw / "lr" / "images" / f"S001_A01_1_{colour}.tif").astype(float)
        expected = np.clip(np.rint((stain - lo) / (hi - lo) * 255), 0, 255)
        assert np.abs(lr[..., c] - expected).max() <= 1                            # the HR stain's window
        # dose 1/16 at scale 4: as many photons per LR pixel as per HR pixel, so the same levels on average
        assert lr[..., c].mean() == pytest.approx(hr[..., c].mean(), rel=0.1, abs=1)
    # the HR merge is what it is without any LR acquisition
    shutil.rmtree(raw / "lr")
    merge(params, raw, tmp_path / "plain", workers=1)
    assert digests(tmp_path / "plain") == {k: v for k, v in digests(tmp_path / "merged").items()
                                           if not k.startswith("lr/")}


def test_bad_lr_settings_and_files_fail_with_their_name(tmp_path):
    with pytest.raises(UserError, match=r"fetch.synthetic.lr_acquisition.dose"):
        parse_section("fetch", {"synthetic": {"lr_acquisition": {"dose": 0}}})
    with pytest.raises(UserError, match=r"lr_acquisition.scale: 3 does not divide fetch.synthetic.size 128"):
        run(tmp_path, "odd", {**LR_ON, "scale": 3})
    raw = run(tmp_path, "raw", LR_ON, n_fov=1)
    shutil.copyfile(raw / "lr" / "images" / "S001_A01_1_red.tif", raw / "lr" / "images" / "S009_A01_1_red.tif")
    with pytest.raises(UserError, match="S009_A01_1_red.tif: an LR acquisition of FOV S009_A01_1"):
        scan_raw(raw)
