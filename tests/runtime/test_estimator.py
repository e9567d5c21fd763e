"""`kfusion.load` and `Estimator.predict` on every kind of image, for each backend."""
import numpy as np
import pytest
from PIL import Image

import kfusion
from kfusion.errors import KfusionError
from kfusion.runtime.estimator import crop_box_for
from kfusion.images import to_rgb_uint8


@pytest.fixture(scope="module")
def est(tiny_export):
    return kfusion.load(tiny_export[0])  # auto: the TFLite float32 variant


def test_backends_agree(tiny_export, est, rng):
    out, _ = tiny_export
    assert est.backend == "tflite"
    image = rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)
    ref = est.predict(image, bbox="center")
    for backend in ("savedmodel", "keras"):
        other = kfusion.load(out, backend=backend).predict(image, bbox="center")
        np.testing.assert_allclose(other["pose_3d"], ref["pose_3d"], atol=1e-2)
        np.testing.assert_allclose(other["pose_2d"], ref["pose_2d"], atol=1e-2)


def test_pose_2d_in_full_image_pixels(est, rng):
    image = rng.integers(0, 256, (100, 300, 3), dtype=np.uint8)
    r = est.predict(image, bbox=(200, 10, 40, 80))
    x0, y0, s = r["crop_box"]
    np.testing.assert_allclose(r["crop_box"], [164.0, -6.0, 112.0])  # 1.4 x 80 around the box centre
    crop_px = est.predict_crops(r["crop"][None])["pose_2d"][0]
    np.testing.assert_allclose(r["pose_2d"], crop_px * s / est.input_size + [x0, y0], atol=1e-4)
    assert r["pose_3d"].shape == (17, 3) and len(r["joints_3d"]) == 17 and r["joints_2d"][0] == "r_ankle"


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit", "tiny", "large", "palette"])
def test_odd_image_files(est, tmp_path, rng, kind):
    rgb = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    if kind == "gray":
        im = Image.fromarray(rgb[..., 0], "L")
    elif kind == "rgba":
        im = Image.fromarray(np.dstack([rgb, np.full((48, 40), 128, np.uint8)]), "RGBA")
    elif kind == "16bit":
        im = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        assert im.mode.startswith("I;16")
    elif kind == "tiny":
        im = Image.fromarray(rgb[:16, :16])  # the smallest accepted (MIN_IMAGE_SIDE)
    elif kind == "large":
        im = Image.fromarray(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8))
    else:
        im = Image.fromarray(rgb).convert("P")
    path = tmp_path / f"{kind}.png"
    im.save(path)
    r = est.predict(path, bbox="center")
    assert r["crop"].shape == (32, 32, 3) and r["crop"].dtype == np.uint8
    assert np.all(np.isfinite(r["pose_3d"])) and np.all(np.isfinite(r["pose_2d"]))
    W, H = r["image_size"]
    assert r["crop_box"][2] == min(W, H)


def test_array_conversions():
    g16 = np.full((4, 5), 65535, np.uint16)
    np.testing.assert_array_equal(to_rgb_uint8(g16), np.full((4, 5, 3), 255, np.uint8))
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    assert to_rgb_uint8(rgba)[0, 0].tolist() == [200, 0, 0]
    assert to_rgb_uint8(np.full((2, 2), 0.5))[0, 0].tolist() == [128, 128, 128]
    with pytest.raises(KfusionError):
        to_rgb_uint8(np.zeros((2, 2, 5)))
    np.testing.assert_allclose(crop_box_for((100, 300)), [100.0, 0.0, 100.0])


def test_corrupt_and_missing_files(est, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for path, msg in ((bad, "not a readable image"), (empty, "empty file"), (tmp_path / "none.png", "not found")):
        with pytest.raises(KfusionError, match=msg):
            est.predict(path)


def test_default_model_missing_is_explained(monkeypatch, tmp_path):
    from kfusion.runtime import estimator

    monkeypatch.setattr(estimator, "default_model_dirs", lambda: [tmp_path / "nothing"])
    with pytest.raises(KfusionError, match="no shipped model"):
        kfusion.load()
