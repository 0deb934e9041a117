"""Image I/O: TIFF (LZW, deflate), PNG and JPEG, 8/16 bit, gzip; broken files are one-line UserErrors."""
from __future__ import annotations

import gzip

import cv2
import numpy as np
import pytest
import tifffile

from msrgan.errors import UserError
from msrgan.imageio import image_suffix, read_image, read_png_rgb, write_png

GRAY16 = (np.arange(40 * 30, dtype=np.uint32).reshape(40, 30) * 37 % 65536).astype(np.uint16)
RGB8 = np.dstack([np.full((8, 6), v, np.uint8) for v in (200, 100, 10)])


@pytest.mark.parametrize("compression", [None, "lzw", "zlib"])
def test_tiff_compressions(tmp_path, compression):
    tifffile.imwrite(tmp_path / "a.tif", GRAY16, compression=compression)
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif"), GRAY16)


def test_png_jpeg_gzip_and_rgb_order(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), GRAY16)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), GRAY16)
    (tmp_path / "g.png.gz").write_bytes(gzip.compress((tmp_path / "g.png").read_bytes()))
    np.testing.assert_array_equal(read_image(tmp_path / "g.png.gz"), GRAY16)
    write_png(tmp_path / "c.png", RGB8)
    np.testing.assert_array_equal(read_image(tmp_path / "c.png"), RGB8)      # RGB in, RGB out
    np.testing.assert_array_equal(read_png_rgb(tmp_path / "c.png"), RGB8)
    cv2.imwrite(str(tmp_path / "c.jpg"), RGB8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert np.abs(read_image(tmp_path / "c.jpg").astype(int) - RGB8).max() <= 3
    assert image_suffix("x.TIFF.gz") == ".tiff" and image_suffix("x.bmp") == ""


@pytest.mark.parametrize("compression", [0, 1, 9])
def test_png_is_lossless_at_every_compression(tmp_path, compression):
    for name, image in (("rgb.png", RGB8), ("gray16.png", GRAY16)):
        write_png(tmp_path / name, image, compression)
        np.testing.assert_array_equal(read_image(tmp_path / name), image)


@pytest.mark.parametrize("name, content, message", [
    ("a.tif", b"", "empty file (0 bytes)"),
    ("a.png", b"\x89PNG\r\n\x1a\n garbage", "not a readable image"),
    ("a.tif", b"II*\x00\x08\x00\x00\x00", "not a readable image"),
    ("a.tif.gz", b"not gzip", "broken gzip data"),
    ("a.bmp", b"BM", "not a supported image"),
])
def test_broken_files(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError) as err:
        read_image(tmp_path / name)
    assert str(err.value).startswith(f"{tmp_path / name}: {message}") and "\n" not in str(err.value)


def test_truncated_tiff_and_float_pixels(tmp_path):
    tifffile.imwrite(tmp_path / "t.tif", GRAY16, compression="zlib")
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError, match="not a readable image"):
        read_image(tmp_path / "t.tif")
    tifffile.imwrite(tmp_path / "f.tif", GRAY16.astype(np.float32))
    with pytest.raises(UserError, match="unsupported pixel type float32"):
        read_image(tmp_path / "f.tif")
