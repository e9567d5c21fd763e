import numpy as np
import pytest

from kfusion import geometry as g


def test_projection_crop_roundtrip():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(5, 17, 3)) * 300 + [0, 0, 4000]
    K = g.camera_matrix([1145.0, 1143.8], [512.5, 515.5])
    uv = g.project(pts, K)
    box = g.square_box(uv, margin=0.2)
    for b in range(5):
        Kc = g.crop_intrinsics(K, box[b], 128)
        assert np.allclose(g.project(pts[b], Kc), g.image_to_crop(uv[b], box[b], 128), atol=1e-9)
        assert np.allclose(g.crop_to_image(g.image_to_crop(uv[b], box[b], 128), box[b], 128), uv[b])
        crop = g.image_to_crop(uv[b], box[b], 128)
        assert crop.min() > 0 and crop.max() < 128
    back = g.unproject(uv, pts[..., 2], K)
    assert np.allclose(back, pts)


def test_world_camera_roundtrip_and_look_at():
    R, t = g.look_at(eye=[0, -1500, -4000], target=[0, -900, 0], up=[0, 1, 0])
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1)
    X = np.random.default_rng(1).normal(size=(10, 3)) * 500
    Xc = g.world_to_camera(X, R, t)
    assert np.allclose(g.camera_to_world(Xc, R, t), X)
    target_cam = g.world_to_camera([0, -900, 0], R, t)
    assert np.allclose(target_cam[:2], 0, atol=1e-9) and target_cam[2] > 0
    # world up (+y) appears up in the image (negative camera y)
    up_cam = g.world_to_camera([0, -900 + 100, 0], R, t) - target_cam
    assert up_cam[1] < 0


def test_distortion_zero_is_pinhole_and_known_value():
    pts = np.array([[100.0, -200.0, 3000.0]])
    f, c = [1000.0, 1000.0], [500.0, 500.0]
    K = g.camera_matrix(f, c)
    assert np.allclose(g.project_distorted(pts, f, c, [0, 0, 0], [0, 0]), g.project(pts, K))
    k, p = [0.1, 0.01, 0.001], [0.002, -0.003]
    x, y = 100 / 3000, -200 / 3000
    r2 = x * x + y * y
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * y + p[1] * x
    xd, yd = x * (radial + tan) + p[1] * r2, y * (radial + tan) + p[0] * r2
    assert np.allclose(g.project_distorted(pts, f, c, k, p), [[1000 * xd + 500, 1000 * yd + 500]])


def test_crop_image_matches_point_transform():
    img = np.zeros((100, 200, 3), np.uint8)
    img[40, 150] = 255  # pixel centre at (150.5, 40.5)
    box = (120.0, 20.0, 50.0)
    crop = g.crop_image(img, box, 100)  # 2x upsampling
    peak = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
    expected = g.image_to_crop([150.5, 40.5], box, 100)
    assert abs(peak[1] + 0.5 - expected[0]) <= 1.0 and abs(peak[0] + 0.5 - expected[1]) <= 1.0


@pytest.mark.parametrize("box", [(10.5, 20.25, 60.0), (-30.0, -12.5, 90.0), (70.2, 55.0, 80.0),
                                 (200.0, 300.0, 40.0), (40.3, 30.7, 12.0)])
@pytest.mark.parametrize("channels", [1, 3])
def test_crop_image_of_uint8_by_pil_is_the_numpy_crop(box, channels):
    # uint8 RGB or grey images are cut by PIL, floats by numpy: the same samples, black outside the
    # image (boxes over its edges, beyond it, upsampled), one level apart at most (PIL truncates)
    image = np.random.default_rng(1).integers(0, 256, (100, 120, channels), dtype=np.uint8)
    fast = g.crop_image(image, box, 32)
    exact = g.crop_image(image.astype(np.float32), box, 32)
    assert fast.dtype == np.uint8 and fast.shape == (32, 32, channels)
    diff = fast.astype(np.float32) - exact
    assert diff.max() <= 1e-3 and diff.min() >= -1.01
    fast[0, 0] = 0  # a writable array of its own
    assert g.crop_image(image[..., 0], box, 32).shape == (32, 32, 1)


def test_bad_input():
    with pytest.raises(ValueError, match=r"shape \(17, 2\)"):
        g.project(np.zeros((17, 2)), np.eye(3))
    with pytest.raises(ValueError, match="behind the camera"):
        g.project(np.zeros((17, 3)), np.eye(3))
    with pytest.raises(ValueError, match="size <= 0"):
        g.crop_transform((0, 0, 0), 64)
