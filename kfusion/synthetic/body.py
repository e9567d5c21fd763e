"""The shape of a rendered person: round cones (segments with a radius at each end) from the 17
h36m17 joints, and the frames of the body and of the head that clothes and light are laid out in.

Limbs taper (thigh to knee, calf to ankle, upper arm to elbow, forearm to wrist); the torso is a
left, a right and a middle column, wider at the shoulders and hips than at the waist; hands, feet,
a skull and a jaw, hair volumes (long, bun, curly) and an optional skirt. A subject's ``shape``
(shoulders, waist, hips, limbs, bust) scales them (:func:`kfusion.synthetic.appearance.sample_appearance`).
"""
import math

import numpy as np

from kfusion.skeletons import H36M17

_I = {n: i for i, n in enumerate(H36M17.joints)}

# Part ids of the rendered image (``part`` map of the renderer; -1 = background, -2 = floor).
PARTS = ("torso", "head", "neck", "hair", "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm",
         "r_hand", "l_thigh", "l_shin", "l_foot", "r_thigh", "r_shin", "r_foot", "skirt")
_P = {n: i for i, n in enumerate(PARTS)}

# Radii (mm) of an average body, scaled by the subject's girth and shape factors.
RADII_MM = {"hip_side": 92.0, "waist_side": 80.0, "chest_side": 92.0, "belly": 98.0, "chest": 102.0,
            "pelvis": 94.0, "shoulders": 55.0, "neck": (54.0, 47.0), "head": 88.0,
            "upper_arm": (52.0, 41.0), "forearm": (44.0, 30.0), "hand": (27.0, 22.0),
            "thigh": (84.0, 52.0), "knee": (50.0, 56.0), "calf": (56.0, 33.0), "foot": (39.0, 30.0)}

# Factors of an average body (a subject's ``shape`` replaces them); bust 0: none.
AVERAGE_SHAPE = {"shoulders": 1.0, "waist": 1.0, "hips": 1.0, "limbs": 1.0, "bust": 0.0}


def unit(v):
    """A 3-vector (3,) scaled to unit length."""
    return v / max(math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), 1e-9)


def cross(u, v):
    """The cross product of two 3-vectors (3,), without numpy's overhead."""
    return np.array([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])


def body_frame(joints):
    """Unit vectors ``(up, left, forward)`` (3,) each of a body in any right-handed frame, from
    its h36m17 joints (17, 3): up = pelvis->thorax, left = right hip->left hip, forward = left x up."""
    up = unit(joints[_I["thorax"]] - joints[_I["pelvis"]])
    left = joints[_I["l_hip"]] - joints[_I["r_hip"]] + 0.5 * (joints[_I["l_shoulder"]] - joints[_I["r_shoulder"]])
    left = unit(left - np.dot(left, up) * up)
    return up, left, cross(left, up)


def head_frame(joints, forward=None):
    """``(centre (3,), axis (3,), face (3,), radius mm)`` of the skull: the head joint is its top,
    ``axis`` points from the thorax to it, ``face`` is the body's ``forward`` direction (default:
    :func:`body_frame`'s) across it."""
    j = {n: joints[_I[n]] for n in ("head", "thorax", "neck")}
    fwd = body_frame(joints)[2] if forward is None else forward
    axis = unit(j["head"] - j["thorax"])
    centre = j["head"] - 0.95 * RADII_MM["head"] * axis
    face = j["neck"] - centre  # the h36m17 'neck' is the nose
    face = unit(face - np.dot(face, axis) * axis + 1e-3 * fwd)
    return centre, axis, face, RADII_MM["head"]


