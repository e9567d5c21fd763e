"""The ray-casting renderer: exact round-cone hits, the z-buffer, visibility, shadows, light, and
the cues it keeps (front and back differ) and drops (left and right limbs dressed alike)."""
import numpy as np
import pytest

from kfusion import geometry
from kfusion.skeletons import H36M17
from kfusion.synthetic import poses as P
from kfusion.synthetic import render as R
from kfusion.synthetic.appearance import sample_appearance

S = 64
K = geometry.camera_matrix(200.0, (S / 2, S / 2))


def test_sphere_hit_depth_and_normal():
    a = np.array([[0.0, 0.0, 3000.0]])
    hit = R.raycast_cones(a, a + [0, 1e-3, 0], np.array([100.0]), K, S)
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


def _round_cone_distance(p, a, b, ra, rb, steps=2001):
    """Distance (N,) from points p (N, 3) to a round cone, by brute force: the cone is the union of
    the spheres whose centres and radii interpolate those of its ends."""
    s = np.linspace(0.0, 1.0, steps)
    centres = a[None, :] + s[:, None] * (b - a)[None, :]
    radii = ra + s * (rb - ra)
    return (np.linalg.norm(p[:, None, :] - centres[None], axis=-1) - radii[None]).min(axis=1)


def _sphere_trace(d, a, b, ra, rb, far=20000.0):
    """Distance along the unit rays d (N, 3) from 0 to the cone (inf: missed), and the closest
    approach (mm) of each ray."""
    t = np.zeros(len(d))
    closest = np.full(len(d), np.inf)
    for _ in range(300):
        sd = _round_cone_distance(d * t[:, None], a, b, ra, rb)
        closest = np.minimum(closest, sd)
        t = np.where(sd > 0.05, t + np.maximum(sd - 0.02, 0.01), t)
    return np.where(closest <= 0.05, t, np.inf), closest


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_cone_hits_are_where_the_distance_field_says(seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform([-300, -300, 2500], [300, 300, 3500])
    b = a + rng.uniform(-400, 400, 3)
    length = np.linalg.norm(b - a)
    ra, rb = rng.uniform(30, 120), rng.uniform(30, 120)
    rb = ra + np.clip(rb - ra, -0.8 * length, 0.8 * length)
    hit = R.raycast_cones(a[None], b[None], np.array([[ra, rb]]), K, S)
    rays = R.ray_directions(K, S)
    d = rays / np.linalg.norm(rays, axis=1, keepdims=True)
    seen = np.isfinite(hit["depth"].reshape(-1))
    pick = np.concatenate([rng.choice(np.flatnonzero(seen), 75), rng.choice(np.flatnonzero(~seen), 75)])
    t_true, closest = _sphere_trace(d[pick], a, b, ra, rb)
    clear = (closest < -1.0) | (closest > 2.0) | np.isfinite(t_true)  # not a grazing ray
    depth = hit["depth"].reshape(-1)[pick]
    t_ray = depth / d[pick, 2]  # the renderer gives z; along the ray that is t * dz
    hits = np.isfinite(t_true)
    assert hits.sum() > 10 and (~hits).sum() > 10
    np.testing.assert_array_equal(np.isfinite(t_ray)[clear], hits[clear])
    both = hits & np.isfinite(t_ray)
    np.testing.assert_allclose(t_ray[both], t_true[both], atol=1.0)
    # the normals are the distance field's gradient at the hit
    k = np.flatnonzero(np.isin(hit["pixels"], pick[both]))
    p = hit["point"][k]
    eps = 0.5
    grad = np.stack([(_round_cone_distance(p + eps * e, a, b, ra, rb) - _round_cone_distance(p - eps * e, a, b, ra, rb))
                     / (2 * eps) for e in np.eye(3)], axis=1)
    grad /= np.linalg.norm(grad, axis=1, keepdims=True)
    assert np.mean(np.sum(grad * hit["normal"][k], axis=1) > 0.99) > 0.95


def test_a_flat_cone_ends_in_a_disc_at_b():
    """Seen along its axis from beyond b, a flat cone (a skirt) shows the disc in b's plane, a
    round one the sphere reaching rb nearer; from the side both show the same flank."""
    a, b = np.array([[0.0, 0.0, 4000.0]]), np.array([[0.0, 0.0, 3600.0]])
    radius = np.array([[60.0, 150.0]])
    flat = R.raycast_cones(a, b, radius, K, S, flat=np.array([True]))
    round_ = R.raycast_cones(a, b, radius, K, S)
    c = S // 2
    assert flat["depth"][c, c] == pytest.approx(3600.0, abs=0.5)
    assert round_["depth"][c, c] == pytest.approx(3600.0 - 150.0, abs=1.0)
    k = np.flatnonzero(flat["pixels"] == c * S + c)[0]
    np.testing.assert_allclose(flat["normal"][k], [0, 0, -1], atol=1e-6)
    side = R.raycast_cones(np.array([[-200.0, 0, 3000]]), np.array([[200.0, 0, 3000]]), radius, K, S,
                           flat=np.array([True]))
    side_round = R.raycast_cones(np.array([[-200.0, 0, 3000]]), np.array([[200.0, 0, 3000]]), radius, K, S)
    np.testing.assert_array_equal(side["depth"][:, c - 5], side_round["depth"][:, c - 5])


@pytest.mark.parametrize("near", [0, 1])
def test_zbuffer_puts_the_nearer_of_two_crossing_capsules_in_front(near):
    z = [3000.0, 3500.0] if near == 0 else [3500.0, 3000.0]
    a = np.array([[-500.0, 0, z[0]], [0, -500.0, z[1]]])  # a horizontal and a vertical capsule
    b = np.array([[500.0, 0, z[0]], [0, 500.0, z[1]]])
    hit = R.raycast_cones(a, b, np.array([60.0, 60.0]), K, S)
    c = S // 2
    assert hit["index"][c, c] == near
    assert hit["depth"][c, c] == pytest.approx(min(z) - 60, abs=1.0)
    # Away from the crossing each capsule shows itself.
    assert hit["index"][c, 4] == 0 and hit["index"][4, c] == 1


def _look(seed=1, **changes):
    """A subject's look in trousers and short hair (no skirt), with ``changes``."""
    look = sample_appearance(np.random.default_rng(seed))
    look["bottom"] = {**look["bottom"], "kind": "trousers", "length": 2.0}
    look.update(hair_style="short", **changes)
    return look


def _view(pose, eye, size=96):
    Rm, t = geometry.look_at(eye, pose[0], up=(0.0, 1.0, 0.0))
    cam = geometry.world_to_camera(pose, Rm, t)
    Kf = geometry.camera_matrix(1000.0, (0.0, 0.0))
    box = geometry.square_box(geometry.project(cam, Kf), margin=0.2)
    return cam, geometry.crop_intrinsics(Kf, box, size)


def _side_view(from_left):
    body = P.Body("b", P.base_offsets())
    pose = P.pose_body(body, {"l_shoulder_abd": 15.0, "r_shoulder_abd": 15.0})[0]  # arms at the sides
    return _view(pose, np.array([4000.0 if from_left else -4000.0, 0.0, 0.0]))  # subject's left is +x


def test_visibility_hides_the_far_arm_in_a_side_view():
    for from_left in (True, False):
        cam, Kc = _side_view(from_left)
        out = R.render_person(cam, Kc, 96, np.random.default_rng(0), appearance=_look(), noise=False)
        vis = dict(zip(H36M17.joints, out["visibility"]))
        near, far = ("l", "r") if from_left else ("r", "l")
        assert vis[f"{near}_wrist"] == 1 and vis[f"{near}_elbow"] == 1
        assert vis[f"{far}_elbow"] == 0 and vis[f"{far}_shoulder"] == 0
        assert vis["head"] == 1 and vis["neck"] == 1 and vis[f"{near}_knee"] == 1
        assert vis[f"{far}_knee"] == 0  # behind the near leg
        parts = set(np.unique(out["part"]).tolist())
        assert R.PARTS.index(f"{near}_upper_arm") in parts
    assert out["image"].dtype == np.uint8 and out["image"].shape == (96, 96, 3)


def test_a_skirt_hides_the_far_knee_but_not_the_near_one():
    cam, Kc = _side_view(True)
    look = _look()
    look["bottom"] = {**look["bottom"], "kind": "skirt", "length": 1.15}  # past the knees
    out = R.render_person(cam, Kc, 96, np.random.default_rng(0), appearance=look, noise=False)
    vis = dict(zip(H36M17.joints, out["visibility"]))
    uv = geometry.project(cam, Kc)
    r, c = uv[H36M17.joints.index("l_knee")].astype(int)[::-1]
    assert out["part"][r, c] == R.PARTS.index("skirt")  # the near knee's pixel shows the skirt
    assert vis["l_knee"] == 1 and vis["r_knee"] == 0


def test_joints_outside_the_crop_are_not_visible():
    cam, Kc = _side_view(True)
    Kc = Kc.copy()
    Kc[0, 2] += 60  # shift the image: the body leaves through the right border
    vis = R.render_person(cam, Kc, 96, np.random.default_rng(0), appearance=_look(), noise=False)["visibility"]
    u = geometry.project(cam, Kc)[:, 0]
    assert np.all(vis[u >= 96] == 0) and np.any(u >= 96)


def _front_and_back(look, size=128):
    body = P.Body("b", P.base_offsets())
    pose = P.pose_body(body, {"l_shoulder_abd": 60.0, "r_shoulder_abd": 60.0})[0]
    out = []
    for z in (4000.0, -4000.0):  # the subject faces +z: from the front, then from behind
        cam, Kc = _view(pose, np.array([0.0, 0.0, z]), size)
        out.append(R.render_person(cam, Kc, size, np.random.default_rng(2), appearance=look, noise=False,
                                   lighting=R.FLAT_LIGHT))
    return out


def test_left_and_right_limbs_are_dressed_alike():
    """No side cue real people lack: mirrored limbs show the same colours (the old renderer
    striped the left ones)."""
    look = _look(watch=None, strap=None, folds=0.0)
    for garment in (look["top"], look["bottom"]):
        garment["pattern"] = "solid"
    look["top"]["sleeve"] = 2.0
    front, _ = _front_and_back(look, size=256)
    img = front["image"].astype(float)
    for limb in ("upper_arm", "forearm", "thigh", "shin"):
        left = img[front["part"] == R.PARTS.index(f"l_{limb}")]
        right = img[front["part"] == R.PARTS.index(f"r_{limb}")]
        assert left.shape[0] > 20 and right.shape[0] > 20
        np.testing.assert_allclose(np.median(left, 0), np.median(right, 0), atol=1.0)
        for side in (left, right):  # one colour (but at the edges): no bands
            assert np.mean(np.abs(side - np.median(side, 0)).max(1) < 3) > 0.75


def test_front_and_back_differ():
    """The paper's cue stays in the image: from behind the head shows hair, from the front a face."""
    look = _look(skin=np.array([0.9, 0.7, 0.6]), hair=np.array([0.05, 0.04, 0.04]), nape=-0.75, hairline=0.45)
    front, back = _front_and_back(look)
    dark = []
    for out in (front, back):
        head = out["image"][out["part"] == R.PARTS.index("head")].astype(float)
        assert len(head) > 30
        dark.append(np.mean(head.mean(1) < 60))  # hair-coloured pixels
    assert dark[1] > dark[0] + 0.3 and dark[0] < 0.4


def test_render_is_deterministic_for_a_seed():
    cam, Kc = _side_view(True)
    a = R.render_person(cam, Kc, 64, np.random.default_rng(5))
    b = R.render_person(cam, Kc, 64, np.random.default_rng(5))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["visibility"], b["visibility"])


