"""Image decoding: every odd format converts or fails with a one-line message naming the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import ImageError
from engine.images import image_from_array, load_image
from tests.conftest import random_rgb


def save(tmp_path: Path, name: str, image: Image.Image, **kwargs) -> Path:
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def test_rgb_jpeg_and_digest(tmp_path):
    rgb = random_rgb(30, 40)
    loaded = load_image(save(tmp_path, "a.png", Image.fromarray(rgb)))
    assert loaded.rgb.shape == (30, 40, 3) and loaded.rgb.dtype == np.uint8
    np.testing.assert_array_equal(loaded.rgb, rgb)
    assert loaded.digest == hashlib.sha256(rgb.tobytes()).hexdigest()
    assert not loaded.rgb.flags.writeable


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "1", "I;16", "I", "F"])
def test_modes_convert_to_rgb(tmp_path, mode):
    base = Image.fromarray(random_rgb(20, 24))
    if mode == "I;16":
        image = Image.fromarray((np.arange(20 * 24).reshape(20, 24) * 100).astype(np.uint16))
        ext = "png"
    elif mode in ("I", "F"):
        image = base.convert("L").convert(mode)
        ext = "tiff"
    else:
        image = base.convert(mode)
        ext = "tiff" if mode == "CMYK" else "png"
    loaded = load_image(save(tmp_path, f"img.{ext}", image))
    assert loaded.rgb.shape == (20, 24, 3)
    assert loaded.rgb.dtype == np.uint8


def test_sixteen_bit_scales_to_eight_bit(tmp_path):
    values = np.full((4, 4), 65535, dtype=np.uint16)
    values[0, 0] = 0
    loaded = load_image(save(tmp_path, "deep.png", Image.fromarray(values)))
    assert loaded.rgb[1, 1, 0] == 255 and loaded.rgb[0, 0, 0] == 0


def test_rgba_drops_alpha_keeping_colour(tmp_path):
    rgba = np.zeros((3, 3, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 0  # fully transparent: the colour must survive, not turn black
    loaded = load_image(save(tmp_path, "t.png", Image.fromarray(rgba, "RGBA")))
    assert (loaded.rgb[..., 0] == 200).all()


def test_exif_orientation_is_applied(tmp_path):
    rgb = random_rgb(10, 30)  # landscape stored; orientation 6 = rotate 90 degrees clockwise for display
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(save(tmp_path, "rot.jpg", Image.fromarray(rgb), exif=exif, quality=100))
    assert loaded.rgb.shape == (30, 10, 3)


def test_multi_frame_uses_first_frame(tmp_path):
    frames = [Image.fromarray(random_rgb(8, 8, seed=s)) for s in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert load_image(path).rgb.shape == (8, 8, 3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not an image"),
        (None, "corrupt or truncated"),
    ],
)
def test_bad_files_fail_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is None:  # a real PNG cut in half
        save(tmp_path, "bad.png", Image.fromarray(random_rgb(64, 64)))
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    assert "bad.png" in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nope.jpg")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 MP, a few kB on disk
    with pytest.raises(ImageError, match=r"decompression bombs|too large"):
        load_image(path)


def test_array_input_is_validated():
    with pytest.raises(ImageError, match="H x W x 3 uint8"):
        image_from_array(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ImageError, match="H x W x 3 uint8"):
        image_from_array(np.zeros((4, 4, 3), dtype=np.float32))
