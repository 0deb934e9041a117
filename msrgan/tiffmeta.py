"""TIFF pixels with their axes (msrgan.imageio's reader for TIFF), and the metadata an upscaled copy should carry:
pixel size (resolution tags, ImageJ unit/origin, OME PhysicalSizeX/Y) scaled by 1/scale, channel names and colours,
ImageJ/OME axes, display ranges, photometric interpretation and a lossless compression like the input's."""
from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import tifffile

LOSSLESS = {"LZW", "ADOBE_DEFLATE", "DEFLATE", "ZSTD", "LZMA", "PACKBITS", "LERC", "WEBP_LOSSLESS"}
# ImageJ description keys tifffile recomputes from the array itself.
IMAGEJ_STRUCTURE = {"ImageJ", "images", "channels", "slices", "frames", "hyperstack", "axes", "shape"}
# Per-image and per-channel OME attributes worth keeping (tifffile's OmeXml writes these).
OME_PIXELS = ("PhysicalSizeX", "PhysicalSizeXUnit", "PhysicalSizeY", "PhysicalSizeYUnit", "PhysicalSizeZ",
              "PhysicalSizeZUnit", "TimeIncrement", "TimeIncrementUnit")
OME_CHANNEL = ("Name", "Color", "EmissionWavelength", "EmissionWavelengthUnit", "ExcitationWavelength",
               "ExcitationWavelengthUnit", "Fluor", "ContrastMethod", "IlluminationType", "AcquisitionMode")


ALPHA = (1, 2)   # ExtraSamples values that mean opacity (associated, unassociated alpha)


@dataclass
class TiffInfo:
    flavour: str                                   # imagej | ome | shaped | plain
    photometric: Any
    planarconfig: Any
    compression: str | None
    resolution: tuple[float, float] | None         # pixels per unit (x, y)
    resolutionunit: Any
    description: str | None = None                 # plain TIFFs: a foreign ImageDescription, kept as is
    extrasamples: tuple[int, ...] = ()             # ExtraSamples: 1 associated, 2 unassociated alpha, 0 other
    imagej: dict = field(default_factory=dict)
    ome: dict = field(default_factory=dict)
    uuid: str = ""                                 # OME root UUID (bare hex form) of the file; scaled(): its copy's

    @property
    def alpha(self) -> bool:
        """The last sample is opacity, as the ExtraSamples tag says."""
        return bool(self.extrasamples) and int(self.extrasamples[-1]) in ALPHA


def read_tiff(source, memmap_over: int | None = None) -> tuple[np.ndarray, str, TiffInfo]:
    """(first series' pixels, its axes e.g. 'TZCYX' or 'YXS', metadata) of a TIFF given as bytes or a path. Pixels
    of more than `memmap_over` bytes are decoded into a memory-mapped temporary file instead of memory, so that a
    large field is paged in as it is read, not held whole."""
    with tifffile.TiffFile(io.BytesIO(source) if isinstance(source, bytes) else source) as tif:
        series = tif.series[0]
        big = memmap_over is not None and series.size * series.dtype.itemsize > memmap_over
        pixels = series.asarray(out="memmap" if big else None)
        axes = series.axes
        info = tiff_info(tif)
    return pixels, axes, info


