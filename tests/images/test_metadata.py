"""Byte-level sniffing and GPS scrubbing (no database)."""

from __future__ import annotations

import struct

import pytest

from eco2.domains.images import metadata
from tests.images.conftest import MAKE, ORIENTATION, photo
from tests.images.conftest import exif_of as read_exif


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_gps_is_removed_in_place_and_the_rest_survives(fmt: str, content_type: str) -> None:
    original = photo(fmt)
    assert dict(read_exif(original).get_ifd(0x8825))
    scrubbed = metadata.scrub_location(original, content_type)
    assert len(scrubbed) == len(original)  # no re-encoding: same pixels, same layout
    exif = read_exif(scrubbed)
    assert dict(exif.get_ifd(0x8825)) == {}
    assert exif[ORIENTATION] == 6
    assert exif[MAKE] == "Eco2Cam"


def test_xmp_packets_are_blanked() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        b"<exif:GPSLatitude>37,33N</exif:GPSLatitude></x:xmpmeta>"
    )
    segment = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    jpeg = photo("JPEG", gps=False)
    app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
    data = jpeg[:2] + app1 + jpeg[2:]
    scrubbed = metadata.scrub_location(data, "image/jpeg")
    assert b"GPSLatitude" not in scrubbed
    assert len(scrubbed) == len(data)


def test_heif_items_are_found_by_their_headers() -> None:
    jpeg = photo("JPEG")
    start = jpeg.index(b"Exif\x00\x00")
    exif_block = jpeg[start : start + 400]
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 40 + exif_block
    assert metadata.sniff(heic) == "image/heic"
    scrubbed = metadata.scrub_location(heic, "image/heic")
    assert scrubbed != heic
    assert len(scrubbed) == len(heic)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heif"),
        (b"GIF89a", None),
        (b"<svg xmlns=", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert metadata.sniff(head) == expected


def test_heic_and_heif_are_interchangeable() -> None:
    assert metadata.matches("image/heif", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    assert not metadata.matches("image/png", b"\xff\xd8\xff\xe0")
