"""Reading microscopy images (TIFF incl. LZW/deflate, PNG, JPEG, optionally .gz) and writing lossless PNG."""
from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import cv2
import imagecodecs
import numpy as np
import tifffile

from msrgan.atomic import atomic_path
from msrgan.errors import fail
from msrgan.tiffmeta import TiffInfo, pixel_size_um, read_tiff, tiff_info

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


def image_suffix(path: str | os.PathLike) -> str:
    """'.tif' for 'a.tif' and 'a.tif.gz'; '' for anything that is not an image we read."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = Path(name).suffix
    return suffix if suffix in IMAGE_SUFFIXES else ""


def decode(path: str | os.PathLike, memmap_over: int | None = None) -> tuple[np.ndarray, str, TiffInfo | None]:
    """(pixels as stored, their axes, TIFF metadata or None) of an image file: the one reader of the project.

    Pixels are uint8 or uint16. Axes are tifffile's codes ('YX', 'YXS', 'TZCYX', ...; PNG/JPEG: 'YX' or 'YXS' with
    samples in RGB(A) order). A plain TIFF is read from the file, one of more than `memmap_over` bytes decoded into a
    memory-mapped temporary file (read_tiff). UserError naming the file for anything that is not such an image."""
    path = Path(path)
    suffix = image_suffix(path)
    if not suffix:
        fail(f"{path}: not a supported image (TIFF, PNG, JPEG, optionally .gz)")
    gz = path.name.lower().endswith(".gz")
    tiff = suffix in (".tif", ".tiff")
    try:
        size = path.stat().st_size
        data = path if tiff and not gz else path.read_bytes()
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})")
    if size == 0:
        fail(f"{path}: empty file (0 bytes)")
    if gz:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            fail(f"{path}: broken gzip data ({exc})")
    try:
        if tiff:
            pixels, axes, info = read_tiff(data, memmap_over)
        elif suffix == ".png":   # as stored: grey, grey+alpha, RGB or RGBA
            pixels, axes, info = imagecodecs.png_decode(data), "", None
        else:
            pixels, axes, info = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), "", None
            if pixels is None:
                raise ValueError("cannot decode")
            if pixels.ndim == 3:  # OpenCV gives BGR
                pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    except MemoryError:
        raise                    # the machine's limit, not the file's fault: the caller says so
    except OSError as exc:
        if exc.errno is None:    # an OSError without an errno comes from a decoder: the file's fault
            fail(f"{path}: not a readable image, truncated or corrupt ({type(exc).__name__}: {exc})".splitlines()[0])
        fail(f"{path}: cannot read ({exc.strerror or exc})")    # permissions, a full disk for the memory map, ...
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a broken, truncated or foreign file
        fail(f"{path}: not a readable image, truncated or corrupt ({type(exc).__name__}: {exc})".splitlines()[0])
    if pixels.size == 0:   # e.g. a TIFF header without pages
        fail(f"{path}: not a readable image, truncated or corrupt (no pixel data)")
    if pixels.dtype not in (np.uint8, np.uint16):
        fail(f"{path}: unsupported pixel type {pixels.dtype} (expected 8- or 16-bit unsigned integers)")
    return pixels, axes or "YXS"[:pixels.ndim], info


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Intensities as stored (uint8 or uint16; H x W or H x W x C with C last, RGB order), a PNG's alpha channel
    left out (the data stages want stains, not opacity). UserError naming the file otherwise (decode's)."""
    pixels, axes, info = decode(path)
    if info is None and pixels.ndim == 3 and pixels.shape[2] in (2, 4) and image_suffix(path) == ".png":
        pixels = pixels[..., :-1] if pixels.shape[2] == 4 else pixels[..., 0]
    return np.asarray(pixels)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(height, width) of an image from its header, with the cheap checks that catch a broken file without decoding
    it: a TIFF's strips or tiles must lie inside the file, a PNG must end with its IEND chunk. JPEG and .gz files are
    decoded (read_image). UserError naming the file, as read_image's, when the file is not a usable image."""
    path = Path(path)
    suffix = image_suffix(path)
    if path.name.lower().endswith(".gz") or suffix in (".jpg", ".jpeg"):
        return read_image(path).shape[:2]
    if not suffix:
        fail(f"{path}: not a supported image (TIFF, PNG, JPEG, optionally .gz)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})")
    if size == 0:
        fail(f"{path}: empty file (0 bytes)")
    broken = f"{path}: not a readable image, truncated or corrupt"
    if suffix == ".png":
        with open(path, "rb") as f:
            head = f.read(33)
            f.seek(max(0, size - 8))
            tail = f.read()
        if head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
            fail(f"{broken} (no PNG header)")
        if tail != PNG_END:
            fail(f"{broken} (no PNG end)")
        if head[24] not in (8, 16):
            fail(f"{path}: unsupported pixel type ({head[24]}-bit PNG; expected 8 or 16 bit)")
        return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts)]
            shape, dtype = tif.series[0].shape, page.dtype
    except Exception as exc:  # noqa: BLE001 - any parser failure means a broken or foreign file
        fail(f"{broken} ({type(exc).__name__}: {exc})".splitlines()[0])
    if not ends or max(ends) > size:
        fail(f"{broken} (pixel data past the end of the file)")
    if dtype not in (np.uint8, np.uint16):
        fail(f"{path}: unsupported pixel type {dtype} (expected 8- or 16-bit unsigned integers)")
    axes = tif.series[0].axes
    return shape[axes.index("Y")], shape[axes.index("X")]


def image_pixel_size(path: str | os.PathLike) -> tuple[float, float] | None:
    """The physical (x, y) pixel size in micrometres a TIFF (or .tif.gz) records (tiffmeta.pixel_size_um), from its
    tags alone; None for PNG/JPEG and for a TIFF that records none. For a file read_image has already accepted."""
    path = Path(path)
    if image_suffix(path) not in (".tif", ".tiff"):
        return None
    data = path.read_bytes() if path.name.lower().endswith(".gz") else None
    with tifffile.TiffFile(io.BytesIO(gzip.decompress(data)) if data is not None else path) as tif:
        return pixel_size_um(tiff_info(tif))


def write_png(path: str | os.PathLike, image: np.ndarray, compression: int = 1) -> None:
    """Lossless PNG (uint8/uint16, gray or RGB), written atomically. `compression`: 1 is OpenCV's fast default (zlib
    level 1, SUB filter, RLE strategy); 0 stores the pixels unfiltered and uncompressed, which encodes and decodes
    several times faster in files about 1.7x larger; 2-9 are zlib levels with adaptive filters, smaller and slower."""
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    options = []
    if compression == 0:
        options = [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    elif compression > 1:   # naming level 1 would also switch OpenCV from its fast filter and strategy
        options = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    with atomic_path(path) as tmp:
        ok, buf = cv2.imencode(".png", image, options)
        if not ok:
            raise RuntimeError(f"cannot encode {path} as PNG")
        with open(tmp, "wb") as f:
            f.write(buf.data)   # no copy of a 12 MB buffer


def read_png_rgb(path: str | os.PathLike) -> np.ndarray:
    """A pipeline PNG (HR, LR or merged) as HxWx3 uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        fail(f"{path}: missing or unreadable PNG")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
