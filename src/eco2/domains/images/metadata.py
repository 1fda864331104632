"""Image sniffing and location scrubbing, at the byte level, without re-encoding.

``scrub_location`` empties the EXIF GPS directory and blanks XMP packets *in place*: the
file keeps its length, offsets and pixels, and orientation and other tags survive. Works
on JPEG (APP1), PNG (eXIf, iTXt; CRCs rewritten), WebP (EXIF, XMP chunks) and HEIC/HEIF
(the Exif and XMP items found in the file).
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
}
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
EXTENSION_TYPES = {ext: ctype for ctype, ext in CONTENT_TYPES.items()}
HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
}
SNIFF_BYTES = 64

_GPS_TAG = 0x8825
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_EXIF_HEADER = b"Exif\x00\x00"
_XMP_START, _XMP_END = b"<x:xmpmeta", b"</x:xmpmeta>"


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove, or ``None``."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        size = min(struct.unpack(">I", head[:4])[0], len(head))
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, size - 3, 4)}
        if brands & HEIF_BRANDS:
            return (
                "image/heic" if head[8:12] in {b"heic", b"heix", b"hevc", b"hevx"} else "image/heif"
            )
    return None


def matches(content_type: str, head: bytes) -> bool:
    found = sniff(head)
    heif = {"image/heic", "image/heif"}
    return found == content_type or (found in heif and content_type in heif)


# --- EXIF (TIFF) ----------------------------------------------------------------------------


def _scrub_tiff(buf: bytearray, tiff: int, end: int) -> bool:
    """Empty the GPS IFD of the TIFF structure at ``tiff``; True when one was found."""
    order = {b"II": "<", b"MM": ">"}.get(bytes(buf[tiff : tiff + 2]))
    if order is None or tiff + 8 > end:
        return False
    if struct.unpack_from(order + "H", buf, tiff + 2)[0] != 42:
        return False
    ifd0 = tiff + struct.unpack_from(order + "I", buf, tiff + 4)[0]
    for entry in _entries(buf, order, ifd0, end):
        tag, _, _, value = struct.unpack_from(order + "HHII", buf, entry)
        if tag == _GPS_TAG:
            _blank_ifd(buf, order, tiff, tiff + value, end)
            return True
    return False


def _entries(buf: bytearray, order: str, ifd: int, end: int) -> list[int]:
    if ifd + 2 > end:
        return []
    count = struct.unpack_from(order + "H", buf, ifd)[0]
    return [ifd + 2 + 12 * i for i in range(count) if ifd + 14 + 12 * i <= end]


def _blank_ifd(buf: bytearray, order: str, tiff: int, ifd: int, end: int) -> None:
    entries = _entries(buf, order, ifd, end)
    for entry in entries:
        _, kind, count, value = struct.unpack_from(order + "HHII", buf, entry)
        size = _TYPE_SIZES.get(kind, 1) * count
        if size > 4 and tiff + value + size <= end:
            buf[tiff + value : tiff + value + size] = bytes(size)
        buf[entry : entry + 12] = bytes(12)
    if entries:
        struct.pack_into(order + "H", buf, ifd, 0)


def _blank_xmp(buf: bytearray, start: int, end: int) -> bool:
    found = False
    while (begin := buf.find(_XMP_START, start, end)) != -1:
        stop = buf.find(_XMP_END, begin, end)
        if stop == -1:
            break
        stop += len(_XMP_END)
        buf[begin:stop] = b" " * (stop - begin)
        found, start = True, stop
    return found


def _scrub_exif_block(buf: bytearray, start: int, end: int) -> bool:
    if buf[start : start + 6] == _EXIF_HEADER:
        start += 6
    return _scrub_tiff(buf, start, end)


# --- containers -----------------------------------------------------------------------------


def _scrub_jpeg(buf: bytearray) -> None:
    pos = 2
    while pos + 4 <= len(buf) and buf[pos] == 0xFF:
        marker = buf[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: metadata is behind us
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack_from(">H", buf, pos + 2)[0]
        start, end = pos + 4, min(pos + 2 + length, len(buf))
        if marker == 0xE1:
            if buf[start : start + 6] == _EXIF_HEADER:
                _scrub_tiff(buf, start + 6, end)
            else:
                _blank_xmp(buf, start, end)
        pos += 2 + length


def _scrub_png(buf: bytearray) -> None:
    pos = 8
    while pos + 12 <= len(buf):
        length = struct.unpack_from(">I", buf, pos)[0]
        kind = bytes(buf[pos + 4 : pos + 8])
        start, end = pos + 8, pos + 8 + length
        if end + 4 > len(buf) or kind == b"IEND":
            return
        changed = False
        if kind == b"eXIf":
            changed = _scrub_exif_block(buf, start, end)
        elif kind in (b"iTXt", b"tEXt"):
            changed = _blank_xmp(buf, start, end)
        if changed:
            struct.pack_into(">I", buf, end, zlib.crc32(buf[pos + 4 : end]) & 0xFFFFFFFF)
        pos = end + 4


def _scrub_webp(buf: bytearray) -> None:
    pos = 12
    while pos + 8 <= len(buf):
        kind = bytes(buf[pos : pos + 4])
        length = struct.unpack_from("<I", buf, pos + 4)[0]
        start, end = pos + 8, min(pos + 8 + length, len(buf))
        if kind == b"EXIF":
            _scrub_exif_block(buf, start, end)
        elif kind == b"XMP ":
            _blank_xmp(buf, start, end)
        pos = end + (length & 1)


def _scrub_heif(buf: bytearray) -> None:
    """HEIF keeps Exif/XMP as items whose bytes sit anywhere: find them by their headers."""
    pos = 0
    while (found := buf.find(_EXIF_HEADER, pos)) != -1:
        _scrub_tiff(buf, found + 6, len(buf))
        pos = found + 6
    _blank_xmp(buf, 0, len(buf))


_SCRUBBERS = {
    "image/jpeg": _scrub_jpeg,
    "image/png": _scrub_png,
    "image/webp": _scrub_webp,
    "image/heic": _scrub_heif,
    "image/heif": _scrub_heif,
}


def scrub_location(data: bytes, content_type: str) -> bytes:
    """The same image without GPS EXIF or XMP metadata (same length, same pixels)."""
    scrubber = _SCRUBBERS.get(content_type)
    if scrubber is None:
        return data
    buf = bytearray(data)
    scrubber(buf)
    return bytes(buf)
