"""Rendered synthetic crops agree with their ``joints_2d`` labels, judged on the image pixels.

The other synthetic tests compare ``joints_2d`` with the projection that made them; here the
image itself is the witness: every sample is rendered a second time with the same random
stream and no body (the ray caster hits nothing), so the pixels where the two images differ are
the body as the network sees it. The 2D midpoint of a limb's two labelled joints lies on the
projected capsule axis of that limb, so it must fall on the body in (almost) every sample,
unlike a random point of the crop or a label moved by 10 % of the crop (a misplaced principal
point).
"""
import copy

import numpy as np
import pytest

from kfusion.skeletons import H36M17
from kfusion.synthetic import benchmark as sy
from kfusion.synthetic import render

from synthetic_photos import write_photo_folder

SIZE = 64  # crop px
COUNT = 12
_I = {n: i for i, n in enumerate(H36M17.joints)}
# segments drawn as one cone each between the two joints (body.body_cones)
LIMBS = [(f"{s}_{a}", f"{s}_{b}") for s in "lr"
         for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))]
LIMBS += [("pelvis", "spine")]
# pixel levels (0..255) by which the body render must differ from the body-less one (both share the
# background, the light and the noise: a few levels tell the body even in a dark room)
BODY_LEVEL = 4


def _no_hits(a, b, radius, K, size, rays=None, flat=None):
    return {"depth": np.full((size, size), np.inf), "index": np.full((size, size), -1, np.int64),
            "pixels": np.zeros(0, np.int64), "normal": np.zeros((0, 3)), "axial": np.zeros(0),
            "point": np.zeros((0, 3))}


@pytest.fixture(scope="module")
def rendered():
    """``[(sample, body_mask)]``: samples of the test split and their body pixels (bool (S, S)),
    found by comparing each image with the same render without the body."""
    original = render.render_person
    backgrounds = []

    def render_twice(joints_cam, K, size, rng, **kwargs):
        twin = copy.deepcopy(rng)  # the same stream: same background, light and noise
        out = original(joints_cam, K, size, rng, **kwargs)
        raycast = render.raycast_cones
        render.raycast_cones = _no_hits
        try:
            backgrounds.append(original(joints_cam, K, size, twin, **kwargs)["image"])
        finally:
            render.raycast_cones = raycast
        return out

    mp = pytest.MonkeyPatch()
    mp.setattr(render, "render_person", render_twice)
    try:
        samples = list(sy.iter_samples("test", COUNT, seed=0, image_size=SIZE, workers=1))
    finally:
        mp.undo()
    assert len(backgrounds) == COUNT
    out = []
    for s, bg in zip(samples, backgrounds):
        body = np.abs(s["image"].astype(np.int16) - bg.astype(np.int16)).max(axis=-1) > BODY_LEVEL
        out.append((s, body))
    return out


def _on_body(body, points):
    """bool (N,): whether the pixels containing ``points`` (N, 2) crop px show the body."""
    c = np.floor(points).astype(np.int64)
    inside = (c >= 0).all(-1) & (c < body.shape[0]).all(-1)
    c = np.clip(c, 0, body.shape[0] - 1)
    return inside & body[c[:, 1], c[:, 0]]


def _limb_midpoints(joints_2d):
    return np.array([(joints_2d[_I[a]] + joints_2d[_I[b]]) / 2 for a, b in LIMBS])


def _hit_rate(rendered, shift=(0.0, 0.0)):
    hits = [_on_body(body, _limb_midpoints(s["joints_2d"]) + np.asarray(shift)) for s, body in rendered]
    return float(np.mean(np.concatenate(hits)))


def test_body_is_a_minority_of_the_crop(rendered):
    share = np.mean([body.mean() for _, body in rendered])
    assert 0.03 < share < 0.4, share  # the mask is the body, neither empty nor the whole crop


def test_limb_midpoints_of_the_labels_fall_on_the_rendered_body(rendered):
    rate = _hit_rate(rendered)
    rng = np.random.default_rng(0)
    chance = float(np.mean([_on_body(body, rng.uniform(0, SIZE, (200, 2))).mean() for _, body in rendered]))
    assert rate >= 0.97, rate
    assert rate > chance + 0.5, (rate, chance)
    for s, body in rendered:  # and in every sample, not only on average
        assert _on_body(body, _limb_midpoints(s["joints_2d"])).mean() >= 0.85, s["camera"]


def test_visible_labelled_joints_fall_on_the_rendered_body(rendered):
    names = [n for n in H36M17.joints if n not in ("head", "neck")]  # the head top and nose lie on the rim
    idx = [_I[n] for n in names]
    hits = [_on_body(body, s["joints_2d"][idx])[s["visibility"][idx] > 0] for s, body in rendered]
    assert float(np.mean(np.concatenate(hits))) >= 0.95


@pytest.mark.parametrize("shift", [(0.1 * SIZE, 0.0), (0.0, 0.1 * SIZE), (-0.1 * SIZE, 0.0)])
def test_labels_off_by_a_tenth_of_the_crop_would_be_caught(rendered, shift):
    """The check has power: labels against a principal point moved by 10 % of the crop miss."""
    assert _hit_rate(rendered, shift) < 0.9


@pytest.mark.parametrize("photos", [False, True])
def test_visible_joints_are_on_the_body_in_the_part_map(tmp_path, photos):
    """The renderer's own witness: the pixel under each visible labelled joint shows the body,
    in front of procedural backgrounds and in front of photographs alike."""
    bank = sy.PhotoBackgrounds(write_photo_folder(tmp_path / "photos")) if photos else None
    source = sy.PoseSource(0)
    idx = [_I[n] for n in H36M17.joints if n not in ("head", "neck")]  # the head top and nose lie on the rim
    hits, chance = [], []
    for i in range(16):
        rec, out = sy.render_sample(source, "test", 0, i, SIZE, bank, 1.0)
        vis = rec["visibility"][idx] > 0
        c = np.floor(rec["joints_2d"][idx][vis]).astype(int)
        hits.append(out["part"][c[:, 1], c[:, 0]] >= 0)
        chance.append(np.mean(out["part"] >= 0))
    assert np.mean(np.concatenate(hits)) >= 0.97
    assert np.mean(chance) < 0.4
