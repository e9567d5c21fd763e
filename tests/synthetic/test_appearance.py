"""The look of rendered people: skin from light to dark, hair, clothes of every kind, and clothes
that stop where they say (bare arms and legs below them)."""
import numpy as np

from kfusion import geometry
from kfusion.synthetic import appearance as A
from kfusion.synthetic import benchmark as sy
from kfusion.synthetic import poses as P
from kfusion.synthetic import render as R


def _looks(n=600):
    rng = np.random.default_rng(0)
    return [A.sample_appearance(rng) for _ in range(n)]


def _luminance(rgb):
    return np.asarray(rgb) @ np.array([0.2126, 0.7152, 0.0722])


def test_skin_tones_cover_light_to_dark_evenly():
    lum = np.array([_luminance(x["skin"]) for x in _looks()])
    ends = _luminance(A.SKIN_TONES[[0, -1]])
    assert lum.max() > ends[0] - 0.05 and lum.min() < ends[1] + 0.05  # the lightest and the darkest
    # along the scale every fifth of it is about as common as the others
    share = np.histogram(lum, bins=5, range=(ends[1], ends[0]))[0] / len(lum)
    assert share.min() > 0.1, share


def test_hair_and_clothes_vary():
    looks = _looks()
    hair = np.array([x["hair"] for x in looks])
    assert _luminance(hair).min() < 0.08 and _luminance(hair).max() > 0.6  # black to blond and white
    styles = [x["hair_style"] for x in looks]
    assert all(0.04 < styles.count(s) / len(styles) for s in A.HAIR_STYLES)
    tops = [x["top"] for x in looks]
    bare = np.mean([t is None for t in tops])
    sleeves = np.array([t["sleeve"] for t in tops if t is not None])
    assert 0.03 < bare < 0.15
    assert np.mean(sleeves == 0) > 0.08 and np.mean((sleeves > 0.2) & (sleeves < 0.7)) > 0.25
    assert np.mean(sleeves > 1.8) > 0.25  # sleeveless, short and long sleeves
    kinds = [x["bottom"]["kind"] for x in looks]
    for kind, share in (("trousers", 0.4), ("shorts", 0.2), ("skirt", 0.08)):
        assert kinds.count(kind) / len(kinds) > share, kind
    patterns = [x["top"]["pattern"] for x in looks if x["top"] is not None]
    assert all(patterns.count(p) / len(patterns) > 0.05 for p in A.PATTERNS)
    colours = np.array([x["top"]["colour"] for x in looks if x["top"] is not None])
    assert colours.std(0).min() > 0.2  # every channel varies widely
    assert np.mean([x["shape"]["bust"] > 0 for x in looks]) > 0.3
    assert np.ptp([x["shape"]["waist"] for x in looks]) > 0.3


def _front(look, size=256):
    body = P.Body("b", P.base_offsets())
    pose = P.pose_body(body, {"l_shoulder_abd": 60.0, "r_shoulder_abd": 60.0})[0]
    Rm, t = geometry.look_at([0.0, 0.0, 4000.0], pose[0], up=(0.0, 1.0, 0.0))
    cam = geometry.world_to_camera(pose, Rm, t)
    Kf = geometry.camera_matrix(1000.0, (0.0, 0.0))
    Kc = geometry.crop_intrinsics(Kf, geometry.square_box(geometry.project(cam, Kf), 0.2), size)
    return R.render_person(cam, Kc, size, np.random.default_rng(3), appearance=look, noise=False,
                           lighting=R.FLAT_LIGHT)


def _plain(sleeve, length):
    look = A.sample_appearance(np.random.default_rng(4))
    skin, cloth = np.array([0.8, 0.6, 0.45]), np.array([0.1, 0.3, 0.9])
    look.update(skin=skin, folds=0.0, watch=None, strap=None, socks=None, tights=None, belt=None)
    look["top"] = {**A._garment(np.random.default_rng(0), cloth), "pattern": "solid", "sleeve": sleeve,
                   "hem": -0.1, "neckline": 0.9, "v_neck": False, "neck_width": 60.0, "print": None}
    look["bottom"] = {**look["top"], "kind": "trousers" if length > 1.5 else "shorts", "length": length, "waist": 0.1}
    return look, skin, cloth


def _share(out, part, rgb):
    """Share of ``part``'s pixels within 12 levels of the colour ``rgb`` (flat light: the albedo)."""
    px = out["image"][out["part"] == R.PARTS.index(part)].astype(float)
    assert len(px) > 20, part
    return np.mean(np.abs(px - np.asarray(rgb) * 255).max(1) < 12)


def test_clothes_stop_where_they_say_and_the_limbs_below_are_bare():
    long_look, skin, cloth = _plain(sleeve=2.05, length=2.05)
    out = _front(long_look)
    for part in ("l_upper_arm", "r_forearm", "torso", "l_thigh", "r_shin"):
        assert _share(out, part, cloth) > 0.8, part
    short_look, skin, cloth = _plain(sleeve=0.5, length=0.5)
    out = _front(short_look)
    for part in ("l_forearm", "r_forearm", "l_shin", "r_shin"):  # bare below short sleeves and shorts
        assert _share(out, part, skin) > 0.8, part
    assert _share(out, "torso", cloth) > 0.8 and _share(out, "l_hand", skin) > 0.6  # small: edges weigh
    bare = _plain(sleeve=0.5, length=0.5)[0]
    bare["top"] = None
    out = _front(bare)
    assert _share(out, "torso", skin) > 0.5  # a bare torso above the shorts


def test_rendered_people_differ_in_colour():
    """Over many samples, the body's mean colour spreads far more than one outfit's would."""
    source = sy.PoseSource(0)
    means = []
    for i in range(24):
        rec, out = sy.render_sample(source, "train", 0, i, 64)
        body = out["part"] >= 0
        means.append(rec["image"][body].mean(0))
    means = np.array(means)
    assert means.std(0).min() > 15  # levels of 255, per channel
