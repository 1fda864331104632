"""Image fixtures: real encoded images (Pillow) with EXIF GPS, and a moto S3 server."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

GPS = {1: "N", 2: (37.0, 33.0, 12.5), 3: "E", 4: (126.0, 58.0, 40.1)}
ORIENTATION, MAKE = 0x0112, 0x010F


def photo(fmt: str = "JPEG", size: tuple[int, int] = (48, 32), gps: bool = True) -> bytes:
    """An encoded image carrying orientation, camera make and (optionally) GPS EXIF."""
    image = Image.new("RGB", size, (30, 160, 90))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "Eco2Cam"
    if gps:
        exif[0x8825] = GPS
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def exif_of(data: bytes) -> Image.Exif:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.getexif()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
