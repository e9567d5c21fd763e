"""Rendering through a lens with Human3.6M's distortion (no dataset needed)."""
import numpy as np

from kfusion import geometry
from kfusion.datasets import h36m
from kfusion.synthetic import h36m_render, render


def test_undistort_inverts_project_distorted():
    cam = h36m.CAMERAS["54138969"]
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-1500, 1500, 200), rng.uniform(-1200, 1200, 200), rng.uniform(2500, 7000, 200)], 1)
    uv = geometry.project_distorted(pts, cam["f"], cam["c"], cam["k"], cam["p"])
    xy = h36m_render.undistort_normalized((uv - np.asarray(cam["c"])) / np.asarray(cam["f"]), cam["k"], cam["p"])
    np.testing.assert_allclose(xy, pts[:, :2] / pts[:, 2:], atol=1e-9)


def test_lens_rays_put_limbs_where_the_lens_projects_them():
    """A thin vertical pole off-axis: through the lens its image is where project_distorted puts it,
    not where the pinhole K would (a shift of several pixels at the frame's edge)."""
    cam = dict(h36m.CAMERAS["55011271"], R=np.eye(3), T=np.zeros(3))
    cam["f"], cam["c"] = np.asarray(cam["f"]), np.asarray(cam["c"])
    top, bottom = np.array([1700.0, -300.0, 4000.0]), np.array([1700.0, 300.0, 4000.0])
    uv = geometry.project_distorted(np.stack([top, bottom]), cam["f"], cam["c"], cam["k"], cam["p"])
    box = np.array([uv[:, 0].mean() - 100, uv[:, 1].mean() - 100, 200.0])
    size = 100
    rays, inside = h36m_render.lens_rays(cam, box, size)
    hit = render.raycast_cones(top[None], bottom[None], np.array([15.0]), geometry.crop_intrinsics(
        geometry.camera_matrix(cam["f"], cam["c"]), box, size), size, rays=rays)
    cols = np.flatnonzero(np.isfinite(hit["depth"][size // 2]))
    want = geometry.image_to_crop(uv, box, size)[:, 0].mean()
    assert abs(cols.mean() + 0.5 - want) < 0.6
    pinhole = geometry.image_to_crop(geometry.project(np.stack([top, bottom]), geometry.camera_matrix(
        cam["f"], cam["c"])), box, size)[:, 0].mean()
    assert abs(pinhole - want) > 2.0  # the lens matters here, so the check above can fail
    # crop pixels beyond the frame (1000 x 1000) are marked outside: a real crop is black there
    x_full = box[0] + (np.arange(size) + 0.5) * box[2] / size
    y_full = box[1] + (np.arange(size) + 0.5) * box[2] / size
    want_inside = ((x_full < 1000) & (x_full >= 0))[None, :] & ((y_full < 1000) & (y_full >= 0))[:, None]
    assert (~want_inside).any() and np.array_equal(inside.reshape(size, size), want_inside)
