"""BVH reading and forward kinematics: known rotations, rigid bones, the CMU -> h36m17 mapping."""
from pathlib import Path

import numpy as np
import pytest

import kfusion
from kfusion.synthetic import bvh
from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

CMU = Path(kfusion.__file__).parent / "assets" / "cmu"

TWO_JOINTS = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT B
  {
    OFFSET 0 2 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 1 0 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.1
1 2 3 90 0 0 0 90 0
0 0 0 0 0 0 90 0 90
"""


def test_known_rotations_give_known_positions():
    b = bvh.parse_bvh(TWO_JOINTS)
    assert b.names == ("A", "B", "B_end") and b.parents == (-1, 0, 1)
    pos = bvh.forward_kinematics(b)
    # Frame 0: root at (1, 2, 3) turned 90 deg about z; B turned 90 deg about x.
    np.testing.assert_allclose(pos[0, 1], [-1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(pos[0, 2], [-1, 3, 3], atol=1e-12)
    # Frame 1: B has Zrot 90 then Yrot 90 in its declared order (Rz @ Rx @ Ry): (1,0,0) -> (0,0,-1).
    # The other order (Ry @ Rz) would give (0, 1, 0).
    np.testing.assert_allclose(pos[1, 2], [0, 2, -1], atol=1e-12)


def test_cmu_bone_lengths_are_constant_over_frames():
    b = bvh.read_bvh(CMU / "131_03.bvh")
    pos = bvh.forward_kinematics(b, frames=np.arange(0, b.num_frames, 7))
    for j, p in enumerate(b.parents):
        if p >= 0:
            length = np.linalg.norm(pos[:, j] - pos[:, p], axis=-1)
            np.testing.assert_allclose(length, np.linalg.norm(b.offsets[j]), atol=1e-9)


def test_cmu_h36m17_is_a_plausible_person_walking_forward():
    b = bvh.read_bvh(CMU / "131_01.bvh")
    assert b.num_frames == 994 and b.channels[0][:3] == ("Xposition", "Yposition", "Zposition")
    assert b.channels[b.index("LeftShoulder")] == ("Zrotation", "Xrotation", "Yrotation")
    p = bvh.to_h36m17(b, frames=np.arange(0, 400, 4))
    assert p.shape == (100, H36M17.num_joints, 3)
    j = {n: H36M17.index(n) for n in H36M17.joints}
    first = p[0]
    # Standing at frame 0: head top - ankles + foot ~ body height (subject 131: about 1.5-1.6 m;
    # this BVH conversion lacks CMU's 'thorax' spine segment, so the torso is ~11 cm short).
    height = first[j["head"], 1] - min(first[j["l_ankle"], 1], first[j["r_ankle"], 1]) + 80
    assert 1450 < height < 1950
    assert 850 < first[j["pelvis"], 1] < 1100
    assert first[j["head"], 1] > first[j["neck"], 1] > first[j["thorax"], 1] > first[j["spine"], 1]
    # Left is +x of the body: (l_hip - r_hip) x up = forward, and the subject walks forward.
    left = p[:, j["l_hip"]] - p[:, j["r_hip"]]
    up = p[:, j["thorax"]] - p[:, j["pelvis"]]
    forward = np.cross(left, up)
    velocity = np.gradient(p[:, j["pelvis"]], axis=0)
    assert np.mean(np.sum(forward * velocity, axis=1) > 0) > 0.8
    # The nose marker ('neck') is in front of the thorax.
    assert np.mean(np.sum((p[:, j["neck"]] - p[:, j["thorax"]]) * forward, axis=1) > 0) > 0.9


def test_truncated_motion_names_the_file(tmp_path):
    path = tmp_path / "bad.bvh"
    path.write_text(TWO_JOINTS.rsplit("\n", 2)[0] + "\n")
    with pytest.raises(KfusionError, match="bad.bvh.*MOTION has 9 values"):
        bvh.read_bvh(path)
