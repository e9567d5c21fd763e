"""One-Euro smoothing and BVH export of 3D motion (read back with kfusion's own BVH reader)."""
import numpy as np
import pytest

from kfusion import skeletons
from kfusion.synthetic import bvh as bvh_lib
from kfusion.errors import KfusionError
from kfusion.runtime import motion


def test_one_euro_smooths_rest_and_follows_motion():
    rng = np.random.default_rng(0)
    f = motion.OneEuroFilter(min_cutoff=0.5, beta=0.005)  # mm at 30 Hz
    t = np.arange(300) / 30.0
    still = 100 + rng.normal(0, 5, 300)
    out = np.array([f(x, ti) for x, ti in zip(still, t)])
    assert out[50:].std() < 0.35 * still[50:].std()  # jitter at rest mostly gone
    f.reset()
    ramp = 2000 * t  # 2 m/s
    out = np.array([f(x, ti) for x, ti in zip(ramp, t)])
    assert np.abs(out[100:] - ramp[100:]).max() < 40  # keeps up with fast motion (lag < 2 cm)
    with pytest.raises(KfusionError, match="not after"):
        f(1.0, t[-1])


def _random_motion(rng, frames=20):
    """Poses made by rotating a rigid template skeleton's joints: a BVH can hold them exactly."""
    skel = skeletons.H36M17
    rest = rng.normal(0, 1, (skel.num_joints, 3)) * 150 + np.array([0, 200, 0])
    poses = np.zeros((frames, skel.num_joints, 3))
    for f in range(frames):
        G = [None] * skel.num_joints
        for j, p in enumerate(skel.parents):  # parents come first in h36m17
            R = _rot(rng.normal(0, 0.4, 3))
            if p < 0:
                G[j], poses[f, j] = R, rng.normal(0, 100, 3) + [0, 0, 4000]
            else:
                G[j] = G[p] @ R
                poses[f, j] = poses[f, p] + G[p] @ rest[j]
    return poses


def _rot(w):
    theta = np.linalg.norm(w)
    k = w / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def test_bvh_round_trip_through_kfusion_reader(tmp_path):
    rng = np.random.default_rng(3)
    poses = _random_motion(rng)
    path = motion.write_bvh(tmp_path / "m.bvh", poses, fps=30.0)
    b = bvh_lib.read_bvh(path)
    assert b.num_frames == len(poses) and abs(b.frame_time - 1 / 30) < 1e-6
    assert b.names[: skeletons.H36M17.num_joints] == skeletons.H36M17.joints[:1] + b.names[1:17]
    fk = bvh_lib.forward_kinematics(b)
    idx = [b.names.index(n) for n in skeletons.H36M17.joints]
    back = fk[:, idx] @ np.diag([1.0, -1.0, -1.0])  # Y up -> kfusion's camera frame
    np.testing.assert_allclose(back, poses, atol=0.05)  # mm


def test_bvh_of_real_motion_keeps_every_joint_close(tmp_path):
    """A CMU clip converted to h36m17 (fans of bones not rigid): each joint within a few cm."""
    from pathlib import Path

    cmu = Path(bvh_lib.__file__).resolve().parent.parent / "assets" / "cmu" / "131_02.bvh"
    poses = bvh_lib.load_cmu_h36m17(cmu)[::20]
    b = bvh_lib.read_bvh(motion.write_bvh(tmp_path / "walk.bvh", poses, camera_frame=False))
    fk = bvh_lib.forward_kinematics(b)[:, [b.names.index(n) for n in skeletons.H36M17.joints]]
    err = np.linalg.norm(fk - poses, axis=-1)
    assert err.mean() < 15 and err.max() < 60


def test_bad_poses_are_refused(tmp_path):
    with pytest.raises(KfusionError, match=r"expected finite \(F, 17, 3\)"):
        motion.write_bvh(tmp_path / "x.bvh", np.zeros((3, 16, 3)))
    assert not (tmp_path / "x.bvh").exists()