def test_the_body_casts_a_shadow_away_from_the_light():
    """A ball lit from above (camera y points down) shadows the points below it, not those beside."""
    cones = {"a": np.array([[0.0, 0.0, 5000.0]]), "b": np.array([[0.0, 1e-3, 5000.0]]),
             "radius": np.array([[200.0, 200.0]]), "flat": np.array([False])}
    light = {**R.FLAT_LIGHT, "lights": [(np.array([0.0, -1.0, 0.0]), np.ones(3))], "shadows": True}
    smap = R.shadow_map(cones, light, np.array([0.0, 0.0, 5000.0]))
    points = np.array([[0.0, 600.0, 5000.0], [120.0, 600.0, 5050.0], [600.0, 600.0, 5000.0], [0.0, -600.0, 5000.0]])
    np.testing.assert_allclose(R.in_light(smap, points), [0.0, 0.0, 1.0, 1.0])


def test_lights_range_from_dark_rooms_to_bright_days():
    rng = np.random.default_rng(0)
    lights = [R.sample_lighting(rng) for _ in range(400)]
    level = np.array([R._scene_level(x).mean() for x in lights])
    assert level.min() < 0.15 and level.max() > 1.0  # near-black rooms and bright scenes
    ambient = np.array([x["ambient"].mean() for x in lights])
    assert ambient.min() < 0.02 and ambient.max() > 0.8
    counts = np.array([len(x["lights"]) for x in lights])
    assert 0.05 < np.mean(counts == 2) < 0.4
    colours = np.array([c for x in lights for _, c in x["lights"]])
    chroma = (colours.max(1) - colours.min(1)) / colours.mean(1)
    assert np.mean(chroma > 0.5) > 0.03  # some coloured lights, most white-ish
    assert np.median(chroma) < 0.4
    assert 0.08 < np.mean([x["shadows"] for x in lights]) < 0.3  # occasional cast shadows
    # directions from all round the subject, also from behind it (z > 0: beyond the subject)
    dirs = np.array([d for x in lights for d, _ in x["lights"]])
    assert np.mean(dirs[:, 2] > 0.3) > 0.1 and np.mean(dirs[:, 2] < -0.3) > 0.3
