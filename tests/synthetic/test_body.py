"""The rendered body's shape: tapered limbs, a torso wider at the shoulders and hips than at the
waist, hands and feet, hair volumes and skirts only when the look has them."""
import numpy as np

from kfusion import geometry
from kfusion.skeletons import H36M17
from kfusion.synthetic import body as B
from kfusion.synthetic import poses as P
from kfusion.synthetic import render as R

I = {n: i for i, n in enumerate(H36M17.joints)}
SIZE = 256


def _front(look=None, girth=1.0):
    """(part map (S, S), joints_2d (17, 2) crop px) of a standing body seen from the front."""
    body = P.Body("b", P.base_offsets())
    pose = P.pose_body(body, {"l_shoulder_abd": 60.0, "r_shoulder_abd": 60.0, "l_hip_abd": 15.0,
                              "r_hip_abd": 15.0})[0]
    Rm, t = geometry.look_at([0.0, 0.0, 4000.0], pose[0], up=(0.0, 1.0, 0.0))
    cam = geometry.world_to_camera(pose, Rm, t)
    Kf = geometry.camera_matrix(1000.0, (0.0, 0.0))
    K = geometry.crop_intrinsics(Kf, geometry.square_box(geometry.project(cam, Kf), 0.2), SIZE)
    cones = B.body_cones(cam, girth, look)
    hit = R.raycast_cones(cones["a"], cones["b"], cones["radius"], K, SIZE, flat=cones["flat"])
    part = np.where(hit["index"] >= 0, cones["part"][np.maximum(hit["index"], 0)], -1)
    return part, geometry.project(cam, K), cones


def _width(mask, row):
    return int(mask[int(row)].sum())


def test_the_torso_is_wider_at_the_shoulders_and_hips_than_at_the_waist():
    part, uv, _ = _front()
    trunk = np.isin(part, [B.PARTS.index(p) for p in ("torso", "l_thigh", "r_thigh")])
    shoulders, waist = _width(trunk, uv[I["thorax"], 1]), _width(trunk, uv[I["spine"], 1])
    hips = _width(trunk, uv[I["l_hip"], 1])
    assert shoulders > 1.2 * waist and hips > 1.2 * waist, (shoulders, waist, hips)
    wide, _, _ = _front(look={"shape": {"waist": 1.3}})
    assert _width(np.isin(wide, [B.PARTS.index("torso")]), uv[I["spine"], 1]) > waist  # a rounder belly


def test_limbs_taper_and_end_in_hands_and_feet():
    part, uv, cones = _front()
    for limb in ("upper_arm", "forearm", "thigh"):
        ra, rb = cones["radius"][cones["part"] == B.PARTS.index(f"l_{limb}")][0]
        assert ra > 1.2 * rb, limb
    thigh = part == B.PARTS.index("l_thigh")
    hip, knee = uv[I["l_hip"], 1], uv[I["l_knee"], 1]
    assert _width(thigh, hip + 0.35 * (knee - hip)) > _width(thigh, hip + 0.9 * (knee - hip))
    for p in ("l_hand", "r_hand", "l_foot", "r_foot", "head"):
        assert np.sum(part == B.PARTS.index(p)) > 40, p
    # the feet point forward (towards the camera here): below the ankles, not beside them
    foot = np.argwhere(part == B.PARTS.index("l_foot"))
    assert abs(foot[:, 1].mean() - uv[I["l_ankle"], 0]) < 8


def test_hair_and_skirts_only_when_the_look_has_them():
    _, _, plain = _front()
    assert not np.any(plain["part"] == B.PARTS.index("skirt")) and not plain["flat"].any()
    assert not np.any(plain["part"] == B.PARTS.index("hair"))
    part, uv, cones = _front(look={"hair_style": "long", "bottom": {"kind": "skirt", "length": 0.9}})
    skirt = cones["part"] == B.PARTS.index("skirt")
    assert skirt.sum() == 2 and np.array_equal(cones["flat"], skirt)
    assert np.any(cones["part"] == B.PARTS.index("hair"))
    # the skirt covers the hips and thighs in front, and leaves the shins
    for name in ("l_hip", "r_hip"):
        u, v = uv[I[name]].astype(int)
        assert part[v, u] == B.PARTS.index("skirt")
    u, v = (0.5 * (uv[I["l_knee"]] + uv[I["l_ankle"]])).astype(int)
    assert part[v, u] == B.PARTS.index("l_shin")


def test_every_round_cone_is_valid():
    """|ra - rb| < |b - a| everywhere (the intersection formula needs it), even for odd shapes."""
    rng = np.random.default_rng(0)
    body = P.Body("b", P.base_offsets())
    for k in range(20):
        pose = P.sample_poses(rng, body, "sampled-crouch", 1)[0]
        look = {"shape": {"shoulders": 1.2, "waist": 1.4, "hips": 1.3, "limbs": 1.2, "bust": 1.0},
                "hair_style": ["long", "bun", "volume"][k % 3], "bottom": {"kind": "skirt", "length": 1.3}}
        c = B.body_cones(pose, 1.25, look)
        assert np.all(np.abs(c["radius"][:, 0] - c["radius"][:, 1]) < np.linalg.norm(c["b"] - c["a"], axis=1))
        assert np.all(c["radius"] > 0)
