"""BVH reading and forward kinematics: known rotations, rigid bones, the CMU -> h36m17 mapping."""
from pathlib import Path

import numpy as np
import pytest

import kfusion
from kfusion.synthetic import bvh
from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17
from tiny_bvh import NAMES, UNITS, h36m17_bvh, tiny_bvh

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


# ---------------------------------------------------------------------------------------------
# Any BVH whose joints map to h36m17: tiny files of each naming convention, written here.

@pytest.mark.parametrize("convention", sorted(NAMES))
def test_every_convention_maps_a_bent_elbow_to_the_right_3d_positions(tmp_path, convention):
    # the left elbow bent 90 degrees (Xrotation -90: the forearm turns from down to forward)
    text = tiny_bvh(convention, [{}, {"l_elbow": {"X": -90.0}}])
    path = tmp_path / "tiny.bvh"
    path.write_text(text)
    b = bvh.read_bvh(path)
    assert bvh.find_convention(b).name == convention
    p = bvh.to_h36m17(b)
    j = {n: H36M17.index(n) for n in H36M17.joints}
    # every unit comes out in mm: stated (CMU) or inferred from the limbs (Daz: exactly 10 mm here)
    assert bvh.length_unit_mm(b) == pytest.approx(UNITS[convention], rel=1e-6)
    np.testing.assert_allclose(p[0, j["l_wrist"]] - p[0, j["l_elbow"]], [0, -250, 0], atol=1e-3)
    np.testing.assert_allclose(p[1, j["l_wrist"]] - p[1, j["l_elbow"]], [0, 0, 250], atol=1e-3)
    np.testing.assert_allclose(p[1, j["l_elbow"]] - p[1, j["l_shoulder"]], [0, -280, 0], atol=1e-3)
    np.testing.assert_allclose(p[1, j["r_wrist"]] - p[1, j["r_shoulder"]], [0, -530, 0], atol=1e-3)
    np.testing.assert_allclose(p[1, j["l_knee"]] - p[1, j["l_hip"]], [0, -450, 0], atol=1e-3)
    # the subject's left is +x, the head is up
    assert p[1, j["l_hip"], 0] > p[1, j["r_hip"], 0] and p[1, j["l_shoulder"], 0] > p[1, j["r_shoulder"], 0]
    assert p[1, j["head"], 1] > p[1, j["thorax"], 1] > p[1, j["pelvis"], 1]


@pytest.mark.parametrize("convention", sorted(NAMES))
def test_each_joint_s_declared_channel_order_builds_its_rotation(tmp_path, convention):
    # the same channel values under Z X Y and Z Y X: Rz(90) Rx(-90) Ry(90) turns the hanging forearm
    # (0, -1, 0) to forward (0, 0, 1); Rz(90) Ry(90) Rx(-90) turns it up (0, 1, 0)
    row = [{"l_elbow": {"Z": 90.0, "X": -90.0, "Y": 90.0}}]
    forearm = {}
    for order in ("Zrotation Xrotation Yrotation", "Zrotation Yrotation Xrotation"):
        path = tmp_path / f"{order.replace(' ', '_')}.bvh"
        path.write_text(tiny_bvh(convention, row, elbow_order=order.split()))
        p = bvh.to_h36m17(bvh.read_bvh(path))[0]
        forearm[order] = p[H36M17.index("l_wrist")] - p[H36M17.index("l_elbow")]
    np.testing.assert_allclose(forearm["Zrotation Xrotation Yrotation"], [0, 0, 250], atol=1e-3)
    np.testing.assert_allclose(forearm["Zrotation Yrotation Xrotation"], [0, 250, 0], atol=1e-3)


