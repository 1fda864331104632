"""The shared preprocessing: upright, flattened, resized, centre-cropped and scaled."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from eco2.domains.scan.providers.base import ProviderError
from eco2.domains.scan.providers.local.preprocess import MEAN, STD, decode, pixels

RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)
EXIF_ORIENTATION = 0x0112


def encoded(image: Image.Image, fmt: str = "PNG", orientation: int | None = None) -> bytes:
    out = io.BytesIO()
    if orientation is None:
        image.save(out, fmt)
    else:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        image.save(out, fmt, exif=exif)
    return out.getvalue()


def halves(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def colour(array: np.ndarray) -> tuple[int, ...]:
    return tuple(round(v) for v in array.reshape(-1, 3).mean(axis=0) * STD + MEAN)


def test_output_is_the_centre_crop_scaled_for_the_weights() -> None:
    out = pixels(encoded(Image.new("RGB", (640, 480), WHITE)))
    assert out.shape == (224, 224, 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (255 - MEAN) / STD)
    black = pixels(encoded(Image.new("RGB", (50, 80), (0, 0, 0))))  # small images grow
    np.testing.assert_allclose(black, -MEAN / STD)


def test_the_crop_keeps_the_centre_and_drops_the_long_sides() -> None:
    image = Image.new("RGB", (800, 400), WHITE)
    image.paste(RED, (0, 0, 40, 400))  # the left edge: outside a 256-high resize's 224 crop
    image.paste(BLUE, (380, 180, 420, 220))  # the centre
    out = pixels(encoded(image))
    assert colour(out[:, :10]) == WHITE
    assert colour(out[105:119, 105:119]) == BLUE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied(fmt: str) -> None:
    """Orientation 6 means "rotate 90° clockwise to view": the stored left half becomes the top."""
    tagged = pixels(encoded(halves(), fmt, orientation=6))
    assert colour(tagged[:20]) == pytest.approx(RED, abs=12)
    assert colour(tagged[-20:]) == pytest.approx(BLUE, abs=12)
    upright = pixels(encoded(halves().transpose(Image.Transpose.ROTATE_270), fmt))
    np.testing.assert_allclose(tagged, upright, atol=0.05)  # JPEG blocks fall differently


def test_transparency_is_flattened_onto_white() -> None:
    cutout = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    cutout.paste((*RED, 255), (75, 75, 125, 125))
    out = pixels(encoded(cutout))
    assert colour(out[:20, :20]) == WHITE
    assert colour(out[107:117, 107:117]) == RED


@pytest.mark.parametrize("mode", ["L", "CMYK", "P"])
def test_every_colour_mode_becomes_rgb(mode: str) -> None:
    image = halves().convert(mode)
    assert decode(encoded(image, "JPEG" if mode == "CMYK" else "PNG")).mode == "RGB"


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares its size but whose pixels were never sent."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = (
        struct.pack(">I", len(ihdr))
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize(
    "data",
    [
        b"not an image",
        encoded(halves(), "JPEG")[:300],
        png_header(9000, 6000),
        png_header(40_000, 40_000),
    ],
    ids=["text", "truncated-jpeg", "too-many-pixels", "decompression-bomb"],
)
def test_unreadable_photos_fail_with_a_code(data: bytes) -> None:
    with pytest.raises(ProviderError) as raised:
        pixels(data)
    assert raised.value.code == "image_unreadable"
