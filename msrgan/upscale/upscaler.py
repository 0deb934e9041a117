"""A loaded generator with its inference settings, turning planes x H x W x C integer images into upscaled ones."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from msrgan.errors import fail
from msrgan.upscale.channels import Pass, mixing, parse_channels, pass_input, plan_passes
from msrgan.upscale.consistency import Consistency, heat_map, redownscale_error
from msrgan.upscale.inference import load_for_inference, predictor
from msrgan.upscale.intensity import from_unit, intensity_window, to_unit
from msrgan.upscale.tiling import Predict, predict_tiled, tile_grid


@dataclass
class Upscaler:
    predict: Predict
    meta: dict                   # the generator file's metadata (`percentiles` is read)
    scale: int
    width: int                   # generator input channels (3)
    chosen: list[Pass] | None    # --channels: None = default per channel count
    tile: int = 256
    overlap: int = 24
    batch: int = 1

    def tiles(self, planes: np.ndarray) -> int:
        """How many tile predictions upscaling `planes` takes (for a progress bar)."""
        count, height, width, channels = planes.shape
        return count * len(plan_passes(self.chosen, channels, self.width)) * len(
            tile_grid(height, width, self.tile, self.overlap))

    def __call__(self, planes: np.ndarray, progress: Callable[[int], object] | None = None,
                 check: Consistency | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Upscaled P x sH x sW x C planes of the input's dtype; with `check`, its heat map per plane."""
        count, height, width, channels = planes.shape
        window = intensity_window(planes, self.meta)
        passes = plan_passes(self.chosen, channels, self.width)
        mix = mixing(passes, channels, self.width)
        out = np.empty((count, height * self.scale, width * self.scale, channels), planes.dtype)
        maps = []
        for i, plane in enumerate(planes):
            unit = to_unit(plane, window)
            sr = predict_tiled(self.predict, np.stack([pass_input(unit, p) for p in passes]), self.scale,
                               self.tile, self.overlap, self.batch, progress, mix)
            from_unit(sr, window, plane, out=out[i])
            del sr
            if check is not None:
                error = redownscale_error(to_unit(out[i], window), unit)
                maps.append(heat_map(check.add(error), check.threshold))
        return out, maps


def load_upscaler(model: str, device: str = "auto", precision: str = "auto", channels: str = "auto",
                  tile: int = 256, overlap: int = 24, batch: int = 0) -> Upscaler:
    """The generator file `model` ready to upscale; UserError naming the option for a bad model or setting."""
    if tile < 16:
        fail(f"--tile: at least 16 input pixels, got {tile}")
    if not 0 <= 3 * overlap <= tile:
        fail(f"--overlap: between 0 and a third of --tile ({tile // 3}), got {overlap}")
    if batch < 0:
        fail(f"--batch: must be positive, got {batch}")
    generator, meta, runtime = load_for_inference(model, device, precision)
    width = generator.config.in_channels
    return Upscaler(predictor(generator, runtime), meta, generator.config.scale, width,
                    parse_channels(channels, width), tile, overlap,
                    batch or (8 if runtime.device.type == "cuda" else 1))