def test_kfusion_s_own_h36m17_bvh_reads_back_in_mm(tmp_path):
    from kfusion.synthetic import poses as P

    body = P.Body("base", P.base_offsets())
    # the left knee bent 90 degrees (Xrotation +90 of the knee: the shin turns back), then the rest pose
    rows = np.zeros((2, 3 + 3 * 17))
    rows[:, 1] = 1000.0
    depth_first = []

    def walk(j):
        depth_first.append(j)
        for c in range(17):
            if H36M17.parents[c] == j:
                walk(c)

    walk(0)
    rows[0, 3 + 3 * depth_first.index(H36M17.index("l_knee")) + 2] = 90.0
    path = tmp_path / "mine.bvh"
    path.write_text(h36m17_bvh(body.offsets, rows))
    m = bvh.read_motion(path)
    assert m.convention == "h36m17" and m.unit_mm == 1.0 and m.fps == 25.0
    rest = P.pose_body(body, {})[0] + [0.0, 1000.0, 0.0]
    np.testing.assert_allclose(m.poses[1], rest, atol=1e-4)
    j = H36M17.index
    np.testing.assert_allclose(m.poses[0, j("l_ankle")] - m.poses[0, j("l_knee")], [0, 0, -440], atol=1e-4)


def test_a_bvh_that_cannot_map_names_the_file_and_the_missing_joints(tmp_path):
    path = tmp_path / "no_forearm.bvh"
    path.write_text(tiny_bvh("cmu-daz", [{}], drop=("l_elbow",)))
    with pytest.raises(KfusionError) as e:
        bvh.read_motion(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "'cmu-daz' lacks ['lForeArm']" in msg


def test_t_pose_calibration_frame_and_its_blend_are_dropped(tmp_path):
    bent = {"l_elbow": {"X": -90.0}, "r_elbow": {"X": -90.0}, "l_knee": {"X": 60.0}}
    # frame 0 the rest pose, then a jump no body makes in 1/120 s: a calibration frame + 0.1 s of blend
    path = tmp_path / "calib.bvh"
    path.write_text(tiny_bvh("cmu-daz", [{}] + [bent] * 29))
    m = bvh.read_motion(path)
    assert m.dropped == 13 and len(m.poses) == 17 and m.fps == pytest.approx(120.0)
    j = H36M17.index
    np.testing.assert_allclose(m.poses[0, j("l_wrist")] - m.poses[0, j("l_elbow")], [0, 0, 250], atol=1e-3)
    # at rest but no jump (a calm start): kept; a jump but not from the rest pose: kept
    calm = tmp_path / "calm.bvh"
    calm.write_text(tiny_bvh("cmu-daz", [{}] * 30))
    assert bvh.read_motion(calm).dropped == 0
    moving = tmp_path / "moving.bvh"
    moving.write_text(tiny_bvh("cmu-daz", [bent] + [{}] * 29))
    assert bvh.read_motion(moving).dropped == 0


def test_resample_keeps_exact_frames_and_interpolates_between():
    t = np.arange(121) / 120.0
    poses = np.stack([t, 2 * t, -t], axis=-1)[:, None, :] * np.ones((1, 17, 1))  # linear in time
    down = bvh.resample(poses, 120, 30)
    np.testing.assert_array_equal(down, poses[::4])
    at25 = bvh.resample(poses, 120, 25)
    assert len(at25) == 26
    np.testing.assert_allclose(at25[:, 0, 0], np.arange(26) / 25.0, atol=1e-12)
    np.testing.assert_allclose(bvh.resample(poses[::4], 30, 25)[:, 0, 1], 2 * np.arange(26) / 25.0, atol=1e-12)


def test_read_motion_resamples_the_clip(tmp_path):
    rows = [{"root_pos": (0, 1000, 10.0 * k)} for k in range(121)]  # 10 mm a frame forward at 120 fps
    path = tmp_path / "walk.bvh"
    path.write_text(tiny_bvh("cmu-asf", rows))
    m = bvh.read_motion(path, fps=30)
    assert m.fps == 30 and len(m.poses) == 31 and m.convention == "cmu-asf"
    np.testing.assert_allclose(np.diff(m.poses[:, 0, 2]), 40.0, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# The real files: kfusion/assets/cmu (3dsMax names) and ../shared/data/cmu_more (Daz and ASF names)

CMU_MORE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cmu_more"
# raw BVH joints that show where the feet point (forward), per convention: (left toe, right toe)
_TOES = {"cmu-3dsmax": ("LeftToe_end", "RightToe_end"), "cmu-asf": ("ltoes_end", "rtoes_end"),
         "cmu-daz": ("lFoot_end", "rFoot_end")}
# bone -> (min, max) mm: adult human ranges, generous (CMU's pelvis is its root, ~10 cm above the hip
# joints, so its pelvis -> thorax is ~300 mm where Human3.6M's is ~490)
_HUMAN_MM = {("l_hip", "l_knee"): (330, 560), ("l_knee", "l_ankle"): (330, 560), ("l_shoulder", "l_elbow"): (200, 380),
             ("l_elbow", "l_wrist"): (170, 330), ("pelvis", "thorax"): (250, 620),
             ("l_shoulder", "r_shoulder"): (220, 480),
             ("l_hip", "r_hip"): (120, 360), ("thorax", "head"): (150, 380)}


def _real_files():
    files = sorted(CMU.glob("*.bvh"))
    if CMU_MORE.is_dir():
        files += sorted(CMU_MORE.glob("*.bvh"))
    return files


@pytest.fixture(scope="module")
def real_motions():
    out = {}
    for f in _real_files():
        b = bvh.read_bvh(f)
        conv = bvh.find_convention(b)
        m = bvh.read_motion(f)
        toes = bvh.forward_kinematics(b, frames=np.arange(m.dropped, b.num_frames), joints=_TOES[conv.name])
        out[f.stem] = (m, m.unit_mm * toes[:, [b.index(n) for n in _TOES[conv.name]]], b)
    return out


def test_real_files_find_their_convention_and_calibration(real_motions):
    if not CMU_MORE.is_dir():
        pytest.skip(f"cmu_more clips not at {CMU_MORE} (read from ../shared)")
    conventions = {k: m.convention for k, (m, _, _) in real_motions.items()}
    assert len(conventions) == 46
    assert {k for k, c in conventions.items() if c == "cmu-asf"} == {"16_01", "16_02"}
    assert {k for k, c in conventions.items() if c == "cmu-3dsmax"} == {"131_01", "131_02", "131_03"}
    for k, (m, _, b) in real_motions.items():
        # the Daz clips open with a T-pose and a 0.1 s blend; the others start in their motion
        assert m.dropped == (13 if m.convention == "cmu-daz" else 0), k
        assert len(m.poses) == b.num_frames - m.dropped


def test_real_files_are_people_of_human_size_with_left_on_the_left(real_motions):
    j = H36M17.index
    for k, (m, toes, _) in real_motions.items():
        p = m.poses
        assert np.all(np.isfinite(p)), k
        for (a, c), (lo, hi) in _HUMAN_MM.items():
            length = np.median(np.linalg.norm(p[:, j(c)] - p[:, j(a)], axis=-1))
            assert lo < length < hi, (k, a, c, length)
        # standing height: head top over the lower ankle, plus the ankle's height (80 mm)
        height = np.percentile(p[:, j("head"), 1] - np.minimum(p[:, j("l_ankle"), 1], p[:, j("r_ankle"), 1]), 90) + 80
        assert 1400 < height < 2100, (k, height)
        # forward from the feet (ankle -> toe, raw BVH joints), left = up x forward (y up, right-handed)
        forward = (toes - p[:, [j("l_ankle"), j("r_ankle")]]).sum(axis=1)
        forward[:, 1] = 0
        left = np.cross([0.0, 1.0, 0.0], forward)
        for joint in ("hip", "shoulder"):  # (knees and hands may cross: a dance, a crossover step)
            side = np.sum((p[:, j(f"l_{joint}")] - p[:, j(f"r_{joint}")]) * left, axis=-1)
            assert np.mean(side > 0) > 0.9, (k, joint, np.mean(side > 0))
        # the nose marker is in front of the thorax, as the feet point
        nose = np.sum((p[:, j("neck")] - p[:, j("thorax")]) * forward, axis=-1)
        assert np.mean(nose > 0) > 0.9, (k, np.mean(nose > 0))
