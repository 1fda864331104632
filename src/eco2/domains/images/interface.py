"""What other domains use from images: the one check of an image URL that scan and chat (and the
providers behind them) may fetch.

Only two kinds of URL pass (server-side request forgery stays out):
- a stored image under the storage's public file prefix (``cdn_url`` as presign hands it out),
  whose rest is exactly a storage key: no other path on that host (``/internal/...``,
  ``/metrics``), no dot segments, no query;
- any path on a host of ``ECO2_IMAGE_ALLOWED_HOSTS`` (``host`` or ``host:port``).

Parsing is strict: https only (http too in local mode), no surrounding space, no control or
non-ASCII characters, no userinfo, a numeric port in 1-65535 at most once.

Also: where this app serves its own stored photos (providers send those inline).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from eco2.domains.images.services import KEY_PATTERN
from eco2.domains.images.storage import FILES_PATH, storage_for
from eco2.platform.errors import InvalidInput
from eco2.settings import Settings

_NETLOC = re.compile(r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>\d{1,5}))?")
_URL_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space
DEFAULT_PORTS = {"https": 443, "http": 80}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a well-formed absolute http(s) URL, else None."""
    if not _URL_CHARS.fullmatch(url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _NETLOC.fullmatch(parts.netloc)
    if parts.scheme not in DEFAULT_PORTS or match is None:
        return None
    port = int(match["port"]) if match["port"] else DEFAULT_PORTS[parts.scheme]
    if not 0 < port < 65536:
        return None
    return parts.scheme, match["host"].lower(), port


def _allowed_hosts(settings: Settings) -> set[tuple[str, int | None]]:
    hosts: set[tuple[str, int | None]] = set()
    for entry in settings.image_allowed_hosts:
        host, _, port = entry.lower().partition(":")
        hosts.add((host, int(port) if port.isdigit() else None))
    return hosts


def local_files_prefix(settings: Settings) -> str | None:
    """Where this app serves its own stored photos when storage is the local disk."""
    if settings.image_storage != "local":
        return None
    return f"{settings.public_base_url}{FILES_PATH}/"


def is_allowed_image_url(settings: Settings, url: str) -> bool:
    origin = _origin(url)
    schemes = {"https", "http"} if settings.env == "local" else {"https"}
    if origin is None or origin[0] not in schemes:
        return False
    scheme, host, port = origin
    allowed = _allowed_hosts(settings)
    if (host, port) in allowed or (port == DEFAULT_PORTS[scheme] and (host, None) in allowed):
        return True
    prefix = storage_for(settings).public_url("")
    if _origin(prefix) != origin or "?" in url or "#" in url:
        return False
    path, prefix_path = urlsplit(url).path, urlsplit(prefix).path
    key = path[len(prefix_path) :] if path.startswith(prefix_path) else ""
    return KEY_PATTERN.fullmatch(key) is not None


def check_image_url(settings: Settings, url: str, field: str = "image_url") -> str:
    """``url`` when scan/chat may fetch it, else a 422 naming ``field``."""
    if not is_allowed_image_url(settings, url):
        raise InvalidInput(
            "허용되지 않은 이미지 주소입니다.", code="image_url_not_allowed", field=field
        )
    return url
