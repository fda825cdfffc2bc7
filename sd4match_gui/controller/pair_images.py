"""Decoded images of the pairs the user visits, kept for quick back-and-forth navigation."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from engine import LoadedImage, load_image
from engine.export.document import ImageRef

KEEP = 6  # images (three pairs): enough for D/A back and forth without decoding again


class PairImages:
    """A small LRU of :class:`LoadedImage` by path; :meth:`load` raises ``ImageError``."""

    def __init__(self) -> None:
        self._images: OrderedDict[Path, LoadedImage] = OrderedDict()

    def load(self, path: Path) -> LoadedImage:
        path = path.resolve()
        if path in self._images:
            self._images.move_to_end(path)
            return self._images[path]
        image = load_image(path)
        self._images[path] = image
        while len(self._images) > KEEP:
            self._images.popitem(last=False)
        return image


def image_ref(image: LoadedImage) -> ImageRef:
    """What exports record about an image: path, size and the digest of its decoded pixels."""
    assert image.path is not None
    return ImageRef(path=image.path.resolve(), width=image.width, height=image.height, sha256=image.digest)
