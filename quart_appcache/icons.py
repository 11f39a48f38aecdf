"""App icons generated from one square source image, with Pillow (the ``icons`` extra).

From a PNG of at least 512x512 pixels: 192 and 512 pixel icons (``purpose
any``), a 512 pixel maskable icon (the image inside the safe zone, the centred
circle of radius 40% of the size, on an opaque fill), a 180 pixel
apple-touch-icon (fully opaque) and a 32 pixel favicon. The output bytes are a
pure function of the source bytes and the fill, so every worker and host
generates the same icons and the version never differs between them.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from types import ModuleType

from .errors import ConfigError

__all__ = ["ICONS", "MIN_SIZE", "IconSpec", "check_source", "generate", "require_pillow"]

MIN_SIZE = 512
# Part of the icons' fingerprint: change it whenever the output bytes change.
ALGORITHM = "1"
# A maskable icon's safe zone is the centred circle of radius 40% of the size;
# the square that fits in it has this side, as a share of the size.
SAFE_ZONE = 2 * 0.4 / math.sqrt(2)


@dataclass(frozen=True)
class IconSpec:
    """One generated icon: its file name, pixel size, and how it is drawn."""

    name: str
    size: int
    purpose: str  # "any", "maskable", "apple-touch-icon", "favicon"


ICONS = (
    IconSpec("icon-192.png", 192, "any"),
    IconSpec("icon-512.png", 512, "any"),
    IconSpec("icon-maskable-512.png", 512, "maskable"),
    IconSpec("apple-touch-icon.png", 180, "apple-touch-icon"),
    IconSpec("favicon-32.png", 32, "favicon"),
)


def require_pillow(key: str) -> ModuleType:
    """Pillow's ``Image`` module, or a :class:`ConfigError` naming the extra to install."""
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError(
            f"{key} needs Pillow to generate the icons; install the icons extra: "
            "pip install 'quart-appcache[icons]'."
        ) from None
    return Image


def check_source(data: bytes, path: str, key: str) -> None:
    """Refuse a source that is not a square PNG of at least 512x512 pixels.

    Raises:
        ConfigError: naming the setting, the file and what is wrong with it.
    """
    image_module = require_pillow(key)
    try:
        with image_module.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
    except Exception as error:  # Pillow raises several kinds for a non-image
        raise ConfigError(
            f"{key} is {path!r}, which is not an image ({type(error).__name__}). "
            "Give a square PNG of at least 512x512 pixels."
        ) from None
    if kind != "PNG":
        raise ConfigError(f"{key} is {path!r}, a {kind} image; give a square PNG.")
    if width != height:
        raise ConfigError(
            f"{key} is {path!r}, which is {width}x{height} pixels: not square. "
            "Give a square PNG of at least 512x512 pixels."
        )
    if width < MIN_SIZE:
        raise ConfigError(
            f"{key} is {path!r}, which is {width}x{height} pixels; give at least "
            f"{MIN_SIZE}x{MIN_SIZE} (browsers install apps with 512 pixel icons)."
        )


def generate(data: bytes, fill: tuple[int, int, int]) -> dict[str, bytes]:
    """Every icon of :data:`ICONS`, as PNG bytes, by file name (CPU work: run it off the loop)."""
    image_module = require_pillow("APPCACHE_ICON")
    lanczos = image_module.Resampling.LANCZOS
    with image_module.open(io.BytesIO(data)) as opened:
        source = opened.convert("RGBA")
    out: dict[str, bytes] = {}
    for spec in ICONS:
        size = spec.size
        if spec.purpose in ("any", "favicon"):
            icon = source.resize((size, size), lanczos)
        else:
            inner = size if spec.purpose == "apple-touch-icon" else round(size * SAFE_ZONE)
            icon = image_module.new("RGBA", (size, size), (*fill, 255))
            scaled = source.resize((inner, inner), lanczos)
            offset = (size - inner) // 2
            icon.alpha_composite(scaled, (offset, offset))
            icon = icon.convert("RGB")  # fully opaque
        buffer = io.BytesIO()
        icon.save(buffer, format="PNG", optimize=False)
        out[spec.name] = buffer.getvalue()
    return out
