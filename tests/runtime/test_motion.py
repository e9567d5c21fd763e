"""One-Euro smoothing and BVH export of 3D motion (read back with kfusion's own BVH reader; the
lengths at human scale in the unit the file declares)."""
import re
from pathlib import Path

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
    assert b.unit_mm == 10.0  # centimetres by default, declared in the file
    fk = bvh_lib.forward_kinematics(b) * b.unit_mm
    idx = [b.names.index(n) for n in skeletons.H36M17.joints]
    back = fk[:, idx] @ np.diag([1.0, -1.0, -1.0])  # Y up -> kfusion's camera frame
    np.testing.assert_allclose(back, poses, atol=0.05)  # mm


CMU_WALK = Path(bvh_lib.__file__).resolve().parent.parent / "assets" / "cmu" / "131_02.bvh"


def test_bvh_of_real_motion_keeps_every_joint_close(tmp_path):
    """A CMU clip converted to h36m17 (fans of bones not rigid): each joint within a few cm."""
    poses = bvh_lib.load_cmu_h36m17(CMU_WALK)[::20]
    b = bvh_lib.read_bvh(motion.write_bvh(tmp_path / "walk.bvh", poses, camera_frame=False))
    fk = bvh_lib.forward_kinematics(b)[:, [b.names.index(n) for n in skeletons.H36M17.joints]] * b.unit_mm
    err = np.linalg.norm(fk - poses, axis=-1)
    assert err.mean() < 15 and err.max() < 60
    # kfusion's reader turns its own file back into the same motion in mm, whatever the unit
    for units in motion.BVH_UNITS:
        m = bvh_lib.read_motion(motion.write_bvh(tmp_path / f"walk_{units}.bvh", poses, camera_frame=False,
                                                 units=units))
        assert m.convention == "h36m17" and m.unit_mm == bvh_lib.LENGTH_UNITS_MM[units]
        assert np.linalg.norm(m.poses - poses, axis=-1).mean() < 15


def offsets_standing_height(text):
    """(standing height in the file's own unit, the unit the header comment declares) of a BVH: its
    rest pose (every channel 0) from the OFFSET lines, top of the head's End Site minus the lowest
    foot point, along Y (up)."""
    unit = re.search(r"^# kfusion BVH: lengths in \w+ \((cm|m|mm)\)", text, re.M).group(1)
    stack, heights = [np.zeros(3)], []
    for line in text.split("MOTION")[0].splitlines():
        words = line.split()
        if words[:1] == ["OFFSET"]:
            stack.append(stack[-1] + np.array([float(w) for w in words[1:4]]))
            heights.append(stack[-1][1])
        elif words == ["}"]:
            stack.pop()
    return max(heights) - min(heights), unit


@pytest.mark.parametrize("units", ["cm", "m", "mm", None])
def test_bvh_offsets_stand_at_human_height_in_the_declared_unit(tmp_path, units):
    poses = bvh_lib.load_cmu_h36m17(CMU_WALK)[::10]  # a walking adult, mm
    kwargs = {} if units is None else {"units": units}
    text = motion.write_bvh(tmp_path / "walk.bvh", poses, camera_frame=False, **kwargs).read_text()
    assert text.startswith("HIERARCHY\n# kfusion BVH: lengths in ")  # HIERARCHY first, as readers expect
    height, declared = offsets_standing_height(text)
    assert declared == (units or "cm")  # centimetres by default
    metres = height * bvh_lib.LENGTH_UNITS_MM[declared] / 1000.0
    assert 1.4 <= metres <= 2.1, (height, declared)


def test_bad_bvh_units_are_refused(tmp_path):
    with pytest.raises(KfusionError, match=r"BVH units 'inch'; expected one of \['cm', 'm', 'mm'\]"):
        motion.write_bvh(tmp_path / "x.bvh", np.zeros((2, 17, 3)), units="inch")
    assert not (tmp_path / "x.bvh").exists()


def test_bad_poses_are_refused(tmp_path):
    with pytest.raises(KfusionError, match=r"expected finite \(F, 17, 3\)"):
        motion.write_bvh(tmp_path / "x.bvh", np.zeros((3, 16, 3)))
    assert not (tmp_path / "x.bvh").exists()
