"""The ray-casting renderer: exact hits, the z-buffer, visibility, left/right cues."""
import numpy as np
import pytest

from kfusion import geometry
from kfusion.synthetic import poses as P
from kfusion.synthetic import render as R
from kfusion.skeletons import H36M17

S = 64
K = geometry.camera_matrix(200.0, (S / 2, S / 2))


def test_sphere_hit_depth_and_normal():
    a = np.array([[0.0, 0.0, 3000.0]])
    hit = R.raycast_capsules(a, a + [0, 1e-3, 0], np.array([100.0]), K, S)
    # Pixel centres sit half a pixel off the optical axis: check the nearest one.
    assert hit["index"][S // 2, S // 2] == 0
    d = np.array([0.5 / 200, 0.5 / 200, 1.0])  # the ray of that pixel; solve |t d - c| = r
    qa, qb, qc = d @ d, -2 * d @ a[0], a[0] @ a[0] - 100.0**2
    t = (-qb - np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    assert hit["depth"][S // 2, S // 2] == pytest.approx(t, abs=1e-3)
    assert hit["index"][0, 0] == -1 and np.isinf(hit["depth"][0, 0])
    k = np.flatnonzero(hit["pixels"] == (S // 2) * S + S // 2)[0]
    np.testing.assert_allclose(hit["normal"][k], (t * d - a[0]) / 100.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(hit["normal"], axis=1), 1.0, atol=1e-6)
    # The silhouette radius is f * r / z (within a pixel).
    row = hit["index"][S // 2] >= 0
    assert abs(row.sum() - 2 * 200 * 100 / np.sqrt(3000**2 - 100**2)) <= 2


@pytest.mark.parametrize("near", [0, 1])
def test_zbuffer_puts_the_nearer_of_two_crossing_capsules_in_front(near):
    z = [3000.0, 3500.0] if near == 0 else [3500.0, 3000.0]
    a = np.array([[-500.0, 0, z[0]], [0, -500.0, z[1]]])  # a horizontal and a vertical capsule
    b = np.array([[500.0, 0, z[0]], [0, 500.0, z[1]]])
    hit = R.raycast_capsules(a, b, np.array([60.0, 60.0]), K, S)
    c = S // 2
    assert hit["index"][c, c] == near
    assert hit["depth"][c, c] == pytest.approx(min(z) - 60, abs=1.0)
    # Away from the crossing each capsule shows itself.
    assert hit["index"][c, 4] == 0 and hit["index"][4, c] == 1


def _side_view(from_left):
    body = P.Body("b", P.base_offsets())
    pose = P.pose_body(body, {"l_shoulder_abd": 15.0, "r_shoulder_abd": 15.0})[0]  # arms at the sides
    eye = np.array([4000.0 if from_left else -4000.0, 0.0, 0.0])  # subject's left is +x
    Rm, t = geometry.look_at(eye, pose[0], up=(0.0, 1.0, 0.0))
    cam = geometry.world_to_camera(pose, Rm, t)
    Kf = geometry.camera_matrix(1000.0, (0.0, 0.0))
    box = geometry.square_box(geometry.project(cam, Kf), margin=0.2)
    return cam, geometry.crop_intrinsics(Kf, box, 96)


def test_visibility_hides_the_far_arm_in_a_side_view():
    for from_left in (True, False):
        cam, Kc = _side_view(from_left)
        out = R.render_person(cam, Kc, 96, np.random.default_rng(0), noise=False)
        vis = dict(zip(H36M17.joints, out["visibility"]))
        near, far = ("l", "r") if from_left else ("r", "l")
        assert vis[f"{near}_wrist"] == 1 and vis[f"{near}_elbow"] == 1
        assert vis[f"{far}_elbow"] == 0 and vis[f"{far}_shoulder"] == 0
        assert vis["head"] == 1 and vis["neck"] == 1 and vis[f"{near}_knee"] == 1
        assert vis[f"{far}_knee"] == 0  # behind the near leg
        parts = set(np.unique(out["part"]).tolist())
        assert R.PARTS.index(f"{near}_upper_arm") in parts
    assert out["image"].dtype == np.uint8 and out["image"].shape == (96, 96, 3)


def test_joints_outside_the_crop_are_not_visible():
    cam, Kc = _side_view(True)
    Kc = Kc.copy()
    Kc[0, 2] += 60  # shift the image: the body leaves through the right border
    vis = R.render_person(cam, Kc, 96, np.random.default_rng(0), noise=False)["visibility"]
    u = geometry.project(cam, Kc)[:, 0]
    assert np.all(vis[u >= 96] == 0) and np.any(u >= 96)


def test_left_limbs_are_banded_and_right_limbs_plain():
    body = P.Body("b", P.base_offsets())
    pose = P.pose_body(body, {"l_shoulder_abd": 60.0, "r_shoulder_abd": 60.0})[0]
    Rm, t = geometry.look_at([0, 0, 4000.0], pose[0], up=(0.0, 1.0, 0.0))  # from the front
    cam = geometry.world_to_camera(pose, Rm, t)
    Kf = geometry.camera_matrix(1000.0, (0.0, 0.0))
    Kc = geometry.crop_intrinsics(Kf, geometry.square_box(geometry.project(cam, Kf), 0.2), 128)
    app = R.sample_appearance(np.random.default_rng(1))
    app.update(long_sleeves=True, long_trousers=True, stripe_strength=0.5)
    flat = (np.array([0.0, 0.0, -1.0]), 1.0)  # ambient only: pixel = albedo
    out = R.render_person(cam, Kc, 128, np.random.default_rng(2), appearance=app, noise=False, lighting=flat)
    lum = out["image"].astype(float).mean(-1)
    for limb in ("upper_arm", "thigh", "shin"):
        left = lum[out["part"] == R.PARTS.index(f"l_{limb}")]
        right = lum[out["part"] == R.PARTS.index(f"r_{limb}")]
        assert left.size > 20 and right.size > 20
        assert left.std() > 10 and right.std() < 1


def test_render_is_deterministic_for_a_seed():
    cam, Kc = _side_view(True)
    a = R.render_person(cam, Kc, 64, np.random.default_rng(5))
    b = R.render_person(cam, Kc, 64, np.random.default_rng(5))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["visibility"], b["visibility"])
