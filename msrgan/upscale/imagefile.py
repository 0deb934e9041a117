"""An input image as planes x H x W x C for the network, and its upscaled copy written back in the input's own format,
dtype, axes and channel layout (TIFF incl. OME-TIFF and ImageJ hyperstacks, PNG, JPEG; optionally .gz).

The channel axis is the TIFF series' 'S' (samples: RGB) or 'C' axis, else its one unlabelled axis ('Q', 'I') of 1 to
4 entries (a plain multi-page or planar stack); every other axis (Z, T, ...) is a plane upscaled on its own.
An alpha channel (a grey+alpha or RGBA PNG, a TIFF whose ExtraSamples tag says alpha) is not a stain: it is set aside,
enlarged as a mask and written back in its place.
"""
from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import tifffile

from msrgan.atomic import atomic_path
from msrgan.errors import fail
from msrgan.imageio import decode, image_suffix
from msrgan.tiffmeta import TiffInfo, imagej_can_store, scaled, write_tiff

MAX_CHANNELS = 4
UNLABELLED = "QI"
STREAM_BYTES = 2**26     # outputs larger than this (64 MiB) are computed in strips and written in tiles
TIFF_TILE = 256          # tile side of a streamed TIFF output (HR pixels; not --tile, the network's LR tiles)


@dataclass
class ImageFile:
    path: Path
    pixels: np.ndarray           # as stored, axes `axes`
    axes: str                    # tifffile axes codes, 'YX' or 'YXS' for PNG/JPEG
    channel_axis: str | None     # the axis holding the channels, None for one channel
    suffix: str                  # .tif .tiff .png .jpg .jpeg
    gz: bool
    tiff: TiffInfo | None = None
    alpha: bool = False          # the last entry of the channel axis is opacity, not a stain

    @property
    def stored_channels(self) -> int:
        return 1 if self.channel_axis is None else self.pixels.shape[self.axes.index(self.channel_axis)]

    @property
    def channels(self) -> int:
        """The channels to upscale (the alpha channel left out)."""
        return self.stored_channels - self.alpha

    def _order(self) -> list[int]:
        """Axis order that makes the stored array planes..., Y, X[, C]."""
        lead = [i for i, a in enumerate(self.axes) if a not in ("Y", "X", self.channel_axis)]
        tail = [self.axes.index("Y"), self.axes.index("X")]
        return lead + tail + ([self.axes.index(self.channel_axis)] if self.channel_axis else [])

    def _all_planes(self) -> np.ndarray:
        height, width = self.pixels.shape[self.axes.index("Y")], self.pixels.shape[self.axes.index("X")]
        return self.pixels.transpose(self._order()).reshape(-1, height, width, self.stored_channels)

    def planes(self) -> np.ndarray:
        """P x H x W x C view of the channels to upscale (P = product of the other axes; no alpha)."""
        return self._all_planes()[..., :self.channels]

    def with_alpha(self, planes: np.ndarray, scale: int) -> np.ndarray:
        """Upscaled P x sH x sW x C `planes` with the alpha channel put back, each pixel's opacity carried to the
        scale x scale pixels it became (nearest neighbour: a mask stays a mask); unchanged without alpha."""
        if not self.alpha:
            return planes
        alpha = self._all_planes()[..., self.channels:]
        return np.concatenate([planes, alpha.repeat(scale, axis=1).repeat(scale, axis=2)], axis=-1)

    def channel_names(self) -> list[str] | None:
        """The channels' names as the file gives them (OME Channel Name), else None."""
        names = (self.tiff.ome.get("Channel", {}).get("Name") if self.tiff else None) or None
        if isinstance(names, str):
            names = [names]
        return [str(n) for n in names] if names and len(names) == self.channels else None

    def streamable(self, scale: int) -> bool:
        """True when the output is large enough to be worth streaming and its layout allows it: a TIFF (not
        gzipped) of one plane with Y, X first (and samples last), no alpha."""
        return (self.suffix in (".tif", ".tiff") and not self.gz and not self.alpha and self.axes in ("YX", "YXS")
                and self.pixels.nbytes * scale**2 > STREAM_BYTES)

    def restore(self, planes: np.ndarray) -> np.ndarray:
        """Inverse of planes() for upscaled P x sH x sW x C (alpha included): the stored axes order with Y and X
        larger."""
        order = self._order()
        shape = [self.pixels.shape[i] for i in order]
        y_slot = order.index(self.axes.index("Y"))
        shape[y_slot], shape[y_slot + 1] = planes.shape[1], planes.shape[2]
        return planes.reshape(shape).transpose(np.argsort(order))