def tiff_info(tif: tifffile.TiffFile) -> TiffInfo:
    """The metadata of an open TIFF's first series (its tags and descriptions only: no pixels are decoded)."""
    series = tif.series[0]
    page = series.pages[0] if series.pages else tif.pages[0]
    if tif.is_imagej:
        flavour = "imagej"
    elif tif.is_ome:
        flavour = "ome"
    elif tif.is_shaped:
        flavour = "shaped"
    else:
        flavour = "plain"
    compression = compression_name(page.compression)
    has_resolution = "XResolution" in page.tags and "YResolution" in page.tags
    resolution = tuple(float(r) for r in page.get_resolution()) if has_resolution else None
    unit = page.resolutionunit
    imagej = {k: v for k, v in (tif.imagej_metadata or {}).items() if k not in IMAGEJ_STRUCTURE}
    calibrated = flavour == "imagej" and str(imagej.get("unit", "")).strip().lower() not in ("", "pixel", "pixels")
    if resolution == (1.0, 1.0) and unit == tifffile.RESUNIT.NONE and not calibrated:
        resolution = None  # tifffile's placeholder, not a pixel size (ImageJ writes 1 unit/px with unit NONE too)
    return TiffInfo(
        flavour=flavour,
        photometric=page.photometric,
        planarconfig=page.planarconfig,
        compression=None if compression == "NONE" else compression,
        resolution=resolution,
        resolutionunit=unit,
        description=page.description or None if flavour == "plain" else None,
        imagej=imagej,
        ome=ome_essentials(tif.ome_metadata) if flavour == "ome" else {},
        extrasamples=tuple(int(v) for v in page.extrasamples),
        uuid=ome_uuid(tif.ome_metadata) if flavour == "ome" else "",
    )


def ome_uuid(xml: str | None) -> str:
    """The UUID of an OME-XML document's root (without its 'urn:uuid:' prefix), '' where it has none."""
    if not xml:
        return ""
    root = tifffile.xml2dict(xml).get("OME", {})
    return str(root.get("UUID", "")).split(":")[-1] if isinstance(root, dict) else ""


def compression_name(code) -> str:
    """tifffile's name for a Compression tag value; tifffile gives a plain int (1) when the optional tag is absent,
    as in files ImageJ/Fiji writes, and an unknown code stays a number."""
    try:
        return tifffile.COMPRESSION(int(code)).name
    except ValueError:
        return str(int(code))


UNITS = {"um": "µm", "micron": "µm", "microns": "µm", "µm": "µm", "\\u00B5m": "µm", "nm": "nm", "mm": "mm"}


def imagej_pixel_size(info: TiffInfo) -> dict:
    """OME PhysicalSizeX/Y from an ImageJ file's resolution tags and unit, for an ImageJ input written as OME-TIFF."""
    unit = UNITS.get(str(info.imagej.get("unit", "")).strip())
    if info.resolution is None or unit is None or min(info.resolution) <= 0:
        return {}
    return {"PhysicalSizeX": 1 / info.resolution[0], "PhysicalSizeXUnit": unit,
            "PhysicalSizeY": 1 / info.resolution[1], "PhysicalSizeYUnit": unit}


# Micrometres per unit, for OME PhysicalSize units (default µm) and ImageJ's 'unit' (ImageJ writes µ as \u00B5).
MICROMETRES = {"pm": 1e-6, "Å": 1e-4, "nm": 1e-3, "µm": 1.0, "μm": 1.0, "um": 1.0, "micron": 1.0, "microns": 1.0,
               "\\u00B5m": 1.0, "mm": 1e3, "cm": 1e4, "m": 1e6, "inch": 25400.0, "in": 25400.0}
RESUNIT_MICROMETRES = {tifffile.RESUNIT.INCH: 25400.0, tifffile.RESUNIT.CENTIMETER: 1e4,
                       tifffile.RESUNIT.MILLIMETER: 1e3, tifffile.RESUNIT.MICROMETER: 1.0}
# Plain resolution tags are mostly a writer's document default (72, 96 or 300 dpi: 85-350 µm), not a microscope's
# calibration; no fluorescence field has pixels this large, so a larger size from plain tags counts as none.
PLAIN_TAGS_MAX_UM = 20.0


