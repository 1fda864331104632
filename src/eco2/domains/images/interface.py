"""What other domains use from images: which image URLs scan and chat may fetch, and where
this app serves its own stored photos."""

from __future__ import annotations

from urllib.parse import urlsplit

from eco2.domains.images.storage import FILES_PATH
from eco2.settings import Settings


def allowed_image_hosts(settings: Settings) -> set[str]:
    """``ECO2_IMAGE_ALLOWED_HOSTS`` plus the hosts this app itself hands out in ``cdn_url``."""
    hosts = {h.lower() for h in settings.image_allowed_hosts}
    bases = [settings.image_public_base_url]
    if settings.image_storage == "local":
        bases.append(f"{settings.public_base_url}{FILES_PATH}")
    elif settings.image_s3_endpoint_url and settings.image_s3_bucket:
        bases.append(settings.image_s3_endpoint_url)
    hosts |= {urlsplit(b).netloc.lower() for b in bases if b}
    return hosts


def local_files_prefix(settings: Settings) -> str | None:
    """Where this app serves its own stored photos when storage is the local disk."""
    if settings.image_storage != "local":
        return None
    return f"{settings.public_base_url}{FILES_PATH}/"


def is_allowed_image_url(settings: Settings, url: str) -> bool:
    """An image URL scan/chat may fetch: https (http only locally) on an allowed host[:port]."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    schemes = {"https", "http"} if settings.env == "local" else {"https"}
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        return False
    host = parts.netloc.lower()
    allowed = allowed_image_hosts(settings)
    default_port = {"https": 443, "http": 80}[parts.scheme]
    if parts.port == default_port:
        host = parts.hostname.lower()
    return host in allowed or (parts.port is None and f"{host}:{default_port}" in allowed)
