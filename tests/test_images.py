"""Image files and arrays to RGB uint8: one rule per dtype, whatever the file's format."""
import numpy as np
import pytest
from PIL import Image

from kfusion import images
from kfusion.errors import KfusionError
from kfusion.images import read_image, to_rgb_uint8


def _gray(values):
    return np.repeat(np.asarray(values, np.uint8)[..., None], 3, axis=-1)


def _save(tmp_path, array, name, mode):
    path = tmp_path / name
    Image.fromarray(array).save(path)
    with Image.open(path) as im:
        assert im.mode == mode  # the file holds what the test means it to
    return path


def test_a_float_tiff_in_0_1_is_scaled_to_0_255(tmp_path):
    values = np.array([[0.0, 0.25, 0.5], [0.75, 0.999, 1.0]], np.float32)
    path = _save(tmp_path, values, "unit.tif", "F")
    np.testing.assert_array_equal(read_image(path), _gray(np.rint(values * 255)))


def test_a_float_tiff_in_0_255_keeps_its_levels(tmp_path):
    values = np.array([[0.0, 2.0, 127.6], [200.0, 254.9, 255.0]], np.float32)
    path = _save(tmp_path, values, "levels.tif", "F")
    np.testing.assert_array_equal(read_image(path), _gray(np.rint(values)))


def test_sixteen_bit_images_are_scaled_by_255_over_65535_not_by_their_own_maximum(tmp_path):
    levels = np.array([[0, 1, 128], [200, 254, 255]])
    png = _save(tmp_path, (levels * 257).astype(np.uint16), "sixteen.png", "I;16")
    np.testing.assert_array_equal(read_image(png), _gray(levels))
    # a 32-bit integer TIFF of 16-bit levels whose brightest is mid-grey stays mid-grey
    dim = np.array([[0, 257], [128 * 257, 100 * 257]], np.int32)
    tif = _save(tmp_path, dim, "int32.tif", "I")
    np.testing.assert_array_equal(read_image(tif), _gray([[0, 1], [128, 100]]))
    # and one of 8-bit levels keeps them
    tif8 = _save(tmp_path, np.array([[0, 7], [128, 255]], np.int32), "int8.tif", "I")
    np.testing.assert_array_equal(read_image(tif8), _gray([[0, 7], [128, 255]]))


@pytest.mark.parametrize("bad, message", [
    (np.array([[0.0, np.nan]], np.float32), r"float32 image has NaN or infinite values"),
    (np.array([[0.0, np.inf]], np.float32), r"float32 image has NaN or infinite values"),
    (np.array([[-3.0, 0.5]], np.float32), r"float32 image with values in \[-3, 0.5\]; expected \[0, 1\] or \[0, 255\]"),
    (np.array([[0.0, 300.0]], np.float32), r"float32 image with values in \[0, 300\]; expected \[0, 1\] or \[0, 255\]"),
    (np.array([[0, 70000]], np.int32), r"int32 image with values in \[0, 70000\]; expected 8-bit levels"),
    (np.array([[-1, 9]], np.int32), r"int32 image with values in \[-1, 9\]; expected 8-bit levels"),
])
def test_values_outside_the_rule_are_refused_naming_the_file(tmp_path, bad, message):
    path = _save(tmp_path, bad, "bad.tif", "F" if bad.dtype == np.float32 else "I")
    with pytest.raises(KfusionError, match=r"bad\.tif: " + message):
        read_image(path)
    with pytest.raises(KfusionError, match=r"^frame 3: " + message):
        to_rgb_uint8(bad, origin="frame 3")


def test_arrays_follow_the_same_rule():
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[True, False]])), _gray([[255, 0]]))
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[0.0, 1.0]], np.float64)), _gray([[0, 255]]))
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[-0.001, 1.001]], np.float32)), _gray([[0, 255]]))
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[3, 255]], np.int64)), _gray([[3, 255]]))
    with pytest.raises(KfusionError, match=r"image dtype complex128; expected uint8"):
        to_rgb_uint8(np.zeros((2, 2), complex))


def test_a_mode_it_does_not_know_is_named(tmp_path, monkeypatch):
    path = _save(tmp_path, np.zeros((2, 2, 3), np.uint8), "rgb.png", "RGB")
    monkeypatch.setattr(images, "_COLOUR_MODES", ("L",))  # as if Pillow had opened a mode of the future
    with pytest.raises(KfusionError, match=r"rgb\.png: image mode 'RGB'; expected one of \['I;16'"):
        read_image(path)
