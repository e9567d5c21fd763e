"""The pose sampler: bodies, joint-angle conventions and limits, retargeting, pose files."""
import numpy as np
import pytest

from kfusion.synthetic import poses as P
from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

J = {n: i for i, n in enumerate(H36M17.joints)}


def _lengths(pose):
    return np.array([np.linalg.norm(pose[..., c, :] - pose[..., p, :], axis=-1) for p, c in H36M17.bones])


def test_bodies_vary_but_stay_symmetric_and_plausible():
    rng = np.random.default_rng(0)
    bodies = [P.sample_body(rng, f"s{k}") for k in range(20)]
    heights = np.array([b.height_mm for b in bodies])
    assert 1450 < heights.min() and heights.max() < 2050 and heights.std() > 20
    for b in bodies:
        L = b.bone_lengths
        for name in H36M17.joints:
            if name.startswith("l_"):
                assert L[J[name]] == pytest.approx(L[J["r_" + name[2:]]])
    ratio = bodies[0].bone_lengths[1:] / bodies[1].bone_lengths[1:]
    assert np.ptp(ratio) > 0.01  # not just a global scale


def test_angle_conventions():
    body = P.Body("b", P.base_offsets())
    rest = P.pose_body(body, {})[0]
    assert rest[J["head"], 1] > rest[J["pelvis"], 1] > rest[J["l_ankle"], 1]
    assert rest[J["l_hip"], 0] > 0 > rest[J["r_hip"], 0]  # subject's left is +x
    pose = P.pose_body(body, {"l_knee_flex": 90.0, "l_shoulder_flex": 90.0, "r_shoulder_abd": 90.0,
                              "spine_flex": 60.0})[0]
    shin = pose[J["l_ankle"]] - pose[J["l_knee"]]
    np.testing.assert_allclose(shin / np.linalg.norm(shin), [0, 0, -1], atol=1e-9)  # heel back
    arm = pose[J["l_elbow"]] - pose[J["l_shoulder"]]
    r_arm = pose[J["r_elbow"]] - pose[J["r_shoulder"]]
    trunk = pose[J["thorax"]] - pose[J["pelvis"]]
    assert trunk[2] > 0.4 * np.linalg.norm(trunk)  # bent forward
    assert arm[2] > 0.9 * np.linalg.norm(arm) * np.cos(np.radians(60))  # raised forward
    assert r_arm[0] < -0.8 * np.linalg.norm(r_arm) * np.cos(np.radians(30))  # abducted to its right


@pytest.mark.parametrize("action", sorted(P.ACTION_FAMILIES))
def test_families_keep_bone_lengths_and_limits(action):
    rng = np.random.default_rng(1)
    body = P.sample_body(rng)
    angles = P.sample_angles(rng, action, 50)
    for key, v in angles.items():
        base = key[2:] if key[:2] in ("l_", "r_") else key
        lo, hi = P.JOINT_LIMITS[base]
        assert v.min() >= lo and v.max() <= hi
    poses = P.pose_body(body, angles, 50)
    assert poses.shape == (50, 17, 3)
    np.testing.assert_allclose(_lengths(poses), np.repeat(body.bone_lengths[[c for _, c in H36M17.bones]][:, None], 50, 1),
                               rtol=1e-9)
    ankles = poses[:, [J["l_ankle"], J["r_ankle"]], 1].min(1)
    assert np.all(poses[:, J["head"], 1] > ankles + 300)  # never upside down


def test_families_differ():
    rng = np.random.default_rng(2)
    body = P.sample_body(rng)
    pelvis_height = {a: np.mean(-P.sample_poses(rng, body, a, 100)[:, [J["l_ankle"], J["r_ankle"]], 1].min(1))
                     for a in ("sampled-stand", "sampled-crouch", "sampled-sit")}
    assert pelvis_height["sampled-crouch"] < pelvis_height["sampled-sit"] < pelvis_height["sampled-stand"]
    with pytest.raises(KfusionError, match="unknown action family 'dance'"):
        P.sample_angles(rng, "dance", 1)


def test_retarget_keeps_directions_and_sets_lengths():
    rng = np.random.default_rng(3)
    src = P.sample_poses(rng, P.sample_body(rng), "sampled-reach", 5)
    body = P.sample_body(rng)
    out = P.retarget(src, body)
    np.testing.assert_allclose(out[:, 0], src[:, 0])
    for p, c in H36M17.bones:
        d_src, d_out = src[:, c] - src[:, p], out[:, c] - out[:, p]
        np.testing.assert_allclose(np.linalg.norm(d_out, axis=1), body.bone_lengths[c])
        np.testing.assert_allclose(d_out / np.linalg.norm(d_out, axis=1, keepdims=True),
                                   d_src / np.linalg.norm(d_src, axis=1, keepdims=True), atol=1e-9)


def test_load_pose_file(tmp_path):
    rng = np.random.default_rng(4)
    yup = P.sample_poses(rng, P.sample_body(rng), "sampled-stand", 6)
    zup = yup[..., [0, 2, 1]] * np.array([1, -1, 1])  # a proper rotation: y-up -> z-up
    path = tmp_path / "p.npz"
    np.savez(path, poses_3d=zup.astype(np.float32), actions=np.array(["a"] * 3 + ["b"] * 3))
    out = P.load_pose_file(path)
    np.testing.assert_allclose(out["poses"], yup, atol=1e-3)
    assert list(out["actions"]) == ["a"] * 3 + ["b"] * 3 and set(out["subjects"]) == {"poses"}
    bad = tmp_path / "bad.npz"
    np.savez(bad, poses_3d=np.zeros((4, 16, 3)))
    with pytest.raises(KfusionError, match=r"bad\.npz: poses_3d has shape \(4, 16, 3\); expected \(N, 17, 3\)"):
        P.load_pose_file(bad)
    with pytest.raises(KfusionError, match="actions has shape"):
        np.savez(bad, poses_3d=zup, actions=np.array(["a"]))
        P.load_pose_file(bad)
