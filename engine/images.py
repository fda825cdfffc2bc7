"""Decoding images into the RGB array the engine works on (docs/algorithm.md#coordinate-frames).

Every image enters the engine through :func:`load_image` (a file) or :func:`image_from_array`
(pixels already in memory). Both return a :class:`LoadedImage`: an ``H x W x 3`` uint8 RGB array
after EXIF orientation, plus the SHA-256 digest of exactly those bytes, which seeds the
randomness contract and keys every cache.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

# Pillow's own decompression-bomb threshold (about 89.5 MP): larger images are refused, not decoded.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
# File name endings taken as images when a folder is opened (app) or given on the command line.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: ``H x W x 3`` uint8, C-contiguous, read-only; EXIF orientation applied, alpha dropped.
        digest: SHA-256 hex digest of ``rgb.tobytes()``.
        path: where it was read from, if it came from a file.
    """

    rgb: np.ndarray
    digest: str
    path: Path | None = field(default=None)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else f"image {self.digest[:8]}"


def image_from_array(rgb: np.ndarray, path: Path | None = None) -> LoadedImage:
    """Wrap an ``H x W x 3`` uint8 array (copied, made contiguous and read-only)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"expected an H x W x 3 uint8 RGB array, got shape {rgb.shape} dtype {rgb.dtype}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ImageError(f"image has no pixels (shape {rgb.shape})")
    rgb = np.ascontiguousarray(rgb).copy()
    rgb.setflags(write=False)
    return LoadedImage(rgb=rgb, digest=hashlib.sha256(rgb.tobytes()).hexdigest(), path=path)


def load_image(path: str | Path) -> LoadedImage:
    """Read an image file into RGB uint8, applying EXIF orientation.

    Grayscale, palette, RGBA/LA (alpha dropped), 16-bit, 32-bit integer, float and CMYK images
    are converted; multi-frame files use their first frame. Anything unreadable raises
    :class:`ImageError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image '{path}' does not exist or is not a file")
    if path.stat().st_size == 0:
        raise ImageError(f"image '{path}' is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(path, image.size)
                image.load()
                rgb = _to_rgb_array(_oriented(image))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image '{path}' is too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"'{path}' is not an image in a format Pillow can read") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"image '{path}' is corrupt or truncated: {exc}") from exc
    return image_from_array(rgb, path=path)


def _check_size(path: Path, size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"image '{path}' has no pixels ({width} x {height})")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"image '{path}' is {width} x {height} pixels ({width * height / 1e6:.0f} MP), above the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit that guards against decompression bombs"
        )


def _oriented(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # Pillow raises assorted errors on malformed EXIF; the pixels are still fine.
        return image


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to ``H x W x 3`` uint8."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return np.repeat(_high_depth_to_uint8(image)[:, :, None], 3, axis=2)
    if image.mode not in ("RGB",):
        # P/PA go through RGBA so palette transparency does not raise; alpha is dropped after.
        if image.mode in ("P", "PA"):
            image = image.convert("RGBA")
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def _high_depth_to_uint8(image: Image.Image) -> np.ndarray:
    """16/32-bit integer or float grayscale to 8 bits.

    16-bit modes scale 65535 -> 255. Mode "I" (32-bit, also how some Pillow versions open 16-bit
    PNGs) scales the same way when any value exceeds 255, else is taken as 8-bit. Float images are
    taken as [0, 1] when they fit in it, else as [0, 255].
    """
    values = np.nan_to_num(np.asarray(image).astype(np.float64))
    peak = float(values.max(initial=0.0))
    if image.mode == "F":
        scale = 255.0 if peak <= 1.0 else 1.0
    elif image.mode.startswith("I;16") or peak > 255:
        scale = 255.0 / 65535.0
    else:
        scale = 1.0
    return np.clip(values * scale, 0, 255).round().astype(np.uint8)