def read_input(path: str | os.PathLike) -> ImageFile:
    """Read an input image; UserError naming the file for anything we cannot upscale."""
    path = Path(path)
    pixels, axes, info = decode(path, memmap_over=STREAM_BYTES // 16)
    suffix, gz = image_suffix(path), path.name.lower().endswith(".gz")
    if info is not None and info.photometric == tifffile.PHOTOMETRIC.PALETTE:
        fail(f"{path}: a palette (colour-mapped) TIFF holds indices, not intensities: cannot upscale it")
    if "Y" not in axes or "X" not in axes:
        fail(f"{path}: no Y/X image axes (axes {axes})")
    axis = channel_axis(path, pixels.shape, axes)
    alpha = axis == "S" and (suffix == ".png" and pixels.shape[-1] in (2, 4)
                             or info is not None and info.alpha)
    image = ImageFile(path, pixels, axes, axis, suffix, gz, info, alpha)
    if not 1 <= image.channels <= MAX_CHANNELS:
        fail(f"{path}: {image.channels} channels (1 to {MAX_CHANNELS} supported)")
    return image


def channel_axis(path: Path, shape: tuple[int, ...], axes: str) -> str | None:
    sizes = {a: n for a, n in zip(axes, shape, strict=True)}
    labelled = [a for a in "SC" if sizes.get(a, 1) > 1]
    if len(labelled) > 1:
        fail(f"{path}: both colour samples and channels (axes {axes}, shape {shape}): not supported")
    if labelled:
        return labelled[0]
    others = [a for a in axes if a not in "YXSC" and sizes[a] > 1]
    if len(others) == 1 and others[0] in UNLABELLED and len(axes) == 3:
        if sizes[others[0]] > MAX_CHANNELS:
            fail(f"{path}: {sizes[others[0]]} images in an unlabelled stack (axes {axes}): 1 to {MAX_CHANNELS} "
                 f"channels supported; save stacks as ImageJ or OME-TIFF with Z/T axes to upscale plane by plane")
        return others[0]
    for a in "SC":
        if a in sizes:
            return a
    return None


def write_tiles(path: str | os.PathLike, image: ImageFile, strips: Iterator[np.ndarray], scale: int) -> str | None:
    """Write the upscaled single-plane TIFF `image` from `strips` (sH_i x sW x C arrays from top to bottom, heights
    multiples of TIFF_TILE but the last), atomically, one strip in memory at a time: an ImageJ input as an uncompressed
    ImageJ TIFF (memory-mapped), any other as a tiled TIFF like the input (BigTIFF past 4 GB). Returns write_tiff's
    note."""
    height, width = (n * scale for n in image.pixels.shape[:2])
    shape = (height, width, *image.pixels.shape[2:])
    info, dtype = scaled(image.tiff, scale), image.pixels.dtype
    if info.flavour == "imagej" and imagej_can_store(dtype, image.axes, shape):
        # ImageJ reads no tiles: an uncompressed ImageJ file, memory-mapped and filled strip by strip
        with atomic_path(path) as tmp:
            out = tifffile.memmap(tmp, shape=shape, dtype=dtype, imagej=True, photometric=info.photometric,
                                  metadata={**info.imagej, "axes": image.axes},
                                  **({"resolution": info.resolution, "resolutionunit": info.resolutionunit}
                                     if info.resolution is not None else {}))
            y = 0
            for strip in strips:
                out[y:y + strip.shape[0]] = strip.reshape(strip.shape[0], *shape[1:])
                y += strip.shape[0]
            out.flush()
            del out
        return None

    def tiles() -> Iterator[np.ndarray]:
        for strip in strips:
            strip = strip.reshape(strip.shape[0], width, *shape[2:])   # YX: no channel axis
            for y in range(0, strip.shape[0], TIFF_TILE):
                for x in range(0, width, TIFF_TILE):
                    tile = np.zeros((TIFF_TILE, TIFF_TILE, *shape[2:]), image.pixels.dtype)
                    part = strip[y:y + TIFF_TILE, x:x + TIFF_TILE]
                    tile[:part.shape[0], :part.shape[1]] = part
                    yield tile

    with atomic_path(path) as tmp:
        return write_tiff(tmp, tiles(), image.axes, info, shape, dtype, TIFF_TILE)


def write_output(path: str | os.PathLike, image: ImageFile, planes: np.ndarray, scale: int) -> str | None:
    """Write upscaled P x sH x sW x C `planes` like `image` was stored, atomically (gzip again for .gz inputs).
    Returns a one-line note when the output had to be stored otherwise than the input (else None)."""
    pixels = image.restore(planes)
    note = None
    with atomic_path(path) as tmp:
        if image.suffix in (".tif", ".tiff"):
            target = io.BytesIO() if image.gz else tmp
            note = write_tiff(target, pixels, image.axes, scaled(image.tiff, scale))
            data = target.getvalue() if image.gz else None
        elif image.suffix == ".png":   # OpenCV's fast settings, as write_png: 6x faster than level 6, 1.3x larger
            data = imagecodecs.png_encode(np.ascontiguousarray(pixels), level=1, strategy=3, filter=16)
        else:
            if pixels.ndim == 3:
                pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
            ok, encoded = cv2.imencode(image.suffix, pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                fail(f"{path}: cannot encode the upscaled image as {image.suffix}")
            data = encoded.tobytes()
        if data is not None:
            tmp.write_bytes(gzip.compress(data, compresslevel=6) if image.gz else data)
    return note