def pixel_size_um(info: TiffInfo | None) -> tuple[float, float] | None:
    """The physical (x, y) size of a pixel in micrometres (floats > 0), or None where the file does not say.

    In order: OME PhysicalSizeX/Y with their units (µm by default; Y as X when only X is given); an ImageJ file's
    resolution tags (pixels per unit) with its 'unit' (micron, um, µm, nm, mm, cm; 'pixel' says nothing); plain
    resolution tags with ResolutionUnit INCH or CENTIMETER (NONE or no tags: None; above PLAIN_TAGS_MAX_UM: a document
    default like 72 dpi, None)."""
    if info is None:
        return None
    if info.ome.get("PhysicalSizeX") is not None:
        x = _micrometres(info.ome["PhysicalSizeX"], info.ome.get("PhysicalSizeXUnit", "µm"))
        y = (_micrometres(info.ome["PhysicalSizeY"], info.ome.get("PhysicalSizeYUnit", "µm"))
             if info.ome.get("PhysicalSizeY") is not None else x)
        return (x, y) if x and y else None
    if info.resolution is None or min(info.resolution) <= 0:
        return None
    unit = info.imagej.get("unit")
    if unit is not None and str(unit).strip() in MICROMETRES:
        per_unit = MICROMETRES[str(unit).strip()]
        return per_unit / info.resolution[0], per_unit / info.resolution[1]
    try:
        per_unit = RESUNIT_MICROMETRES.get(tifffile.RESUNIT(int(info.resolutionunit)))
    except (TypeError, ValueError):
        per_unit = None
    if per_unit is None:
        return None
    x, y = per_unit / info.resolution[0], per_unit / info.resolution[1]
    return (x, y) if max(x, y) <= PLAIN_TAGS_MAX_UM else None


def common_pixel_size(sizes, tolerance: float = 0.01) -> tuple[float, float] | None:
    """The mean (x, y) of pixel sizes (µm) when every one is known and each axis's spread (largest / smallest - 1)
    is within `tolerance`; None when any is None, there are none, or they disagree."""
    sizes = list(sizes)
    if not sizes or any(s is None for s in sizes):
        return None
    axes = np.asarray(sizes, dtype=np.float64)   # N x 2
    if np.any(axes.max(axis=0) > axes.min(axis=0) * (1 + tolerance)):
        return None
    return float(axes[:, 0].mean()), float(axes[:, 1].mean())


def microns(size) -> str:
    """An (x, y) pixel size in µm in words: '0.325 µm' for square pixels, '0.325 x 0.4 µm' otherwise."""
    x, y = (f"{float(v):.3g}" for v in size)
    return f"{x} µm" if x == y else f"{x} x {y} µm"


def _micrometres(value, unit) -> float | None:
    """An OME length in µm; None for an unknown unit or a value that is not a positive number."""
    try:
        size = float(value) * MICROMETRES[str(unit).strip()]
    except (KeyError, TypeError, ValueError):
        return None
    return size if size > 0 and np.isfinite(size) else None


def imagej_can_store(dtype: np.dtype, axes: str, shape: tuple[int, ...]) -> bool:
    """ImageJ hyperstacks hold uint8, uint16 or float32 grey planes; colour samples (RGB) only as uint8."""
    if "S" in axes and shape[axes.index("S")] > 1:
        return np.dtype(dtype) == np.uint8
    return np.dtype(dtype) in (np.uint8, np.uint16, np.float32)


def ome_essentials(xml: str | None) -> dict:
    """Pixel sizes, time step, image name and per-channel attributes of the first OME image, as tifffile's OME
    writer takes them (channel attributes as lists, one entry per channel)."""
    if not xml:
        return {}
    image = tifffile.xml2dict(xml).get("OME", {}).get("Image", {})
    if isinstance(image, list):
        image = image[0]
    pixels = image.get("Pixels", {})
    meta = {key: pixels[key] for key in OME_PIXELS if pixels.get(key) is not None}
    if image.get("Name"):
        meta["Name"] = image["Name"]
    channels = pixels.get("Channel", [])
    channels = channels if isinstance(channels, list) else [channels]
    keys = [k for k in OME_CHANNEL if channels and all(isinstance(c, dict) and c.get(k) is not None
                                                       for c in channels)]
    if keys:
        meta["Channel"] = {k: [c[k] for c in channels] for k in keys}
    return meta