def body_cones(joints, girth=1.0, look=None):
    """Round cones of a body from h36m17 joints (17, 3) mm (any right-handed frame).

    ``look``: a :func:`kfusion.synthetic.appearance.sample_appearance` dict (its ``shape``, ``hair_style`` and
    ``bottom`` kind shape the body); None: an average body in trousers, short hair.
    Returns a dict: ``a`` (C, 3), ``b`` (C, 3) segment ends mm, ``radius`` (C, 2) mm at a and at b,
    ``part`` (C,) int (index into ``PARTS``), ``coord`` (C, 2) the limb coordinate at a and b (arm:
    shoulder 0, elbow 1, wrist 2; leg: hip 0, knee 1, ankle 2, toes 3; NaN off the limbs), ``flat``
    (C,) bool (cut flat at ``b``: a skirt's hem), and the frames they were laid out in: ``frame``
    (:func:`body_frame`) and ``head`` (:func:`head_frame`, the radius scaled by the girth). A sphere
    is a cone whose ends are 1 mm apart.
    """
    shape = {**AVERAGE_SHAPE, **((look or {}).get("shape") or {})}
    hair_style = (look or {}).get("hair_style", "short")
    skirt = (look or {}).get("bottom", {}).get("kind") == "skirt"
    j = {n: joints[i] for n, i in _I.items()}
    up, left, fwd = body_frame(joints)
    g, sh, wa, hp = girth, shape["shoulders"] * girth, shape["waist"] * girth, shape["hips"] * girth
    limb = shape["limbs"] * girth
    R = RADII_MM
    caps = []

    def add(a, b, ra, rb, part, c0=np.nan, c1=np.nan):
        caps.append((a, b, ra, rb, _P[part], c0, c1))

    # Torso: a left and a right column (hip, waist, chest), a middle one, the pelvis, the shoulders.
    chest_up = unit(j["thorax"] - j["spine"])
    for s in "lr":
        lo = j["pelvis"] + 0.45 * (j[f"{s}_hip"] - j["pelvis"]) + 30 * up
        hi = j["thorax"] + 0.5 * (j[f"{s}_shoulder"] - j["thorax"]) - 75 * chest_up
        mid = 0.5 * (lo + hi) + 0.4 * (j["spine"] - 0.5 * (lo + hi)) - 0.2 * R["waist_side"] * wa * fwd
        add(lo, mid, R["hip_side"] * hp, R["waist_side"] * wa, "torso")
        add(mid, hi, R["waist_side"] * wa, R["chest_side"] * sh, "torso")
        if shape["bust"] > 0:  # breasts: spheres on the front of the chest
            c = (j["thorax"] + 0.38 * (j[f"{s}_shoulder"] - j["thorax"]) - 150 * chest_up
                 + (R["chest"] * sh - 30 + 28 * shape["bust"]) * fwd)
            add(c, c + 1e-3 * up, 48 * shape["bust"] ** 0.5 * g, 48 * shape["bust"] ** 0.5 * g, "torso")
    add(j["pelvis"] + 40 * up, j["spine"], R["pelvis"] * hp, R["belly"] * wa, "torso")
    add(j["spine"], j["thorax"] - 60 * chest_up, R["belly"] * wa, R["chest"] * sh, "torso")
    # The pelvis reaches below the hip joints (buttocks, crotch).
    add(j["l_hip"] - 30 * up - 15 * fwd, j["r_hip"] - 30 * up - 15 * fwd, R["pelvis"] * hp, R["pelvis"] * hp, "torso")
    add(j["l_shoulder"], j["r_shoulder"], R["shoulders"] * sh, R["shoulders"] * sh, "torso")
    # Neck and head: a skull below the head top, a jaw towards the nose (the h36m17 'neck').
    centre, axis, face, rh = head_frame(joints, fwd)
    rh = rh * g ** 0.3  # heads vary less than limbs
    add(j["thorax"], centre - 0.3 * rh * axis, R["neck"][0] * g ** 0.5, R["neck"][1] * g ** 0.5, "neck")
    add(centre + 0.1 * rh * face, centre - 0.25 * rh * axis + 0.05 * rh * face, rh, 0.94 * rh, "head")
    add(centre - 0.2 * rh * axis + 0.15 * rh * face, centre - 0.78 * rh * axis + 0.42 * rh * face,
        0.8 * rh, 0.46 * rh, "head")
    if hair_style == "long":  # hair down the back of the head to the shoulders, wider than deep
        across = cross(axis, face)
        for k in (-1.0, 1.0):
            add(centre - 0.3 * rh * face + 0.3 * k * rh * across + 0.1 * rh * axis,
                centre - 1.55 * rh * axis - 0.45 * rh * face + 0.35 * k * rh * across, 0.78 * rh, 0.45 * rh, "hair")
    elif hair_style == "bun":
        c = centre - 1.0 * rh * face + 0.35 * rh * axis
        add(c, c + 1e-3 * axis, 0.42 * rh, 0.42 * rh, "hair")
    elif hair_style == "volume":  # curly or afro hair: a larger skull behind and above the face
        c = centre + 0.25 * rh * axis - 0.28 * rh * face
        add(c, c + 1e-3 * axis, 1.13 * rh, 1.13 * rh, "hair")
    for s in "lr":
        add(j[f"{s}_shoulder"], j[f"{s}_elbow"], R["upper_arm"][0] * limb, R["upper_arm"][1] * limb,
            f"{s}_upper_arm", 0.0, 1.0)
        add(j[f"{s}_elbow"], j[f"{s}_wrist"], R["forearm"][0] * limb, R["forearm"][1] * limb, f"{s}_forearm", 1.0, 2.0)
        fore = unit(j[f"{s}_wrist"] - j[f"{s}_elbow"])
        add(j[f"{s}_wrist"] + 15 * fore, j[f"{s}_wrist"] + 105 * fore, R["hand"][0] * g ** 0.5,
            R["hand"][1] * g ** 0.5, f"{s}_hand", 2.0, 2.6)
        add(j[f"{s}_hip"], j[f"{s}_knee"], R["thigh"][0] * limb, R["thigh"][1] * limb, f"{s}_thigh", 0.0, 1.0)
        calf = j[f"{s}_knee"] + 0.3 * (j[f"{s}_ankle"] - j[f"{s}_knee"])
        add(j[f"{s}_knee"], calf, R["knee"][0] * limb, R["knee"][1] * limb, f"{s}_shin", 1.0, 1.3)
        add(calf, j[f"{s}_ankle"], R["calf"][0] * limb, R["calf"][1] * limb, f"{s}_shin", 1.3, 2.0)
        shin = unit(j[f"{s}_ankle"] - j[f"{s}_knee"])
        foot = unit(fwd - np.dot(fwd, shin) * shin + 1e-3 * up)
        add(j[f"{s}_ankle"] + 45 * shin - 35 * foot, j[f"{s}_ankle"] + 62 * shin + 150 * foot,
            R["foot"][0] * g ** 0.5, R["foot"][1] * g ** 0.5, f"{s}_foot", 2.0, 3.0)
    if skirt:  # a flared half round each thigh, joined at the hips: wider than deep, cut flat at the hem
        length = (look or {}).get("bottom", {}).get("length", 0.8)
        knees = 0.5 * (j["l_knee"] + j["r_knee"])
        r_top = 1.25 * R["thigh"][0] * limb
        for s in "lr":
            top = j[f"{s}_hip"] + 0.15 * (j["pelvis"] - j[f"{s}_hip"]) + 20 * up
            hem = top + length * (0.75 * j[f"{s}_knee"] + 0.25 * knees - top)
            add(top, hem, r_top, r_top * (1.0 + 0.4 * min(length, 1.0)), "skirt", 0.0, length)
    a, b, ra, rb, part, c0, c1 = (np.array(v, dtype=np.float64) for v in zip(*caps))
    length = np.linalg.norm(b - a, axis=1)
    b[length < 1e-3] = a[length < 1e-3] + np.array([0.0, 1.0, 0.0])
    length = np.maximum(length, 1.0)
    # a round cone needs |ra - rb| < |b - a|: pull the radii together where they are not
    mean, half = 0.5 * (ra + rb), 0.45 * length
    ra, rb = mean + np.clip(ra - mean, -half, half), mean + np.clip(rb - mean, -half, half)
    part = part.astype(np.int64)
    return {"a": a, "b": b, "radius": np.stack([ra, rb], axis=1), "part": part,
            "coord": np.stack([c0, c1], axis=1), "flat": part == _P["skirt"], "frame": (up, left, fwd),
            "head": (centre, axis, face, rh)}
