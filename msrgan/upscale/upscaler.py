"""A loaded generator with its inference settings, turning planes x H x W x C integer images into upscaled ones."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from msrgan.errors import fail
from msrgan.runtime import Runtime, pick_runtime
from msrgan.tiffmeta import microns
from msrgan.upscale.channels import Pass, mixing, parse_channels, pass_input, plan_passes
from msrgan.upscale.consistency import Consistency, heat_map, redownscale_error
from msrgan.upscale.inference import load_for_inference, predictor
from msrgan.upscale.intensity import from_unit, intensity_window, to_unit
from msrgan.upscale.tiling import TILE, Predict, predict_tiled, tile_grid

PIXEL_SIZE_FACTOR = 2.0   # an input's pixel size this far from the training LR's gets a note (issue 13)


@dataclass
class Upscaler:
    predict: Predict
    meta: dict                   # the generator file's metadata (`percentiles` is read)
    scale: int
    width: int                   # generator input channels (3)
    chosen: list[Pass] | None    # --channels: None = default per channel count
    tile: int                    # tile side, LR pixels
    overlap: int                 # LR pixels two tiles share (load_upscaler: the receptive-field radius)
    batch: int                   # tiles per forward pass

    def grey(self, planes: np.ndarray) -> bool:
        """True when, with --channels auto, the first three channels are one grey image saved as RGB: it then goes
        through once on its own (as with --channels single) instead of as three HPA stains."""
        return (self.chosen is None and planes.shape[-1] >= 3 and np.array_equal(planes[..., 0], planes[..., 1])
                and np.array_equal(planes[..., 0], planes[..., 2]))

    @staticmethod
    def grey_keep(channels: int) -> list[int]:
        """The channels a grey-saved-as-RGB image goes through with: the grey one, and any after the three."""
        return [0, *range(3, channels)]

    def mapping(self, planes: np.ndarray, names: list[str] | None = None) -> str:
        """In words, how the channels of `planes` (P x H x W x C) go through the generator; `names`: the channel
        names the file gives, if any (shown beside the HPA roles they are given, or a hint when there are none)."""
        channels = planes.shape[-1]
        if self.grey(planes):
            rest = f"; channel {', '.join(map(str, range(3, channels)))} on its own" if channels > 3 else ""
            return f"channels 0-2 identical (grey saved as RGB): upscaled once on its own{rest}"
        words = []
        for p in plan_passes(self.chosen, channels, self.width):
            if len(set(p)) == 1:
                words.append(f"channel {p[0]} on its own")
            else:
                listed = ",".join("-" if c < 0 else str(c) for c in p)
                text = f"channels {listed}"
                if names and len(names) == channels:
                    text += f" ({', '.join('-' if c < 0 else names[c] for c in p)})"
                text += " as the generator's microtubules, protein, nucleus"
                if self.chosen is None and not names:
                    text += (" (the file does not name its channels: if they are not these stains, pass "
                             "--channels single)")
                words.append(text)
        return "; ".join(words)

    def domain_note(self, height: int, width: int) -> str | None:
        """One line when an H x W input field does not look like the generator's training images (the file's
        `domain`, written by prepare), else None: a generator trained on whole fields shrunk to hr_size px, on a
        field more than 4x its LR side."""
        domain = self.meta.get("domain") or {}
        if domain.get("mode") != "resize":
            return None
        lr_side = domain["hr_size"] // domain["scale"]
        if max(height, width) <= 4 * lr_side:
            return None
        return (f"this generator learned whole fields shrunk to {domain['hr_size']} px (LR {lr_side} px); a "
                f"{width}x{height} field shows cells many times wider than those, outside its training domain "
                f"(unless it was shrunk the same way)")

    def pixel_size_note(self, name: str, pixel_size: tuple[float, float] | None) -> str | None:
        """One line when the input `name`'s (x, y) pixel size in µm (what its file records, tiffmeta.pixel_size_um)
        is more than PIXEL_SIZE_FACTOR off the generator's training LR pixels (the file's `domain` pixel_size_um,
        the HR pixels, times its scale) along x or y; None when either side records none, or they are close."""
        domain = self.meta.get("domain") or {}
        hr = domain.get("pixel_size_um")
        if pixel_size is None or not hr:
            return None
        hr = (hr, hr) if isinstance(hr, (int, float)) else hr
        trained = tuple(float(v) * int(domain.get("scale", self.scale)) for v in hr)
        ratio = max((p / t for p, t in zip(pixel_size, trained)), key=lambda r: max(r, 1 / r))
        if 1 / PIXEL_SIZE_FACTOR <= ratio <= PIXEL_SIZE_FACTOR:
            return None
        cells, resample = ("smaller", "enlarge") if ratio > 1 else ("larger", "shrink")
        return (f"{name} has {microns(pixel_size)} pixels, the generator learned from {microns(trained)} LR pixels: "
                f"its cells are {max(ratio, 1 / ratio):.1f}x {cells} in pixels than in training, outside its "
                f"training domain; resample it to ~{microns(trained)}/px first ({resample} it "
                f"{max(ratio, 1 / ratio):.1f}x) for an output like the training data's")

    def effective(self, planes: np.ndarray) -> tuple[Upscaler, list[int] | None]:
        """(the upscaler that runs, the channels it takes) for P x H x W x C `planes`: a grey image saved as RGB goes
        through once on its own (channels grey_keep, then widen copies it back to the three), else all of them."""
        if self.grey(planes):
            return replace(self, chosen=[]), self.grey_keep(planes.shape[-1])
        return self, None

    @staticmethod
    def widen(strip: np.ndarray, keep: list[int] | None) -> np.ndarray:
        """The output of the channels `keep` (effective) as the input's channels: the grey one three times."""
        return strip if keep is None else np.concatenate([strip[..., :1], strip[..., :1], strip], axis=-1)

    def tiles(self, planes: np.ndarray, rows: int | None = None) -> int:
        """How many tile predictions upscaling `planes` (P x H x W x C) in strips of `rows` LR rows takes (None:
        each plane whole, as __call__ does), for a progress bar."""
        run, keep = self.effective(planes)
        count, height, width, channels = planes.shape
        rows = rows or height
        per_pass = sum(len(tile_grid(min(height, y + rows + self.overlap) - max(0, y - self.overlap), width,
                                     self.tile, self.overlap)) for y in range(0, height, rows))
        return count * per_pass * len(plan_passes(run.chosen, len(keep) if keep else channels, self.width))

    def __call__(self, planes: np.ndarray, progress: Callable[[int], object] | None = None,
                 check: Consistency | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Upscaled P x sH x sW x C planes of the input's dtype; with `check`, its heat map per plane. Each plane
        is one strip (as `strips` makes them), under one intensity window and channel plan over all planes."""
        run, keep = self.effective(planes)
        pixels = planes if keep is None else np.ascontiguousarray(planes[..., keep])
        window = intensity_window(pixels, self.meta)
        count, height, width, channels = planes.shape
        out = np.empty((count, height * self.scale, width * self.scale, channels), planes.dtype)
        maps: list[np.ndarray] = []
        for i, plane in enumerate(pixels):
            for strip in run.upscale_strips(plane, height, window, progress, check, maps):
                out[i] = self.widen(strip, keep)
        return out, maps

    def strips(self, plane: np.ndarray, rows: int, progress: Callable[[int], object] | None = None,
               check: Consistency | None = None, maps: list[np.ndarray] | None = None) -> Iterator[np.ndarray]:
        """The upscaled H x W x C `plane` (one plane) as strips of `rows` * scale HR rows from top to bottom, so
        memory is bounded by a strip, not the field (upscale_strips); with `check`, each strip's heat map rows are
        appended to `maps`. The same window, channel passes and grey-as-RGB shortcut as __call__; values agree
        with it to within the tiles' blending (different tile boundaries)."""
        run, keep = self.effective(plane[None])
        pixels = plane if keep is None else plane[..., keep]
        for strip in run.upscale_strips(pixels, rows, intensity_window(pixels[None], self.meta), progress, check,
                                        maps):
            yield self.widen(strip, keep)

    def upscale_strips(self, plane: np.ndarray, rows: int, window, progress: Callable[[int], object] | None,
                       check: Consistency | None, maps: list[np.ndarray] | None) -> Iterator[np.ndarray]:
        """`plane` (H x W x C integers) upscaled through `window` (intensity_window), strip by strip: each strip of
        `rows` LR rows predicted from its rows plus `overlap` rows of context either side (as between tiles); a
        whole plane is one strip (rows >= H). Yields rows * scale x sW x C strips of the plane's dtype."""
        height = plane.shape[0]
        passes = plan_passes(self.chosen, plane.shape[-1], self.width)
        mix = mixing(passes, plane.shape[-1], self.width)
        s = self.scale
        for y0 in range(0, height, rows):
            y1 = min(y0 + rows, height)
            a, b = max(0, y0 - self.overlap), min(height, y1 + self.overlap)
            lr = np.ascontiguousarray(plane[a:b])
            unit = to_unit(lr, window)
            sr = predict_tiled(self.predict, np.stack([pass_input(unit, p) for p in passes]), s, self.tile,
                               self.overlap, self.batch, progress, mix)
            out = from_unit(sr, window, lr, out=np.empty((sr.shape[1], sr.shape[2], lr.shape[-1]), plane.dtype))
            del sr
            if check is not None:
                sr_unit = to_unit(out, window)   # with the context rows, which the re-downscale needs
                check.add_grid(sr_unit[:, (y0 - a) * s:(y1 - a) * s], s)
                if y1 == height:   # before the last yield: a writer may stop pulling once it has every row
                    check.end_plane()
                error = redownscale_error(sr_unit, unit, self.meta.get("domain"))[:, y0 - a:y1 - a]
                maps.append(heat_map(check.add(error), check.threshold))
            yield out[(y0 - a) * s:(y1 - a) * s]


def load_upscaler(model: str, device: str = "auto", precision: str = "auto", channels: str = "auto",
                  tile: int = TILE, overlap: int | None = None, batch: int = 0, compile: bool = False,
                  runtime: Runtime | None = None) -> Upscaler:
    """The generator file `model` ready to upscale; UserError naming the option for a bad model or setting.
    `overlap` None: the generator's receptive-field radius (its `receptive_radius`), so tiles blend without seams.
    `runtime`: one already chosen (evaluate's), instead of choosing one for `device` and `precision`."""
    if tile < 16:
        fail(f"--tile: at least 16 input pixels, got {tile}")
    if overlap is not None and not 0 <= 3 * overlap <= tile:
        fail(f"--overlap: between 0 and a third of --tile ({tile // 3}), got {overlap}")
    if batch < 0:
        fail(f"--batch: must be positive, got {batch}")
    generator, meta, runtime = load_for_inference(model, runtime or pick_runtime(device, precision, key="--device"))
    if overlap is None:
        overlap = generator.receptive_radius
        if 3 * overlap > tile:
            fail(f"--tile: this generator sees {overlap} input pixels around each one, so tiles need at least "
                 f"{3 * overlap} pixels (or set a smaller --overlap), got {tile}")
    width = generator.config.in_channels
    return Upscaler(predictor(generator, runtime, compile), meta, generator.config.scale, width,
                    parse_channels(channels, width), tile, overlap,
                    batch or (8 if runtime.device.type == "cuda" else 1))
