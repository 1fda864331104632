"""Photo bytes → the network's input, the way the weights were evaluated.

Decode, turn upright by the EXIF orientation (phones store rotated pixels), flatten any
transparency onto white, resize the shorter side to 256 (bicubic), crop the centre 224×224
and scale to ``(x - 127) / 128`` as the TensorFlow EfficientNet-Lite models expect. The numpy
network and the torch reference in the tests both take this array, so they see the same
pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from eco2.domains.scan.providers.base import ProviderError
from eco2.domains.scan.providers.local.network import SIZE

RESIZE = 256
MEAN, STD = 127.0, 128.0
MAX_PIXELS = 40_000_000
"""A decompression bomb guard: a 12-megapixel phone photo is well under it."""
BACKGROUND = (255, 255, 255)


def decode(data: bytes) -> Image.Image:
    """An upright RGB image, or ``image_unreadable``."""
    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_PIXELS:
            raise ProviderError("image_unreadable", "too many pixels")
        # JPEG decodes straight to a smaller scale (at least twice the final size): cheap.
        opened.draft("RGB", (RESIZE * 2, RESIZE * 2))
        return _flatten(ImageOps.exif_transpose(opened))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError("image_unreadable", str(exc)) from exc


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, BACKGROUND)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")


def center_crop(image: Image.Image) -> Image.Image:
    """Shorter side to :data:`RESIZE`, then the centre :data:`SIZE` square."""
    scale = RESIZE / min(image.size)
    width = max(SIZE, round(image.width * scale))
    height = max(SIZE, round(image.height * scale))
    resized = image.resize((width, height), Image.Resampling.BICUBIC)
    left, top = (width - SIZE) // 2, (height - SIZE) // 2
    return resized.crop((left, top, left + SIZE, top + SIZE))


def normalize(image: Image.Image) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.float32)
    return (pixels - MEAN) / STD


def pixels(data: bytes) -> np.ndarray:
    """The 224×224×3 float32 input for one photo."""
    return normalize(center_crop(decode(data)))