def scaled(info: TiffInfo, scale: int) -> TiffInfo:
    """The metadata of the upscaled image: pixels `scale` times smaller."""
    imagej = dict(info.imagej)
    for key in ("xorigin", "yorigin"):  # ImageJ origins are in pixels
        if isinstance(imagej.get(key), (int, float)):
            imagej[key] = imagej[key] * scale
    ome = dict(info.ome)
    for key in ("PhysicalSizeX", "PhysicalSizeY"):
        if key in ome:
            ome[key] = float(ome[key]) / scale
    resolution = None if info.resolution is None else (info.resolution[0] * scale, info.resolution[1] * scale)
    # the copy's own UUID, the same every time the same file is upscaled (tifffile would draw a new one per write)
    copy = str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:uuid:{info.uuid}/msrgan-upscale-x{scale}")) if info.uuid else ""
    return replace(info, resolution=resolution, imagej=imagej, ome=ome, uuid=copy)


def file_uuid(info: TiffInfo, pixels) -> dict:
    """{"UUID": ...} for an OME-TIFF written with `info`: the one scaled() derived from the input's, else one
    derived from the pixels' content (an input without a UUID); {} for streamed tiles of such an input (tifffile
    then draws one). The same input so gives the same bytes, whichever process or run writes it."""
    if info.uuid:
        return {"UUID": info.uuid}
    if isinstance(pixels, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(pixels).view(np.uint8).reshape(-1)).hexdigest()
        return {"UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"msrgan-upscale:{digest}"))}
    return {}


def write_tiff(target, pixels, axes: str, info: TiffInfo, shape: tuple[int, ...] | None = None,
               dtype: np.dtype | None = None, tile: int | None = None) -> str | None:
    """Write `pixels` (axes as read) to `target` (a path or a binary file) with `info`'s metadata. An ImageJ input
    whose pixels ImageJ cannot store (16-bit RGB, say) is written as an OME-TIFF instead; returns a one-line note
    saying so, else None. With `tile`, `pixels` is an iterator of tile x tile (x samples) arrays in row-major order
    of an image of `shape` and `dtype` (written tiled, BigTIFF past 4 GB; ImageJ cannot read tiles: OME-TIFF)."""
    shape = np.shape(pixels) if shape is None else shape
    kwargs: dict[str, Any] = {
        "photometric": info.photometric,
        "compression": info.compression if info.compression in LOSSLESS else ("zlib" if info.compression else None),
    }
    if "S" in axes and axes.index("S") < axes.index("Y"):
        kwargs["planarconfig"] = "separate"
    if info.extrasamples:
        kwargs["extrasamples"] = info.extrasamples
    if info.resolution is not None:
        kwargs["resolution"] = info.resolution
        kwargs["resolutionunit"] = info.resolutionunit
    if tile is not None:
        kwargs |= {"tile": (tile, tile), "shape": shape, "dtype": dtype,
                   "bigtiff": np.prod(shape) * np.dtype(dtype).itemsize > 2**32 - 2**28}
    note = None
    dtype = pixels.dtype if dtype is None else dtype
    if info.flavour == "imagej" and tile is None and imagej_can_store(dtype, axes, shape):
        tifffile.imwrite(target, pixels, imagej=True, metadata={**info.imagej, "axes": axes}, **kwargs)
    elif info.flavour in ("imagej", "ome"):
        if info.flavour == "imagej":
            why = "tiles" if tile is not None else f"{np.dtype(dtype)} pixels with axes {axes}"
            note = (f"ImageJ cannot store {why}: written as an OME-TIFF "
                    "(resolution tags kept, ImageJ display settings dropped)")
        ome = info.ome if info.flavour == "ome" else imagej_pixel_size(info)
        tifffile.imwrite(target, pixels, ome=True, metadata={**ome, "axes": axes, **file_uuid(info, pixels)},
                         **kwargs)
    elif info.flavour == "shaped" or info.description is None:
        tifffile.imwrite(target, pixels, metadata={"axes": axes}, **kwargs)
    else:
        tifffile.imwrite(target, pixels, description=info.description, metadata=None, **kwargs)
    return note

